"""統合・振替 candidates: pairs of sheets a reviewer should look at, with the evidence.

Pairs come from two sources: each sheet's ``top_k`` nearest sheets of the same fiscal year
and municipality (cosine of the TF-IDF vectors, ``SimilarityModel.nearest_pairs``: exact in
row chunks of a sparse product for groups up to ``similarity.EXACT_GROUP_SHEETS`` sheets,
SVD candidates re-scored exactly above), and every cross-reference (one sheet naming the
other), however dissimilar the texts. Each pair is then scored by ``candidate_score`` -- or
first bounded, so that only the pairs the answer depends on are scored and only the pairs
returned get their evidence (``_ranked_pairs``).

Score (0–1, the weights sum to 1)::

    score = 0.60 × similarity              ⅔ cosine of the two sheets' TF-IDF vectors
                                           + ⅓ mutual neighbour rank (below)
          + 0.15 × cross_reference         strength of one sheet naming the other (below)
          + 0.15 × merge_plan              share of the two whose 方向性 plans a merge (0, ½, 1)
          + 0.05 × integration_answer      share of the two answering オ = ある/一部ある
          + 0.05 × contradiction           1 when they say something against each other

The mutual neighbour rank is (1/p + 1/q) / 2, where p is b's place among a's nearest sheets
(1 = the nearest; same fiscal year and municipality, other projects; ties share the better
place) and q is a's place among b's, each term 0 beyond ``top_k``. A reviewer looks at each
sheet's closest partner: raw cosine put whole families of template-parallel sheets on top
(five 医療費助成 sheets are ten pairs at cosine 0.7, three election sheets three pairs at 0.8)
above a pair that is each other's best match at 0.35. On 大船渡's 407 sheets against the 120
judged pairs (``bench/merge_pairs.py``) the rank took recall@120 from 0.433 to 0.575; its share
(⅓) and the other weights were chosen by 2-fold cross-validation over the judged pairs (the
figures are in ``bench/judgments/MERGE_PAIRS.md``).

cross_reference is 1 when a sheet names the other in a sentence about merging (統合, 一元化 …),
0.6 as a 連携 partner, 0.4 for a bare mention, each discounted by sqrt(3 / n) when n sheets
name the same target (``crossref.HUB_SOURCES``): the 観光協会 named by fifty sheets is no merge
proposal fifty times over. A merge plan is 統合・振替 (根室) or the option the form profile tags
with 統合 (大船渡: 改革改善（縮小・統合含む）).

Sharing a 施策区分 (or a 部課・係, a 基本事業) is shown as a reason but is not scored: the judged
pairs of 大船渡 share them 13–43 times more often than random pairs do, but so do the pairs
that rank high anyway (nearly all the top 120 are in one 係), and no weight for them, added to
the rank or folded into it, raised recall (MERGE_PAIRS.md).

Similarity carries most weight because overlap of content is what a merge is about; the other
terms are what the sheets themselves say about merging, and they lift a pair a reviewer must
see even when the texts share few words (12276 names 12770's organisation in its ウ but the
texts share only 交流/連携/地域). Cosines of genuinely overlapping sheets lie around 0.2–0.5:
two sheets that are each other's nearest (from a cosine of ``RANK_MIN_SIMILARITY``, 0.1) are
always above the default ``min_score`` of 0.15 (0.6 × (⅔ × 0.1 + ⅓) = 0.24), while a pair with
nothing else in common and outside both top-10 lists needs a cosine of 0.375.
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
    "merge_plan": 0.15,
    "integration_answer": 0.05,
    "contradiction": 0.05,
}
"""Weights of ``candidate_score`` (see the module docstring)."""

RANK_SHARE = 1 / 3
"""Share of the mutual neighbour rank in the similarity component; the cosine has the rest."""

RANK_MIN_SIMILARITY = 0.10
"""A place among the nearest sheets counts only from this cosine up: in a small or sparse
group every sheet has a nearest sheet, and below 0.1 the two share a couple of stray words
(a boilerplate sheet would otherwise be its neighbour's candidate by place alone). Gates of
0.08–0.15 gave the same recall on 大船渡 and on the generated corpus."""

RANK_TOLERANCE = 1e-5
"""Cosines closer than this are a tie for a place: the neighbour search and the check of one
pair add the same products in a different order (float32), and a tie must not become two
places on one path and one on the other."""

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
    neighbour_ranks: tuple[int, int] = (0, 0)
    """b's place among a's nearest sheets and a's among b's (1 = the nearest), 0 beyond
    ``top_k``: the mutual neighbour rank of the module docstring."""

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
            "neighbour_ranks": [place or None for place in self.neighbour_ranks],
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

    pairs, total = _ranked_pairs(
        model,
        crossrefs,
        similarities,
        min_score=min_score,
        limit=limit,
        details=details,
        top_k=top_k,
    )
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


BOUND_SLACK = 1e-9
"""Margin on the score bounds of ``_score_bounds`` against floating-point rounding."""


def _ranked_pairs(
    model: SimilarityModel,
    crossrefs: CrossReferences,
    similarities: Mapping[tuple[int, int], float],
    *,
    min_score: float,
    limit: int | None,
    details: bool,
    top_k: int = DEFAULT_TOP_K,
) -> tuple[list[CandidatePair], int]:
    """The pairs at or above ``min_score``, best first, cut to ``limit``, and their number.

    Scoring a pair (``score_pair``) costs ~0.1 ms, its evidence ~0.4 ms more: over the
    million pairs of 100,000 sheets that was minutes. Each pair's score is first bounded from
    per-sheet arrays (``_score_bounds``); only the pairs whose bounds leave the answer open
    are scored, and only the pairs returned get their evidence. Every scored pair checks the
    bounds; should one ever fail, every pair is scored as before.
    """
    ends = list(similarities)
    if not ends:
        return [], 0
    values = np.fromiter(similarities.values(), dtype=np.float64, count=len(ends))
    ends_array = np.array(ends, dtype=np.int64)
    places = neighbour_ranks(ends_array, values, top_k)
    low, high = _score_bounds(model, crossrefs, ends_array, values, places)
    sure = low >= min_score
    possible = high >= min_score
    if limit is None:
        chosen = np.flatnonzero(possible)
    else:
        # The limit-th best score is at least the limit-th best lower bound of a sure pair.
        floor = min_score
        if int(sure.sum()) >= limit > 0:
            floor = max(floor, float(np.partition(low[sure], -limit)[-limit]))
        chosen = np.flatnonzero(possible & ((high >= floor) | ~sure))
    scored: list[tuple[CandidatePair, int, int, int]] = []
    for index in chosen.tolist():
        a, b = ends[index]
        pair = score_pair(
            model,
            crossrefs,
            a,
            b,
            float(values[index]),
            details=False,
            places=_places(places, index),
        )
        if not low[index] <= pair.score <= high[index]:
            return _all_pairs(model, crossrefs, similarities, min_score, limit, details, top_k)
        if pair.score >= min_score:
            scored.append((pair, a, b, index))
    total = int(np.count_nonzero(sure & ~_mask(len(ends), chosen))) + len(scored)
    scored.sort(key=lambda item: (-item[0].score, item[0].a.key, item[0].b.key))
    if limit is not None:
        scored = scored[:limit]
    if not details:
        return [pair for pair, _, _, _ in scored], total
    return [
        score_pair(
            model,
            crossrefs,
            a,
            b,
            similarities[(a, b)],
            details=True,
            places=_places(places, index),
        )
        for _, a, b, index in scored
    ], total


def _places(places: np.ndarray, index: int) -> tuple[int, int]:
    return int(places[index, 0]), int(places[index, 1])


def neighbour_ranks(ends: np.ndarray, similarity: np.ndarray, depth: int) -> np.ndarray:
    """(pairs × 2) places: ``[i, 0]`` is sheet ``ends[i, 1]``'s place among the neighbours of
    ``ends[i, 0]`` (1 = the nearest), ``[i, 1]`` the reverse; 0 beyond ``depth`` or below
    ``RANK_MIN_SIMILARITY``. A place is 1 + the number of the sheet's pairs with a cosine higher by
    more than ``RANK_TOLERANCE`` (ties share the better place).

    Only the pairs given are counted, so the places are exact up to ``depth`` when the pairs
    hold every sheet's ``depth`` nearest sheets, as ``nearest_pairs`` gives them: a sheet with
    a place up to ``depth`` has all its better neighbours among them, and a sheet further down
    has ``depth`` better ones there already. One sort, no per-pair work.
    """
    count = len(ends)
    if not count:
        return np.zeros((0, 2), dtype=np.int64)
    owner = np.concatenate([ends[:, 0], ends[:, 1]]).astype(np.float64)
    value = np.concatenate([similarity, similarity]).astype(np.float64)
    # One sorted key for every (sheet, neighbour): cosines lie in [-1, 1], so owner·4 − cosine
    # keeps each sheet's neighbours together, nearest first.
    key = owner * 4.0 - value
    ordered = np.sort(key)
    first = np.searchsorted(ordered, owner * 4.0 - 2.0, side="left")
    better = np.searchsorted(ordered, key - RANK_TOLERANCE, side="left") - first
    place = better + 1
    place[(place > depth) | (value < RANK_MIN_SIMILARITY)] = 0
    return np.ascontiguousarray(place.reshape(2, count).T, dtype=np.int64)


def neighbour_place(
    model: SimilarityModel, row: int, other: int, similarity: float, depth: int = DEFAULT_TOP_K
) -> int:
    """Sheet ``other``'s place among the nearest sheets of ``row`` (its fiscal year and
    municipality, other projects), 0 beyond ``depth``: ``neighbour_ranks`` for one pair,
    from the sheet's cosines with every sheet (one sparse product)."""
    if similarity < RANK_MIN_SIMILARITY:
        return 0
    scores = model.scores(row)
    allowed = (
        (model.fiscal_years_ == model.fiscal_years_[row])
        & (model.municipality_codes_ == model.municipality_codes_[row])
        & (model.project_codes_ != model.project_codes_[row])
    )
    place = 1 + int(np.count_nonzero(scores[allowed] > similarity + RANK_TOLERANCE))
    return place if place <= depth else 0


def rank_score(places: tuple[int, int]) -> float:
    """The mutual neighbour rank (1/p + 1/q) / 2 of a pair's places (0 = beyond the list)."""
    return sum(1.0 / place for place in places if place > 0) / 2


def _rank_scores(places: np.ndarray) -> np.ndarray:
    """``rank_score`` of each row of a (pairs × 2) array of places."""
    array = places.astype(np.float64)
    inverse = np.where(array > 0, 1.0 / np.maximum(array, 1.0), 0.0)
    return (inverse[:, 0] + inverse[:, 1]) / 2


def similarity_component(cosine: float, rank: float) -> float:
    """The similarity component: the cosine and the mutual neighbour rank (``RANK_SHARE``)."""
    return (1.0 - RANK_SHARE) * max(0.0, cosine) + RANK_SHARE * rank


def _mask(size: int, chosen: np.ndarray) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[chosen] = True
    return mask


def _all_pairs(
    model: SimilarityModel,
    crossrefs: CrossReferences,
    similarities: Mapping[tuple[int, int], float],
    min_score: float,
    limit: int | None,
    details: bool,
    top_k: int = DEFAULT_TOP_K,
) -> tuple[list[CandidatePair], int]:
    """Every pair scored (the fallback of ``_ranked_pairs``)."""
    ends = np.array(list(similarities), dtype=np.int64).reshape(-1, 2)
    values = np.fromiter(similarities.values(), dtype=np.float64, count=len(ends))
    places = neighbour_ranks(ends, values, top_k)
    pairs = [
        pair
        for index, ((a, b), similarity) in enumerate(similarities.items())
        if (
            pair := score_pair(
                model,
                crossrefs,
                a,
                b,
                similarity,
                details=details,
                places=_places(places, index),
            )
        ).score
        >= min_score
    ]
    pairs.sort(key=lambda pair: (-pair.score, pair.a.key, pair.b.key))
    return (pairs if limit is None else pairs[:limit]), len(pairs)


def _score_bounds(
    model: SimilarityModel,
    crossrefs: CrossReferences,
    ends: np.ndarray,
    similarity: np.ndarray,
    places: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of ``candidate_score`` for the pairs of rows ``ends``.

    Exact per pair: the similarity component (``places`` from ``neighbour_ranks``; by default
    counted among ``ends`` with ``DEFAULT_TOP_K``), the 統合・振替 plans and the オ answers (as
    ``score_pair`` computes them, from each sheet's facts), and the cross-reference strength
    of the few pairs that name each other; the contradiction (0 or 1) is left open.
    """
    if places is None:
        places = neighbour_ranks(ends, similarity, DEFAULT_TOP_K)
    sheets = [crossrefs.sheet(key) for key in model.keys_]
    plans = np.array([sheet.plans_merge for sheet in sheets], dtype=np.float64)
    positive = np.array(
        [sheet.integration_stance == "positive" for sheet in sheets], dtype=np.float64
    )
    a, b = ends[:, 0], ends[:, 1]
    named = np.zeros(len(ends))
    if crossrefs.references:
        position = {(int(x), int(y)): i for i, (x, y) in enumerate(ends.tolist())}
        for reference in crossrefs.references:
            x, y = model.row_of(reference.source), model.row_of(reference.target)
            index = position.get((min(x, y), max(x, y)))
            if index is not None:
                named[index] = crossrefs.strength(reference.source, reference.target)
    weights = SCORE_WEIGHTS
    low = (
        weights["similarity"]
        * ((1.0 - RANK_SHARE) * np.maximum(0.0, similarity) + RANK_SHARE * _rank_scores(places))
        + weights["cross_reference"] * named
        + weights["merge_plan"] * (plans[a] + plans[b]) / 2
        + weights["integration_answer"] * (positive[a] + positive[b]) / 2
    )
    high = low + weights["contradiction"]
    return low - BOUND_SLACK, high + BOUND_SLACK


def score_pair(
    model: SimilarityModel,
    crossrefs: CrossReferences,
    a: int,
    b: int,
    similarity: float | None = None,
    *,
    details: bool = True,
    keep_order: bool = False,
    places: tuple[int, int] | None = None,
) -> CandidatePair:
    """Score rows ``a`` and ``b`` of ``model`` as a candidate pair, with its reasons.

    ``places`` are b's place among a's nearest sheets and a's among b's (``neighbour_ranks``);
    without them each is looked up on its own (``neighbour_place``, one sparse product per
    sheet: fine for the few pairs of one sheet's report, not for a whole ranking)."""
    if similarity is None:
        similarity = model.similarity(a, b)
    if places is None:
        places = (
            neighbour_place(model, a, b, similarity),
            neighbour_place(model, b, a, similarity),
        )
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
        places = (places[1], places[0])
    both = (sheet_a, sheet_b)
    components = {
        "similarity": similarity_component(similarity, rank_score(places)),
        "cross_reference": crossrefs.strength(key_a, key_b),
        "merge_plan": sum(sheet.plans_merge for sheet in both) / 2,
        "integration_answer": sum(sheet.integration_stance == "positive" for sheet in both) / 2,
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
        reasons=_reasons(sheet_a, sheet_b, similarity, places, shared, references, contradictions),
        shared_terms=shared,
        passage_pairs=passage_pairs,
        cross_references=references,
        contradictions=contradictions,
        neighbour_ranks=places,
    )


def _reasons(
    a: SheetInfo,
    b: SheetInfo,
    similarity: float,
    places: tuple[int, int],
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
    near = _nearness(a, b, places)
    notes = "、".join(part for part in (near, f"共通語: {terms}" if terms else "") if part)
    reasons.append(
        Reason("similarity", f"類似度 {similarity:.2f}" + (f"（{notes}）" if notes else ""))
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


def _nearness(a: SheetInfo, b: SheetInfo, places: tuple[int, int]) -> str:
    """「互いに最も近い」 or each sheet's place for the other, as the reason says it."""
    to_b, to_a = places
    if to_b == 1 and to_a == 1:
        return "互いに最も近いシート"
    parts = [
        f"{sheet.project_no} から見て {place} 番目に近い"
        for sheet, place in ((a, to_b), (b, to_a))
        if place
    ]
    return "・".join(parts)


def _clusters(edges: Sequence[tuple[str, str, float]]) -> tuple[tuple[str, ...], ...]:
    """Groups of more than two sheets, largest first, in which every member is strongly tied
    to the rest: groups grow from the strongest links, and two groups join only when at least
    ``CLUSTER_DENSITY`` of the links between their members are candidate pairs and every member
    of the joined group is linked to at least that share of the others (and the result stays
    within ``MAX_CLUSTER_SIZE``). A chain A–B–C–D… of pairwise links is no merge proposal,
    whatever its scores, so it never becomes one group; nor is a dense core with a member that
    hangs on by one or two links (the density between two groups is an average over members)."""
    linked = {(a, b) if a <= b else (b, a) for a, b, _ in edges}

    def tied(node: str, members: Sequence[str]) -> int:
        return sum(((node, y) if node <= y else (y, node)) in linked for y in members)

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
        joined = left + right
        if any(tied(node, joined) < CLUSTER_DENSITY * (len(joined) - 1) for node in joined):
            continue
        left.extend(right)
        for node in right:
            group_of[node] = first
        del groups[second]
    found = [tuple(sorted(members)) for members in groups.values() if len(members) > 2]
    return tuple(sorted(found, key=lambda group: (-len(group), group)))
