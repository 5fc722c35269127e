"""The evaluation-sheet record: plain immutable dataclasses with one JSON form.

No I/O here. ``SheetRecord.to_dict()`` is the JSON form printed by ``evalsearch parse`` and
stored in the index; ``SheetRecord.from_dict()`` reads it back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ITEM_LABELS: tuple[str, ...] = ("ア", "イ", "ウ", "エ", "オ", "カ")
"""The six assessment questions of section ５, in form order."""

ITEM_QUESTIONS: dict[str, str] = {
    "ア": "意図する成果に有効に結びついていますか",
    "イ": "市以外がその事業に取り組むことは可能ですか（民間、ＮＰＯ等）",
    "ウ": "事業内容の中で、見直しを行う必要はありますか",
    "エ": "単位コストまたは事業費を工夫できるアイデアはありますか",
    "オ": "他の事業との統合について可能性がありますか",
    "カ": "受益者に負担をいただく（又は負担を見直す）可能性はありますか",
}
"""The questions as printed on the form."""

BUDGET_COLUMNS_DEFAULT: tuple[str, ...] = ("R5予算", "R5決算", "R6予算")

BUDGET_ROWS: tuple[str, ...] = (
    "project_cost",
    "national_prefectural",
    "municipal_bonds",
    "other",
    "general_revenue",
    "staff_fte",
    "staff_cost",
    "total_cost",
)
"""Budget rows in form order; each holds one value per budget column (or None if blank)."""

BUDGET_ROW_TITLES: dict[str, str] = {
    "project_cost": "事業費",
    "national_prefectural": "国道支出金",
    "municipal_bonds": "地方債",
    "other": "その他",
    "general_revenue": "一般財源",
    "staff_fte": "人員（人工）",
    "staff_cost": "職員人件費",
    "total_cost": "総事業費",
}

Number = int | float | None
BudgetRow = tuple[Number, ...]


@dataclass(frozen=True)
class Indicator:
    """One activity indicator row (活動指標)."""

    name: str
    plan_year: str | None
    plan: str | None
    actual: Mapping[str, str | None]
    target: Mapping[str, str | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plan_year": self.plan_year,
            "plan": self.plan,
            "actual": dict(self.actual),
            "target": dict(self.target),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Indicator:
        return cls(
            name=data["name"],
            plan_year=data.get("plan_year"),
            plan=data.get("plan"),
            actual=dict(data.get("actual") or {}),
            target=dict(data.get("target") or {}),
        )


@dataclass(frozen=True)
class Budget:
    """Section ３ budget table in 千円 (人員 in person-years), one value per column."""

    columns: tuple[str, ...] = BUDGET_COLUMNS_DEFAULT
    project_cost: BudgetRow | None = None
    national_prefectural: BudgetRow | None = None
    municipal_bonds: BudgetRow | None = None
    other: BudgetRow | None = None
    general_revenue: BudgetRow | None = None
    staff_fte: BudgetRow | None = None
    staff_cost: BudgetRow | None = None
    total_cost: BudgetRow | None = None

    def row(self, name: str) -> BudgetRow | None:
        return getattr(self, name)

    def latest(self, name: str) -> Number:
        """The value of ``name`` in the last column that has one (the newest budget)."""
        values = self.row(name) or ()
        for value in reversed(values):
            if value is not None:
                return value
        return None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": list(self.columns)}
        for name in BUDGET_ROWS:
            values = self.row(name)
            out[name] = None if values is None else list(values)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Budget:
        rows = {name: None if data.get(name) is None else tuple(data[name]) for name in BUDGET_ROWS}
        return cls(columns=tuple(data.get("columns") or BUDGET_COLUMNS_DEFAULT), **rows)


@dataclass(frozen=True)
class Assessment:
    """One assessment question (ア–カ): the ticked option and its reasoning passage.

    ``answer`` is None when the dump does not show which checkbox row belongs to the item;
    ``answer_candidates`` then lists what it could be (and the record carries a warning).
    """

    answer: str | None
    reason: str
    answer_candidates: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"answer": self.answer, "reason": self.reason}
        if self.answer_candidates is not None:
            out["answer_candidates"] = list(self.answer_candidates)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assessment:
        candidates = data.get("answer_candidates")
        return cls(
            answer=data.get("answer"),
            reason=data.get("reason") or "",
            answer_candidates=None if candidates is None else tuple(candidates),
        )


@dataclass(frozen=True)
class Direction:
    """Section ６: 今後の方向性."""

    decision: str | None
    measures: tuple[str, ...] = ()
    end_fiscal_year: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "measures": list(self.measures),
            "end_fiscal_year": self.end_fiscal_year,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Direction:
        return cls(
            decision=data.get("decision"),
            measures=tuple(data.get("measures") or ()),
            end_fiscal_year=data.get("end_fiscal_year"),
        )


@dataclass(frozen=True)
class SourceRef:
    """Where a record came from: the dump file and the 0-based sheet position in it."""

    file: str
    sheet_index: int

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "sheet_index": self.sheet_index}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceRef:
        return cls(file=data["file"], sheet_index=int(data["sheet_index"]))


@dataclass(frozen=True)
class SheetRecord:
    """One evaluation sheet (事務事業評価シート) read out of a text dump."""

    fiscal_year: int
    evaluation_stage: str | None
    project_no: str
    project_name: str
    department: str
    section: str | None
    priority_project: bool | None
    affairs_type: str | None
    policy_area: str | None
    policy_goal: str | None
    target: str | None
    target_outlook: str | None
    activities: str
    intent: str
    indicators: tuple[Indicator, ...]
    budget: Budget
    review_status: str | None
    review_content: str
    outlook_needs: str
    assessments: Mapping[str, Assessment]
    direction: Direction
    created: str | None
    page: str | None
    source: SourceRef
    warnings: tuple[str, ...] = field(default=())
    municipality: str = "根室市"
    """The municipality whose sheet this is (from the form profile, or given at indexing)."""
    form: str = "nemuro"
    """The id of the form profile the sheet was read with (``evalsearch forms``)."""
    texts: Mapping[str, str] = field(default_factory=dict)
    """Free-text passages beyond the fields above, keyed by the form profile's passage key
    (e.g. 大船渡市: 概要, 方向性の説明, 課長等意見)."""

    @property
    def id(self) -> str:
        return make_record_id(self.fiscal_year, self.project_no)

    @property
    def key(self) -> str:
        """Unique across municipalities: ``根室市/2023-12276`` (the index's document key)."""
        return make_record_key(self.municipality, self.id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "municipality": self.municipality,
            "form": self.form,
            "fiscal_year": self.fiscal_year,
            "evaluation_stage": self.evaluation_stage,
            "project_no": self.project_no,
            "project_name": self.project_name,
            "department": self.department,
            "section": self.section,
            "priority_project": self.priority_project,
            "affairs_type": self.affairs_type,
            "policy_area": self.policy_area,
            "policy_goal": self.policy_goal,
            "target": self.target,
            "target_outlook": self.target_outlook,
            "activities": self.activities,
            "intent": self.intent,
            "indicators": [indicator.to_dict() for indicator in self.indicators],
            "budget": self.budget.to_dict(),
            "review_status": self.review_status,
            "review_content": self.review_content,
            "outlook_needs": self.outlook_needs,
            "texts": dict(self.texts),
            # In the form's item order (insertion order), whatever the form's keys are.
            "assessments": {key: value.to_dict() for key, value in self.assessments.items()},
            "direction": self.direction.to_dict(),
            "created": self.created,
            "page": self.page,
            "source": self.source.to_dict(),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SheetRecord:
        return cls(
            fiscal_year=int(data["fiscal_year"]),
            evaluation_stage=data.get("evaluation_stage"),
            project_no=str(data["project_no"]),
            project_name=data["project_name"],
            department=data["department"],
            section=data.get("section"),
            priority_project=data.get("priority_project"),
            affairs_type=data.get("affairs_type"),
            policy_area=data.get("policy_area"),
            policy_goal=data.get("policy_goal"),
            target=data.get("target"),
            target_outlook=data.get("target_outlook"),
            activities=data.get("activities") or "",
            intent=data.get("intent") or "",
            indicators=tuple(Indicator.from_dict(item) for item in data.get("indicators") or ()),
            budget=Budget.from_dict(data.get("budget") or {}),
            review_status=data.get("review_status"),
            review_content=data.get("review_content") or "",
            outlook_needs=data.get("outlook_needs") or "",
            assessments={
                label: Assessment.from_dict(value)
                for label, value in (data.get("assessments") or {}).items()
            },
            direction=Direction.from_dict(data.get("direction") or {}),
            created=data.get("created"),
            page=data.get("page"),
            source=SourceRef.from_dict(data.get("source") or {"file": "", "sheet_index": 0}),
            warnings=tuple(data.get("warnings") or ()),
            municipality=data.get("municipality") or "根室市",
            form=data.get("form") or "nemuro",
            texts=dict(data.get("texts") or {}),
        )

    def passages(self) -> dict[str, str]:
        """The free-text passages keyed by their passage label, in form order: the check
        items' reasons (ア–カ, ①–⑧ …), 見直し, 動向, 活動, 対象, 意図, the form's other texts,
        事業名."""
        texts = {key: assessment.reason for key, assessment in self.assessments.items()}
        texts.update(
            {
                "見直し": self.review_content,
                "動向": self.outlook_needs,
                "活動": self.activities,
            }
        )
        # Who the project serves (市内の漁業者, 65歳以上の独居高齢者 …) is often written only
        # here: a planner searching for a group of people must find it.
        if self.target:
            texts["対象"] = self.target
        texts["意図"] = self.intent
        texts.update(self.texts)
        texts["事業名"] = self.project_name
        return texts

    def answer_summary(self, item_labels: Mapping[str, str] | None = None) -> str:
        """The ticked answers, 見直し状況 and 今後の方向性 as words, so free text finds them
        (「終期」「改善に至っていない」「人件費の削減余地 削減余地がある」 …); indexed as the
        passage 回答. ``item_labels`` (the form profile's short item labels) say what each
        answer is about: 「削減余地がある」 alone does not tell 事業費 from 人件費."""
        labels = item_labels or {}
        lines = [
            " ".join(part for part in (key, labels.get(key, ""), assessment.answer) if part)
            for key, assessment in self.assessments.items()
            if assessment.answer
        ]
        if self.review_status:
            lines.append(f"見直し状況 {self.review_status}")
        direction = self.direction
        if direction.decision:
            lines.append(
                f"今後の方向性 {direction.decision} {' '.join(direction.measures)}".rstrip()
            )
        if direction.end_fiscal_year is not None:
            lines.append(f"終期 {direction.end_fiscal_year}年度")
        # Each line a sentence: Sudachi reads an answer ある before a line break as the 連体詞
        # 或る (a certain), before 。 as the verb 有る a query's ある is.
        return "\n".join(line + "。" for line in lines)

    def searchable_texts(self, item_labels: Mapping[str, str] | None = None) -> dict[str, str]:
        """``passages()``, the answer summary (label ``ANSWER_LABEL``) and the indicators'
        names (label ``INDICATOR_LABEL``): what is indexed."""
        texts = {**self.passages(), ANSWER_LABEL: self.answer_summary(item_labels)}
        # An indicator's name (リサイクル率, 相談件数) can be the only place a sheet names
        # what it measures.
        names = "\n".join(dict.fromkeys(i.name for i in self.indicators if i.name))
        if names:
            texts[INDICATOR_LABEL] = names
        return texts


ANSWER_LABEL = "回答"
"""The passage label of ``SheetRecord.answer_summary`` in the index and in snippets."""

INDICATOR_LABEL = "指標"
"""The passage label of the indicators' names in the index and in snippets."""

PASSAGE_LABELS: tuple[str, ...] = (
    *ITEM_LABELS,
    "見直し",
    "動向",
    "活動",
    "対象",
    "意図",
    "事業名",
)
"""Short labels of every searchable passage, as used by ``--field`` and in snippets (【オ】)."""


def make_record_id(fiscal_year: int, project_no: str) -> str:
    return f"{fiscal_year}-{project_no}"


def make_record_key(municipality: str, record_id: str) -> str:
    return f"{municipality}/{record_id}"


ERA_BASES: Mapping[str, int] = {"令和": 2018, "R": 2018, "平成": 1988, "H": 1988}
"""Western year = base + era year (令和5 = 2023, 平成30 = 2018)."""

_FISCAL_YEAR = re.compile(r"^(令和|平成|R|H)?(元|\d{1,4})(年度?)?$")


def parse_fiscal_year(text: str) -> int:
    """2023, 令和5, R5, 令和５年度, 元 (令和元年) or a bare 5 (the current era) → 2023.

    Raises ValueError with a Japanese message for anything else."""
    value = unicodedata.normalize("NFKC", text).strip().upper()
    match = _FISCAL_YEAR.match(value.replace("令和", "令和").replace(" ", ""))
    if match is None:
        raise ValueError(f"「{text}」は年度として読めません（例: 2023、令和5、R5）。")
    era, number = match.group(1), match.group(2)
    year = 1 if number == "元" else int(number)
    if era is None and year >= 1000:
        return year
    if era is None and year >= 100:
        raise ValueError(f"「{text}」は年度として読めません（例: 2023、令和5、R5）。")
    return ERA_BASES[era or "令和"] + year
