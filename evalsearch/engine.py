"""The search engine: the only module that imports whoosh.

Schema and documents, segment writing for the parallel build, compiling a parsed query
(``evalsearch.query``) to Whoosh and running it. Terms are analysed once per indexing run
(``evalsearch.analysis.analyze``) and handed to Whoosh pre-analysed: ``PreAnalyzedText``
fields take a ``TokenStream`` instead of text. ``index_tokens`` adds the sub-compound terms that
let a query compound match inside a longer compound with one term lookup.

Whoosh pickles the schema into its table of contents. Our field class pickles as Whoosh's own
``TEXT`` and we always open an index with the schema made here, so the files never name a class
of ours and never unpickle one.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import shutil
import struct
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any, cast

import numpy as np
from whoosh import analysis as wanalysis
from whoosh import collectors, scoring
from whoosh import fields as wfields
from whoosh import formats as wformats
from whoosh import index as windex
from whoosh import matching as wmatching
from whoosh import query as wq
from whoosh.system import pack_uint as _pack_uint
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

from evalsearch.analysis import QueryWord, Term
from evalsearch.forms import item_labels
from evalsearch.query import Clause, ParsedQuery
from evalsearch.records import ANSWER_LABEL, SheetRecord
from evalsearch.store import corrupt

WHOOSH_DIR = "whoosh"

FIELD_CODES: dict[str, str] = {
    "ア": "a",
    "イ": "i",
    "ウ": "u",
    "エ": "e",
    "オ": "o",
    "カ": "ka",
    "見直し": "review",
    "動向": "outlook",
    "活動": "activities",
    "意図": "intent",
    "対象": "target",
    "指標": "indicators",
    "事業名": "name",
    "回答": "answers",
}
"""ASCII stand-ins for the 根室 form's passage labels in Whoosh field names (stable on disk);
other forms' labels (①…⑧, 概要 …) are spelled in hex (``field_code``)."""


def field_code(label: str) -> str:
    return FIELD_CODES.get(label) or "x" + label.encode("utf-8").hex()


def label_of_code(code: str) -> str:
    """The passage label a field code spells (inverse of ``field_code``)."""
    for label, known in FIELD_CODES.items():
        if known == code:
            return label
    return bytes.fromhex(code[1:]).decode("utf-8") if code.startswith("x") else code


def passage_field(label: str) -> str:
    """The Whoosh field of one passage label (a dynamic ``p_*`` field)."""
    return "p_" + field_code(label)


def candidates_field(label: str) -> str:
    """The answers item ``label`` may have when the dump does not pin it (``cand_*``)."""
    return "cand_" + field_code(label)


def answer_field(label: str) -> str:
    """The Whoosh field holding the ticked answer of item ``label`` (a dynamic ``ans_*``)."""
    return "ans_" + field_code(label)


COMBINED_FIELD = "text"
"""Every passage in one field: the default search field."""

PASSAGE_GAP = 100
"""Positions left between passages in the combined field so a phrase never spans two."""

WRITER_LIMIT_MB = 48
"""Whoosh pool memory per writer before it spills a sorted run to disk. The pool is most of a
worker's memory, so it sets how the build's memory grows with the corpus: at 256 MB a worker
held 313 MB at 1,000 sheets and 569 MB at 10,000 (peak of the build 688 → 1,234 MB); at 48 MB
it holds ~315 MB at both (688 → 743 MB), at the same CPU time (bench/run.py, 2 cores). The
spilled runs are merged from disk a posting at a time."""

TERM_SEPARATOR = "\x1f"

# --- Whoosh adaptation -------------------------------------------------------------------


class TokenStream(list[tuple[str, int]]):
    """Pre-analysed field content: (term text, Whoosh position) pairs."""


class PreAnalyzedText(wfields.TEXT):
    """A TEXT field that indexes a ``TokenStream`` as is, without running the analyzer."""

    def __init__(self) -> None:
        # The analyzer is never run (documents arrive analysed, queries are compiled from
        # terms); Whoosh's own keeps the pickled schema free of our classes.
        super().__init__(analyzer=wanalysis.SpaceSeparatedTokenizer(), stored=False)

    def __reduce__(self) -> Any:
        # Pickled into Whoosh's table of contents as Whoosh's own TEXT: see the module doc.
        return (object.__new__, (wfields.TEXT,), self.__dict__.copy())

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if not isinstance(value, TokenStream):
            yield from super().index(value, **kwargs)
            return
        positions: dict[str, list[int]] = {}
        for text, position in value:
            positions.setdefault(text, []).append(position)
        boost = self.format.field_boost
        if type(self.format) is not wformats.Positions:
            encode = self.format.encode
            for text, poslist in positions.items():
                poslist.sort()
                yield text.encode("utf-8"), len(poslist), len(poslist) * boost, encode(poslist)
            return
        # Positions.encode inlined (same bytes: the count, then the pickled deltas): it ran
        # once per posting, a tenth of the indexing worker's Whoosh time.
        dumps = pickle.dumps
        for text, poslist in positions.items():
            poslist.sort()
            count = len(poslist)
            deltas = [poslist[0], *(b - a for a, b in pairwise(poslist))]
            yield text.encode("utf-8"), count, count * boost, _pack_uint(count) + dumps(deltas, 2)


SUBCOMPOUND_MARK = "\x02"
"""Prefix of sub-compound terms (see ``index_tokens``); no analysed text contains it."""


def subcompound_term(parts: Sequence[str]) -> str:
    """The index term standing for mode-A ``parts`` in a row inside one compound."""
    return SUBCOMPOUND_MARK + "".join(parts)


def index_tokens(terms: Iterable[Term], base: int = 0) -> list[tuple[str, int]]:
    """(index term, Whoosh position) pairs of analysed terms: the Sudachi "search mode".

    Every compound, its mode-A parts and its sub-compounds share the compound's position
    (``Term.position``), so phrases and adjacency work on whole words. A sub-compound term
    stands for each run of two or more parts (技能実習生 -> 技能実習, 実習生, 技能実習生): the
    query 実習生 then matches inside 技能実習生 with one term lookup instead of a phrase of
    parts, which pure-Python Whoosh evaluates too slowly (~100 ms at 10,000 sheets).
    """
    out: list[tuple[str, int]] = []
    parts: list[str] = []
    compound_position = base

    def flush() -> None:
        count = len(parts)
        if count > 1:
            for i in range(count - 1):
                for j in range(i + 2, count + 1):
                    out.append((subcompound_term(parts[i:j]), compound_position))
        parts.clear()

    for text, position, _start, _end, is_part in terms:
        if is_part:
            parts.append(text)
        else:
            flush()
            compound_position = base + position
        out.append((text, base + position))
    flush()
    return out


FACET_FIELDS: tuple[str, ...] = ("municipality", "department", "decision")


def make_schema() -> wfields.Schema:
    schema = wfields.Schema(
        key=wfields.ID(unique=True, stored=True),
        id=wfields.ID(stored=True),
        municipality=wfields.ID(stored=True, sortable=True),
        project_no=wfields.ID(stored=True),
        fiscal_year=wfields.ID(stored=True),
        department=wfields.ID(stored=True, sortable=True),
        policy_area=wfields.ID(stored=True),
        decision=wfields.ID(stored=True, sortable=True),
        measures=wfields.KEYWORD(stored=True, commas=True),
        total_cost=wfields.NUMERIC(float, stored=True),
        doc=wfields.STORED(),
    )
    schema.add(COMBINED_FIELD, PreAnalyzedText())
    schema.add(ITEMS_FIELD, PreAnalyzedText())
    # Passages and answers by the form's own labels (ア…カ, ①…⑧, 概要 …): dynamic fields.
    schema.add("p_*", PreAnalyzedText(), glob=True)
    schema.add("ans_*", wfields.ID(stored=True), glob=True)
    schema.add("cand_*", wfields.KEYWORD(commas=True), glob=True)
    return schema


ITEMS_FIELD = "items"
"""The check items of the answer summary (passage 回答): each item's label words, alone and
paired with the words of its answer (``answer_items``)."""

ANSWER_PAIR_MARK = "\x03"
"""Prefix of a (label word, answer word) pair term in ``ITEMS_FIELD``."""

ANSWER_PAIR_SEPARATOR = "\x1e"

ANSWER_LINE_HEADS: tuple[str, ...] = ("見直し状況", "今後の方向性")
"""Heads of the answer summary's lines that are not check items (``answer_line_heads``)."""


def answer_pair_term(label_word: str, answer_word: str) -> str:
    """The ``ITEMS_FIELD`` term saying an item whose label holds ``label_word`` was answered
    with ``answer_word`` (人件費 + 有る: ⑦ 人件費（延べ業務時間）の削減余地 削減余地がある)."""
    return ANSWER_PAIR_MARK + label_word + ANSWER_PAIR_SEPARATOR + answer_word


def answer_line_heads(record: SheetRecord) -> list[str]:
    """The fixed beginnings of the lines of ``SheetRecord.answer_summary`` (the item's key and
    short label; 見直し状況, 今後の方向性), each with its space, longest first."""
    labels = item_labels(record.form)
    heads = [
        " ".join(part for part in (key, labels.get(key, "")) if part) for key in record.assessments
    ]
    return sorted({head + " " for head in (*heads, *ANSWER_LINE_HEADS)}, key=len, reverse=True)


def answer_items(text: str, terms: Sequence[Term], heads: Sequence[str]) -> TokenStream:
    """The ``ITEMS_FIELD`` tokens of the answer summary ``text`` (its analysed ``terms``):
    per line that begins with one of ``heads``, the head's words and each of them paired with
    each word of the line's answer (``answer_pair_term``); the line's index is the position.

    Every sheet of a form has the same item labels (受益者負担, 人件費の削減余地 …), so in the
    combined field they tell no sheet from another; a pair says how this sheet answered that
    item, and a query holding a label word and an answer word (人件費の削減余地がある) finds the
    sheets that gave that answer to that item rather than to another one. An answer repeating
    its label's words (削減余地 → 削減余地がある) is paired by the words it adds only:
    受益者負担 typed alone is not the answer 既に負担がある."""
    items = TokenStream()
    lines: list[tuple[int, int]] = []  # (line start, end of its head)
    offset = 0
    for line in text.split("\n"):
        head = next((head for head in heads if line.startswith(head)), "")
        lines.append((offset, offset + len(head)))
        offset += len(line) + 1
    index = 0
    labels: list[str] = []
    answers: list[str] = []

    def flush() -> None:
        told = [word for word in dict.fromkeys(answers) if word not in labels]
        for label_word in dict.fromkeys(labels):
            items.append((label_word, index))
            items.extend((answer_pair_term(label_word, word), index) for word in told)
        labels.clear()
        answers.clear()

    for term in terms:
        while index + 1 < len(lines) and term.start >= lines[index + 1][0]:
            flush()
            index += 1
        start, head_end = lines[index]
        if term.start < head_end:
            labels.append(term.text)
        elif head_end > start:
            answers.append(term.text)
    flush()
    return items


def document(record: SheetRecord, analyzed: Mapping[str, Sequence[Term]]) -> dict[str, Any]:
    """The Whoosh document of one sheet from its already analysed passages."""
    passages = record.searchable_texts(item_labels(record.form))
    doc: dict[str, Any] = {
        "key": record.key,
        "id": record.id,
        "municipality": record.municipality,
        "project_no": record.project_no,
        "fiscal_year": str(record.fiscal_year),
        "department": record.department or "",
        "decision": record.direction.decision or "",
        "doc": {
            "project_name": record.project_name,
            "passages": {label: text for label, text in passages.items() if text},
            # Which terms each passage has: tells a hit's matching passages without
            # re-analysing them.
            "terms": {
                label: TERM_SEPARATOR.join(sorted({term[0] for term in terms}))
                for label, terms in analyzed.items()
                if terms
            },
        },
    }
    if record.policy_area:
        doc["policy_area"] = record.policy_area
    if record.direction.measures:
        doc["measures"] = ",".join(record.direction.measures)
    total = record.budget.latest("total_cost")
    if total is not None:
        doc["total_cost"] = float(total)
    combined = TokenStream()
    base = 0
    for label, terms in analyzed.items():
        if not terms:
            continue
        doc[passage_field(label)] = TokenStream(index_tokens(terms))
        if label == ANSWER_LABEL:
            items = answer_items(passages.get(label, ""), terms, answer_line_heads(record))
            if items:
                doc[ITEMS_FIELD] = items
        stream = index_tokens(terms, base)
        combined.extend(stream)
        base = stream[-1][1] + PASSAGE_GAP
    if combined:
        doc[COMBINED_FIELD] = combined
    for label, assessment in record.assessments.items():
        if assessment.answer:
            doc[answer_field(label)] = assessment.answer
        elif assessment.answer_candidates:
            doc[candidates_field(label)] = ",".join(assessment.answer_candidates)
    return doc


# --- opening -----------------------------------------------------------------------------


def create(directory: Path) -> None:
    """An empty Whoosh index in ``directory/whoosh``."""
    (directory / WHOOSH_DIR).mkdir(parents=True, exist_ok=True)
    windex.create_in(str(directory / WHOOSH_DIR), make_schema()).close()


def copy(source: Path, target: Path) -> None:
    """The Whoosh files of ``source`` in ``target``, as hard links where the file system
    allows: Whoosh never writes into a segment file once it is written (deletions and the
    segment list go into a new table of contents), and copying 1.5 GB of segments at 100,000
    sheets was most of an incremental run."""
    try:
        shutil.copytree(source / WHOOSH_DIR, target / WHOOSH_DIR, copy_function=os.link)
    except OSError:
        shutil.rmtree(target / WHOOSH_DIR, ignore_errors=True)
        shutil.copytree(source / WHOOSH_DIR, target / WHOOSH_DIR)


_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    struct.error,
    zlib.error,
    pickle.UnpicklingError,
    windex.IndexError,
)
"""What Whoosh raises on damaged index files (a truncated segment gives EOFError, which the
CLI framework would otherwise print as "Aborted!")."""


@contextlib.contextmanager
def reading(directory: Path) -> Iterator[None]:
    """Turn errors from damaged index files into IndexCorruptError."""
    try:
        yield
    except _READ_ERRORS as error:
        raise corrupt(directory, f"{type(error).__name__}: {error}") from error


def _open_whoosh(directory: Path) -> Any:
    from whoosh.filedb.filestore import FileStorage

    try:
        # Without mmap: Whoosh maps a segment, then opens each part of it as a BytesIO of
        # the mapped bytes, a full copy (300 MB of postings at 100,000 sheets; 1.5 s and as
        # much memory on every open). Plain reads at offsets copy only what is read.
        storage = FileStorage(str(directory / WHOOSH_DIR), supports_mmap=False)
        return windex.FileIndex(storage, schema=make_schema(), indexname=windex._DEF_INDEX_NAME)
    except Exception as error:  # Whoosh raises many kinds (EmptyIndexError, EOFError, ...)
        raise corrupt(directory, f"{WHOOSH_DIR}/: {type(error).__name__}: {error}") from error


class _CachedLengthBM25F(scoring.BM25F):
    """Whoosh's BM25F, with each segment's field lengths read into a list once.

    Whoosh looks a document's field length up in the column file for every scored posting;
    at 10,000 sheets that lookup was a third of a query's time.
    """

    def scorer(self, searcher: Any, fieldname: str, text: bytes, qf: int = 1) -> Any:
        scorer = super().scorer(searcher, fieldname, text, qf)
        if hasattr(scorer, "dfl"):
            scorer.dfl = _field_lengths(searcher.reader(), fieldname).__getitem__
        return scorer


def _field_lengths(reader: Any, fieldname: str) -> list[int]:
    cache = reader.__dict__.setdefault("_evalsearch_lengths", {})
    lengths = cache.get(fieldname)
    if lengths is None:
        lengths = [
            reader.doc_field_length(docnum, fieldname, 1)
            for docnum in range(reader.doc_count_all())
        ]
        cache[fieldname] = lengths
    return lengths


# --- querying ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RawHit:
    """One scored document as the engine returns it."""

    score: float
    stored: dict[str, Any]


@dataclass(frozen=True)
class QueryOutcome:
    total: int
    hits: list[RawHit]
    facets: dict[str, dict[str, int]]


@dataclass(frozen=True)
class Filters:
    """Exact-value restrictions on the hits (they do not change the ranking)."""

    year: int | None = None
    municipality: str | None = None
    department: str | None = None
    decision: str | None = None
    measure: str | None = None
    answers: Mapping[str, str] = field(default_factory=dict)
    include_unresolved: bool = False
    """With ``answers``: also sheets whose answer the dump does not pin down but whose
    candidates include the value."""
    only_unresolved: bool = False
    """With ``answers``: only those sheets (to count what the answer filter left out)."""


@dataclass(frozen=True)
class Ranking:
    """How a query's words combine into a score (README: 検索の考え方).

    A query of n content words matches a sheet holding at least ``min_should_match`` × n of
    them (rounded down, at least 1; words found in no sheet are not counted), as
    Elasticsearch's ``match`` with ``minimum_should_match``. Every matched word adds the BM25F
    score in the combined field of its best alternative (``_word_query``: the word, inside a
    compound, its parts written apart, its synonyms); a sheet holding all the words gets their
    score again × ``all_words_boost``, and once more × ``proximity_boost`` when they stand
    within ``proximity_slop`` words of each other in order; a match in 事業名 adds ×
    ``name_boost``; each pair of query words that is a check item's label word and a word of
    the sheet's answer to that item (``answer_items``: 人件費 + 有る for ⑦ 人件費…の削減余地
    削減余地がある) adds its BM25F score in ``ITEMS_FIELD`` × ``answer_boost``. Quoted phrases
    and ``オ:…`` clauses stay required.

    The defaults were chosen on the judged queries (``make relevance``; 50 queries over the
    根室-form corpus, 28 over 大船渡's real sheets), mean nDCG@10 of the two corpora:
    proximity is what lifts evalsearch above plain BM25 (0.863/0.695 with it, 0.871/0.622
    without); a 事業名 boost of 2 costs 0.01–0.02 on both; 75 % instead of 50 % costs 0.01;
    the all-words bonus and the slop (1–6) move the figures by less than 0.005.

    Issue #10 (nDCG@10 nemuro/ofunato O01–O28, before 0.875/0.733): a compound's parts written
    apart (``_word_query``) 0.887/0.736; light verbs out of the query words
    (``analysis.LIGHT_VERBS``) 0.887/0.755; a word scored by its best alternative instead of
    their sum, the sub-compound as a part match, 0.890/0.768. Ten 大船渡 queries judged
    afterwards (O29–O38): 0.672 before, 0.699 after (BM25 0.685). Tried and rejected, each
    against the figures of its day: BM25 k1 0.8–2.0 and b 0.3–0.9 (within ±0.007 on both),
    Lucene's idf instead of Whoosh's 1 + ln(N/(df+1)) (−0.010/−0.005), not counting words of
    over half the sheets towards the minimum (−0.001/0), the proximity bonus in either order
    (−0.002/+0.006), pseudo-relevance feedback with 5 terms of the top 5 or 10 at weight
    0.1–0.3 (−0.005…+0.001/−0.007…−0.018), the best passage's score added at 0.5–1
    (−0.008…+0.001/−0.006…−0.024).

    Answers and one-kanji words (nDCG@10 nemuro/ofunato O01–O38, before 0.893/0.750; odd and
    even query ids 0.891, 0.895/0.757, 0.742). Every sheet's answer summary holds the items'
    labels, so 受益者負担 or 削減余地 told no sheet from another and a query could not say which
    item an answer belongs to: the (label word, answer word) pairs, scored as a bonus,
    0.893/0.764 (halves 0.891, 0.895/0.766, 0.763; O06 見直し余地がある 0.61 → 1.00, O09
    0.22 → 0.39). A one-kanji word matching the commonest two-kanji words holding it as a part
    match (``KANJI_WORDS``; 雪 → 除雪, 冬 → 冬期) 0.901/0.763 (N50 0.58 → 0.99, O08 他の事業との
    統合 0.58 → 0.52 through 他市). Each answer line ending in 。 (an answer ある before a line
    break was the 連体詞 或る) 0.901/0.763. The negative auxiliary kept as the term 無い
    (``analysis.NEGATION``: 結びついていない was 結びついている to the index) 0.914/0.763 (halves
    0.917, 0.911/0.766, 0.760; N41 成果が上がっていない事業 0.34 → 1.00 through the pair 成果 +
    無い, 0.46 without the answer bonus). Tried and rejected: the labels out of the combined
    field, with the pairs 0.892/0.761, without 0.890/0.706 (the labels' words in a row with
    the answer are what the proximity bonus finds: O21 廃止しても影響がない事業, O27); pairing
    answer words that repeat the label (既に負担がある → 受益者 + 負担) 0.888/0.764 (N15 0.59 →
    0.33); ``answer_boost`` 0.5 0.893/0.759, 1.5–3 as 1; a minimum to match counted in idf
    (the matched words' idf at least half, or 80 % of half, of the query's, so a common word
    alone no longer satisfies it) 0.889/0.725 and 0.891/0.743; a compound's one-character
    parts joined to their neighbour for the parts-apart phrase (業務効率化 → 業務…効率化) no
    change on either corpus; one-kanji words at 0.3 instead of ``PART_WEIGHT`` 0.899/0.764,
    up to three kanji 0.901/0.762.
    """

    min_should_match: float = 0.5
    all_words_boost: float = 1.0
    proximity_boost: float = 1.0
    proximity_slop: int = 6
    name_boost: float = 0.0
    answer_boost: float = 1.0
    """Weight of the (label word, answer word) pairs (``_answer_pairs``); 0 turns them off."""


DEFAULT_RANKING = Ranking()

MAX_COMBINATIONS = 20
"""Above this many m-of-n word combinations the minimum-should-match falls back to any word:
a long natural sentence is rare, and its filter would cost more than its precision gains."""


Expansions = Mapping[str, Sequence[tuple[tuple[str, ...], float]]]
"""Query term -> (expansion terms, weight below 1) pairs: synonyms found by the caller."""


@dataclass(frozen=True)
class Vocabulary:
    """What compiling a query may ask of the index: how many sheets hold a term."""

    frequency: Callable[[str, str], int]
    """``frequency(fieldname, term)``: the number of sheets holding the term in that field."""
    documents: int
    containing: Callable[[str, str], Sequence[str]] = lambda fieldname, char: ()
    """``containing(fieldname, kanji)``: the field's commonest two-kanji words holding the
    kanji (``Engine._containing``), best first."""

    def known(self, fieldname: str, term: str) -> bool:
        return self.frequency(fieldname, term) > 0

    def idf(self, fieldname: str, term: str) -> float:
        """BM25's inverse document frequency of the term."""
        df = self.frequency(fieldname, term)
        return math.log(1 + (self.documents - df + 0.5) / (df + 0.5))


EVERY_TERM = Vocabulary(frequency=lambda fieldname, term: 1, documents=1)
"""A vocabulary that knows every term (compiling without an index, as tests do)."""

PART_WEIGHT = 0.5
"""Weight of a match of a compound's parts rather than the compound itself: inside a longer
compound (実習生 in 技能実習生), or alone when the compound is in no sheet (移住者 → 移住)."""

PARTS_PHRASE_WEIGHT = 0.5
"""Weight of a compound's parts written apart, in order (経費削減 → 経費の削減)."""

PARTS_PHRASE_SLOP = 2
"""How far apart those parts may stand: particles are not indexed, so 経費の削減 is adjacent
(1) and 経費を大幅に削減 two apart."""


def _word_query(
    fieldname: str, word: QueryWord, expansions: Expansions, vocabulary: Vocabulary
) -> Any | None:
    """The word's alternatives (the word, its sub-compound, its parts written apart, its
    synonyms), scored by the best one; None when the index holds none of them. A compound found
    nowhere also falls back to its parts of two or more characters (移住者 → 移住), weighted
    below the word.

    The alternatives stand for one word, so a sheet scores the best of them, not their sum
    (as Lucene's SynonymQuery and dis_max do): summed, a sheet writing a word in several
    spellings and synonyms counted it several times, and the sub-compound term doubled every
    exact compound's score.

    A synonym rarer than the word would outscore it (BM25 rewards rare terms): 統合 is in half
    the sheets, its synonym 集約 in a few, all about 農地の集約. As Lucene's SynonymQuery
    scores a synonym with the word's statistics, a synonym's weight is scaled by the word's
    idf over its own, so it never counts more than the word it stands for."""
    known = vocabulary.known
    options: list[Any] = []
    compound_known = known(fieldname, word.term)
    if compound_known:
        options.append(wq.Term(fieldname, word.term))
    if word.parts:
        # C-term OR A-phrase: 実習生 matches 実習生 itself and its parts 実習 生 in a row inside
        # a compound (技能実習生), looked up as one sub-compound term (see index_tokens), which
        # counts as a part match: the exact word ranks first.
        inside = subcompound_term(word.parts)
        if known(fieldname, inside):
            options.append(wq.Term(fieldname, inside, boost=PART_WEIGHT))
        # ... and the parts written apart (経費削減 → 経費の削減, 行政手続 → 行政手続き), a
        # planner's compound the sheets spell with particles. Only when every part has two or
        # more characters: 高齢…者 or 協議…会 apart mean nothing (with them, two 大船渡 queries
        # rose by accident), and the position lists of 者 and 会 are the longest to decode.
        if all(len(part) > 1 and known(fieldname, part) for part in word.parts):
            options.append(
                wq.Sequence(
                    [wq.Term(fieldname, part) for part in word.parts],
                    slop=PARTS_PHRASE_SLOP,
                    boost=PARTS_PHRASE_WEIGHT,
                )
            )
    if is_one_kanji(word.term):
        # A word of one kanji also matches the two-kanji words holding it, as a part match:
        # 雪 in 除雪, 冬 in 冬期 (Sudachi keeps both as one unit, so 雪 is no part of 除雪).
        options.extend(
            wq.Term(fieldname, term, boost=PART_WEIGHT)
            for term in vocabulary.containing(fieldname, word.term)
            if term != word.term
        )
    word_idf = vocabulary.idf(fieldname, word.term) if compound_known else None
    for terms, weight in expansions.get(word.term, ()):
        if not all(known(fieldname, term) for term in terms):
            continue
        if len(terms) == 1:
            if word_idf is not None:
                weight *= min(1.0, word_idf / vocabulary.idf(fieldname, terms[0]))
            options.append(wq.Term(fieldname, terms[0], boost=weight))
        else:
            options.append(
                wq.Sequence([wq.Term(fieldname, term) for term in terms], slop=1, boost=weight)
            )
    if word.parts and not compound_known:
        # Even when synonyms were found: 経費削減 has synonyms (コスト削減 …) in other sheets
        # than the ones writing 経費 and 削減.
        options.extend(
            wq.Term(fieldname, part, boost=PART_WEIGHT)
            for part in word.parts
            if len(part) > 1 and known(fieldname, part)
        )
    if not options:
        return None
    return options[0] if len(options) == 1 else BestOf(options)


def _is_kanji(text: str) -> bool:
    return all("\u4e00" <= char <= "\u9fff" for char in text)


def is_one_kanji(term: str) -> bool:
    """A query word of one kanji (雪, 冬): it also matches the two-kanji words holding it."""
    return len(term) == 1 and _is_kanji(term)


class _BestOfMatcher(wmatching.DisjunctionMaxMatcher):
    """Whoosh's DisjunctionMaxMatcher with its scoring fixed: it returned max(a, b) whenever
    both sides were active, even when only one of them stood on the current document (the
    other's score belonged to a later one)."""

    def score(self) -> float:
        a, b = self.a, self.b
        if not a.is_active():
            return float(b.score())
        if not b.is_active():
            return float(a.score())
        if a.id() < b.id():
            return float(a.score())
        if b.id() < a.id():
            return float(b.score())
        return float(max(a.score(), b.score()))


class BestOf(wq.DisjunctionMax):
    """Matches what any subquery matches, scored by the best subquery matching there (a
    word's alternatives; ``_BestOfMatcher``). No tie-break."""

    def _matcher(self, subs: Any, searcher: Any, context: Any) -> Any:
        reader = searcher.reader()
        return self._tree_matcher(
            subs, _BestOfMatcher, searcher, context, lambda q: q.estimate_size(reader)
        )


def _at_least(queries: Sequence[Any], ratio: float) -> Any:
    """Matches documents matching ``ratio`` of ``queries`` (at least one), scored as their Or."""
    n = len(queries)
    if n == 1:
        return queries[0]
    wanted = max(1, int(n * ratio))
    if wanted >= n:
        return wq.And(list(queries))
    either = wq.Or(list(queries))
    if wanted == 1 or math.comb(n, wanted) > MAX_COMBINATIONS:
        return either
    enough = wq.Or(
        [wq.And([queries[i] for i in combo]) for combo in combinations(range(n), wanted)]
    )
    # The combinations only decide what matches (score 0); the score is the words' own.
    return wq.And([wq.ConstantScoreQuery(enough, 0.0), either])


def _clause_query(
    clause: Clause,
    default_field: str,
    ranking: Ranking,
    expansions: Expansions,
    vocabulary: Vocabulary = EVERY_TERM,
) -> Any:
    """A clause's words; words found in no sheet do not count towards the minimum to match
    (nothing could match them), so 移住者を増やす取組み still finds the sheets on 移住."""
    fieldname = passage_field(clause.field) if clause.field else default_field
    found = [_word_query(fieldname, word, expansions, vocabulary) for word in clause.words]
    if clause.phrase:
        if any(word is None for word in found):
            return wq.NullQuery
        return found[0] if len(found) == 1 else wq.Sequence(found, slop=1)
    words = [word for word in found if word is not None]
    if not words:
        return wq.NullQuery
    if len(words) == 1:
        return words[0]
    bonuses = [wq.And(words, boost=ranking.all_words_boost)]
    if ranking.proximity_boost:
        bonuses.append(
            wq.Sequence(words, slop=ranking.proximity_slop, boost=ranking.proximity_boost)
        )
    return wq.AndMaybe(_at_least(words, ranking.min_should_match), wq.Or(bonuses))


def compile_query(
    parsed: ParsedQuery,
    default_label: str | None = None,
    ranking: Ranking = DEFAULT_RANKING,
    expansions: Expansions | None = None,
    vocabulary: Vocabulary = EVERY_TERM,
) -> Any:
    """The Whoosh query of the positive part of a parsed query (exclusions: ``_excluded``)."""
    default_field = passage_field(default_label) if default_label else COMBINED_FIELD
    expansions = expansions or {}
    required: list[Any] = []
    optional: list[Any] = []
    boosts: list[Any] = []
    for alternatives in parsed.required:
        options = [
            _clause_query(clause, default_field, ranking, expansions, vocabulary)
            for clause in alternatives
        ]
        group = options[0] if len(options) == 1 else wq.Or(options)
        explicit = any(clause.phrase or clause.field for clause in alternatives)
        (required if explicit else optional).append(group)
        if default_label is None:
            boosts.extend(
                _clause_query(clause, passage_field("事業名"), ranking, expansions, vocabulary)
                for clause in alternatives
                if clause.field is None
            )
    if optional:
        # Words typed apart (高齢者 見守り) combine like the words of one clause.
        scored = _at_least(optional, ranking.min_should_match)
        if len(optional) > 1:
            scored = wq.AndMaybe(scored, wq.And(optional, boost=ranking.all_words_boost))
        required.append(scored)
    main: Any = wq.And(required) if len(required) > 1 else (required[0] if required else wq.Every())
    if default_label is None and ranking.answer_boost:
        pairs = _answer_pairs(parsed, vocabulary)
        if pairs:
            main = wq.AndMaybe(main, wq.Or(pairs, boost=ranking.answer_boost))
    if boosts and ranking.name_boost:
        main = wq.AndMaybe(main, wq.Or(boosts, boost=ranking.name_boost))
    return main


MAX_ANSWER_PAIR_WORDS = 8
"""Words of a query paired with each other for the answer bonus (``_answer_pairs``)."""


def _answer_pairs(parsed: ParsedQuery, vocabulary: Vocabulary) -> list[Any]:
    """The (label word, answer word) pairs of the query's words that some sheet answered
    (``answer_items``): 受益者負担 … ある finds the sheets whose カ 受益者負担 is ある."""
    words = list(
        dict.fromkeys(
            word.term
            for clause in parsed.positive_clauses()
            if clause.field is None and not clause.phrase
            for word in clause.words
        )
    )[:MAX_ANSWER_PAIR_WORDS]
    known = vocabulary.known
    return [
        wq.Term(ITEMS_FIELD, answer_pair_term(label_word, answer_word))
        for label_word in words
        if known(ITEMS_FIELD, label_word)
        for answer_word in words
        if answer_word != label_word
        and known(ITEMS_FIELD, answer_pair_term(label_word, answer_word))
    ]


def _excluded(parsed: ParsedQuery, default_label: str | None) -> Any | None:
    if not parsed.excluded:
        return None
    default_field = passage_field(default_label) if default_label else COMBINED_FIELD
    return wq.Or(
        [_clause_query(clause, default_field, DEFAULT_RANKING, {}) for clause in parsed.excluded]
    )


def _any_of(queries: Sequence[Any | None]) -> Any | None:
    present = [query for query in queries if query is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else wq.Or(present)


def compile_filter(filters: Filters) -> Any | None:
    terms = []
    if filters.year is not None:
        terms.append(wq.Term("fiscal_year", str(filters.year)))
    if filters.municipality:
        terms.append(wq.Term("municipality", filters.municipality))
    if filters.department:
        terms.append(wq.Term("department", filters.department))
    if filters.decision:
        terms.append(wq.Term("decision", filters.decision))
    if filters.measure:
        terms.append(wq.Term("measures", filters.measure))
    for label, answer in filters.answers.items():
        read = wq.Term(answer_field(label), answer)
        possible = wq.Term(candidates_field(label), answer)
        if filters.only_unresolved:
            terms.append(possible)
        elif filters.include_unresolved:
            terms.append(wq.Or([read, possible]))
        else:
            terms.append(read)
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else wq.And(terms)


# --- vectorised execution ------------------------------------------------------------------
# Whoosh scores a query one document at a time through a tree of pure-Python matchers: a
# broad query (matching most sheets) cost ~100 ms at 10,000 sheets and ~200 ms at 100,000.
# The executor below computes the same thing a whole posting list at a time with numpy: each
# term's BM25F scores are one array, Or/And/AndMaybe are array operations, and a Sequence
# (phrase, proximity bonus) joins the position lists of the documents that hold every word.
# It implements exactly the node types compile_query produces, with Whoosh's semantics
# (scores, span rules, tie order); any other node raises _Unsupported and the query runs
# through Whoosh's own matchers instead (``Engine._execute_whoosh``).

VECTORISED = True
"""Run queries with the numpy executor (False: Whoosh's matchers; the tests compare both)."""

POSTINGS_CACHE_MB = 256
"""Posting lists (document numbers and BM25F scores) kept in memory per opened index."""

POSITIONS_CACHE_MB = 128
"""Decoded position lists kept per opened index (phrases and the proximity bonus)."""

FREQUENCY_CACHE_TERMS = 200_000
"""Document frequencies remembered per opened index (the cache starts over when full)."""

KANJI_WORDS = 10
"""Two-kanji words a one-kanji query word also matches (the commonest first; ``_word_query``)."""

STORED_CACHE_DOCUMENTS = 2_000
"""Stored documents (hits' texts) kept per opened index, most recent first."""


class _Unsupported(Exception):
    """A query node the vectorised executor does not implement."""


_BYTE_LENGTHS = np.array([0, *(byte_to_length(code) for code in range(1, 256))], dtype=np.float64)
"""Whoosh stores a field length as one byte (``length_to_byte``); 0 means no length."""


@dataclass
class _Match:
    """A node's result over the whole index: which documents match and their scores (the
    score is only meaningful where ``mask`` is true)."""

    mask: np.ndarray  # bool, one per document number
    scores: np.ndarray  # float64


@dataclass
class _Spans:
    """Position spans of a node inside candidate documents, sorted by (doc, start, end)."""

    docs: np.ndarray  # int64
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64


class _Cache:
    """A least-recently-used map with a byte budget."""

    def __init__(self, budget_mb: int) -> None:
        self.budget = budget_mb * 1024 * 1024
        self.used = 0
        self.items: OrderedDict[tuple[str, bytes], tuple[Any, int]] = OrderedDict()

    def get(self, key: tuple[str, bytes]) -> Any:
        found = self.items.get(key)
        if found is None:
            return None
        self.items.move_to_end(key)
        return found[0]

    def put(self, key: tuple[str, bytes], value: Any, size: int) -> None:
        self.items[key] = (value, size)
        self.used += size
        while self.used > self.budget and len(self.items) > 1:
            _, (_, freed) = self.items.popitem(last=False)
            self.used -= freed


class _Vectorised:
    """The numpy executor over one open searcher (see the section comment)."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.schema = searcher.schema
        self.size = searcher.doc_count_all()
        if self.size >= 1 << _SPAN_BITS:
            raise _Unsupported("too many documents for packed span keys")
        self.leaves = [(sub.reader(), offset) for sub, offset in searcher.leaf_searchers()]
        live = np.ones(self.size, dtype=bool)
        for reader, offset in self.leaves:
            if reader.has_deletions():
                alive = np.fromiter(reader.all_doc_ids(), dtype=np.int64)
                live[offset : offset + reader.doc_count_all()] = False
                live[alive + offset] = True
        self.live = live
        weighting = searcher.weighting
        if type(weighting) is not _CachedLengthBM25F:
            raise _Unsupported(type(weighting).__name__)
        self.weighting = weighting
        self._lengths: dict[str, np.ndarray] = {}
        self._postings = _Cache(POSTINGS_CACHE_MB)
        self._positions = _Cache(POSITIONS_CACHE_MB)
        self._memo: dict[int, tuple[Any, _Match]] = {}

    # -- one query ----------------------------------------------------------------------------

    def run(self, query: Any, excluded: Any | None) -> tuple[np.ndarray, np.ndarray]:
        """The match mask and scores of ``query`` minus ``excluded``, deleted documents out."""
        self._memo = {}
        try:
            found = self._eval(query)
            mask = found.mask & self.live
            if excluded is not None:
                mask &= ~self._eval(excluded).mask
            return mask, found.scores
        finally:
            self._memo = {}

    def _eval(self, query: Any) -> _Match:
        # Word queries are shared by several parents (the minimum-should-match, the all-words
        # bonus and the proximity bonus): each is computed once per query.
        memo = self._memo.get(id(query))
        if memo is not None:
            return memo[1]
        found = self._compute(query)
        self._memo[id(query)] = (query, found)
        return found

    def _empty(self) -> _Match:
        return _Match(np.zeros(self.size, dtype=bool), np.zeros(self.size))

    def _compute(self, query: Any) -> _Match:
        kind = type(query)
        if query is wq.NullQuery or kind is type(wq.NullQuery):
            return self._empty()
        if kind is wq.Term:
            return self._term(query)
        if kind is wq.ConstantScoreQuery:
            # Whoosh gives every match the constant as the weight of a ListMatcher, which
            # reads a weight of 0.0 as "none given" and scores 1.0 instead.
            child = self._eval(query.child)
            constant = float(query.score) or 1.0
            return _Match(child.mask, np.where(child.mask, constant, 0.0))
        if kind is wq.AndMaybe:
            a, b = self._eval(query.a), self._eval(query.b)
            both = a.mask & b.mask
            return _Match(a.mask, np.where(both, a.scores + b.scores, a.scores))
        if kind is wq.AndNot:
            a, b = self._eval(query.a), self._eval(query.b)
            return _Match(a.mask & ~b.mask, a.scores)
        if kind is wq.Every and query.fieldname in (None, "", "*"):
            return _Match(self.live.copy(), np.full(self.size, float(query.boost)))
        if kind in (wq.Or, wq.And, wq.Sequence, BestOf):
            subs = query.subqueries
            if not subs:
                return self._empty()
            if len(subs) == 1:
                # Whoosh's CompoundQuery.matcher uses a lone child as is, without the boost.
                return self._eval(subs[0])
            children = [self._eval(sub) for sub in subs]
            if kind is wq.Or:
                mask = np.logical_or.reduce([child.mask for child in children])
                scores = _sum_where(children)
            elif kind is BestOf:
                mask = np.logical_or.reduce([child.mask for child in children])
                scores = _max_where(children)
            elif kind is wq.And:
                mask = np.logical_and.reduce([child.mask for child in children])
                scores = _sum_where(children)
            else:
                mask = self._sequence_mask(query, children)
                scores = _sum_where(children)
            if query.boost != 1.0:
                scores = scores * query.boost
            return _Match(mask, scores)
        raise _Unsupported(kind.__name__)

    # -- terms --------------------------------------------------------------------------------

    def _term(self, query: Any) -> _Match:
        found = self._term_postings(query.fieldname, query.text)
        if found is None:
            return self._empty()
        ids, scores = found
        if query.boost != 1.0:
            scores = scores * query.boost
        mask = np.zeros(self.size, dtype=bool)
        mask[ids] = True
        dense = np.zeros(self.size)
        dense[ids] = scores
        return _Match(mask, dense)

    def _term_bytes(self, fieldname: str, text: Any) -> bytes | None:
        if fieldname not in self.schema:
            return None
        try:
            return bytes(self.schema[fieldname].to_bytes(text))
        except ValueError:
            return None

    def _term_postings(self, fieldname: str, text: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """Document numbers holding the term and their (unboosted) scores, as Whoosh's
        scorer gives them; None when no segment holds the term."""
        btext = self._term_bytes(fieldname, text)
        if btext is None:
            return None
        key = (fieldname, btext)
        cached = self._postings.get(key)
        if cached is not None:
            return cached or None
        ids_parts: list[np.ndarray] = []
        weight_parts: list[np.ndarray] = []
        for reader, offset in self.leaves:
            if (fieldname, btext) not in reader:
                continue
            ids, weights, _ = _read_postings(reader, fieldname, btext, values=False)
            ids_parts.append(ids + offset)
            weight_parts.append(weights)
        if not ids_parts:
            self._postings.put(key, (), 64)
            return None
        ids = np.concatenate(ids_parts)
        weights = np.concatenate(weight_parts)
        field = self.schema[fieldname]
        if field.scorable:
            weighting = self.weighting
            idf = self.searcher.idf(fieldname, btext)
            avgfl = self.searcher.avg_field_length(fieldname) or 1
            b = weighting._field_B.get(fieldname, weighting.B)
            k1 = weighting.K1
            lengths = self._field_lengths(fieldname)[ids]
            # scoring.bm25, operation for operation, so the floats are Whoosh's own.
            scores = idf * ((weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * lengths / avgfl)))
        else:
            scores = weights  # WeightScorer: the posting's weight
        found = (ids, scores)
        self._postings.put(key, found, ids.nbytes + scores.nbytes + 200)
        return found

    def _field_lengths(self, fieldname: str) -> np.ndarray:
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            lengths = np.zeros(self.size)
            for reader, offset in self.leaves:
                count = reader.doc_count_all()
                lengths[offset : offset + count] = _segment_lengths(reader, fieldname, count)
            self._lengths[fieldname] = lengths
        return lengths

    # -- positions ----------------------------------------------------------------------------

    def _sequence_mask(self, query: Any, children: Sequence[_Match]) -> np.ndarray:
        """Documents where the subqueries occur in order, each within ``slop`` positions of
        the previous one (Whoosh's SpanNear with mindist 1)."""
        if not query.ordered:
            raise _Unsupported("unordered Sequence")
        candidates = np.logical_and.reduce([child.mask for child in children])
        if not candidates.any():
            return candidates
        spans = self._sequence_spans(query, candidates)
        mask = np.zeros(self.size, dtype=bool)
        mask[spans.docs] = True
        return mask

    def _sequence_spans(self, query: Any, candidates: np.ndarray) -> _Spans:
        subs = query.subqueries
        spans = self._spans(subs[0], candidates)
        for sub in subs[1:]:
            if not len(spans.docs):
                break
            spans = _join(spans, self._spans(sub, candidates), query.slop)
        return spans

    def _spans(self, query: Any, candidates: np.ndarray) -> _Spans:
        kind = type(query)
        if kind is wq.Term:
            return self._term_spans(query, candidates)
        if kind in (wq.Or, wq.Sequence, BestOf) and len(query.subqueries) == 1:
            return self._spans(query.subqueries[0], candidates)
        if kind is wq.Or or kind is BestOf:
            parts = [self._spans(sub, candidates) for sub in query.subqueries]
            return _union(parts)
        if kind is wq.Sequence:
            if not query.ordered or not query.subqueries:
                raise _Unsupported("Sequence inside Sequence")
            inner = candidates & self._eval(query).mask
            if not inner.any():
                return _no_spans()
            return self._sequence_spans(query, inner)
        raise _Unsupported(f"{kind.__name__} inside Sequence")

    def _term_spans(self, query: Any, candidates: np.ndarray) -> _Spans:
        btext = self._term_bytes(query.fieldname, query.text)
        if btext is None:
            return _no_spans()
        found = self._term_positions(query.fieldname, btext)
        if found is None:
            return _no_spans()
        ids, offsets, positions = found
        keep = candidates[ids]
        if not keep.any():
            return _no_spans()
        rows = np.flatnonzero(keep)
        starts = offsets[rows]
        counts = offsets[rows + 1] - starts
        total = int(counts.sum())
        # Indices of every position of the kept rows, without a Python loop.
        first = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        index = first + np.arange(total)
        docs = np.repeat(ids[rows], counts)
        pos = positions[index].astype(np.int64)
        return _Spans(docs, pos, pos)

    def _term_positions(
        self, fieldname: str, btext: bytes
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(document numbers, offsets, positions) of a term: CSR rows, one per posting."""
        key = (fieldname, btext)
        cached = self._positions.get(key)
        if cached is not None:
            return cached or None
        field = self.schema[fieldname]
        if not field.format.supports("positions"):
            raise _Unsupported(f"{fieldname} has no positions")
        decode = field.format.decode_positions
        ids_parts: list[np.ndarray] = []
        counts: list[int] = []
        flat: list[int] = []
        for reader, offset in self.leaves:
            if (fieldname, btext) not in reader:
                continue
            ids, _, values = _read_postings(reader, fieldname, btext, values=True)
            ids_parts.append(ids + offset)
            for value in values:
                decoded = decode(value)
                counts.append(len(decoded))
                flat.extend(decoded)
        if not ids_parts:
            self._positions.put(key, (), 64)
            return None
        ids = np.concatenate(ids_parts)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        positions = np.array(flat, dtype=np.int32)
        found = (ids, offsets, positions)
        self._positions.put(key, found, ids.nbytes + offsets.nbytes + positions.nbytes + 200)
        return found


def _sum_where(children: Sequence[_Match]) -> np.ndarray:
    """Each document's sum of the scores of the children it matches, in child order."""
    total = np.where(children[0].mask, children[0].scores, 0.0)
    for child in children[1:]:
        total = np.where(child.mask, total + child.scores, total)
    return total


def _max_where(children: Sequence[_Match]) -> np.ndarray:
    """Each document's highest score among the children it matches (0 where none)."""
    best = np.where(children[0].mask, children[0].scores, 0.0)
    for child in children[1:]:
        best = np.where(child.mask, np.maximum(best, child.scores), best)
    return best


def _no_spans() -> _Spans:
    empty = np.zeros(0, dtype=np.int64)
    return _Spans(empty, empty, empty)


_SPAN_BITS = 21
"""Bits of a span position in a packed (doc, start, end) key: positions stay below 2**21."""


def _pack(docs: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    return (docs << (2 * _SPAN_BITS)) | (starts << _SPAN_BITS) | ends


def _unpack(keys: np.ndarray) -> _Spans:
    mask = (1 << _SPAN_BITS) - 1
    return _Spans(keys >> (2 * _SPAN_BITS), (keys >> _SPAN_BITS) & mask, keys & mask)


def _check_positions(*parts: _Spans) -> None:
    for part in parts:
        if len(part.ends) and int(part.ends.max()) >= 1 << _SPAN_BITS:
            raise _Unsupported("position beyond the packed range")


def _union(parts: Sequence[_Spans]) -> _Spans:
    """Whoosh's UnionMatcher.spans: the set of both sides' spans, sorted."""
    _check_positions(*parts)
    keys = np.unique(np.concatenate([_pack(p.docs, p.starts, p.ends) for p in parts]))
    return _unpack(keys)


def _join(left: _Spans, right: _Spans, slop: int) -> _Spans:
    """SpanNear(left, right, slop, ordered, mindist=1): every left span followed, in the same
    document, by a right span starting 1..slop positions after its end; each pair becomes
    the span from the left start to the right end."""
    _check_positions(left, right)
    if not len(right.docs) or not len(left.docs):
        return _no_spans()
    order = np.lexsort((right.starts, right.docs))
    right_docs, right_starts, right_ends = (
        right.docs[order],
        right.starts[order],
        right.ends[order],
    )
    right_keys = (right_docs << _SPAN_BITS) | right_starts
    base = left.docs << _SPAN_BITS
    low = np.searchsorted(right_keys, base | (left.ends + 1), side="left")
    high = np.searchsorted(right_keys, base | (left.ends + slop), side="right")
    counts = high - low
    total = int(counts.sum())
    if not total:
        return _no_spans()
    pair_left = np.repeat(np.arange(len(left.docs)), counts)
    pair_right = np.repeat(low - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    pair_right = pair_right + np.arange(total)
    keys = np.unique(_pack(left.docs[pair_left], left.starts[pair_left], right_ends[pair_right]))
    return _unpack(keys)


def _read_postings(
    reader: Any, fieldname: str, btext: bytes, *, values: bool
) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """A segment's whole posting list of one term: document numbers, weights and (with
    ``values``) the raw posting values, read a block at a time."""
    matcher = reader.postings(fieldname, btext)
    if isinstance(matcher, wmatching.FilterMatcher):
        matcher = matcher.child  # deleted documents: the executor masks them itself
    ids: list[Any] = []
    weights: list[Any] = []
    raw: list[bytes] = []
    if (
        hasattr(matcher, "_read_data")
        and hasattr(matcher, "_next_block")
        and not getattr(matcher, "_byteids", True)
    ):
        # Whoosh's block matcher (W3LeafMatcher): whole blocks, not one posting at a time.
        # A block holds (id deltas, weights: None = all 1.0, one float, or one per posting,
        # values); the deltas are summed with numpy (Whoosh's delta_decode is a Python loop).
        blocks: list[np.ndarray] = []
        block_weights: list[np.ndarray] = []
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            deltas, weight, _ = matcher._data
            count = matcher._blocklength
            blocks.append(np.asarray(deltas, dtype=np.int64))
            if weight is None:
                block_weights.append(np.ones(count))
            elif isinstance(weight, float):
                block_weights.append(np.full(count, weight))
            else:
                block_weights.append(np.asarray(weight, dtype=np.float64))
            if values:
                matcher._read_values()
                raw.extend(matcher._values)
            matcher._next_block()
        if not blocks:
            return np.zeros(0, dtype=np.int64), np.zeros(0), raw
        return (
            np.cumsum(np.concatenate(blocks)) if len(blocks) == 1 else _block_ids(blocks),
            np.concatenate(block_weights),
            raw,
        )
    else:
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            if values:
                raw.append(matcher.value())
            matcher.next()
    return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float64), raw


def _block_ids(blocks: Sequence[np.ndarray]) -> np.ndarray:
    """Absolute document numbers of delta-encoded blocks (each block's deltas start from 0)."""
    return np.concatenate([np.cumsum(block) for block in blocks])


def _segment_lengths(reader: Any, fieldname: str, count: int) -> np.ndarray:
    """One segment's field lengths as Whoosh's scorer sees them (``doc_field_length``)."""
    perdoc = getattr(reader, "_perdoc", None)
    column = None
    if perdoc is not None and hasattr(perdoc, "_cached_reader"):
        from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

        column = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        if column is None:
            return np.zeros(count)
    if column is not None and hasattr(column, "_dbfile") and hasattr(column, "_count"):
        stored = min(column._count, count)
        codes = np.zeros(count, dtype=np.uint8)
        if stored:
            raw = column._dbfile.get(column._basepos, stored)
            codes[:stored] = np.frombuffer(raw, dtype=np.uint8)
        return _BYTE_LENGTHS[codes]
    return np.array(
        [reader.doc_field_length(docnum, fieldname, 0) or 0 for docnum in range(count)],
        dtype=np.float64,
    )


class _PerDocument(Sequence[str]):
    """A facet field's value per document number, from its codes (no list of 100,000
    strings is made unless one is asked for)."""

    def __init__(self, values: list[str], codes: np.ndarray) -> None:
        self._values, self._codes = values, codes

    def __len__(self) -> int:
        return len(self._codes)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._values[code] for code in self._codes[index].tolist()]
        return self._values[int(self._codes[index])]

    def __iter__(self) -> Iterator[str]:
        return map(self._values.__getitem__, self._codes.tolist())


def _column_codes(reader: Any, fieldname: str, index: dict[bytes, int]) -> np.ndarray:
    """One segment's stored column values of ``fieldname`` as indices into ``index`` (value
    bytes -> number, extended as new values appear); documents without a value get b""."""
    count = reader.doc_count_all()
    if not reader.has_column(fieldname):
        return np.full(count, index.setdefault(b"", len(index)), dtype=np.int64)
    perdoc = getattr(reader, "_perdoc", None)
    column = None
    if perdoc is not None:
        column = perdoc.column_reader(fieldname, reader.schema[fieldname].column_type)
    lengths = getattr(column, "_lengths", None)
    offsets = getattr(column, "_offsets", None)
    if column is None or lengths is None or offsets is None or not hasattr(column, "_dbfile"):
        raw = reader.column_reader(fieldname, translate=False)
        values: Iterable[bytes] = (bytes(value or b"") for value in raw)
    else:
        sizes = np.asarray(lengths, dtype=np.int64)
        starts = np.asarray(offsets, dtype=np.int64)
        end = int((starts + sizes).max()) if len(sizes) else 0
        data = np.frombuffer(column._dbfile.get(column._basepos, end) if end else b"\0", np.uint8)
        # Every value as one fixed-width row of bytes (zero-padded; UTF-8 text has no zero
        # byte), grouped by np.unique: no Python step per document.
        width = max(1, int(sizes.max()) if len(sizes) else 1)
        spread = np.minimum(starts[:, None] + np.arange(width)[None, :], len(data) - 1)
        inside = np.arange(width)[None, :] < sizes[:, None]
        rows = np.ascontiguousarray(np.where(inside, data[spread], 0).astype(np.uint8))
        distinct, inverse = np.unique(
            rows.view(np.dtype((np.void, width))).ravel(), return_inverse=True
        )
        mapping = np.array(
            [index.setdefault(bytes(value).rstrip(b"\0"), len(index)) for value in distinct],
            dtype=np.int64,
        )
        return _padded(mapping[inverse.ravel()], count, index)
    found = np.fromiter((index.setdefault(value, len(index)) for value in values), dtype=np.int64)
    return _padded(found, count, index)


def _padded(found: np.ndarray, count: int, index: dict[bytes, int]) -> np.ndarray:
    """``found`` cut or extended to ``count`` documents (the missing ones valued b"")."""
    if len(found) < count:
        padding = np.full(count - len(found), index.setdefault(b"", len(index)), dtype=np.int64)
        found = np.concatenate((found, padding))
    return found[:count]


def _top(mask: np.ndarray, scores: np.ndarray, limit: int) -> list[tuple[float, int]]:
    """The ``limit`` best (score, document number) pairs: score descending, then document
    number ascending, as Whoosh's TopCollector orders them."""
    docs = np.flatnonzero(mask)
    if not len(docs) or limit <= 0:
        return []
    values = scores[docs]
    if len(docs) > limit:
        # Everything above the limit-th best score, then its ties in document order.
        threshold = np.partition(values, len(values) - limit)[len(values) - limit]
        above = values > threshold
        ties = np.flatnonzero(values == threshold)[: limit - int(above.sum())]
        chosen = np.concatenate((np.flatnonzero(above), ties))
        docs, values = docs[chosen], values[chosen]
    order = np.lexsort((docs, -values))[:limit]
    return [(float(values[i]), int(docs[i])) for i in order]


class _FacetCounter(collectors.WrappingCollector):
    """Counts every match and its facet values in the one pass that scores them."""

    def __init__(self, child: Any, values: Mapping[str, list[str]]) -> None:
        super().__init__(child)
        self.values = values
        self.total = 0
        self.counts: dict[str, dict[str, int]] = {name: {} for name in values}

    def collect(self, sub_docnum: int) -> Any:
        docnum = self.offset + sub_docnum
        self.total += 1
        for name, values in self.values.items():
            counts = self.counts[name]
            value = values[docnum]
            counts[value] = counts.get(value, 0) + 1
        return self.child.collect(sub_docnum)


class Engine:
    """A Whoosh index opened for searching; keep it open to keep the searcher (and its
    caches) warm across queries."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._whoosh = _open_whoosh(directory)
        self._searcher: Any = None
        self._facets: dict[str, list[str]] | None = None
        self._facet_codes: dict[str, tuple[list[str], np.ndarray]] | None = None
        self._vectorised: _Vectorised | None = None
        self._vectorised_unsupported = False
        self._frequencies: dict[tuple[str, str], int] = {}
        self._kanji_words: dict[str, dict[str, list[str]]] = {}
        self._kanji_best: dict[tuple[str, str], list[str]] = {}
        self._stored_fields: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def searcher(self) -> Any:
        if self._searcher is None:
            self._searcher = self._whoosh.searcher(weighting=_CachedLengthBM25F())
        return self._searcher

    def passage_labels(self) -> set[str]:
        """The passage labels some sheet of this index has (ア…カ, ①…⑧, 概要 …)."""
        return self._labels("p_")

    def answer_labels(self) -> set[str]:
        """The check items some sheet of this index answers (or may answer)."""
        return self._labels("ans_") | self._labels("cand_")

    def _labels(self, prefix: str) -> set[str]:
        with reading(self.directory):
            names = self.searcher().reader().indexed_field_names()
        return {label_of_code(name[len(prefix) :]) for name in names if name.startswith(prefix)}

    def facet_values(self) -> dict[str, list[str]]:
        """Each facet field's value per document number, read once per opened index."""
        if self._facets is None:
            # Read-only sequences (``_PerDocument``), typed as the lists they stand for.
            self._facets = cast(
                "dict[str, list[str]]",
                {
                    name: _PerDocument(values, codes)
                    for name, (values, codes) in self.facet_codes().items()
                },
            )
        return self._facets

    def execute(
        self,
        parsed: ParsedQuery,
        *,
        default_label: str | tuple[str, ...] | None = None,
        filters: Filters | None = None,
        limit: int = 10,
        ranking: Ranking = DEFAULT_RANKING,
        expansions: Expansions | None = None,
    ) -> QueryOutcome:
        """Run a parsed query: the top ``limit`` hits, the total and facet counts of all hits."""
        with reading(self.directory):
            return self._execute(
                parsed, default_label, filters or Filters(), limit, ranking, expansions or {}
            )

    def _execute(
        self,
        parsed: ParsedQuery,
        default_label: str | tuple[str, ...] | None,
        filters: Filters,
        limit: int,
        ranking: Ranking,
        expansions: Expansions,
    ) -> QueryOutcome:
        searcher = self.searcher()

        vocabulary = Vocabulary(self._doc_frequency, searcher.doc_count_all(), self._containing)
        labels = default_label if isinstance(default_label, tuple) else (default_label,)
        query = _any_of(
            [compile_query(parsed, label, ranking, expansions, vocabulary) for label in labels]
        )
        filter_query = compile_filter(filters)
        if filter_query is not None:
            # Inside the query (score 0, ranking unchanged), the filter's postings let the
            # intersection skip documents instead of matching them and dropping them afterwards.
            query = wq.And([query, wq.ConstantScoreQuery(filter_query, 0.0)])
        excluded = _any_of([_excluded(parsed, label) for label in labels])
        if VECTORISED:
            executor = self._executor()
            if executor is not None:
                try:
                    return self._execute_vectorised(executor, query, excluded, limit)
                except _Unsupported:
                    pass  # a node the executor does not know: Whoosh runs the query
        return self._execute_whoosh(query, excluded, limit)

    def kanji_words(self, kanji: str) -> Sequence[str]:
        """The two-kanji words the one-kanji query word ``kanji`` also matches (``_word_query``;
        the combined field's)."""
        with reading(self.directory):
            return self._containing(COMBINED_FIELD, kanji)

    def _containing(self, fieldname: str, kanji: str) -> Sequence[str]:
        """The ``KANJI_WORDS`` commonest two-kanji words of the field holding ``kanji``.

        The field's two-kanji words are gathered by one pass over each segment's term list
        the first time a field is asked (60 ms for the 12,000 terms of 大船渡's 407 sheets;
        it grows with the vocabulary, not with the number of sheets)."""
        words = self._kanji_words.get(fieldname)
        if words is None:
            found: dict[str, set[str]] = {}
            for sub, _ in self.searcher().leaf_searchers():
                for btext in sub.reader().lexicon(fieldname):
                    # Two CJK ideographs are six UTF-8 bytes starting with 0xE4-0xE9.
                    if len(btext) == 6 and 0xE4 <= btext[0] <= 0xE9 and 0xE4 <= btext[3] <= 0xE9:
                        text = btext.decode("utf-8")
                        if _is_kanji(text):
                            for char in text:
                                found.setdefault(char, set()).add(text)
            words = self._kanji_words[fieldname] = {
                char: sorted(texts) for char, texts in found.items()
            }
        key = (fieldname, kanji)
        best = self._kanji_best.get(key)
        if best is None:
            ranked = sorted(
                words.get(kanji, ()), key=lambda text: -self._doc_frequency(fieldname, text)
            )
            best = self._kanji_best[key] = ranked[:KANJI_WORDS]
        return best

    def _doc_frequency(self, fieldname: str, term: str) -> int:
        """Whoosh's doc_frequency, remembered: compiling a query asks it for every word and
        synonym in every field (a term-table lookup in each segment file, 40 % of a warm
        query's engine time)."""
        key = (fieldname, term)
        found = self._frequencies.get(key)
        if found is None:
            if len(self._frequencies) > FREQUENCY_CACHE_TERMS:
                self._frequencies.clear()
            found = self._frequencies[key] = self.searcher().doc_frequency(fieldname, term)
        return found

    def _stored(self, docnum: int) -> dict[str, Any]:
        """A hit's stored fields (a few recent ones kept: the same sheets come back)."""
        found = self._stored_fields.get(docnum)
        if found is None:
            found = dict(self.searcher().stored_fields(docnum))
            self._stored_fields[docnum] = found
            if len(self._stored_fields) > STORED_CACHE_DOCUMENTS:
                self._stored_fields.popitem(last=False)
        else:
            self._stored_fields.move_to_end(docnum)
        return dict(found)

    def _executor(self) -> _Vectorised | None:
        if self._vectorised is None and not self._vectorised_unsupported:
            try:
                self._vectorised = _Vectorised(self.searcher())
            except _Unsupported:
                self._vectorised_unsupported = True
        return self._vectorised

    def _execute_vectorised(
        self, executor: _Vectorised, query: Any, excluded: Any | None, limit: int
    ) -> QueryOutcome:
        mask, scores = executor.run(query, excluded)
        facets = {}
        for name, (values, codes) in self.facet_codes().items():
            counts = np.bincount(codes[mask], minlength=len(values))
            found = np.flatnonzero(counts)
            # Most frequent first, then by value, as the Whoosh path orders them.
            ordered = sorted((-int(counts[i]), values[i]) for i in found)
            facets[name] = {value: -count for count, value in ordered}
        hits = [RawHit(score, self._stored(docnum)) for score, docnum in _top(mask, scores, limit)]
        return QueryOutcome(int(np.count_nonzero(mask)), hits, facets)

    def facet_codes(self) -> dict[str, tuple[list[str], np.ndarray]]:
        """Each facet field as (distinct values, one value index per document number), read
        from each segment's column in one piece (Whoosh's column iterator read 300,000 values
        one file access at a time: 1.9 s of a cold search at 100,000 sheets)."""
        if self._facet_codes is None:
            leaves = [sub.reader() for sub, _ in self.searcher().leaf_searchers()]
            codes = {}
            for name in FACET_FIELDS:
                index: dict[bytes, int] = {}
                parts = [_column_codes(reader, name, index) for reader in leaves]
                codes[name] = (
                    [value.decode("utf-8") for value in index],
                    np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64),
                )
            self._facet_codes = codes
        return self._facet_codes

    def _execute_whoosh(self, query: Any, excluded: Any | None, limit: int) -> QueryOutcome:
        searcher = self.searcher()
        # No block-quality skipping and no matcher replacement: both drop matches that cannot
        # reach the top hits, and every match must be counted.
        collector: Any = _FacetCounter(
            collectors.TopCollector(limit=max(1, limit), usequality=False, replace=0),
            self.facet_values(),
        )
        if excluded is not None:
            # Not wq.AndNot: Whoosh's AndNotMatcher does not skip the excluded postings
            # forward, so the first match of each segment escaped the exclusion. The excluded
            # documents are collected as a set of numbers and refused before scoring.
            collector = collectors.FilterCollector(
                collector, restrict=set(searcher.docs_for_query(excluded))
            )
        searcher.search_with_collector(query, collector)
        counter = collector if isinstance(collector, _FacetCounter) else collector.child
        results = counter.results()
        facets = {
            name: dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
            for name, counts in counter.counts.items()
        }
        hits = [RawHit(hit.score, dict(hit.fields())) for hit in results[: max(0, limit)]]
        return QueryOutcome(counter.total, hits, facets)

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._facets = None
        self._facet_codes = None
        self._vectorised = None
        self._frequencies.clear()
        self._stored_fields.clear()


# --- parallel writing --------------------------------------------------------------------


class _BulkLengths:
    """A segment's per-document reader whose ``doc_field_length`` answers from each field's
    lengths read in one piece (the same values: Whoosh's one-byte lengths decoded)."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._fields: dict[str, list[int | None]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        lengths = self._fields.get(fieldname)
        if lengths is None:
            lengths = self._fields[fieldname] = self._read(fieldname, default)
        return lengths[docnum] if docnum < len(lengths) else default

    def _read(self, fieldname: str, default: int) -> list[int | None]:
        from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

        count = self._reader.doc_count_all()
        column = None
        if hasattr(self._reader, "_cached_reader"):
            column = self._reader._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            if column is None:
                return [default] * count
        if column is None or not hasattr(column, "_dbfile"):
            return [self._reader.doc_field_length(n, fieldname, default) for n in range(count)]
        stored = min(column._count, count)
        raw = column._dbfile.get(column._basepos, stored) if stored else b""
        # A zero byte reads as None, as W3PerDocReader.doc_field_length returns it.
        table: list[int | None] = [None, *(byte_to_length(code) for code in range(1, 256))]
        return [table[code] for code in raw] + [None] * (count - stored)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


SMALL_POSTING_LIST = 4
"""Posting lists shorter than this are written without zlib. Most terms of a segment have one
to three postings; zlib gained nothing on such a block but cost a fifth of writing a segment
(one compressor set up per term). Whoosh reads each block's compression from the block."""


def _add_postings(fields: Any, schema: Any, lengths: Any, items: Iterable[Any]) -> None:
    """Whoosh's ``FieldWriter.add_postings`` for the W3 codec, a term at a time: the same
    blocks, term infos and bytes as ``W3PostingsWriter`` writes them (tests/test_perf_build.py
    compares the files), made from each term's postings at once instead of through Whoosh's
    per-posting and per-block calls, which were half of writing a segment; short lists are
    written uncompressed (``SMALL_POSTING_LIST``)."""
    # Imported here: the rest of this module has no use for them.
    from itertools import groupby
    from operator import itemgetter

    current = None
    write_term: Callable[[bytes, list[Any]], None] | None = None
    for (fieldname, btext), group in groupby(items, key=itemgetter(0, 1)):
        postings = [posting for posting in group if posting[2] != -1]  # -1: spelling words
        if not postings:
            continue
        if fieldname != current:
            if current is not None:
                fields.finish_field()
            fields.start_field(fieldname, schema[fieldname])
            current = fieldname
            write_term = _term_writer(fields, fieldname, lengths.doc_field_length)
        assert write_term is not None
        write_term(btext, postings)
    if current is not None:
        fields.finish_field()


def _term_writer(
    fields: Any, fieldname: str, field_length: Callable[[int, str], int | None]
) -> Callable[[bytes, list[Any]], None]:
    """Writes one term's posting list of field ``fieldname`` as ``W3PostingsWriter`` does
    (``start_postings``, ``add_posting`` …, ``finish_postings``) and its term info row."""
    from array import array

    from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
    from whoosh.system import pack_int, pack_ushort
    from whoosh.util.numeric import length_to_byte

    writer = fields._postwriter
    if writer._byteids or writer._inlinelimit > 1:
        raise ValueError("Whoosh の投稿リストの形式が想定と違います")  # not this codec's W3
    postfile = writer._postfile.file
    limit, level = writer._blocklimit, writer._compression
    fixed = fields._format.fixed_value_size()
    prefix = pack_ushort(fields._fieldid)
    add_row = fields._tindex.add
    dumps, compress = pickle.dumps, zlib.compress

    def write(btext: bytes, postings: list[Any]) -> None:
        terminfo = W3TermInfo()
        start_offset = postfile.tell()
        count = len(postings)
        comp = level if count >= SMALL_POSTING_LIST else 0
        for first in range(0, count, limit):
            block = postings[first : first + limit]
            docnums = [posting[2] for posting in block]
            raw_weights = [posting[3] for posting in block]
            weights = array("f", raw_weights)  # as Whoosh buffers them: float32
            values = [posting[4] for posting in block if posting[4]]
            field_lengths = [n for n in (field_length(d, fieldname) for d in docnums) if n]
            min_length = min(field_lengths) if field_lengths else None
            max_length = max(field_lengths) if field_lengths else 0
            max_weight = max(0, max(raw_weights))
            if not first:
                postfile.write(WHOOSH3_HEADER_MAGIC)
            # W3TermInfo.add_block
            terminfo._weight += sum(weights)
            terminfo._df += len(block)
            if terminfo._minlength is None:
                terminfo._minlength = min_length
            else:
                terminfo._minlength = min(terminfo._minlength, min_length)
            terminfo._maxlength = max(terminfo._maxlength, max_length)
            terminfo._maxweight = max(terminfo._maxweight, max_weight)
            if terminfo._minid is None:
                terminfo._minid = docnums[0]
            terminfo._maxid = docnums[-1]
            # W3PostingsWriter._write_block: deltas, weights, values; then the block info
            deltas = tuple(b - a for a, b in zip([0, *docnums], docnums, strict=False))
            if all(weight == 1.0 for weight in weights):
                mini_weights: Any = None
            elif all(weight == weights[0] for weight in weights):
                mini_weights = weights[0]
            else:
                mini_weights = tuple(weights)
            if fixed is None or fixed < 0:
                mini_values: Any = tuple(values)
            elif fixed == 0:
                mini_values = None
            else:
                mini_values = b"".join(values)
            data = dumps((deltas, mini_weights, mini_values), 2)
            if comp:
                data = compress(data, comp)
            info = dumps(
                (
                    len(block),
                    docnums[-1],
                    max_weight,
                    comp,
                    length_to_byte(min_length),
                    length_to_byte(max_length),
                ),
                2,
            )
            size = len(info) + len(data)
            postfile.write(pack_int(-size if first + limit >= count else size))
            postfile.write(info)
            postfile.write(data)
        terminfo.set_extent(start_offset, postfile.tell() - start_offset)
        add_row(prefix + btext, terminfo.to_bytes())

    return write


class SegmentSink:
    """Writes documents into one new segment of an index, without taking the index lock.

    Each indexing worker process owns one sink (the parent holds the lock and later adds the
    finished segments to the index with ``commit_segments``): documents are indexed where
    they were analysed, so they are never pickled between processes.
    """

    def __init__(self, directory: Path) -> None:
        self._writer = SegmentWriter(_open_whoosh(directory), _lk=False, limitmb=WRITER_LIMIT_MB)
        self._count = 0

    def add(self, record: SheetRecord, analyzed: Mapping[str, Sequence[Term]]) -> None:
        self._writer.add_document(**document(record, analyzed))
        self._count += 1

    def finish(self) -> Any:
        """The finished segment (picklable), or None when nothing was added."""
        writer = self._writer
        if not self._count:
            writer.cancel()
            return None
        # Whoosh asks the field length of every posting's document while it writes the
        # postings (per posting, through the column file: a third of this step's time);
        # _BulkLengths reads each field's lengths once.
        per_document_reader = writer.per_document_reader
        writer.per_document_reader = lambda: _BulkLengths(per_document_reader())
        fields = writer.fieldwriter
        fields.add_postings = lambda schema, lengths, items: _add_postings(
            fields, schema, lengths, items
        )
        # Not writer._finish(): it would delete the temporary run directory that all the
        # sinks of this index share; commit_segments' writer removes it at the end.
        return writer._finalize_segment()

    def cancel(self) -> None:
        self._writer.cancel()


def commit_segments(directory: Path, delete_keys: Iterable[str], segments: Iterable[Any]) -> None:
    """Delete ``delete_keys`` from the existing segments, then add the new ``segments``."""
    ix = _open_whoosh(directory)
    writer = ix.writer()
    try:
        for key in delete_keys:
            writer.delete_by_term("key", key)
        # Merge small old segments as Whoosh's default policy does; the new ones join as is.
        final = writer._merge_segments(None, False, True)
        if writer._added:
            final.append(writer._finalize_segment())
        else:
            writer._close_segment()
        final.extend(segment for segment in segments if segment is not None)
        writer._commit_toc(final)
        writer._finish()
    except BaseException:
        writer.cancel()
        raise
    finally:
        ix.close()
