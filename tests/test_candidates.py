"""統合・振替 candidates: ranking, reasons, clusters, chunked products."""

from __future__ import annotations

import csv
import io
import itertools

import pytest

from evalsearch import similarity as similarity_module
from evalsearch.candidates import (
    MAX_CLUSTER_SIZE,
    SCORE_WEIGHTS,
    candidate_score,
    find_candidates,
)
from evalsearch.crossref import CrossReferences
from evalsearch.handle import Index
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


def fit(records: tuple[SheetRecord, ...] | list[SheetRecord]):
    """(model, cross-references) of records, as ``evalsearch index`` makes them."""
    model = SimilarityModel().fit(records, analyze_records(records))
    return model, CrossReferences.build(records, similarity=model.batch_similarity())


def _pairs(result) -> set[frozenset[str]]:
    return {frozenset((pair.a.project_no, pair.b.project_no)) for pair in result.pairs}


def test_weights_sum_to_one() -> None:
    assert sum(SCORE_WEIGHTS.values()) == pytest.approx(1.0)
    assert candidate_score(dict.fromkeys(SCORE_WEIGHTS, 1.0)) == pytest.approx(1.0)
    assert candidate_score({"similarity": 0.5}) == pytest.approx(0.3)


def test_overlapping_pairs_listed_distractors_not(themed_index: Index) -> None:
    result = themed_index.candidates()
    found = _pairs(result)
    for a, b in OVERLAPPING_PAIRS:
        assert frozenset((a, b)) in found
    for pair in result.pairs:
        assert pair.a.project_no not in DISTRACTORS and pair.b.project_no not in DISTRACTORS


def test_pairs_ranked_best_first_with_merge_evidence_on_top(themed_index: Index) -> None:
    result = themed_index.candidates()
    scores = [pair.score for pair in result.pairs]
    assert scores == sorted(scores, reverse=True)
    # The export pair names each other in オ and plans 統合・振替: it leads.
    top = result.pairs[0]
    assert {top.a.project_no, top.b.project_no} == {"21001", "21002"}
    assert top.a.project_no == "21001"  # the sheet that plans the merge comes first
    kinds = {reason.kind for reason in top.reasons}
    assert {"cross_reference", "similarity", "merge_plan", "integration_answer"} <= kinds


def test_cluster_of_three(themed_index: Index) -> None:
    result = themed_index.candidates()
    assert ["2023-24001", "2023-24002", "2023-24003"] in result.cluster_ids()
    assert ("根室市/2023-24001", "根室市/2023-24002", "根室市/2023-24003") in result.clusters
    assert all(len(cluster) > 2 for cluster in result.clusters)


def test_sample_pair_with_cross_reference_and_contradiction(reference_index: Index) -> None:
    result = reference_index.candidates()
    (pair,) = result.pairs
    assert (pair.a.id, pair.b.id) == ("2023-12276", "2023-12770")
    kinds = [reason.kind for reason in pair.reasons]
    assert "cross_reference" in kinds and "contradiction" in kinds
    texts = " ".join(reason.text for reason in pair.reasons)
    assert "根室ベトナム交流協会" in texts and "ない" in texts
    assert pair.components["cross_reference"] == 1.0
    assert pair.components["contradiction"] == 1.0


def test_json_form(reference_index: Index) -> None:
    data = reference_index.candidates().to_dict()
    assert set(data) >= {"pairs", "clusters"}
    pair = data["pairs"][0]
    assert {"a", "b", "score", "similarity", "reasons"} <= set(pair)
    assert pair["a"] == "2023-12276" and pair["b"] == "2023-12770"
    assert all({"kind", "text"} == set(reason) for reason in pair["reasons"])


@pytest.mark.parametrize("min_score", [0.0, 0.15, 0.99])
def test_streamed_json_equals_to_dict(themed_index: Index, min_score: float) -> None:
    import json

    result = themed_index.candidates(min_score=min_score)
    assert json.loads("".join(result.iter_json())) == json.loads(json.dumps(result.to_dict()))


def test_csv_form(themed_index: Index) -> None:
    from evalsearch.csvout import pairs_csv

    result = themed_index.candidates()
    rows = list(csv.DictReader(io.StringIO(pairs_csv(result.pairs, result.clusters))))
    assert len(rows) == len(result.pairs)
    assert rows[0]["A_事業番号"] == "21001"
    assert "類似度" in rows[0]["理由"]
    clustered = [row for row in rows if row["A_事業番号"].startswith("24")]
    assert clustered and all(row["まとまり"] == "1" for row in clustered)


def test_min_score_and_limit(themed_index: Index) -> None:
    everything = themed_index.candidates(min_score=0.0)
    strict = themed_index.candidates(min_score=0.5)
    assert 0 < len(strict.pairs) < len(everything.pairs)
    assert all(pair.score >= 0.5 for pair in strict.pairs)
    assert len(themed_index.candidates(limit=2).pairs) == 2


def test_chunked_product_gives_the_same_pairs(
    themed_index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = themed_index.candidates(min_score=0.0).to_dict()
    monkeypatch.setattr(similarity_module, "MAX_BLOCK_CELLS", 1)  # one row per block
    assert themed_index.candidates(min_score=0.0).to_dict() == whole


def test_pairs_stay_within_a_year_and_year_filter() -> None:
    model, crossrefs = fit(TWO_YEARS)
    result = find_candidates(model, crossrefs, min_score=0.0)
    for pair in result.pairs:
        assert pair.a.fiscal_year == pair.b.fiscal_year
        assert pair.a.project_no != pair.b.project_no
    later = find_candidates(model, crossrefs, year=2024)
    assert [(pair.a.id, pair.b.id) for pair in later.pairs] == [("2024-21001", "2024-21002")]
    assert find_candidates(model, crossrefs, year=2030).pairs == ()


def test_details_can_be_skipped(themed_index: Index) -> None:
    result = themed_index.candidates(details=False)
    assert result.pairs and all(pair.passage_pairs == () for pair in result.pairs)


# --- clusters larger than MAX_CLUSTER_SIZE ------------------------------------------------

HOBBIES = ("陶芸", "書道", "茶道", "華道", "囲碁", "将棋", "俳句", "短歌", "水墨画", "篆刻")
HOBBIES += ("盆栽", "能楽", "狂言", "落語", "民謡", "詩吟")


def chain(length: int) -> list[SheetRecord]:
    """Sheets linked in a row: sheet i shares one word with sheet i + 1 (repeated 1–4 times,
    so the links differ in strength) and nothing with any other sheet."""
    return [
        make_record(
            f"8{i:04d}",
            f"文化教室{i}",
            department=f"課{i}",
            activities="、".join([HOBBIES[i]] + [HOBBIES[i + 1]] * (1 + (i * 5) % 4)) + "。",
        )
        for i in range(length)
    ]


def _linked(pairs: list[tuple[str, str]]) -> set[str]:
    """The sheets connected to the first pair's first sheet."""
    reached = {pairs[0][0]}
    grew = True
    while grew:
        grew = False
        for a, b in pairs:
            if (a in reached) != (b in reached):
                reached |= {a, b}
                grew = True
    return reached


def test_a_chain_longer_than_the_cluster_limit_is_split() -> None:
    length = MAX_CLUSTER_SIZE + 2
    records = chain(length)
    model, crossrefs = fit(records)
    result = find_candidates(model, crossrefs)
    pairs = [(pair.a.project_no, pair.b.project_no) for pair in result.pairs]
    # Every link of the chain is a candidate pair and nothing else is: one connected group.
    assert {frozenset(pair) for pair in pairs} == {
        frozenset((f"8{i:04d}", f"8{i + 1:04d}")) for i in range(length - 1)
    }
    assert _linked(pairs) == {record.project_no for record in records}
    # ... which is listed as smaller clusters, each a run of the chain cut at weaker links.
    assert result.clusters, "splitting must keep the strongly linked runs"
    for cluster in result.cluster_ids():
        assert 2 < len(cluster) <= MAX_CLUSTER_SIZE
        numbers = sorted(int(record_id.rsplit("-", 1)[1]) for record_id in cluster)
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_a_chain_of_equally_strong_links_is_split_too() -> None:
    from evalsearch.candidates import _clusters

    # Sheets written from one template link with the same score: there is no weaker link to
    # cut at, and the group is still no merge proposal.
    keys = [f"根室市/2023-8{i:04d}" for i in range(MAX_CLUSTER_SIZE * 2)]
    edges = [(a, b, 0.4) for a, b in itertools.pairwise(keys)]
    assert all(len(cluster) <= MAX_CLUSTER_SIZE for cluster in _clusters(edges))
