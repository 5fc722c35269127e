"""Whoosh adapter: the schema, documents, the on-disk layout, opening and version checks.

This is the only module that imports whoosh, so the engine can be swapped behind it.

An index directory holds::

    manifest.json   schema version, Sudachi dictionary version, indexed files and their hashes
    whoosh/         the Whoosh index (one document per sheet, unique key ``id``)
    records.jsonl   every indexed record (SheetRecord JSON form), for show/similar/report
    terms.jsonl     every record's analysed passages, so an incremental run re-analyses nothing
    (similarity)    whatever ``SimilarityModel.save`` writes

Terms are analysed once per indexing run (``evalsearch.analysis.analyze``) and handed to
Whoosh pre-analysed: ``PreAnalyzedText`` fields take a ``TokenStream`` instead of text.
``index_tokens`` adds the sub-compound terms that let a query compound match inside a longer
compound with one term lookup. Indexing runs in worker processes (``SegmentSink``, one
segment each); ``commit_segments`` adds their segments to the index.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import shutil
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh import collectors, scoring
from whoosh import fields as wfields
from whoosh import index as windex
from whoosh import query as wq
from whoosh.analysis import Token, Tokenizer
from whoosh.writing import SegmentWriter

from evalsearch.analysis import Term, analyze, dictionary_version
from evalsearch.errors import (
    EvalSearchError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    project_not_found,
    rebuild_hint,
)
from evalsearch.records import ITEM_LABELS, PASSAGE_LABELS, SheetRecord

if TYPE_CHECKING:
    from evalsearch.analysis import QueryWord as QueryWordLike
    from evalsearch.search import Clause as ClauseLike
    from evalsearch.search import ParsedQuery as ParsedQueryLike

SCHEMA_VERSION = 3
"""Bump whenever the schema, the on-disk layout or the analysis rules change."""

MANIFEST = "manifest.json"
WHOOSH_DIR = "whoosh"
RECORDS_FILE = "records.jsonl"
TERMS_FILE = "terms.jsonl"

ITEM_FIELD_SUFFIX: dict[str, str] = {
    "ア": "a",
    "イ": "i",
    "ウ": "u",
    "エ": "e",
    "オ": "o",
    "カ": "ka",
}
"""ASCII stand-ins for ア–カ in Whoosh field names (stable on disk)."""

PASSAGE_FIELDS: dict[str, str] = {
    **{item: f"p_{suffix}" for item, suffix in ITEM_FIELD_SUFFIX.items()},
    "見直し": "p_review",
    "動向": "p_outlook",
    "活動": "p_activities",
    "意図": "p_intent",
    "事業名": "p_name",
}
"""Passage label (records.PASSAGE_LABELS) -> Whoosh field name (ASCII, stable on disk)."""

COMBINED_FIELD = "text"
"""Every passage in one field: the default search field."""

ANSWER_FIELDS: dict[str, str] = {
    item: f"ans_{suffix}" for item, suffix in ITEM_FIELD_SUFFIX.items()
}

PASSAGE_GAP = 100
"""Positions left between passages in the combined field so a phrase never spans two."""

WRITER_LIMIT_MB = 256
"""Whoosh pool memory per writer before it spills a sorted run to disk. Measured at 10,000
sheets on 2 cores (bench/run.py): 768 MB gave 268 sheets/s at 1,894 MB peak RSS, 256 MB gives
219 sheets/s at 1,627 MB. Spilling costs speed, but the memory target (2 GiB) is the tighter one."""

TERM_SEPARATOR = "\x1f"

StoredTerms = tuple[tuple[str, int, int, int, bool], ...]
"""A passage's terms as plain tuples (text, position, start, end, is_part), stored as JSON."""


def default_index_dir() -> Path:
    """``$EVALSEARCH_INDEX`` or ``./index``."""
    import os

    return Path(os.environ.get("EVALSEARCH_INDEX") or "index")


# --- Whoosh adaptation -------------------------------------------------------------------


class SudachiTokenizer(Tokenizer):
    """Whoosh tokenizer over ``evalsearch.analysis.analyze`` (for text given as a string).

    Whoosh pickles the schema, analyzer included, into the index: this class keeps no state,
    and the Sudachi tokenizer itself lives (lazily built, one per process) in analysis.py.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SudachiTokenizer)

    def __hash__(self) -> int:
        return hash(type(self))

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        pass

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for text, position in index_tokens(analyze(value), start_pos):
            token.text = text
            token.boost = 1.0
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = position
            yield token


class TokenStream(list):  # type: ignore[type-arg]
    """Pre-analysed field content: (term text, Whoosh position) pairs."""


class PreAnalyzedText(wfields.TEXT):
    """A TEXT field that indexes a ``TokenStream`` as is, without running the analyzer."""

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if not isinstance(value, TokenStream):
            yield from super().index(value, **kwargs)
            return
        positions: dict[str, list[int]] = {}
        for text, position in value:
            positions.setdefault(text, []).append(position)
        encode = self.format.encode
        boost = self.format.field_boost
        for text, poslist in positions.items():
            poslist.sort()
            yield text.encode("utf-8"), len(poslist), len(poslist) * boost, encode(poslist)


SUBCOMPOUND_MARK = "\x02"
"""Prefix of sub-compound terms (see ``index_tokens``); no analysed text contains it."""


def subcompound_term(parts: Sequence[str]) -> str:
    """The index term standing for mode-A ``parts`` in a row inside one compound."""
    return SUBCOMPOUND_MARK + "".join(parts)


def index_tokens(
    terms: Iterable[Term] | Iterable[tuple[str, int, int, int, bool]], base: int = 0
) -> list[tuple[str, int]]:
    """(index term, Whoosh position) pairs of analysed terms: the Sudachi "search mode".

    Every compound, its mode-A parts and its sub-compounds share the compound's position
    (``Term.position``), so phrases and adjacency work on whole words. A sub-compound term
    stands for each run of two or more parts (技能実習生 -> 技能実習, 実習生, 技能実習生): the
    query 実習生 then matches inside 技能実習生 with one term lookup instead of a phrase of
    parts, which pure-Python Whoosh evaluates too slowly (~100 ms at 10,000 sheets).
    Takes Terms or their packed tuples (text, position, start, end, is_part).
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

    for term in terms:
        if isinstance(term, tuple):
            text, position, is_part = term[0], term[1], term[4]
        else:
            text, position, is_part = term.text, term.position, term.is_part
        if is_part:
            parts.append(text)
        else:
            flush()
            compound_position = base + position
        out.append((text, base + position))
    flush()
    return out


def make_schema() -> wfields.Schema:
    analyzer = SudachiTokenizer()
    schema_fields: dict[str, Any] = {
        "id": wfields.ID(unique=True, stored=True),
        "project_no": wfields.ID(stored=True),
        "fiscal_year": wfields.ID(stored=True),
        "department": wfields.ID(stored=True, sortable=True),
        "policy_area": wfields.ID(stored=True),
        "decision": wfields.ID(stored=True, sortable=True),
        "measures": wfields.KEYWORD(stored=True, commas=True),
        "total_cost": wfields.NUMERIC(float, stored=True),
        "doc": wfields.STORED(),
        COMBINED_FIELD: PreAnalyzedText(analyzer=analyzer, stored=False),
    }
    for name in PASSAGE_FIELDS.values():
        schema_fields[name] = PreAnalyzedText(analyzer=analyzer, stored=False)
    for name in ANSWER_FIELDS.values():
        schema_fields[name] = wfields.ID(stored=True)
    return wfields.Schema(**schema_fields)


def document(
    record: SheetRecord,
    analyzed: Mapping[str, Sequence[Term]] | Mapping[str, StoredTerms],
) -> dict[str, Any]:
    """The Whoosh document of one sheet from its already analysed (or packed) passages."""
    passages = record.passages()
    doc: dict[str, Any] = {
        "id": record.id,
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
                label: TERM_SEPARATOR.join(sorted({_text(term) for term in terms}))
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
    for label in PASSAGE_LABELS:
        terms = analyzed.get(label) or ()
        if not terms:
            continue
        doc[PASSAGE_FIELDS[label]] = TokenStream(index_tokens(terms))
        stream = index_tokens(terms, base)
        combined.extend(stream)
        base = stream[-1][1] + PASSAGE_GAP
    if combined:
        doc[COMBINED_FIELD] = combined
    for label in ITEM_LABELS:
        assessment = record.assessments.get(label)
        if assessment is not None and assessment.answer:
            doc[ANSWER_FIELDS[label]] = assessment.answer
    return doc


def _text(term: Term | tuple[str, int, int, int, bool]) -> str:
    return term[0] if isinstance(term, tuple) else term.text


# --- the store beside the Whoosh index ---------------------------------------------------


def pack_terms(analyzed: Mapping[str, Sequence[Term]]) -> dict[str, StoredTerms]:
    return {
        label: tuple((t.text, t.position, t.start, t.end, t.is_part) for t in terms)
        for label, terms in analyzed.items()
    }


_new = object.__new__
_SET_TEXT = Term.text.__set__  # type: ignore[attr-defined]
_SET_POSITION = Term.position.__set__  # type: ignore[attr-defined]
_SET_START = Term.start.__set__  # type: ignore[attr-defined]
_SET_END = Term.end.__set__  # type: ignore[attr-defined]
_SET_IS_PART = Term.is_part.__set__  # type: ignore[attr-defined]


def _unpack(items: StoredTerms) -> list[Term]:
    # Millions of Terms are rebuilt for every similarity fit; filling the slots directly is
    # 3x faster than the frozen dataclass __init__ (same objects, same equality).
    out = []
    append = out.append
    for text, position, start, end, is_part in items:
        term = _new(Term)
        _SET_TEXT(term, text)
        _SET_POSITION(term, position)
        _SET_START(term, start)
        _SET_END(term, end)
        _SET_IS_PART(term, is_part)
        append(term)
    return out


def unpack_terms(packed: Mapping[str, StoredTerms]) -> dict[str, list[Term]]:
    return {label: _unpack(items) for label, items in packed.items()}


def write_store(
    directory: Path,
    records: Sequence[SheetRecord],
    packed_terms: Sequence[Mapping[str, StoredTerms]],
) -> None:
    with (directory / RECORDS_FILE).open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.to_dict(), ensure_ascii=False))
            out.write("\n")
    # JSON, not pickle, for our own store. (Whoosh's own files are pickles: open only indexes
    # this tool built.)
    with (directory / TERMS_FILE).open("w", encoding="utf-8") as out:
        for record, terms in zip(records, packed_terms, strict=True):
            out.write(json.dumps([record.id, terms], ensure_ascii=False, separators=(",", ":")))
            out.write("\n")


def read_packed_terms(directory: Path) -> dict[str, dict[str, StoredTerms]]:
    packed: dict[str, dict[str, StoredTerms]] = {}
    try:
        with (directory / TERMS_FILE).open(encoding="utf-8") as handle:
            for line in handle:
                record_id, terms = json.loads(line)
                packed[record_id] = {
                    label: tuple(
                        (text, position, start, end, bool(part))
                        for text, position, start, end, part in items
                    )
                    for label, items in terms.items()
                }
    except (OSError, ValueError, TypeError) as error:
        raise _corrupt(directory, f"{TERMS_FILE}: {error}") from error
    return packed


# --- opening -----------------------------------------------------------------------------


def _corrupt(directory: Path, detail: str) -> IndexCorruptError:
    return IndexCorruptError(
        f"索引 {directory} が壊れているため読み込めません（{detail}）。{rebuild_hint(directory)}"
    )


def has_content(directory: Path) -> bool:
    """Whether ``directory`` holds anything but dotfiles (the repository's index/.gitkeep)."""
    return directory.is_dir() and any(not p.name.startswith(".") for p in directory.iterdir())


def is_index_dir(directory: Path) -> bool:
    return (directory / MANIFEST).exists() or (directory / WHOOSH_DIR).is_dir()


def check_index_location(directory: Path) -> None:
    """Refuse a path that is a file or a folder of other things: an index run would replace it."""
    if directory.exists() and not directory.is_dir():
        raise EvalSearchError(
            f"{directory} はディレクトリではありません。索引用の別のパスを --index に指定してください。"
        )
    if has_content(directory) and not is_index_dir(directory):
        raise EvalSearchError(
            f"{directory} は evalsearch の索引ではないため使えません（置き換えもしません）。"
            "空のディレクトリか新しいパスを --index に指定してください。"
        )


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of the index at ``directory``, after every version check."""
    directory = Path(directory)
    check_index_location(directory)
    path = directory / MANIFEST
    if not path.exists():
        if has_content(directory):
            raise _corrupt(directory, f"{MANIFEST} がありません")
        raise IndexNotFoundError(
            f"索引 {directory} が見つかりません。"
            f"`evalsearch index PATH... --index {directory}` で作成してください。"
        )
    try:
        manifest = json.loads(path.read_text("utf-8"))
        schema_version = manifest["schema_version"]
        built_with = manifest["dictionary_version"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _corrupt(directory, f"{MANIFEST}: {error}") from error
    if schema_version != SCHEMA_VERSION:
        raise IndexVersionError(
            f"索引 {directory} は別の形式（スキーマ版 {schema_version}、"
            f"このバージョンは {SCHEMA_VERSION}）で作られています。{rebuild_hint(directory)}"
        )
    current = dictionary_version()
    if built_with != current:
        raise IndexVersionError(
            f"索引 {directory} は別の Sudachi 辞書（{built_with}）で作られています"
            f"（現在は {current}）。{rebuild_hint(directory)}"
        )
    return manifest


def write_manifest(directory: Path, manifest: Mapping[str, Any]) -> None:
    (directory / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), "utf-8"
    )


def new_manifest(files: Mapping[str, Any], record_count: int) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "dictionary_version": dictionary_version(),
        "files": dict(files),
        "records": record_count,
    }


def create_whoosh(directory: Path) -> Any:
    (directory / WHOOSH_DIR).mkdir(parents=True, exist_ok=True)
    return windex.create_in(str(directory / WHOOSH_DIR), make_schema())


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
        raise _corrupt(directory, f"{type(error).__name__}: {error}") from error


def open_whoosh(directory: Path) -> Any:
    try:
        return windex.open_dir(str(directory / WHOOSH_DIR))
    except Exception as error:  # Whoosh raises many kinds (EmptyIndexError, EOFError, ...)
        raise _corrupt(directory, f"{WHOOSH_DIR}/: {type(error).__name__}: {error}") from error


def copy_whoosh(source: Path, target: Path) -> None:
    shutil.copytree(source / WHOOSH_DIR, target / WHOOSH_DIR)


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


@dataclass
class OpenedIndex:
    """An index opened for searching; keep it to keep the searcher (and its caches) warm."""

    path: Path
    manifest: dict[str, Any]
    whoosh: Any
    _searcher: Any = field(default=None, repr=False)
    _facets: dict[str, list[str]] | None = field(default=None, repr=False)

    def searcher(self) -> Any:
        if self._searcher is None:
            self._searcher = self.whoosh.searcher(weighting=_CachedLengthBM25F())
        return self._searcher

    def facet_values(self) -> dict[str, list[str]]:
        """Each facet field's value per document number, read once per opened index."""
        if self._facets is None:
            reader = self.searcher().reader()
            facets = {}
            for name in FACET_FIELDS:
                column = reader.column_reader(name)
                facets[name] = [
                    value.decode("utf-8") if isinstance(value, bytes) else (value or "")
                    for value in column
                ]
            self._facets = facets
        return self._facets

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._facets = None

    def __enter__(self) -> OpenedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_index(index_dir: str | Path | None = None) -> OpenedIndex:
    """Open the index at ``index_dir`` (default: ``default_index_dir()``) for searching.

    Raises IndexNotFoundError, IndexVersionError or IndexCorruptError with a message that
    tells the user to rebuild.
    """
    directory = Path(index_dir) if index_dir is not None else default_index_dir()
    manifest = read_manifest(directory)
    ix = open_whoosh(directory)
    try:
        names = set(ix.schema.names())
    except Exception as error:
        raise _corrupt(directory, str(error)) from error
    expected = set(make_schema().names())
    if names != expected:
        raise IndexVersionError(
            f"索引 {directory} のフィールド構成が現在のものと違います。{rebuild_hint(directory)}"
        )
    return OpenedIndex(directory, manifest, ix)


def iter_records(index_dir: str | Path | None = None) -> Iterator[SheetRecord]:
    directory = Path(index_dir) if index_dir is not None else default_index_dir()
    read_manifest(directory)
    path = directory / RECORDS_FILE
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    yield SheetRecord.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError) as error:
                    raise _corrupt(directory, f"{RECORDS_FILE} {number}行目: {error}") from error
    except OSError as error:
        raise _corrupt(directory, f"{RECORDS_FILE}: {error}") from error


def load_records(index_dir: str | Path | None = None) -> list[SheetRecord]:
    """Every record of the index, in indexing order."""
    return list(iter_records(index_dir))


def load_analyzed(
    index_dir: str | Path | None, records: Sequence[SheetRecord]
) -> list[dict[str, list[Term]]]:
    """The analysed passages of ``records`` (aligned), as stored at indexing time."""
    directory = Path(index_dir) if index_dir is not None else default_index_dir()
    packed = read_packed_terms(directory)
    try:
        return [unpack_terms(packed[record.id]) for record in records]
    except KeyError as error:
        raise _corrupt(directory, f"{TERMS_FILE}: {error} の語がありません") from error


def select_records(
    records: Iterable[SheetRecord], project: str, year: int | None = None
) -> list[SheetRecord]:
    """Records whose project_no or id is ``project`` (optionally of fiscal ``year``)."""
    project = project.strip()
    return [
        record
        for record in records
        if project in (record.project_no, record.id)
        and (year is None or record.fiscal_year == year)
    ]


def find_records(
    index_dir: str | Path | None, project: str, year: int | None = None
) -> list[SheetRecord]:
    """Sheets of ``project`` (a project_no or an id), newest year first.

    Raises ProjectNotFoundError when none matches.
    """
    found = select_records(iter_records(index_dir), project, year)
    if not found:
        raise project_not_found(project, year)
    return sorted(found, key=lambda record: record.fiscal_year, reverse=True)


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


FACET_FIELDS: tuple[str, ...] = ("department", "decision")

NAME_BOOST = 2.0
"""Extra weight of a match in 事業名 when searching every passage (BM25F-style field boost)."""


def _word_query(fieldname: str, word: QueryWordLike) -> Any:
    term = wq.Term(fieldname, word.term)
    if not word.parts:
        return term
    # C-term OR A-phrase: 実習生 matches 実習生 itself and its parts 実習 生 in a row inside a
    # compound (技能実習生), looked up as one sub-compound term (see index_tokens). The exact
    # compound matches both and so ranks first.
    return wq.Or([term, wq.Term(fieldname, subcompound_term(word.parts))])


def _clause_query(clause: ClauseLike, default_field: str) -> Any:
    fieldname = PASSAGE_FIELDS[clause.field] if clause.field else default_field
    words = [_word_query(fieldname, word) for word in clause.words]
    if len(words) == 1:
        return words[0]
    sequence = wq.Sequence(words, slop=1)
    if clause.phrase:
        return sequence
    # Every content word is required; the words in a row (a phrase) rank higher.
    return wq.AndMaybe(wq.And(words), sequence)


def build_query(parsed: ParsedQueryLike, default_label: str | None = None) -> Any:
    """The Whoosh query of a parsed query (see evalsearch.search.parse_query)."""
    default_field = PASSAGE_FIELDS[default_label] if default_label else COMBINED_FIELD
    groups = []
    boosts = []
    for alternatives in parsed.required:
        options = [_clause_query(clause, default_field) for clause in alternatives]
        groups.append(options[0] if len(options) == 1 else wq.Or(options))
        if default_label is None:
            boosts.extend(
                _clause_query(clause, PASSAGE_FIELDS["事業名"])
                for clause in alternatives
                if clause.field is None
            )
    main: Any = wq.And(groups) if len(groups) > 1 else (groups[0] if groups else wq.Every())
    if boosts:
        main = wq.AndMaybe(main, wq.Or(boosts, boost=NAME_BOOST))
    if parsed.excluded:
        main = wq.AndNot(main, wq.Or([_clause_query(c, default_field) for c in parsed.excluded]))
    return main


def build_filter(
    *,
    year: int | None = None,
    department: str | None = None,
    decision: str | None = None,
    measure: str | None = None,
    answers: Mapping[str, str] | None = None,
) -> Any:
    terms = []
    if year is not None:
        terms.append(wq.Term("fiscal_year", str(year)))
    if department:
        terms.append(wq.Term("department", department))
    if decision:
        terms.append(wq.Term("decision", decision))
    if measure:
        terms.append(wq.Term("measures", measure))
    for label, answer in (answers or {}).items():
        terms.append(wq.Term(ANSWER_FIELDS[label], answer))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else wq.And(terms)


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


def execute(
    opened: OpenedIndex,
    parsed: ParsedQueryLike,
    *,
    default_label: str | None = None,
    filters: Mapping[str, Any] | None = None,
    limit: int = 10,
) -> QueryOutcome:
    """Run a parsed query: the top ``limit`` hits, the total and facet counts of all hits."""
    with reading(opened.path):
        return _execute(opened, parsed, default_label, filters, limit)


def _execute(
    opened: OpenedIndex,
    parsed: ParsedQueryLike,
    default_label: str | None,
    filters: Mapping[str, Any] | None,
    limit: int,
) -> QueryOutcome:
    searcher = opened.searcher()
    query = build_query(parsed, default_label)
    filter_query = build_filter(**(filters or {}))
    if filter_query is not None:
        # Inside the query (score 0, ranking unchanged), the filter's postings let the
        # intersection skip documents instead of matching them and dropping them afterwards.
        query = wq.And([query, wq.ConstantScoreQuery(filter_query, 0.0)])

    # No block-quality skipping and no matcher replacement: both drop matches that cannot
    # reach the top hits, and every match must be counted.
    counter = _FacetCounter(
        collectors.TopCollector(limit=max(1, limit), usequality=False, replace=0),
        opened.facet_values(),
    )
    searcher.search_with_collector(query, counter)
    results = counter.results()
    facets = {
        name: dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        for name, counts in counter.counts.items()
    }
    hits = [RawHit(hit.score, dict(hit.fields())) for hit in results[: max(0, limit)]]
    return QueryOutcome(counter.total, hits, facets)


# --- parallel writing --------------------------------------------------------------------


class SegmentSink:
    """Writes documents into one new segment of an index, without taking the index lock.

    Each indexing worker process owns one sink (the parent holds the lock and later adds the
    finished segments to the index with ``commit_segments``): documents are indexed where
    they were analysed, so they are never pickled between processes.
    """

    def __init__(self, directory: Path) -> None:
        self._writer = SegmentWriter(open_whoosh(directory), _lk=False, limitmb=WRITER_LIMIT_MB)
        self._count = 0

    def add(
        self,
        record: SheetRecord,
        analyzed: Mapping[str, Sequence[Term]] | Mapping[str, StoredTerms],
    ) -> None:
        self._writer.add_document(**document(record, analyzed))
        self._count += 1

    def finish(self) -> Any:
        """The finished segment (picklable), or None when nothing was added."""
        writer = self._writer
        if not self._count:
            writer.cancel()
            return None
        # Not writer._finish(): it would delete the temporary run directory that all the
        # sinks of this index share; commit_segments' writer removes it at the end.
        return writer._finalize_segment()

    def cancel(self) -> None:
        self._writer.cancel()


def commit_segments(directory: Path, delete_ids: Iterable[str], segments: Iterable[Any]) -> None:
    """Delete ``delete_ids`` from the existing segments, then add the new ``segments``."""
    ix = open_whoosh(directory)
    writer = ix.writer()
    try:
        for rid in delete_ids:
            writer.delete_by_term("id", rid)
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
