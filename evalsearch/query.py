"""The query language: clauses and their parsing (no I/O, no engine).

Whitespace separates clauses; every clause is required unless joined by OR:

* ``外国人技能実習生との交流`` -- a clause typed without spaces: its content words are looked
  for (particles, punctuation and grammatical verbs such as する/いる/による are ignored);
  words in a row rank higher. A compound word matches itself (ranked first) or its mode-A
  parts in a row inside a longer compound (実習生 finds 技能実習生), and, when every part has
  two characters or more, those parts written apart in order (経費削減 finds 経費の削減; 技能と
  実習生 does not make 技能実習生: 生 is one character);
* ``"技能実習生との交流"`` (or 「…」) -- the content words must be adjacent, in order;
* ``A OR B`` -- either clause; ``NOT A`` or ``-A`` -- no hit contains A;
* ``オ:統合`` -- the clause must match in one passage (ア…カ, 見直し, 動向, 活動, 意図, 事業名).

Both the search layer (snippets, matched passages) and the engine (compiling to Whoosh) read
the ``ParsedQuery`` defined here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from evalsearch.analysis import QueryWord, analyze_query
from evalsearch.errors import QuerySyntaxError
from evalsearch.records import PASSAGE_LABELS

_OPEN_QUOTES = {'"': '"', "「": "」", "『": "』", "“": "”"}
_FIELD_PREFIX = re.compile(r"^(" + "|".join(map(re.escape, PASSAGE_LABELS)) + r")[:：]")


@dataclass(frozen=True)
class Clause:
    """One clause: content words that must all occur (adjacent when ``phrase``)."""

    words: tuple[QueryWord, ...]
    field: str | None = None  # a passage label, or None for every passage
    phrase: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """AND of OR-groups of clauses, minus the excluded clauses."""

    required: tuple[tuple[Clause, ...], ...]
    excluded: tuple[Clause, ...] = ()
    text: str = ""
    """The query as typed."""
    notes: tuple[str, ...] = ()
    """What parsing dropped, to tell the user (repeated words, words past the limits)."""

    def positive_clauses(self) -> list[Clause]:
        return [clause for group in self.required for clause in group]


@dataclass(frozen=True)
class _Item:
    text: str
    field: str | None
    phrase: bool
    negated: bool


def _lex(query: str) -> list[_Item | str]:
    """Items and the OR operator, in order."""
    out: list[_Item | str] = []
    index = 0
    length = len(query)
    while index < length:
        char = query[index]
        if char.isspace():
            index += 1
            continue
        negated = False
        if query.startswith("NOT", index) and (index + 3 == length or query[index + 3].isspace()):
            negated = True
            index += 3
            while index < length and query[index].isspace():
                index += 1
            if index == length:
                raise QuerySyntaxError("NOT の後に除外する語を書いてください（例: NOT 補助金）。")
        elif char == "-" and index + 1 < length and not query[index + 1].isspace():
            negated = True
            index += 1
        end = index
        while end < length and not query[end].isspace() and query[end] not in _OPEN_QUOTES:
            end += 1
        word = query[index:end]
        if word == "OR" and not negated:
            out.append("OR")
            index = end
            continue
        if word in ("AND", "&&"):
            index = end
            continue
        field_name = None
        prefix = _FIELD_PREFIX.match(word)
        if prefix:
            field_name = prefix.group(1)
            index += prefix.end()
            word = word[prefix.end() :]
        if index < length and query[index] in _OPEN_QUOTES and not word:
            close = _OPEN_QUOTES[query[index]]
            stop = query.find(close, index + 1)
            if stop < 0:
                raise QuerySyntaxError(f"引用符 {query[index]} が閉じていません: {query}")
            out.append(_Item(query[index + 1 : stop], field_name, True, negated))
            index = stop + 1
            continue
        if not word:
            raise QuerySyntaxError(
                f"検索語がありません: {query[: index + 1]} の後に語を書いてください。"
            )
        out.append(_Item(word, field_name, False, negated))
        index = end
    return out


def parse_query(query: str) -> ParsedQuery:
    """Parse the query language above; raises QuerySyntaxError with a Japanese message."""
    # NFKC: full-width ＯＲ, ＂ and the ideographic space behave like their ASCII forms.
    normalized = unicodedata.normalize("NFKC", query).strip()
    if not normalized:
        raise QuerySyntaxError("検索語を指定してください。")
    groups: list[list[_Item]] = []
    excluded: list[_Item] = []
    pending_or = False
    for token in _lex(normalized):
        if token == "OR":
            if not groups or pending_or:
                raise QuerySyntaxError("OR の前後に検索語を書いてください（例: 統合 OR 廃止）。")
            pending_or = True
            continue
        assert isinstance(token, _Item)
        if token.negated:
            if pending_or:
                raise QuerySyntaxError(
                    "NOT の語は OR でつなげません。NOT の語は別に書いてください。"
                )
            excluded.append(token)
        elif pending_or:
            groups[-1].append(token)
        else:
            groups.append([token])
        pending_or = False
    if pending_or:
        raise QuerySyntaxError("OR の後に検索語を書いてください（例: 統合 OR 廃止）。")

    required: list[tuple[Clause, ...]] = []
    for group in groups:
        clauses = tuple(clause for clause in map(_clause, group) if clause is not None)
        if clauses and clauses not in required:
            required.append(clauses)
    excluded_clauses = tuple(
        dict.fromkeys(clause for clause in map(_clause, excluded) if clause is not None)
    )
    if not required and not excluded_clauses:
        raise QuerySyntaxError(
            f"「{query}」には検索できる語がありません（助詞・記号だけでは検索できません）。"
        )
    notes = []
    words = sum(len(clause.words) for group in required for clause in group)
    capped = len(required) > MAX_CLAUSES or words > MAX_WORDS
    if capped:
        required = _capped(required)
    # A query of more words than that, repeats included (one word pasted 1,000 times), is
    # said to be cut too, even when its distinct words fit.
    if capped or len(groups) + len(excluded) > MAX_CLAUSES:
        notes.append(
            f"検索語が多いため、重複を除いた最初の {MAX_WORDS} 語（{MAX_CLAUSES} 句）までで検索しました。"
        )
    return ParsedQuery(tuple(required), excluded_clauses[:MAX_CLAUSES], query, tuple(notes))


MAX_CLAUSES = 16
MAX_WORDS = 32
"""Limits of one query: a pasted paragraph still searches (its first words), and Whoosh's
nested queries stay far from Python's recursion limit."""


def _capped(required: list[tuple[Clause, ...]]) -> list[tuple[Clause, ...]]:
    out: list[tuple[Clause, ...]] = []
    budget = MAX_WORDS
    for group in required[:MAX_CLAUSES]:
        clauses = []
        for clause in group:
            words = tuple(dict.fromkeys(clause.words))[: max(budget, 0)]
            budget -= len(words)
            if words:
                clauses.append(Clause(words, clause.field, clause.phrase))
        if clauses:
            out.append(tuple(clauses))
    return out


def _clause(item: _Item) -> Clause | None:
    # A clause repeating one word (技能技能技能…) is that word once, unless it is a phrase.
    # A quoted phrase keeps する/いる: they hold positions between its words in the index; so
    # does a clause of nothing else (いる alone still searches).
    words = tuple(analyze_query(item.text, light_verbs=item.phrase))
    if not words:
        words = tuple(analyze_query(item.text, light_verbs=True))
    if not item.phrase:
        words = tuple(dict.fromkeys(words))
    if not words:
        return None
    return Clause(words, item.field, item.phrase)
