"""Place the budget table's value rows using the form's own arithmetic.

The dump often prints a row's numbers in a box of their own, away from its label. The form
fixes three equations per column, and they place such rows:

* 職員人件費 = round(人員 × 単価)   (単価 printed in the 職員人件費 label, 7,455 千円)
* 総事業費   = 事業費 + 職員人件費
* 事業費     = 国道支出金 + 地方債 + その他 + 一般財源   (blank counts as 0)

Every way of giving the unlabeled rows to the still-empty slots is scored: each equation a
placement satisfies earns, each it breaks costs, and being printed next to the slot's label is
a small tie-breaker. A row is placed only with evidence; a row the evidence cannot place, or
that two equally good placements disagree on, stays out of the record with a warning. The best
placements are found by branch and bound (``_PlacementSearch``), not by trying all of them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
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
    return FAMILIES[equation.split(":")[0]]


# The slots each equation reads ("staff", "total", "breakdown" hold per column).
FAMILIES: dict[str, tuple[str, ...]] = {
    "staff": ("staff_fte", "staff_cost"),
    "total": ("total_cost", "project_cost", "staff_cost"),
    "breakdown": ("project_cost", *BREAKDOWN_ROWS),
}
# Slots are filled in this order so that the staff and total equations are decided after a
# few slots and bound the search early; the breakdown, which needs five slots, comes last.
_SEARCH_ORDER: tuple[str, ...] = ("staff_fte", "staff_cost", "total_cost", "project_cost")
_SEARCH_ORDER += BREAKDOWN_ROWS
# Slack for sums taken in another order than _equations takes them (float rounding): only
# used to rule rows out, so a generous slack costs pruning, never a placement.
_SUM_SLACK = 1e-6


def _family(
    kind: str, rows: dict[str, tuple[Number, ...]], unit_cost: int, width: int
) -> tuple[float, bool]:
    """(score, holds in some column) of one equation over all columns, exactly as _equations
    computes it (same expressions, so the same float results)."""
    blank = (None,) * width
    if kind == "staff":
        return _tally(
            None if fte is None or staff is None else abs(round(fte * unit_cost) - staff) <= 1
            for fte, staff in zip(
                rows.get("staff_fte", blank), rows.get("staff_cost", blank), strict=True
            )
        )
    if kind == "total":
        return _tally(
            None
            if total is None or project is None or staff is None
            else abs(total - (project + staff)) <= 1
            for total, project, staff in zip(
                rows.get("total_cost", blank),
                rows.get("project_cost", blank),
                rows.get("staff_cost", blank),
                strict=True,
            )
        )
    return _tally(
        None
        if project is None or all(part is None for part in parts)
        else abs(sum(part or 0 for part in parts) - project) <= 1
        for project, *parts in zip(
            rows.get("project_cost", blank),
            *(rows.get(name, blank) for name in BREAKDOWN_ROWS),
            strict=True,
        )
    )


def _tally(outcomes: Iterable[bool | None]) -> tuple[float, bool]:
    """Score and "holds somewhere" of per-column outcomes (None: the equation is absent)."""
    score = 0.0
    holds_any = False
    for holds in outcomes:
        if holds is not None:
            score += _SATISFIED if holds else _BROKEN
            holds_any = holds_any or holds
    return score, holds_any


def _staff_holds(fte: tuple[Number, ...], staff: tuple[Number, ...], unit_cost: int) -> bool:
    return any(
        f is not None and s is not None and abs(round(f * unit_cost) - s) <= 1
        for f, s in zip(fte, staff, strict=True)
    )


def _total_holds(
    total: tuple[Number, ...], project: tuple[Number, ...], staff: tuple[Number, ...]
) -> bool:
    return any(
        t is not None and p is not None and s is not None and abs(t - (p + s)) <= 1
        for t, p, s in zip(total, project, staff, strict=True)
    )


class _PlacementSearch:
    """All best-scoring placements, found by branch and bound instead of enumeration.

    A placement gives each free slot one unlabeled row or nothing. Its score: +2 for each
    equation (per column) it satisfies, -3 for each it breaks, +0.5 for a row beside its
    slot's label, +0.25 for a row in 一般財源; it is invalid when a placed row is neither beside
    its label nor in a slot of a satisfied equation. The search returns every valid placement
    of the best score (up to swapping rows that are identical in values and neighbours, which
    changes nothing in the outcome), as trying every placement would:

    * a row is only tried in slots where some equation could support it (or beside the
      slot's label): the three equations are propagated over the other rows first;
    * slots are filled in _SEARCH_ORDER; an equation is scored as soon as its slots are
      filled, and a row's evidence checked as soon as every equation using its slot is;
    * once 事業費 is filled, subset sums of the rows left tell in which columns the breakdown
      can still hold, which bounds it and checks the evidence of the rows placed in it early;
    * a branch stops when even the best outcome of every open equation and every bonus left
      could not reach the best score found (ties are kept: they decide what stays unplaced).
    """

    def __init__(
        self,
        unplaced: Sequence[ValueRow],
        labelled: dict[str, tuple[Number, ...]],
        unit_cost: int,
        width: int,
    ):
        self.unplaced = unplaced
        self.labelled = labelled
        self.unit_cost = unit_cost
        self.width = width
        self.free = [slot for slot in _SEARCH_ORDER if slot not in labelled]
        self.adjacent = [{slot for slot in self.free if _adjacent(row, slot)} for row in unplaced]
        self.bonus = [
            {
                slot: (_ADJACENT if slot in adjacent else 0.0)
                + (_GENERAL_REVENUE_PRIOR if slot == "general_revenue" else 0.0)
                for slot in self.free
            }
            for adjacent in self.adjacent
        ]
        depth = {slot: index for index, slot in enumerate(self.free)}
        self.ready = {
            kind: max((depth[slot] for slot in slots if slot in depth), default=-1)
            for kind, slots in FAMILIES.items()
        }
        self.families_at: list[list[str]] = [[] for _ in self.free]
        for kind, at in self.ready.items():
            if at >= 0:
                self.families_at[at].append(kind)
        families_of = {
            slot: [kind for kind, slots in FAMILIES.items() if slot in slots] for slot in self.free
        }
        self.checks_at: list[list[tuple[str, list[str]]]] = [[] for _ in self.free]
        for slot, kinds in families_of.items():
            self.checks_at[max(self.ready[kind] for kind in kinds)].append((slot, kinds))
        # The breakdown is bounded from the depth where 事業費 is known until it is scored
        # (_breakdown_bound); other open equations count as satisfied in every column.
        self.project_known = depth.get("project_cost", -1)
        self.open_after = [
            sum(
                _SATISFIED * width
                for kind, at in self.ready.items()
                if at > index and not (kind == "breakdown" and index >= self.project_known)
            )
            for index in range(len(self.free))
        ]
        self.free_parts_after = [
            sum(1 for slot in self.free[index + 1 :] if slot in BREAKDOWN_ROWS)
            for index in range(len(self.free))
        ]
        # The most bonus the slots from depth d on can still earn.
        self.bonus_left = [0.0] * (len(self.free) + 1)
        for index in range(len(self.free) - 1, -1, -1):
            slot = self.free[index]
            best_bonus = max((bonus[slot] for bonus in self.bonus), default=0.0)
            self.bonus_left[index] = self.bonus_left[index + 1] + best_bonus
        self._subset_sums()
        self.domains = self._domains()
        self.choices = {
            slot: [index for index, domain in enumerate(self.domains) if slot in domain]
            for slot in self.free
        }
        # Rows that may go into a part of the breakdown (for _breakdown_bound).
        self.part_rows = sum(
            1 << index
            for index, domain in enumerate(self.domains)
            if any(slot in domain for slot in BREAKDOWN_ROWS)
        )
        # Rows equal in values and neighbours are interchangeable: only the first unused one
        # of a class is tried, so permutations of equal rows are not searched again.
        classes: dict[tuple[tuple[Number, ...], frozenset[str]], int] = {}
        self.klass = [
            classes.setdefault((r.values, r.neighbours), i) for i, r in enumerate(unplaced)
        ]
        self.rows: dict[str, tuple[Number, ...]] = dict(labelled)
        self.slot_row: dict[str, int] = {}
        self.used = 0
        self.holds: dict[str, bool] = {}
        self.base = 0.0
        for kind, at in self.ready.items():
            if at < 0:
                score, holds = _family(kind, self.rows, unit_cost, width)
                self.base += score
                self.holds[kind] = holds
        self.best_score: float | None = None
        self.best: list[dict[int, str]] = []

    def _candidates(self, slot: str, row: int) -> list[tuple[Number, ...]]:
        """Values ``slot`` could hold beside ``row`` in some placement."""
        if slot in self.labelled:
            return [self.labelled[slot]]
        return [other.values for index, other in enumerate(self.unplaced) if index != row]

    def _domains(self) -> list[set[str]]:
        """For each row, the free slots where it could be supported or is beside the label."""
        unit = self.unit_cost
        domains = [set(adjacent) for adjacent in self.adjacent]
        for index, row in enumerate(self.unplaced):
            values = row.values
            cand = self._candidates
            if "staff_fte" in self.free and any(
                _staff_holds(values, staff, unit) for staff in cand("staff_cost", index)
            ):
                domains[index].add("staff_fte")
            if "staff_cost" in self.free and (
                any(_staff_holds(fte, values, unit) for fte in cand("staff_fte", index))
                or any(
                    _total_holds(total, project, values)
                    for total in cand("total_cost", index)
                    for project in cand("project_cost", index)
                )
            ):
                domains[index].add("staff_cost")
            if "total_cost" in self.free and any(
                _total_holds(values, project, staff)
                for project in cand("project_cost", index)
                for staff in cand("staff_cost", index)
            ):
                domains[index].add("total_cost")
            if "project_cost" in self.free and any(
                _total_holds(total, values, staff)
                for total in cand("total_cost", index)
                for staff in cand("staff_cost", index)
            ):
                domains[index].add("project_cost")
        self._breakdown_domains(domains)
        return domains

    def _subset_sums(self) -> None:
        """Per column, the sum of every subset of rows (blank = 0; a subset is a bit mask),
        also sorted for range queries, and a tolerance that covers summing in another order
        than _equations does."""
        count, width = len(self.unplaced), self.width
        self.sizes = [0] * (1 << count)
        self.sums: list[list[float]] = [[0.0] * width]
        for mask in range(1, 1 << count):
            low = (mask & -mask).bit_length() - 1
            rest = mask & (mask - 1)
            values = self.unplaced[low].values
            self.sums.append([self.sums[rest][c] + (values[c] or 0) for c in range(width)])
            self.sizes[mask] = self.sizes[rest] + 1
        self.sorted_sums: list[list[float]] = []
        self.sorted_masks: list[list[int]] = []
        for column in range(width):
            order = sorted(range(1 << count), key=lambda mask: self.sums[mask][column])
            self.sorted_sums.append([self.sums[mask][column] for mask in order])
            self.sorted_masks.append(order)
        self.filled = [
            sum(1 << index for index, row in enumerate(self.unplaced) if row.values[c] is not None)
            for c in range(width)
        ]
        every_value = [*self.labelled.values(), *(row.values for row in self.unplaced)]
        self.tolerance = [
            1 + _SUM_SLACK * (1 + sum(abs(values[c] or 0) for values in every_value))
            for c in range(width)
        ]

    def _breakdown_domains(self, domains: list[set[str]]) -> None:
        """Rows that some choice of parts could make the breakdown hold for (subset sums)."""
        free_parts = [slot for slot in BREAKDOWN_ROWS if slot in self.free]
        if not free_parts and "project_cost" not in self.free:
            return
        fixed = [
            sum((row[c] or 0) for name in BREAKDOWN_ROWS if (row := self.labelled.get(name)))
            for c in range(self.width)
        ]
        projects: list[tuple[int | None, tuple[Number, ...]]] = (
            [(index, row.values) for index, row in enumerate(self.unplaced)]
            if "project_cost" in self.free
            else [(None, self.labelled["project_cost"])]
        )
        for mask, sums in enumerate(self.sums):
            if self.sizes[mask] > len(free_parts):
                continue
            for project_index, project in projects:
                if project_index is not None and mask >> project_index & 1:
                    continue
                if not any(
                    value is not None and abs(fixed[c] + sums[c] - value) <= self.tolerance[c]
                    for c, value in enumerate(project)
                ):
                    continue
                if project_index is not None:
                    domains[project_index].add("project_cost")
                for index in range(len(self.unplaced)):
                    if mask >> index & 1:
                        domains[index].update(free_parts)

    def _breakdown_bound(self, depth: int) -> tuple[float, bool]:
        """The most the breakdown can still score once 事業費 is known, and whether it can
        hold in some column, given the parts placed so far and the rows still unused."""
        project = self.rows.get("project_cost")
        if project is None:
            return 0.0, False  # no 事業費: the equation exists in no column
        slots_left = self.free_parts_after[depth]
        available = self.part_rows & ~self.used if slots_left else 0
        bound = 0.0
        can_hold_any = False
        for column, target in enumerate(project):
            if target is None:
                continue
            placed: float = 0
            exists = False
            for name in BREAKDOWN_ROWS:
                row = self.rows.get(name)
                value = None if row is None else row[column]
                if value is not None:
                    placed += value
                    exists = True
            need = target - placed
            tolerance = self.tolerance[column]
            sums, masks = self.sorted_sums[column], self.sorted_masks[column]
            can_hold = False
            for position in range(
                bisect_left(sums, need - tolerance), bisect_right(sums, need + tolerance)
            ):
                mask = masks[position]
                if (
                    mask & available == mask
                    and self.sizes[mask] <= slots_left
                    and (exists or mask & self.filled[column])
                ):
                    can_hold = True
                    break
            if can_hold:
                bound += _SATISFIED
                can_hold_any = True
            elif exists:
                bound += _BROKEN
        return bound, can_hold_any

    def run(self) -> list[dict[int, str]]:
        self._search(0, self.base)
        return self.best

    def _search(self, depth: int, score: float) -> None:
        if depth == len(self.free):
            if self.best_score is None or score > self.best_score + 1e-9:
                self.best_score, self.best = score, []
            if abs(score - self.best_score) <= 1e-9:
                self.best.append({row: slot for slot, row in self.slot_row.items()})
            return
        slot = self.free[depth]
        tried: set[int] = set()
        choices: list[int | None] = [
            index for index in self.choices[slot] if not self.used >> index & 1
        ]
        choices.append(None)
        bounded = self.ready["breakdown"] > depth >= self.project_known
        for index in choices:
            if index is not None:
                if self.klass[index] in tried:
                    continue
                tried.add(self.klass[index])
                self.used |= 1 << index
                self.slot_row[slot] = index
                self.rows[slot] = self.unplaced[index].values
            self._extend(depth, score, index, bounded)
            if index is not None:
                self.used &= ~(1 << index)
                del self.slot_row[slot]
                del self.rows[slot]

    def _extend(self, depth: int, score: float, index: int | None, bounded: bool) -> None:
        """Score the slot at ``depth`` just filled with row ``index`` (or left empty), and
        search on unless the placement lacks evidence or cannot reach the best score."""
        slot = self.free[depth]
        gained = score + (0.0 if index is None else self.bonus[index][slot])
        for kind in self.families_at[depth]:
            family_score, holds = _family(kind, self.rows, self.unit_cost, self.width)
            gained += family_score
            self.holds[kind] = holds
        for checked, kinds in self.checks_at[depth]:
            row = self.slot_row.get(checked)
            if (
                row is not None
                and checked not in self.adjacent[row]
                and not any(self.holds[kind] for kind in kinds)
            ):
                return
        open_bound = self.open_after[depth]
        if bounded:
            breakdown_bound, can_hold = self._breakdown_bound(depth)
            open_bound += breakdown_bound
            if not can_hold and not self._evidence_without_breakdown():
                return
        bound = gained + open_bound + self.bonus_left[depth + 1]
        if self.best_score is None or bound >= self.best_score - 1e-9:
            self._search(depth + 1, gained)

    def _evidence_without_breakdown(self) -> bool:
        """Whether the rows placed in 事業費 and the parts have evidence if the breakdown
        holds in no column (only adjacency, or the total equation for 事業費)."""
        for slot, row in self.slot_row.items():
            if slot in BREAKDOWN_ROWS and slot not in self.adjacent[row]:
                return False
            if (
                slot == "project_cost"
                and slot not in self.adjacent[row]
                and not self.holds.get("total", False)
            ):
                return False
        return True


def _adjacent(row: ValueRow, slot: str) -> bool:
    return slot in row.neighbours or (slot == "project_cost" and "columns" in row.neighbours)


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

    best: list[dict[int, str]]
    if len(unplaced) > _MAX_UNPLACED_SEARCH:
        warnings.append(f"ラベルのない予算の行が多すぎます（{len(unplaced)}行）")
        best = [{}]
    else:
        best = _PlacementSearch(unplaced, labelled, unit_cost, width).run()

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
