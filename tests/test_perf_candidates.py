"""Candidates computed the fast way (score bounds, evidence for the returned pairs only, grouped
and approximate neighbours) give what scoring every pair gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import evalsearch
from bench.generate import generate
from evalsearch import candidates as candidates_module
from evalsearch import similarity as similarity_module
from evalsearch.build import build_index
from evalsearch.candidates import CandidatePair, CandidateResult, score_pair
from evalsearch.handle import Index


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    work = tmp_path_factory.mktemp("perf_candidates")
    report = generate(300, 3, work)
    build_index([report.sheet_dir], work / "index", rebuild=True, processes=1)
    with evalsearch.open(work / "index") as ix:
        yield ix


def _summary(result: CandidateResult) -> tuple[Any, ...]:
    def pair(p: CandidatePair) -> tuple[Any, ...]:
        return (p.ids, p.score, p.reasons, p.shared_terms, p.passage_pairs, p.contradictions)

    return result.total, [pair(p) for p in result.pairs], result.clusters


def _every_pair_scored(ix: Index, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    """The answer of scoring every pair, as find_candidates did before the bounds."""
    with monkeypatch.context() as patch:
        patch.setattr(
            candidates_module,
            "_ranked_pairs",
            lambda model, crossrefs, similarities, *, min_score, limit, details, top_k: (
                candidates_module._all_pairs(
                    model, crossrefs, similarities, min_score, limit, details, top_k
                )
            ),
        )
        return _summary(ix.candidates(**options))


@pytest.mark.parametrize(
    "options",
    [
        {"limit": 50},
        {"limit": 5},
        {"limit": 1},
        {"limit": 30, "min_score": 0.3},
        {"details": False},
        {"year": 2024, "limit": 10},
        {"min_score": 0.0, "limit": 20},
    ],
)
@pytest.mark.parametrize("corpus", ["generated", "themed_index"])
def test_fast_ranking_equals_scoring_every_pair(
    corpus: str,
    options: dict[str, Any],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ix: Index = request.getfixturevalue(corpus)
    if "year" in options and options["year"] not in set(ix.model.fiscal_years_.tolist()):
        options = {key: value for key, value in options.items() if key != "year"}
    assert _summary(ix.candidates(**options)) == _every_pair_scored(ix, monkeypatch, **options)


def test_the_bounds_hold_for_every_pair(generated: Index) -> None:
    model, crossrefs = generated.model, generated.crossrefs
    pairs = model.nearest_pairs(np.arange(len(model)), top_k=10, min_similarity=0.05)
    ends = np.array(list(pairs), dtype=np.int64)
    low, high = candidates_module._score_bounds(
        model, crossrefs, ends, np.fromiter(pairs.values(), dtype=np.float64)
    )
    for index, ((a, b), similarity) in enumerate(pairs.items()):
        score = score_pair(model, crossrefs, a, b, similarity, details=False).score
        assert low[index] <= score <= high[index]


def test_a_failed_bound_falls_back_to_scoring_every_pair(
    generated: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _summary(generated.candidates(limit=10))
    monkeypatch.setattr(
        candidates_module,
        "_score_bounds",
        lambda model, crossrefs, ends, similarity, places: (
            np.full(len(ends), 2.0),  # a lower bound above every score: wrong
            np.full(len(ends), 3.0),
        ),
    )
    assert _summary(generated.candidates(limit=10)) == expected


def test_grouped_neighbours_equal_the_product_over_every_sheet(generated: Index) -> None:
    """Searching each (year, municipality) group alone finds what masking the full product
    found (the implementation before groups)."""
    model = generated.model
    rows = np.arange(len(model))
    vectors = model.vectors_
    block = (vectors @ vectors.T).toarray()
    block[model.project_codes_[:, None] == model.project_codes_[None, :]] = 0.0
    block[model.fiscal_years_[:, None] != model.fiscal_years_[None, :]] = 0.0
    block[model.municipality_codes_[:, None] != model.municipality_codes_[None, :]] = 0.0
    expected = {}
    for row in rows:
        best = np.argsort(-block[row], kind="stable")[:10]
        for other in best:
            if block[row, other] >= 0.05:
                expected[(min(row, other), max(row, other))] = block[row, other]
    found = model.nearest_pairs(rows, top_k=10, min_similarity=0.05)
    # Ties at the 10th place may pick either sheet: compare away from the boundary.
    assert len(set(found) ^ set(expected)) <= 0.01 * len(expected)
    for key in set(found) & set(expected):
        assert found[key] == pytest.approx(expected[key], abs=1e-6)


def test_approximate_neighbours_recall_the_exact_ones(generated: Index) -> None:
    model = generated.model
    rows = np.arange(len(model))
    exact = model.nearest_pairs(rows, top_k=10, min_similarity=0.05, exact=True)
    approximate = model.nearest_pairs(rows, top_k=10, min_similarity=0.05, exact=False)
    assert len(set(exact) & set(approximate)) / len(exact) >= 0.97
    for key in set(exact) & set(approximate):
        # Candidates are re-scored with the exact cosine.
        assert approximate[key] == pytest.approx(exact[key], abs=1e-6)


def test_small_groups_are_exact_by_default(
    generated: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = generated.model
    rows = np.arange(len(model))
    default = model.nearest_pairs(rows, top_k=10, min_similarity=0.05)
    assert default == model.nearest_pairs(rows, top_k=10, min_similarity=0.05, exact=True)
    monkeypatch.setattr(similarity_module, "EXACT_GROUP_SHEETS", 10)
    assert model.nearest_pairs(rows, top_k=10, min_similarity=0.05) == model.nearest_pairs(
        rows, top_k=10, min_similarity=0.05, exact=False
    )


def test_places_from_the_neighbour_lists_equal_each_sheets_own_lookup(generated: Index) -> None:
    """The places counted among the pairs of ``nearest_pairs`` (one sort) are the places a
    sheet's cosines with every sheet give (``neighbour_place``)."""
    model = generated.model
    pairs = model.nearest_pairs(np.arange(len(model)), top_k=10, min_similarity=0.05)
    ends = np.array(list(pairs), dtype=np.int64)
    places = candidates_module.neighbour_ranks(
        ends, np.fromiter(pairs.values(), dtype=np.float64), 10
    )
    for ((a, b), similarity), (to_b, to_a) in zip(pairs.items(), places.tolist(), strict=True):
        assert candidates_module.neighbour_place(model, a, b, similarity) == to_b
        assert candidates_module.neighbour_place(model, b, a, similarity) == to_a
