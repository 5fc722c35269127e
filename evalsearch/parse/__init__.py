"""Text dumps of evaluation sheets → SheetRecords.

Files and directories in, records out, in file order then sheet order. Every problem is a
``ParseError`` naming the file and the sheet.

* ``parse_files`` reads every file and yields one ``FileOutcome`` each (records, the encoding
  the file was in, or the error); a bad file does not stop the others, and unless
  ``keep_going`` the run ends with ``ParseErrors`` naming every bad file;
* ``parse_paths`` yields the records of the good files, lazily, and raises at the end (the
  bad file's own error if there is one, ``ParseErrors`` if several);
* ``read_dump_file`` detects the encoding (``encoding.decode_dump``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from evalsearch.errors import DuplicateRecordError, ParseError, ParseErrors, StrictModeError
from evalsearch.parse.encoding import ENCODING_LABELS, decode_dump, read_bytes
from evalsearch.parse.lexer import Kind, lex_lines
from evalsearch.parse.sheet import read_sheet, split_sheets
from evalsearch.records import SheetRecord

DUMP_SUFFIX = ".txt"
COMMENT_PREFIX = "#"

__all__ = [
    "DUMP_SUFFIX",
    "ENCODING_LABELS",
    "DumpFile",
    "FileOutcome",
    "check_record",
    "iter_dump_files",
    "parse_file",
    "parse_files",
    "parse_paths",
    "parse_text",
    "read_dump",
    "read_dump_file",
]


@dataclass(frozen=True)
class DumpFile:
    """A dump file's text and the encoding it was read in."""

    path: Path
    text: str
    encoding: str
    """A key of ``ENCODING_LABELS`` (a Python codec name: ``utf-8``, ``utf-8-sig``, ``utf-16``,
    ``utf-16-le``, ``utf-16-be`` or ``cp932``)."""

    @property
    def encoding_label(self) -> str:
        """The encoding as shown to users, e.g. ``CP932（Shift_JIS）``."""
        return ENCODING_LABELS[self.encoding]


@dataclass(frozen=True)
class FileOutcome:
    """What reading one file gave: its records, or the error that stopped it."""

    path: Path
    encoding: str | None
    """The encoding the file was read in; None when it could not be decoded (or found)."""
    records: tuple[SheetRecord, ...] = ()
    error: ParseError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def encoding_label(self) -> str | None:
        return None if self.encoding is None else ENCODING_LABELS[self.encoding]


def parse_text(text: str, *, file: str = "<text>") -> list[SheetRecord]:
    """Every sheet in one dump's text. Lines starting with ``#`` are comments."""
    lines = ["" if line.startswith(COMMENT_PREFIX) else line for line in text.splitlines()]
    tokens = lex_lines(lines)
    if not any(token.kind is Kind.LABEL and token.key == "title" for token in tokens):
        raise ParseError(
            "事務事業評価シートのテキストダンプではありません"
            "（表題「事務事業評価（中間評価）シート【令和…年度】」が見つかりません）",
            file=file,
        )
    return [
        read_sheet(sheet_tokens, file=file, sheet=index)
        for index, sheet_tokens in enumerate(split_sheets(tokens))
    ]


def read_dump_file(path: str | Path) -> DumpFile:
    """The file's text in the encoding detected from its bytes (``encoding.decode_dump``)."""
    path = Path(path)
    text, encoding = decode_dump(read_bytes(path), file=str(path))
    return DumpFile(path, text, encoding)


def read_dump(path: Path) -> str:
    """The file's text (``read_dump_file`` also tells the encoding)."""
    return read_dump_file(path).text


def parse_file(path: str | Path) -> list[SheetRecord]:
    path = Path(path)
    return parse_text(read_dump(path), file=str(path))


def iter_dump_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The given files, and the ``*.txt`` files (any case) under the given directories, sorted;
    each once. A missing path or a directory without dumps raises ParseError."""
    for entry in _dump_entries(paths):
        if isinstance(entry, ParseError):
            raise entry
        yield entry


def _dump_entries(paths: Iterable[str | Path]) -> Iterator[Path | ParseError]:
    """``iter_dump_files``, with the error for a bad path in its place instead of raised."""
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # Suffixes match in any case: archives copied from Windows have SHEET.TXT.
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() == DUMP_SUFFIX and p.is_file()
            )
            if not found:
                yield ParseError(
                    f"テキストダンプ（*{DUMP_SUFFIX}）がありません。ディレクトリを確認してください",
                    file=str(path),
                )
        elif path.exists():
            found = [path]
        else:
            yield ParseError(
                "ファイルまたはディレクトリが見つかりません。パスを確認してください", file=str(path)
            )
            continue
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                yield file


def parse_files(
    paths: Iterable[str | Path], *, strict: bool = False, keep_going: bool = False
) -> Iterator[FileOutcome]:
    """One outcome per dump file (and per missing path or empty directory), lazily, in order.

    A file is read whole or not at all: an unreadable or undecodable file, a sheet that is
    not a sheet, an id already read (``DuplicateRecordError``) or, with ``strict``, a warning
    (``StrictModeError``) makes that file's outcome an error and the others are still read.
    At the end, unless ``keep_going``, ``ParseErrors`` lists every file's error.
    """
    seen: dict[str, SheetRecord] = {}
    errors: list[ParseError] = []
    for entry in _dump_entries(paths):
        if isinstance(entry, ParseError):
            outcome = FileOutcome(Path(entry.file or ""), None, error=entry)
        else:
            outcome = _parse_one(entry, seen, strict=strict)
        if outcome.error is not None:
            errors.append(outcome.error)
        yield outcome
    if errors and not keep_going:
        raise ParseErrors(errors)


def _parse_one(path: Path, seen: dict[str, SheetRecord], *, strict: bool) -> FileOutcome:
    try:
        dump = read_dump_file(path)
    except ParseError as error:
        return FileOutcome(path, None, error=error)
    added: list[str] = []
    try:
        records = parse_text(dump.text, file=str(path))
        for record in records:
            check_record(record, seen, strict=strict)
            added.append(record.id)
    except ParseError as error:
        # The file is dropped whole: forget its ids so that they do not clash later.
        for record_id in added:
            del seen[record_id]
        return FileOutcome(path, dump.encoding, error=error)
    return FileOutcome(path, dump.encoding, tuple(records))


def parse_paths(paths: Iterable[str | Path], *, strict: bool = False) -> Iterator[SheetRecord]:
    """Records of every sheet of the good files, lazily; duplicate ids and (with ``strict``)
    warnings are errors. Bad files are raised at the end: the file's own ParseError when one
    file is bad, ``ParseErrors`` naming each when several are."""
    errors: list[ParseError] = []
    for outcome in parse_files(paths, strict=strict, keep_going=True):
        if outcome.error is not None:
            errors.append(outcome.error)
        yield from outcome.records
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ParseErrors(errors)


def check_record(record: SheetRecord, seen: dict[str, SheetRecord], *, strict: bool) -> None:
    """Raise for a duplicate id or, in strict mode, for warnings; remember the record."""
    if record.id in seen:
        first = seen[record.id].source
        raise DuplicateRecordError(
            f"同じID {record.id}（年度-事業番号）のシートが2つあります"
            f"（先に {first.file} シート{first.sheet_index + 1}）。どちらかを除いてください",
            file=record.source.file,
            sheet=record.source.sheet_index,
        )
    if strict and record.warnings:
        raise StrictModeError(
            "警告があります（--strict）: " + "／".join(record.warnings),
            file=record.source.file,
            sheet=record.source.sheet_index,
        )
    seen[record.id] = record
