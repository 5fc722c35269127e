"""Terminal renderings shared by CLI commands (rich tables); no I/O here."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from evalsearch.records import SheetRecord


def format_thousand_yen(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def records_table(records: Sequence[SheetRecord]) -> Table:
    """One row per sheet: the summary a reviewer scans before opening a sheet."""
    table = Table(title=f"評価シート {len(records)}件", show_lines=False)
    for header, justify in (
        ("ID", "left"),
        ("事業名", "left"),
        ("主管課", "left"),
        ("総事業費(千円)", "right"),
        ("方向性", "left"),
        ("オ（統合）", "left"),
        ("警告", "right"),
    ):
        table.add_column(header, justify=justify, overflow="fold", no_wrap=header == "ID")  # type: ignore[arg-type]
    for record in records:
        integration = record.assessments.get("オ")
        answer = "?" if integration is None or integration.answer is None else integration.answer
        decision = record.direction.decision or "?"
        if record.direction.measures:
            decision += "（" + "・".join(record.direction.measures) + "）"
        table.add_row(
            record.id,
            record.project_name,
            record.department,
            format_thousand_yen(record.budget.latest("total_cost")),
            decision,
            answer,
            str(len(record.warnings)),
        )
    return table
