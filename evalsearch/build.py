"""``evalsearch index``: parse dumps, analyse every passage once, write the index atomically.

A run works on a staging copy beside the index directory and swaps it in with one rename at
the end, so a failed or interrupted run leaves the previous index as it was, searchable.

Steps: hash the given files and skip those unchanged since the last run (same path, same
SHA-256); parse and analyse the others in worker processes (one Sudachi tokenizer each); add
their sheets to the Whoosh index, replacing sheets with the same id; store every record and
its terms (so the next incremental run re-parses and re-analyses nothing it skips); refit the
similarity model and the cross-references over all records; write the manifest (which
fingerprints every file) last; swap.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import gc
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast, overload

from evalsearch import engine, store
from evalsearch.analysis import Term, analyze
from evalsearch.crossref import CrossReferences, SheetInfo, find_cross_references
from evalsearch.errors import (
    DuplicateRecordError,
    IndexLockedError,
    ParseError,
    ParseErrors,
    StrictModeError,
    os_error,
)
from evalsearch.forms import item_labels
from evalsearch.readers.sources import TABLE_SUFFIXES
from evalsearch.records import SheetRecord
from evalsearch.similarity import FeatureCounts, SheetFeatures, SimilarityModel
from evalsearch.store import AnalyzedSheet, SourceFile
from evalsearch.synonyms import version as synonyms_version

Progress = Callable[[int, int], None]
"""progress(files_done, files_total), called after each file."""


@dataclass(frozen=True)
class BuildReport:
    """What one ``build_index`` run did."""

    index_dir: Path
    files_added: int
    files_replaced: int
    files_skipped: int
    files_removed: int
    sheets_indexed: int
    sheets_removed: int
    sheets_total: int
    warnings: int
    seconds: float
    failed: tuple[str, ...] = ()
    """Files left out with --keep-going, each with why (the next run tries them again)."""

    @property
    def sheets_per_second(self) -> float:
        return self.sheets_indexed / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "index_dir": str(self.index_dir),
            "files_added": self.files_added,
            "files_replaced": self.files_replaced,
            "files_skipped": self.files_skipped,
            "files_removed": self.files_removed,
            "sheets_indexed": self.sheets_indexed,
            "sheets_removed": self.sheets_removed,
            "sheets_total": self.sheets_total,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
            "failed": list(self.failed),
            "sheets_per_second": round(self.sheets_per_second, 1),
        }


SHEET_SUFFIXES: tuple[str, ...] = (".txt", *TABLE_SUFFIXES)
"""Files ``evalsearch index DIR`` reads: text dumps and collection tables (any letter case)."""


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """The files named and the sheet files under the directories named, resolved, sorted,
    each once."""
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = {
                file.resolve()
                for file in path.rglob("*")
                if file.is_file() and file.suffix.lower() in SHEET_SUFFIXES
            }
            if not inside:
                raise ParseError(
                    "評価シートのファイル（*.txt のテキストダンプ、*.xlsx・*.csv の表）が"
                    "ありません。ディレクトリを確認してください",
                    file=str(path),
                )
            found |= inside
        elif path.exists():
            found.add(path.resolve())
        else:
            raise ParseError(
                "ファイルまたはディレクトリが見つかりません。パスを確認してください", file=str(path)
            )
    return sorted(found)


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def analyze_record(record: SheetRecord) -> AnalyzedSheet:
    """Every passage of ``record`` analysed once (terms are plain tuples, cheap to pipe)."""
    texts = record.searchable_texts(item_labels(record.form))
    return {label: analyze(text) for label, text in texts.items()}


def _no_gc_pauses() -> None:
    """Freeze what exists and raise the GC threshold: a build allocates millions of small
    tuples that are never cyclic, and default GC passes over them made builds superlinear."""
    gc.freeze()
    gc.set_threshold(1_000_000, 50, 100)


# --- worker processes ----------------------------------------------------------------
# Each worker parses a file, analyses its sheets once and indexes them into its own Whoosh
# segment (SegmentSink); the parent gets the records and packed terms back for the store and
# the similarity model, and adds the segments to the index at the end.

_worker: dict[str, Any] = {}


@dataclass(frozen=True)
class ReadOptions:
    """How every file of a run is read."""

    strict: bool = False
    """A reading warning is an error."""
    form: str | None = None
    """The form profile id every file is read with (``--form``); None picks one per file."""


def _init_worker(whoosh_parent: str, options: ReadOptions, barrier: Any) -> None:
    _quiet_worker()
    _no_gc_pauses()
    _worker.clear()
    _worker.update(
        directory=Path(whoosh_parent),
        options=options,
        barrier=barrier,
        sink=None,
        model=SimilarityModel(),
    )


def read_sheets(path: str, options: ReadOptions) -> list[SheetRecord]:
    """The sheets of one file: through the profile ``options.form`` names, else a collection
    table through the profile its headers match, else a dump in the 根室 form."""
    if options.form is not None or Path(path).suffix.lower() in TABLE_SUFFIXES:
        from evalsearch.forms import get_profile
        from evalsearch.readers import read_table

        profile = get_profile(options.form) if options.form is not None else None
        result = read_table(path, profile)
        if options.strict and result.warnings:
            raise StrictModeError(f"警告があります（--strict）: {result.warnings[0]}", file=path)
        return list(result.records)
    from evalsearch.parse import parse_paths

    return list(parse_paths([path], strict=options.strict))


@dataclass(frozen=True)
class _Sheet:
    """One indexed sheet as the parent keeps it: a few facts, and where its record, its
    terms and its passages lie in a spool file (a worker's) or in the previous index's files.
    The parent never holds a sheet's texts or terms: that held 8.8 GB at 100,000 sheets."""

    key: str
    id: str
    warnings: int
    info: SheetInfo
    record: tuple[str, int, int]  # (file, offset, length) of its records.jsonl line
    terms: tuple[str, int, int]  # ... of its terms.jsonl line
    passages: tuple[str, int, int] | None = None  # ... of its JSON passages (new sheets)
    features: SheetFeatures | None = None  # similarity input (new sheets, until taken)


FileResult = tuple[str, list[_Sheet], ParseError | None]
"""A worker's answer for one file: its sheets (texts in the worker's spool), or why it
failed."""


class _Spool:
    """A worker's three append-only files in the staging directory (records, terms and
    passages as JSON lines). The parent copies the lines into the index files at the end."""

    def __init__(self, directory: Path) -> None:
        stem = directory / f"{SPOOL_PREFIX}{os.getpid()}"
        self.files = {
            kind: open(f"{stem}.{kind}", "wb")  # noqa: SIM115 (closed in close())
            for kind in ("records", "terms", "passages")
        }
        self.sizes = dict.fromkeys(self.files, 0)

    def write(self, kind: str, line: str) -> tuple[str, int, int]:
        data = line.encode("utf-8")
        offset = self.sizes[kind]
        self.files[kind].write(data)
        self.sizes[kind] = offset + len(data)
        return self.files[kind].name, offset, len(data)

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()


SPOOL_PREFIX = ".spool-"
"""Spool files are dotfiles: the manifest never fingerprints them, and the build removes them
before the staging directory becomes the index."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def _index_file(path: str) -> FileResult:
    try:
        records = read_sheets(path, _worker["options"])
    except ParseError as error:
        # Every file is read before the run decides: one run names every bad file.
        return path, [], error
    if records and _worker["sink"] is None:
        _worker["sink"] = engine.SegmentSink(_worker["directory"])
        _worker["spool"] = _Spool(_worker["directory"])
    sink, model = _worker["sink"], _worker["model"]
    spool: _Spool = _worker.get("spool")  # type: ignore[assignment]  # set with the sink
    sheets = []
    for record in records:
        terms = analyze_record(record)
        sink.add(record, terms)
        # Serialised here, in parallel, not in the parent: the store's own forms
        # (store.write_records / write_terms) line for line.
        sheets.append(
            _Sheet(
                key=record.key,
                id=record.id,
                warnings=len(record.warnings),
                info=SheetInfo.from_record(record),
                record=spool.write(
                    "records", json.dumps(record.to_dict(), ensure_ascii=False) + "\n"
                ),
                terms=spool.write("terms", _dumps([record.key, terms])),
                passages=spool.write("passages", _dumps(record.passages())),
                features=model.sheet_features(terms),
            )
        )
    return path, sheets, None


def _finish_worker(_: int) -> Any:
    # The barrier holds every worker until each has taken one finish task: each worker then
    # finishes its own segment exactly once.
    if _worker["barrier"] is not None:
        _worker["barrier"].wait(timeout=600)
    sink = _worker["sink"]
    _worker["sink"] = None
    spool = _worker.pop("spool", None)
    if spool is not None:
        spool.close()
    return sink.finish() if sink is not None else None


_PR_SET_PDEATHSIG = 1


def _quiet_worker() -> None:
    """A worker leaves Ctrl-C to the parent (which stops the pool and removes the staging
    copy) and ends with its parent: a parent killed with -9 leaves no worker behind writing
    BrokenPipeError tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class _Workers:
    """Runs ``_index_file`` over files in a process pool (or in-process for one worker)."""

    def __init__(self, directory: Path, options: ReadOptions, processes: int) -> None:
        self.processes = processes
        if processes <= 1:
            _init_worker(str(directory), options, None)
            self.pool = None
        else:
            # fork: workers start in milliseconds and build their own Sudachi tokenizer.
            context = multiprocessing.get_context("fork")
            barrier = context.Barrier(processes)
            self.pool = context.Pool(
                processes, initializer=_init_worker, initargs=(str(directory), options, barrier)
            )

    def run(self, paths: Sequence[str]) -> Iterator[FileResult]:
        if self.pool is None:
            yield from map(_index_file, paths)
        else:
            yield from self.pool.imap(_index_file, paths)

    def finish(self) -> list[Any]:
        if self.pool is None:
            return [_finish_worker(0)]
        return self.pool.map(_finish_worker, range(self.processes), chunksize=1)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
        else:
            sink = _worker.get("sink")
            if sink is not None:
                sink.cancel()
            spool = _worker.get("spool")
            if spool is not None:
                spool.close()
            _worker.clear()


def build_index(
    paths: Iterable[str | Path],
    index_dir: str | Path | None = None,
    *,
    rebuild: bool = False,
    strict: bool = False,
    form: str | None = None,
    keep_going: bool = False,
    progress: Progress | None = None,
    processes: int | None = None,
) -> BuildReport:
    """Add or replace the sheets of ``paths`` in the index at ``index_dir``.

    ``rebuild`` starts from an empty index. Every file is read before the run decides: files
    that cannot be read are all named at once (``ParseErrors``) and nothing changes, unless
    ``keep_going``, which indexes the others and lists the bad ones in the report. Raises ParseError (and its subclasses) for an
    unreadable dump and IndexVersionError/IndexCorruptError for an index that cannot be
    updated; the previous index is untouched in every failure.
    """
    started = time.perf_counter()
    directory = Path(index_dir) if index_dir is not None else store.default_index_dir()
    given = [Path(path) for path in paths]
    files = expand_paths(given)
    processes = processes or os.cpu_count() or 1
    store.check_index_location(directory)
    if form is not None:
        from evalsearch.forms import get_profile

        get_profile(form)  # an unknown id fails now, whatever the files
    with writer_lock(directory):
        return _build_locked(
            directory,
            given,
            files,
            rebuild,
            ReadOptions(strict=strict, form=form),
            keep_going,
            progress,
            processes,
            started,
        )


def _build_locked(
    directory: Path,
    paths: Sequence[Path],
    files: Sequence[Path],
    rebuild: bool,
    options: ReadOptions,
    keep_going: bool,
    progress: Progress | None,
    processes: int,
    started: float,
) -> BuildReport:
    previous: store.Manifest | None = None
    if store.has_content(directory) and not rebuild:
        previous = store.read_manifest(directory)
    old_files: dict[str, SourceFile] = dict(previous.files) if previous else {}

    hashes = {str(path): file_hash(path) for path in files}
    # A file read through another form than last time is read again.
    changed = [
        key
        for key in hashes
        if key not in old_files
        or old_files[key].sha256 != hashes[key]
        or old_files[key].form != options.form
    ]
    skipped = len(hashes) - len(changed)
    gone = _gone_files(old_files, hashes, paths)
    if previous is not None and not changed and not gone:
        if progress:
            progress(len(files), len(files))
        return BuildReport(
            directory,
            0,
            0,
            skipped,
            0,
            0,
            0,
            previous.records,
            0,
            time.perf_counter() - started,
        )

    _remove_stale_staging(directory)
    staging = directory.parent / f".{directory.name}.staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    thresholds = gc.get_threshold()
    _no_gc_pauses()
    try:
        report = _build_in(
            staging,
            directory,
            previous,
            old_files,
            hashes,
            changed,
            gone,
            skipped,
            options,
            keep_going,
            progress,
            processes,
            started,
        )
        _keep_dotfiles(directory, staging)
        _swap(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    return report


@dataclass
class _Contents:
    """What the index will hold after this run, and what the run changed (all by record key)."""

    sheets: dict[str, _Sheet]
    files: dict[str, SourceFile]
    reparsed: frozenset[str] = frozenset()  # files this run parses again
    form: str | None = None  # the profile every file is forced through (--form)
    owner: dict[str, str] = field(default_factory=dict)  # record key -> file
    seen: dict[str, str] = field(default_factory=dict)  # keys (re)indexed by this run -> file
    removed: set[str] = field(default_factory=set)
    added_files: int = 0
    replaced_files: int = 0
    warnings: int = 0

    def __post_init__(self) -> None:
        self.owner = {key: path for path, entry in self.files.items() for key in entry.keys}

    def drop(self, path: str) -> None:
        """The file is gone: its sheets leave the index."""
        entry = self.files.pop(path)
        for key in entry.keys:
            if self.owner.get(key) == path:
                del self.sheets[key], self.owner[key]
                self.removed.add(key)

    def take(self, path: str, sha256: str, sheets: Sequence[_Sheet]) -> None:
        """The sheets parsed from file ``path`` replace whatever that file gave before."""
        if path in self.files:
            self.replaced_files += 1
            stale = set(self.files[path].keys)
        else:
            self.added_files += 1
            stale = set()
        new_keys = []
        for sheet in sheets:
            key = sheet.key
            if key in self.seen:
                raise DuplicateRecordError(
                    f"ID {sheet.id}（年度-事業番号）のシートが {self.seen[key]} にもあります。"
                    "どちらか一方だけを索引に入れてください。",
                    file=path,
                )
            self.seen[key] = path
            other = self.owner.get(key)
            if other is not None and other != path:
                if other not in self.reparsed and Path(other).exists():
                    raise DuplicateRecordError(
                        f"ID {sheet.id}（年度-事業番号）のシートが索引済みの {other} にもあります。"
                        "どちらか一方だけを索引に入れるか、--rebuild で作り直してください。",
                        file=path,
                    )
                # The sheet moved to another file: the old file no longer owns it.
                entry = self.files[other]
                self.files[other] = SourceFile(
                    entry.sha256, tuple(k for k in entry.keys if k != key), entry.form
                )
            self.sheets[key] = sheet
            self.owner[key] = path
            new_keys.append(key)
            self.warnings += sheet.warnings
        for key in stale - set(new_keys):
            if self.owner.get(key) == path:
                del self.sheets[key], self.owner[key]
                self.removed.add(key)
        self.files[path] = SourceFile(sha256, tuple(new_keys), self.form)


def _build_in(
    staging: Path,
    directory: Path,
    previous: store.Manifest | None,
    old_files: dict[str, SourceFile],
    hashes: Mapping[str, str],
    changed: Sequence[str],
    gone: Sequence[str],
    skipped: int,
    options: ReadOptions,
    keep_going: bool,
    progress: Progress | None,
    processes: int,
    started: float,
) -> BuildReport:
    counts = FeatureCounts(SimilarityModel())
    if previous is not None:
        engine.copy(directory, staging)
        contents = _Contents(
            _previous_sheets(directory),
            dict(old_files),
            reparsed=frozenset(changed),
            form=options.form,
        )
    else:
        engine.create(staging)
        contents = _Contents({}, {}, form=options.form)
    for path in gone:
        contents.drop(path)
    in_old_index = set(contents.sheets)
    failed: list[ParseError] = []

    # Errors reading the copied Whoosh files mean the previous index is damaged.
    damaged = engine.reading(directory) if previous is not None else contextlib.nullcontext()
    try:
        with damaged:
            workers = _Workers(staging, options, max(1, min(processes, len(changed))))
            try:
                if progress:
                    progress(0, len(changed))
                for done, (path, sheets, error) in enumerate(workers.run(changed), start=1):
                    if error is not None:
                        failed.append(error)
                    else:
                        contents.take(
                            path, hashes[path], [_taken(sheet, counts) for sheet in sheets]
                        )
                    if progress:
                        progress(done, len(changed))
                if failed and not keep_going:
                    raise ParseErrors(failed)
                segments = workers.finish()
            finally:
                workers.close()
            # Old copies of re-indexed sheets, and sheets gone from their file, leave the old
            # segments; the workers' segments join the index.
            replaced = (in_old_index & set(contents.seen)) | contents.removed
            engine.commit_segments(staging, sorted(replaced), segments)

        ordered = list(contents.sheets.values())
        _write_store(staging, ordered)
        _fit_similarity(staging, ordered, counts)
    finally:
        for spool in staging.glob(f"{SPOOL_PREFIX}*"):
            spool.unlink(missing_ok=True)
    store.write_manifest(
        staging, contents.files, len(ordered), settings={"synonyms": synonyms_version()}
    )
    return BuildReport(
        directory,
        contents.added_files,
        contents.replaced_files,
        skipped,
        len(gone),
        len(contents.seen),
        len(contents.removed),
        len(ordered),
        contents.warnings,
        time.perf_counter() - started,
        tuple(str(error) for error in failed),
    )


def _taken(sheet: _Sheet, counts: FeatureCounts) -> _Sheet:
    """The sheet as the parent keeps it: its similarity features go into ``counts`` now."""
    if sheet.features is not None:
        counts.add(sheet.key, sheet.features)
        sheet = replace(sheet, features=None)
    return sheet


def _previous_sheets(directory: Path) -> dict[str, _Sheet]:
    """The sheets of the index being updated, in stored order: where each one's lines are
    in its records.jsonl and terms.jsonl, and its facts from crossrefs.json (nothing is
    parsed but the keys)."""
    from evalsearch.crossref import CROSSREFS_FILE

    records_path = str(directory / store.RECORDS_FILE)
    terms_path = str(directory / store.TERMS_FILE)
    try:
        infos = CrossReferences.load(directory).sheets
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise store.corrupt(directory, f"{CROSSREFS_FILE}: {type(error).__name__}") from error
    sheets: dict[str, _Sheet] = {}
    number = 0
    try:
        with open(records_path, "rb") as records, open(terms_path, "rb") as terms:
            record_offset = terms_offset = 0
            for record_line, terms_line in zip(records, terms, strict=True):
                number += 1
                # A terms line starts with its key: ["根室市/2023-12276",...
                key = json.loads(terms_line[: terms_line.index(b'",') + 2][1:-1] or b'""')
                info = infos[key]
                sheets[key] = _Sheet(
                    key=key,
                    id=info.id,
                    warnings=0,
                    info=info,
                    record=(records_path, record_offset, len(record_line)),
                    terms=(terms_path, terms_offset, len(terms_line)),
                )
                record_offset += len(record_line)
                terms_offset += len(terms_line)
    except (OSError, ValueError, KeyError) as error:
        raise store.corrupt(directory, f"{store.TERMS_FILE} {number}行目: {error!r}") from error
    return sheets


class _Lines:
    """Reads lines back by (file, offset, length), keeping the files open."""

    def __init__(self) -> None:
        self.handles: dict[str, int] = {}

    def read(self, where: tuple[str, int, int]) -> bytes:
        name, offset, length = where
        handle = self.handles.get(name)
        if handle is None:
            handle = self.handles[name] = os.open(name, os.O_RDONLY)
        return os.pread(handle, length, offset)

    def close(self) -> None:
        for handle in self.handles.values():
            os.close(handle)
        self.handles.clear()

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_store(directory: Path, sheets: Sequence[_Sheet]) -> None:
    """records.jsonl and terms.jsonl, one line per sheet in index order, copied as bytes from
    the spools and the previous index (the lines are already in their stored form)."""
    with (
        _Lines() as lines,
        open(directory / store.RECORDS_FILE, "wb") as records,
        open(directory / store.TERMS_FILE, "wb") as terms,
    ):
        for sheet in sheets:
            records.write(lines.read(sheet.record))
            terms.write(lines.read(sheet.terms))


def _fit_similarity(directory: Path, sheets: Sequence[_Sheet], counts: FeatureCounts) -> None:
    """The similarity model, then the cross-references (which use it to tell apart projects
    of the same name). Sheets kept from the previous index give their features from their
    stored terms."""
    model = counts.model
    with _Lines() as lines:
        for sheet in sheets:
            if sheet.key not in counts:
                _, passages = json.loads(lines.read(sheet.terms))
                analyzed = {
                    label: [Term._make(item) for item in items] for label, items in passages.items()
                }
                counts.add(sheet.key, model.sheet_features(analyzed))
    infos = [sheet.info for sheet in sheets]
    fitted = counts.fit(
        [info.key for info in infos],
        [info.fiscal_year for info in infos],
        [(info.municipality, info.project_no) for info in infos],
    )
    fitted.save(directory)
    with _Lines() as lines:
        named = _NamedSheets(sheets, lines)
        references = find_cross_references(
            cast("Sequence[SheetRecord]", named), similarity=fitted.batch_similarity()
        )
    CrossReferences(infos, references).save(directory)


class _NamedSheet:
    """What ``crossref.find_cross_references`` reads of a record: its identity, its name and
    (on demand) its passages, read back from a spool or the previous index."""

    __slots__ = (
        "_lines",
        "_sheet",
        "fiscal_year",
        "key",
        "municipality",
        "project_name",
        "project_no",
    )

    def __init__(self, sheet: _Sheet, lines: _Lines) -> None:
        self._sheet, self._lines = sheet, lines
        info = sheet.info
        self.key, self.municipality, self.fiscal_year = (
            info.key,
            info.municipality,
            info.fiscal_year,
        )
        self.project_no, self.project_name = info.project_no, info.project_name

    def passages(self) -> dict[str, str]:
        if self._sheet.passages is not None:
            passages: dict[str, str] = json.loads(self._lines.read(self._sheet.passages))
            return passages
        record = SheetRecord.from_dict(json.loads(self._lines.read(self._sheet.record)))
        return record.passages()


class _NamedSheets(SequenceABC[_NamedSheet]):
    """The sheets as the records ``find_cross_references`` takes, without holding them."""

    def __init__(self, sheets: Sequence[_Sheet], lines: _Lines) -> None:
        self._items = [_NamedSheet(sheet, lines) for sheet in sheets]

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> _NamedSheet: ...
    @overload
    def __getitem__(self, index: slice) -> list[_NamedSheet]: ...
    def __getitem__(self, index: int | slice) -> _NamedSheet | list[_NamedSheet]:
        return self._items[index]


# --- directories -------------------------------------------------------------------------


def _gone_files(
    old_files: Mapping[str, SourceFile], hashes: Mapping[str, str], paths: Sequence[Path]
) -> list[str]:
    """Indexed files to remove: those under a directory given now that are no longer there
    (``index DIR`` mirrors DIR), and any that no longer exist at all."""
    folders = [path.resolve() for path in paths if path.is_dir()]
    return sorted(
        old
        for old in old_files
        if old not in hashes
        and (not Path(old).exists() or any(Path(old).is_relative_to(d) for d in folders))
    )


@contextlib.contextmanager
def writer_lock(directory: Path) -> Iterator[None]:
    """One writer per index: a second ``evalsearch index`` on the same directory stops with a
    clear message instead of silently overwriting the first one's work. Readers take no lock
    (they read the directory swapped in whole)."""
    lock_path = directory.parent / f".{directory.name}.lock"
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a+")
    except OSError as error:
        raise os_error(error, lock_path) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise IndexLockedError(
                f"索引 {directory} は別の `evalsearch index`（PID {holder}）が更新中です。"
                "終わってからもう一度実行してください（検索はその間も使えます）。"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def _keep_dotfiles(directory: Path, staging: Path) -> None:
    """Carry dotfiles that are not ours (index/.gitkeep) into the new index directory."""
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if path.name.startswith(".") and path.is_file() and not (staging / path.name).exists():
            shutil.copy2(path, staging / path.name)


def _remove_stale_staging(directory: Path) -> None:
    """Staging copies left by runs that were killed (their process no longer exists)."""
    if not directory.parent.exists():
        return
    for stale in directory.parent.glob(f".{directory.name}.staging-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2); False if unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), ctypes.c_uint(_RENAME_EXCHANGE)
    )
    return result == 0


def _swap(staging: Path, directory: Path) -> None:
    """Make ``staging`` the index at ``directory``; the old index is removed afterwards."""
    if not directory.exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, directory)
        return
    if _exchange(staging, directory):
        shutil.rmtree(staging, ignore_errors=True)
        return
    # No atomic exchange: two renames, with the old index kept until the new one is in place.
    backup = directory.parent / f".{directory.name}.old-{os.getpid()}"
    os.rename(directory, backup)
    try:
        os.rename(staging, directory)
    except BaseException:
        with contextlib.suppress(OSError):
            os.rename(backup, directory)
        raise
    shutil.rmtree(backup, ignore_errors=True)
