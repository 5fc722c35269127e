"""統合・振替 candidates: pairs of sheets a reviewer should look at, with the evidence.

Pairs come from two sources: each sheet's ``top_k`` nearest sheets of the same fiscal year
(cosine of the TF-IDF vectors, computed in row chunks of a sparse product so memory grows with
``chunk × N``, never ``N × N``), and every cross-reference (one sheet naming the other),
however dissimilar the texts. Each pair is then scored by ``candidate_score``.

Score (0–1, the weights sum to 1)::

    score = 0.60 × similarity              cosine of the two sheets' TF-IDF vectors
          + 0.15 × cross_reference         strength of one sheet naming the other (below)
          + 0.10 × merge_plan              share of the two whose 方向性 has 統合・振替 (0, ½, 1)
          + 0.05 × integration_answer      share of the two answering オ = ある/一部ある
          + 0.05 × policy_area             1 when both sit in the same 施策区分
          + 0.05 × contradiction           1 when they say something against each other

cross_reference is 1 when a sheet names the other in a sentence about merging (統合, 一元化 …),
0.6 as a 連携 partner, 0.4 for a bare mention, each discounted by sqrt(3 / n) when n sheets
name the same target (``crossref.HUB_SOURCES``): the 観光協会 named by fifty sheets is no merge
proposal fifty times over.

Similarity carries most weight because overlap of content is what a merge is about; the other
terms are what the sheets themselves say about merging, and they lift a pair a reviewer must
see even when the texts share few words (12276 names 12770's organisation in its ウ but the
texts share only 交流/連携/地域). Cosines of genuinely overlapping sheets lie around 0.2–0.5,
so a pair of sheets with nothing else in common needs a cosine of 0.25 to reach the default
``min_score`` of 0.15.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evalsearch.crossref import CrossReference, CrossReferences, SheetInfo, is_inferred
from evalsearch.similarity import PassagePair, SharedTerm, SimilarityModel
from evalsearch.wording import reference_sentence

SCORE_WEIGHTS: Mapping[str, float] = {
    "similarity": 0.60,
    "cross_reference": 0.15,
    "merge_plan": 0.10,
    "integration_answer": 0.05,
    "policy_area": 0.05,
    "contradiction": 0.05,
}
"""Weights of ``candidate_score`` (see the module docstring)."""

DEFAULT_MIN_SCORE = 0.15
DEFAULT_TOP_K = 10
MIN_SIMILARITY = 0.05
"""Nearest neighbours below this cosine share only stray words and are not paired."""

MAX_CLUSTER_SIZE = 12
"""The largest group of sheets shown as one merge proposal."""

CLUSTER_DENSITY = 0.5
"""Share of the possible links between two groups that must be candidate pairs for the
groups to join (see ``_clusters``)."""


@dataclass(frozen=True)
class Reason:
    """One reason a pair is listed, as a kind (for programs) and a Japanese sentence."""

    kind: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class CandidatePair:
    """Two sheets to review together; ``a`` is the one that names or plans to merge, if any."""

    a: SheetInfo
    b: SheetInfo
    score: float
    similarity: float
    components: Mapping[str, float]
    reasons: tuple[Reason, ...]
    shared_terms: tuple[SharedTerm, ...] = ()
    passage_pairs: tuple[PassagePair, ...] = ()
    cross_references: tuple[CrossReference, ...] = ()
    contradictions: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[str, str]:
        return self.a.id, self.b.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a.id,
            "b": self.b.id,
            "a_project": {
                "project_no": self.a.project_no,
                "project_name": self.a.project_name,
                "department": self.a.department,
            },
            "b_project": {
                "project_no": self.b.project_no,
                "project_name": self.b.project_name,
                "department": self.b.department,
            },
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "components": {key: round(value, 4) for key, value in self.components.items()},
            "reasons": [reason.to_dict() for reason in self.reasons],
            "shared_terms": [term.to_dict() for term in self.shared_terms],
            "passage_pairs": [pair.to_dict() for pair in self.passage_pairs],
            "cross_references": [ref.to_public_dict() for ref in self.cross_references],
            "contradictions": list(self.contradictions),
        }


@dataclass(frozen=True)
class CandidateResult:
    """The answer of ``find_candidates``: pairs best first and clusters of >2 sheets."""

    pairs: tuple[CandidatePair, ...]
    clusters: tuple[tuple[str, ...], ...]
    year: int | None
    min_score: float
    sheets: Mapping[str, SheetInfo] = field(default_factory=dict)
    total: int = 0
    """Pairs at or above ``min_score`` before ``limit`` cut the list."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "min_score": self.min_score,
            "total": self.total,
            "score_weights": dict(SCORE_WEIGHTS),
            "pairs": [pair.to_dict() for pair in self.pairs],
            "clusters": self.cluster_ids(),
        }

    def cluster_ids(self) -> list[list[str]]:
        """The clusters by record id (2023-12276): one municipality's sheets at a time."""
        return [[self.sheets[key].id for key in cluster] for cluster in self.clusters]

    def iter_json(self) -> Iterator[str]:
        """``to_dict()`` as JSON text in pieces, one pair per line: at 10,000 sheets a
        result holds tens of thousands of pairs, and one ``json.dumps`` of it all would
        hold the whole document (and an indented copy) in memory at once."""
        import json

        def dump(value: Any) -> str:
            return json.dumps(value, ensure_ascii=False)

        yield "{\n"
        yield f'  "year": {dump(self.year)},\n'
        yield f'  "min_score": {dump(self.min_score)},\n'
        yield f'  "total": {dump(self.total)},\n'
        yield f'  "score_weights": {dump(dict(SCORE_WEIGHTS))},\n'
        yield '  "pairs": ['
        for number, pair in enumerate(self.pairs):
            yield ("," if number else "") + "\n    " + dump(pair.to_dict())
        yield ("\n  " if self.pairs else "") + "],\n"
        yield f'  "clusters": {dump(self.cluster_ids())}\n'
        yield "}\n"


def candidate_score(components: Mapping[str, float]) -> float:
    """The weighted sum of the components (each 0–1) with ``SCORE_WEIGHTS``."""
    return sum(SCORE_WEIGHTS[key] * float(components.get(key, 0.0)) for key in SCORE_WEIGHTS)


def find_candidates(
    model: SimilarityModel,
    crossrefs: CrossReferences,
    *,
    year: int | None = None,
    municipality: str | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
    top_k: int = DEFAULT_TOP_K,
    limit: int | None = None,
    details: bool = True,
) -> CandidateResult:
    """Pairs worth a 統合・振替 review, best first; ``year`` / ``municipality`` keep one.

    Pairs never cross fiscal years nor municipalities (a merge is one city's decision in one
    budget), nor join a project's own sheets. ``details=False`` skips the per-pair evidence
    (shared terms and passage pairs) for callers that only rank.
    """
    rows = np.arange(len(model))
    keep = np.ones(len(rows), dtype=bool)
    if year is not None:
        keep &= model.fiscal_years_ == year
    if municipality is not None:
        keep &= np.array([key.startswith(municipality + "/") for key in model.keys_], dtype=bool)
    rows = rows[keep]
    similarities = model.nearest_pairs(rows, top_k=top_k, min_similarity=MIN_SIMILARITY)
    kept = set(rows.tolist())
    for reference in crossrefs.references:
        a, b = model.row_of(reference.source), model.row_of(reference.target)
        if a not in kept or b not in kept:
            continue
        ends = (min(a, b), max(a, b))
        if ends not in similarities:
            similarities[ends] = model.similarity(a, b)

    pairs: list[CandidatePair] = []
    for (a, b), similarity in similarities.items():
        pair = score_pair(model, crossrefs, a, b, similarity, details=details)
        if pair.score >= min_score:
            pairs.append(pair)
    pairs.sort(key=lambda pair: (-pair.score, pair.a.key, pair.b.key))
    total = len(pairs)
    if limit is not None:
        pairs = pairs[:limit]
    clusters = _clusters([(pair.a.key, pair.b.key, pair.score) for pair in pairs])
    sheets = {sheet.key: sheet for pair in pairs for sheet in (pair.a, pair.b)}
    return CandidateResult(
        pairs=tuple(pairs),
        clusters=clusters,
        year=year,
        min_score=min_score,
        sheets=sheets,
        total=total,
    )


def score_pair(
    model: SimilarityModel,
    crossrefs: CrossReferences,
    a: int,
    b: int,
    similarity: float | None = None,
    *,
    details: bool = True,
    keep_order: bool = False,
) -> CandidatePair:
    """Score rows ``a`` and ``b`` of ``model`` as a candidate pair, with its reasons."""
    if similarity is None:
        similarity = model.similarity(a, b)
    key_a, key_b = model.keys_[a], model.keys_[b]
    sheet_a, sheet_b = crossrefs.sheet(key_a), crossrefs.sheet(key_b)
    references = crossrefs.between(key_a, key_b)
    contradictions = crossrefs.contradictions(key_a, key_b, similarity)
    # Put first the sheet that names the other, else the one planning the merge.
    sources = {reference.source for reference in references}
    if not keep_order and (
        (key_b in sources and key_a not in sources)
        or (not sources and sheet_b.plans_merge and not sheet_a.plans_merge)
    ):
        a, b, sheet_a, sheet_b = b, a, sheet_b, sheet_a
    both = (sheet_a, sheet_b)
    components = {
        "similarity": max(0.0, similarity),
        "cross_reference": crossrefs.strength(key_a, key_b),
        "merge_plan": sum(sheet.plans_merge for sheet in both) / 2,
        "integration_answer": sum(sheet.integration_stance == "positive" for sheet in both) / 2,
        "policy_area": 1.0
        if sheet_a.policy_area and sheet_a.policy_area == sheet_b.policy_area
        else 0.0,
        # Only what the sheets' ticked answers say counts; an inferred one asks for a check.
        "contradiction": 1.0 if any(not is_inferred(text) for text in contradictions) else 0.0,
    }
    shared = model.shared_terms(a, b) if details else ()
    passage_pairs = model.passage_pairs(a, b) if details else ()
    return CandidatePair(
        a=sheet_a,
        b=sheet_b,
        score=candidate_score(components),
        similarity=similarity,
        components=components,
        reasons=_reasons(sheet_a, sheet_b, similarity, shared, references, contradictions),
        shared_terms=shared,
        passage_pairs=passage_pairs,
        cross_references=references,
        contradictions=contradictions,
    )


def _reasons(
    a: SheetInfo,
    b: SheetInfo,
    similarity: float,
    shared: Sequence[SharedTerm],
    references: Sequence[CrossReference],
    contradictions: Sequence[str],
) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    for reference in references:
        source, target = (a, b) if reference.source == a.key else (b, a)
        reasons.append(Reason("cross_reference", reference_sentence(reference, source, target)))
    reasons.extend(
        Reason("contradiction_inferred" if is_inferred(text) else "contradiction", text)
        for text in contradictions
    )
    terms = "、".join(term.term for term in shared[:5])
    reasons.append(
        Reason("similarity", f"類似度 {similarity:.2f}" + (f"（共通語: {terms}）" if terms else ""))
    )
    for sheet in (a, b):
        if sheet.plans_merge:
            plan = "統合・振替" if "統合・振替" in sheet.measures else sheet.decision or "統合"
            reasons.append(Reason("merge_plan", f"{sheet.project_no} の方向性に「{plan}」"))
    for sheet in (a, b):
        if sheet.integration_stance == "positive":
            text = (
                f"{sheet.project_no} はオ（統合の可能性）に「{sheet.integration_label}」と回答"
                if sheet.stance_is_read
                else f"{sheet.project_no} のオ（統合の可能性）は回答が未確定、"
                "理由文からは統合に前向きと推定"
            )
            reasons.append(Reason("integration_answer", text))
    if a.policy_area and a.policy_area == b.policy_area:
        reasons.append(Reason("policy_area", f"同じ施策区分「{a.policy_area}」"))
    if a.department != b.department:
        reasons.append(Reason("departments", f"主管課が異なる（{a.department} / {b.department}）"))
    return tuple(reasons)


def _clusters(edges: Sequence[tuple[str, str, float]]) -> tuple[tuple[str, ...], ...]:
    """Groups of more than two sheets, largest first, in which every member is strongly tied
    to the rest: groups grow from the strongest links, and two groups join only when at least
    ``CLUSTER_DENSITY`` of the links between their members are candidate pairs (and the result
    stays within ``MAX_CLUSTER_SIZE``). A chain A–B–C–D… of pairwise links is no merge
    proposal, whatever its scores, so it never becomes one group."""
    linked = {(a, b) if a <= b else (b, a) for a, b, _ in edges}
    group_of: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for a, b, _ in sorted(edges, key=lambda edge: (-edge[2], edge[0], edge[1])):
        for node in (a, b):
            if node not in group_of:
                group_of[node] = node
                groups[node] = [node]
        first, second = group_of[a], group_of[b]
        if first == second:
            continue
        left, right = groups[first], groups[second]
        if len(left) + len(right) > MAX_CLUSTER_SIZE:
            continue
        between = sum(1 for x in left for y in right if ((x, y) if x <= y else (y, x)) in linked)
        if between < CLUSTER_DENSITY * len(left) * len(right):
            continue
        left.extend(right)
        for node in right:
            group_of[node] = first
        del groups[second]
    found = [tuple(sorted(members)) for members in groups.values() if len(members) > 2]
    return tuple(sorted(found, key=lambda group: (-len(group), group)))
