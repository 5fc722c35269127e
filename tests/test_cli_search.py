"""`evalsearch index`, `search` and `show`: output formats, exit codes and Japanese messages."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsearch.cli import app
from tests.conftest import SAMPLE_DUMP
from tests.factories import make_record
from tests.search_corpus import write_dump

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    result = runner.invoke(app, list(args), env=env)
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli-corpus")
    shutil.copy(SAMPLE_DUMP, directory / SAMPLE_DUMP.name)
    write_dump(
        directory / "older.txt",
        (
            make_record(
                "12276",
                "輸出促進支援事業",
                department="総合政策室",
                fiscal_year=2022,
                activities="海外の商談会に出展する。",
            ),
        ),
    )
    return directory


@pytest.fixture(scope="module")
def index_dir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli-index") / "index"
    result = invoke("index", str(corpus), "--index", str(directory))
    assert result.exit_code == 0, result.output
    return directory


def test_index_reports_what_it_did(index_dir: Path, corpus: Path) -> None:
    result = invoke("index", str(corpus), "--index", str(index_dir))
    assert result.exit_code == 0
    assert (
        "ファイル 追加0・置換0・変更なし2・なくなったファイル0、シート 0件を索引" in result.stdout
    )
    assert "合計3件" in result.stdout


def test_index_uses_the_environment_default(corpus: Path, tmp_path: Path) -> None:
    target = tmp_path / "from-env"
    result = invoke("index", str(corpus / SAMPLE_DUMP.name), env={"EVALSEARCH_INDEX": str(target)})
    assert result.exit_code == 0, result.output
    assert (target / "manifest.json").exists()
    result = invoke(
        "search", "技能実習生", "--format", "json", env={"EVALSEARCH_INDEX": str(target)}
    )
    assert json.loads(result.stdout)["total"] == 1


def test_index_of_a_missing_path_fails_with_a_message(tmp_path: Path) -> None:
    result = invoke("index", str(tmp_path / "nothing"), "--index", str(tmp_path / "index"))
    assert result.exit_code == 1
    assert "ファイルまたはディレクトリが見つかりません" in result.stderr
    assert not (tmp_path / "index").exists()


def test_search_table_shows_hits_snippets_and_counts(index_dir: Path) -> None:
    result = invoke("search", "外国人技能実習生との交流", "--index", str(index_dir))
    assert result.exit_code == 0, result.output
    out = result.stdout
    # 12770 holds every word; 12276 only 交流 (half of the words are enough, README).
    assert "「外国人技能実習生との交流」: 2件" in out
    assert "1. 12770 根室ベトナム交流協会補助事業" in out
    assert "2. 12276 輸出促進支援事業" in out
    assert "商工労働観光課" in out
    assert "【ア】令和５年度は外国人技能実習生と地域住民との交流イベントを開催し" in out
    assert "主管課別の件数" in out
    assert "今後の方向性別の件数" in out


def test_search_json(index_dir: Path) -> None:
    result = invoke(
        "search", "統合", "--field", "オ", "--index", str(index_dir), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["query"] == "統合"
    assert data["total"] == 2
    assert {hit["project_no"] for hit in data["hits"]} == {"12276", "12770"}
    for hit in data["hits"]:
        assert hit["fields"] == ["オ"]
        assert hit["snippets"][0]["field"] == "オ"
        assert "統合" in hit["snippets"][0]["text"]
    assert data["facets"]["department"] == {"商工労働観光課": 1, "総合政策室": 1}


def test_search_csv(index_dir: Path) -> None:
    result = invoke("search", "オ:統合", "--index", str(index_dir), "--format", "csv", "-n", "1")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    assert rows[0]["該当項目"] == "オ"
    assert rows[0]["抜粋"].startswith("【オ】")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--year", "2022"], {"2022-12276"}),
        (["--department", "総合政策室"], {"2023-12276", "2022-12276"}),
        (["--decision", "見直しのうえで継続"], {"2023-12276"}),
        (["--measure", "統合・振替"], {"2023-12276"}),
        (["--answer", "カ=既に負担がある"], {"2023-12276", "2023-12770"}),
        (["--answer", "オ=ない", "--year", "2023"], {"2023-12770"}),
    ],
)
def test_search_filters(index_dir: Path, options: list[str], expected: set[str]) -> None:
    result = invoke("search", "事業", "--index", str(index_dir), "--format", "json", *options)
    assert result.exit_code == 0, result.output
    assert {hit["id"] for hit in json.loads(result.stdout)["hits"]} == expected


def test_search_with_no_hits_says_so(index_dir: Path) -> None:
    result = invoke("search", "宇宙開発", "--index", str(index_dir))
    assert result.exit_code == 0
    assert "該当するシートはありません。" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["の"], 1, "検索できる語がありません"),
        (["統合 OR"], 1, "OR の後に検索語"),
        (["統合", "--answer", "オ"], 2, "「項目=回答」の形で指定してください"),
    ],
)
def test_search_errors(index_dir: Path, args: list[str], code: int, message: str) -> None:
    result = invoke("search", *args, "--index", str(index_dir))
    assert result.exit_code == code
    assert message in result.output


def test_search_without_an_index(tmp_path: Path) -> None:
    result = invoke("search", "統合", "--index", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"エラー: 索引 {tmp_path / 'none'} がありません。")


def test_search_on_an_old_index_asks_for_a_rebuild(index_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(index_dir, old)
    manifest = json.loads((old / "manifest.json").read_text("utf-8"))
    manifest["schema_version"] = 0
    (old / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    result = invoke("search", "統合", "--index", str(old))
    assert result.exit_code == 1
    assert "別の版の evalsearch で作られています（版 0" in result.stderr
    assert "--rebuild" in result.stderr


def test_search_on_a_damaged_index_says_so(index_dir: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(index_dir, damaged)
    for path in (damaged / "whoosh").glob("*.seg"):
        path.write_bytes(path.read_bytes()[:100])
    result = invoke("search", "統合", "--index", str(damaged))
    assert result.exit_code == 1
    assert "Aborted" not in result.output
    assert f"エラー: 索引 {damaged} が壊れているため読み込めません" in result.stderr
    assert "--rebuild" in result.stderr


def test_show_prints_every_passage_of_the_newest_year(index_dir: Path) -> None:
    result = invoke("show", "12276", "--index", str(index_dir))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "輸出促進支援事業（事業番号 12276・2023年度）" in out
    for heading in ("■ 活動内容", "■ 意図", "■ 見直しの状況: 検討中", "■ 今後の動向（ニーズ）"):
        assert heading in out
    for label in "アイウエオカ":
        assert f"■ {label}．" in out
    # 12276's ウ・エ・オ boxes cannot be told apart in the dump: shown as undecided.
    assert (
        "■ オ．他の事業との統合について可能性がありますか → 未確定（候補: ある／一部ある）" in out
    )
    assert "根室産水産物の普及宣伝や販路拡大に関する事業や貿易等に関する事務事業と統合" in out
    assert "見直しのうえで継続（手段を見直す・効率化・統合・振替）" in out
    assert "他の年度のシート: 2022年度（--year で指定）" in out


@pytest.mark.parametrize("args", [["12276", "--year", "2022"], ["2022-12276"]])
def test_show_by_year_or_id(index_dir: Path, args: list[str]) -> None:
    result = invoke("show", *args, "--index", str(index_dir))
    assert result.exit_code == 0, result.output
    assert "（事業番号 12276・2022年度）" in result.stdout
    assert "海外の商談会に出展する。" in result.stdout


def test_show_an_unknown_project(index_dir: Path) -> None:
    result = invoke("show", "99999", "--index", str(index_dir))
    assert result.exit_code == 1
    assert "エラー: 事業 99999 は索引にありません。" in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "choices"),
    [
        (
            "--field",
            "ほげ",
            "ア、イ、ウ、エ、オ、カ、見直し、動向、活動、対象、意図、事業名、回答、指標、必要性・公共関与、",
        ),
        ("--answer", "キ=ある", "ア、イ、ウ、エ、オ、カ"),
        ("--answer", "オ=ほげ", "ある、一部ある、ない"),
        ("--answer", "カ=一部ある", "ある、検討の必要性がある、ない、既に負担がある"),
        (
            "--decision",
            "継続",
            "現状のまま継続、見直しのうえで継続、終期設定あり、休止、廃止、完了",
        ),
        ("--measure", "統合", "拡充、手段を見直す、効率化、簡素化、統合・振替"),
    ],
)
def test_filter_values_outside_the_form_are_usage_errors(
    index_dir: Path, option: str, value: str, choices: str
) -> None:
    result = invoke("search", "統合", "--index", str(index_dir), option, value)
    assert result.exit_code == 2
    assert f"次のいずれかを指定してください: {choices}" in result.output
