"""Reports for a committee: candidate pairs (or one project's neighbours) as HTML, Markdown, CSV.

``build_candidates_report`` / ``build_project_report`` turn library results plus the full
records into a ``Report`` (plain data: what to show, already highlighted); ``render`` fills the
jinja2 templates in ``templates/`` (HTML, Markdown) or writes CSV. The HTML is self-contained:
inline CSS and one inline SVG picture (``network.py``), no scripts, nothing fetched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from evalsearch.candidates import (
    DEFAULT_MIN_SCORE,
    SCORE_WEIGHTS,
    CandidatePair,
    score_pair,
)
from evalsearch.crossref import (
    CrossReference,
    SheetInfo,
    contradiction_label,
    is_inferred,
    name_form,
)
from evalsearch.csvout import BOM, changes_csv, pairs_csv
from evalsearch.errors import EvalSearchError, os_reason
from evalsearch.handle import Index
from evalsearch.history import (
    ChangesReport,
    DiffSpan,
    ProjectHistory,
    format_counts,
    item_label,
    summary_line,
)
from evalsearch.network import Edge, Node, render_svg
from evalsearch.records import SheetRecord
from evalsearch.similar import YearScope
from evalsearch.similarity import PassagePair
from evalsearch.wording import (
    cost_text,
    count_changes,
    decision_text,
    is_compared,
    latest_actuals_text,
    old_and_new,
    reference_sentence,
    renames_text,
    row_direction,
    thousand_yen,
    transition_title,
    year_steps,
)

Format = Literal["html", "md", "csv"]

FORMATS: Mapping[str, Format] = {".html": "html", ".htm": "html", ".md": "md", ".csv": "csv"}
"""Output format by file suffix."""

PASSAGE_TITLES: Mapping[str, str] = {
    "ア": "ア 成果への有効性",
    "イ": "イ 市以外の主体による実施",
    "ウ": "ウ 見直しの必要性",
    "エ": "エ コスト・事業費の工夫",
    "オ": "オ 他事業との統合の可能性",
    "カ": "カ 受益者負担",
    "見直し": "見直しの内容",
    "動向": "今後の動向・市民ニーズ",
    "活動": "活動内容",
    "意図": "意図",
    "事業名": "事業名",
}

SCORE_DESCRIPTIONS: Mapping[str, str] = {
    "similarity": "本文の類似度（TF-IDF のコサイン ⅔、互いに何番目に近いか ⅓）",
    "cross_reference": "一方が他方の事業名・団体名に言及",
    "merge_plan": "方向性に「統合・振替」がある割合",
    "integration_answer": "オ（統合の可能性）が「ある」の割合",
    "contradiction": "互いの記述に食い違いの疑い",
}

DEFAULT_DETAIL_PAIRS = 30
"""Pairs shown in full (side by side)."""

SUMMARY_ROWS = 200
"""Pairs listed in the HTML/Markdown summary table; the CSV form lists every pair."""


@dataclass(frozen=True)
class Segment:
    """A run of text, ``marked`` when it is a shared term (highlighted)."""

    text: str
    marked: bool = False


@dataclass(frozen=True)
class SheetView:
    id: str
    project_no: str
    project_name: str
    department: str
    total_cost: str
    direction: str
    integration: str
    integration_reason: str


@dataclass(frozen=True)
class PassageMatch:
    """One of B's passages matching an A passage; ``shown_above`` when its text is already in
    the card (it matches an earlier A passage too) and is referred to, not repeated."""

    title: str
    segments: tuple[Segment, ...]
    score: float
    terms: tuple[str, ...]
    shown_above: bool = False


@dataclass(frozen=True)
class PassageView:
    """A passage of sheet A, shown once, beside every passage of B that matches it."""

    title_a: str
    segments_a: tuple[Segment, ...]
    matches: tuple[PassageMatch, ...]


@dataclass(frozen=True)
class ReferenceView:
    text: str  # "12276 の【ウ】が 12770 に言及"
    segments: tuple[Segment, ...]  # the sentence, the name marked
    partner: bool
    shown_in: str = ""
    """The passage block of the card that holds the sentence (「A ウ 見直しの必要性」): the
    call-out points there instead of quoting the sentence a second time."""


@dataclass(frozen=True)
class PairView:
    rank: int
    pair: CandidatePair
    a: SheetView
    b: SheetView
    passages: tuple[PassageView, ...]
    references: tuple[ReferenceView, ...]
    shared_terms: tuple[str, ...]


@dataclass(frozen=True)
class HistoryStep:
    """One year's change in a project report: the counts and each changed passage's diff."""

    old_year: int
    new_year: int
    counts: str
    changed: tuple[tuple[str, str, tuple[DiffSpan, ...]], ...]
    """(title, change kind, diff spans) of each passage that is not 同文."""


@dataclass(frozen=True)
class Report:
    """Everything a template needs; built by ``build_*_report``."""

    title: str
    description: str
    kind: Literal["candidates", "project"]
    sheet_count: int
    pairs: tuple[PairView, ...]
    clusters: tuple[tuple[SheetView, ...], ...]
    svg: str
    generated: str = field(default_factory=lambda: date.today().isoformat())
    detail_count: int = DEFAULT_DETAIL_PAIRS
    cluster_keys: tuple[tuple[str, ...], ...] = ()
    history: ProjectHistory | None = None
    """The project's evaluations across the years (project reports)."""

    @property
    def history_markdown(self) -> str:
        if self.history is None:
            return ""
        # The history's own title line is the report's section heading here.
        return history_markdown(self.history).split("\n", 1)[1].replace("\n## ", "\n### ")

    @property
    def history_steps(self) -> list[HistoryStep]:
        """Each year's changed passages against the year before, for the HTML 経年 section."""
        if self.history is None:
            return []
        steps = []
        for old, new, moved in year_steps(self.history):
            compared = [(key, t) for key, t in moved if is_compared(t)]
            changed = [
                (transition_title(key, t), t.change, t.diff)
                for key, t in compared
                if t.change != "same"
            ]
            counts = format_counts(count_changes(t for _, t in compared))
            steps.append(HistoryStep(old, new, counts, tuple(changed)))
        return steps

    @property
    def history_rows(self) -> list[tuple[int, str, str, str]]:
        if self.history is None:
            return []
        return [
            (
                row.year,
                row.review_status or "－",
                row_direction(row),
                summary_line(self.history, row.year) or "－",
            )
            for row in self.history.rows
        ]

    @property
    def score_formula(self) -> list[tuple[float, str]]:
        return [(SCORE_WEIGHTS[key], SCORE_DESCRIPTIONS[key]) for key in SCORE_WEIGHTS]

    @property
    def detailed(self) -> tuple[PairView, ...]:
        return self.pairs[: self.detail_count]

    @property
    def summary(self) -> tuple[PairView, ...]:
        return self.pairs[:SUMMARY_ROWS]


def build_candidates_report(
    index: Index,
    *,
    year: int | None = None,
    municipality: str | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
    detail_count: int = DEFAULT_DETAIL_PAIRS,
) -> Report:
    """The 統合・振替 candidates report (``Index.candidates`` with the full records)."""
    result = index.candidates(year=year, municipality=municipality, min_score=min_score)
    model = index.model
    by_key = {record.key: record for record in index.records()}
    views = tuple(
        _pair_view(rank, pair, by_key, detailed=rank <= detail_count)
        for rank, pair in enumerate(result.pairs, 1)
    )
    sheets = {view.pair.a.key: view.a for view in views} | {
        view.pair.b.key: view.b for view in views
    }
    clusters = tuple(
        tuple(sheets[key] for key in cluster if key in sheets) for cluster in result.clusters
    )
    scope = f"{year}年度" if year is not None else "全年度（年度内の組み合わせ）"
    return Report(
        title="統合・振替の候補となる事業の組み合わせ",
        description=(
            f"対象: {scope}、{len(model)} シート。スコア {min_score:.2f} 以上の組み合わせ"
            f" {len(views)} 件、3事業以上のまとまり {len(clusters)} 件。"
        ),
        kind="candidates",
        sheet_count=len(model),
        pairs=views,
        clusters=clusters,
        svg=_picture(result.pairs, "統合・振替候補のつながり（線の太さ＝スコア）"),
        detail_count=detail_count,
        cluster_keys=result.clusters,
    )


def build_project_report(
    index: Index,
    project: str,
    *,
    year: int | None = None,
    limit: int = 10,
    years: YearScope = YearScope.OTHER_PROJECTS,
) -> Report:
    """One project against its most similar sheets and every sheet it names or is named by."""
    result = index.similar(project, limit=limit, years=years, year=year)
    model, crossrefs = index.model, index.crossrefs
    key = result.project.key
    row = model.row_of(key)
    others = [model.row_of(neighbour.sheet.key) for neighbour in result.similar]
    for reference in crossrefs.references:
        if key in (reference.source, reference.target):
            other = reference.target if reference.source == key else reference.source
            if model.row_of(other) not in others:
                others.append(model.row_of(other))
    pairs = [score_pair(model, crossrefs, row, other, keep_order=True) for other in others]
    pairs.sort(key=lambda pair: -pair.similarity)
    by_key = {record.key: record for record in index.records()}
    views = tuple(_pair_view(rank, pair, by_key) for rank, pair in enumerate(pairs, 1))
    sheet = result.project
    return Report(
        title=f"{sheet.project_no} {sheet.project_name} に類似する事業",
        description=(
            f"{sheet.fiscal_year}年度 {sheet.department}。"
            f"{years.label}の {len(model)} シートから類似度の高い順"
            f"（名称の言及がある事業を含む）。"
        ),
        kind="project",
        sheet_count=len(model),
        pairs=views,
        clusters=(),
        svg=_picture(pairs, f"{sheet.project_no} と類似する事業（線の太さ＝類似度）", True),
        detail_count=len(views),
        history=index.history(f"{sheet.municipality}/{sheet.project_no}"),
    )


def output_format(path: Path) -> Format:
    """The format a file name asks for; ValueError for another suffix."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(
            f"{path}: 出力形式が分かりません。拡張子を .html / .md / .csv にしてください。"
        ) from None


def render(report: Report, fmt: Format) -> str:
    if fmt == "csv":
        return pairs_csv([view.pair for view in report.pairs], report.cluster_keys)
    template = _environment().get_template("report.html.j2" if fmt == "html" else "report.md.j2")
    return template.render(report=report, titles=PASSAGE_TITLES)


def write_changes_report(report: ChangesReport, path: Path) -> Path:
    """``report --changes --year Y``: Markdown, CSV, or HTML (a table, as in Markdown)."""
    fmt = output_format(path)
    if fmt == "csv":
        text = BOM + changes_csv(report)
    elif fmt == "md":
        text = changes_markdown(report)
    else:
        text = _environment().get_template("changes.html.j2").render(report=report)
    return _write(text, path)


def write_report(report: Report, path: Path) -> Path:
    """Write ``report`` in the format the suffix asks for; CSV gets a BOM so Excel reads it."""
    fmt = output_format(path)
    text = render(report, fmt)
    if fmt == "csv":
        text = BOM + text  # a file is opened in Excel: UTF-8 needs the mark there
    return _write(text, path)


def _write(text: str, path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    except OSError as error:
        raise EvalSearchError(
            f"{path} に書き出せません（{os_reason(error)}）。別の --out を指定してください。"
        ) from None
    return path


# -- building views ----------------------------------------------------------------------


def highlight(
    text: str, terms: set[str] | frozenset[str], names: Sequence[str] = ()
) -> tuple[Segment, ...]:
    """``text`` cut into segments, the spans whose analysed term is in ``terms`` marked, and
    every occurrence of the literal ``names`` (project or organisation names it mentions).

    The shared terms are normalised forms (町作り), so the text is analysed again to find
    which surface spans (まちづくり) carry them -- a handful of passages per report.
    """
    if not text:
        return ()
    if not terms and not names:
        return (Segment(text),)
    from evalsearch.analysis import analyze

    spans = [(term.start, term.end) for term in analyze(text) if term.text in terms]
    for name in names:
        start = text.find(name) if name else -1
        while start >= 0:
            spans.append((start, start + len(name)))
            start = text.find(name, start + len(name))
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    segments: list[Segment] = []
    cursor = 0
    for start, end in merged:
        if start > cursor:
            segments.append(Segment(text[cursor:start]))
        segments.append(Segment(text[start:end], marked=True))
        cursor = end
    if cursor < len(text):
        segments.append(Segment(text[cursor:]))
    return tuple(segments)


def _mark_name(text: str, name: str) -> tuple[Segment, ...]:
    start = text.find(name)
    if start < 0:
        return (Segment(text),)
    end = start + len(name)
    pieces = (Segment(text[:start]), Segment(name, True), Segment(text[end:]))
    return tuple(piece for piece in pieces if piece.text)


def _sheet_view(sheet: SheetInfo) -> SheetView:
    return SheetView(
        id=sheet.id,
        project_no=sheet.project_no,
        project_name=sheet.project_name,
        department=sheet.department + (f"（{sheet.section}）" if sheet.section else ""),
        total_cost=thousand_yen(sheet.total_cost),
        direction=decision_text(sheet.decision, sheet.measures),
        integration=sheet.integration_label,
        integration_reason=sheet.integration_reason,
    )


def _pair_view(
    rank: int, pair: CandidatePair, records: Mapping[str, SheetRecord], *, detailed: bool = True
) -> PairView:
    shared = tuple(term.term for term in pair.shared_terms)
    record_a, record_b = records.get(pair.a.key), records.get(pair.b.key)
    passages: tuple[PassageView, ...] = ()
    shown: dict[tuple[str, str], tuple[str, str]] = {}
    # Highlighting analyses the passages again: only for the pairs shown in full.
    if detailed and record_a is not None and record_b is not None:
        passages, shown = _passage_views(pair, record_a, record_b, set(shared))
    return PairView(
        rank=rank,
        pair=pair,
        a=_sheet_view(pair.a),
        b=_sheet_view(pair.b),
        passages=passages,
        references=tuple(_reference_view(ref, pair, shown) for ref in pair.cross_references),
        shared_terms=shared,
    )


def _passage_views(
    pair: CandidatePair, record_a: SheetRecord, record_b: SheetRecord, shared: set[str]
) -> tuple[tuple[PassageView, ...], dict[tuple[str, str], tuple[str, str]]]:
    """The matching passages, each text once in the card: the pairs (ウ↔イ, ウ↔ア, ウ↔動向)
    grouped by A's passage, and a B passage matching several A passages written out at its
    first match only. Also returns what the blocks show: (sheet key, passage label) ->
    (block title, text), for the call-outs to point at instead of quoting again."""
    texts_a, texts_b = record_a.passages(), record_b.passages()
    names: dict[tuple[str, str], list[str]] = {}
    for reference in pair.cross_references:
        names.setdefault((reference.source, reference.passage), []).append(reference.name)
    shown_text: dict[tuple[str, str], tuple[str, str]] = {}
    grouped: dict[str, list[PassagePair]] = {}
    for passage in pair.passage_pairs:
        grouped.setdefault(passage.passage, []).append(passage)
    shown_b: set[str] = set()
    views = []
    for label_a, matches in grouped.items():
        terms_a = shared.union(*(match.shared_terms for match in matches))
        shown: list[PassageMatch] = []
        for match in matches:
            label_b = match.other_passage
            repeated = label_b in shown_b
            shown_b.add(label_b)
            terms_b = shared | set(match.shared_terms)
            title_b = PASSAGE_TITLES.get(label_b, label_b)
            text_b = texts_b.get(label_b, "")
            if not repeated:
                shown_text[pair.b.key, label_b] = (f"B {title_b}", text_b)
            names_b = names.get((pair.b.key, label_b), ())
            shown.append(
                PassageMatch(
                    title=title_b,
                    segments=() if repeated else highlight(text_b, terms_b, names_b),
                    score=match.score,
                    terms=match.shared_terms,
                    shown_above=repeated,
                )
            )
        title_a = PASSAGE_TITLES.get(label_a, label_a)
        text_a = texts_a.get(label_a, "")
        shown_text[pair.a.key, label_a] = (f"A {title_a}", text_a)
        views.append(
            PassageView(
                title_a=title_a,
                segments_a=highlight(text_a, terms_a, names.get((pair.a.key, label_a), ())),
                matches=tuple(shown),
            )
        )
    return tuple(views), shown_text


def _reference_view(
    reference: CrossReference,
    pair: CandidatePair,
    shown: Mapping[tuple[str, str], tuple[str, str]],
) -> ReferenceView:
    sheets = {pair.a.key: pair.a, pair.b.key: pair.b}
    block, text = shown.get((reference.source, reference.passage), ("", ""))
    # The sentence is quoted unless a passage block of the card already holds it, with the
    # name as written there (a name in half-width ｶﾀｶﾅ is quoted in its normalised form).
    inside = bool(block) and reference.name in text and reference.context in name_form(text)
    return ReferenceView(
        text=reference_sentence(reference, sheets[reference.source], sheets[reference.target]),
        segments=() if inside else _mark_name(reference.context, reference.name),
        partner=reference.partner,
        shown_in=block if inside else "",
    )


def _picture(pairs: Sequence[CandidatePair], title: str, by_similarity: bool = False) -> str:
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    for pair in pairs:
        for sheet in (pair.a, pair.b):
            nodes.setdefault(
                sheet.id,
                Node(id=sheet.project_no, label=sheet.project_name, group=sheet.department),
            )
        if pair.contradictions:
            asserted = not all(is_inferred(text) for text in pair.contradictions)
            kind = "contradiction" if asserted else "contradiction_inferred"
        elif pair.cross_references:
            kind = "cross_reference"
        else:
            kind = "similarity"
        weight = pair.similarity if by_similarity else pair.score
        edges.append(Edge(pair.a.id, pair.b.id, max(0.0, weight), kind))
    if not nodes:
        return ""
    return render_svg(nodes, edges, title=title)


def _environment():  # -> jinja2.Environment; jinja2 is imported only when rendering
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["md"] = _markdown_escape
    environment.filters["contradiction_label"] = contradiction_label
    return environment


def _markdown_escape(text: object) -> str:
    """Escape what would break a Markdown table cell or start emphasis."""
    value = "" if text is None else str(text)
    for char in ("\\", "|", "*", "_", "`", "[", "]", "<", ">"):
        value = value.replace(char, "\\" + char)
    return value.replace("\n", " ")


# --------------------------------------------------------------------------------------------
# Markdown.


def diff_markdown(spans: Sequence[DiffSpan]) -> str:
    """~~deleted~~ and **inserted** text inline, unchanged text as is."""
    out = []
    for span in spans:
        if span.op == "equal":
            out.append(_markdown_escape(span.old))
            continue
        if span.old:
            out.append(f"~~{_markdown_escape(span.old)}~~")
        if span.new:
            out.append(f"**{_markdown_escape(span.new)}**")
    return "".join(out)


def history_markdown(history: ProjectHistory) -> str:
    years = history.years
    lines = [
        f"# {_markdown_escape(history.project_no)} {_markdown_escape(history.project_name)}（{_markdown_escape(history.municipality)}）",
        "",
    ]
    if history.names:
        lines += [
            "事業名の変更：" + _markdown_escape(renames_text(history)),
            "",
        ]
    summary = summary_line(history)
    if history.message:
        lines += [_markdown_escape(history.message), ""]
    elif summary:
        lines += [_markdown_escape(f"{years[-1]}年度の{summary}"), ""]
    lines += [
        "## 年度ごとの評価",
        "",
        "| 年度 | 見直し状況 | 今後の方向性 | 総事業費（千円） | 活動指標の最新実績 |",
        "|---|---|---|--:|---|",
    ]
    for row in history.rows:
        lines.append(
            f"| {row.year} | {_markdown_escape(row.review_status or '－')} | {_markdown_escape(row_direction(row))} | "
            f"{cost_text(row.total_cost)} | {_markdown_escape(latest_actuals_text(row)) or '－'} |"
        )
    answer_keys = list(dict.fromkeys(key for row in history.rows for key in row.answers))
    if answer_keys:
        lines += ["", "## 回答", "", "| 設問 | " + " | ".join(str(y) for y in years) + " |"]
        lines.append("|---|" + "---|" * len(years))
        for key in answer_keys:
            cells = [_markdown_escape(row.answers.get(key) or "－") for row in history.rows]
            lines.append(f"| {_markdown_escape(key)} | " + " | ".join(cells) + " |")
    for old_year, new_year, moved in year_steps(history):
        compared = [(key, t) for key, t in moved if is_compared(t)]
        counts = format_counts(count_changes(t for _, t in compared))
        lines += ["", f"## {old_year}→{new_year}年度の記述の変化（{counts}）", ""]
        same = [item_label(key) for key, t in compared if t.change == "same"]
        if same:
            lines += [f"同文：{_markdown_escape('・'.join(same))}", ""]
        for key, transition in compared:
            if transition.change == "same":
                continue
            lines += [f"### {_markdown_escape(transition_title(key, transition))}", ""]
            if transition.change == "rewritten":
                old, new = old_and_new(transition.diff)
                lines.append(f"- 旧：{_markdown_escape(old) or '（記載なし）'}")
                lines.append(f"- 新：{_markdown_escape(new) or '（記載なし）'}")
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
            f"【{_markdown_escape(item_label(r.key))}】{r.quoted_year}年度（指標は{r.latest_indicator_year}年度まで）：{_markdown_escape(r.text)}"
            for r in sheet.stale
        )
        lines.append(
            f"| {sheet.id} | {_markdown_escape(sheet.project_name)} | "
            f"{'－' if sheet.previous_year is None else sheet.previous_year} | "
            f"{'写し' if sheet.copied else ''} | {counts} | "
            f"{'変更' if sheet.direction_changed else ''} | {'・'.join(sheet.answers_changed)} | "
            f"{stale} |"
        )
    return "\n".join(lines) + "\n"
