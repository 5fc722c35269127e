"""Terminal and CSV renderings of search results and of one sheet (``search`` / ``show``).

Builds rich renderables and strings; printing is the CLI's job.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evalsearch.records import (
    BUDGET_ROW_TITLES,
    BUDGET_ROWS,
    ITEM_LABELS,
    ITEM_QUESTIONS,
    SheetRecord,
)
from evalsearch.search import SearchResult, Snippet

FACET_TITLES = {"department": "主管課別の件数", "decision": "今後の方向性別の件数"}


def snippet_text(snippet: Snippet) -> Text:
    """【オ】… with the matched terms in bold."""
    text = Text(f"【{snippet.field}】")
    cursor = 0
    for start, end in snippet.highlights:
        text.append(snippet.text[cursor:start])
        text.append(snippet.text[start:end], style="bold")
        cursor = end
    text.append(snippet.text[cursor:])
    return text


def search_table(result: SearchResult) -> Group:
    """The hits with their snippets, then the counts per department and per decision."""
    shown = len(result.hits)
    header = Text(f"「{result.query}」: {result.total}件", style="bold")
    if result.total > shown:
        header.append(f"（上位{shown}件を表示）", style="")
    if not result.hits:
        return Group(header, Text("該当するシートはありません。"))
    # One block per hit rather than a table: snippets stay whole at any terminal width.
    parts: list[Any] = [header]
    for rank, hit in enumerate(result.hits, start=1):
        line = Text(f"\n{rank}. ")
        line.append(f"{hit.project_no} {hit.project_name}", style="bold")
        line.append(f"　{hit.department}　{hit.fiscal_year}年度　スコア {hit.score:.2f}")
        parts.append(line)
        for snippet in hit.snippets:
            parts.append(Text("   ") + snippet_text(snippet))
    parts.append(Text(""))
    for name, title in FACET_TITLES.items():
        counts = result.facets.get(name) or {}
        if not counts:
            continue
        facet = Table(title=title, title_justify="left")
        facet.add_column("主管課" if name == "department" else "今後の方向性")
        facet.add_column("件数", justify="right")
        for value, count in counts.items():
            facet.add_row(value or "（記載なし）", str(count))
        parts.append(facet)
    return Group(*parts)


def search_csv(result: SearchResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["id", "project_no", "project_name", "department", "score", "fields", "snippets"]
    )
    for hit in result.hits:
        writer.writerow(
            [
                hit.id,
                hit.project_no,
                hit.project_name,
                hit.department,
                f"{hit.score:.4f}",
                " ".join(hit.fields),
                " ".join(f"【{snippet.field}】{snippet.text}" for snippet in hit.snippets),
            ]
        )
    return out.getvalue()


def _value(value: Any) -> str:
    if value is None or value == "":
        return "－"
    if isinstance(value, bool):
        return "該当" if value else "非該当"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def sheet_view(record: SheetRecord, other_years: Sequence[int] = ()) -> Group:
    """One sheet, every passage, in form order."""
    title = Text(f"{record.project_name}（事業番号 {record.project_no}・{record.fiscal_year}年度）")
    title.stylize("bold")
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    department = record.department + (f"（{record.section}）" if record.section else "")
    for label, value in (
        ("ID", record.id),
        ("主管課", department),
        ("評価時期", record.evaluation_stage),
        ("重点プロジェクト", record.priority_project),
        ("事務区分", record.affairs_type),
        ("施策区分", record.policy_area),
        ("施策目標", record.policy_goal),
        ("対象", record.target),
        ("対象者の今後の予想", record.target_outlook),
        ("作成", record.created),
        ("出典", f"{record.source.file} シート{record.source.sheet_index + 1}"),
    ):
        info.add_row(label, _value(value))
    parts: list[Any] = [title, info]

    def passage(heading: str, text: str) -> None:
        parts.append(Text(f"\n■ {heading}", style="bold"))
        parts.append(Text(text or "（記載なし）"))

    passage("活動内容", record.activities)
    passage("意図", record.intent)

    budget = Table(title="事業費（千円）", title_justify="left")
    budget.add_column("")
    for column in record.budget.columns:
        budget.add_column(column, justify="right")
    for name in BUDGET_ROWS:
        row = record.budget.row(name)
        if row is not None:
            budget.add_row(BUDGET_ROW_TITLES[name], *(_value(value) for value in row))
    if budget.row_count:
        parts.append(Text(""))
        parts.append(budget)

    if record.indicators:
        indicators = Table(title="活動指標", title_justify="left")
        indicators.add_column("指標")
        indicators.add_column("計画値")
        indicators.add_column("実績値")
        indicators.add_column("目標値")
        for indicator in record.indicators:
            indicators.add_row(
                indicator.name,
                _value(indicator.plan),
                " ".join(f"{k}:{_value(v)}" for k, v in indicator.actual.items()),
                " ".join(f"{k}:{_value(v)}" for k, v in indicator.target.items()),
            )
        parts.append(indicators)

    passage(f"見直しの状況: {_value(record.review_status)}", record.review_content)
    passage("今後の動向（ニーズ）", record.outlook_needs)
    for label in ITEM_LABELS:
        assessment = record.assessments.get(label)
        if assessment is None:
            continue
        answer = assessment.answer or "／".join(assessment.answer_candidates or ()) or "不明"
        passage(f"{label}．{ITEM_QUESTIONS[label]} → {answer}", assessment.reason)
    direction = record.direction
    line = _value(direction.decision)
    if direction.measures:
        line += f"（{'、'.join(direction.measures)}）"
    if direction.end_fiscal_year:
        line += f" 終了予定: {direction.end_fiscal_year}年度"
    passage("今後の方向性", line)
    if record.warnings:
        parts.append(Text("\n読み取り時の警告:", style="bold"))
        parts.extend(Text(f"・{warning}") for warning in record.warnings)
    if other_years:
        years = "、".join(f"{year}年度" for year in other_years)
        parts.append(Text(f"\n他の年度のシート: {years}（--year で指定）"))
    return Group(*parts)


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
