"""The judged relevance harness (bench/relevance.py): metrics, BM25, and the judgment files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import relevance as rel

# --- metrics on hand-computed cases ---------------------------------------------------------

JUDGED = {"a": 2, "c": 1, "d": 2, "z": 0}


def test_ndcg_hand_computed() -> None:
    # DCG: rank 1 a (2^2 − 1 = 3) / log2 2 + rank 3 c (1) / log2 4 = 3 + 0.5
    # ideal: 2, 2, 1 → 3 / log2 2 + 3 / log2 3 + 1 / log2 4
    ideal = 3 + 3 / math.log2(3) + 0.5
    assert rel.ndcg_at(["a", "b", "c"], JUDGED) == pytest.approx(3.5 / ideal)
    assert rel.ndcg_at(["d", "a", "c"], JUDGED) == pytest.approx(1.0)
    assert rel.ndcg_at(["b", "z"], JUDGED) == 0.0
    assert rel.ndcg_at(["a"], {"a": 0}) is None  # nothing relevant: no figure


def test_ndcg_cuts_at_k_and_counts_unreturned_judged_sheets() -> None:
    ranking = [f"x{i}" for i in range(10)] + ["a"]
    assert rel.ndcg_at(ranking, JUDGED) == 0.0  # a is 11th
    # only one of three relevant sheets returned: ideal still has all three
    assert rel.ndcg_at(["c"], JUDGED) == pytest.approx(1 / (3 + 3 / math.log2(3) + 0.5))


def test_recall_at_k() -> None:
    assert rel.recall_at(["a", "b", "c"], JUDGED) == pytest.approx(2 / 3)
    assert rel.recall_at(["z", "b"], JUDGED) == 0.0
    assert rel.recall_at(["b"] * 10 + ["a"], JUDGED) == 0.0
    assert rel.recall_at(["a"], {"a": 0}) is None


def test_reciprocal_rank_of_first_grade_2() -> None:
    assert rel.reciprocal_rank(["a", "d"], JUDGED) == 1.0
    assert rel.reciprocal_rank(["c", "b", "d"], JUDGED) == pytest.approx(1 / 3)  # c is grade 1
    assert rel.reciprocal_rank(["c", "b"], JUDGED) == 0.0
    assert rel.reciprocal_rank([f"x{i}" for i in range(10)] + ["a"], JUDGED) == 0.0
    assert rel.reciprocal_rank(["c"], JUDGED, min_grade=1) == 1.0


def test_mean_skips_missing_figures() -> None:
    assert rel.mean([1.0, None, 0.0]) == 0.5
    assert rel.mean([None]) is None


# --- BM25 on a toy corpus (whitespace analysis) -----------------------------------------------


def _toy() -> rel.BM25:
    sheets = [rel.SheetText("d1", "a b"), rel.SheetText("d2", "a a c"), rel.SheetText("d3", "c")]
    return rel.BM25(sheets, analyzer=str.split, query_analyzer=str.split)


def test_bm25_scores_match_the_formula() -> None:
    # N = 3, avgdl = 2; idf(a) = ln(1 + (3 − 2 + 0.5) / (2 + 0.5)) = ln 1.6
    idf = math.log(1.6)
    d1 = idf * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 2))
    d2 = idf * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 2))
    scores = _toy().scores("a")
    assert scores[0] == pytest.approx(d1)
    assert scores[1] == pytest.approx(d2)
    assert scores[2] == 0.0


def test_bm25_is_an_or_over_query_terms_and_ignores_unknown_terms() -> None:
    bm25 = _toy()
    assert bm25.rank("a") == ["d2", "d1"]  # d3 has no a: not retrieved
    assert set(bm25.rank("b c")) == {"d1", "d2", "d3"}
    assert bm25.rank("unknown") == []
    assert bm25.rank("a", k=1) == ["d2"]


def test_bm25_uses_evalsearch_analysis_by_default() -> None:
    sheets = [
        rel.SheetText("s1", "外国人技能実習生との交流イベントを開催した。"),
        rel.SheetText("s2", "道路の舗装補修を行った。"),
    ]
    assert rel.BM25(sheets).rank("技能実習生") == ["s1"]


def test_record_text_leaves_out_provenance() -> None:
    class Record:
        def to_dict(self) -> dict:
            return {
                "id": "大船渡市/2025-0086",
                "project_name": "不法投棄対策事業",
                "assessments": {"①": {"answer": "結びついている", "reason": "理由"}},
                "budget": {"project_cost": [1, 2]},
                "source": {"file": "/x/report.xlsx"},
                "warnings": ["警告"],
            }

    sheet = rel.record_text(Record())
    assert sheet.id == "2025-0086"
    assert "不法投棄対策事業" in sheet.text and "結びついている" in sheet.text
    assert "report.xlsx" not in sheet.text and "警告" not in sheet.text


# --- judgment files -------------------------------------------------------------------------


def _check_file(path: Path, minimum: int) -> list[rel.JudgedQuery]:
    queries = rel.load_judgments(path)
    assert len(queries) >= minimum
    assert len({q.id for q in queries}) == len(queries)
    for q in queries:
        assert q.query.strip() and q.need.strip() and q.kind
        assert set(q.judgments.values()) <= {1, 2}, q.id
        assert 2 in q.judgments.values(), f"{q.id} has no grade-2 sheet"
    return queries


def test_nemuro_judgments_name_sheets_of_the_vendored_corpus() -> None:
    queries = _check_file(rel.JUDGMENTS / "nemuro.json", 40)
    sheets, _ = rel.nemuro_texts()
    ids = {sheet.id for sheet in sheets}
    assert len({sheet_id.split("-")[0] for sheet_id in ids}) >= 3  # fiscal years
    missing = {doc for q in queries for doc in q.judgments} - ids
    assert not missing


def test_ofunato_judgments_name_sheets_of_the_workbook() -> None:
    queries = _check_file(rel.JUDGMENTS / "ofunato.json", 25)
    xlsx = rel.ofunato_xlsx()
    if not xlsx.exists():
        pytest.skip(f"{xlsx} not present")
    ids = {sheet.id for sheet in rel.fallback_ofunato_texts(xlsx)}
    assert len(ids) == 407 and "2025-0000" in ids
    missing = {doc for q in queries for doc in q.judgments} - ids
    assert not missing


def test_vendored_corpus_stays_small() -> None:
    files = list((rel.NEMURO_DIR).glob("*.txt"))
    assert files
    assert sum(f.stat().st_size for f in files) < 3_000_000
