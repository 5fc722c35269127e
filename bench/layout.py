"""Render a SheetRecord as the PDF text dump of the sample (corpus/000_e354498715c974cd.txt).

Two block orders, copied box for box from the sample:

* ``SCRAMBLED`` (sample sheet 1, 12276): budget values sit unlabeled in their own boxes, the
  section ５ questions are torn apart (the ウ/エ/オ checkbox rows are detached from their items),
  the カ question shares its last line with the first line of its reason, a page footer ends it.
* ``ORDERED`` (sample sheet 2, 12770): questions in form order, その他/一般財源 share a line with
  their values, 今後の動向 shares a line with the first line of its passage.

Boxes are separated by one blank line. Passages wrap at about 45 full-width characters; a wrap
may split a word anywhere, so readers re-join lines without inserting anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bench.phrases import OPTIONS, QUESTION_LINES
from evalsearch.records import Budget, Indicator, SheetRecord

SCRAMBLED = "scrambled"
ORDERED = "ordered"
BLOCK_ORDERS: tuple[str, ...] = (SCRAMBLED, ORDERED)

PASSAGE_WIDTH = 90
"""Width of a passage line in half-width units (a full-width character counts 2)."""
INDICATOR_NAME_WIDTH = 30
NO_LINE_START = frozenset("、。，．）」』】")
"""Characters the form never puts at the start of a line (they hang on the line before)."""

GAP = "　　"
"""Separator between checkbox options (two ideographic spaces)."""

_HALF_WIDTH = re.compile(r"[\x00-\x7f\uff61-\uff9f]")
_FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def char_width(char: str) -> int:
    return 1 if _HALF_WIDTH.match(char) else 2


def wrap(text: str, width: int = PASSAGE_WIDTH) -> list[str]:
    """Split ``text`` into form lines of at most ``width`` half-width units.

    Newlines in ``text`` start a new line (bullet lists). A line never starts with a character
    of ``NO_LINE_START``: such a character hangs on the line before, one past the width.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if not paragraph:
            continue
        if not _HALF_WIDTH.search(paragraph):
            step = width // 2
            chunks = [paragraph[i : i + step] for i in range(0, len(paragraph), step)]
        else:
            chunks = []
            start, used = 0, 0
            for index, char in enumerate(paragraph):
                w = char_width(char)
                if used + w > width:
                    chunks.append(paragraph[start:index])
                    start, used = index, 0
                used += w
            chunks.append(paragraph[start:])
        for i in range(1, len(chunks)):
            while chunks[i] and chunks[i][0] in NO_LINE_START:
                chunks[i - 1] += chunks[i][0]
                chunks[i] = chunks[i][1:]
        lines.extend(chunk for chunk in chunks if chunk)
    return lines


def full_width_digits(value: int | str) -> str:
    return str(value).translate(_FULL_WIDTH_DIGITS)


def checkbox_row(options: Sequence[str], chosen: str | None) -> str:
    return GAP.join(("■" if option == chosen else "□") + option for option in options)


def format_number(value: int | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return f"{value:,}"


def format_row(values: Sequence[int | float | None] | None) -> str:
    """Budget values as printed: blank cells leave nothing."""
    return " ".join(format_number(value) for value in values or () if value is not None)


def labeled(label: str, text: str) -> str:
    return f"{label} {text}" if text else label


def era_year(fiscal_year: int) -> int:
    return fiscal_year - 2018


def created_text(created: str | None) -> str:
    """ "2024-09" → "令和６年9月" (era year full width, month half width, as in the sample)."""
    if not created:
        return ""
    year, month = created.split("-")
    return f"令和{full_width_digits(era_year(int(year)))}年{int(month)}月"


def unit_cost_text(record: SheetRecord, rank: int) -> str:
    """単位コスト実績値 of indicator ``rank`` (1 or 2): 総事業費 ÷ latest actual, "-" when 0."""
    if rank > len(record.indicators):
        return ""
    indicator = record.indicators[rank - 1]
    latest = list(indicator.actual.values())[-1] or ""
    digits = re.sub(r"[^0-9]", "", latest)
    total = record.budget.total_cost or ()
    if not digits or int(digits) == 0 or len(total) < 2:
        return "- -"
    return " ".join(
        format_number(round(value / int(digits))) if value is not None else "-"
        for value in total[:2]
    )


class Lines:
    """Accumulates dump lines; ``box`` adds a box and the blank line that ends it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def box(self, *lines: str) -> None:
        self.lines.extend(lines)
        self.lines.append("")

    def blank(self, count: int = 1) -> None:
        self.lines.extend([""] * count)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _indicator_header(indicators: Sequence[Indicator], fiscal_year: int) -> str:
    if indicators:
        return " ".join(indicators[0].actual)
    era = era_year(fiscal_year)
    return " ".join(f"R{year}" for year in range(era - 4, era + 1))


def _indicator_rows(out: Lines, indicators: Sequence[Indicator]) -> None:
    for rank in range(1, 5):
        if rank <= len(indicators):
            item = indicators[rank - 1]
            values = [item.plan, *item.actual.values(), *item.target.values()]
            out.box(" ".join([str(rank), *(value or "" for value in values)]))
        else:
            out.box(str(rank))


def _head(out: Lines, record: SheetRecord, first_in_file: bool) -> None:
    header = _indicator_header(record.indicators, record.fiscal_year)
    out.box((" " if first_in_file else "") + header)
    _indicator_rows(out, record.indicators)
    out.box("職員人件費　 （＝人員（人工）× 7,455 千円）")


def _title(record: SheetRecord) -> str:
    era = full_width_digits(era_year(record.fiscal_year))
    stage = record.evaluation_stage or "中間"
    return f"別紙１　　　　　　　事務事業評価（{stage}評価）シート　【令和{era}年度】"


def _department(record: SheetRecord) -> str:
    name = record.department + (f"（{record.section}）" if record.section else "")
    return f"主管課名（担当名） {name}"


def _name(record: SheetRecord) -> str:
    return f"事務事業名 {record.project_name} 事業番号 {record.project_no}"


def _flags(out: Lines, record: SheetRecord) -> None:
    priority = checkbox_row(("該当", "非該当"), "該当" if record.priority_project else "非該当")
    stage = record.evaluation_stage
    out.box(
        f"重点プロジェクト {priority} 評価時期",
        ("■" if stage == "中間" else "□") + "中間",
        ("■" if stage == "事後" else "□") + "事後",
    )
    out.box(
        "事務区分",
        ("■" if record.affairs_type == "自治" else "□") + "自治",
        ("■" if record.affairs_type == "法定受託" else "□") + "法定受託",
    )


def _direction_lines(record: SheetRecord, blank_year: str) -> list[str]:
    direction = record.direction
    decision = direction.decision

    def tick(name: str) -> str:
        return ("■" if decision == name else "□") + name

    measures = GAP.join(
        ("■" if measure in direction.measures else "□") + measure
        for measure in ("拡充", "手段を見直す", "効率化", "簡素化", "統合・振替")
    )
    end = blank_year
    if decision == "終期設定あり" and direction.end_fiscal_year is not None:
        end = str(era_year(direction.end_fiscal_year))
    return [
        tick("現状のまま継続"),
        f"{tick('見直しのうえで継続')}　（{measures}）",
        f"{tick('終期設定あり')}　（R{end}年度末終了予定）",
        tick("休止"),
        tick("廃止"),
        tick("完了"),
    ]


def _answer_row(record: SheetRecord, label: str) -> str:
    return checkbox_row(OPTIONS[label], record.assessments[label].answer)


def _question(label: str) -> list[str]:
    return [f"{label}．", *QUESTION_LINES[label]]


def _review_row(record: SheetRecord) -> str:
    statuses = ("検討中", "見直し・改善済み", "見直しをしたが改善に至っていない", "検討していない")
    return "見直し状況 " + checkbox_row(statuses, record.review_status)


def _budget_header_columns(budget: Budget, full_width: bool) -> list[str]:
    columns = list(budget.columns)
    if full_width:
        columns = [re.sub(r"\d+", lambda m: full_width_digits(m.group()), c) for c in columns]
    return columns


def _purpose_boxes(out: Lines, record: SheetRecord, width: int) -> None:
    """活動内容 and 意図 with their values, then the heading of section ３ (both orders)."""
    out.box("活動内容")
    out.box("（事業の概要や具体的な内", "容、方法など）")
    _wrapped_box(out, record.activities, width)
    out.box("意　図")
    out.box("（どの様な成果を得ようとして", "いるのか）")
    _wrapped_box(out, record.intent, width)
    out.box("３　事務事業の現状")


def _wrapped_box(out: Lines, text: str, width: int) -> None:
    lines = wrap(text, width)
    if lines:
        out.box(*lines)


def render_scrambled(record: SheetRecord, *, first_in_file: bool, width: int) -> str:
    """Sample sheet 1's order: unlabeled budget rows, detached ウ/エ/オ rows, page footer."""
    out = Lines()
    budget = record.budget
    reasons = {label: wrap(record.assessments[label].reason, width) for label in OPTIONS}
    _head(out, record, first_in_file)
    out.box(_title(record))
    out.box(_department(record))
    out.box(_name(record))
    _flags(out, record)
    out.box("１　施策体系")
    out.box(labeled("施策区分", record.policy_area or ""))
    out.box(labeled("施策目標", record.policy_goal or ""))
    out.box("２　事務事業の概要と目的", "事務や事業が対象としている人", "や団体など")
    out.box(f"　{record.target or ''}")
    out.box(f"対象者の今後の予想 　{record.target_outlook or ''}")
    out.box("施策体系との関連")
    out.box("対　象")
    out.box(" ".join(_budget_header_columns(budget, full_width=False)))
    out.box(format_row(budget.project_cost))
    out.box("国道支出金")
    out.box("事業費　（＝下記内訳計）")
    out.box("内")
    out.box("訳")
    out.box("地方債")
    out.box("その他")
    out.box("0")
    out.box(format_row(budget.general_revenue))
    out.box("一般財源")
    _purpose_boxes(out, record, width)
    out.box("実績値")
    for indicator in record.indicators:
        out.box(*wrap(indicator.name, INDICATOR_NAME_WIDTH))
    plan_year = record.indicators[0].plan_year if record.indicators else ""
    out.box("活動指標名", "計画値", f"（{plan_year}）")
    out.box("目標値", "（R2）")
    out.box("目標値", "（R7）")
    out.box(labeled("総事業費　（＝事業費＋職員人件費）", format_row(budget.total_cost)))
    out.box(labeled("単位コスト実績値　２　（＝総事業費÷成果実績値）", unit_cost_text(record, 2)))
    out.box(labeled("単位コスト実績値　１　（＝総事業費÷成果実績値）", unit_cost_text(record, 1)))
    out.box("0 0")
    out.box(labeled("人員（人工）", format_row(budget.staff_fte)))
    out.box(format_row(budget.staff_cost))
    out.blank(2)
    out.box(*_question("オ"))
    out.box(_answer_row(record, "イ"))
    out.box(*reasons["オ"])
    out.box(labeled("作成年月日", created_text(record.created)))
    ka_question = _question("カ")
    ka_question[-1] = f"{ka_question[-1]} {reasons['カ'][0]}"
    out.box(*ka_question)
    if len(reasons["カ"]) > 1:
        out.box(*reasons["カ"][1:])
    out.box("６　事務事業の今後の方向性")
    out.box("今後の方向性")
    out.box(*_direction_lines(record, blank_year="　"))
    out.box("イ．")
    out.box(_answer_row(record, "カ"))
    out.box(*reasons["ウ"])
    out.box(_answer_row(record, "エ"))
    out.box(*reasons["エ"])
    out.box(_answer_row(record, "ウ"))
    out.box(*QUESTION_LINES["イ"])
    out.box(*_question("ウ"))
    out.box(*_question("エ"))
    out.box(*reasons["イ"])
    out.box(_answer_row(record, "オ"))
    out.box(*reasons["ア"])
    out.box("４　事務事業の見直し状況や行政課題など", "　　（事前評価にかかげた課題について記入）")
    out.box("見直しの内容など", *wrap(record.review_content, width))
    out.box("今後の動向・市民ニーズなど", *wrap(record.outlook_needs, width))
    out.box("５　事務事業の評価")
    out.box(_review_row(record))
    out.box(*_question("ア"))
    out.box(_answer_row(record, "ア"))
    out.blank(2)
    out.box(record.page or "")
    return out.text()


def _inline_passage(label: str, text: str, width: int) -> list[str]:
    """Label and the first line of its passage on one line, the rest below (sample 12770)."""
    lines = wrap(text, width)
    if not lines:
        return [label]
    return [f"{label} {lines[0]}", *lines[1:]]


def render_ordered(record: SheetRecord, *, first_in_file: bool, width: int) -> str:
    """Sample sheet 2's order: questions in form order, labeled budget rows, no footer."""
    out = Lines()
    budget = record.budget
    columns = _budget_header_columns(budget, full_width=True)
    _head(out, record, first_in_file)
    _flags(out, record)
    out.box(_title(record))
    out.box(_department(record))
    out.box(_name(record))
    out.box("２　事務事業の概要と目的")
    out.box("対　象")
    out.box("事務や事業が対象としている人", "や団体など")
    out.box(record.target or "")
    out.box(f"対象者の今後の予想 {record.target_outlook or ''}")
    out.box("１　施策体系")
    out.box("施策体系との関連", labeled("施策区分", record.policy_area or ""))
    out.box(labeled("施策目標", record.policy_goal or ""))
    out.box("目標値", "（R2）")
    out.box("目標値", "（R7）")
    for indicator in record.indicators:
        out.box(*wrap(indicator.name, INDICATOR_NAME_WIDTH))
    _purpose_boxes(out, record, width)
    out.box("事業費　（＝下記内訳計）")
    out.box(" ".join(columns[:2]))
    plan_year = record.indicators[0].plan_year if record.indicators else ""
    out.box("活動指標名", "計画値", f"（{plan_year}）")
    out.box("実績値")
    out.box(" ".join(columns[2:]))
    out.box(format_row(budget.project_cost))
    out.box(labeled("国道支出金", format_row(budget.national_prefectural)))
    out.box(labeled("地方債", format_row(budget.municipal_bonds)))
    out.box(format_row(budget.staff_cost))
    out.box(labeled("総事業費　（＝事業費＋職員人件費）", format_row(budget.total_cost)))
    out.box(labeled("一般財源", format_row(budget.general_revenue)))
    out.box(labeled("人員（人工）", format_row(budget.staff_fte)))
    out.box("内")
    out.box(labeled("訳 その他", format_row(budget.other)))
    out.box(labeled("単位コスト実績値　１　（＝総事業費÷成果実績値）", unit_cost_text(record, 1)))
    out.box(labeled("単位コスト実績値　２　（＝総事業費÷成果実績値）", unit_cost_text(record, 2)))
    out.blank(2)
    out.box("４　事務事業の見直し状況や行政課題など", "　　（事前評価にかかげた課題について記入）")
    out.box(_review_row(record))
    out.box(*_inline_passage("見直しの内容など", record.review_content, width))
    out.box(*_inline_passage("今後の動向・市民ニーズなど", record.outlook_needs, width))
    for label in ("ウ", "エ"):
        out.box(*_question(label))
        out.box(_answer_row(record, label))
        _wrapped_box(out, record.assessments[label].reason, width)
    out.box("５　事務事業の評価")
    for label in ("ア", "イ"):
        out.box(*_question(label))
        out.box(_answer_row(record, label))
        _wrapped_box(out, record.assessments[label].reason, width)
    out.box("６　事務事業の今後の方向性")
    out.box("今後の方向性")
    out.box(*_direction_lines(record, blank_year="　　"))
    out.box(labeled("作成年月日", created_text(record.created)))
    for label in ("オ", "カ"):
        out.box(*_question(label))
        out.box(_answer_row(record, label))
        _wrapped_box(out, record.assessments[label].reason, width)
    out.blank()
    return out.text()


def render(
    record: SheetRecord, order: str, *, first_in_file: bool, width: int = PASSAGE_WIDTH
) -> str:
    """The dump text of one sheet in the given block order."""
    if order == SCRAMBLED:
        return render_scrambled(record, first_in_file=first_in_file, width=width)
    if order == ORDERED:
        return render_ordered(record, first_in_file=first_in_file, width=width)
    raise ValueError(f"unknown block order {order!r}: use one of {BLOCK_ORDERS}")
