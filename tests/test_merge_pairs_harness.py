"""The merge-pair harness (bench/merge_pairs.py) and its judged pairs for 大船渡市."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

from bench.merge_pairs import (
    OFUNATO_JUDGMENTS,
    OFUNATO_XLSX,
    SheetText,
    cv_settings,
    department_folds,
    fallback_ofunato_texts,
    folds,
    judged_pairs,
    load_judgments,
    norm_pair,
    ofunato_record_id,
    plain_id,
    planted_pairs,
    precision_at,
    recall,
    score,
    string_values,
    tfidf_pairs,
)

ID = re.compile(r"^2025-\d{4}$")


# --- metrics on hand cases ----------------------------------------------------------------


def test_recall_ignores_order_inside_a_pair() -> None:
    judged = [("a", "b"), ("c", "d"), ("e", "f"), ("g", "h")]
    assert recall([("b", "a"), ("d", "c"), ("x", "y")], judged) == 0.5
    assert recall([], judged) == 0.0
    assert recall([("a", "b")], []) is None


def test_precision_counts_missing_places_as_misses() -> None:
    judged = [("a", "b"), ("c", "d")]
    assert precision_at([("a", "b"), ("x", "y"), ("c", "d"), ("e", "f")], judged, 2) == 0.5
    assert precision_at([("a", "b")], judged, 4) == 0.25
    assert precision_at([("a", "b")], judged, 0) is None


def test_score_uses_the_top_k_with_k_the_number_of_judged_pairs() -> None:
    judged = {("a", "b"): 2, ("c", "d"): 1, ("e", "f"): 2}
    found = [("a", "b"), ("x", "y"), ("d", "c"), ("e", "f")]  # ("e", "f") is 4th, K = 3
    result = score(found, judged)
    assert result["k"] == 3
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["recall_g2"] == 0.5
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["hits"] == ["a|b", "c|d"]


def test_folds_split_the_judged_pairs_in_two_halves() -> None:
    judged = {("a", "b"): 2, ("d", "c"): 1, ("e", "f"): 2, ("g", "h"): 1, ("i", "j"): 2}
    first, second = folds(judged)
    assert first == [("a", "b"), ("e", "f"), ("i", "j")] and second == [("c", "d"), ("g", "h")]
    result = score([("a", "b"), ("c", "d")], judged)
    assert result["recall_folds"] == [pytest.approx(1 / 3), 0.5]


def test_department_folds_keep_a_department_on_one_side() -> None:
    judged = [("a1", "a2"), ("b1", "x"), ("a1", "a3"), ("c1", "c2")]
    department = {"a1": "A課", "b1": "B課", "c1": "C課"}
    first, second = department_folds(judged, department)
    assert first == [("a1", "a2"), ("a1", "a3"), ("c1", "c2")] and second == [("b1", "x")]


def test_cv_settings_keep_the_weights_summing_to_one() -> None:
    settings = cv_settings()
    assert any(setting.rank_share == 0.0 for setting in settings)  # the cosine alone is tried
    for setting in settings:
        assert sum(setting.weights().values()) == pytest.approx(1.0)
        assert setting.merge_plan >= 0.0


def test_planted_groups_give_every_pair_inside_a_group() -> None:
    assert set(planted_pairs([["b", "a"], ["c", "d", "e"]])) == {
        ("a", "b"),
        ("c", "d"),
        ("c", "e"),
        ("d", "e"),
    }


def test_ids_and_string_values() -> None:
    assert ofunato_record_id(0, 2025) == "2025-0000"
    assert ofunato_record_id("0086", 2025) == "2025-0086"
    assert plain_id("大船渡市/2025-0086") == "2025-0086"
    data = {"a": "x", "source": {"file": "f.txt"}, "b": [{"c": "y"}, 3, None], "warnings": ["w"]}
    assert list(string_values(data)) == ["x", "y"]


def test_tfidf_pairs_rank_within_municipality_and_year() -> None:
    sheets = [
        SheetText("2025-0001", ("市", 2025), "漁港 修繕 防波堤"),
        SheetText("2025-0002", ("市", 2025), "漁港 修繕 船揚場"),
        SheetText("2025-0003", ("市", 2025), "保育 延長 委託"),
        SheetText("2024-0001", ("市", 2024), "漁港 修繕 防波堤"),  # identical, other year
    ]
    ranked = tfidf_pairs(sheets, 10, analyzer=str.split)
    assert next((a, b) for a, b, _ in ranked) == ("2025-0001", "2025-0002")
    assert all(a[:4] == b[:4] for a, b, _ in ranked)
    assert len(ranked) == 3  # the three 2025 pairs; 2024 has a single sheet
    assert [value for _, _, value in ranked] == sorted((v for _, _, v in ranked), reverse=True)


# --- the judgment file --------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict:
    return load_judgments(OFUNATO_JUDGMENTS)


def test_judgment_file_loads_with_its_fields(document: dict) -> None:
    assert document["corpus"] == "ofunato"
    assert document["source"].endswith("report.xlsx")
    assert document["made_by"]
    assert 60 <= len(document["pairs"]) <= 120
    for pair in document["pairs"]:
        assert set(pair) == {"a", "b", "grade", "reason"}
        assert pair["grade"] in (1, 2)
        assert isinstance(pair["reason"], str) and pair["reason"].strip()
        assert ID.match(pair["a"]) and ID.match(pair["b"])
    grades = {pair["grade"] for pair in document["pairs"]}
    assert grades == {1, 2}


def test_pairs_are_ordered_unique_and_never_a_sheet_with_itself(document: dict) -> None:
    keys = [(pair["a"], pair["b"]) for pair in document["pairs"]]
    assert all(a < b for a, b in keys)
    assert len(set(keys)) == len(keys)
    assert keys == sorted(keys)
    assert all(a < b for a, b in pairwise(keys))
    assert set(judged_pairs(document)) == {norm_pair(a, b) for a, b in keys}


@pytest.mark.skipif(not OFUNATO_XLSX.exists(), reason="大船渡市の report.xlsx がありません")
def test_judged_ids_exist_in_the_workbook(document: dict) -> None:
    sheets = fallback_ofunato_texts(OFUNATO_XLSX)
    ids = {sheet.id for sheet in sheets}
    assert len(sheets) == len(ids) == 407
    assert "2025-0000" in ids
    judged = {i for pair in document["pairs"] for i in (pair["a"], pair["b"])}
    assert judged <= ids
