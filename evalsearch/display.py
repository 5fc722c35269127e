"""The terminal: every command's rendering (parse, search, show, similar, candidates).

Builds rich renderables; printing is the CLI's job. Written for an 80-column terminal: results
are blocks of lines (a heading line, then indented detail lines), never tables whose cells
squeeze a sentence into a narrow column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evalsearch.crossref import contradiction_label
from evalsearch.records import (
    BUDGET_ROW_TITLES,
    BUDGET_ROWS,
    ITEM_QUESTIONS,
    SheetRecord,
)
from evalsearch.wording import decision_text, reference_sentence, thousand_yen

if TYPE_CHECKING:
    from evalsearch.candidates import CandidateResult
    from evalsearch.search import SearchResult, Snippet
    from evalsearch.similar import SimilarResult

INDENT = "   "

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
    parts: list[Any] = [header]
    for word, found in result.synonyms.items():
        parts.append(Text(f"同義語: {word} → {'、'.join(found)}（--no-synonyms で使わない）"))
    if not result.hits:
        return Group(*parts, Text("該当するシートはありません。"))
    # One block per hit rather than a table: snippets stay whole at any terminal width.
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
        Text(
            f"{sheet.project_no} {sheet.project_name}（{sheet.fiscal_year}年度 "
            f"{sheet.department}）に類似する事業（{result.years.label}）",
            style="bold",
        )
    ]
    if not result.similar:
        parts.append(Text("共通する語をもつシートはありません。"))
    for rank, neighbour in enumerate(result.similar, 1):
        other = neighbour.sheet
        line = Text(f"\n{rank}. ")
        line.append(f"{other.project_no} {other.project_name}", style="bold")
        year = f"　{other.fiscal_year}年度" if other.fiscal_year != sheet.fiscal_year else ""
        line.append(f"　{other.department}{year}　類似度 {neighbour.score:.3f}")
        parts.append(line)
        terms = "、".join(term.term for term in neighbour.shared_terms[:6])
        if terms:
            parts.append(Text(f"{INDENT}共通語: {terms}"))
        if neighbour.passage_pairs:
            pairs = "　".join(
                f"{pair.passage}↔{pair.other_passage}（{pair.score:.2f}）"
                for pair in neighbour.passage_pairs
            )
            parts.append(Text(f"{INDENT}対応する記述（本事業↔相手）: {pairs}"))
        sheets = {sheet.key: sheet, other.key: other}
        for reference in neighbour.cross_references:
            sentence = reference_sentence(
                reference, sheets[reference.source], sheets[reference.target]
            )
            parts.append(Text(f"{INDENT}言及: {sentence}"))
        for text in neighbour.contradictions:
            parts.append(Text(f"{INDENT}{contradiction_label(text)}: {text}"))
    return Group(*parts)


def candidates_view(result: CandidateResult, *, total: int | None = None) -> Group:
    """``candidates``: one block per pair (the reasons as lines under it), then clusters."""
    scope = f"{result.year}年度" if result.year is not None else "全年度"
    parts: list[Any] = [
        Text(f"統合・振替の候補（{scope}、スコア {result.min_score:.2f} 以上）", style="bold")
    ]
    if not result.pairs:
        parts.append(Text("条件に合う組み合わせはありません（--min-score を下げてみてください）。"))
    for rank, pair in enumerate(result.pairs, 1):
        line = Text(f"\n{rank}. ")
        line.append(f"{pair.a.project_no} {pair.a.project_name}", style="bold")
        line.append(" ＋ ")
        line.append(f"{pair.b.project_no} {pair.b.project_name}", style="bold")
        parts.append(line)
        parts.append(
            Text(
                f"{INDENT}スコア {pair.score:.3f}　類似度 {pair.similarity:.3f}　"
                f"{pair.a.department} / {pair.b.department}"
            )
        )
        parts.extend(Text(f"{INDENT}・{reason.text}") for reason in pair.reasons)
    if total is not None and total > len(result.pairs):
        parts.append(
            Text(
                f"\n全 {total} 件のうち上位 {len(result.pairs)} 件を表示"
                "（--limit で件数を変更、--format json/csv でも同じ件数を出力）。"
            )
        )
    for number, cluster in enumerate(result.clusters, 1):
        names = "、".join(
            f"{result.sheets[key].project_no} {result.sheets[key].project_name}" for key in cluster
        )
        parts.append(Text(f"まとまり{number}: {names}"))
    return Group(*parts)
