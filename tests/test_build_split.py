"""Issue #9: a large table is split between the worker processes.

Each part reads the whole file and indexes every other sheet of it; the parent deals the
sheets back into the file's order. What must hold: the same index as one process builds, the
reading errors of a split table named once with their rows, --keep-going per file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from evalsearch import build
from evalsearch.build import build_index
from evalsearch.errors import ParseErrors
from evalsearch.forms import ENV_VAR
from tests.test_readers import HEADERS, ROW_A, ROW_B, TABLES, write_xlsx

FILES = (
    "records.jsonl",
    "terms.jsonl",
    "crossrefs.json",
    "similarity-vocabulary.json",
    "similarity-idf.npy",
    "similarity-vectors.npz",
    "similarity-passages.npz",
)


@pytest.fixture(autouse=True)
def split_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(TABLES))
    monkeypatch.setattr(build, "SPLIT_MIN_BYTES", 0)


def _rows(count: int) -> list[list[object]]:
    rows = []
    for number in range(count):
        row = list(ROW_A if number % 2 else ROW_B)
        row[1] = f"{100 + number:04d}"
        row[2] = f"{row[2]}{number}"
        rows.append(row)
    return rows


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_split_table_is_indexed_as_one_process_indexes_it(tmp_path: Path) -> None:
    table = write_xlsx(tmp_path / "table.xlsx", [HEADERS, *_rows(9)])
    assert build._plan([str(table)], 2) == [(str(table), 0, 2), (str(table), 1, 2)]
    split, single = tmp_path / "split", tmp_path / "single"
    report = build_index([table], split, rebuild=True, processes=2)
    build_index([table], single, rebuild=True, processes=1)
    assert report.sheets_indexed == 9 and report.files_added == 1
    for name in FILES:
        assert _digest(split / name) == _digest(single / name), name


def test_a_split_tables_duplicate_ids_are_named_once_with_both_rows(tmp_path: Path) -> None:
    rows = _rows(5)
    rows[3][1] = rows[1][1]
    table = write_xlsx(tmp_path / "dup.xlsx", [HEADERS, *rows])
    with pytest.raises(ParseErrors) as caught:
        build_index([table], tmp_path / "index", rebuild=True, processes=2)
    assert len(caught.value.errors) == 1
    message = str(caught.value.errors[0])
    assert "3 行目と 5 行目" in message and str(table) in message
    assert not (tmp_path / "index").exists()


def test_keep_going_leaves_out_a_bad_split_table_and_indexes_the_rest(tmp_path: Path) -> None:
    good = write_xlsx(tmp_path / "good.xlsx", [HEADERS, *_rows(4)])
    rows = _rows(4)
    rows[2][1] = rows[0][1]
    bad = write_xlsx(tmp_path / "bad.xlsx", [HEADERS, *rows])
    report = build_index(
        [good, bad], tmp_path / "index", rebuild=True, keep_going=True, processes=2
    )
    assert report.sheets_indexed == 4
    assert len(report.failed) == 1 and str(bad) in report.failed[0]
