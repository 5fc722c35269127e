"""Budget rows placed by the form's arithmetic, and contradictions reported."""

from __future__ import annotations

import itertools
import random
import time
from pathlib import Path

import pytest

from evalsearch.parse import parse_text
from evalsearch.parse.budget import (
    BREAKDOWN_ROWS,
    DEFAULT_STAFF_UNIT_COST,
    ValueRow,
    _broken_message,
    _equations,
    _uses,
    parse_number,
    place_budget,
)
from evalsearch.records import (
    BUDGET_COLUMNS_DEFAULT,
    BUDGET_ROW_TITLES,
    BUDGET_ROWS,
    Budget,
    Number,
)

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


# --- The search against trying every placement ---------------------------------------------
# ``_reference_place_budget`` is the enumerating place_budget the search replaced, kept
# verbatim (slow: (free slots + 1) ** rows placements) as the definition of the right answer.


def _reference_place_budget(
    rows: list[ValueRow], *, unit_cost: int = DEFAULT_STAFF_UNIT_COST
) -> tuple[Budget, list[str]]:
    columns = BUDGET_COLUMNS_DEFAULT
    width = len(columns)
    warnings: list[str] = []
    labelled: dict[str, tuple[Number, ...]] = {}
    unplaced: list[ValueRow] = []
    for row in rows:
        if len(row.values) != width:
            continue
        if row.label is None:
            unplaced.append(row)
        elif row.label in labelled:
            warnings.append(
                f"予算表の「{BUDGET_ROW_TITLES[row.label]}」が2回あります（{row.line}行目を無視）"
            )
        else:
            labelled[row.label] = row.values
    free_slots = [name for name in BUDGET_ROWS if name not in labelled]
    best_score: float | None = None
    best: list[dict[int, str]] = []
    if len(unplaced) > 6:
        warnings.append(f"ラベルのない予算の行が多すぎます（{len(unplaced)}行）")
        candidates: list[tuple[str | None, ...]] = [tuple(None for _ in unplaced)]
    else:
        candidates = list(itertools.product([None, *free_slots], repeat=len(unplaced)))
    for choice in candidates:
        chosen = [slot for slot in choice if slot is not None]
        if len(chosen) != len(set(chosen)):
            continue
        placement = {index: slot for index, slot in enumerate(choice) if slot is not None}
        score = _reference_score(placement, unplaced, labelled, unit_cost, width)
        if score is None:
            continue
        if best_score is None or score > best_score + 1e-9:
            best_score, best = score, [placement]
        elif abs(score - best_score) <= 1e-9:
            best.append(placement)
    final = dict(labelled)
    agreed: dict[str, tuple[Number, ...]] = {}
    if best:
        outcomes = [{slot: unplaced[index].values for index, slot in p.items()} for p in best]
        for slot in set(outcomes[0]):
            if all(outcome.get(slot) == outcomes[0][slot] for outcome in outcomes):
                agreed[slot] = outcomes[0][slot]
    final.update(agreed)
    placed_values = list(agreed.values())
    for row in unplaced:
        if row.values in placed_values:
            placed_values.remove(row.values)
        else:
            shown = " ".join("-" if value is None else str(value) for value in row.values)
            warnings.append(
                f"予算表の値の行「{shown}」（{row.line}行目）をどの項目にも特定できません"
            )
    for name, holds in _equations(final, unit_cost, width):
        if not holds:
            column = columns[int(name.split(":")[1])]
            warnings.append(_broken_message(name.split(":")[0], column))
    budget = Budget(
        columns=tuple(columns),
        **{name: final.get(name, tuple(None for _ in range(width))) for name in BUDGET_ROWS},
    )
    return budget, warnings


def _reference_score(
    placement: dict[int, str],
    unplaced: list[ValueRow],
    labelled: dict[str, tuple[Number, ...]],
    unit_cost: int,
    width: int,
) -> float | None:
    rows = dict(labelled)
    for index, slot in placement.items():
        rows[slot] = unplaced[index].values
    equations = _equations(rows, unit_cost, width)
    score = sum(2.0 if holds else -3.0 for _, holds in equations)
    supported = {slot for name, holds in equations if holds for slot in _uses(name)}
    for index, slot in placement.items():
        row = unplaced[index]
        adjacent = slot in row.neighbours or (
            slot == "project_cost" and "columns" in row.neighbours
        )
        if slot not in supported and not adjacent:
            return None
        score += 0.5 if adjacent else 0.0
        score += 0.25 if slot == "general_revenue" else 0.0
    return score


NEIGHBOURS = (*BUDGET_ROWS, "columns")


def random_budget_rows(rng: random.Random, max_unlabeled: int) -> list[ValueRow]:
    """A budget that obeys the form, printed with some rows unlabeled, some neighbours,
    blanks, zeros, duplicates, typos and stray rows: every case the search must agree on."""
    fte = [rng.choice((0.1, 0.17, 0.5, 1.0, 0.04, 0.0, 2.0)) for _ in range(3)]
    staff = [round(f * DEFAULT_STAFF_UNIT_COST) for f in fte]
    parts = {
        name: [rng.choice((0, 0, 100, 250, 750, 1200, 3000)) for _ in range(3)]
        for name in BREAKDOWN_ROWS
    }
    project = [sum(parts[name][c] for name in BREAKDOWN_ROWS) for c in range(3)]
    values: dict[str, list[Number]] = {
        **parts,
        "project_cost": project,
        "staff_fte": fte,
        "staff_cost": staff,
        "total_cost": [p + s for p, s in zip(project, staff, strict=True)],
    }
    if rng.random() < 0.3:  # a sheet where every column is the same
        values = {name: [row[0]] * 3 for name, row in values.items()}
    for row in values.values():
        for c in range(3):
            if rng.random() < 0.1:
                row[c] = None
            elif rng.random() < 0.05 and row[c] is not None:
                row[c] = row[c] + rng.choice((-1, 2, 40))  # rounding or a typo
    printed = rng.sample(list(values), rng.randint(1, len(values)))
    unlabeled = set(rng.sample(printed, min(len(printed), rng.randint(0, max_unlabeled))))
    rows = []
    for line, name in enumerate(printed, 1):
        near = frozenset(rng.sample(NEIGHBOURS, rng.choice((0, 0, 1, 2))))
        if rng.random() < 0.3:
            near |= {name}
        label = None if name in unlabeled else name
        rows.append(ValueRow(tuple(values[name]), line, label=label, neighbours=near))
    while rng.random() < 0.3 and sum(row.label is None for row in rows) < max_unlabeled:
        stray = rng.choice((rows[0].values, (0, 0, 0), (123, 456, 789), (None, 5, None)))
        rows.insert(rng.randrange(len(rows) + 1), ValueRow(stray, 99))
    return rows


@pytest.mark.parametrize("seed", range(150))
def test_search_places_rows_as_trying_every_placement_would(seed: int) -> None:
    rng = random.Random(seed)
    rows = random_budget_rows(rng, max_unlabeled=4 if seed % 10 else 5)
    unit_cost = 8000 if seed % 7 == 0 else DEFAULT_STAFF_UNIT_COST
    assert place_budget(rows, unit_cost=unit_cost) == _reference_place_budget(
        rows, unit_cost=unit_cost
    )


UNPLACED = "予算表の値の行「{}」（1行目）をどの項目にも特定できません"


# Six unlabeled rows take the enumeration seconds, so these expectations were computed once
# with _reference_place_budget instead of on every run.
@pytest.mark.parametrize(
    ("rows", "placed", "unplaced"),
    [
        (
            [row(0, 0, 0) for _ in range(6)],
            {
                name: (0, 0, 0)
                for name in (
                    "project_cost",
                    "general_revenue",
                    "staff_fte",
                    "staff_cost",
                    "total_cost",
                )
            },
            ["0 0 0"],
        ),
        (
            [row(123 * k, 456 * k, 789 * k) for k in range(1, 7)],
            {"total_cost": (738, 2736, 4734)},
            ["123 456 789", "246 912 1578", "369 1368 2367", "492 1824 3156", "615 2280 3945"],
        ),
        (
            [row(750, 750, 750, near=("columns",)) for _ in range(3)] + [row(0, 0, 0)] * 3,
            {
                "project_cost": (750, 750, 750),
                "staff_fte": (0, 0, 0),
                "staff_cost": (0, 0, 0),
                "total_cost": (750, 750, 750),
            },
            ["750 750 750", "0 0 0"],
        ),
    ],
    ids=["six-zero-rows", "six-unrelated-rows", "repeated-rows"],
)
def test_six_unlabeled_rows_are_placed_like_the_enumeration(
    rows: list[ValueRow], placed: dict[str, tuple[int, ...]], unplaced: list[str]
) -> None:
    budget, warnings = place_budget(rows)
    assert {name: budget.row(name) for name in BUDGET_ROWS if budget.row(name) != (None,) * 3} == (
        placed
    )
    assert warnings == [UNPLACED.format(shown) for shown in unplaced]


def test_six_unlabeled_rows_of_a_full_budget_are_placed_quickly() -> None:
    rows = [
        row(0.17, 0.17, 0.17),
        row(1267, 1267, 1267),
        row(2017, 2017, 2017, label="total_cost"),
        row(750, 750, 750),
        row(500, 500, 500),
        row(250, 250, 250),
        row(0, 0, 0),
    ]
    started = time.process_time()
    budget, _ = place_budget(rows)
    assert time.process_time() - started < 0.2  # enumerating took seconds
    assert budget.total_cost == (2017, 2017, 2017)
