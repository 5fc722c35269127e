"""Build SheetRecords for tests without going through a dump file, and small indexes of them."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from evalsearch.records import (
    ITEM_LABELS,
    Assessment,
    Budget,
    Direction,
    SheetRecord,
    SourceRef,
)

DEFAULT_ANSWERS = {
    "ア": "結びついている",
    "イ": "一部可能",
    "ウ": "ない",
    "エ": "一部ある",
    "オ": "ない",
    "カ": "ない",
}


def make_record(
    project_no: str,
    project_name: str,
    *,
    department: str = "総務課",
    fiscal_year: int = 2023,
    reasons: Mapping[str, str] | None = None,
    answers: Mapping[str, str | None] | None = None,
    activities: str = "",
    intent: str = "",
    review_content: str = "",
    outlook_needs: str = "",
    policy_area: str | None = "行政運営の推進",
    decision: str = "現状のまま継続",
    measures: tuple[str, ...] = (),
    total_cost: int = 1000,
    section: str | None = None,
) -> SheetRecord:
    """A complete record; passages not given are empty, answers default to DEFAULT_ANSWERS."""
    reasons = reasons or {}
    chosen = {**DEFAULT_ANSWERS, **(answers or {})}
    return SheetRecord(
        fiscal_year=fiscal_year,
        evaluation_stage="中間",
        project_no=project_no,
        project_name=project_name,
        department=department,
        section=section,
        priority_project=False,
        affairs_type="自治",
        policy_area=policy_area,
        policy_goal=None,
        target=None,
        target_outlook=None,
        activities=activities,
        intent=intent,
        indicators=(),
        budget=Budget(total_cost=(total_cost, total_cost, total_cost)),
        review_status="検討中",
        review_content=review_content,
        outlook_needs=outlook_needs,
        assessments={
            label: Assessment(answer=chosen[label], reason=reasons.get(label, ""))
            for label in ITEM_LABELS
        },
        direction=Direction(decision=decision, measures=measures),
        created="2024-09",
        page=None,
        source=SourceRef(file="factory", sheet_index=0),
    )


def build_test_index(
    root: Path,
    files: Mapping[str, Sequence[SheetRecord] | Path],
    *,
    processes: int = 1,
) -> Path:
    """An index at ``root/index`` of the dumps ``root/corpus/NAME``: each value is records
    (written as a dump by bench/layout.py) or an existing dump file (copied)."""
    from evalsearch.build import build_index
    from tests.search_corpus import write_dump

    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, Path):
            shutil.copy(content, corpus / name)
        else:
            write_dump(corpus / name, content)
    build_index([corpus], root / "index", rebuild=True, processes=processes)
    return root / "index"
