"""An index directory on disk: the manifest, the record store and the analysed terms. No whoosh.

An index directory holds::

    manifest.json   one version stamp for everything below, the indexed source files and
                    a fingerprint (size + checksum) of every other file in the directory
    records.jsonl   every indexed record (SheetRecord JSON form), for show/similar/report
    terms.jsonl     every record's analysed passages, so an incremental run re-analyses nothing
    store-lines.npz where each line of the two files above ends (an update finds the lines
                    it keeps without reading the files)
    whoosh/         the search engine's files (evalsearch.engine)
    similarity-*    the TF-IDF model (evalsearch.similarity)
    crossrefs.json  names mentioned between sheets and per-sheet facts (evalsearch.crossref)

The manifest is written last: a directory without one is no index, and a file truncated or
emptied after the build no longer matches its fingerprint, so every command refuses the index
the same way (``IndexCorruptError`` with the rebuild command).
"""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalsearch.analysis import Term, dictionary_version
from evalsearch.errors import (
    AmbiguousProjectError,
    EvalSearchError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    project_not_found,
    rebuild_hint,
)
from evalsearch.records import SheetRecord

SCHEMA_VERSION = 5
"""Bump whenever the on-disk layout, the engine's schema or the analysis rules change."""

MANIFEST = "manifest.json"
RECORDS_FILE = "records.jsonl"
TERMS_FILE = "terms.jsonl"
LINES_FILE = "store-lines.npz"

FINGERPRINT_SAMPLE = 1 << 16
"""Bytes hashed at each end of a file for its fingerprint. Hashing whole files would cost a
second per 500 MB on every command; a truncated, emptied or overwritten file changes its size
or its first or last block, which is what the fingerprint is for."""

AnalyzedSheet = dict[str, list[Term]]
"""A sheet's analysed passages: passage label -> terms."""


def default_index_dir() -> Path:
    """``$EVALSEARCH_INDEX`` or ``./index``."""
    return Path(os.environ.get("EVALSEARCH_INDEX") or "index")


def corrupt(directory: Path, detail: str) -> IndexCorruptError:
    return IndexCorruptError(
        f"索引 {directory} が壊れているため読み込めません（{detail}）。{rebuild_hint(directory)}"
    )


# --- the location ------------------------------------------------------------------------


def has_content(directory: Path) -> bool:
    """Whether ``directory`` holds anything but dotfiles (the repository's index/.gitkeep)."""
    return directory.is_dir() and any(not p.name.startswith(".") for p in directory.iterdir())


def is_index_dir(directory: Path) -> bool:
    """An index, or what is left of one (its manifest lost, its engine files still there)."""
    return (directory / MANIFEST).exists() or (directory / "whoosh").is_dir()


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


# --- the manifest ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """Size and a checksum of a file's first and last ``FINGERPRINT_SAMPLE`` bytes."""

    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Fingerprint:
        size = path.stat().st_size
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            digest.update(handle.read(FINGERPRINT_SAMPLE))
            if size > 2 * FINGERPRINT_SAMPLE:
                handle.seek(size - FINGERPRINT_SAMPLE)
            digest.update(handle.read(FINGERPRINT_SAMPLE))
        return cls(size, digest.hexdigest())

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        return cls(int(data["size"]), str(data["sha256"]))


Stamp = tuple[int, int, int, int]
"""A file's (size, mtime_ns, ctime_ns, inode) when it was hashed."""


def stamp_of(stat: os.stat_result) -> Stamp:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


@dataclass(frozen=True)
class SourceFile:
    """An indexed source file: its content hash, the keys of the sheets it gave, the form
    profile it was forced through (``--form``; None when chosen per file), and its ``Stamp``
    when it was hashed: a file with the same stamp is not hashed again (hashing every file
    was 0.2 s of an update at 10,000 sheets). The change time is in it because a write
    always moves it, while a copy or an archive tool may set the modification time back."""

    sha256: str
    keys: tuple[str, ...]
    form: str | None = None
    stamp: Stamp | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sha256": self.sha256, "keys": list(self.keys), "form": self.form}
        if self.stamp is not None:
            out["stamp"] = list(self.stamp)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceFile:
        stamp = data.get("stamp")
        return cls(
            str(data["sha256"]),
            tuple(data.get("keys") or ()),
            data.get("form"),
            None if stamp is None else (int(stamp[0]), int(stamp[1]), int(stamp[2]), int(stamp[3])),
        )


@dataclass(frozen=True)
class Manifest:
    """The one version stamp of an index directory and what it holds."""

    files: Mapping[str, SourceFile]
    records: int
    artefacts: Mapping[str, Fingerprint] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    dictionary_version: str = field(default_factory=dictionary_version)
    settings: Mapping[str, str] = field(default_factory=dict)
    """Versions of data the index depends on beyond the dictionary (e.g. synonyms)."""
    similarity_changed: int = 0
    """Sheets added, replaced or removed since the similarity model was last fitted in full
    (the runs between keep its vocabulary and idf: evalsearch.build)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "dictionary_version": self.dictionary_version,
            "settings": dict(self.settings),
            "records": self.records,
            "similarity_changed": self.similarity_changed,
            "files": {path: entry.to_dict() for path, entry in sorted(self.files.items())},
            "artefacts": {
                name: print_.to_dict() for name, print_ in sorted(self.artefacts.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            files={path: SourceFile.from_dict(entry) for path, entry in data["files"].items()},
            records=int(data["records"]),
            artefacts={
                name: Fingerprint.from_dict(entry)
                for name, entry in (data.get("artefacts") or {}).items()
            },
            schema_version=int(data["schema_version"]),
            dictionary_version=str(data["dictionary_version"]),
            settings=dict(data.get("settings") or {}),
            similarity_changed=int(data.get("similarity_changed") or 0),
        )


def _artefact_paths(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != MANIFEST and not path.name.startswith("."):
            yield path


def write_manifest(
    directory: Path,
    files: Mapping[str, SourceFile],
    records: int,
    settings: Mapping[str, str] | None = None,
    similarity_changed: int = 0,
) -> Manifest:
    """Fingerprint every file now in ``directory`` and write the manifest (last of all)."""
    artefacts = {
        path.relative_to(directory).as_posix(): Fingerprint.of(path)
        for path in _artefact_paths(directory)
    }
    manifest = Manifest(
        files,
        records,
        artefacts,
        settings=dict(settings or {}),
        similarity_changed=similarity_changed,
    )
    (directory / MANIFEST).write_text(
        json.dumps(manifest.to_dict(), ensure_ascii=False, indent=1), "utf-8"
    )
    return manifest


def read_manifest(directory: Path, *, verify: bool = True) -> Manifest:
    """The manifest of the index at ``directory``, after the version checks and (``verify``)
    the check of every file against its fingerprint."""
    directory = Path(directory)
    check_index_location(directory)
    path = directory / MANIFEST
    if not path.exists():
        if has_content(directory):
            raise corrupt(directory, f"{MANIFEST} がありません")
        raise IndexNotFoundError(
            f"索引 {directory} がありません。"
            f"`evalsearch index PATH... --index {directory}` で作ってください。"
        )
    try:
        data = json.loads(path.read_text("utf-8"))
        version = data.get("schema_version")
    except (OSError, ValueError, AttributeError) as error:
        raise corrupt(directory, f"{MANIFEST}: {error}") from error
    if version != SCHEMA_VERSION:
        raise IndexVersionError(
            f"索引 {directory} は別の版の evalsearch で作られています"
            f"（版 {version}、現在 {SCHEMA_VERSION}）。{rebuild_hint(directory)}"
        )
    current = dictionary_version()
    if data.get("dictionary_version") != current:
        raise IndexVersionError(
            f"索引 {directory} は別の Sudachi 辞書（{data.get('dictionary_version')}）で"
            f"作られています（現在 {current}）。{rebuild_hint(directory)}"
        )
    try:
        manifest = Manifest.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise corrupt(directory, f"{MANIFEST}: {error!r}") from error
    if verify:
        verify_artefacts(directory, manifest)
    return manifest


def verify_artefacts(directory: Path, manifest: Manifest) -> None:
    for name, expected in manifest.artefacts.items():
        path = directory / name
        try:
            actual = Fingerprint.of(path)
        except OSError as error:
            raise corrupt(directory, f"{name} を読めません: {error.strerror or error}") from error
        if actual.size != expected.size:
            raise corrupt(
                directory,
                f"{name} の大きさが作成時と違います（{actual.size} / {expected.size} バイト）",
            )
        if actual != expected:
            raise corrupt(directory, f"{name} の内容が作成時と違います")


# --- records and terms -------------------------------------------------------------------


def write_records(directory: Path, records: Iterable[SheetRecord]) -> None:
    with (directory / RECORDS_FILE).open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.to_dict(), ensure_ascii=False))
            out.write("\n")


def write_terms(
    directory: Path, analyzed: Iterable[tuple[str, Mapping[str, Sequence[Term]]]]
) -> None:
    """``(record key, analysed passages)`` pairs as JSON Lines (terms are plain arrays)."""
    # JSON, not pickle, for our own files: nothing in the index runs code when read.
    with (directory / TERMS_FILE).open("w", encoding="utf-8") as out:
        for key, passages in analyzed:
            out.write(json.dumps([key, passages], ensure_ascii=False, separators=(",", ":")))
            out.write("\n")


def iter_terms(directory: Path) -> Iterator[tuple[str, AnalyzedSheet]]:
    """``(record key, analysed passages)`` in stored order, one sheet at a time."""
    make = Term._make
    try:
        with (directory / TERMS_FILE).open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    key, passages = json.loads(line)
                    yield (
                        key,
                        {
                            label: [make(item) for item in items]
                            for label, items in passages.items()
                        },
                    )
                except (ValueError, TypeError) as error:
                    raise corrupt(directory, f"{TERMS_FILE} {number}行目: {error}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise corrupt(directory, f"{TERMS_FILE}: {error}") from error


def iter_records(directory: Path) -> Iterator[SheetRecord]:
    try:
        with (directory / RECORDS_FILE).open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    yield SheetRecord.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError) as error:
                    raise corrupt(directory, f"{RECORDS_FILE} {number}行目: {error!r}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise corrupt(directory, f"{RECORDS_FILE}: {error}") from error


class RecordStore:
    """The records of one index, read on first use; the one resolver of project references."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._records: list[SheetRecord] | None = None
        self._by_key: dict[str, SheetRecord] = {}
        self._by_reference: dict[str, list[SheetRecord]] = {}

    def records(self) -> list[SheetRecord]:
        """Every record, in indexing order."""
        if self._records is None:
            self._records = list(iter_records(self.directory))
            self._by_key = {record.key: record for record in self._records}
            # One lookup per reference (project number or id) instead of a scan per question:
            # at 10,000 sheets the scan was two thirds of a warm `similar`.
            self._by_reference = {}
            for record in self._records:
                for reference in dict.fromkeys((record.project_no, record.id)):
                    self._by_reference.setdefault(reference, []).append(record)
        return self._records

    def get(self, key: str) -> SheetRecord:
        """The record with this key (``根室市/2023-12276``); KeyError if none."""
        self.records()
        return self._by_key[key]

    def find(
        self, reference: str, *, year: int | None = None, municipality: str | None = None
    ) -> list[SheetRecord]:
        """The sheets ``reference`` names, newest year first.

        ``reference`` is a project number (12276), an id (2023-12276) or either after a
        municipality (``大船渡市/0086``); full-width digits are read as digits. A reference
        found in several municipalities is an error listing them, unless ``municipality``
        picks one. Raises ProjectNotFoundError when nothing matches.
        """
        wanted = unicodedata.normalize("NFKC", reference).strip()
        if "/" in wanted:
            municipality, _, wanted = wanted.rpartition("/")
        self.records()
        found = [
            record
            for record in self._by_reference.get(wanted, ())
            if (year is None or record.fiscal_year == year)
            and (municipality is None or record.municipality == municipality)
        ]
        if not found:
            raise project_not_found(reference, year)
        places = sorted({record.municipality for record in found})
        if len(places) > 1:
            raise AmbiguousProjectError(
                f"事業 {reference} は複数の自治体にあります。"
                f"{'、'.join(f'{place}/{wanted}' for place in places)} のように自治体名を付けて"
                "指定してください。"
            )
        return sorted(found, key=lambda record: record.fiscal_year, reverse=True)
