"""Tables of evaluation sheets (.xlsx, .csv) → SheetRecords, read through a form profile.

``read_table`` is the entry point; ``detect_profile`` tells which form a file is in. Every
problem with the file is a ``ParseError`` that names the file (and the row and column when it
is one cell's fault).
"""

from __future__ import annotations

from evalsearch.readers.encoding import decode_table_bytes
from evalsearch.readers.sources import TABLE_SUFFIXES
from evalsearch.readers.table import (
    END_BLANK_ROWS,
    HEADER_SEARCH_ROWS,
    TEXT_DUMP_SUFFIX,
    TableReadResult,
    detect_profile,
    normalise_header,
    read_table,
)

__all__ = [
    "END_BLANK_ROWS",
    "HEADER_SEARCH_ROWS",
    "TABLE_SUFFIXES",
    "TEXT_DUMP_SUFFIX",
    "TableReadResult",
    "decode_table_bytes",
    "detect_profile",
    "normalise_header",
    "read_table",
]
