"""The terminal: every command's rendering (parse, search, show, similar, candidates).

Builds rich renderables; printing is the CLI's job. Written for an 80-column terminal: results
are blocks of lines (a heading line, then indented detail lines), never tables whose cells
squeeze a sentence into a narrow column.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from evalsearch.crossref import contradiction_label
from evalsearch.history import (
    CHANGE_KINDS,
    CHANGE_NAMES,
    ChangesReport,
    DiffSpan,
    ProjectHistory,
    SheetChanges,
    format_counts,
    item_label,
    summary_line,
)
from evalsearch.records import (
    BUDGET_ROW_TITLES,
    BUDGET_ROWS,
    ITEM_QUESTIONS,
    SheetRecord,
)
from evalsearch.wording import (
    EQUAL_CONTEXT,
    cost_text,
    count_changes,
    decision_text,
    is_compared,
    latest_actuals_text,
    old_and_new,
    reference_sentence,
    renames_text,
    row_direction,
    shorten_middle,
    thousand_yen,
    transition_title,
    year_steps,
)

if TYPE_CHECKING:
    from evalsearch.candidates import CandidateResult
    from evalsearch.search import SearchResult, Snippet
    from evalsearch.similar import SimilarResult

INDENT = "   "


@dataclass(frozen=True)
class Lines:
    """``text`` wrapped to the console width by itself, every line ``indent`` columns in and
    the lines after the first ``hanging`` columns further: a snippet or a reason stays a block
    under its heading at 80 columns. It wraps even on a ``soft_wrap`` console (the CLI's),
    which would otherwise print a passage as one 180-column line, or crop an indented one."""

    text: Text
    indent: int = 0
    hanging: int = 0

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        width = max(8, options.max_width - self.indent - self.hanging)
        number = 0
        for paragraph in self.text.split("\n", allow_blank=True):
            for start, end in _breaks(paragraph.plain, width):
                line = paragraph[start:end]
                line.rstrip()
                yield Segment(" " * (self.indent + (self.hanging if number else 0)))
                yield from line.render(console)
                yield Segment.line()
                number += 1


_NO_LINE_START = set("、。，．）」』】〕〉》：；！？ー…・,.)]:;!?")
_NO_LINE_END = set("（「『【〔〈《([")


def _breakable(before: str, after: str) -> bool:
    """Whether a line may end between ``before`` and ``after``: at a space, or beside a wide
    (Japanese) character -- Japanese has no spaces -- but never before a closing mark or
    after an opening one (kinsoku), and never inside an ASCII word or number."""
    if after in _NO_LINE_START or before in _NO_LINE_END:
        return False
    if before == " ":
        return True
    return cell_len(before) > 1 or cell_len(after) > 1


def _breaks(plain: str, width: int) -> list[tuple[int, int]]:
    """(start, end) of each line of ``plain`` within ``width`` columns."""
    lines: list[tuple[int, int]] = []
    start, column, last = 0, 0, 0
    index = 0
    while index < len(plain):
        cells = cell_len(plain[index])
        if column + cells > width and index > start:
            cut = last if last > start else index  # a word longer than the line is cut
            lines.append((start, cut))
            start = cut
            while start < len(plain) and plain[start] == " ":
                start += 1
            index, column, last = start, 0, start
            continue
        column += cells
        if index + 1 < len(plain) and _breakable(plain[index], plain[index + 1]):
            last = index + 1
        index += 1
    lines.append((start, len(plain)))
    return lines


def _lines(text: str | Text, indent: int = 0, hanging: int = 0) -> Lines:
    return Lines(text if isinstance(text, Text) else Text(text), indent, hanging)


FACET_TITLES = {
    "municipality": "自治体別の件数",
    "department": "主管課別の件数",
    "decision": "今後の方向性別の件数",
}
FACET_COLUMNS = {"municipality": "自治体", "department": "主管課", "decision": "今後の方向性"}


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
    query = result.query if len(result.query) <= 60 else result.query[:60] + "…"
    header = Text(f"「{query}」: {result.total}件", style="bold")
    if result.total > shown:
        header.append(f"（上位{shown}件を表示）", style="")
    parts: list[Any] = [_lines(header)]
    parts.extend(_lines(f"注: {note}", hanging=4) for note in result.notes)
    for word, found in result.synonyms.items():
        parts.append(
            _lines(f"同義語: {word} → {'、'.join(found)}（--no-synonyms で使わない）", hanging=8)
        )
    if not result.hits:
        return Group(*parts, Text("該当するシートはありません。"))
    # One block per hit rather than a table: snippets stay whole at any terminal width,
    # wrapped under their hit.
    for rank, hit in enumerate(result.hits, start=1):
        line = Text(f"{rank}. ")
        line.append(f"{hit.project_no} {hit.project_name}", style="bold")
        line.append(
            f"　{hit.municipality} {hit.department}　{hit.fiscal_year}年度　スコア {hit.score:.2f}"
        )
        parts.append(Text(""))
        parts.append(_lines(line, hanging=len(INDENT)))
        for snippet in hit.snippets:
            parts.append(_lines(snippet_text(snippet), indent=len(INDENT)))
    parts.append(Text(""))
    for name, title in FACET_TITLES.items():
        counts = result.facets.get(name) or {}
        if not counts:
            continue
        facet = Table(title=title, title_justify="left")
        facet.add_column(FACET_COLUMNS[name])
        facet.add_column("件数", justify="right")
        for value, count in counts.items():
            facet.add_row(value or "（記載なし）", str(count))
        parts.append(facet)
    return Group(*parts)


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
    for label, assessment in record.assessments.items():
        if assessment.answer:
            answer = assessment.answer
        elif assessment.answer_candidates:
            answer = f"未確定（候補: {'／'.join(assessment.answer_candidates)}）"
        else:
            answer = "不明"
        question = ITEM_QUESTIONS.get(label, "") if record.form == "nemuro" else ""
        passage(
            f"{label}．{question} → {answer}" if question else f"{label} → {answer}",
            assessment.reason,
        )
    for label, text in record.texts.items():
        passage(label, text)
    direction = record.direction
    passage(
        "今後の方向性",
        decision_text(direction.decision, direction.measures, direction.end_fiscal_year),
    )
    if record.warnings:
        parts.append(Text("\n読み取り時の警告:", style="bold"))
        parts.extend(Text(f"・{warning}") for warning in record.warnings)
    if other_years:
        years = "、".join(f"{year}年度" for year in other_years)
        parts.append(Text(f"\n他の年度のシート: {years}（--year で指定）"))
    return Group(*parts)


def records_table(records: Sequence[SheetRecord]) -> Table:
    """One row per sheet: the summary a reviewer scans before opening a sheet."""
    table = Table(
        title=f"評価シート {len(records)}件（総事業費は千円、オは統合の可能性への回答）",
        show_lines=False,
    )
    for header, justify in (
        ("ID", "left"),
        ("事業名", "left"),
        ("主管課", "left"),
        ("総事業費", "right"),
        ("方向性", "left"),
        ("オ", "left"),
        ("警告", "right"),
    ):
        # Short values never wrap, so their headers are never broken over two lines; the
        # text columns (事業名, 主管課, 方向性) take the rest of the width and wrap.
        text = header in ("事業名", "主管課", "方向性")
        table.add_column(
            header,
            justify=justify,  # type: ignore[arg-type]
            overflow="fold",
            no_wrap=not text,
            min_width=None if text else cell_len(header),
        )
    for record in records:
        integration = record.assessments.get("オ")
        if integration is None:
            answer = "－"
        elif integration.answer is None:
            answer = "未確定"  # the dump does not pin the ticked box; nothing is guessed
        else:
            answer = integration.answer
        table.add_row(
            record.id,
            record.project_name,
            record.department,
            thousand_yen(record.budget.latest("total_cost")).removesuffix(" 千円"),
            decision_text(record.direction.decision, record.direction.measures),
            answer,
            str(len(record.warnings)),
        )
    return table


def similar_view(result: SimilarResult) -> Group:
    """``similar``: one block per neighbour, the evidence as lines under it."""
    sheet = result.project
    parts: list[Any] = [
        _lines(
            Text(
                f"{sheet.project_no} {sheet.project_name}（{sheet.fiscal_year}年度 "
                f"{sheet.department}）に類似する事業（{result.years.label}）",
                style="bold",
            )
        )
    ]
    if not result.similar:
        parts.append(Text("共通する語をもつシートはありません。"))
    detail = len(INDENT)
    for rank, neighbour in enumerate(result.similar, 1):
        other = neighbour.sheet
        line = Text(f"{rank}. ")
        line.append(f"{other.project_no} {other.project_name}", style="bold")
        year = f"　{other.fiscal_year}年度" if other.fiscal_year != sheet.fiscal_year else ""
        line.append(f"　{other.department}{year}　類似度 {neighbour.score:.3f}")
        parts.append(Text(""))
        parts.append(_lines(line, hanging=detail))
        terms = "、".join(term.term for term in neighbour.shared_terms[:6])
        if terms:
            parts.append(_lines(f"共通語: {terms}", detail, 8))
        if neighbour.passage_pairs:
            pairs = "　".join(
                f"{pair.passage}↔{pair.other_passage}（{pair.score:.2f}）"
                for pair in neighbour.passage_pairs
            )
            parts.append(_lines(f"対応する記述（本事業↔相手）: {pairs}", detail, 2))
        sheets = {sheet.key: sheet, other.key: other}
        for reference in neighbour.cross_references:
            sentence = reference_sentence(
                reference, sheets[reference.source], sheets[reference.target]
            )
            parts.append(_lines(f"言及: {sentence}", detail, 6))
        for text in neighbour.contradictions:
            parts.append(_lines(f"{contradiction_label(text)}: {text}", detail, 2))
    return Group(*parts)


def candidates_view(result: CandidateResult, *, total: int | None = None) -> Group:
    """``candidates``: one block per pair (the reasons as lines under it), then clusters."""
    scope = f"{result.year}年度" if result.year is not None else "全年度"
    header = Text(f"統合・振替の候補（{scope}、スコア {result.min_score:.2f} 以上）", style="bold")
    if total is not None and total > len(result.pairs):
        header.append(f": 全 {total} 件（上位 {len(result.pairs)} 件を表示）", style="")
    parts: list[Any] = [_lines(header)]
    if not result.pairs:
        parts.append(Text("条件に合う組み合わせはありません（--min-score を下げてみてください）。"))
    detail = len(INDENT)
    for rank, pair in enumerate(result.pairs, 1):
        line = Text(f"{rank}. ")
        line.append(f"{pair.a.project_no} {pair.a.project_name}", style="bold")
        line.append(" ＋ ")
        line.append(f"{pair.b.project_no} {pair.b.project_name}", style="bold")
        parts.append(Text(""))
        parts.append(_lines(line, hanging=detail))
        parts.append(
            _lines(
                f"スコア {pair.score:.3f}　類似度 {pair.similarity:.3f}　"
                f"{pair.a.department} / {pair.b.department}",
                detail,
            )
        )
        # Each reason a line (wrapped under its bullet); a contradiction says whether it
        # rests on answers read from the sheets or inferred from a reason text.
        for reason in pair.reasons:
            text = reason.text
            if reason.kind.startswith("contradiction"):
                text = f"{contradiction_label(text)}: {text}"
            parts.append(_lines(f"・{text}", detail, 2))
    if total is not None and total > len(result.pairs):
        parts.append(Text(""))
        parts.append(
            _lines(
                f"全 {total} 件のうち上位 {len(result.pairs)} 件を表示"
                "（--limit で件数を変更、--format json/csv でも同じ件数を出力）。"
            )
        )
    for number, cluster in enumerate(result.clusters, 1):
        names = "、".join(
            f"{result.sheets[key].project_no} {result.sheets[key].project_name}" for key in cluster
        )
        parts.append(_lines(f"まとまり{number}: {names}", hanging=2))
    return Group(*parts)


# --- history and changes across the years ----------------------------------------------

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
                    shown = shorten_middle(shown)
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


def history_renderable(history: ProjectHistory) -> Group:
    """The project's years, answers and each passage's change, for an 80-column terminal."""
    parts: list[Any] = []
    years = history.years
    span = f"{years[0]}〜{years[-1]}年度" if len(years) > 1 else f"{years[0]}年度"
    header = Text(f"{history.project_no} {history.project_name}", style="bold")
    header.append(f"　{history.municipality}　{span}")
    parts.append(header)
    if history.names:
        parts.append(Text("事業名の変更：" + renames_text(history)))
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
            str(row.year), row.review_status or "－", row_direction(row), cost_text(row.total_cost)
        )
    parts.append(table)

    indicator_lines = [(row.year, latest_actuals_text(row)) for row in history.rows]
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

    for old_year, new_year, moved in year_steps(history):
        compared = [(key, t) for key, t in moved if is_compared(t)]
        counts = format_counts(count_changes(t for _, t in compared))
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
                    transition_title(key, transition),
                    style=CHANGE_STYLES[transition.change],
                )
            )
            if transition.change in ("numbers", "edited"):
                parts.append(Text("  ") + diff_text(transition.diff))
            else:
                old, new = old_and_new(transition.diff)
                parts.append(Text(f"  旧：{old or '（記載なし）'}", style="dim"))
                parts.append(Text(f"  新：{new or '（記載なし）'}"))
    return Group(*parts)


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
