"""Shared fixtures. Helpers that build records for tests live in tests/factories.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsearch.records import SheetRecord

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DUMP = REPO / "corpus" / "000_e354498715c974cd.txt"
SAMPLE_EXPECTED = REPO / "tests" / "data" / "sheets" / "000_e354498715c974cd.expected.json"


@pytest.fixture
def sample_dump() -> Path:
    return SAMPLE_DUMP


@pytest.fixture
def sample_expected_records() -> list[SheetRecord]:
    """The human-read reference records of the sample (keys it lacks take defaults)."""
    return [SheetRecord.from_dict(item) for item in json.loads(SAMPLE_EXPECTED.read_text("utf-8"))]
