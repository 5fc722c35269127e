"""Read one sheet's tokens into a SheetRecord, and split a file's tokens into sheets."""

from __future__ import annotations

import re
from collections.abc import Sequence

from evalsearch.errors import ParseError
from evalsearch.parse.assign import Element, Passage, assess
from evalsearch.parse.budget import DEFAULT_STAFF_UNIT_COST, ValueRow, parse_number, place_budget
from evalsearch.parse.checks import CheckGroup, group_checks
from evalsearch.parse.form import (
    DIRECTION_DECISIONS,
    DIRECTION_MEASURES,
    REIWA_BASE,
    SHARED_GROUP,
    era_to_western,
)
from evalsearch.parse.lexer import Kind, Token
from evalsearch.records import (
    BUDGET_COLUMNS_DEFAULT,
    ITEM_LABELS,
    Direction,
    Indicator,
    SheetRecord,
    SourceRef,
)

# Labels printed once per sheet: seeing one again means the next sheet has begun.
SHEET_UNIQUE_KEYS = frozenset(
    {
        "title",
        "field:department",
        "field:project_name",
        "field:project_no",
        "field:created",
        "field:activities",
        "field:intent",
        "group:direction",
        "group:review_status",
        "indicator:years",
        "budget:total_cost",
    }
)

# Without these a sheet is not complete enough to be a record.
REQUIRED_KEYS: dict[str, str] = {
    "title": "表題（事務事業評価（…）シート【…年度】）",
    "field:department": "主管課名（担当名）",
    "field:project_name": "事務事業名",
    "field:project_no": "事業番号",
    "group:direction": "今後の方向性",
    **{f"item:{item}": f"評価の設問「{item}．」" for item in ITEM_LABELS},
}

# Where a labelled field's value is printed: on the label's line ("inline"), right after the
# label in the same or the next box ("adjacent", empty when the next thing is another label),
# or after the label's sub-headings ("next").
FIELD_PLACEMENT: dict[str, str] = {
    "field:department": "inline",
    "field:project_name": "inline",
    "field:project_no": "inline",
    "field:policy_area": "inline",
    "field:policy_goal": "inline",
    "field:target_outlook": "inline",
    "field:created": "inline",
    "field:target": "next",
    "field:activities": "next",
    "field:intent": "next",
    "field:review_content": "adjacent",
    "field:outlook_needs": "adjacent",
}

_SENTENCE_MIN_LENGTH = 40
_ASSESSMENT_GROUPS = frozenset({*ITEM_LABELS, SHARED_GROUP})
_DEPARTMENT_RE = re.compile(r"^(?P<department>.*?)\s*[（(](?P<section>.*)[）)]\s*$")
_CREATED_RE = re.compile(r"(?P<era>令和|平成)\s*(?P<year>\d+|元)\s*年\s*(?P<month>\d+)\s*月")


def split_sheets(tokens: Sequence[Token]) -> list[list[Token]]:
    """Cut the token stream where a once-per-sheet label repeats (after a page footer if any)."""
    sheets: list[list[Token]] = []
    start = 0
    seen: set[str] = set()
    last_unique = -1
    for index, token in enumerate(tokens):
        if token.kind is not Kind.LABEL or token.key not in SHEET_UNIQUE_KEYS:
            continue
        if token.key in seen:
            cut = index
            for between in range(index - 1, last_unique, -1):
                if tokens[between].kind is Kind.FOOTER:
                    cut = between + 1
                    break
            sheets.append(list(tokens[start:cut]))
            start, seen = cut, set()
        seen.add(token.key)
        last_unique = index
    sheets.append(list(tokens[start:]))
    return [sheet for sheet in sheets if sheet]


def _elements(tokens: Sequence[Token], *, file: str, sheet: int) -> list[Element]:
    """Tokens with each run of adjacent checkbox items replaced by its CheckGroups."""
    elements: list[Element] = []
    run: list[Token] = []
    for token in [*tokens, None]:
        if token is not None and token.kind is Kind.CHECK:
            run.append(token)
            continue
        if run:
            elements.extend(group_checks(run, file=file, sheet=sheet))
            run = []
        if token is not None:
            elements.append(token)
    return elements


def _is_label(element: Element | None, prefix: str = "") -> bool:
    return (
        isinstance(element, Token) and element.kind is Kind.LABEL and element.key.startswith(prefix)
    )


def _is_text(element: Element | None) -> bool:
    return isinstance(element, Token) and element.kind is Kind.TEXT


class _SheetReader:
    def __init__(self, tokens: Sequence[Token], *, file: str, sheet: int):
        self.file = file
        self.sheet = sheet
        self.elements = _elements(tokens, file=file, sheet=sheet)
        self.claimed: set[int] = set()
        self.warnings: list[str] = []
        self.labels: dict[str, list[int]] = {}
        for index, element in enumerate(self.elements):
            if _is_label(element):
                self.labels.setdefault(element.key, []).append(index)  # type: ignore[union-attr]

    def error(self, message: str) -> ParseError:
        return ParseError(message, file=self.file, sheet=self.sheet)

    def label(self, key: str) -> Token | None:
        indices = self.labels.get(key)
        return self.elements[indices[0]] if indices else None  # type: ignore[return-value]

    def groups(self, name: str) -> list[CheckGroup]:
        return [e for e in self.elements if isinstance(e, CheckGroup) and e.name == name]

    def field(self, key: str) -> str | None:
        """The value printed for a labelled field, claimed so that nothing else takes it."""
        indices = self.labels.get(key)
        if not indices:
            return None
        index = indices[0]
        placement = FIELD_PLACEMENT[key]
        following = index + 1
        if placement == "next":
            while _is_label(
                self.elements[following] if following < len(self.elements) else None, "heading:"
            ):
                following += 1
        if following >= len(self.elements) or following in self.claimed:
            return None
        value = self.elements[following]
        if not isinstance(value, Token) or value.kind not in {Kind.TEXT, Kind.NUMBERS}:
            return None
        if value.kind is Kind.NUMBERS and key != "field:project_no":
            return None
        if placement == "inline" and not value.inline:
            return None
        self.claimed.add(following)
        return value.text.strip()

    def single_choice(self, name: str, label_ja: str) -> str | None:
        groups = self.groups(name)
        if not groups:
            self.warnings.append(f"「{label_ja}」のチェック欄が見つかりません")
            return None
        if groups[0].single is None:
            state = "未選択" if not groups[0].ticked else "複数選択"
            self.warnings.append(f"「{label_ja}」が{state}です（{groups[0].line}行目）")
        return groups[0].single

    def check_complete(self) -> None:
        missing = [name for key, name in REQUIRED_KEYS.items() if key not in self.labels]
        if missing:
            raise self.error(
                "シートが途中で切れているか、様式が違います。見つからない項目: "
                + "、".join(missing)
            )

    def read(self) -> SheetRecord:
        self.check_complete()
        title = self.label("title")
        assert title is not None  # check_complete guarantees it
        fiscal_year = era_to_western(title.captures["era"], title.captures["era_year"])
        stage = title.captures["stage"]
        fields = {key: self.field(key) for key in FIELD_PLACEMENT}
        project_no = fields["field:project_no"]
        project_name = fields["field:project_name"]
        department_text = fields["field:department"]
        if not project_no:
            raise self.error("事業番号の値が読み取れません")
        if not project_name:
            raise self.error(f"事業番号 {project_no}: 事務事業名の値が読み取れません")
        if not department_text:
            raise self.error(f"事業番号 {project_no}: 主管課名の値が読み取れません")
        department, section = _split_department(department_text)

        stage_checked = self.single_choice("evaluation_stage", "評価時期")
        if stage_checked is not None and stage_checked != stage:
            self.warnings.append(
                f"表題の評価時期（{stage}）とチェック欄（{stage_checked}）が違います"
            )
        priority = self.single_choice("priority_project", "重点プロジェクト")
        passages, names = self.free_texts()
        assessments, assessment_warnings = assess(self.elements, passages)
        self.warnings.extend(assessment_warnings)
        budget, budget_warnings = place_budget(
            self.value_rows(), columns=self.budget_columns(), unit_cost=self.staff_unit_cost()
        )
        self.warnings.extend(budget_warnings)
        footer = next(
            (e for e in self.elements if isinstance(e, Token) and e.kind is Kind.FOOTER), None
        )
        return SheetRecord(
            fiscal_year=fiscal_year,
            evaluation_stage=stage,
            project_no=project_no,
            project_name=project_name,
            department=department,
            section=section,
            priority_project=None if priority is None else priority == "該当",
            affairs_type=self.single_choice("affairs_type", "事務区分"),
            policy_area=fields["field:policy_area"],
            policy_goal=fields["field:policy_goal"],
            target=fields["field:target"],
            target_outlook=fields["field:target_outlook"],
            activities=fields["field:activities"] or "",
            intent=fields["field:intent"] or "",
            indicators=self.indicators(names),
            budget=budget,
            review_status=self.single_choice("review_status", "見直し状況"),
            review_content=fields["field:review_content"] or "",
            outlook_needs=fields["field:outlook_needs"] or "",
            assessments=assessments,
            direction=self.direction(),
            created=self.created(fields["field:created"]),
            page=footer.text if footer is not None else None,
            source=SourceRef(file=self.file, sheet_index=self.sheet),
            warnings=tuple(self.warnings),
        )

    def free_texts(self) -> tuple[list[Passage], list[str]]:
        """Unclaimed texts: sentences are assessment passages, short phrases indicator names."""
        passages: list[Passage] = []
        names: list[str] = []
        for index, element in enumerate(self.elements):
            if index in self.claimed or not _is_text(element):
                continue
            text = element.text.strip()  # type: ignore[union-attr]
            before = self.elements[index - 1] if index else None
            # Short reasons exist (「特になし」): a text printed right after a question or an
            # assessment checkbox row is a passage whatever its length.
            after_assessment = _is_label(before, "question:") or (
                isinstance(before, CheckGroup) and before.name in _ASSESSMENT_GROUPS
            )
            if "。" in text or len(text) >= _SENTENCE_MIN_LENGTH or after_assessment:
                on_question_line = _is_label(before, "question:") and element.inline  # type: ignore[union-attr]
                passages.append(Passage(text, index, index, first_line_only=on_question_line))
            else:
                names.append(text)
        return passages, names

    def indicators(self, names: list[str]) -> tuple[Indicator, ...]:
        years_label = self.label("indicator:years")
        actual_years = re.findall(r"R\d+", years_label.captures["years"]) if years_label else []
        target_years = [
            self.elements[i].captures["target_year"]  # type: ignore[union-attr]
            for i in self.labels.get("indicator:target", [])
        ]
        plan_label = self.label("indicator:plan")
        plan_year = plan_label.captures.get("plan_year") if plan_label else None
        rows = [
            e
            for e in self.elements
            if isinstance(e, Token) and e.kind is Kind.INDICATOR_ROW and e.cells
        ]
        expected_cells = 1 + len(actual_years) + len(target_years)
        indicators: list[Indicator] = []
        for position, row in enumerate(rows):
            if len(row.cells) != expected_cells:
                self.warnings.append(
                    f"活動指標{row.key}の値の数（{len(row.cells)}）が表の列数（{expected_cells}）と合いません"
                )
                continue
            name = names[position] if position < len(names) else ""
            if not name:
                self.warnings.append(f"活動指標{row.key}の指標名が見つかりません")
            cells = list(row.cells)
            indicators.append(
                Indicator(
                    name=name,
                    plan_year=plan_year,
                    plan=cells[0],
                    actual=dict(zip(actual_years, cells[1 : 1 + len(actual_years)], strict=True)),
                    target=dict(zip(target_years, cells[1 + len(actual_years) :], strict=True)),
                )
            )
        for extra in names[len(rows) :]:
            self.warnings.append(f"どの項目にも割り当てられない記述があります（{extra[:20]}）")
        return tuple(indicators)

    def budget_columns(self) -> tuple[str, ...]:
        columns = [
            column
            for index in self.labels.get("budget:columns", [])
            for column in re.findall(r"R\d+(?:予算|決算)", self.elements[index].captures["columns"])  # type: ignore[union-attr]
        ]
        if not columns:
            return BUDGET_COLUMNS_DEFAULT
        if len(columns) != len(BUDGET_COLUMNS_DEFAULT):
            self.warnings.append(f"予算表の列見出しが{len(columns)}列です（{'・'.join(columns)}）")
        return tuple(columns)

    def staff_unit_cost(self) -> int:
        label = self.label("budget:staff_cost")
        if label is None or "unit_cost" not in label.captures:
            return DEFAULT_STAFF_UNIT_COST
        return int(label.captures["unit_cost"].replace(",", ""))

    def value_rows(self) -> list[ValueRow]:
        rows: list[ValueRow] = []
        for index, element in enumerate(self.elements):
            if (
                not isinstance(element, Token)
                or element.kind is not Kind.NUMBERS
                or index in self.claimed
            ):
                continue
            before = self.elements[index - 1] if index else None
            after = self.elements[index + 1] if index + 1 < len(self.elements) else None
            values = tuple(parse_number(cell) for cell in element.cells)
            if element.inline and _is_label(before):
                key = before.key  # type: ignore[union-attr]
                if key.startswith("budget:") and key != "budget:columns":
                    rows.append(ValueRow(values, element.line, label=key.removeprefix("budget:")))
                continue
            neighbours = {
                "columns" if e.key == "budget:columns" else e.key.removeprefix("budget:")  # type: ignore[union-attr]
                for e in (before, after)
                if _is_label(e, "budget:")
            }
            rows.append(ValueRow(values, element.line, neighbours=frozenset(neighbours)))
        return rows

    def direction(self) -> Direction:
        groups = self.groups("direction")
        if not groups:
            raise self.error("「今後の方向性」のチェック欄が見つかりません")
        group = groups[0]
        decisions = [option for option in group.ticked if option in DIRECTION_DECISIONS]
        measures = tuple(option for option in DIRECTION_MEASURES if option in group.ticked)
        if len(decisions) != 1:
            state = "未選択" if not decisions else "複数選択"
            self.warnings.append(f"今後の方向性が{state}です（{group.line}行目）")
        decision = decisions[0] if len(decisions) == 1 else None
        end_year = None
        if decision == "終期設定あり":
            if group.end_year:
                end_year = REIWA_BASE + int(group.end_year)
            else:
                self.warnings.append("終期設定ありですが終了予定年度が空欄です")
        if measures and decision != "見直しのうえで継続":
            self.warnings.append(
                "見直しの内容（拡充など）が選ばれていますが「見直しのうえで継続」ではありません"
            )
        return Direction(decision=decision, measures=measures, end_fiscal_year=end_year)

    def created(self, text: str | None) -> str | None:
        if not text:
            self.warnings.append("作成年月日が見つかりません")
            return None
        match = _CREATED_RE.search(text)
        if match is None:
            self.warnings.append(f"作成年月日「{text}」を読み取れません")
            return None
        year = era_to_western(match["era"], match["year"])
        return f"{year}-{int(match['month']):02d}"


def _split_department(text: str) -> tuple[str, str | None]:
    match = _DEPARTMENT_RE.match(text)
    if match is None:
        return text.strip(), None
    return match["department"].strip(), match["section"].strip() or None


def read_sheet(tokens: Sequence[Token], *, file: str, sheet: int) -> SheetRecord:
    return _SheetReader(tokens, file=file, sheet=sheet).read()
