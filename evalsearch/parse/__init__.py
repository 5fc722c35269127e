"""Text dumps of evaluation sheets → SheetRecords.

``parse_paths`` is the entry point: files and directories in, records out lazily, in file order
then sheet order. Every problem is a ``ParseError`` naming the file and the sheet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from evalsearch.errors import DuplicateRecordError, ParseError, StrictModeError
from evalsearch.parse.lexer import Kind, lex_lines
from evalsearch.parse.sheet import read_sheet, split_sheets
from evalsearch.records import SheetRecord

DUMP_SUFFIX = ".txt"
COMMENT_PREFIX = "#"

__all__ = ["DUMP_SUFFIX", "iter_dump_files", "parse_file", "parse_paths", "parse_text", "read_dump"]


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


def read_dump(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParseError(
            "ファイルが見つかりません。パスを確認してください", file=str(path)
        ) from None
    except OSError as error:
        raise ParseError(f"ファイルを読めません（{error.strerror}）", file=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ParseError(
            "UTF-8 のテキストとして読めません。PDF そのものではなく、テキストに書き出したものを指定してください",
            file=str(path),
        ) from None


def parse_file(path: str | Path) -> list[SheetRecord]:
    path = Path(path)
    return parse_text(read_dump(path), file=str(path))


def iter_dump_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The given files, and the ``*.txt`` files under the given directories, sorted; each once."""
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob(f"*{DUMP_SUFFIX}") if p.is_file())
            if not found:
                raise ParseError(
                    f"テキストダンプ（*{DUMP_SUFFIX}）がありません。ディレクトリを確認してください",
                    file=str(path),
                )
        elif path.exists():
            found = [path]
        else:
            raise ParseError(
                "ファイルまたはディレクトリが見つかりません。パスを確認してください", file=str(path)
            )
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                yield file


def parse_paths(paths: Iterable[str | Path], *, strict: bool = False) -> Iterator[SheetRecord]:
    """Records of every sheet, lazily; duplicate ids and (with ``strict``) warnings are errors."""
    seen: dict[str, SheetRecord] = {}
    for path in iter_dump_files(paths):
        for record in parse_file(path):
            check_record(record, seen, strict=strict)
            yield record


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
