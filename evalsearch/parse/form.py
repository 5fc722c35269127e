"""What the evaluation-sheet form says: its labels, checkbox groups and question vocabulary.

Everything here is data about the printed form (別紙１ 事務事業評価シート). Strings are written
as printed; the lexer NFKC-normalises them and allows a line break or spaces between any two
characters, because the PDF dump wraps labels anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalsearch.records import ITEM_LABELS, ITEM_QUESTIONS


@dataclass(frozen=True)
class LabelSpec:
    """A printed label. ``pattern`` is a regex written against the NFKC, whitespace-free form."""

    key: str
    pattern: str


def _literal(key: str, printed: str) -> LabelSpec:
    import re
    import unicodedata

    compact = "".join(unicodedata.normalize("NFKC", printed).split())
    return LabelSpec(key, "".join(re.escape(char) for char in compact))


QUESTIONS: dict[str, str] = ITEM_QUESTIONS

BUDGET_LABELS: dict[str, str] = {
    "project_cost": "事業費　（＝下記内訳計）",
    "national_prefectural": "国道支出金",
    "municipal_bonds": "地方債",
    "other": "その他",
    "general_revenue": "一般財源",
    "staff_fte": "人員（人工）",
    "total_cost": "総事業費　（＝事業費＋職員人件費）",
}

# Labels whose meaning the parser uses. Keys: "field:*" carry a value, "heading:*" are skipped,
# "item:*" / "question:*" belong to section ５, "budget:*" to the budget table.
LABELS: tuple[LabelSpec, ...] = (
    _literal("heading:appendix", "別紙１"),
    _literal("field:department", "主管課名（担当名）"),
    _literal("field:project_name", "事務事業名"),
    _literal("field:project_no", "事業番号"),
    _literal("group:priority_project", "重点プロジェクト"),
    _literal("group:evaluation_stage", "評価時期"),
    _literal("group:affairs_type", "事務区分"),
    _literal("heading:1", "１　施策体系"),
    _literal("heading:2", "２　事務事業の概要と目的"),
    _literal("heading:3", "３　事務事業の現状"),
    _literal("heading:4", "４　事務事業の見直し状況や行政課題など"),
    _literal("heading:4note", "（事前評価にかかげた課題について記入）"),
    _literal("heading:5", "５　事務事業の評価"),
    _literal("heading:6", "６　事務事業の今後の方向性"),
    _literal("field:policy_area", "施策区分"),
    _literal("field:policy_goal", "施策目標"),
    _literal("heading:policy_relation", "施策体系との関連"),
    _literal("heading:target", "対象"),
    _literal("field:target", "事務や事業が対象としている人や団体など"),
    _literal("field:target_outlook", "対象者の今後の予想"),
    _literal("field:activities", "活動内容"),
    _literal("heading:activities_note", "（事業の概要や具体的な内容、方法など）"),
    _literal("field:intent", "意図"),
    _literal("heading:intent_note", "（どの様な成果を得ようとしているのか）"),
    _literal("indicator:actual", "実績値"),
    _literal("indicator:name", "活動指標名"),
    LabelSpec("indicator:plan", r"計画値(?:\((?P<plan_year>[HR]\d+)\))?"),
    LabelSpec("indicator:target", r"目標値\((?P<target_year>[HR]\d+)\)"),
    LabelSpec("indicator:years", r"(?P<years>R\d+(?:R\d+){2,})"),
    LabelSpec("budget:columns", r"(?P<columns>R\d+(?:予算|決算)(?:R\d+(?:予算|決算))*)"),
    LabelSpec("budget:staff_cost", r"職員人件費\(=人員\(人工\)×(?P<unit_cost>[\d,]+)千円\)"),
    *(_literal(f"budget:{name}", printed) for name, printed in BUDGET_LABELS.items()),
    _literal("heading:breakdown1", "内"),
    _literal("heading:breakdown2", "訳"),
    LabelSpec("heading:unit_cost", r"単位コスト実績値[12]\(=総事業費÷成果実績値\)"),
    _literal("group:review_status", "見直し状況"),
    _literal("field:review_content", "見直しの内容など"),
    _literal("field:outlook_needs", "今後の動向・市民ニーズなど"),
    _literal("group:direction", "今後の方向性"),
    _literal("field:created", "作成年月日"),
    *(LabelSpec(f"item:{label}", rf"{label}\.") for label in ITEM_LABELS),
    *(_literal(f"question:{label}", text) for label, text in QUESTIONS.items()),
)

TITLE_PATTERN = (
    r"事務事業評価\((?P<stage>中間|事後)評価\)シート"
    r"【(?P<era>令和|平成)(?P<era_year>\d+|元)年度】"
)

# Checkbox groups in printed order. A group is recognised by its exact option sequence, so
# ウ/エ/オ (which share one sequence) can only be told apart by position.
DIRECTION_DECISIONS: tuple[str, ...] = (
    "現状のまま継続",
    "見直しのうえで継続",
    "終期設定あり",
    "休止",
    "廃止",
    "完了",
)
DIRECTION_MEASURES: tuple[str, ...] = ("拡充", "手段を見直す", "効率化", "簡素化", "統合・振替")

CHECK_GROUPS: dict[str, tuple[str, ...]] = {
    "priority_project": ("該当", "非該当"),
    "evaluation_stage": ("中間", "事後"),
    "affairs_type": ("自治", "法定受託"),
    "review_status": (
        "検討中",
        "見直し・改善済み",
        "見直しをしたが改善に至っていない",
        "検討していない",
    ),
    "ア": ("結びついている", "一部結びついている", "結びついていない"),
    "イ": ("可能", "一部可能", "不可能"),
    "ウエオ": ("ある", "一部ある", "ない"),
    "カ": ("ある", "検討の必要性がある", "ない", "既に負担がある"),
    # The measures are printed in parentheses right after 見直しのうえで継続.
    "direction": (*DIRECTION_DECISIONS[:2], *DIRECTION_MEASURES, *DIRECTION_DECISIONS[2:]),
}

SHARED_GROUP = "ウエオ"
SHARED_GROUP_ITEMS: tuple[str, ...] = ("ウ", "エ", "オ")


def item_options(item: str) -> tuple[str, ...]:
    """The options printed for assessment item ``item`` (ア–カ)."""
    return CHECK_GROUPS[item if item in CHECK_GROUPS else SHARED_GROUP]


def group_items(group: str) -> tuple[str, ...]:
    """The assessment items a checkbox group can belong to."""
    if group == SHARED_GROUP:
        return SHARED_GROUP_ITEMS
    return (group,) if group in ITEM_LABELS else ()


# What each question is about: words a reason passage for that item tends to use. The first
# block of each list comes from the question and its options; the rest is the vocabulary of
# typical answers. Weights: 2 = specific to this question, 1 = leaning.
QUESTION_CUES: dict[str, dict[str, float]] = {
    "ア": {
        "成果": 2,
        "結びつ": 2,
        "結び付": 2,
        "有効": 1,
        "意図": 1,
        "実績": 1,
        "達成": 2,
        "参加": 1,
        "開催し": 1,
        "深め": 1,
        "図られ": 1,
        "増加": 1,
        "効果": 1,
        "好評": 1,
        "満足": 1,
    },
    "イ": {
        "市以外": 2,
        "民間": 1,
        "NPO": 2,
        "ＮＰＯ": 2,
        "団体": 1,
        "実施主体": 2,
        "主体": 1,
        "外郭": 2,
        "役割分担": 2,
        "行政主導": 2,
        "委託": 1,
        "担う": 1,
        "関与": 1,
        "市が": 1,
        "行政が": 1,
        "民営": 2,
        "事業者": 1,
        "指定管理": 2,
    },
    "ウ": {
        "見直し": 1,
        "見直す": 1,
        "必要がある": 1,
        "内容": 1,
        "改善": 1,
        "拡充": 1,
        "強化": 1,
        "連携": 1,
        "効率化": 1,
        "検討を進め": 2,
        "現状のまま": 1,
        "変更": 1,
        "充実": 1,
    },
    "エ": {
        "事業費": 2,
        "単位コスト": 2,
        "コスト": 2,
        "工夫": 1,
        "アイデア": 1,
        "経費": 2,
        "費用": 2,
        "予算": 1,
        "投資": 2,
        "削減": 2,
        "縮減": 2,
        "節減": 2,
        "抑え": 1,
        "単価": 2,
        "安価": 2,
        "財源": 1,
        "補助": 1,
        "最小": 1,
    },
    "オ": {
        "統合": 3,
        "他の事業": 2,
        "類似": 3,
        "重複": 2,
        "一体的": 1,
        "集約": 2,
        "一元化": 2,
        "併せて": 1,
    },
    "カ": {
        "受益者": 3,
        "負担": 3,
        "使用料": 2,
        "手数料": 2,
        "料金": 2,
        "有料": 2,
        "徴収": 2,
        "参加費": 2,
        "無料": 2,
        "自己負担": 2,
        "利用者": 1,
    },
}

# Section ５ as printed in the two block orders seen in real dumps, one symbol per element:
# I:x item label (ア．), Q:x question text, G:x checkbox row of group x, P:x item x's reason.
# Dumps from the same PDF generator repeat these sequences exactly, so a matching sheet tells
# which passage is whose even when the words don't; a P may be missing (an empty reason).
BLOCK_ORDERS: dict[str, str] = {
    "form_order": (
        "I:ウ Q:ウ G:ウエオ P:ウ I:エ Q:エ G:ウエオ P:エ I:ア Q:ア G:ア P:ア "
        "I:イ Q:イ G:イ P:イ I:オ Q:オ G:ウエオ P:オ I:カ Q:カ G:カ P:カ"
    ),
    "scrambled": (
        "I:オ Q:オ G:イ P:オ I:カ Q:カ P:カ I:イ G:カ P:ウ G:ウエオ P:エ G:ウエオ "
        "Q:イ I:ウ Q:ウ I:エ Q:エ P:イ G:ウエオ P:ア I:ア Q:ア G:ア"
    ),
}

REIWA_BASE = 2018
HEISEI_BASE = 1988
ERA_BASE = {"令和": REIWA_BASE, "平成": HEISEI_BASE}


def era_to_western(era: str, year: str) -> int:
    """令和５ → 2023; 元 is year 1."""
    return ERA_BASE[era] + (1 if year == "元" else int(year))
