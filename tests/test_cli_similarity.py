"""`evalsearch similar`, `candidates` and `report` on the index of the sample dump (the
session fixture ``sample_index``); year scopes are in test_similarity.py."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsearch.cli import app
from evalsearch.handle import Index
from tests.conftest import copy_index

runner = CliRunner()


@pytest.fixture
def index_dir(sample_index: Index) -> Path:
    return sample_index.path


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_similar_12276_lists_12770_with_shared_terms(index_dir: Path) -> None:
    result = invoke("similar", "12276", "--index", str(index_dir), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["project"]["id"] == "2023-12276"
    (neighbour,) = data["similar"]
    assert neighbour["id"] == "2023-12770"
    assert neighbour["project_no"] == "12770"
    assert neighbour["department"] == "商工労働観光課"
    assert {"交流", "連携"} <= {term["term"] for term in neighbour["shared_terms"]}
    assert neighbour["passage_pairs"][0]["passage"] == "ウ"
    assert neighbour["cross_references"][0]["name"] == "根室ベトナム交流協会"


def test_similar_table(index_dir: Path) -> None:
    result = invoke("similar", "2023-12276", "--index", str(index_dir), "--any-year")
    assert result.exit_code == 0, result.output
    assert "12770" in result.output
    assert "交流" in result.output


def test_similar_uses_evalsearch_index_variable(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALSEARCH_INDEX", str(index_dir))
    result = invoke("similar", "12770", "--format", "json", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["similar"][0]["id"] == "2023-12276"


def test_candidates_json_has_the_pair_with_its_evidence(index_dir: Path) -> None:
    result = invoke("candidates", "--index", str(index_dir), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    pair = data["pairs"][0]
    assert (pair["a"], pair["b"]) == ("2023-12276", "2023-12770")
    kinds = {reason["kind"] for reason in pair["reasons"]}
    assert {"cross_reference", "contradiction"} <= kinds
    assert data["clusters"] == []


def test_candidates_table_and_csv(index_dir: Path) -> None:
    table = invoke("candidates", "--index", str(index_dir), "--year", "2023")
    assert table.exit_code == 0, table.output
    assert "12276" in table.output and "12770" in table.output
    result = invoke("candidates", "--index", str(index_dir), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(row["A_事業番号"], row["B_事業番号"]) for row in rows] == [("12276", "12770")]


def test_candidates_min_score_filters(index_dir: Path) -> None:
    result = invoke("candidates", "--index", str(index_dir), "--min-score", "0.99")
    assert result.exit_code == 0
    assert "条件に合う組み合わせはありません" in result.output


@pytest.mark.parametrize("suffix", ["html", "md", "csv"])
def test_report_candidates_writes_the_file(index_dir: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / "reports" / f"candidates.{suffix}"
    result = invoke("report", "--candidates", "--index", str(index_dir), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"報告書を書き出しました: {out}" in result.output
    assert "根室ベトナム交流協会" in out.read_text("utf-8-sig")


def test_report_project(index_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.html"
    result = invoke("report", "--project", "12276", "--index", str(index_dir), "-o", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text("utf-8")
    assert "12276 輸出促進支援事業 に類似する事業" in html and "<svg" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--out", "x.html"], "--project P・--candidates・--changes のどれか 1 つ"),
        (["report", "--candidates", "--project", "1", "--out", "x.html"], "のどれか 1 つ"),
        (["report", "--candidates", "--out", "x.pdf"], ".html / .md / .csv"),
        (["similar", "12276", "--format", "xml"], "xml"),
    ],
)
def test_usage_errors_exit_2(index_dir: Path, args: list[str], message: str) -> None:
    result = invoke(*args, "--index", str(index_dir))
    assert result.exit_code == 2
    assert message in result.output


def test_unknown_project_exits_1(index_dir: Path) -> None:
    result = invoke("similar", "99999", "--index", str(index_dir))
    assert result.exit_code == 1
    assert "エラー: 事業 99999 は索引にありません" in result.output


def test_missing_index_exits_1(tmp_path: Path) -> None:
    result = invoke("candidates", "--index", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert f"索引 {tmp_path / 'none'} がありません。" in result.output


def test_index_without_model_asks_for_rebuild(sample_index: Index, tmp_path: Path) -> None:
    copy = copy_index(sample_index, tmp_path / "index")
    (copy / "similarity-meta.json").unlink()
    result = invoke("candidates", "--index", str(copy))
    assert result.exit_code == 1
    assert "similarity-meta.json を読めません" in result.output
    assert f"`evalsearch index PATH... --index {copy} --rebuild`" in result.output


@pytest.mark.parametrize("where", ["directory", "under-a-file"])
def test_report_to_an_unwritable_path_is_a_message_not_a_traceback(
    index_dir: Path, tmp_path: Path, where: str
) -> None:
    blocker = tmp_path / "blocker"
    if where == "directory":
        out = tmp_path / "report.html"
        out.mkdir()
    else:
        blocker.write_text("x", "utf-8")
        out = blocker / "report.html"
    result = invoke("report", "--candidates", "--index", str(index_dir), "--out", str(out))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{out} に書き出せません" in result.stderr
    assert "別の --out を指定してください" in result.stderr
