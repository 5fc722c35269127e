"""Whoosh adapter: the schema, documents, the on-disk layout, opening and version checks.

This is the only module that imports whoosh, so the engine can be swapped behind it.

An index directory holds::

    manifest.json   schema version, Sudachi dictionary version, indexed files and their hashes
    whoosh/         the Whoosh index (one document per sheet, unique key ``id``)
    records.jsonl   every indexed record (SheetRecord JSON form), for show/similar/report
    terms.pkl       every record's analysed passages, so an incremental run re-analyses nothing
    (similarity)    whatever ``SimilarityModel.save`` writes

Terms are analysed once per indexing run (``evalsearch.analysis.analyze``) and handed to
Whoosh pre-analysed: ``PreAnalyzedText`` fields take a ``TokenStream`` instead of text.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh import fields as wfields
from whoosh import index as windex
from whoosh.analysis import Token, Tokenizer

from evalsearch.analysis import Term, analyze, dictionary_version
from evalsearch.errors import (
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    ProjectNotFoundError,
)
from evalsearch.records import ITEM_LABELS, PASSAGE_LABELS, SheetRecord

if TYPE_CHECKING:
    from evalsearch.analysis import QueryWord as QueryWordLike
    from evalsearch.search import Clause as ClauseLike
    from evalsearch.search import ParsedQuery as ParsedQueryLike

SCHEMA_VERSION = 1
"""Bump whenever the schema, the on-disk layout or the analysis rules change."""

MANIFEST = "manifest.json"
WHOOSH_DIR = "whoosh"
RECORDS_FILE = "records.jsonl"
TERMS_FILE = "terms.pkl"

PASSAGE_FIELDS: dict[str, str] = {
    "ア": "p_a",
    "イ": "p_i",
    "ウ": "p_u",
    "エ": "p_e",
    "オ": "p_o",
    "カ": "p_ka",
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
    "ア": "ans_a",
    "イ": "ans_i",
    "ウ": "ans_u",
    "エ": "ans_e",
    "オ": "ans_o",
    "カ": "ans_ka",
}

PASSAGE_GAP = 100
"""Positions left between passages in the combined field so a phrase never spans two."""

TERM_SEPARATOR = "\x1f"

StoredTerms = tuple[tuple[str, int, int, int, bool], ...]
"""A passage's terms as plain tuples (text, position, start, end, is_part) for pickling."""


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
        for text, position in whoosh_positions(analyze(value), start_pos):
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


def whoosh_positions(
    terms: Iterable[Term] | Iterable[tuple[str, int, int, int, bool]], base: int = 0
) -> list[tuple[str, int]]:
    """Term texts with Whoosh positions: a compound at its first part, the parts in a row.

    ``Term.position`` gives the parts their compound's position; Whoosh phrases need the
    parts of 技能実習生 at consecutive positions (技能 p, 実習 p+1, 生 p+2) so that the phrase
    実習 生 matches inside it, and the next word after the last part (p+3). Takes Terms or
    their packed tuples (text, position, start, end, is_part).
    """
    out: list[tuple[str, int]] = []
    next_position = base
    compound_position = base
    part_index = 0
    for term in terms:
        text, is_part = (term[0], term[4]) if isinstance(term, tuple) else (term.text, term.is_part)
        if is_part:
            position = compound_position + part_index
            part_index += 1
            next_position = max(next_position, position + 1)
        else:
            compound_position = position = next_position
            part_index = 0
            next_position = position + 1
        out.append((text, position))
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
        doc[PASSAGE_FIELDS[label]] = TokenStream(whoosh_positions(terms))
        stream = whoosh_positions(terms, base)
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
    with (directory / TERMS_FILE).open("wb") as out:
        pickle.dump(
            {record.id: terms for record, terms in zip(records, packed_terms, strict=True)},
            out,
            protocol=pickle.HIGHEST_PROTOCOL,
        )


def read_packed_terms(directory: Path) -> dict[str, dict[str, StoredTerms]]:
    try:
        with (directory / TERMS_FILE).open("rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as error:
        raise _corrupt(directory, f"{TERMS_FILE}: {error}") from error


# --- opening -----------------------------------------------------------------------------


def _rebuild_hint(directory: Path) -> str:
    return f"`evalsearch index PATH... --index {directory} --rebuild` で索引を作り直してください。"


def _corrupt(directory: Path, detail: str) -> IndexCorruptError:
    return IndexCorruptError(
        f"索引 {directory} が壊れているため読み込めません（{detail}）。{_rebuild_hint(directory)}"
    )


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of the index at ``directory``, after every version check."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.exists():
        if directory.is_dir() and any(not p.name.startswith(".") for p in directory.iterdir()):
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
            f"このバージョンは {SCHEMA_VERSION}）で作られています。{_rebuild_hint(directory)}"
        )
    current = dictionary_version()
    if built_with != current:
        raise IndexVersionError(
            f"索引 {directory} は別の Sudachi 辞書（{built_with}）で作られています"
            f"（現在は {current}）。{_rebuild_hint(directory)}"
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


def open_whoosh(directory: Path) -> Any:
    try:
        return windex.open_dir(str(directory / WHOOSH_DIR))
    except Exception as error:  # Whoosh raises many kinds (EmptyIndexError, EOFError, ...)
        raise _corrupt(directory, f"{WHOOSH_DIR}/: {type(error).__name__}: {error}") from error


def copy_whoosh(source: Path, target: Path) -> None:
    shutil.copytree(source / WHOOSH_DIR, target / WHOOSH_DIR)


@dataclass
class OpenedIndex:
    """An index opened for searching; keep it to keep the searcher (and its caches) warm."""

    path: Path
    manifest: dict[str, Any]
    whoosh: Any
    _searcher: Any = field(default=None, repr=False)

    def searcher(self) -> Any:
        if self._searcher is None:
            from whoosh import scoring

            self._searcher = self.whoosh.searcher(weighting=scoring.BM25F())
        return self._searcher

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

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
            f"索引 {directory} のフィールド構成が現在のものと違います。{_rebuild_hint(directory)}"
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
        where = f"{year}年度の" if year is not None else ""
        raise ProjectNotFoundError(
            f"{where}事業 {project} は索引にありません。事業番号（例: 12276）"
            "または ID（例: 2023-12276）を指定してください。"
        )
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
    from whoosh import query as wq

    term = wq.Term(fieldname, word.term)
    if not word.parts:
        return term
    # C-term OR A-phrase: 実習生 matches 実習生 itself and the parts 実習 生 inside 技能実習生.
    return wq.Or([term, wq.Phrase(fieldname, list(word.parts))])


def _clause_query(clause: ClauseLike, default_field: str) -> Any:
    from whoosh import query as wq

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
    from whoosh import query as wq

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
    from whoosh import query as wq

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


def execute(
    opened: OpenedIndex,
    parsed: ParsedQueryLike,
    *,
    default_label: str | None = None,
    filters: Mapping[str, Any] | None = None,
    limit: int = 10,
) -> QueryOutcome:
    """Run a parsed query: the top ``limit`` hits, the total and facet counts of all hits."""
    searcher = opened.searcher()
    query = build_query(parsed, default_label)
    filter_query = build_filter(**(filters or {}))
    results = searcher.search(query, limit=max(1, limit), filter=filter_query, terms=False)
    # Every match, for the total and the facets. Not results.docs(): with Whoosh's block-quality
    # skipping it re-runs the query *without* the filter.
    from whoosh import query as wq

    everything = wq.And([query, filter_query]) if filter_query is not None else query
    matched = set(searcher.docs_for_query(everything))
    reader = searcher.reader()
    facets: dict[str, dict[str, int]] = {}
    for name in FACET_FIELDS:
        column = reader.column_reader(name)
        counts: dict[str, int] = {}
        for docnum in matched:
            value = column[docnum]
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            counts[value] = counts.get(value, 0) + 1
        facets[name] = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    hits = [RawHit(hit.score, dict(hit.fields())) for hit in results[: max(0, limit)]]
    return QueryOutcome(len(matched), hits, facets)


# --- parallel writing --------------------------------------------------------------------


class SegmentSink:
    """Writes documents into one new segment of an index, without taking the index lock.

    Each indexing worker process owns one sink (the parent holds the lock and later adds the
    finished segments to the index with ``commit_segments``): documents are indexed where
    they were analysed, so they are never pickled between processes.
    """

    def __init__(self, directory: Path) -> None:
        from whoosh.writing import SegmentWriter

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


WRITER_LIMIT_MB = 768
"""Whoosh pool memory per writer before it spills a sorted run to disk. Spilling pickles every
posting twice (~40% of the indexing time): 768 keeps ~4M postings (~5,000 sheets) in memory."""


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
