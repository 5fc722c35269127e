"""Sentences that appear in several outputs (terminal, reports, CSV, JSON reasons), each
written once so every output says the same thing the same way. Plain strings, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from evalsearch.crossref import RELATION_LABELS, CrossReference, SheetInfo
from evalsearch.history import (
    CHANGE_KINDS,
    CHANGE_NAMES,
    ChangeKind,
    DiffSpan,
    ProjectHistory,
    Transition,
    YearRow,
    item_label,
)

MISSING = "—"


def decision_text(
    decision: str | None, measures: Sequence[str] = (), end_fiscal_year: int | None = None
) -> str:
    """見直しのうえで継続（統合・振替・終期 2027年度）: a direction with its measures."""
    details = list(measures)
    if end_fiscal_year is not None:
        details.append(f"終期 {end_fiscal_year}年度")
    text = decision or MISSING
    return text + (f"（{'・'.join(details)}）" if details else "")


def reference_sentence(reference: CrossReference, source: SheetInfo, target: SheetInfo) -> str:
    """12276 の【ウ】が「根室ベトナム交流協会」（12770 根室ベトナム交流協会補助事業）に言及（統合の文脈）"""
    return (
        f"{source.project_no} の【{reference.passage}】が「{reference.name}」"
        f"（{target.project_no} {target.project_name}）に言及"
        f"{RELATION_LABELS[reference.relation]}"
    )


def thousand_yen(value: float | int | None) -> str:
    """1,267 千円 (or — when blank)."""
    if value is None:
        return MISSING
    number = int(value) if float(value).is_integer() else value
    return f"{number:,} 千円"


# --- history across the years (terminal and reports) ------------------------------------

EQUAL_CONTEXT = 16
"""Characters of unchanged text kept on each side of a change in a shortened diff."""


def cost_text(value: float | None) -> str:
    if value is None:
        return "－"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def row_direction(row: YearRow) -> str:
    text = row.decision or "（記載なし）"
    if row.measures:
        text += "（" + "・".join(row.measures) + "）"
    if row.end_fiscal_year is not None:
        text += f" 終期{row.end_fiscal_year}年度"
    return text


def latest_actuals_text(row: YearRow) -> str:
    """Each indicator's newest actual value: 「参加者数 R6 82名」."""
    parts = []
    for indicator in row.indicators:
        filled = [(key, value) for key, value in indicator.actual.items() if value]
        if filled:
            key, value = filled[-1]
            parts.append(f"{indicator.name} {key} {value}")
    return "／".join(parts)


def transition_title(key: str, transition: Transition) -> str:
    title = f"【{item_label(key)}】{CHANGE_NAMES[transition.change]}"
    if transition.change in ("edited", "rewritten"):
        title += f"（類似度 {transition.similarity:.2f}）"
    answer = transition.answer
    if answer is not None and answer.changed:
        title += f"　回答：{answer.old} → {answer.new}"
    return title


def shorten_middle(text: str) -> str:
    if len(text) <= 2 * EQUAL_CONTEXT + 1:
        return text
    return text[:EQUAL_CONTEXT] + "…" + text[-EQUAL_CONTEXT:]


def renames_text(history: ProjectHistory) -> str:
    """「2023年度 旧名 → 2025年度 新名」: the first name and each year it changed."""
    parts: list[str] = []
    last: str | None = None
    for year, name in history.names.items():
        if name != last:
            parts.append(f"{year}年度 {name}")
            last = name
    return " → ".join(parts)


def year_steps(history: ProjectHistory) -> list[tuple[int, int, list[tuple[str, Transition]]]]:
    """(from, to, [(key, transition)]) per consecutive pair of sheets, items in form order."""
    out = []
    for old, new in zip(history.years, history.years[1:], strict=False):
        moved = history.transitions_to(new)
        out.append((old, new, list(moved.items())))
    return out


def is_compared(transition: Transition) -> bool:
    """False for an item empty in both sheets."""
    return transition.change != "same" or bool(transition.diff)


def old_and_new(spans: Iterable[DiffSpan]) -> tuple[str, str]:
    spans = list(spans)
    return "".join(span.old for span in spans), "".join(span.new for span in spans)


# --------------------------------------------------------------------------------------------
# Terminal.


def count_changes(transitions: Iterable[Transition]) -> dict[ChangeKind, int]:
    counts: dict[ChangeKind, int] = dict.fromkeys(CHANGE_KINDS, 0)
    for transition in transitions:
        counts[transition.change] += 1
    return counts
