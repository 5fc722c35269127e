"""Shared fixtures. Helpers that build records for tests live in tests/factories.py.

One index per test corpus, built once per session and opened once with ``evalsearch.open``
(the handle stays open, as an application would keep it). These handles are shared: a test
that damages or updates an index works on a copy (``copy_index``) or builds its own on
``tmp_path``.

* ``sample_index``     the sample dump corpus/000_e354498715c974cd.txt, as parsed
* ``reference_index``  the human-read reference records of that sample (tests/data/sheets),
                       written back as a clean dump (its ウ・エ・オ answers are all known)
* ``search_index``     the sample and the sheets of tests/search_corpus.py
* ``themed_index``     THEMED of tests/themed_corpus.py (overlapping pairs and distractors)
* ``years_index``      YEARS of tests/themed_corpus.py (one project over two fiscal years)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import evalsearch
from evalsearch.handle import Index
from evalsearch.records import SheetRecord
from tests.factories import build_test_index

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DUMP = REPO / "corpus" / "000_e354498715c974cd.txt"
SAMPLE_EXPECTED = REPO / "tests" / "data" / "sheets" / "000_e354498715c974cd.expected.json"


def reference_records() -> list[SheetRecord]:
    """The human-read reference records of the sample (keys it lacks take defaults)."""
    return [SheetRecord.from_dict(item) for item in json.loads(SAMPLE_EXPECTED.read_text("utf-8"))]


def copy_index(ix: Index, target: Path) -> Path:
    """A copy of a shared index that a test may damage or update."""
    shutil.copytree(ix.path, target)
    return target


@pytest.fixture
def sample_dump() -> Path:
    return SAMPLE_DUMP


@pytest.fixture
def sample_expected_records() -> list[SheetRecord]:
    return reference_records()


def _opened(
    factory: pytest.TempPathFactory, name: str, files: dict[str, object]
) -> Iterator[Index]:
    index_dir = build_test_index(factory.mktemp(name), files)  # type: ignore[arg-type]
    with evalsearch.open(index_dir) as ix:
        yield ix


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    yield from _opened(tmp_path_factory, "sample", {SAMPLE_DUMP.name: SAMPLE_DUMP})


@pytest.fixture(scope="session")
def reference_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    yield from _opened(tmp_path_factory, "reference", {"reference.txt": reference_records()})


@pytest.fixture(scope="session")
def search_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    from tests.search_corpus import TEST_SHEETS

    yield from _opened(
        tmp_path_factory,
        "search",
        {SAMPLE_DUMP.name: SAMPLE_DUMP, "search_sheets.txt": TEST_SHEETS},
    )


@pytest.fixture(scope="session")
def themed_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    from tests.themed_corpus import THEMED

    yield from _opened(tmp_path_factory, "themed", {"themed.txt": THEMED})


@pytest.fixture(scope="session")
def years_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    from tests.themed_corpus import YEARS

    yield from _opened(tmp_path_factory, "years", {"years.txt": YEARS})
