"""統合・振替 candidates: ranking, reasons, clusters, chunked products."""

from __future__ import annotations

import csv
import io
import itertools

import numpy as np
import pytest

from evalsearch import candidates as candidates_module
from evalsearch import similarity as similarity_module
from evalsearch.candidates import (
    MAX_CLUSTER_SIZE,
    SCORE_WEIGHTS,
    candidate_score,
    find_candidates,
    neighbour_ranks,
    rank_score,
    score_pair,
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


# --- mutual neighbour rank -------------------------------------------------------------------

SUBSIDY = (
    "{who}の医療費の自己負担分を助成し、{who}の経済的負担を軽減する。受給者証を交付し、"
    "医療機関の窓口で自己負担分を助成する。県の補助を受け、所得制限を設けて医療費を助成している。"
    "{extra}"
)
FAMILY = (
    ("重度心身障害者", "障害者手帳を確認する。"),
    ("ひとり親家庭", "児童扶養手当の受給を確認する。"),
    ("妊産婦", "母子健康手帳を確認する。"),
    ("寡婦", "戸籍を確認する。"),
)


def template_family() -> list[SheetRecord]:
    """Four 医療費助成 sheets written from one template (every pair alike at cosine 0.4–0.7),
    a pair of tourism sheets that are each other's nearest at a lower cosine, and a stray."""
    records = [
        make_record(
            f"4100{i}",
            f"{who}医療費助成事業",
            activities=SUBSIDY.format(who=who, extra=extra),
            intent=f"{who}が安心して医療を受けられる。",
            reasons={"ア": f"{who}の医療費を助成し、経済的負担の軽減に結びついている。"},
        )
        for i, (who, extra) in enumerate(FAMILY)
    ]
    records += [
        make_record(
            "42001",
            "観光物産展開催事業",
            activities="首都圏で観光物産展を開催し、特産品の販売と観光パンフレットの配布を行う。",
            intent="観光客が増え、特産品の販路が広がる。",
            reasons={"ア": "物産展で観光客誘致と販路拡大に結びついている。"},
        ),
        make_record(
            "42002",
            "観光誘客宣伝事業",
            activities="観光パンフレットを作成し、首都圏の旅行会社へ誘客の宣伝を行う。",
            intent="観光客が増える。",
            reasons={"ア": "宣伝により観光客の誘致に結びついている。"},
        ),
        make_record(
            "43001",
            "道路維持補修事業",
            activities="市道の舗装を補修し、側溝を清掃する。",
            intent="道路を安全に通行できる。",
            reasons={"ア": "補修により安全な通行に結びついている。"},
        ),
    ]
    return records


def _order(result) -> list[tuple[str, str]]:
    return [tuple(sorted((pair.a.project_no, pair.b.project_no))) for pair in result.pairs]


def test_each_others_nearest_pair_is_not_buried_under_a_template_family(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, crossrefs = fit(template_family())
    result = find_candidates(model, crossrefs, min_score=0.0)
    order = _order(result)
    tourism = order.index(("42001", "42002"))
    # Only the family's own best pair comes first; its other five pairs follow the tourism pair.
    assert tourism == 1
    assert all(pair[0].startswith("4100") for pair in order[:tourism])
    pair = result.pairs[tourism]
    assert pair.neighbour_ranks == (1, 1)
    assert any("互いに最も近いシート" in reason.text for reason in pair.reasons)
    assert pair.to_dict()["neighbour_ranks"] == [1, 1]
    # By cosine alone the family's pairs would fill the top of the list.
    cosine = max(p.similarity for p in result.pairs if p.a.project_no.startswith("4100"))
    assert pair.similarity < cosine
    monkeypatch.setattr(candidates_module, "RANK_SHARE", 0.0)
    assert _order(find_candidates(model, crossrefs, min_score=0.0)).index(("42001", "42002")) > 3


def test_neighbour_ranks_places_ties_depth_and_gate() -> None:
    ends = np.array([(0, 1), (0, 2), (0, 3), (1, 2), (2, 3), (3, 4)], dtype=np.int64)
    cosines = np.array([0.5, 0.3, 0.3 + 1e-7, 0.2, 0.25, 0.08])
    places = neighbour_ranks(ends, cosines, depth=2)
    assert places.tolist() == [
        [1, 1],  # 0 → 1 is 0's nearest; 1's nearest is 0 (0.5 > 0.2)
        [2, 1],  # 2 and 3 tie for 0's second place (within RANK_TOLERANCE)
        [2, 1],
        [2, 0],  # 1 is 2's third (0.3 and 0.25 above 0.2): beyond depth 2
        [2, 2],
        [0, 0],  # below RANK_MIN_SIMILARITY: no place
    ]
    assert rank_score((1, 1)) == 1.0
    assert rank_score((2, 0)) == pytest.approx(0.25)
    assert rank_score((0, 0)) == 0.0


def test_score_pair_alone_finds_the_places_the_ranking_uses(themed_index: Index) -> None:
    model, crossrefs = themed_index.model, themed_index.crossrefs
    for pair in themed_index.candidates(min_score=0.0).pairs:
        alone = score_pair(
            model, crossrefs, model.row_of(pair.a.key), model.row_of(pair.b.key), keep_order=True
        )
        assert alone.neighbour_ranks == pair.neighbour_ranks
        assert alone.score == pytest.approx(pair.score)
