"""``evalsearch index``: parse dumps, analyse every passage once, write the index atomically.

A run works on a staging copy beside the index directory and swaps it in with one rename at
the end, so a failed or interrupted run leaves the previous index as it was, searchable.

Steps: hash the given files (those not written to since they were hashed keep their hash)
and skip those unchanged since the last run (same path, same SHA-256); parse and analyse the
others in worker processes (one Sudachi tokenizer each; a large table is split between them);
add their sheets to the Whoosh index, replacing sheets with the same id (the previous
segments are shared as hard links); store every record and its terms (so the next incremental
run re-parses and re-analyses nothing it skips); fit the similarity model (an update keeps
its vocabulary and idf and transforms the changed sheets only, up to ``REFIT_SHARE``) and the
cross-references (an update scans again only the sheets it may have changed the references
of); write the manifest (which fingerprints every file) last; swap.
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

import numpy as np

from evalsearch import engine, store
from evalsearch.analysis import Term, analyze
from evalsearch.crossref import (
    CrossReference,
    CrossReferences,
    SheetInfo,
    find_cross_references,
    name_kinds,
    name_places,
)
from evalsearch.errors import (
    DuplicateRecordError,
    IndexCorruptError,
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
            # Resolved once, not per file (resolve() stats every component: 0.3 s for 2,776
            # files); rglob does not descend into linked directories, so only files that
            # are links themselves need resolving.
            inside = {
                file.resolve() if file.is_symlink() else file
                for file in path.resolve().rglob("*")
                if file.suffix.lower() in SHEET_SUFFIXES and file.is_file()
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


Task = tuple[str, int, int]
"""One worker task: (file, part, parts). A file read in ``parts`` parts is read whole by each
of them (a table's rows cannot be reached without reading the ones before), and part ``k``
analyses and indexes the sheets ``k, k + parts, …`` of it."""

PartResult = tuple[Task, list[_Sheet], ParseError | None, str]
"""A worker's answer for one task: its sheets (texts in the worker's spool), or why the file
failed; and a digest of every sheet key the file gave, which the parts of one file must agree
on (a file saved again while its parts were read gives them different sheets)."""


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

    def flush(self) -> None:
        for handle in self.files.values():
            handle.flush()

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()


SPOOL_PREFIX = ".spool-"
"""Spool files are dotfiles: the manifest never fingerprints them, and the build removes them
before the staging directory becomes the index."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def _index_part(task: Task) -> PartResult:
    path, part, parts = task
    try:
        records = read_sheets(path, _worker["options"])
    except ParseError as error:
        # Every file is read before the run decides: one run names every bad file. Every
        # part reads the whole file, so each part of a bad file fails the same way.
        return task, [], error, ""
    digest = ""
    if parts > 1:
        digest = hashlib.sha256("\n".join(r.key for r in records).encode()).hexdigest()
        # Every other sheet, not a block: a table's long sheets are often together.
        records = records[part::parts]
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
    if sheets:
        spool.flush()  # the parent reads these lines while the worker finishes its segment
    return task, sheets, None, digest


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


SPLIT_MIN_BYTES = 256 * 1024
"""A smaller file is never split: reading it again would cost more than its sheets' share
(a dump of one or two sheets is ~10 KB; 大船渡's 407-row table 1.7 MB)."""


def _plan(paths: Sequence[str], processes: int) -> list[Task]:
    """The worker tasks for ``paths``, the longest first.

    A file larger than a worker's share of the run (by bytes, roughly its work) is split into
    up to ``processes`` parts: one 407-row table used to keep one core busy while the others
    waited. Each part re-reads the file (2 s of the 10 s of 大船渡's table), so a file is split
    only into as many parts as its share of the work calls for. The longest tasks go first,
    so that a large table does not start last, after the small files, and run alone."""
    if processes <= 1:
        return [(path, 0, 1) for path in paths]
    sizes = {path: _size(path) for path in paths}
    total = sum(sizes.values()) or 1
    tasks: list[Task] = []
    for path in paths:
        parts = max(1, min(processes, round(sizes[path] * processes / total)))
        if sizes[path] < SPLIT_MIN_BYTES:
            parts = 1
        tasks.extend((path, part, parts) for part in range(parts))
    tasks.sort(key=lambda task: -sizes[task[0]] / task[2])
    return tasks


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # the worker's read says what is wrong with it


class _Parts:
    """Puts each file's parts back together, its sheets in the file's order, and hands the
    files over in the order of ``paths``: the index is the same whatever the workers'
    timing. Only offsets and features wait here, never texts."""

    def __init__(self, tasks: Sequence[Task], paths: Sequence[str]) -> None:
        self.waiting: dict[str, list[PartResult | None]] = {}
        for path, _, parts in tasks:
            self.waiting[path] = [None] * parts
        self.order = list(reversed(paths))

    def add(self, result: PartResult) -> Iterator[tuple[str, list[_Sheet], ParseError | None]]:
        """The files complete once ``result`` is in, in order."""
        (path, part, _), *_ = result
        self.waiting[path][part] = result
        while self.order and all(self.waiting[self.order[-1]]):
            path = self.order.pop()
            yield (path, *_joined(path, cast("list[PartResult]", self.waiting.pop(path))))


def _joined(path: str, results: list[PartResult]) -> tuple[list[_Sheet], ParseError | None]:
    errors = [error for _, _, error, _ in results if error is not None]
    if len(errors) == len(results):
        return [], errors[0]
    if errors or len({digest for *_, digest in results}) > 1:
        # Sheets of two versions of the file would mix: refuse it, whatever --keep-going
        # says (the parts that read it are in the new segments already).
        raise ParseErrors(
            [ParseError("読み取り中にファイルが変わりました。もう一度実行してください", file=path)]
        )
    parts = [sheets for _, sheets, _, _ in results]
    count = len(parts)
    # Part k holds sheets k, k + count, …: deal them back in turn.
    return [parts[i % count][i // count] for i in range(sum(map(len, parts)))], None


class _Workers:
    """Runs ``_index_part`` over tasks in a process pool (or in-process for one worker)."""

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

    def run(self, tasks: Sequence[Task]) -> Iterator[PartResult]:
        """Each task's result, as soon as it is done (in no particular order)."""
        if self.pool is None:
            yield from map(_index_part, tasks)
        else:
            yield from self.pool.imap_unordered(_index_part, tasks)

    def finish(self) -> Callable[[], list[Any]]:
        """Has every worker write out its segment; the call returned waits for the segments.
        Writing a segment is a third of a worker's time: the parent fits the similarity model
        meanwhile."""
        if self.pool is None:
            segments = [_finish_worker(0)]
            return lambda: segments
        return self.pool.map_async(_finish_worker, range(self.processes), chunksize=1).get

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

    stamps: dict[str, store.Stamp] = {}
    hashes: dict[str, str] = {}
    for path in files:
        key = str(path)
        try:
            stamps[key] = store.stamp_of(path.stat())
        except OSError as error:
            raise os_error(error, path) from None
        entry = old_files.get(key)
        if entry is not None and entry.stamp == stamps[key]:
            hashes[key] = entry.sha256  # not written to since it was hashed
        else:
            hashes[key] = file_hash(path)
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
    # Files found unchanged keep their entry, with the stamp they have now.
    for key in set(hashes).difference(changed):
        if old_files[key].stamp != stamps[key]:
            old_files[key] = replace(old_files[key], stamp=stamps[key])
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
            stamps,
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
    stamps: Mapping[str, store.Stamp] = field(default_factory=dict)  # of the files hashed now
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
                self.files[other] = replace(entry, keys=tuple(k for k in entry.keys if k != key))
            self.sheets[key] = sheet
            self.owner[key] = path
            new_keys.append(key)
            self.warnings += sheet.warnings
        for key in stale - set(new_keys):
            if self.owner.get(key) == path:
                del self.sheets[key], self.owner[key]
                self.removed.add(key)
        self.files[path] = SourceFile(sha256, tuple(new_keys), self.form, self.stamps.get(path))


def _build_in(
    staging: Path,
    directory: Path,
    previous: store.Manifest | None,
    old_files: dict[str, SourceFile],
    hashes: Mapping[str, str],
    stamps: Mapping[str, store.Stamp],
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
    old_references: CrossReferences | None = None
    if previous is not None:
        engine.copy(directory, staging)
        old_sheets, old_references = _previous_sheets(directory)
        contents = _Contents(
            old_sheets,
            dict(old_files),
            reparsed=frozenset(changed),
            form=options.form,
            stamps=stamps,
        )
    else:
        engine.create(staging)
        contents = _Contents({}, {}, form=options.form, stamps=stamps)
    for path in gone:
        contents.drop(path)
    in_old_index = set(contents.sheets)
    failed: list[ParseError] = []

    # Errors reading the copied Whoosh files mean the previous index is damaged.
    def damaged() -> contextlib.AbstractContextManager[None]:
        return engine.reading(directory) if previous is not None else contextlib.nullcontext()

    try:
        tasks = _plan(changed, processes)
        workers = _Workers(staging, options, max(1, min(processes, len(tasks))))
        try:
            with damaged():
                if progress:
                    progress(0, len(changed))
                done = 0
                parts = _Parts(tasks, changed)
                for result in workers.run(tasks):
                    for path, sheets, error in parts.add(result):
                        if error is not None:
                            failed.append(error)
                        else:
                            contents.take(
                                path, hashes[path], [_taken(sheet, counts) for sheet in sheets]
                            )
                        done += 1
                        if progress:
                            progress(done, len(changed))
                if failed and not keep_going:
                    raise ParseErrors(failed)
                finished = workers.finish()
            ordered = list(contents.sheets.values())
            _write_store(staging, ordered)
            # Sheets added, replaced or removed since the last full fit, this run's included.
            changed_since_fit = len(contents.seen) + len(contents.removed)
            if previous is not None:
                changed_since_fit += previous.similarity_changed
            kept = changed_since_fit <= REFIT_SHARE * len(ordered)
            frozen = directory if previous is not None and kept else None
            changes = _Changes(set(contents.seen) | contents.removed, old_references)
            if not _fit_similarity(staging, ordered, counts, frozen, changes):
                changed_since_fit = 0
            with damaged():
                segments = finished()
        finally:
            workers.close()
        # Old copies of re-indexed sheets, and sheets gone from their file, leave the old
        # segments; the workers' segments join the index.
        replaced = (in_old_index & set(contents.seen)) | contents.removed
        with damaged():
            engine.commit_segments(staging, sorted(replaced), segments)
    finally:
        for spool in staging.glob(f"{SPOOL_PREFIX}*"):
            spool.unlink(missing_ok=True)
    store.write_manifest(
        staging,
        contents.files,
        len(ordered),
        settings={"synonyms": synonyms_version()},
        similarity_changed=changed_since_fit,
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


def _previous_sheets(directory: Path) -> tuple[dict[str, _Sheet], CrossReferences]:
    """The sheets of the index being updated, in stored order: where each one's lines are
    in its records.jsonl and terms.jsonl, and its facts from crossrefs.json (nothing is
    parsed but the keys); and its cross-references."""
    from evalsearch.crossref import CROSSREFS_FILE

    records_path = str(directory / store.RECORDS_FILE)
    terms_path = str(directory / store.TERMS_FILE)
    try:
        references = CrossReferences.load(directory)
        infos = references.sheets
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise store.corrupt(directory, f"{CROSSREFS_FILE}: {type(error).__name__}") from error
    keys = list(infos)
    try:
        record_ends, terms_ends = _stored_line_ends(directory, len(keys))
        if record_ends is None or terms_ends is None:
            record_ends, terms_ends = _line_ends(records_path), _line_ends(terms_path)
        if not len(record_ends) == len(terms_ends) == len(keys):
            raise ValueError(f"{len(record_ends)}/{len(terms_ends)}/{len(keys)} 件")
        if keys:
            # The three files are written in one order; the manifest vouches for their
            # contents, so the first and last terms line checking their keys is enough.
            with open(terms_path, "rb") as terms:
                for row in (0, len(keys) - 1):
                    start = int(terms_ends[row - 1]) if row else 0
                    terms.seek(start)
                    line = terms.read(int(terms_ends[row]) - start)
                    if json.loads(line)[0] != keys[row]:
                        raise ValueError(f"{row + 1}行目の ID が {CROSSREFS_FILE} と違います")
    except (OSError, ValueError, IndexError, TypeError) as error:
        raise store.corrupt(directory, f"{store.TERMS_FILE}: {error}") from error
    sheets: dict[str, _Sheet] = {}
    record_start = terms_start = 0
    for key, record_end, terms_end in zip(
        keys, record_ends.tolist(), terms_ends.tolist(), strict=True
    ):
        info = infos[key]
        sheets[key] = _Sheet(
            key=key,
            id=info.id,
            warnings=0,
            info=info,
            record=(records_path, record_start, record_end - record_start),
            terms=(terms_path, terms_start, terms_end - terms_start),
        )
        record_start, terms_start = record_end, terms_end
    return sheets, references


def _stored_line_ends(directory: Path, count: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The line ends ``_write_store`` saved, if they are there and fit ``count`` sheets and
    the files' sizes (an index written before they were has none)."""
    try:
        with np.load(directory / store.LINES_FILE, allow_pickle=False) as saved:
            records, terms = saved["records"], saved["terms"]
    except (OSError, ValueError, KeyError):
        return None, None
    for ends, name in ((records, store.RECORDS_FILE), (terms, store.TERMS_FILE)):
        size = (directory / name).stat().st_size
        if len(ends) != count or (int(ends[-1]) if count else 0) != size:
            return None, None
    return records, terms


def _line_ends(path: str) -> np.ndarray:
    """The offset just past each line of a file, read a block at a time (a line-by-line read
    in Python took 0.5 s at 10,000 sheets; the whole file at once would hold 0.7 GB at
    100,000)."""
    blocks: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    offset = 0
    with open(path, "rb") as handle:
        while block := handle.read(LINE_SCAN_BLOCK):
            newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n"))
            blocks.append(newlines + offset + 1)
            offset += len(block)
    ends = np.concatenate(blocks)
    if offset and (not len(ends) or int(ends[-1]) != offset):
        raise ValueError("最後の行が改行で終わっていません")
    return ends


LINE_SCAN_BLOCK = 16 << 20


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

    def copy(self, where: tuple[str, int, int], out: Any) -> None:
        """The bytes at ``where`` appended to the open binary file ``out``."""
        name, offset, length = where
        handle = self.handles.get(name)
        if handle is None:
            handle = self.handles[name] = os.open(name, os.O_RDONLY)
        out.flush()
        target = out.fileno()
        with contextlib.suppress(OSError):  # no copy_file_range here: read and write below
            while length > 0:
                copied = os.copy_file_range(handle, target, length, offset)
                if copied <= 0:
                    break
                offset, length = offset + copied, length - copied
        while length > 0:
            block = os.pread(handle, min(length, 1 << 24), offset)
            if not block:
                raise OSError(f"{name}: {offset} バイト目から先を読めません")
            out.write(block)
            out.flush()
            offset, length = offset + len(block), length - len(block)

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
    the spools and the previous index (the lines are already in their stored form). Lines
    that follow each other in their source go as one run, copied by the kernel: an update
    keeps most of the previous files in a few runs (1.1 GB of them at 100,000 sheets)."""
    ends: dict[str, np.ndarray] = {}
    with _Lines() as lines:
        for name, where in ((store.RECORDS_FILE, "record"), (store.TERMS_FILE, "terms")):
            spans = [getattr(sheet, where) for sheet in sheets]
            with open(directory / name, "wb") as out:
                for run in _runs(spans):
                    lines.copy(run, out)
            ends[where] = np.cumsum([length for _, _, length in spans], dtype=np.int64)
    # Where each line ends, so that the next update need not scan the files for newlines.
    with open(directory / store.LINES_FILE, "wb") as out:
        np.savez(out, records=ends["record"], terms=ends["terms"])


def _runs(spans: Iterable[tuple[str, int, int]]) -> Iterator[tuple[str, int, int]]:
    """Adjacent (file, offset, length) spans of one file joined."""
    current: tuple[str, int, int] | None = None
    for name, offset, length in spans:
        if current is not None and current[0] == name and current[1] + current[2] == offset:
            current = (name, current[1], current[2] + length)
            continue
        if current is not None:
            yield current
        current = (name, offset, length)
    if current is not None:
        yield current


REFIT_SHARE = 0.05
"""An update keeps the similarity model's vocabulary and idf (transforming only the sheets it
adds or replaces) until the sheets changed since the last full fit pass this share of the
index; then, and with --rebuild, the model is fitted over every sheet again. A full fit at
10,000 sheets re-read every sheet's terms (6 of an update's 9 s).

What a kept model gets wrong, until the next full fit: a word the changed sheets bring in
and the vocabulary lacks is left out of their vectors, and the idf of the words whose sheet
count the changes moved is the one fitted before. The rows of the unchanged sheets stay
exactly as fitted; only pairs with a changed sheet can move (tests/test_incremental.py
measures how far)."""


@dataclass(frozen=True)
class _Changes:
    """What an update changed, for the cross-references: the keys of the sheets it added,
    replaced or removed, and the previous index's cross-references."""

    keys: set[str]
    previous: CrossReferences | None


def _fit_similarity(
    directory: Path,
    sheets: Sequence[_Sheet],
    counts: FeatureCounts,
    frozen: Path | None,
    changes: _Changes,
) -> bool:
    """The similarity model, then the cross-references (which use it to tell apart projects
    of the same name). With ``frozen`` (the previous index), the previous model's vocabulary
    and idf are kept and only the sheets of this run are transformed, when it can place them;
    otherwise the model is fitted again over every sheet, the sheets kept from the previous
    index giving their features from their stored terms. True when the model was kept."""
    infos = [sheet.info for sheet in sheets]
    keys = [info.key for info in infos]
    years = [info.fiscal_year for info in infos]
    projects = [(info.municipality, info.project_no) for info in infos]
    fitted = None
    if frozen is not None:
        with contextlib.suppress(IndexCorruptError):  # fitted anew below, from the terms
            fitted = counts.update(SimilarityModel.load(frozen), keys, years, projects)
    kept = fitted is not None
    if fitted is None:
        fitted = _fit_all(sheets, counts, keys, years, projects)
    fitted.save(directory)
    with _Lines() as lines:
        named = cast("Sequence[SheetRecord]", _NamedSheets(sheets, lines))
        similarity = fitted.batch_similarity()
        mentions: dict[str, list[str]] = {}
        update = _referencing(infos, changes) if kept else None
        if update is None:
            references = find_cross_references(named, similarity=similarity, mentions=mentions)
        else:
            sources, kept_references, kept_mentions = update
            mentions.update(kept_mentions)
            found = find_cross_references(
                named, similarity=similarity, sources=sources, mentions=mentions
            )
            references = sorted(
                [*kept_references, *found],
                key=lambda reference: (reference.source, reference.target),
            )
    CrossReferences(infos, references, mentions).save(directory)
    return kept


def _referencing(
    infos: Sequence[SheetInfo], changes: _Changes
) -> tuple[list[int], list[CrossReference], dict[str, list[str]]] | None:
    """For an update that kept the similarity model: the sheets (positions in ``infos``)
    whose references it may have changed, and the references and mentions of the others,
    which stay as they were. None when every sheet has to be scanned again.

    A sheet's references come from the names its passages hold, the sheets of its year
    that bear each name, and (between several) the cosines, which a kept model leaves as
    they were for unchanged sheets. So with the same set of names in the index, they change
    only for the changed sheets and for the sheets that name a changed sheet (old name or
    new). A new or lost name can change where the scan matches anywhere (a longer name
    hides a shorter one): then every sheet is scanned again."""
    previous = changes.previous
    if previous is None or previous.mentions is None:
        return None
    old = previous.sheets
    now = {info.key: info for info in infos}
    # The names depend on the project names only: the same ones among the changed sheets
    # before and after, the same names (comparing the whole index costs 0.5 s at 10,000).
    before = sorted(old[key].project_name for key in changes.keys if key in old)
    after = sorted(now[key].project_name for key in changes.keys if key in now)
    if before != after and name_kinds(info.project_name for info in old.values()) != name_kinds(
        info.project_name for info in infos
    ):
        return None
    places: set[tuple[str, str, int]] = set()
    for key in changes.keys:
        for info in (old.get(key), now.get(key)):
            if info is not None:
                places |= name_places(info.municipality, info.project_name, info.fiscal_year)
    affected = set(changes.keys)
    for key, names in previous.mentions.items():
        info = now.get(key)
        if info is not None and any(
            (info.municipality, name, info.fiscal_year) in places for name in names
        ):
            affected.add(key)
    sources = [row for row, info in enumerate(infos) if info.key in affected]
    kept_references = [
        reference
        for reference in previous.references
        if reference.source not in affected and reference.source in now
    ]
    kept_mentions = {
        key: list(names)
        for key, names in previous.mentions.items()
        if key not in affected and key in now
    }
    return sources, kept_references, kept_mentions


def _fit_all(
    sheets: Sequence[_Sheet],
    counts: FeatureCounts,
    keys: list[str],
    years: list[int],
    projects: list[tuple[str, str]],
) -> SimilarityModel:
    """The model fitted over every sheet (those kept from the previous index give their
    features from their stored terms)."""
    model = counts.model
    with _Lines() as lines:
        for sheet in sheets:
            if sheet.key not in counts:
                _, passages = json.loads(lines.read(sheet.terms))
                analyzed = {
                    label: [Term._make(item) for item in items] for label, items in passages.items()
                }
                counts.add(sheet.key, model.sheet_features(analyzed))
    return counts.fit(keys, years, projects)


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
