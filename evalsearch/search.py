"""Query -> hits: query parsing, running it on the index, matched passages and snippets.

Returns data, never prints. The engine (Whoosh) is reached only through evalsearch.index.

Query language (whitespace separates clauses; every clause is required):

* ``外国人技能実習生との交流`` -- a clause typed without spaces: all its content words must
  occur (particles and punctuation are ignored); words in a row rank higher. A compound word
  matches itself (ranked first) or its mode-A parts in a row inside a longer compound
  (実習生 finds 技能実習生; 技能と実習生 is two words and does not make 技能実習生);
* ``"技能実習生との交流"`` (or 「…」) -- the content words must be adjacent, in order;
* ``A OR B`` -- either clause; ``NOT A`` or ``-A`` -- no hit contains A;
* ``オ:統合`` -- the clause must match in one passage (ア…カ, 見直し, 動向, 活動, 意図, 事業名).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalsearch.analysis import QueryWord, Term, analyze, analyze_query
from evalsearch.errors import QuerySyntaxError
from evalsearch.records import ITEM_LABELS, PASSAGE_LABELS

SNIPPET_CHARS = 120
"""Longest snippet; a longer sentence is cut around its first highlighted term."""

MAX_SNIPPETS = 3
"""Snippets shown per hit (the passages with the most matched terms first)."""

_SENTENCE = re.compile(r"[^。！？!?\n]*(?:[。！？!?]+|\n|$)")
_OPEN_QUOTES = {'"': '"', "「": "」", "『": "』", "“": "”"}
_FIELD_PREFIX = re.compile(r"^(" + "|".join(map(re.escape, PASSAGE_LABELS)) + r")[:：]")


# --- parsed queries ----------------------------------------------------------------------


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
        if clauses:
            required.append(clauses)
    excluded_clauses = tuple(clause for clause in map(_clause, excluded) if clause is not None)
    if not required and not excluded_clauses:
        raise QuerySyntaxError(
            f"「{query}」には検索できる語がありません（助詞・記号だけでは検索できません）。"
        )
    return ParsedQuery(tuple(required), excluded_clauses)


def _clause(item: _Item) -> Clause | None:
    words = tuple(analyze_query(item.text))
    if not words:
        return None
    return Clause(words, item.field, item.phrase)


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    field: str  # passage label (ア…カ, 見直し, …)
    text: str
    highlights: tuple[tuple[int, int], ...]  # char ranges of matched terms within ``text``

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "text": self.text,
            "highlights": [list(span) for span in self.highlights],
        }


@dataclass(frozen=True)
class Hit:
    id: str
    project_no: str
    project_name: str
    department: str
    fiscal_year: int
    decision: str
    score: float
    fields: tuple[str, ...]  # labels of matched passages, in PASSAGE_LABELS order
    snippets: tuple[Snippet, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_no": self.project_no,
            "project_name": self.project_name,
            "department": self.department,
            "score": round(self.score, 4),
            "fields": list(self.fields),
            "snippets": [snippet.to_dict() for snippet in self.snippets],
        }


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    hits: tuple[Hit, ...]
    facets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # facets: {"department": {主管課: 件数}, "decision": {方向性: 件数}} over every hit

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "hits": [hit.to_dict() for hit in self.hits],
            "facets": {name: dict(counts) for name, counts in self.facets.items()},
        }


def search(
    index: str | Path | Any,
    query: str,
    *,
    field: str | None = None,
    year: int | None = None,
    department: str | None = None,
    decision: str | None = None,
    measure: str | None = None,
    answers: Mapping[str, str] | None = None,
    limit: int = 10,
) -> SearchResult:
    """Search the index (a directory, or an ``OpenedIndex`` kept open to stay warm)."""
    from evalsearch import index as eindex

    if field is not None and field not in PASSAGE_LABELS:
        raise QuerySyntaxError(
            f"--field {field} はありません。{'、'.join(PASSAGE_LABELS)} のどれかを指定してください。"
        )
    for label in answers or {}:
        if label not in ITEM_LABELS:
            raise QuerySyntaxError(
                f"--answer {label}=… の項目がありません。{'、'.join(ITEM_LABELS)} のどれかです。"
            )
    if limit < 0:
        raise QuerySyntaxError("--limit は 0 以上にしてください。")
    parsed = parse_query(query)
    opened = index if isinstance(index, eindex.OpenedIndex) else eindex.open_index(index)
    try:
        outcome = eindex.execute(
            opened,
            parsed,
            default_label=field,
            filters={
                "year": year,
                "department": department,
                "decision": decision,
                "measure": measure,
                "answers": answers,
            },
            limit=limit,
        )
    finally:
        if opened is not index:
            opened.close()
    hits = tuple(_hit(raw.score, raw.stored, parsed, field) for raw in outcome.hits)
    return SearchResult(query, outcome.total, hits, outcome.facets)


def _hit(score: float, stored: Mapping[str, Any], parsed: ParsedQuery, field: str | None) -> Hit:
    doc = stored.get("doc") or {}
    passages: Mapping[str, str] = doc.get("passages") or {}
    term_sets = {
        label: frozenset(joined.split("\x1f")) for label, joined in (doc.get("terms") or {}).items()
    }
    matched: dict[str, int] = {}
    for label in PASSAGE_LABELS:
        terms = term_sets.get(label)
        if not terms:
            continue
        count = sum(
            1
            for clause in parsed.positive_clauses()
            if (clause.field or field) in (None, label)
            for word in clause.words
            if _word_in(word, terms)
        )
        if count:
            matched[label] = count
    snippet_labels = sorted(matched, key=lambda label: -matched[label])[:MAX_SNIPPETS]
    snippets = []
    for label in PASSAGE_LABELS:
        if label in snippet_labels:
            words = [
                word
                for clause in parsed.positive_clauses()
                if (clause.field or field) in (None, label)
                for word in clause.words
            ]
            snippet = make_snippet(label, passages.get(label, ""), words)
            if snippet is not None:
                snippets.append(snippet)
    return Hit(
        id=stored.get("id", ""),
        project_no=stored.get("project_no", ""),
        project_name=doc.get("project_name", ""),
        department=stored.get("department", ""),
        fiscal_year=int(stored.get("fiscal_year") or 0),
        decision=stored.get("decision", ""),
        score=float(score),
        fields=tuple(label for label in PASSAGE_LABELS if label in matched),
        snippets=tuple(snippets),
    )


def _word_in(word: QueryWord, terms: frozenset[str]) -> bool:
    return word.term in terms or (bool(word.parts) and all(part in terms for part in word.parts))


# --- snippets ----------------------------------------------------------------------------


def highlight_spans(terms: Sequence[Term], words: Sequence[QueryWord]) -> list[tuple[int, int]]:
    """Char ranges of ``terms`` matching ``words``: the word itself, or its parts in a row
    inside one compound (the same match rule as the index)."""
    wanted = {word.term for word in words}
    chains = [word.parts for word in words if word.parts]
    spans: list[tuple[int, int]] = []
    group: list[Term] = []  # the parts of the current compound

    def match_parts() -> None:
        texts = [part.text for part in group]
        for chain in chains:
            size = len(chain)
            for i in range(len(texts) - size + 1):
                if tuple(texts[i : i + size]) == chain:
                    spans.append((group[i].start, group[i + size - 1].end))

    for term in terms:
        if term.is_part:
            group.append(term)
            continue
        match_parts()
        group = []
        if term.text in wanted:
            spans.append((term.start, term.end))
    match_parts()
    # A compound already highlighted covers its own parts: keep only outermost spans.
    merged: list[tuple[int, int]] = []
    for start, end in sorted(set(spans), key=lambda span: (span[0], -span[1])):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def make_snippet(label: str, text: str, words: Sequence[QueryWord]) -> Snippet | None:
    """The sentence (cut at 。！？ or a line break) with the most matched terms, highlighted."""
    if not text:
        return None
    spans = highlight_spans(analyze(text), words)
    if not spans:
        return None
    best: tuple[int, int, int] | None = None  # (-count, start, end)
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        if start == end:
            continue
        count = sum(1 for s, e in spans if s >= start and e <= end)
        if count and (best is None or -count < best[0]):
            best = (-count, start, end)
    if best is None:
        return None
    _, start, end = best
    # Trim surrounding whitespace of the sentence; cut a long one around its first match.
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    inside = [(s, e) for s, e in spans if s >= start and e <= end]
    prefix = suffix = ""
    if end - start > SNIPPET_CHARS:
        first = inside[0][0]
        window_start = max(start, first - SNIPPET_CHARS // 3)
        # Start after a 読点 close by rather than in the middle of a word.
        comma = text.find("、", window_start, first)
        if window_start > start and 0 <= comma < window_start + 12:
            window_start = comma + 1
        window_end = min(end, window_start + SNIPPET_CHARS)
        prefix = "…" if window_start > start else ""
        suffix = "…" if window_end < end else ""
        start, end = window_start, window_end
        inside = [(s, e) for s, e in inside if s >= start and e <= end]
    shift = start - len(prefix)
    return Snippet(
        label,
        prefix + text[start:end] + suffix,
        tuple((s - shift, e - shift) for s, e in inside),
    )
