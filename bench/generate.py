"""Deterministic generator of synthetic evaluation-sheet dumps for benchmarks and round-trip tests.

    python bench/generate.py --n 1000 --seed 1 --out bench/out/n1000

writes ``DIR/sheets/*.txt`` (several sheets per file, in the sample's text-dump form, each file
starting with ``# synthetic evalsearch bench sheet``, a line the parser ignores) and
``DIR/labels.json``: the planted overlap groups as a list of lists of record ids (年度-事業番号).
``DIR/transitions.json`` holds the planted cross-year transitions (see below).
``--truth`` also writes ``DIR/truth.jsonl``, the generator's own records, one JSON per line.

How the text varies:

* every sheet draws a *concept* from one of ~30 policy themes (``bench/phrases.py``): a subject,
  target group, 2–3 activities, an outcome, an issue, an organisation and a district;
* each passage is 1–4 sentences picked from several template pools with different syntax
  (bullet lists or prose for 活動内容, context sentences before or after the core sentence),
  trimmed or extended to 20–250 characters;
* spelling slots (取組み/取り組み/取組, ＮＰＯ/NPO, 子ども/子供, ５/5 …) are resolved at every use;
* the block order (sample sheet 1 "scrambled" or sheet 2 "ordered"), its budget layout and the
  wrap width (43–45 full-width characters) vary per sheet.

Planted groups: 2–3 sheets of one fiscal year in different departments share a concept and two
sentences; the first member names the second's organisation in 「」 in its オ (sometimes ウ)
reason, answers オ with ある/一部ある and plans 見直しのうえで継続 with 統合・振替.

Planted transitions: ``CONTINUED_FRACTION`` of the ungrouped 令和6 and 令和7 sheets continue an
ungrouped project of the year before (same project number, theme, department), most 令和7 ones
a 令和6 continuation, so some projects span all three years. Each passage (ア–カ, 見直し, 動向)
of a continuation is derived from the previous sheet's by one planted change: ``same`` (copied),
``numbers`` (only its numbers: 令和５→令和６, 12回→15回), ``edited`` (a sentence appended,
dropped or swapped, or a phrase reworded; figures may be updated too) or ``rewritten`` (new
sentences only, same project vocabulary). ``transitions.json`` is
``{"transitions": [{"project_no", "from", "to", "key", "change"}], "renamed": [...],
"copied": [...]}`` (the last two list ``{"project_no", "year"}``; ``COPIED_FRACTION`` of the
continuations copy every ア–カ reason). It is a file of its own because ``labels.json`` is a
bare list that ``bench/run.py`` reads as groups.
Other sheets are generated exactly as without continuations.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.layout import BLOCK_ORDERS, ORDERED, SCRAMBLED, render
from bench.phrases import (
    ACTIVITY_BULLETS,
    ACTIVITY_PROSE,
    ANSWER_WEIGHTS,
    ASSESSMENT_CORES,
    CITY,
    CONTEXT_SENTENCES,
    CROSS_REFERENCE_SENTENCES,
    DECISION_WEIGHTS,
    DECISIONS,
    DEPARTMENTS,
    FTE_CHOICES,
    INTENT_SENTENCES,
    MEASURES,
    OPTIONS,
    OUTLOOK_SENTENCES,
    PLACES,
    PLAN_YEARS,
    PROJECT_SUFFIXES,
    QUOTED_NOISE,
    REVIEW_SENTENCES,
    REVIEW_STATUSES,
    REVIEW_WEIGHTS,
    STAFF_COST_PER_FTE,
    TARGET_OUTLOOKS,
    THEMES,
    VARIANTS,
    Theme,
)
from evalsearch.records import (
    ITEM_LABELS,
    Assessment,
    Budget,
    Direction,
    Indicator,
    SheetRecord,
    SourceRef,
)

SYNTHETIC_MARKER = "# synthetic evalsearch bench sheet"
"""First line of every generated file; the parser skips lines starting with ``#``."""

FISCAL_ERAS: tuple[int, ...] = (5, 6, 7)
"""令和 years of the generated sheets (令和N年度 = fiscal year 2018 + N)."""

PLANTED_FRACTION = 0.12
"""Share of sheets that belong to a planted overlap group."""
MAX_SHEETS_PER_FILE = 6
MIN_PASSAGE, MAX_PASSAGE = 20, 250
WRAP_WIDTHS: tuple[int, ...] = (86, 88, 90, 90)
TARGET_ERAS: tuple[str, str] = ("R2", "R7")

CONTINUED_FRACTION = 0.35
"""Share of the ungrouped sheets of each later year that continue a project of the year before."""
CHAIN_SHARE = 0.7
"""Share of continuations that continue a continuation (three-year projects) when there are any."""
TRANSITION_WEIGHTS: dict[str, int] = {"same": 35, "numbers": 15, "edited": 30, "rewritten": 20}
NUMBERS_WEIGHT_WITH_DIGITS = 60
"""Weight of ``numbers`` for a passage with digits: few passages have any, so favour them."""
RENAME_FRACTION = 0.06
COPIED_FRACTION = 0.2
"""Share of continuations whose ア–カ reasons are all copied unchanged (evaluation not redone)."""
KEPT_SENTENCE = 0.6
"""Sentence-level ratio from which a rewrite's sentence still counts as an old one reworded."""

_SLOT_CHARS = frozenset("{}")


# --------------------------------------------------------------------------------------------
# Plan: which sheet is where, in which year, department and group. Cheap, made up front.


@dataclass(frozen=True)
class SheetPlan:
    index: int
    fiscal_year: int
    project_no: str
    theme: int
    department: str
    order: str
    file: int
    sheet_index: int
    group: int | None = None
    role: int = 0
    """0 = the member that plans 統合・振替 and names its partner; 1.. = partners."""
    previous: int | None = None
    """Index of the previous year's sheet of the same project (a planted continuation)."""


@dataclass(frozen=True)
class Plan:
    seed: int
    sheets: tuple[SheetPlan, ...]
    groups: tuple[tuple[int, ...], ...]
    """Planted groups as tuples of sheet indexes (role order)."""
    group_orgs: tuple[tuple[str, str], ...] = ()
    """(district, organisation type) of each group's organisation, unique within a year."""

    def group_ids(self) -> list[list[str]]:
        return [[record_id(self.sheets[i]) for i in group] for group in self.groups]


def record_id(sheet: SheetPlan) -> str:
    return f"{sheet.fiscal_year}-{sheet.project_no}"


def file_name(file_index: int, seed: int) -> str:
    return f"{file_index:06d}_s{seed}.txt"


def make_plan(n: int, seed: int, *, continued: float = CONTINUED_FRACTION) -> Plan:
    """Assign year, number, theme, department, block order, file and group to n sheets.

    ``continued`` is the share of later-year ungrouped sheets that continue a project of the
    year before (0 gives the plan without continuations).
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    rng = random.Random(f"plan:{seed}")
    years = [2018 + FISCAL_ERAS[i * len(FISCAL_ERAS) // n] for i in range(n)]
    themes = [rng.randrange(len(THEMES)) for _ in range(n)]
    departments = [_pick_department(rng, THEMES[t]) for t in themes]
    groups, group_orgs = _plant_groups(rng, n, years, themes, departments)
    group_of = {
        index: (g, role) for g, members in enumerate(groups) for role, index in enumerate(members)
    }

    sheets: list[SheetPlan] = []
    file_index, in_file, file_size = -1, 0, 0
    for i in range(n):
        if in_file >= file_size or (i and years[i] != years[i - 1]):
            file_index += 1
            in_file, file_size = 0, rng.randint(1, MAX_SHEETS_PER_FILE)
        group, role = group_of.get(i, (None, 0))
        sheets.append(
            SheetPlan(
                index=i,
                fiscal_year=years[i],
                project_no=str(10000 + i * 3 + rng.randrange(3)),  # unique across years
                theme=themes[i],
                department=departments[i],
                order=rng.choice(BLOCK_ORDERS),
                file=file_index,
                sheet_index=in_file,
                group=group,
                role=role,
            )
        )
        in_file += 1
    if continued > 0:
        sheets = _plant_continuations(sheets, seed, continued)
    return Plan(
        seed=seed,
        sheets=tuple(sheets),
        groups=tuple(tuple(g) for g in groups),
        group_orgs=tuple(group_orgs),
    )


def _plant_continuations(sheets: list[SheetPlan], seed: int, fraction: float) -> list[SheetPlan]:
    """Make some later-year sheets continue a previous-year project (its number and theme).

    A separate random stream, drawn after the plan, keeps every other sheet as it was.
    Grouped sheets neither continue nor are continued: their text names a partner of their
    own year.
    """
    rng = random.Random(f"continue:{seed}")
    by_year: dict[int, list[int]] = {}
    for sheet in sheets:
        if sheet.group is None:
            by_year.setdefault(sheet.fiscal_year, []).append(sheet.index)
    years = sorted(by_year)
    for year in years[1:]:
        earlier = by_year.get(year - 1, [])
        chained = [i for i in earlier if sheets[i].previous is not None]
        fresh = [i for i in earlier if sheets[i].previous is None]
        count = min(round(fraction * len(by_year[year])), len(earlier))
        from_chain = max(count - len(fresh), min(round(count * CHAIN_SHARE), len(chained)))
        previous = rng.sample(chained, from_chain) + rng.sample(fresh, count - from_chain)
        continuing = sorted(rng.sample(by_year[year], count))
        rng.shuffle(previous)
        for index, before in zip(continuing, previous, strict=True):
            earlier_sheet = sheets[before]
            sheets[index] = dataclasses.replace(
                sheets[index],
                project_no=earlier_sheet.project_no,
                theme=earlier_sheet.theme,
                department=earlier_sheet.department,
                previous=before,
            )
    return sheets


def _pick_department(rng: random.Random, theme: Theme) -> str:
    if rng.random() < 0.8:
        return rng.choice(theme.departments)
    return rng.choice(tuple(DEPARTMENTS))


def _plant_groups(
    rng: random.Random, n: int, years: list[int], themes: list[int], departments: list[str]
) -> tuple[list[list[int]], list[tuple[str, str]]]:
    """Choose group members within one year, give them one theme and distinct departments.

    Each group gets its own organisation (〇〇地区 + type), unique within its year as long as
    the district × type combinations last, so no other sheet names it by accident.
    """
    by_year: dict[int, list[int]] = {}
    for i, year in enumerate(years):
        by_year.setdefault(year, []).append(i)
    for members in by_year.values():
        rng.shuffle(members)
    target = int(n * PLANTED_FRACTION)
    groups: list[list[int]] = []
    orgs: list[tuple[str, str]] = []
    used: set[tuple[int, str, str]] = set()
    planted = 0
    year_cycle = sorted(by_year)
    turn = 0
    while planted < target:
        size = 3 if rng.random() < 0.3 else 2
        pool = by_year[year_cycle[turn % len(year_cycle)]]
        turn += 1
        if len(pool) < size:
            if all(len(p) < 2 for p in by_year.values()):
                break
            continue
        members = [pool.pop() for _ in range(size)]
        theme = rng.randrange(len(THEMES))
        candidates = list(THEMES[theme].departments)
        rng.shuffle(candidates)
        others = [d for d in DEPARTMENTS if d not in candidates]
        rng.shuffle(others)
        chosen = (candidates + others)[:size]
        for member, department in zip(members, chosen, strict=True):
            themes[member] = theme
            departments[member] = department
        year = years[members[0]]
        free = [
            (place, kind)
            for place in PLACES
            for kind in THEMES[theme].orgs
            if (year, place, kind) not in used
        ]
        place, kind = (
            rng.choice(free) if free else (rng.choice(PLACES), rng.choice(THEMES[theme].orgs))
        )
        used.add((year, place, kind))
        groups.append(members)
        orgs.append((place, kind))
        planted += size
    return groups, orgs


# --------------------------------------------------------------------------------------------
# Concepts and passages.


@dataclass(frozen=True)
class Concept:
    """What a project is about; shared by the members of a planted group."""

    theme: Theme
    subject: str
    target: str
    actions: tuple[str, ...]
    outcome: str
    issue: str
    org: str
    place: str
    shared: tuple[str, ...] = ()
    """Templates every member of a planted group uses (one intent, one activity sentence)."""


def make_concept(
    rng: random.Random, theme: Theme, *, group_org: tuple[str, str] | None = None
) -> Concept:
    """A sheet's concept; ``group_org`` (district, type) marks a planted group's concept."""
    if group_org is None:
        place = rng.choice(PLACES)
        org = rng.choice((CITY, CITY, "")) + rng.choice(theme.orgs)
    else:
        place, kind = group_org
        org = f"{place}地区{kind}"
    return Concept(
        theme=theme,
        subject=rng.choice(theme.subjects),
        target=rng.choice(theme.targets),
        actions=tuple(rng.sample(theme.actions, min(3, len(theme.actions)))),
        outcome=rng.choice(theme.outcomes),
        issue=rng.choice(theme.issues),
        org=org,
        place=place,
    )


class Writer:
    """Fills templates for one sheet: concept slots fixed, spelling variants at every use."""

    def __init__(self, rng: random.Random, concept: Concept, fiscal_year: int) -> None:
        self.rng = rng
        self.concept = concept
        self.era = fiscal_year - 2018
        self.fixed = {
            "subj": concept.subject,
            "tgt": concept.target,
            "out": concept.outcome,
            "iss": concept.issue,
            "org": concept.org,
            "place": concept.place,
        }

    def fill(
        self, template: str, extra: dict[str, str] | None = None, *, variants: bool = True
    ) -> str:
        """Fill ``template``; ``variants=False`` leaves the spelling slots for a later fill."""
        rng = self.rng
        actions = self.concept.actions
        first, second = rng.sample(actions, 2) if len(actions) > 1 else (actions[0], actions[0])
        slots = {
            **self.fixed,
            "act": first,
            "act2": second,
            "n": str(rng.randint(2, 30)),
            "y": rng.choice((str(self.era), "０１２３４５６７８９"[self.era])),
            **(extra or {}),
        }
        text = template
        for _ in range(3):  # slot values may themselves hold spelling slots
            if not _SLOT_CHARS.intersection(text):
                break
            text = _fill_once(text, slots, rng, variants=variants)
            if not variants:
                break
        return text

    def passage(
        self,
        core: Sequence[str],
        extras: Sequence[str] = CONTEXT_SENTENCES,
        *,
        max_extra: int = 2,
    ) -> str:
        """Core sentences plus 0..max_extra context sentences, before or after, 20–250 chars."""
        rng = self.rng
        sentences = [self.fill(t) for t in core]
        added: list[str] = []
        for _ in range(rng.randint(0, max_extra)):
            added.append(self.fill(rng.choice(extras)))
        for sentence in added:
            if rng.random() < 0.3:
                sentences.insert(0, sentence)
            else:
                sentences.append(sentence)
        text = "".join(dict.fromkeys(sentences))
        while len(text) > MAX_PASSAGE and added:  # drop context, never the core sentence
            sentences.remove(added.pop())
            text = "".join(dict.fromkeys(sentences))
        if len(text) > MAX_PASSAGE:
            text = text[: MAX_PASSAGE - 1] + "。"
        while len(text) < MIN_PASSAGE:
            text += self.fill(rng.choice(extras))
        return text


def _fill_once(
    text: str, slots: dict[str, str], rng: random.Random, *, variants: bool = True
) -> str:
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("{", pos)
        if start < 0:
            out.append(text[pos:])
            return "".join(out)
        end = text.index("}", start)
        out.append(text[pos:start])
        key = text[start + 1 : end]
        value = slots.get(key)
        if value is None:
            value = rng.choice(VARIANTS[key]) if variants else "{" + key + "}"
        out.append(value)
        pos = end + 1


# --------------------------------------------------------------------------------------------
# One sheet: the truth record.


@dataclass(frozen=True)
class Partner:
    """What the 統合・振替 side of a planted group knows about its partner."""

    org: str
    project_name: str
    department: str


@dataclass
class SheetDraft:
    plan: SheetPlan
    concept: Concept
    project_name: str
    section: str
    rng: random.Random = field(repr=False)


def _project_name(rng: random.Random, concept: Concept, role: int, grouped: bool) -> str:
    if grouped and role == 1:  # the organisation the first member names, as in sample 12770
        return f"{concept.org}補助事業"
    if rng.random() < 0.15:
        return f"{concept.place}地区{concept.subject}{rng.choice(PROJECT_SUFFIXES)}"
    return f"{concept.subject}{rng.choice(PROJECT_SUFFIXES)}"


def draft_sheet(plan: Plan, sheet: SheetPlan) -> SheetDraft:
    rng = random.Random(f"sheet:{plan.seed}:{sheet.index}")
    theme = THEMES[sheet.theme]
    if sheet.group is not None:
        group_rng = random.Random(f"group:{plan.seed}:{sheet.group}")
        concept = make_concept(group_rng, theme, group_org=plan.group_orgs[sheet.group])
        # One intent and one activity sentence every member prints (spelling varies).
        group_writer = Writer(group_rng, concept, sheet.fiscal_year)
        shared = tuple(
            group_writer.fill(group_rng.choice(pool), variants=False)
            for pool in (INTENT_SENTENCES, ACTIVITY_PROSE)
        )
        concept = dataclasses.replace(concept, shared=shared)
        if sheet.role > 0:  # partners keep two of the activities and add one of their own
            own = make_concept(rng, theme)
            extra = [action for action in own.actions if action not in concept.actions]
            concept = dataclasses.replace(
                concept,
                target=concept.target if rng.random() < 0.7 else own.target,
                actions=(*concept.actions[:2], *extra[:1]),
                issue=rng.choice((concept.issue, own.issue)),
            )
    else:
        concept = make_concept(rng, theme)
    name = _project_name(rng, concept, sheet.role, sheet.group is not None)
    section = rng.choice(DEPARTMENTS[sheet.department])
    return SheetDraft(plan=sheet, concept=concept, project_name=name, section=section, rng=rng)


def build_record(draft: SheetDraft, file: str, partner: Partner | None) -> SheetRecord:
    """The generator's truth for one sheet."""
    rng, concept, sheet = draft.rng, draft.concept, draft.plan
    writer = Writer(rng, concept, sheet.fiscal_year)
    grouped = sheet.group is not None
    initiator = grouped and sheet.role == 0 and partner is not None

    answers = {
        label: _weighted(rng, OPTIONS[label], ANSWER_WEIGHTS[label]) for label in ITEM_LABELS
    }
    if initiator:
        answers["オ"] = rng.choice(("ある", "一部ある"))
    reasons = {
        label: writer.passage([rng.choice(ASSESSMENT_CORES[label][answers[label]])])
        for label in ITEM_LABELS
    }
    if initiator:
        assert partner is not None
        cross = {"porg": partner.org, "pname": partner.project_name, "pdept": partner.department}
        label = "ウ" if rng.random() < 0.25 else "オ"
        reference = writer.fill(rng.choice(CROSS_REFERENCE_SENTENCES[label]), cross)
        reasons[label] = _fit(reference if label == "オ" else reference + reasons[label])
    elif rng.random() < 0.15:
        label = rng.choice(("ア", "イ", "ウ"))
        reasons[label] = _fit(reasons[label] + writer.fill(rng.choice(QUOTED_NOISE)))

    activities = _activities(writer, concept)
    intent = writer.passage([rng.choice(INTENT_SENTENCES)], max_extra=1)
    if concept.shared:
        shared_intent = writer.fill(concept.shared[0])
        shared_activity = writer.fill(concept.shared[1])
        intent = _fit(shared_intent + (intent if rng.random() < 0.5 else ""))
        joiner = "\n" if activities.startswith("・") else ""
        activities = _fit(shared_activity + joiner + activities)

    review_status = _weighted(rng, REVIEW_STATUSES, REVIEW_WEIGHTS)
    if review_status == "検討していない" and rng.random() < 0.7:
        review_content = ""
    else:
        review_content = writer.passage([rng.choice(REVIEW_SENTENCES)], max_extra=1)
    outlook = writer.passage([rng.choice(OUTLOOK_SENTENCES)], max_extra=1)

    direction = _direction(rng, sheet.fiscal_year, initiator)
    stage = "中間" if rng.random() < 0.8 else "事後"
    era = sheet.fiscal_year - 2018
    return SheetRecord(
        fiscal_year=sheet.fiscal_year,
        evaluation_stage=stage,
        project_no=sheet.project_no,
        project_name=draft.project_name,
        department=sheet.department,
        section=draft.section,
        priority_project=rng.random() < 0.1,
        affairs_type="自治" if rng.random() < 0.85 else "法定受託",
        policy_area=concept.theme.area,
        policy_goal=writer.fill(concept.theme.goal),
        target=writer.fill(concept.target),
        target_outlook=rng.choice(TARGET_OUTLOOKS),
        activities=activities,
        intent=intent,
        indicators=_indicators(rng, concept.theme, era),
        budget=_budget(rng, era, sheet.order),
        review_status=review_status,
        review_content=review_content,
        outlook_needs=outlook,
        assessments={
            label: Assessment(answer=answers[label], reason=reasons[label]) for label in ITEM_LABELS
        },
        direction=direction,
        created=f"{sheet.fiscal_year + 1}-{rng.randint(6, 10):02d}",
        page=f"{rng.randint(3, 7)}-{sheet.sheet_index + 1}" if sheet.order == SCRAMBLED else None,
        source=SourceRef(file=file, sheet_index=sheet.sheet_index),
    )


# --------------------------------------------------------------------------------------------
# Continuations: a project's sheet of the next year, derived from the previous one.


@dataclass(frozen=True)
class PlantedTransition:
    """Truth label of one passage's change between two sheets of one project."""

    project_no: str
    from_year: int
    to_year: int
    key: str
    change: str

    def to_dict(self) -> dict[str, object]:
        return {
            "project_no": self.project_no,
            "from": self.from_year,
            "to": self.to_year,
            "key": self.key,
            "change": self.change,
        }


REVIEW_KEY, OUTLOOK_KEY = "見直し", "動向"
"""Keys of 見直しの内容 and 今後の動向 in transition labels (as in ``evalsearch.history``)."""

_DIGITS = re.compile(r"[0-9０-９]+")
_FULL_DIGITS = "０１２３４５６７８９"
_SENTENCE_END = re.compile(r"(?<=。)")
REWORDINGS: tuple[tuple[str, str], ...] = (
    ("必要がある。", "必要があると考える。"),
    ("している。", "しているところである。"),
    ("を図った。", "に努めた。"),
    ("見込まれる。", "見込まれている。"),
    ("である。", "と考えられる。"),
    ("について", "に関して"),
    ("により", "によって"),
    ("ため、", "ことから、"),
    ("ことから、", "ため、"),
    ("を進めている", "を着実に進めている"),
    ("実施する", "継続して実施する"),
    ("成果", "一定の成果"),
    ("事業", "本事業"),
    ("引き続き、", "今後とも"),
    ("必要", "不可欠"),
)
"""Small rewordings an evaluator makes when revising last year's passage."""


def _sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text) if part]


def _bump_numbers(rng: random.Random, text: str, years: int) -> str:
    """Change every number: era years advance by ``years``, other figures move; width kept."""

    def replace(match: re.Match[str]) -> str:
        raw = match.group(0)
        full = raw[0] in _FULL_DIGITS
        value = int(raw.translate(str.maketrans(_FULL_DIGITS, "0123456789")))
        if text[max(0, match.start() - 2) : match.start()] == "令和":
            new = value + years
        else:
            new = value
            while new == value:
                new = rng.randint(max(1, value // 2), value * 2 + 3)
        digits = str(new)
        return digits.translate(str.maketrans("0123456789", _FULL_DIGITS)) if full else digits

    return _DIGITS.sub(replace, text)


def _edit(rng: random.Random, writer: Writer, text: str) -> str | None:
    """A small revision of ``text``, or None when none applies."""
    sentences = _sentences(text)
    options: list[str] = ["append"]
    if len(sentences) >= 2:
        options += ["drop", "swap"]
    if any(old in text for old, _ in REWORDINGS):
        options += ["reword", "reword"]
    for _ in range(8):
        option = rng.choice(options)
        if option == "append":
            added = writer.fill(rng.choice(CONTEXT_SENTENCES))
            if len(added) > 0.6 * len(text) or len(text) + len(added) > MAX_PASSAGE:
                continue
            edited = text + added
        elif option == "drop":
            position = rng.randrange(len(sentences))
            if len(sentences[position]) > 0.4 * len(text):
                continue
            edited = "".join(sentences[:position] + sentences[position + 1 :])
        elif option == "swap":
            position = rng.randrange(len(sentences))
            added = writer.fill(rng.choice(CONTEXT_SENTENCES))
            if len(sentences[position]) + len(added) > 0.6 * len(text) or added in text:
                continue
            edited = "".join([*sentences[:position], added, *sentences[position + 1 :]])
        else:
            found = [(old, new) for old, new in REWORDINGS if old in text]
            old, new = rng.choice(found)
            start = rng.choice([m.start() for m in re.finditer(re.escape(old), text)])
            edited = text[:start] + new + text[start + len(old) :]
        if MIN_PASSAGE <= len(edited) <= MAX_PASSAGE and edited != text:
            return edited
    return None


def _rewrite(
    rng: random.Random, writer: Writer, text: str, cores: Sequence[str], max_extra: int
) -> str:
    """A new passage about the same project that keeps none of ``text``'s sentences.

    A sentence counts as kept when it matches an old one at sentence level (ratio ≥
    ``KEPT_SENTENCE``): the same template in other spellings is not new text.
    """
    old = _sentences(text)
    best, best_kept = "", 2.0
    for _ in range(40):
        rewritten = writer.passage([rng.choice(cores)], max_extra=max_extra)
        kept = max(
            (
                SequenceMatcher(None, before, after, autojunk=False).ratio()
                for before in old
                for after in _sentences(rewritten)
            ),
            default=0.0,
        )
        if kept < KEPT_SENTENCE:
            return rewritten
        if kept < best_kept:
            best, best_kept = rewritten, kept
    return best


def _transition_kind(rng: random.Random, text: str) -> str:
    weights = dict(TRANSITION_WEIGHTS)
    if _DIGITS.search(text):
        weights["numbers"] = NUMBERS_WEIGHT_WITH_DIGITS
    else:
        del weights["numbers"]
    if not text:
        del weights["edited"]
    kinds = list(weights)
    return rng.choices(kinds, weights=[weights[k] for k in kinds])[0]


def _advance_indicators(
    rng: random.Random, indicators: Sequence[Indicator], era: int
) -> tuple[Indicator, ...]:
    """Last year's indicator rows one year on: the oldest year drops out, ``R{era}`` is new."""
    out = []
    for indicator in indicators:
        kept = {key: value for key, value in indicator.actual.items() if key != f"R{era - 5}"}
        plan = indicator.plan or "1回"
        match = re.search(r"[0-9][0-9,]*", plan)
        base = int(match.group(0).replace(",", "")) if match else 1
        prefix, unit = (plan[: match.start()], plan[match.end() :]) if match else ("", "回")
        factor = 0.0 if rng.random() < 0.08 else rng.uniform(0.5, 1.3)
        kept[f"R{era}"] = f"{prefix}{round(base * factor):,}{unit}"
        out.append(dataclasses.replace(indicator, actual=kept))
    return tuple(out)


def _renamed(rng: random.Random, name: str) -> str:
    for suffix in sorted(PROJECT_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            others = [other for other in PROJECT_SUFFIXES if other != suffix]
            return name[: -len(suffix)] + rng.choice(others)
    return name + "推進事業"


def continue_record(
    plan: Plan, sheet: SheetPlan, previous: SheetRecord, file: str
) -> tuple[SheetRecord, tuple[PlantedTransition, ...], bool, bool]:
    """The next year's sheet of ``previous``'s project: its record, planted transitions, whether
    it was renamed and whether its ア–カ reasons were all copied."""
    rng = random.Random(f"continuation:{plan.seed}:{sheet.index}")
    root = sheet
    while root.previous is not None:
        root = plan.sheets[root.previous]
    concept = draft_sheet(plan, root).concept
    writer = Writer(rng, concept, sheet.fiscal_year)
    years = sheet.fiscal_year - previous.fiscal_year
    labels: list[PlantedTransition] = []

    copied = rng.random() < COPIED_FRACTION

    def carry(key: str, text: str, cores: Sequence[str], max_extra: int) -> str:
        change = "same" if copied and key in previous.assessments else _transition_kind(rng, text)
        if change == "edited":
            edited = _edit(rng, writer, text)
            if edited is None:
                change = "rewritten"
            else:
                new = _bump_numbers(rng, edited, years) if rng.random() < 0.3 else edited
        if change == "same":
            new = text
        elif change == "numbers":
            new = _bump_numbers(rng, text, years)
        elif change == "rewritten":
            new = _rewrite(rng, writer, text, cores, max_extra)
        labels.append(
            PlantedTransition(
                previous.project_no, previous.fiscal_year, sheet.fiscal_year, key, change
            )
        )
        return new

    assessments = {}
    for label, assessment in previous.assessments.items():
        answer = assessment.answer or OPTIONS[label][0]
        before = len(labels)
        reason = carry(label, assessment.reason, ASSESSMENT_CORES[label][answer], 2)
        if labels[before].change == "rewritten" and rng.random() < 0.3:
            answer = _weighted(rng, OPTIONS[label], ANSWER_WEIGHTS[label])
            reason = _rewrite(rng, writer, assessment.reason, ASSESSMENT_CORES[label][answer], 2)
        assessments[label] = Assessment(answer=answer, reason=reason)
    review_status = previous.review_status
    if rng.random() < 0.2:
        review_status = _weighted(rng, REVIEW_STATUSES, REVIEW_WEIGHTS)
    review_content = carry(REVIEW_KEY, previous.review_content, REVIEW_SENTENCES, 1)
    outlook = carry(OUTLOOK_KEY, previous.outlook_needs, OUTLOOK_SENTENCES, 1)
    direction = previous.direction
    if rng.random() < 0.25:
        direction = _direction(rng, sheet.fiscal_year, False)
    renamed = rng.random() < RENAME_FRACTION
    era = sheet.fiscal_year - 2018
    record = dataclasses.replace(
        previous,
        fiscal_year=sheet.fiscal_year,
        evaluation_stage="中間" if rng.random() < 0.8 else "事後",
        project_name=_renamed(rng, previous.project_name) if renamed else previous.project_name,
        indicators=_advance_indicators(rng, previous.indicators, era),
        budget=_budget(rng, era, sheet.order),
        review_status=review_status,
        review_content=review_content,
        outlook_needs=outlook,
        assessments=assessments,
        direction=direction,
        created=f"{sheet.fiscal_year + 1}-{rng.randint(6, 10):02d}",
        page=f"{rng.randint(3, 7)}-{sheet.sheet_index + 1}" if sheet.order == SCRAMBLED else None,
        source=SourceRef(file=file, sheet_index=sheet.sheet_index),
    )
    return record, tuple(labels), renamed, copied


def _fit(text: str) -> str:
    """Cut a composed passage back to MAX_PASSAGE characters at a sentence end."""
    if len(text) <= MAX_PASSAGE:
        return text
    cut = text.rfind("。", 0, MAX_PASSAGE)
    return text[: cut + 1] if cut >= MIN_PASSAGE else text[: MAX_PASSAGE - 1] + "。"


def _weighted(rng: random.Random, options: Sequence[str], weights: Sequence[int]) -> str:
    return rng.choices(options, weights=weights)[0]


def _activities(writer: Writer, concept: Concept) -> str:
    rng = writer.rng
    if rng.random() < 0.55:
        count = rng.randint(1, 4)
        lines = list(dict.fromkeys(writer.fill(rng.choice(ACTIVITY_BULLETS)) for _ in range(count)))
        text = "\n".join(lines)
        while len(text) > MAX_PASSAGE and len(lines) > 1:
            lines.pop()
            text = "\n".join(lines)
        if len(text) < MIN_PASSAGE:
            text += "\n" + writer.fill("・{act}")
        return text
    return writer.passage([rng.choice(ACTIVITY_PROSE)], max_extra=1)


def _direction(rng: random.Random, fiscal_year: int, initiator: bool) -> Direction:
    decision = "見直しのうえで継続" if initiator else _weighted(rng, DECISIONS, DECISION_WEIGHTS)
    measures: tuple[str, ...] = ()
    end_fiscal_year = None
    if decision == "見直しのうえで継続":
        chosen = set(rng.sample(MEASURES[:4], rng.randint(0 if initiator else 1, 2)))
        if initiator or rng.random() < 0.1:
            chosen.add("統合・振替")
        measures = tuple(m for m in MEASURES if m in chosen)
    elif decision == "終期設定あり":
        end_fiscal_year = fiscal_year + rng.randint(1, 4)
    return Direction(decision=decision, measures=measures, end_fiscal_year=end_fiscal_year)


def _format_amount(value: int, unit: str, yearly: bool) -> str:
    return f"{'年' if yearly else ''}{value:,}{unit}"


def _indicators(rng: random.Random, theme: Theme, era: int) -> tuple[Indicator, ...]:
    count = rng.choices((1, 2, 3), weights=(40, 40, 20))[0]
    chosen = rng.sample(theme.indicators, min(count, len(theme.indicators)))
    plan_year = rng.choice(PLAN_YEARS)
    out = []
    for name, unit, lo, hi in chosen:
        base = rng.randint(lo, hi)
        yearly = unit == "回" and rng.random() < 0.3
        actual = {}
        for year in range(era - 4, era + 1):
            factor = 0.0 if rng.random() < 0.08 else rng.uniform(0.5, 1.3)
            actual[f"R{year}"] = _format_amount(round(base * factor), unit, yearly and year == era)
        target = {
            era_key: _format_amount(round(base * rng.uniform(1.0, 1.2)), unit, yearly)
            for era_key in TARGET_ERAS
        }
        out.append(
            Indicator(
                name=name,
                plan_year=plan_year,
                plan=_format_amount(base, unit, yearly),
                actual=actual,
                target=target,
            )
        )
    return tuple(out)


def _budget(rng: random.Random, era: int, order: str) -> Budget:
    """Budget in 千円 obeying the form's arithmetic.

    The scrambled layout prints 事業費 and 一般財源 only (sample 12276), so it funds from 一般財源.
    """
    scale = rng.choices((300, 3000, 30000, 150000), weights=(35, 40, 20, 5))[0]
    base = max(50, round(rng.uniform(0.2, 1.0) * scale))
    same = rng.random() < 0.4
    costs = (
        [base]
        if same
        else [base, round(base * rng.uniform(0.8, 1.0)), round(base * rng.uniform(0.9, 1.15))]
    )
    costs = (costs * 3)[:3]
    fte = rng.choice(FTE_CHOICES)
    ftes = (fte, fte, fte if rng.random() < 0.8 else rng.choice(FTE_CHOICES))
    staff = tuple(_staff_cost(value) for value in ftes)
    columns = (f"R{era}予算", f"R{era}決算", f"R{era + 1}予算")
    blank = (None, None, None)
    national: tuple[int | None, ...] = blank
    bonds: tuple[int | None, ...] = blank
    other: tuple[int | None, ...] = blank
    general: tuple[int | None, ...] = tuple(costs)
    if order == ORDERED:
        pattern = rng.choices(
            ("general", "other", "national", "bonds", "other_only"), weights=(40, 20, 20, 10, 10)
        )[0]
        if pattern == "other_only":
            other, general = tuple(costs), (0, 0, 0)
        elif pattern != "general":
            share = rng.uniform(0.2, 0.7)
            part = tuple(round(cost * share) for cost in costs)
            general = tuple(cost - p for cost, p in zip(costs, part, strict=True))
            if pattern == "other":
                other = part
            elif pattern == "national":
                national = part
            else:
                bonds = part
    return Budget(
        columns=columns,
        project_cost=tuple(costs),
        national_prefectural=national if order == ORDERED else None,
        municipal_bonds=bonds if order == ORDERED else None,
        other=other if order == ORDERED else None,
        general_revenue=general,
        staff_fte=ftes,
        staff_cost=staff,
        total_cost=tuple(cost + s for cost, s in zip(costs, staff, strict=True)),
    )


def _staff_cost(fte: float) -> int:
    hundredths = round(fte * 100)
    return (hundredths * STAFF_COST_PER_FTE + 50) // 100


# --------------------------------------------------------------------------------------------
# Files.


@dataclass(frozen=True)
class GeneratedSheet:
    record: SheetRecord
    order: str
    text: str
    transitions: tuple[PlantedTransition, ...] = ()
    """Planted changes from the previous year's sheet (continuations only)."""
    renamed: bool = False
    copied: bool = False
    """Planted as a copied evaluation: every ア–カ reason as the year before."""


@dataclass(frozen=True)
class GeneratedFile:
    name: str
    sheets: tuple[GeneratedSheet, ...]

    def text(self) -> str:
        return SYNTHETIC_MARKER + "\n" + "".join(sheet.text for sheet in self.sheets)


def iter_files(plan: Plan, *, directory: str = "") -> Iterator[GeneratedFile]:
    """Generate the plan's files lazily; records carry ``directory/name`` as their file."""
    partners = _partners(plan)
    continued = {sheet.previous for sheet in plan.sheets if sheet.previous is not None}
    kept: dict[int, SheetRecord] = {}  # records a later continuation derives from
    current: list[GeneratedSheet] = []
    current_file = 0
    for sheet in plan.sheets:
        if sheet.file != current_file and current:
            yield _file(plan, current_file, current)
            current = []
        current_file = sheet.file
        name = file_name(sheet.file, plan.seed)
        path = f"{directory}/{name}" if directory else name
        draft = draft_sheet(plan, sheet)
        transitions: tuple[PlantedTransition, ...] = ()
        renamed = copied = False
        if sheet.previous is None:
            record = build_record(draft, path, partners.get(sheet.index))
        else:
            previous = kept.pop(sheet.previous)
            record, transitions, renamed, copied = continue_record(plan, sheet, previous, path)
        if sheet.index in continued:
            kept[sheet.index] = record
        width = draft.rng.choice(WRAP_WIDTHS)
        text = render(record, sheet.order, first_in_file=sheet.sheet_index == 0, width=width)
        current.append(
            GeneratedSheet(
                record=record,
                order=sheet.order,
                text=text,
                transitions=transitions,
                renamed=renamed,
                copied=copied,
            )
        )
    if current:
        yield _file(plan, current_file, current)


def _file(plan: Plan, index: int, sheets: list[GeneratedSheet]) -> GeneratedFile:
    return GeneratedFile(name=file_name(index, plan.seed), sheets=tuple(sheets))


def _partners(plan: Plan) -> dict[int, Partner]:
    """For each group's first member: the partner it names (the group's second member)."""
    out: dict[int, Partner] = {}
    for members in plan.groups:
        partner_sheet = plan.sheets[members[1]]
        draft = draft_sheet(plan, partner_sheet)
        out[members[0]] = Partner(
            org=draft.concept.org,
            project_name=draft.project_name,
            department=partner_sheet.department,
        )
    return out


@dataclass(frozen=True)
class GenerationReport:
    sheets: int
    files: int
    groups: int
    seconds: float
    sheet_dir: Path
    labels: Path
    transitions: Path | None = None
    """``transitions.json``: the planted cross-year transitions."""


def generate(n: int, seed: int, out: Path, *, truth: bool = False) -> GenerationReport:
    """Write n sheets under ``out/sheets`` and the planted groups to ``out/labels.json``."""
    started = time.perf_counter()
    sheet_dir = out / "sheets"
    sheet_dir.mkdir(parents=True, exist_ok=True)
    for stale in sheet_dir.glob("*.txt"):
        stale.unlink()
    plan = make_plan(n, seed)
    files = 0
    planted: list[dict[str, object]] = []
    renamed: list[dict[str, object]] = []
    copied: list[dict[str, object]] = []
    truth_handle = (out / "truth.jsonl").open("w", encoding="utf-8") if truth else None
    try:
        for generated in iter_files(plan, directory=str(sheet_dir)):
            (sheet_dir / generated.name).write_text(generated.text(), encoding="utf-8")
            files += 1
            for sheet in generated.sheets:
                planted.extend(transition.to_dict() for transition in sheet.transitions)
                where = {"project_no": sheet.record.project_no, "year": sheet.record.fiscal_year}
                if sheet.renamed:
                    renamed.append(where)
                if sheet.copied:
                    copied.append(where)
            if truth_handle is not None:
                for sheet in generated.sheets:
                    truth_handle.write(
                        json.dumps(sheet.record.to_dict(), ensure_ascii=False) + "\n"
                    )
    finally:
        if truth_handle is not None:
            truth_handle.close()
    labels = out / "labels.json"
    labels.write_text(
        json.dumps(plan.group_ids(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8"
    )
    transitions = out / "transitions.json"
    transitions.write_text(
        json.dumps(
            {"transitions": planted, "renamed": renamed, "copied": copied},
            ensure_ascii=False,
            indent=0,
        )
        + "\n",
        encoding="utf-8",
    )
    return GenerationReport(
        sheets=n,
        files=files,
        groups=len(plan.groups),
        seconds=time.perf_counter() - started,
        sheet_dir=sheet_dir,
        labels=labels,
        transitions=transitions,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, required=True, help="number of sheets")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--truth", action="store_true", help="also write truth.jsonl")
    args = parser.parse_args(argv)
    report = generate(args.n, args.seed, args.out, truth=args.truth)
    print(
        f"{report.sheets} sheets in {report.files} files, {report.groups} planted groups, "
        f"{report.seconds:.1f} s → {report.sheet_dir}, {report.labels}, {report.transitions}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
