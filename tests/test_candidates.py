"""統合・振替 candidates: ranking, reasons, clusters, chunked products."""

from __future__ import annotations

import csv
import io

import pytest

from evalsearch import candidates as candidates_module
from evalsearch.candidates import SCORE_WEIGHTS, candidate_score, find_candidates
from evalsearch.records import SheetRecord
from evalsearch.similarity import SimilarityModel
from tests.factories import make_record
from tests.themed_corpus import DISTRACTORS, OVERLAPPING_PAIRS, THEMED, analyze_records

TWO_YEARS = (
    *THEMED,
    # The export pair again a year later: pairs stay inside one fiscal year.
    *(
        make_record(
            record.project_no,
            record.project_name,
            fiscal_year=2024,
            department=record.department,
            activities=record.activities,
            intent=record.intent,
            reasons={label: a.reason for label, a in record.assessments.items()},
        )
        for record in THEMED[:2]
    ),
)


@pytest.fixture(scope="module")
def model() -> SimilarityModel:
    return SimilarityModel.fit(THEMED, analyze_records(THEMED))


@pytest.fixture(scope="module")
def sample_model() -> SimilarityModel:
    import json

    from tests.conftest import SAMPLE_EXPECTED

    records = [SheetRecord.from_dict(item) for item in json.loads(SAMPLE_EXPECTED.read_text())]
    return SimilarityModel.fit(records, analyze_records(records))


def _pairs(result) -> set[frozenset[str]]:
    return {frozenset((pair.a.project_no, pair.b.project_no)) for pair in result.pairs}


def test_weights_sum_to_one() -> None:
    assert sum(SCORE_WEIGHTS.values()) == pytest.approx(1.0)
    assert candidate_score(dict.fromkeys(SCORE_WEIGHTS, 1.0)) == pytest.approx(1.0)
    assert candidate_score({"similarity": 0.5}) == pytest.approx(0.3)


def test_overlapping_pairs_listed_distractors_not(model: SimilarityModel) -> None:
    result = find_candidates(model)
    found = _pairs(result)
    for a, b in OVERLAPPING_PAIRS:
        assert frozenset((a, b)) in found
    for pair in result.pairs:
        assert pair.a.project_no not in DISTRACTORS and pair.b.project_no not in DISTRACTORS


def test_pairs_ranked_best_first_with_merge_evidence_on_top(model: SimilarityModel) -> None:
    result = find_candidates(model)
    scores = [pair.score for pair in result.pairs]
    assert scores == sorted(scores, reverse=True)
    # The export pair names each other in オ and plans 統合・振替: it leads.
    top = result.pairs[0]
    assert {top.a.project_no, top.b.project_no} == {"21001", "21002"}
    assert top.a.project_no == "21001"  # the sheet that plans the merge comes first
    kinds = {reason.kind for reason in top.reasons}
    assert {"cross_reference", "similarity", "merge_plan", "integration_answer"} <= kinds


def test_cluster_of_three(model: SimilarityModel) -> None:
    result = find_candidates(model)
    assert ("2023-24001", "2023-24002", "2023-24003") in result.clusters
    assert all(len(cluster) > 2 for cluster in result.clusters)


def test_sample_pair_with_cross_reference_and_contradiction(
    sample_model: SimilarityModel,
) -> None:
    result = find_candidates(sample_model)
    (pair,) = result.pairs
    assert (pair.a.id, pair.b.id) == ("2023-12276", "2023-12770")
    kinds = [reason.kind for reason in pair.reasons]
    assert "cross_reference" in kinds and "contradiction" in kinds
    texts = " ".join(reason.text for reason in pair.reasons)
    assert "根室ベトナム交流協会" in texts and "ない" in texts
    assert pair.components["cross_reference"] == 1.0
    assert pair.components["contradiction"] == 1.0


def test_json_form(sample_model: SimilarityModel) -> None:
    data = find_candidates(sample_model).to_dict()
    assert set(data) >= {"pairs", "clusters"}
    pair = data["pairs"][0]
    assert {"a", "b", "score", "similarity", "reasons"} <= set(pair)
    assert pair["a"] == "2023-12276" and pair["b"] == "2023-12770"
    assert all({"kind", "text"} == set(reason) for reason in pair["reasons"])


@pytest.mark.parametrize("min_score", [0.0, 0.15, 0.99])
def test_streamed_json_equals_to_dict(model: SimilarityModel, min_score: float) -> None:
    import json

    result = find_candidates(model, min_score=min_score)
    assert json.loads("".join(result.iter_json())) == json.loads(json.dumps(result.to_dict()))


def test_csv_form(model: SimilarityModel) -> None:
    result = find_candidates(model)
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert len(rows) == len(result.pairs)
    assert rows[0]["a_project_no"] == "21001"
    assert "類似度" in rows[0]["reasons"]
    clustered = [row for row in rows if row["a_project_no"].startswith("24")]
    assert clustered and all(row["cluster"] == "1" for row in clustered)


def test_min_score_and_limit(model: SimilarityModel) -> None:
    everything = find_candidates(model, min_score=0.0)
    strict = find_candidates(model, min_score=0.5)
    assert 0 < len(strict.pairs) < len(everything.pairs)
    assert all(pair.score >= 0.5 for pair in strict.pairs)
    assert len(find_candidates(model, limit=2).pairs) == 2


def test_chunked_product_gives_the_same_pairs(
    model: SimilarityModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = find_candidates(model, min_score=0.0).to_dict()
    monkeypatch.setattr(candidates_module, "MAX_BLOCK_CELLS", 1)  # one row per block
    assert find_candidates(model, min_score=0.0).to_dict() == whole


def test_pairs_stay_within_a_year_and_year_filter() -> None:
    model = SimilarityModel.fit(TWO_YEARS, analyze_records(TWO_YEARS))
    result = find_candidates(model, min_score=0.0)
    for pair in result.pairs:
        assert pair.a.fiscal_year == pair.b.fiscal_year
        assert pair.a.project_no != pair.b.project_no
    later = find_candidates(model, year=2024)
    assert [(pair.a.id, pair.b.id) for pair in later.pairs] == [("2024-21001", "2024-21002")]
    assert find_candidates(model, year=2030).pairs == ()


def test_details_can_be_skipped(model: SimilarityModel) -> None:
    result = find_candidates(model, details=False)
    assert result.pairs and all(pair.passage_pairs == () for pair in result.pairs)
