"""A project's sheets across fiscal years: what changed, and whether an evaluation was copied.

Pure functions over ``SheetRecord``; no index I/O.

* ``project_history(records)`` lines up one project's sheets (same municipality and project
  number) year by year and classifies each passage's change from the previous sheet.
* ``year_changes(records, year)`` compares every sheet of ``year`` with its project's previous
  sheet and flags copied evaluations and stale references to older fiscal years.

Change classes (``CHANGE_KINDS``), decided in this order, cheapest first:

``same``
    equal after folding width and removing all whitespace (full-width and half-width agree;
    other compatibility characters such as ①②, ㈱ and ㎡ are kept: ``normalise``);
``numbers``
    equal once every number is masked (digits, 令和元, kanji numerals before a counter);
``edited``
    similarity ≥ ``EDITED_MIN_SIMILARITY``;
``rewritten``
    anything else, including a passage that appears or disappears.

*Similarity* is ``difflib.SequenceMatcher.ratio()`` over the normalised texts with numbers
masked, so a passage whose figures were updated *and* reworded is judged by its wording only.
A transition's ``similarity`` is that value: 1.0 for ``same`` and ``numbers``.

``EDITED_MIN_SIMILARITY`` was chosen on the generator's planted transitions
(``bench/history_bench.py``, 10,000 sheets, seed 1, 16,440 planted transitions): planted edits
(a sentence appended, dropped or swapped, a phrase reworded, figures possibly updated) score
0.71–1.00 (5th percentile 0.78), planted rewrites (no sentence kept, same project vocabulary)
0.00–0.54 (95th percentile 0.37). 0.62 is the middle of that gap; every threshold from 0.55 to
0.70 classifies both classes without error there.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Literal

from evalsearch.errors import EvalSearchError
from evalsearch.records import Indicator, SheetRecord

ChangeKind = Literal["same", "numbers", "edited", "rewritten"]
CHANGE_KINDS: tuple[ChangeKind, ...] = ("same", "numbers", "edited", "rewritten")
CHANGE_NAMES: Mapping[ChangeKind, str] = {
    "same": "同文",
    "numbers": "数値のみ",
    "edited": "一部修正",
    "rewritten": "改稿",
}
"""Japanese names of the change classes, as printed to users."""

EDITED_MIN_SIMILARITY = 0.62
"""Lowest similarity (numbers masked) still called ``edited``; below it, ``rewritten``."""

MIN_EQUAL_RUN = 4
"""Equal runs shorter than this between two changes are folded into them, so a diff shows
phrase-sized spans; Japanese rewrites otherwise share scattered particles (の・を・に・する)."""

REVIEW_KEY = "見直し"
OUTLOOK_KEY = "動向"
ACTIVITIES_KEY = "活動"
INTENT_KEY = "意図"
PASSAGE_TITLES: Mapping[str, str] = {
    REVIEW_KEY: "見直しの内容",
    OUTLOOK_KEY: "今後の動向",
    ACTIVITIES_KEY: "活動内容",
    INTENT_KEY: "意図",
}
"""Labels of the fixed passages; assessment items and ``texts`` keys are their own label."""

DiffOp = Literal["equal", "insert", "delete", "replace"]


class DuplicateYearError(EvalSearchError):
    """Two sheets of one project carry the same fiscal year."""


# --------------------------------------------------------------------------------------------
# Text normalisation and classification.

_WHITESPACE = re.compile(r"\s+")
# Kanji numerals count as numbers only before a counter: 一部・一定・十分 are words.
_COUNTERS = "年|か月|ヶ月|カ月|月|日|回|名|人|件|か所|ヶ所|箇所|校|団体|社|世帯|割|倍|歳|期|次"
_NUMBER = re.compile(
    r"[0-9]+(?:[,.][0-9]+)*"
    r"|(?<=令和|平成|昭和)元"
    r"|[〇一二三四五六七八九十百千万]+(?=" + _COUNTERS + ")"
)


def _width_table() -> dict[int, str]:
    table = {
        code: unicodedata.normalize("NFKC", chr(code))
        for code in (0x3000, *range(0xFF00, 0xFFF0))
        if unicodedata.decomposition(chr(code)).startswith(("<wide>", "<narrow>"))
    }
    table.update({ord(square): era for square, era in _ERA_SQUARES.items()})
    return table


_ERA_SQUARES = {"㋿": "令和", "㍻": "平成", "㍼": "昭和", "㍽": "大正", "㍾": "明治"}
_WIDTH = _width_table()
"""Full-width and half-width forms (ＡＢＣ１２３（）％, ｶﾀｶﾅ) to their ordinary forms, and the era
squares (㍻) spelled out. Not NFKC: NFKC also turns the circled numbers that number the items
of a list (①②, common in 大船渡市's reasons) into plain digits, which a diff would then quote as
「1について」 and ``mask_numbers`` would take for figures, and ㎡ into m2."""


def normalise(text: str) -> str:
    """Width folded (``_WIDTH``, then NFC), every whitespace character removed: what ``same``
    compares and what diffs show."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFC", text.translate(_WIDTH)))


def mask_numbers(normalised: str) -> str:
    """``normalised`` with each number replaced by ``#`` (令和5年度 and 令和6年度 agree)."""
    return _NUMBER.sub("#", normalised)


@dataclass(frozen=True)
class Classified:
    """The outcome of comparing two passages; ``similarity`` is None when not computed."""

    change: ChangeKind
    similarity: float | None


def classify(old: str, new: str, *, exact: bool = True) -> Classified:
    """The change class from ``old`` to ``new``.

    ``exact=False`` lets a ``rewritten`` verdict rest on SequenceMatcher's upper bounds
    (``real_quick_ratio``/``quick_ratio``) without the full ratio; the class is the same either
    way, only ``similarity`` may be None.
    """
    a, b = normalise(old), normalise(new)
    if a == b:
        return Classified("same", 1.0)
    masked_a, masked_b = mask_numbers(a), mask_numbers(b)
    if masked_a == masked_b:
        return Classified("numbers", 1.0)
    if not masked_a or not masked_b:
        return Classified("rewritten", 0.0)
    matcher = SequenceMatcher(None, masked_a, masked_b, autojunk=False)
    if not exact and (
        matcher.real_quick_ratio() < EDITED_MIN_SIMILARITY
        or matcher.quick_ratio() < EDITED_MIN_SIMILARITY
    ):
        return Classified("rewritten", None)
    ratio = matcher.ratio()
    return Classified("edited" if ratio >= EDITED_MIN_SIMILARITY else "rewritten", ratio)


# --------------------------------------------------------------------------------------------
# Diff.


@dataclass(frozen=True)
class DiffSpan:
    """One span of a character diff over the normalised texts."""

    op: DiffOp
    old: str
    new: str

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "old": self.old, "new": self.new}


_DIGIT_CHARS = frozenset("0123456789,.")


def diff_spans(old: str, new: str) -> tuple[DiffSpan, ...]:
    """A character diff of the normalised texts in phrase-sized spans.

    Equal runs shorter than ``MIN_EQUAL_RUN`` between two changes are merged into them, and a
    change never splits a number (70→72 shows as 70→72, not 7 + 0→2).
    """
    a, b = normalise(old), normalise(new)
    if a == b:
        return (DiffSpan("equal", a, b),) if a else ()
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    spans: list[list[str]] = [  # [tag, old, new]; "change" for anything not equal
        ["equal" if tag == "equal" else "change", a[i1:i2], b[j1:j2]]
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
    ]
    spans = _snap_numbers(spans)
    spans = _fold_short_equals(spans)
    return tuple(_span(old_text, new_text, tag) for tag, old_text, new_text in spans)


def _snap_numbers(spans: list[list[str]]) -> list[list[str]]:
    """Move digits at the edge of an equal run into the neighbouring change."""
    for index, (tag, text, _) in enumerate(spans):
        if tag != "equal":
            continue
        before = spans[index - 1] if index > 0 else None
        after = spans[index + 1] if index + 1 < len(spans) else None
        if after is not None and _touches_digit(after, start=True):
            cut = len(text)
            while cut > 0 and text[cut - 1] in _DIGIT_CHARS:
                cut -= 1
            moved = text[cut:]
            if moved:
                after[1], after[2] = moved + after[1], moved + after[2]
                text = text[:cut]
        if before is not None and _touches_digit(before, start=False):
            cut = 0
            while cut < len(text) and text[cut] in _DIGIT_CHARS:
                cut += 1
            moved = text[:cut]
            if moved:
                before[1], before[2] = before[1] + moved, before[2] + moved
                text = text[cut:]
        spans[index] = ["equal", text, text]
    return [span for span in spans if span[1] or span[2]]


def _touches_digit(span: list[str], *, start: bool) -> bool:
    edge = 0 if start else -1
    return any(part and part[edge] in "0123456789" for part in (span[1], span[2]))


def _fold_short_equals(spans: list[list[str]]) -> list[list[str]]:
    out: list[list[str]] = []
    for position, span in enumerate(spans):
        tag = span[0]
        between = 0 < position < len(spans) - 1
        if tag == "equal" and between and len(span[1]) < MIN_EQUAL_RUN:
            tag = "change"
        if out and tag == "change" and out[-1][0] == "change":
            out[-1][1] += span[1]
            out[-1][2] += span[2]
        else:
            out.append([tag, span[1], span[2]])
    return out


def _span(old: str, new: str, tag: str) -> DiffSpan:
    if tag == "equal":
        return DiffSpan("equal", old, new)
    if not old:
        return DiffSpan("insert", "", new)
    if not new:
        return DiffSpan("delete", old, "")
    return DiffSpan("replace", old, new)


# --------------------------------------------------------------------------------------------
# Fiscal years in text and in indicator tables.

_ERA_BASE = {"令和": 2018, "平成": 1988, "昭和": 1925, "R": 2018, "H": 1988, "S": 1925}
_YEAR_MENTION = re.compile(
    r"(?:(?P<era>令和|平成)(?P<era_n>元|[0-9]{1,2})(?P<era_unit>年度|年)?"
    r"|(?<![A-Za-z0-9])(?P<short>[RH])(?P<short_n>[0-9]{1,2})(?P<short_unit>年度|年)?(?![0-9])"
    r"|(?<![0-9])(?P<western>20[0-9]{2})(?P<western_unit>年度))"
)
_NOT_CURRENT = re.compile(r"末?(?:から|より|以降|以来|まで|以前)|当初|に?(?:開始|策定)")
"""After a year: the year marks a start, an end or a plan, not the figures of that year."""
_FIGURE = re.compile(
    r"[0-9][0-9,.]*(?:名|人|件|回|団体|か所|ヶ所|箇所|校|社|世帯|%|割|倍|千円|万円|円|冊|部|戸|"
    r"台|本|隻|トン|t|km|時間|日|ha|組|頭|店)"
    r"|実績"
)
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")


def era_year(era: str, number: str) -> int:
    """The western fiscal year of an era year: 令和5 → 2023, 平成30 → 2018, R5 → 2023."""
    value = 1 if number == "元" else int(unicodedata.normalize("NFKC", number))
    return _ERA_BASE[era] + value


def year_of_label(label: str) -> int | None:
    """The fiscal year a column label names (R5, Ｒ５, H30, 令和5, 2023), or None."""
    text = normalise(label)
    match = re.fullmatch(r"(令和|平成|昭和|[RHS])(元|[0-9]{1,2})(?:年度|年)?", text)
    if match:
        return era_year(match.group(1), match.group(2))
    match = re.fullmatch(r"(20[0-9]{2}|19[0-9]{2})(?:年度|年)?", text)
    return int(match.group(1)) if match else None


def latest_indicator_year(indicators: Iterable[Indicator]) -> int | None:
    """The newest fiscal year with an actual value in any indicator row."""
    years = [
        year
        for indicator in indicators
        for label, value in indicator.actual.items()
        if value is not None and normalise(value) not in ("", "-", "－", "―", "ー")
        for year in (year_of_label(label),)
        if year is not None
    ]
    return max(years) if years else None


def _figure_years(sentence: str) -> list[int]:
    """Fiscal years whose figures ``sentence`` quotes (「令和５年度は約70名」「R5年度実績」)."""
    text = normalise(sentence)
    mentions = list(_YEAR_MENTION.finditer(text))
    if not mentions:
        return []
    if not _FIGURE.search(_YEAR_MENTION.sub("", text)):
        return []
    years = []
    for match in mentions:
        if _NOT_CURRENT.match(text, match.end()):
            continue
        if match.group("era"):
            years.append(era_year(match.group("era"), match.group("era_n")))
        elif match.group("short"):
            years.append(era_year(match.group("short"), match.group("short_n")))
        else:
            years.append(int(match.group("western")))
    return years


@dataclass(frozen=True)
class StaleReference:
    """A passage whose newest quoted figures are older than the indicator table's newest year."""

    key: str
    quoted_year: int
    latest_indicator_year: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "quoted_year": self.quoted_year,
            "latest_indicator_year": self.latest_indicator_year,
            "text": self.text,
        }


def stale_references(record: SheetRecord) -> tuple[StaleReference, ...]:
    """Sentences that quote an earlier fiscal year's figures as the latest ones.

    A passage is stale when the newest year whose figures it quotes is older than the newest
    year with an actual value in the indicator table; its sentences quoting that year are
    returned. Years followed by から・まで・以降… mark a start or an end and do not count.
    Without indicator values there is nothing to measure against, so nothing is stale.
    """
    latest = latest_indicator_year(record.indicators)
    if latest is None:
        return ()
    out: list[StaleReference] = []
    for key, text in item_texts(record).items():
        if not text:
            continue
        quoting = [
            (max(years), sentence.strip())
            for sentence in _SENTENCE.findall(text)
            for years in (_figure_years(sentence),)
            if years
        ]
        if not quoting:
            continue
        newest = max(year for year, _ in quoting)
        if newest < latest:
            out.extend(
                StaleReference(key, newest, latest, _WHITESPACE.sub("", sentence))
                for year, sentence in quoting
                if year == newest
            )
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Items of a sheet.


def item_texts(record: SheetRecord) -> dict[str, str]:
    """Every compared passage by key: assessment items in form order, 見直し, 動向, 活動, 意図,
    ``texts``."""
    out = {key: assessment.reason for key, assessment in record.assessments.items()}
    out.setdefault(REVIEW_KEY, record.review_content)
    out.setdefault(OUTLOOK_KEY, record.outlook_needs)
    out.setdefault(ACTIVITIES_KEY, record.activities)
    out.setdefault(INTENT_KEY, record.intent)
    for key, text in record.texts.items():
        out.setdefault(key, text)
    return out


def item_label(key: str) -> str:
    return PASSAGE_TITLES.get(key, key)


def _item_keys(records: Sequence[SheetRecord]) -> list[str]:
    """Keys in order of first appearance, so a form's order survives added or dropped items."""
    keys: dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(record.assessments))
    keys.update(dict.fromkeys((REVIEW_KEY, OUTLOOK_KEY, ACTIVITIES_KEY, INTENT_KEY)))
    for record in records:
        keys.update(dict.fromkeys(record.texts))
    return list(keys)


def _answer(record: SheetRecord, key: str) -> str | None:
    assessment = record.assessments.get(key)
    return None if assessment is None else assessment.answer


def _source(record: SheetRecord) -> str:
    return f"{record.source.file} シート{record.source.sheet_index + 1}"


def _check_years(records: Sequence[SheetRecord]) -> None:
    seen: dict[tuple[str, str, int], SheetRecord] = {}
    for record in records:
        key = (record.municipality, record.project_no, record.fiscal_year)
        first = seen.get(key)
        if first is not None:
            raise DuplicateYearError(
                f"{record.municipality}の事業 {record.project_no} に{record.fiscal_year}年度の"
                f"シートが2つあります（{_source(first)} と {_source(record)}）。"
                "どちらかを索引から除いてください。"
            )
        seen[key] = record


# --------------------------------------------------------------------------------------------
# One project's history.


@dataclass(frozen=True)
class AnswerChange:
    """An assessment item's answer in the two sheets (None: not read or no such item)."""

    old: str | None
    new: str | None

    @property
    def changed(self) -> bool:
        """True only when both answers are known and differ (an unread answer is no change)."""
        return self.old is not None and self.new is not None and self.old != self.new

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.old, "to": self.new, "changed": self.changed}


@dataclass(frozen=True)
class Transition:
    """One item from one sheet to the next."""

    from_year: int
    to_year: int
    change: ChangeKind
    similarity: float
    diff: tuple[DiffSpan, ...]
    answer: AnswerChange | None = None
    """For assessment items: the answers in both sheets."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_year,
            "to": self.to_year,
            "change": self.change,
            "similarity": round(self.similarity, 4),
            "diff": [span.to_dict() for span in self.diff],
            "answer": None if self.answer is None else self.answer.to_dict(),
        }


@dataclass(frozen=True)
class ItemHistory:
    key: str
    label: str
    transitions: tuple[Transition, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "transitions": [transition.to_dict() for transition in self.transitions],
        }


@dataclass(frozen=True)
class YearRow:
    """The comparable figures of one year's sheet."""

    year: int
    project_name: str
    answers: Mapping[str, str | None]
    review_status: str | None
    decision: str | None
    measures: tuple[str, ...]
    end_fiscal_year: int | None
    total_cost: int | float | None
    indicators: tuple[Indicator, ...]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "answers": dict(self.answers),
            "review_status": self.review_status,
            "decision": self.decision,
            "measures": list(self.measures),
            "end_fiscal_year": self.end_fiscal_year,
            "total_cost": self.total_cost,
            "indicators": [indicator.to_dict() for indicator in self.indicators],
        }


@dataclass(frozen=True)
class DirectionEntry:
    year: int
    decision: str | None
    measures: tuple[str, ...]
    end_fiscal_year: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "decision": self.decision,
            "measures": list(self.measures),
            "end_fiscal_year": self.end_fiscal_year,
        }


@dataclass(frozen=True)
class ProjectHistory:
    """One project's sheets year by year and each item's change between consecutive sheets.

    Consecutive means consecutive *sheets*: with 2023 and 2025 only, 2025 is compared with 2023.
    """

    project_no: str
    municipality: str
    names: Mapping[int, str]
    """Every year's project name when the name changed at least once; empty otherwise."""
    years: tuple[int, ...]
    rows: tuple[YearRow, ...]
    items: tuple[ItemHistory, ...]
    direction: tuple[DirectionEntry, ...]

    @property
    def project_name(self) -> str:
        """The newest name."""
        return self.rows[-1].project_name

    @property
    def comparable(self) -> bool:
        return len(self.years) > 1

    @property
    def message(self) -> str | None:
        """Why there is nothing to compare (one year only), for the CLI to print; else None."""
        if self.comparable:
            return None
        return (
            f"事業 {self.project_no}（{self.project_name}）のシートは{self.years[0]}年度の"
            "1年分だけです。比べる前年度のシートがありません。"
        )

    def transitions_to(self, year: int) -> dict[str, Transition]:
        """Each item's transition into ``year`` (empty for the first year)."""
        return {
            item.key: transition
            for item in self.items
            for transition in item.transitions
            if transition.to_year == year
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project_no,
            "municipality": self.municipality,
            "names": {str(year): name for year, name in self.names.items()},
            "years": list(self.years),
            "rows": [row.to_dict() for row in self.rows],
            "items": [item.to_dict() for item in self.items],
            "direction": [entry.to_dict() for entry in self.direction],
            "message": self.message,
        }


def project_history(records: Iterable[SheetRecord]) -> ProjectHistory:
    """The history of one project from its sheets (any order, one per fiscal year).

    Raises ``DuplicateYearError`` for two sheets of one year and ``ValueError`` when the
    records are empty or belong to more than one (municipality, project number).
    """
    ordered = sorted(records, key=lambda record: record.fiscal_year)
    if not ordered:
        raise ValueError("project_history needs at least one record")
    projects = {(record.municipality, record.project_no) for record in ordered}
    if len(projects) > 1:
        raise ValueError(f"records of several projects: {sorted(projects)}")
    _check_years(ordered)

    names = {record.fiscal_year: record.project_name for record in ordered}
    renamed = len(set(names.values())) > 1
    texts = [item_texts(record) for record in ordered]
    items = []
    for key in _item_keys(ordered):
        transitions = [
            _transition(key, ordered[i - 1], ordered[i], texts[i - 1], texts[i])
            for i in range(1, len(ordered))
        ]
        items.append(ItemHistory(key=key, label=item_label(key), transitions=tuple(transitions)))
    first = ordered[0]
    return ProjectHistory(
        project_no=first.project_no,
        municipality=first.municipality,
        names=names if renamed else {},
        years=tuple(record.fiscal_year for record in ordered),
        rows=tuple(_row(record) for record in ordered),
        items=tuple(items),
        direction=tuple(
            DirectionEntry(
                year=record.fiscal_year,
                decision=record.direction.decision,
                measures=tuple(record.direction.measures),
                end_fiscal_year=record.direction.end_fiscal_year,
            )
            for record in ordered
        ),
    )


def _transition(
    key: str,
    old: SheetRecord,
    new: SheetRecord,
    old_texts: Mapping[str, str],
    new_texts: Mapping[str, str],
) -> Transition:
    before, after = old_texts.get(key, ""), new_texts.get(key, "")
    verdict = classify(before, after)
    answer = None
    if key in old.assessments or key in new.assessments:
        answer = AnswerChange(_answer(old, key), _answer(new, key))
    return Transition(
        from_year=old.fiscal_year,
        to_year=new.fiscal_year,
        change=verdict.change,
        similarity=verdict.similarity if verdict.similarity is not None else 0.0,
        diff=diff_spans(before, after),
        answer=answer,
    )


def _row(record: SheetRecord) -> YearRow:
    return YearRow(
        year=record.fiscal_year,
        project_name=record.project_name,
        answers={key: assessment.answer for key, assessment in record.assessments.items()},
        review_status=record.review_status,
        decision=record.direction.decision,
        measures=tuple(record.direction.measures),
        end_fiscal_year=record.direction.end_fiscal_year,
        total_cost=record.budget.latest("total_cost"),
        indicators=tuple(record.indicators),
        source=_source(record),
    )


def summary_line(history: ProjectHistory, year: int | None = None) -> str | None:
    """「前年度から: 同文 4 / 数値のみ 1 / 改稿 1」 for ``year`` (default: the newest sheet).

    Items empty in both sheets are not counted; None when ``year`` has no earlier sheet.
    """
    year = history.years[-1] if year is None else year
    transitions = [
        transition
        for key, transition in history.transitions_to(year).items()
        if transition.diff or transition.change != "same"
    ]
    if not transitions:
        return None
    counts = _count(transition.change for transition in transitions)
    return "前年度から: " + format_counts(counts)


def format_counts(counts: Mapping[ChangeKind, int]) -> str:
    """「同文 4 / 数値のみ 1 / 改稿 1」: non-zero classes in ``CHANGE_KINDS`` order."""
    parts = [f"{CHANGE_NAMES[kind]} {counts[kind]}" for kind in CHANGE_KINDS if counts.get(kind)]
    return " / ".join(parts) if parts else "比べる記述なし"


def _count(changes: Iterable[ChangeKind]) -> dict[ChangeKind, int]:
    counts: dict[ChangeKind, int] = dict.fromkeys(CHANGE_KINDS, 0)
    for change in changes:
        counts[change] += 1
    return counts


# --------------------------------------------------------------------------------------------
# One year's sheets against their previous sheets.


@dataclass(frozen=True)
class SheetChanges:
    """One sheet of the year compared with its project's previous sheet.

    A sheet without an earlier sheet has ``previous_year`` None, no counted changes and
    ``copied``/``direction_changed`` False; its stale references are still checked.
    """

    id: str
    municipality: str
    project_no: str
    project_name: str
    previous_year: int | None
    copied: bool
    changes: Mapping[ChangeKind, int]
    items: Mapping[str, ChangeKind]
    """Each compared item's class (items empty in both sheets are left out)."""
    direction_changed: bool
    answers_changed: tuple[str, ...]
    stale: tuple[StaleReference, ...]

    @property
    def priority(self) -> tuple[int, int, float, str]:
        """Sort key: copied and stale first, then the share of unchanged items, then number."""
        flags = (0 if self.copied else 2) + (0 if self.stale else 1)
        compared = sum(self.changes.values())
        unchanged = self.changes.get("same", 0) + self.changes.get("numbers", 0)
        share = unchanged / compared if compared else 0.0
        return (flags, self.previous_year is None, -share, self.project_no)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "municipality": self.municipality,
            "project_no": self.project_no,
            "project_name": self.project_name,
            "previous_year": self.previous_year,
            "copied": self.copied,
            "changes": dict(self.changes),
            "items": dict(self.items),
            "direction_changed": self.direction_changed,
            "answers_changed": list(self.answers_changed),
            "stale": [reference.to_dict() for reference in self.stale],
        }


CSV_HEADER: tuple[str, ...] = (
    "ID",
    "自治体",
    "事業番号",
    "事業名",
    "比較した年度",
    "前年度の写し",
    *(CHANGE_NAMES[kind] for kind in CHANGE_KINDS),
    "方向性の変更",
    "回答の変わった設問",
    "古い年度の数値",
)


@dataclass(frozen=True)
class ChangesReport:
    year: int
    sheets: tuple[SheetChanges, ...] = field(default=())
    """Copied and stale sheets first (``SheetChanges.priority``)."""

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "sheets": [sheet.to_dict() for sheet in self.sheets]}

    def to_csv_rows(self) -> list[list[str]]:
        """The header, then one row of plain strings per sheet (for ``csv.writer``)."""
        rows = [list(CSV_HEADER)]
        for sheet in self.sheets:
            rows.append(
                [
                    sheet.id,
                    sheet.municipality,
                    sheet.project_no,
                    sheet.project_name,
                    "" if sheet.previous_year is None else str(sheet.previous_year),
                    _yes(sheet.copied),
                    *(str(sheet.changes.get(kind, 0)) for kind in CHANGE_KINDS),
                    _yes(sheet.direction_changed),
                    "・".join(sheet.answers_changed),
                    "／".join(
                        f"【{item_label(ref.key)}】{ref.quoted_year}年度（表は{ref.latest_indicator_year}年度まで）{ref.text}"
                        for ref in sheet.stale
                    ),
                ]
            )
        return rows


def _yes(value: bool) -> str:
    return "はい" if value else "いいえ"


def year_changes(records: Iterable[SheetRecord], year: int) -> ChangesReport:
    """Every sheet of ``year`` against its project's newest earlier sheet.

    ``records`` may hold every year of the corpus; sheets of later years are ignored. Raises
    ``DuplicateYearError`` when a project has two sheets in one year.
    """
    by_project: dict[tuple[str, str], list[SheetRecord]] = {}
    for record in records:
        if record.fiscal_year <= year:
            by_project.setdefault((record.municipality, record.project_no), []).append(record)
    sheets = []
    for project_records in by_project.values():
        _check_years(project_records)
        current = [record for record in project_records if record.fiscal_year == year]
        if not current:
            continue
        earlier = [record for record in project_records if record.fiscal_year < year]
        previous = max(earlier, key=lambda record: record.fiscal_year) if earlier else None
        sheets.append(compare_sheets(current[0], previous))
    sheets.sort(key=lambda sheet: sheet.priority)
    return ChangesReport(year=year, sheets=tuple(sheets))


def compare_sheets(record: SheetRecord, previous: SheetRecord | None) -> SheetChanges:
    """``record`` against ``previous`` (None: no earlier sheet), without diffs."""
    stale = stale_references(record)
    if previous is None:
        return SheetChanges(
            id=record.id,
            municipality=record.municipality,
            project_no=record.project_no,
            project_name=record.project_name,
            previous_year=None,
            copied=False,
            changes=dict.fromkeys(CHANGE_KINDS, 0),
            items={},
            direction_changed=False,
            answers_changed=(),
            stale=stale,
        )
    new_texts, old_texts = item_texts(record), item_texts(previous)
    items: dict[str, ChangeKind] = {}
    for key in dict.fromkeys([*new_texts, *old_texts]):
        before, after = old_texts.get(key, ""), new_texts.get(key, "")
        if not before.strip() and not after.strip():
            continue
        items[key] = classify(before, after, exact=False).change
    reasoning = [
        key
        for key in record.assessments
        if key in previous.assessments and key in items  # present in both, text on a side
    ]
    answers_changed = tuple(
        key
        for key in record.assessments
        if key in previous.assessments
        and AnswerChange(_answer(previous, key), _answer(record, key)).changed
    )
    old_direction, new_direction = previous.direction, record.direction
    return SheetChanges(
        id=record.id,
        municipality=record.municipality,
        project_no=record.project_no,
        project_name=record.project_name,
        previous_year=previous.fiscal_year,
        copied=bool(reasoning) and all(items[key] == "same" for key in reasoning),
        changes=_count(items.values()),
        items=items,
        direction_changed=(
            old_direction.decision != new_direction.decision
            or tuple(old_direction.measures) != tuple(new_direction.measures)
            or old_direction.end_fiscal_year != new_direction.end_fiscal_year
        ),
        answers_changed=answers_changed,
        stale=stale,
    )


def group_projects(
    records: Iterable[SheetRecord],
) -> dict[tuple[str, str], list[SheetRecord]]:
    """Records by (municipality, project number), each list in fiscal-year order."""
    out: dict[tuple[str, str], list[SheetRecord]] = {}
    for record in records:
        out.setdefault((record.municipality, record.project_no), []).append(record)
    for project_records in out.values():
        project_records.sort(key=lambda record: record.fiscal_year)
    return out
