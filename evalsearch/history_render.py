"""Terminal and Markdown renderings of a project's history and of one year's changes.

Builds rich renderables (readable at 80 columns, and without colour: changes are bracketed)
and Markdown strings; printing and writing files is the CLI's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evalsearch.history import (
    CHANGE_KINDS,
    CHANGE_NAMES,
    ChangeKind,
    ChangesReport,
    DiffSpan,
    ProjectHistory,
    SheetChanges,
    Transition,
    YearRow,
    format_counts,
    item_label,
    summary_line,
)

EQUAL_CONTEXT = 16
"""Characters of unchanged text kept on each side of a change in the terminal diff."""
CHANGE_STYLES = {
    "same": "dim",
    "numbers": "cyan",
    "edited": "yellow",
    "rewritten": "bold red",
}
TERMINAL_SHEETS = 50
"""Sheets listed by ``changes_renderable`` unless told otherwise."""


# --------------------------------------------------------------------------------------------
# Shared pieces.


def _cost(value: float | None) -> str:
    if value is None:
        return "－"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def _direction(row: YearRow) -> str:
    text = row.decision or "（記載なし）"
    if row.measures:
        text += "（" + "・".join(row.measures) + "）"
    if row.end_fiscal_year is not None:
        text += f" 終期{row.end_fiscal_year}年度"
    return text


def _latest_actuals(row: YearRow) -> str:
    """Each indicator's newest actual value: 「参加者数 R6 82名」."""
    parts = []
    for indicator in row.indicators:
        filled = [(key, value) for key, value in indicator.actual.items() if value]
        if filled:
            key, value = filled[-1]
            parts.append(f"{indicator.name} {key} {value}")
    return "／".join(parts)


def _transition_title(key: str, transition: Transition) -> str:
    title = f"【{item_label(key)}】{CHANGE_NAMES[transition.change]}"
    if transition.change in ("edited", "rewritten"):
        title += f"（類似度 {transition.similarity:.2f}）"
    answer = transition.answer
    if answer is not None and answer.changed:
        title += f"　回答：{answer.old} → {answer.new}"
    return title


def _shorten(text: str) -> str:
    if len(text) <= 2 * EQUAL_CONTEXT + 1:
        return text
    return text[:EQUAL_CONTEXT] + "…" + text[-EQUAL_CONTEXT:]


def diff_text(spans: Sequence[DiffSpan], *, shorten: bool = True) -> Text:
    """Spans as one line: 「…令和［5→6］年度は約［70→82］名…」, coloured and bracketed."""
    text = Text()
    for position, span in enumerate(spans):
        if span.op == "equal":
            shown = span.old
            if shorten and len(spans) > 1:
                if position == 0 and len(shown) > EQUAL_CONTEXT:
                    shown = "…" + shown[-EQUAL_CONTEXT:]
                elif position == len(spans) - 1 and len(shown) > EQUAL_CONTEXT:
                    shown = shown[:EQUAL_CONTEXT] + "…"
                else:
                    shown = _shorten(shown)
            text.append(shown)
        elif span.op == "delete":
            text.append("［−", style="red")
            text.append(span.old, style="red strike")
            text.append("］", style="red")
        elif span.op == "insert":
            text.append("［＋", style="green")
            text.append(span.new, style="green underline")
            text.append("］", style="green")
        else:
            text.append("［", style="yellow")
            text.append(span.old, style="red strike")
            text.append("→", style="yellow")
            text.append(span.new, style="green underline")
            text.append("］", style="yellow")
    return text


def _renames(history: ProjectHistory) -> str:
    """「2023年度 旧名 → 2025年度 新名」: the first name and each year it changed."""
    parts: list[str] = []
    last: str | None = None
    for year, name in history.names.items():
        if name != last:
            parts.append(f"{year}年度 {name}")
            last = name
    return " → ".join(parts)


def _steps(history: ProjectHistory) -> list[tuple[int, int, list[tuple[str, Transition]]]]:
    """(from, to, [(key, transition)]) per consecutive pair of sheets, items in form order."""
    out = []
    for old, new in zip(history.years, history.years[1:], strict=False):
        moved = history.transitions_to(new)
        out.append((old, new, list(moved.items())))
    return out


def _compared(transition: Transition) -> bool:
    """False for an item empty in both sheets."""
    return transition.change != "same" or bool(transition.diff)


def _old_new(spans: Iterable[DiffSpan]) -> tuple[str, str]:
    spans = list(spans)
    return "".join(span.old for span in spans), "".join(span.new for span in spans)


# --------------------------------------------------------------------------------------------
# Terminal.


def history_renderable(history: ProjectHistory) -> Group:
    """The project's years, answers and each passage's change, for an 80-column terminal."""
    parts: list[Any] = []
    years = history.years
    span = f"{years[0]}〜{years[-1]}年度" if len(years) > 1 else f"{years[0]}年度"
    header = Text(f"{history.project_no} {history.project_name}", style="bold")
    header.append(f"　{history.municipality}　{span}")
    parts.append(header)
    if history.names:
        parts.append(Text("事業名の変更：" + _renames(history)))
    summary = summary_line(history)
    if history.message:
        parts.append(Text(history.message, style="yellow"))
    elif summary:
        parts.append(Text(f"{years[-1]}年度の" + summary))

    table = Table(title="年度ごとの評価", title_justify="left", show_lines=False)
    table.add_column("年度", no_wrap=True)
    table.add_column("見直し状況")
    table.add_column("今後の方向性")
    table.add_column("総事業費(千円)", justify="right", no_wrap=True)
    for row in history.rows:
        table.add_row(
            str(row.year), row.review_status or "－", _direction(row), _cost(row.total_cost)
        )
    parts.append(table)

    indicator_lines = [(row.year, _latest_actuals(row)) for row in history.rows]
    if any(line for _, line in indicator_lines):
        parts.append(Text("活動指標（各年度のシートの最新実績）", style="bold"))
        for year, line in indicator_lines:
            parts.append(Text(f"  {year}: {line or '－'}"))

    answer_keys = list(dict.fromkeys(key for row in history.rows for key in row.answers))
    if answer_keys and history.comparable:
        answers = Table(title="回答", title_justify="left")
        answers.add_column("設問", no_wrap=True)
        for year in years:
            answers.add_column(str(year))
        for key in answer_keys:
            cells = []
            previous: str | None = None
            for index, row in enumerate(history.rows):
                value = row.answers.get(key)
                changed = (
                    index > 0 and value is not None and previous is not None and value != previous
                )
                cells.append(Text(value or "－", style="bold yellow" if changed else ""))
                if value is not None:
                    previous = value
            answers.add_row(key, *cells)
        parts.append(answers)

    for old_year, new_year, moved in _steps(history):
        compared = [(key, t) for key, t in moved if _compared(t)]
        counts = format_counts(_count_changes(t for _, t in compared))
        parts.append(Text(""))
        parts.append(Text(f"■ {old_year}→{new_year}年度　{counts}", style="bold"))
        same = [item_label(key) for key, t in compared if t.change == "same"]
        if same:
            parts.append(Text("  同文：" + "・".join(same), style=CHANGE_STYLES["same"]))
        for key, transition in compared:
            if transition.change == "same":
                continue
            parts.append(
                Text(
                    _transition_title(key, transition),
                    style=CHANGE_STYLES[transition.change],
                )
            )
            if transition.change in ("numbers", "edited"):
                parts.append(Text("  ") + diff_text(transition.diff))
            else:
                old, new = _old_new(transition.diff)
                parts.append(Text(f"  旧：{old or '（記載なし）'}", style="dim"))
                parts.append(Text(f"  新：{new or '（記載なし）'}"))
    return Group(*parts)


def _count_changes(transitions: Iterable[Transition]) -> dict[ChangeKind, int]:
    counts: dict[ChangeKind, int] = dict.fromkeys(CHANGE_KINDS, 0)
    for transition in transitions:
        counts[transition.change] += 1
    return counts


def _counts_cell(sheet: SheetChanges) -> str:
    if sheet.previous_year is None:
        return "前年度なし"
    return " ".join(
        f"{CHANGE_NAMES[kind][:1]}{sheet.changes.get(kind, 0)}" for kind in CHANGE_KINDS
    )


def changes_renderable(report: ChangesReport, *, limit: int | None = TERMINAL_SHEETS) -> Group:
    """The year's sheets, copied and stale first, with the stale sentences below the table."""
    sheets = report.sheets
    compared = sum(sheet.previous_year is not None for sheet in sheets)
    copied = sum(sheet.copied for sheet in sheets)
    stale = sum(bool(sheet.stale) for sheet in sheets)
    header = Text(f"{report.year}年度: {len(sheets)}件", style="bold")
    header.append(
        f"（前年度と比較 {compared}件、評価の写し {copied}件、古い年度の数値 {stale}件）", style=""
    )
    parts: list[Any] = [header]
    if not sheets:
        return Group(header, Text("この年度のシートはありません。"))
    shown = sheets if limit is None else sheets[:limit]
    table = Table(caption="同=同文 数=数値のみ 一=一部修正 改=改稿", caption_justify="left")
    table.add_column("事業番号", no_wrap=True)
    table.add_column("事業名", max_width=20)
    table.add_column("前年度", no_wrap=True)
    table.add_column("写し", no_wrap=True)
    table.add_column("変化", no_wrap=True)
    table.add_column("方向性", no_wrap=True)
    table.add_column("古い数値", no_wrap=True)
    for sheet in shown:
        table.add_row(
            sheet.project_no,
            sheet.project_name,
            "－" if sheet.previous_year is None else str(sheet.previous_year),
            Text("写し", style="bold red") if sheet.copied else "",
            _counts_cell(sheet),
            "変更" if sheet.direction_changed else "",
            Text(f"{len(sheet.stale)}件", style="bold yellow") if sheet.stale else "",
        )
    parts.append(table)
    if len(shown) < len(sheets):
        parts.append(Text(f"（上位{len(shown)}件を表示。--format json/csv で全件）"))
    for sheet in shown:
        for reference in sheet.stale:
            parts.append(
                Text(
                    f"{sheet.project_no}【{item_label(reference.key)}】{reference.quoted_year}年度の"
                    f"数値（指標は{reference.latest_indicator_year}年度まで）：{reference.text}"
                )
            )
    return Group(*parts)


# --------------------------------------------------------------------------------------------
# Markdown.

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_~\[\]<>|#])")


def _md(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def diff_markdown(spans: Sequence[DiffSpan]) -> str:
    """~~deleted~~ and **inserted** text inline, unchanged text as is."""
    out = []
    for span in spans:
        if span.op == "equal":
            out.append(_md(span.old))
            continue
        if span.old:
            out.append(f"~~{_md(span.old)}~~")
        if span.new:
            out.append(f"**{_md(span.new)}**")
    return "".join(out)


def history_markdown(history: ProjectHistory) -> str:
    years = history.years
    lines = [
        f"# {_md(history.project_no)} {_md(history.project_name)}（{_md(history.municipality)}）",
        "",
    ]
    if history.names:
        lines += [
            "事業名の変更：" + _md(_renames(history)),
            "",
        ]
    summary = summary_line(history)
    if history.message:
        lines += [history.message, ""]
    elif summary:
        lines += [f"{years[-1]}年度の{summary}", ""]
    lines += [
        "## 年度ごとの評価",
        "",
        "| 年度 | 見直し状況 | 今後の方向性 | 総事業費（千円） | 活動指標の最新実績 |",
        "|---|---|---|--:|---|",
    ]
    for row in history.rows:
        lines.append(
            f"| {row.year} | {_md(row.review_status or '－')} | {_md(_direction(row))} | "
            f"{_cost(row.total_cost)} | {_md(_latest_actuals(row)) or '－'} |"
        )
    answer_keys = list(dict.fromkeys(key for row in history.rows for key in row.answers))
    if answer_keys:
        lines += ["", "## 回答", "", "| 設問 | " + " | ".join(str(y) for y in years) + " |"]
        lines.append("|---|" + "---|" * len(years))
        for key in answer_keys:
            cells = [_md(row.answers.get(key) or "－") for row in history.rows]
            lines.append(f"| {_md(key)} | " + " | ".join(cells) + " |")
    for old_year, new_year, moved in _steps(history):
        compared = [(key, t) for key, t in moved if _compared(t)]
        counts = format_counts(_count_changes(t for _, t in compared))
        lines += ["", f"## {old_year}→{new_year}年度の記述の変化（{counts}）", ""]
        same = [item_label(key) for key, t in compared if t.change == "same"]
        if same:
            lines += [f"同文：{_md('・'.join(same))}", ""]
        for key, transition in compared:
            if transition.change == "same":
                continue
            lines += [f"### {_md(_transition_title(key, transition))}", ""]
            if transition.change == "rewritten":
                old, new = _old_new(transition.diff)
                lines.append(f"- 旧：{_md(old) or '（記載なし）'}")
                lines.append(f"- 新：{_md(new) or '（記載なし）'}")
            else:
                lines.append(diff_markdown(transition.diff))
            lines.append("")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"


def changes_markdown(report: ChangesReport) -> str:
    sheets = report.sheets
    lines = [
        f"# {report.year}年度の評価シートの前年度からの変化",
        "",
        f"{len(sheets)}件（前年度と比較 {sum(s.previous_year is not None for s in sheets)}件、"
        f"評価の写し {sum(s.copied for s in sheets)}件、"
        f"古い年度の数値 {sum(bool(s.stale) for s in sheets)}件）。写しと古い数値のシートを先に並べています。",
        "",
        "| ID | 事業名 | 前年度 | 写し | 変化 | 方向性の変更 | 回答の変わった設問 | 古い年度の数値 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sheet in sheets:
        counts = "前年度なし" if sheet.previous_year is None else format_counts(sheet.changes)
        stale = "<br>".join(
            f"【{_md(item_label(r.key))}】{r.quoted_year}年度（指標は{r.latest_indicator_year}年度まで）：{_md(r.text)}"
            for r in sheet.stale
        )
        lines.append(
            f"| {sheet.id} | {_md(sheet.project_name)} | "
            f"{'－' if sheet.previous_year is None else sheet.previous_year} | "
            f"{'写し' if sheet.copied else ''} | {counts} | "
            f"{'変更' if sheet.direction_changed else ''} | {'・'.join(sheet.answers_changed)} | "
            f"{stale} |"
        )
    return "\n".join(lines) + "\n"
