"""Cross-references between sheets and the オ (統合の可能性) stance of each sheet.

A cross-reference is a sheet whose text names another sheet's project or the organisation
behind it: 12276's ウ reason names 「根室ベトナム交流協会」, the core of 12770's project name
根室ベトナム交流協会補助事業. Names are matched as plain substrings, because Sudachi splits
organisation names into several tokens and the quoted form 「…」 is what sheets use.

Only names that identify one project count: a project name stripped of its generic suffixes
(補助事業, 支援事業 …) becomes its *core*; a core is used on its own when it names an
organisation (…協会, …協議会, …実行委員会) or is long enough (``MIN_CORE_LENGTH``) not to be an
everyday phrase such as 輸出促進. Everything here works on records and strings; no Sudachi.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalsearch.errors import FormProfileError
from evalsearch.forms import FormProfile, get_profile
from evalsearch.forms.concepts import INTEGRATION
from evalsearch.records import SheetRecord

NAME_SUFFIXES: tuple[str, ...] = (
    "補助事業",
    "支援事業",
    "推進事業",
    "助成事業",
    "促進事業",
    "負担金",
    "補助金",
    "交付金",
    "運営費",
    "事業費",
    "事業",
    "補助",
    "支援",
    "経費",
)
"""Generic endings stripped (repeatedly, longest first) from a project name to get its core."""

ORGANISATION_SUFFIXES: tuple[str, ...] = (
    "協会",
    "協議会",
    "委員会",
    "連合会",
    "振興会",
    "組合",
    "公社",
    "財団",
    "法人",
    "会議所",
    "センター",
    "クラブ",
    "連盟",
    "商社",
    "会",
)
"""A core ending like this names an organisation: matched even when short (観光協会, 医師会);
any …会 counts (医師会, 商工会, 愛護会): an event name such as 体育大会 is a fine reference too."""

MIN_NAME_LENGTH = 5
"""A full project name shorter than this (e.g. 広報事業) is too generic to be a reference."""

MIN_ORGANISATION_LENGTH = 3
MIN_CORE_LENGTH = 7
"""A core that names no organisation must be this long: 輸出促進 (4) is a topic, not a name."""

MAX_TARGETS_PER_NAME = 3
"""Without a similarity to choose by, a name shared by more projects than this is ambiguous."""

INTEGRATION_WORDS: tuple[str, ...] = (
    "統合",
    "統廃合",
    "一元化",
    "集約",
    "振替",
    "一体化",
    "移管",
    "再編",
    "事業連携",
)
"""Words that, in the sentence naming another sheet, make the mention a merge proposal."""

PARTNER_WORDS: tuple[str, ...] = ("連携", "協働", "共同", "一体")
"""Words that make it a cooperation partner: 「観光協会と連携して…を実施」 is everyday work,
a merge only when the naming sheet itself plans 統合・振替."""

Relation = Literal["integration", "partner", "mention"]

SimilarityLookup = Callable[[int, Sequence[int]], Any]
"""``(source row, candidate rows) -> cosines`` (a sequence or an array of floats)."""

RELATION_STRENGTH: Mapping[str, float] = {"integration": 1.0, "partner": 0.6, "mention": 0.4}
"""How much a reference says about merging, before the hub discount (see ``strength``)."""

HUB_SOURCES = 3
"""A sheet named by more sheets than this is a hub (観光協会, 町内会連合会): each mention of it
counts ``sqrt(HUB_SOURCES / sources)``, so fifty sheets naming the 観光協会 do not become
fifty merge candidates."""

RELATION_LABELS: Mapping[str, str] = {
    "integration": "（統合の文脈）",
    "partner": "（連携の文脈）",
    "mention": "",
}

MERGE_MEASURE = "統合・振替"
"""The 方向性 measure that plans a merge (direction.measures)."""

POSITIVE_ANSWERS = frozenset({"ある", "一部ある", "可能", "一部可能"})
NEGATIVE_ANSWERS = frozenset({"ない", "不可能"})

# When the parser cannot pin the ticked box (answer None), the reason usually says it anyway:
# 「他に類似する事業もないことから、現段階では統合の可能性はない」.
_NEGATIVE_REASON = re.compile(
    r"(類似(する|した)?(事業|事務事業)は?も?(ない|無い|なく|見当たらない|存在しない)"
    r"|統合の?(可能性|余地)は?(ない|無い|なく)"
    r"|統合(は|することは)?(できない|困難|不可能|考えていない))"
)
_POSITIVE_REASON = re.compile(
    r"(統合(すること|を)?も?(検討|可能)|統合(が|を)?(図|進め)|統合の?(可能性|余地)が?ある)"
)

Stance = Literal["positive", "negative"]


def integration_stance(answer: str | None, reason: str) -> Stance | None:
    """Whether a sheet's オ says it could be merged ("positive"), could not, or is unknown."""
    if answer in NEGATIVE_ANSWERS:
        return "negative"
    if answer in POSITIVE_ANSWERS:
        return "positive"
    if _NEGATIVE_REASON.search(reason):
        return "negative"
    if _POSITIVE_REASON.search(reason):
        return "positive"
    return None


def integration_item(record: SheetRecord) -> str | None:
    """The key of the record's check item about merging: the item its form profile tags with
    the concept 統合 (根室: オ); None when the form has none (大船渡)."""
    profile = _profile(record.form)
    if profile is None:
        return "オ" if "オ" in record.assessments else None
    keys = [key for key in profile.keys_for_concept(INTEGRATION) if key in record.assessments]
    return keys[0] if keys else None


def plans_merge(record: SheetRecord) -> bool:
    """Whether the sheet's direction announces a merger: 統合・振替 (根室), or an option its
    form profile tags with 統合 (大船渡: 改革改善（縮小・統合含む）)."""
    direction = record.direction
    if MERGE_MEASURE in direction.measures:
        return True
    profile = _profile(record.form)
    return profile is not None and profile.means_integration(direction)


@functools.cache
def _profile(form: str) -> FormProfile | None:
    try:
        return get_profile(form)
    except FormProfileError:
        return None


def record_stance(record: SheetRecord) -> Stance | None:
    key = integration_item(record)
    assessment = record.assessments.get(key) if key else None
    if assessment is None:
        return None
    return integration_stance(assessment.answer, assessment.reason)


def core_name(project_name: str) -> str:
    """The name without generic endings (根室ベトナム交流協会補助事業 → 根室ベトナム交流協会)."""
    name = project_name.strip()
    changed = True
    while changed:
        changed = False
        for suffix in NAME_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                changed = True
                break
    return name


def names_of(project_name: str) -> list[tuple[str, str]]:
    """The (name, kind) strings by which other sheets could refer to this project."""
    out: list[tuple[str, str]] = []
    full = project_name.strip()
    if len(full) >= MIN_NAME_LENGTH:
        out.append((full, "project_name"))
    core = core_name(full)
    if core != full:
        if core.endswith(ORGANISATION_SUFFIXES) and len(core) >= MIN_ORGANISATION_LENGTH:
            out.append((core, "organisation"))
        elif len(core) >= MIN_CORE_LENGTH:
            out.append((core, "core_name"))
    return out


@dataclass(frozen=True)
class CrossReference:
    """Sheet ``source`` names sheet ``target`` (by ``name``) in its passage ``passage``."""

    source: str
    target: str
    passage: str
    name: str
    kind: str
    quoted: bool
    relation: Relation
    context: str

    @property
    def partner(self) -> bool:
        """Named as a merge or cooperation partner, not only mentioned."""
        return self.relation != "mention"

    def strength(self, sources: int = 1) -> float:
        """0–1: the relation's strength, discounted when the target is named by many sheets."""
        hub = min(1.0, (HUB_SOURCES / max(1, sources)) ** 0.5)
        return RELATION_STRENGTH[self.relation] * hub

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "passage": self.passage,
            "name": self.name,
            "kind": self.kind,
            "quoted": self.quoted,
            "relation": self.relation,
            "context": self.context,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CrossReference:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})

    def to_public_dict(self) -> dict[str, Any]:
        """The JSON form in results: sheets by record id (2023-12276), keys beside them."""
        out = self.to_dict()
        out["source_key"], out["target_key"] = self.source, self.target
        out["source"], out["target"] = _record_id(self.source), _record_id(self.target)
        return out


def _record_id(key: str) -> str:
    return key.rpartition("/")[2]


def name_form(text: str) -> str:
    """Text as names are compared: NFKC, so half-width katakana (ﾍﾞﾄﾅﾑ → ベトナム) and
    full-width letters (ＮＰＯ → NPO) match the way sheets usually spell them.

    Lengths change (ﾍﾞ is two characters, ベ one; ㈱ becomes (株)), so offsets into the
    normalised text do not point into the original: the scan, the quoted check and the
    context sentence all work on the normalised text, and a reference's ``name`` and
    ``context`` are in that form."""
    return unicodedata.normalize("NFKC", text)


_SENTENCE_END = "。\n"


def _sentence_around(text: str, start: int, end: int, width: int = 100) -> str:
    """The sentence holding text[start:end], cut to ``width`` characters either side."""
    left = max((text.rfind(mark, 0, start) for mark in _SENTENCE_END), default=-1) + 1
    right_candidates = [i for i in (text.find(mark, end) for mark in _SENTENCE_END) if i >= 0]
    right = min(right_candidates) + 1 if right_candidates else len(text)
    left = max(left, start - width)
    right = min(right, end + width)
    return text[left:right].strip()


def find_cross_references(
    records: Sequence[SheetRecord],
    *,
    similarity: SimilarityLookup | None = None,
    sources: Collection[int] | None = None,
    mentions: dict[str, list[str]] | None = None,
) -> list[CrossReference]:
    """Every (source, target) pair where one sheet's passages name another project, same year.

    Scans each passage once with a two-character bucket index over the names, so the cost
    grows with the total text length, not with (sheets × names). When a name belongs to
    several projects of the year, ``similarity(source row, target row)`` picks the one the
    naming sheet is closest to; without it a name shared by more than
    ``MAX_TARGETS_PER_NAME`` projects is ignored as ambiguous.

    ``sources`` (positions in ``records``) limits the sheets whose passages are scanned (an
    update scans only the sheets it may have changed the references of); ``mentions``
    receives, per scanned sheet with any, the names its passages hold, whether or not they
    pick a target (what an update needs to tell which sheets a changed sheet's name
    concerns).
    """
    targets: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for index, record in enumerate(records):
        for name, kind in names_of(name_form(record.project_name)):
            targets[record.municipality, name, record.fiscal_year].append(index)
            # A string that is one project's full name and another's core keeps the stronger kind.
            kinds[name] = "project_name" if kinds.get(name) == "project_name" else kind
    by_length: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for name in kinds:
        by_length[name[:2]][len(name)].add(name)
    # Per two-character prefix: (length, names of that length), longest first.
    buckets = {
        prefix: sorted(lengths.items(), reverse=True) for prefix, lengths in by_length.items()
    }

    found: dict[tuple[str, str], CrossReference] = {}
    for source_index in range(len(records)) if sources is None else sorted(sources):
        record = records[source_index]
        named: dict[str, None] = {}
        for label, passage in record.passages().items():
            if label == "事業名" or not passage:
                continue
            text = name_form(passage)
            for start, name in _scan(text, buckets):
                named[name] = None
                candidates = targets.get((record.municipality, name, record.fiscal_year), ())
                chosen = _pick_targets(records, candidates, source_index, similarity)
                for target_index in chosen:
                    target = records[target_index]
                    key = (record.key, target.key)
                    end = start + len(name)
                    quoted = text[start - 1 : start] == "「" and text[end : end + 1] == "」"
                    context = _sentence_around(text, start, end)
                    reference = CrossReference(
                        source=record.key,
                        target=target.key,
                        passage=label,
                        name=name,
                        kind=kinds[name],
                        quoted=quoted,
                        relation=_relation(context),
                        context=context,
                    )
                    # Keep one reference per pair: the strongest relation, else the first.
                    previous = found.get(key)
                    if previous is None or (
                        RELATION_STRENGTH[reference.relation] > RELATION_STRENGTH[previous.relation]
                    ):
                        found[key] = reference
        if mentions is not None and named:
            mentions[record.key] = list(named)
    return sorted(found.values(), key=lambda ref: (ref.source, ref.target))


def name_kinds(project_names: Iterable[str]) -> dict[str, str]:
    """Every name ``find_cross_references`` looks for in the passages of sheets with these
    project names, and its kind: the names decide where the scan
    matches, so an update whose names are these same ones leaves unchanged passages' matches
    as they were."""
    kinds: dict[str, str] = {}
    for project_name in project_names:
        for name, kind in names_of(name_form(project_name)):
            kinds[name] = "project_name" if kinds.get(name) == "project_name" else kind
    return kinds


def name_places(
    municipality: str, project_name: str, fiscal_year: int
) -> set[tuple[str, str, int]]:
    """The (municipality, name, fiscal year) entries by which sources find this project."""
    return {(municipality, name, fiscal_year) for name, _ in names_of(name_form(project_name))}


def _relation(context: str) -> Relation:
    if any(word in context for word in INTEGRATION_WORDS):
        return "integration"
    if any(word in context for word in PARTNER_WORDS):
        return "partner"
    return "mention"


def _scan(
    text: str, buckets: Mapping[str, list[tuple[int, set[str]]]]
) -> Iterable[tuple[int, str]]:
    """(start, name) of every name occurrence, longest name first at each position."""
    position = 0
    limit = len(text) - 1
    while position < limit:
        groups = buckets.get(text[position : position + 2])
        if groups:
            for length, names in groups:
                name = text[position : position + length]
                if name in names:
                    yield position, name
                    # Skip the matched name so its core (a substring) is not matched again.
                    position += length - 1
                    break
        position += 1


def _pick_targets(
    records: Sequence[SheetRecord],
    candidates: Sequence[int],
    source_index: int,
    similarity: SimilarityLookup | None,
) -> list[int]:
    """The named sheet(s) (``candidates``: same name, source's fiscal year), other than the
    source's own project."""
    source = records[source_index]
    chosen = [index for index in candidates if records[index].project_no != source.project_no]
    if len(chosen) > 1 and similarity is not None:
        scores = similarity(source_index, chosen)
        return [chosen[max(range(len(chosen)), key=scores.__getitem__)]]
    if len(chosen) > MAX_TARGETS_PER_NAME:
        return []
    return chosen


HIGH_SIMILARITY = 0.35
"""A sheet answering オ = ない while a sheet this similar plans to merge is worth a look."""


@dataclass(frozen=True)
class SheetInfo:
    """The facts about one sheet that results show and pair reasoning needs."""

    key: str
    id: str
    municipality: str
    fiscal_year: int
    project_no: str
    project_name: str
    department: str
    section: str | None
    policy_area: str | None
    decision: str | None
    measures: tuple[str, ...]
    integration_answer: str | None
    integration_stance: Stance | None
    integration_reason: str
    total_cost: float | int | None
    merge_planned: bool = False
    """The direction announces a merger (``plans_merge``), whatever the form calls it."""

    @property
    def plans_merge(self) -> bool:
        return self.merge_planned or MERGE_MEASURE in self.measures

    @property
    def integration_label(self) -> str:
        """The オ answer as shown to a reader, saying so when it was read from the reason."""
        if self.integration_answer:
            return self.integration_answer
        if self.integration_stance == "negative":
            return "未確定（理由文からは「ない」と推定）"
        if self.integration_stance == "positive":
            return "未確定（理由文からは「ある」と推定）"
        return "不明"

    @property
    def stance_is_read(self) -> bool:
        """Whether the stance comes from the ticked answer, not inferred from the reason."""
        return bool(self.integration_answer)

    @classmethod
    def from_record(cls, record: SheetRecord) -> SheetInfo:
        key = integration_item(record)
        assessment = record.assessments.get(key) if key else None
        return cls(
            key=record.key,
            id=record.id,
            municipality=record.municipality,
            fiscal_year=record.fiscal_year,
            project_no=record.project_no,
            project_name=record.project_name,
            department=record.department,
            section=record.section,
            policy_area=record.policy_area,
            decision=record.direction.decision,
            measures=tuple(record.direction.measures),
            integration_answer=assessment.answer if assessment else None,
            integration_stance=record_stance(record),
            integration_reason=assessment.reason if assessment else "",
            total_cost=record.budget.latest("total_cost"),
            merge_planned=plans_merge(record),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "id": self.id,
            "municipality": self.municipality,
            "fiscal_year": self.fiscal_year,
            "project_no": self.project_no,
            "project_name": self.project_name,
            "department": self.department,
            "section": self.section,
            "policy_area": self.policy_area,
            "decision": self.decision,
            "measures": list(self.measures),
            "integration_answer": self.integration_answer,
            "integration_stance": self.integration_stance,
            "integration_reason": self.integration_reason,
            "total_cost": self.total_cost,
            "merge_planned": self.merge_planned,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SheetInfo:
        return cls(
            key=data["key"],
            id=data["id"],
            municipality=data["municipality"],
            fiscal_year=int(data["fiscal_year"]),
            project_no=data["project_no"],
            project_name=data["project_name"],
            department=data["department"],
            section=data.get("section"),
            policy_area=data.get("policy_area"),
            decision=data.get("decision"),
            measures=tuple(data.get("measures") or ()),
            integration_answer=data.get("integration_answer"),
            integration_stance=data.get("integration_stance"),
            integration_reason=data.get("integration_reason") or "",
            total_cost=data.get("total_cost"),
            merge_planned=bool(data.get("merge_planned")),
        )


def pair_contradictions(
    a: SheetInfo, b: SheetInfo, references: Iterable[CrossReference], similarity: float
) -> list[str]:
    """Japanese sentences naming what the two sheets say against each other.

    A sentence resting on an answer inferred from the reason text (the dump did not pin the
    ticked box) ends in 「（推定）」: it asks for a check, it asserts nothing (``is_inferred``).

    1. One sheet names the other in a sentence about merging (統合, 一元化 …), or as a 連携
       partner while its own 方向性 plans 統合・振替, but the named sheet answers オ
       (統合の可能性) = ない.
    2. The reverse, without a name: a sheet answers オ = ない while a sheet at least
       ``HIGH_SIMILARITY`` alike plans 統合・振替 or answers オ = ある.
    """
    messages: list[str] = []
    sheets = {a.key: a, b.key: b}
    for reference in references:
        source, target = sheets.get(reference.source), sheets.get(reference.target)
        if source is None or target is None or target.integration_stance != "negative":
            continue
        if reference.relation == "integration":
            how = "統合の文脈で"
        elif reference.relation == "partner" and source.plans_merge:
            how = "連携先として（方向性は統合・振替）"
        else:
            continue
        if target.stance_is_read:
            says = f"はオ（統合の可能性）に「{target.integration_label}」と答えている"
        else:
            says = (
                "のオ（統合の可能性）は回答が未確定で、理由文からは「ない」と推定される"
                + INFERRED_MARK
            )
        messages.append(
            f"{source.project_no}「{source.project_name}」は【{reference.passage}】で"
            f"「{reference.name}」を{how}挙げているが、{target.project_no}"
            f"「{target.project_name}」{says}"
        )
    for one, other in ((a, b), (b, a)):
        if (
            one.integration_stance == "negative"
            and similarity >= HIGH_SIMILARITY
            and (other.plans_merge or other.integration_stance == "positive")
        ):
            said = (
                f"オで統合の可能性は「{one.integration_label}」と答えている"
                if one.stance_is_read
                else "オの回答は未確定で理由文からは統合の可能性「ない」と推定される"
            )
            messages.append(
                f"{one.project_no} は{said}が、類似度 {similarity:.2f} の {other.project_no} は"
                "統合に前向き" + ("" if one.stance_is_read else INFERRED_MARK)
            )
    return list(dict.fromkeys(messages))


CROSSREFS_FILE = "crossrefs.json"


class CrossReferences:
    """The cross-reference artefact of an index: per-sheet facts and every reference, with the
    lookups pair reasoning needs. Built by ``evalsearch index`` (``build``), stored as JSON."""

    def __init__(
        self,
        sheets: Sequence[SheetInfo],
        references: Sequence[CrossReference],
        mentions: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.sheets: dict[str, SheetInfo] = {sheet.key: sheet for sheet in sheets}
        self.references: tuple[CrossReference, ...] = tuple(references)
        self.mentions: Mapping[str, Sequence[str]] | None = mentions
        """Per sheet, the names its passages hold (``find_cross_references``); None when
        not recorded (an index written before they were), which makes the next update scan
        every sheet."""
        self._between: dict[tuple[str, str], list[CrossReference]] = defaultdict(list)
        self._sources: dict[str, int] = defaultdict(int)
        for reference in self.references:
            self._sources[reference.target] += 1
            self._between[_pair_key(reference.source, reference.target)].append(reference)

    @classmethod
    def build(
        cls,
        records: Sequence[SheetRecord],
        *,
        similarity: SimilarityLookup | None = None,
    ) -> CrossReferences:
        """From the records (``similarity(source row, candidate rows)`` picks among projects
        sharing a name; rows are positions in ``records``)."""
        return cls(
            [SheetInfo.from_record(record) for record in records],
            find_cross_references(records, similarity=similarity),
        )

    def save(self, directory: Path) -> None:
        data: dict[str, Any] = {
            "sheets": [sheet.to_dict() for sheet in self.sheets.values()],
            "references": [reference.to_dict() for reference in self.references],
        }
        if self.mentions is not None:
            # By key: an update and a rebuild write the same file.
            data["mentions"] = {key: list(self.mentions[key]) for key in sorted(self.mentions)}
        (directory / CROSSREFS_FILE).write_text(json.dumps(data, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> CrossReferences:
        """Raises OSError or ValueError/KeyError/TypeError on a damaged file (the caller says
        which index is damaged)."""
        data = json.loads((directory / CROSSREFS_FILE).read_text("utf-8"))
        mentions = data.get("mentions")
        return cls(
            [SheetInfo.from_dict(item) for item in data["sheets"]],
            [CrossReference.from_dict(item) for item in data["references"]],
            None if mentions is None else {key: list(names) for key, names in mentions.items()},
        )

    def sheet(self, key: str) -> SheetInfo:
        return self.sheets[key]

    def between(self, a: str, b: str) -> tuple[CrossReference, ...]:
        """References between sheets ``a`` and ``b`` (keys) in either direction."""
        return tuple(self._between.get(_pair_key(a, b), ()))

    def strength(self, a: str, b: str) -> float:
        """0–1: how strongly sheets ``a`` and ``b`` name each other (``CrossReference.strength``,
        the strongest of the two directions)."""
        return max(
            (
                reference.strength(self._sources.get(reference.target, 1))
                for reference in self.between(a, b)
            ),
            default=0.0,
        )

    def contradictions(self, a: str, b: str, similarity: float) -> tuple[str, ...]:
        return tuple(
            pair_contradictions(self.sheets[a], self.sheets[b], self.between(a, b), similarity)
        )


def _pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


INFERRED_MARK = "（推定）"


def is_inferred(contradiction: str) -> bool:
    """Whether a ``pair_contradictions`` sentence rests on an inferred answer."""
    return contradiction.endswith(INFERRED_MARK)


def contradiction_label(text: str) -> str:
    """How every output heads a contradiction: asserted, or a check asked for (inferred)."""
    return "要確認（推定）" if is_inferred(text) else "要確認（食い違いの疑い）"
