"""Sudachi analysis: one text -> one term stream, shared by the Whoosh index and TF-IDF.

Pipeline (index mode, ``analyze``):

1. the text is cut into chunks Sudachi accepts (it rejects one input over ~49 KB): at 。 or a
   line break first, a hard cut only when a single sentence is too long; offsets are kept;
2. Sudachi split mode C tokenises each chunk (one tokenizer per process and thread, built
   lazily: a tokenizer is not thread-safe and must not cross a fork);
3. tokens whose part of speech starts with an entry of ``STOP_POS`` (particles, auxiliaries,
   punctuation, whitespace) are dropped -- one constant, no scattered ifs -- except the
   negative auxiliaries (〜ない, 〜ず), kept as the term ``NEGATION``: 結びついていない is not
   結びついている. 1-character content words (市, 税, 生) are kept: they matter in Japanese;
4. the term is ``normalized_form()`` put through NFKC (ＮＰＯ/npo -> NPO, 取組み -> 取り組み), then ``conflate()`` (see there) maps a 連用形 nominalisation onto its verb
   (取り組み -> 取り組む) so noun and verb spellings meet;
5. a nominal compound that splits in mode A (技能実習生 -> 技能/実習/生) is followed by its parts
   with ``is_part=True`` at the compound's position: the "search mode" of the Elasticsearch
   Sudachi plugin. Only nominal compounds are split: splitting verbs (取り組む -> 取る/組む)
   would make 取る match every 取り組む.

Query mode (``analyze_query``) runs the same steps and groups each word with its parts, so the
search code can match "the compound OR the phrase of its parts".

This module imports only sudachipy and the standard library.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

STOP_POS: tuple[str, ...] = ("助詞", "助動詞", "補助記号", "空白")
"""Parts of speech (first level) never indexed nor searched: particles, auxiliaries,
punctuation and whitespace."""

LIGHT_VERBS: frozenset[str] = frozenset({"為る", "居る", "成る", "来る", "行く"})
"""Verbs that are grammar, not content, in a query: the light verb する of 廃止する/検討する
and the いる of 〜ている (both 動詞・非自立可能 there). As query words they counted towards the
minimum to match and the all-words bonus although every sheet holds them: 廃止しても影響がない
事業 was five words, two of them these; 成る/来る/行く of 〜となる, 〜してきた, 〜していく likewise.
ある/ない stay: they are the answers (余地がある/ない)."""

PARTICLE_VERBS: frozenset[str] = frozenset({"よる", "つく", "対する", "おく", "取る", "関する"})
"""Verbs that make a compound particle after に (による, について, に対する, における, にとって,
に関する): Sudachi tags them as ordinary verbs, but they are grammar like the particle itself
(鹿による農作物被害 is three words, not four). Dropped from queries as ``LIGHT_VERBS`` are."""

SPLIT_POS: tuple[str, ...] = ("名詞", "接頭辞", "接尾辞")
"""Parts of speech whose mode-C compounds also emit their mode-A parts."""

MAX_CHUNK_BYTES = 40_000
"""Sudachi refuses an input over 49,149 bytes; stay well below it."""

_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])")

# 連用形 nominalisation -> verb: the last kana of the noun's い-row ending becomes the う-row
# kana of a godan verb; an ichidan verb adds る to the noun.
_GODAN_ENDINGS: dict[str, tuple[str, str]] = {
    "い": ("う", "ワア行"),
    "き": ("く", "カ行"),
    "ぎ": ("ぐ", "ガ行"),
    "し": ("す", "サ行"),
    "ち": ("つ", "タ行"),
    "に": ("ぬ", "ナ行"),
    "び": ("ぶ", "バ行"),
    "み": ("む", "マ行"),
    "り": ("る", "ラ行"),
}
_ICHIDAN_ENDINGS = frozenset("いきぎしじちぢにひびぴみりえけげせぜてでねへべぺめれ")


class Term(NamedTuple):
    """One index term and where it came from.

    A named tuple, so the form stored in ``terms.jsonl`` (a JSON array) is the term itself:
    ``Term._make(items)`` reads it back with no conversion layer.
    """

    text: str  # index term: NFKC of Sudachi normalized_form, then conflate()
    position: int  # token position; mode-A parts share the position of their mode-C compound
    start: int  # char offsets into the original text, for highlighting
    end: int
    is_part: bool  # True for a mode-A part emitted beside its compound


@dataclass(frozen=True, slots=True)
class QueryWord:
    """One content word of a query and, if it is a compound, its mode-A parts."""

    term: str
    parts: tuple[str, ...]  # empty when the word does not split


class _Sudachi:
    """The per-process, per-thread Sudachi dictionary and tokenizers (built on first use)."""

    _local = threading.local()

    @classmethod
    def get(cls) -> Any:
        state = getattr(cls._local, "state", None)
        # A tokenizer inherited through fork() is not ours to use: rebuild in the child.
        if state is None or state[0] != os.getpid():
            from sudachipy import Dictionary, SplitMode

            dictionary = Dictionary(dict="core")
            state = (
                os.getpid(),
                dictionary,
                dictionary.tokenizer(mode=SplitMode.C),
                SplitMode.A,
            )
            cls._local.state = state
        return state


def dictionary_version() -> str:
    """The Sudachi dictionary the terms come from, e.g. ``sudachidict-core 20261015``."""
    from importlib.metadata import version

    return f"sudachidict-core {version('sudachidict-core')} / sudachipy {version('sudachipy')}"


def chunks(text: str, max_bytes: int = MAX_CHUNK_BYTES) -> Iterator[tuple[int, str]]:
    """Cut ``text`` into (offset, piece) chunks Sudachi accepts, at sentence ends if possible.

    Every character lands in exactly one chunk, so no text is lost.
    """
    if len(text.encode("utf-8")) <= max_bytes:
        yield 0, text
        return
    buffer: list[str] = []
    size = 0
    start = 0
    for sentence in _SENTENCE_END.split(text):
        if not sentence:
            continue
        length = len(sentence.encode("utf-8"))
        if size + length > max_bytes and buffer:
            piece = "".join(buffer)
            yield start, piece
            start += len(piece)
            buffer, size = [], 0
        if length > max_bytes:
            # One "sentence" too long for Sudachi: hard-cut it by characters.
            for piece in _hard_split(sentence, max_bytes):
                yield start, piece
                start += len(piece)
            continue
        buffer.append(sentence)
        size += length
    if buffer:
        yield start, "".join(buffer)


def _hard_split(text: str, max_bytes: int) -> Iterator[str]:
    # A UTF-8 character takes at most 4 bytes, so this many characters always fit.
    step = max(1, max_bytes // 4)
    for index in range(0, len(text), step):
        yield text[index : index + step]


def _is_stop(pos: tuple[str, ...]) -> bool:
    return pos[0] in STOP_POS and not _is_negation(pos)


NEGATION = "無い"
"""The term of a negative auxiliary (〜ない, 〜ず, 〜ぬ): the adjective ない's, so 結びついていない
and 影響がない both hold it. Dropped with the other auxiliaries, an answer 結びついていない was
結びついている to the index and 成果が上がっていない to a query; kept, the query's 無い pairs
with the label of ア (成果への結びつき) in the answer bonus (engine.answer_items): judged
根室-form query N41 成果が上がっていない事業 0.34 → 1.00, nemuro 0.901 → 0.914, 大船渡 0.763 →
0.763."""

NEGATION_CONJUGATIONS: tuple[str, ...] = ("助動詞-ナイ", "助動詞-ヌ")


def _is_negation(pos: tuple[str, ...]) -> bool:
    return pos[0] == "助動詞" and pos[4] in NEGATION_CONJUGATIONS


def _normalize(form: str) -> str:
    return unicodedata.normalize("NFKC", form)


@lru_cache(maxsize=65536)
def _verb_of(noun: str) -> str | None:
    """The verb a 連用形 nominalisation comes from, if the dictionary has that verb."""
    if len(noun) < 2:
        return None
    last = noun[-1]
    candidates: list[tuple[str, tuple[str, ...]]] = []
    if last in _GODAN_ENDINGS:
        ending, row = _GODAN_ENDINGS[last]
        candidates.append((noun[:-1] + ending, (f"五段-{row}",)))
    if last in _ICHIDAN_ENDINGS:
        candidates.append((noun + "る", ("上一段", "下一段")))
    if not candidates:
        return None
    dictionary = _Sudachi.get()[1]
    for verb, conjugations in candidates:
        for morpheme in dictionary.lookup(verb):
            pos = morpheme.part_of_speech()
            # The verb must be canonical (its normalized form is itself): ためる is a spelling
            # of 溜める, so a noun ため must not turn into it.
            if (
                pos[0] == "動詞"
                and pos[4].startswith(conjugations)
                and morpheme.normalized_form() == verb
            ):
                return verb
    return None


def conflate(term: str, pos: tuple[str, ...]) -> str:
    """Map a 連用形 nominalisation (普通名詞 ending in kana) onto its verb when one exists.

    取り組み (noun) and 取り組む (verb) have different normalized forms; a godan verb's 連用形
    ends in the い-row kana of its う-row ending (み -> む), an ichidan verb's is its stem
    (受け入れ -> 受け入れる). Only verbs found by ``Dictionary.lookup`` with a matching
    conjugation type are used, so the rule never invents a word.
    """
    if pos[0] != "名詞" or pos[1] != "普通名詞":
        return term
    return _verb_of(term) or term


def _term_text(morpheme: Any) -> str:
    pos = morpheme.part_of_speech()
    if _is_negation(pos):
        return NEGATION
    return conflate(_normalize(morpheme.normalized_form()), pos)


def _parts(morpheme: Any, split_mode: Any) -> list[Any]:
    if morpheme.part_of_speech()[0] not in SPLIT_POS:
        return []
    parts = morpheme.split(split_mode)
    # split() gives an empty or one-element list for a word that does not split.
    if len(parts) < 2:
        return []
    return [part for part in parts if not _is_stop(part.part_of_speech())]


def _morphemes(text: str) -> Iterator[tuple[int, Any]]:
    """(chunk offset, morpheme) for every morpheme of ``text``."""
    _, _, tokenizer, _ = _Sudachi.get()
    for offset, piece in chunks(text):
        if not piece.strip():
            continue
        for morpheme in tokenizer.tokenize(piece):
            yield offset, morpheme


def analyze(text: str) -> list[Term]:
    """The index terms of ``text`` (see the module docstring)."""
    if not text:
        return []
    split_mode = _Sudachi.get()[3]
    terms: list[Term] = []
    position = 0
    for offset, morpheme in _morphemes(text):
        if _is_stop(morpheme.part_of_speech()):
            continue
        terms.append(
            Term(
                _term_text(morpheme),
                position,
                offset + morpheme.begin(),
                offset + morpheme.end(),
                False,
            )
        )
        for part in _parts(morpheme, split_mode):
            terms.append(
                Term(_term_text(part), position, offset + part.begin(), offset + part.end(), True)
            )
        position += 1
    return terms


def analyze_query(text: str, *, light_verbs: bool = False) -> list[QueryWord]:
    """The content words of a query, each with its mode-A parts if it is a compound.

    ``LIGHT_VERBS`` and ``PARTICLE_VERBS`` after に are left out unless ``light_verbs`` (a
    quoted phrase and a synonym headword keep them: there they are positions of a phrase the
    index holds)."""
    if not text:
        return []
    split_mode = _Sudachi.get()[3]
    words: list[QueryWord] = []
    previous = ""
    for _, morpheme in _morphemes(text):
        pos = morpheme.part_of_speech()
        after, previous = previous, morpheme.surface()
        if _is_stop(pos):
            continue
        term = _term_text(morpheme)
        if not light_verbs and pos[:2] == ("動詞", "非自立可能") and term in LIGHT_VERBS:
            continue
        if not light_verbs and after == "に" and pos[0] == "動詞" and term in PARTICLE_VERBS:
            continue
        parts = tuple(_term_text(part) for part in _parts(morpheme, split_mode))
        words.append(QueryWord(term, parts if len(parts) > 1 else ()))
    return words
