"""Place the budget table's value rows using the form's own arithmetic.

The dump often prints a row's numbers in a box of their own, away from its label. The form
fixes three equations per column, and they place such rows:

* 職員人件費 = round(人員 × 単価)   (単価 printed in the 職員人件費 label, 7,455 千円)
* 総事業費   = 事業費 + 職員人件費
* 事業費     = 国道支出金 + 地方債 + その他 + 一般財源   (blank counts as 0)

Every way of giving the unlabeled rows to the still-empty slots is scored: each equation a
placement satisfies earns, each it breaks costs, and being printed next to the slot's label is
a small tie-breaker. A row is placed only with evidence; a row the evidence cannot place, or
that two equally good placements disagree on, stays out of the record with a warning.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from evalsearch.records import (
    BUDGET_COLUMNS_DEFAULT,
    BUDGET_ROW_TITLES,
    BUDGET_ROWS,
    Budget,
    Number,
)

BREAKDOWN_ROWS: tuple[str, ...] = (
    "national_prefectural",
    "municipal_bonds",
    "other",
    "general_revenue",
)
DEFAULT_STAFF_UNIT_COST = 7455

_SATISFIED = 2.0
_BROKEN = -3.0
_ADJACENT = 0.5
# 一般財源 is the residual source that almost every sheet fills: when nothing else tells
# which breakdown row a lone value belongs to, it is the likeliest.
_GENERAL_REVENUE_PRIOR = 0.25
_MAX_UNPLACED_SEARCH = 6


@dataclass(frozen=True)
class ValueRow:
    """A row of budget numbers; ``label`` is the slot when printed beside its label."""

    values: tuple[Number, ...]
    line: int
    label: str | None = None
    neighbours: frozenset[str] = frozenset()
    """Slots whose label is printed right before or after this row ("columns" for the header)."""


def parse_number(cell: str) -> Number:
    cell = cell.strip()
    if cell in {"-", "−", ""}:
        return None
    cleaned = cell.replace(",", "")
    return float(cleaned) if "." in cleaned else int(cleaned)


def _equations(
    rows: dict[str, tuple[Number, ...]], unit_cost: int, width: int
) -> list[tuple[str, bool]]:
    """(description, holds) for every equation whose inputs are known, per column."""
    results: list[tuple[str, bool]] = []

    def value(name: str, column: int) -> Number:
        row = rows.get(name)
        return None if row is None else row[column]

    for column in range(width):
        fte, staff = value("staff_fte", column), value("staff_cost", column)
        if fte is not None and staff is not None:
            results.append((f"staff:{column}", abs(round(fte * unit_cost) - staff) <= 1))
        total, project = value("total_cost", column), value("project_cost", column)
        if total is not None and project is not None and staff is not None:
            results.append((f"total:{column}", abs(total - (project + staff)) <= 1))
        breakdown = [value(name, column) for name in BREAKDOWN_ROWS]
        if project is not None and any(part is not None for part in breakdown):
            parts_sum = sum(part or 0 for part in breakdown)
            results.append((f"breakdown:{column}", abs(parts_sum - project) <= 1))
    return results


def _uses(equation: str) -> tuple[str, ...]:
    kind = equation.split(":")[0]
    return {
        "staff": ("staff_fte", "staff_cost"),
        "total": ("total_cost", "project_cost", "staff_cost"),
        "breakdown": ("project_cost", *BREAKDOWN_ROWS),
    }[kind]


def _score(
    placement: dict[int, str],
    unplaced: Sequence[ValueRow],
    labelled: dict[str, tuple[Number, ...]],
    unit_cost: int,
    width: int,
) -> float | None:
    """Score of one placement, or None when a placed row has no evidence for its slot."""
    rows = dict(labelled)
    for index, slot in placement.items():
        rows[slot] = unplaced[index].values
    equations = _equations(rows, unit_cost, width)
    score = sum(_SATISFIED if holds else _BROKEN for _, holds in equations)
    supported = {slot for name, holds in equations if holds for slot in _uses(name)}
    for index, slot in placement.items():
        row = unplaced[index]
        adjacent = slot in row.neighbours or (
            slot == "project_cost" and "columns" in row.neighbours
        )
        if slot not in supported and not adjacent:
            return None
        score += _ADJACENT if adjacent else 0.0
        score += _GENERAL_REVENUE_PRIOR if slot == "general_revenue" else 0.0
    return score


def place_budget(
    rows: Sequence[ValueRow],
    *,
    columns: Sequence[str] = BUDGET_COLUMNS_DEFAULT,
    unit_cost: int = DEFAULT_STAFF_UNIT_COST,
) -> tuple[Budget, list[str]]:
    """The budget with every row placed that the arithmetic can place, and the warnings."""
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
    if len(unplaced) > _MAX_UNPLACED_SEARCH:
        warnings.append(f"ラベルのない予算の行が多すぎます（{len(unplaced)}行）")
        candidates: Sequence[tuple[str | None, ...]] = [tuple(None for _ in unplaced)]
    else:
        candidates = list(itertools.product([None, *free_slots], repeat=len(unplaced)))
    for choice in candidates:
        chosen = [slot for slot in choice if slot is not None]
        if len(chosen) != len(set(chosen)):
            continue
        placement = {index: slot for index, slot in enumerate(choice) if slot is not None}
        score = _score(placement, unplaced, labelled, unit_cost, width)
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


def _broken_message(kind: str, column: str) -> str:
    return {
        "staff": f"{column}: 職員人件費が人員×単価と一致しません",
        "total": f"{column}: 総事業費が事業費＋職員人件費と一致しません",
        "breakdown": f"{column}: 事業費が内訳（国道支出金・地方債・その他・一般財源）の合計と一致しません",
    }[kind]
