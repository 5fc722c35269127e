"""Rows of cells out of .xlsx and .csv files, with the row numbers a spreadsheet shows.

Only opening and decoding lives here; what the cells mean is ``table.py``'s business. Every
failure becomes a ``ParseError`` naming the file and saying how to fix it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError as XMLParseError

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from evalsearch.errors import ParseError
from evalsearch.parse.encoding import read_bytes
from evalsearch.readers.encoding import decode_table_bytes

Cell = object
Row = tuple[Cell, ...]

XLSX_SUFFIXES: tuple[str, ...] = (".xlsx", ".xlsm")
CSV_DELIMITERS: dict[str, str] = {".csv": ",", ".tsv": "\t"}
TABLE_SUFFIXES: tuple[str, ...] = (*XLSX_SUFFIXES, *CSV_DELIMITERS)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""Compound-file signature: an encrypted .xlsx or an old binary .xls, never a real .xlsx."""


@dataclass
class RawSheet:
    """One worksheet (or the one table of a CSV): its name and ``(row number, cells)`` pairs."""

    name: str | None
    rows: Iterator[tuple[int, Row]]


@contextmanager
def open_sheets(path: Path) -> Iterator[list[RawSheet]]:
    """The sheets of a table file, read lazily; the file is closed when the block ends."""
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        with _open_xlsx(path) as sheets:
            yield sheets
    elif suffix in CSV_DELIMITERS:
        yield [RawSheet(None, _csv_rows(path, CSV_DELIMITERS[suffix]))]
    else:
        raise ParseError(
            f"表として読める形式ではありません（{', '.join(TABLE_SUFFIXES)} を読めます）",
            file=str(path),
        )


@contextmanager
def _open_xlsx(path: Path) -> Iterator[list[RawSheet]]:
    try:
        # read_only streams rows instead of building every cell object (407×210 cells);
        # data_only reads the values Excel cached, never the formulas.
        workbook = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise ParseError(
            "ファイルが見つかりません。パスを確認してください", file=str(path)
        ) from None
    except (zipfile.BadZipFile, InvalidFileException, KeyError, XMLParseError):
        raise _not_xlsx(path) from None
    except OSError as error:
        raise ParseError(f"ファイルを読めません（{error.strerror}）", file=str(path)) from None
    try:
        sheets = []
        for worksheet in workbook.worksheets:
            # The stored dimension can be wrong in files written by other tools; without it
            # openpyxl reads every row and column that is really there.
            worksheet.reset_dimensions()
            sheets.append(RawSheet(worksheet.title, _xlsx_rows(path, worksheet)))
        yield sheets
    finally:
        workbook.close()


def _xlsx_rows(path: Path, worksheet: Any) -> Iterator[tuple[int, Row]]:
    try:
        yield from enumerate(worksheet.iter_rows(values_only=True), start=1)
    except (zipfile.BadZipFile, XMLParseError, KeyError, EOFError):
        raise ParseError(
            "Excel ブックが壊れていて最後まで読めません。Excel で開いて保存し直してください",
            file=str(path),
        ) from None


def _not_xlsx(path: Path) -> ParseError:
    try:
        with path.open("rb") as stream:
            head = stream.read(len(OLE_MAGIC))
    except OSError:
        head = b""
    if head == OLE_MAGIC:
        return ParseError(
            "パスワードで保護（暗号化）された Excel ブックか、古い .xls 形式です。Excel で開いて"
            "パスワードを外し、「Excel ブック（*.xlsx）」で保存し直してください",
            file=str(path),
        )
    return ParseError(
        "Excel ブック（.xlsx）として読めません（中身が .xlsx ではないか、壊れています）。"
        "Excel で開けるか確かめ、.xlsx で保存し直すか CSV で書き出してください",
        file=str(path),
    )


def _csv_rows(path: Path, delimiter: str) -> Iterator[tuple[int, Row]]:
    text, _ = decode_table_bytes(read_bytes(path), file=str(path))
    # newline="" keeps line breaks inside quoted cells, as the csv module requires.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, start=1):
            yield number, tuple(row)
    except csv.Error as error:
        raise ParseError(
            f"CSV として読めません（{reader.line_num} 行目付近: {error}）。引用符の閉じ忘れがないか確かめてください",
            file=str(path),
        ) from None
