"""Budget rows placed by the form's arithmetic, and contradictions reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsearch.parse import parse_text
from evalsearch.parse.budget import ValueRow, parse_number, place_budget

SAMPLE_TEXT = (Path(__file__).parent / "data" / "sheets" / "000_e354498715c974cd.txt").read_text(
    "utf-8"
)


def row(*values: float | None, label: str | None = None, near: tuple[str, ...] = ()) -> ValueRow:
    return ValueRow(tuple(values), line=1, label=label, neighbours=frozenset(near))


@pytest.mark.parametrize(
    ("cell", "value"),
    [("2,017", 2017), ("0", 0), ("0.17", 0.17), ("-", None), ("1,234.5", 1234.5)],
)
def test_parse_number(cell: str, value: float | None) -> None:
    assert parse_number(cell) == value


def test_unlabeled_rows_are_placed_by_arithmetic() -> None:
    budget, warnings = place_budget(
        [
            row(750, 750, 750, near=("columns", "national_prefectural")),
            row(750, 750, 750, near=("general_revenue",)),
            row(2017, 2017, 2017, label="total_cost"),
            row(0.17, 0.17, 0.17, label="staff_fte"),
            row(1267, 1267, 1267),
        ]
    )
    assert budget.project_cost == (750, 750, 750)
    assert budget.general_revenue == (750, 750, 750)
    assert budget.staff_cost == (1267, 1267, 1267)
    assert budget.national_prefectural == (None, None, None)
    assert warnings == []


def test_staff_cost_follows_the_printed_unit_cost() -> None:
    budget, warnings = place_budget(
        [row(1.0, 1.0, 1.0, label="staff_fte"), row(8000, 8000, 8000)], unit_cost=8000
    )
    assert budget.staff_cost == (8000, 8000, 8000)
    assert warnings == []


def test_a_row_with_no_evidence_stays_out_with_a_warning() -> None:
    budget, warnings = place_budget([row(123, 456, 789)])
    assert all(
        budget.row(name) == (None, None, None)
        for name in ("project_cost", "staff_cost", "total_cost")
    )
    assert warnings == ["予算表の値の行「123 456 789」（1行目）をどの項目にも特定できません"]


def test_a_contradicting_labelled_row_is_kept_and_reported() -> None:
    budget, warnings = place_budget(
        [
            row(500, 500, 500, label="project_cost"),
            row(0.04, 0.04, 0.04, label="staff_fte"),
            row(298, 298, 298, label="staff_cost"),
            row(900, 798, 798, label="total_cost"),
        ]
    )
    assert budget.total_cost == (900, 798, 798)
    assert warnings == ["R5予算: 総事業費が事業費＋職員人件費と一致しません"]


def test_a_row_that_breaks_every_placement_is_not_forced_in() -> None:
    budget, warnings = place_budget(
        [
            row(0.31, 0.31, 0.31, label="staff_fte"),
            row(1200, 1200, 1200, label="project_cost"),
            row(3518, 3518, 3518, label="total_cost"),
            row(2318, 2318, 2318),  # 0.31 × 7,455 = 2,311: not the staff cost
        ]
    )
    assert budget.staff_cost == (None, None, None)
    assert any("2318 2318 2318" in warning for warning in warnings)


def test_breakdown_contradiction_on_a_sheet_is_a_warning() -> None:
    text = SAMPLE_TEXT.replace("訳 その他 500 500 500", "訳 その他 400 500 500")
    record = parse_text(text, file="b.txt")[1]
    assert record.budget.other == (400, 500, 500)
    assert any("R5予算: 事業費が内訳" in warning for warning in record.warnings)


def test_blank_columns_stay_blank() -> None:
    budget, _ = place_budget([row(None, 500, None, label="project_cost")])
    assert budget.project_cost == (None, 500, None)
