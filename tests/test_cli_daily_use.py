"""Issue #11, case by case through the CLI: a new user's archive and daily questions.

Each test is one case of the issue (the wording of the case is in its docstring or first
comment). Indexes are built by ``evalsearch index`` itself; nothing is mocked.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from evalsearch.cli import app
from tests.conftest import REPO, SAMPLE_DUMP
from tests.factories import make_record
from tests.search_corpus import write_dump

runner = CliRunner()

ENGLISH = ("Traceback", "Usage", "Error:", "Errno", "Permission denied", "File exists")


def invoke(*args: str):
    result = runner.invoke(app, list(args), prog_name="evalsearch")
    for word in ENGLISH:
        assert word not in result.output, result.output
    return result


def flat(text: str) -> str:
    """Terminal output with its wrapped lines joined (lines wrap at 80 columns)."""
    return re.sub(r"\n +", "", text)


def build(corpus: Path, index: Path, *extra: str) -> None:
    result = invoke("index", str(corpus), "--index", str(index), *extra)
    assert result.exit_code == 0, result.output


def hits(index: Path, *query: str, extra: tuple[str, ...] = ()) -> list[str]:
    result = invoke("search", *query, "--index", str(index), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return [hit["id"] for hit in json.loads(result.stdout)["hits"]]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the sample dump corpus/000_*.txt (12276's オ is unresolved there)."""
    root = tmp_path_factory.mktemp("sample")
    (root / "corpus").mkdir()
    shutil.copy(SAMPLE_DUMP, root / "corpus" / SAMPLE_DUMP.name)
    build(root / "corpus", root / "index")
    return root / "index"


# --- index DIR mirrors DIR ----------------------------------------------------------------

EXTRA = (
    make_record(
        "40001",
        "市道除雪事業",
        department="建設課",
        activities="冬期の市道の除雪を業者に委託して行う。",
    ),
    make_record(
        "40002",
        "歩道除雪事業",
        department="建設課",
        activities="通学路の歩道の除雪を町内会と協力して行う。",
    ),
)


def test_index_dir_mirrors_dir_a_deleted_files_sheets_are_gone_and_counted(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE_DUMP, corpus / SAMPLE_DUMP.name)
    write_dump(corpus / "snow.txt", EXTRA)
    index = tmp_path / "index"
    build(corpus, index)
    assert sorted(hits(index, "除雪")) == ["2023-40001", "2023-40002"]
    (corpus / "snow.txt").unlink()
    result = invoke("index", str(corpus), "--index", str(index))
    assert result.exit_code == 0, result.output
    assert "なくなったファイル1" in result.stdout
    assert "削除2件、合計2件" in result.stdout
    assert hits(index, "除雪") == []
    result = invoke("show", "40001", "--index", str(index))
    assert result.exit_code == 1
    assert "事業 40001 は索引にありません" in result.stderr


# --- inferred answers: 推定 everywhere, never 回答; contradictions on them 要確認（推定） ------


def test_the_samples_unresolved_answer_is_labelled_inferred_everywhere(
    sample: Path, tmp_path: Path
) -> None:
    # corpus/000_*.txt: which box of ウ・エ・オ is ticked cannot be told for 12276, so its オ
    # is unresolved; the reason text leans to 統合. Nothing may say 12276 answered ある.
    show = invoke("show", "12276", "--index", str(sample))
    assert "→ 未確定（候補: ある／一部ある）" in show.stdout
    outputs = {
        "candidates": flat(invoke("candidates", "--index", str(sample)).stdout),
        "candidates json": invoke("candidates", "--index", str(sample), "--format", "json").stdout,
        "candidates csv": invoke("candidates", "--index", str(sample), "--format", "csv").stdout,
        "similar": flat(invoke("similar", "12770", "--index", str(sample)).stdout),
    }
    for suffix in ("md", "html", "csv"):
        out = tmp_path / f"report.{suffix}"
        result = invoke("report", "--candidates", "--index", str(sample), "--out", str(out))
        assert result.exit_code == 0, result.output
        outputs[f"report {suffix}"] = out.read_text("utf-8-sig")
    project = tmp_path / "project.md"
    invoke("report", "--project", "12276", "--index", str(sample), "--out", str(project))
    outputs["report --project"] = project.read_text("utf-8")
    for name, text in outputs.items():
        assert "12276 はオ（統合の可能性）に「ある」と回答" not in text, name
        assert "『ある（理由文から推定）』と回答" not in text, name
        if name != "similar":
            assert "推定" in text, name
    assert (
        "・12276 のオ（統合の可能性）は回答が未確定、理由文からは統合に前向きと推定"
        in (outputs["candidates"])
    )
    assert (
        "| オ 統合の可能性 | 未確定（理由文からは「ある」と推定） | ない |" in outputs["report md"]
    )
    row = next(csv.DictReader(io.StringIO(outputs["report csv"])))
    assert row["A_統合の回答"] == "未確定（理由文からは「ある」と推定）"
    # 12770's ない is read from its sheet: that contradiction is asserted, as 食い違いの疑い.
    assert "要確認（食い違いの疑い）: 12276「輸出促進支援事業」は【ウ】" in outputs["candidates"]


INFERRED = (
    make_record(
        "61001",
        "港まつり実行委員会補助金",
        department="観光課",
        answers={"オ": None},  # no box ticked: the answer is unresolved
        reasons={"オ": "他に類似する事業はないことから、統合の可能性はない。"},
        activities="港まつりの開催を補助し、観光客を呼び込む。",
    ),
    make_record(
        "61002",
        "観光イベント事業",
        department="商工課",
        reasons={"ウ": "港まつり実行委員会と事業を統合することを検討する。"},
        activities="港まつりなど観光イベントを開催し、観光客を呼び込む。",
        decision="見直しのうえで継続",
        measures=("統合・振替",),
    ),
)


def test_a_contradiction_on_an_inferred_answer_is_要確認_推定_in_every_output(
    tmp_path: Path,
) -> None:
    (tmp_path / "corpus").mkdir()
    write_dump(tmp_path / "corpus" / "i.txt", INFERRED)
    index = tmp_path / "index"
    build(tmp_path / "corpus", index)
    candidates = flat(invoke("candidates", "--index", str(index)).stdout)
    similar = flat(invoke("similar", "61002", "--index", str(index)).stdout)
    out = tmp_path / "r.md"
    invoke("report", "--candidates", "--index", str(index), "--out", str(out))
    report = out.read_text("utf-8")
    for text in (candidates, similar, report):
        assert "要確認（推定）" in text
        assert "食い違いの疑い）" not in text.split("## スコアの計算方法")[0]
        assert "61001「港まつり実行委員会補助金」はオ（統合の可能性）に" not in text
    assert "・要確認（推定）: 61002「観光イベント事業」は【ウ】" in candidates
    data = json.loads(invoke("candidates", "--index", str(index), "--format", "json").stdout)
    kinds = {reason["kind"] for reason in data["pairs"][0]["reasons"]}
    assert "contradiction_inferred" in kinds and "contradiction" not in kinds


# --- --answer and unresolved sheets -----------------------------------------------------------


def test_answer_filter_says_how_many_unresolved_sheets_it_left_out(sample: Path) -> None:
    result = invoke("search", "事業", "--index", str(sample), "--answer", "オ=ある")
    assert result.exit_code == 0, result.output
    squeezed = re.sub(r"\s+", "", result.stdout)
    assert "注:回答がダンプから確定しないシート1件（候補に指定の回答を含む）は含めていません" in (
        squeezed
    )
    assert "--include-unresolved" in squeezed
    assert hits(sample, "事業", extra=("--answer", "オ=ある")) == []
    assert hits(sample, "事業", extra=("--answer", "オ=ある", "--include-unresolved")) == [
        "2023-12276"
    ]
    # ない is not among 12276's candidates: --include-unresolved does not add it.
    assert hits(sample, "事業", extra=("--answer", "オ=ない", "--include-unresolved")) == [
        "2023-12770"
    ]


# --- candidates: top 50 with the total; clusters need strong ties -------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of 600 generated sheets (bench/generate.py): more than 50 candidate pairs."""
    root = tmp_path_factory.mktemp("generated")
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "generate.py"), "--n", "600", "--out", str(root)],
        check=True,
        capture_output=True,
    )
    build(root / "sheets", root / "index")
    return root / "index"


def test_candidates_show_50_by_default_and_state_the_total(generated: Path) -> None:
    data = json.loads(
        invoke("candidates", "--index", str(generated), "--format", "json", "-n", "100000").stdout
    )
    total = data["total"]
    assert total > 50 and len(data["pairs"]) == total
    table = invoke("candidates", "--index", str(generated)).stdout
    assert len(re.findall(r"^\d+\. \S+ .* ＋ ", table, re.M)) == 50
    assert f"全 {total} 件（上位 50 件を表示）" in table
    assert f"全 {total} 件のうち上位 50 件を表示" in table
    shown = json.loads(invoke("candidates", "--index", str(generated), "--format", "json").stdout)
    assert shown["total"] == total and len(shown["pairs"]) == 50
    rows = list(
        csv.DictReader(
            io.StringIO(invoke("candidates", "--index", str(generated), "--format", "csv").stdout)
        )
    )
    assert len(rows) == 50


def _pairs_and_clusters(index: Path) -> tuple[set[frozenset[str]], list[list[str]]]:
    data = json.loads(
        invoke("candidates", "--index", str(index), "--format", "json", "-n", "100000").stdout
    )
    return {frozenset((pair["a"], pair["b"])) for pair in data["pairs"]}, data["clusters"]


def test_clusters_never_chain_weak_links(generated: Path, tmp_path: Path) -> None:
    # Each member of a cluster is a candidate pair with at least half of the other members:
    # A–B–C–D… linked pair by pair is no merge proposal (the issue saw chains of 12).
    links, clusters = _pairs_and_clusters(generated)
    assert clusters
    for cluster in clusters:
        assert 2 < len(cluster) <= 12
        for member in cluster:
            tied = sum(frozenset((member, other)) in links for other in cluster if other != member)
            assert tied >= (len(cluster) - 1) / 2, (member, cluster)
    # A chain of ten sheets, each sharing words only with the next: one connected group
    # within the size limit, which used to be listed as one cluster of ten. It stays pairs
    # and triples.
    hobbies = ("陶芸", "書道", "茶道", "華道", "囲碁", "将棋", "俳句", "短歌", "水墨画", "篆刻")
    hobbies += ("盆栽",)
    chain = [
        make_record(
            f"8{i:04d}",
            f"文化教室{i}",
            department=f"課{i}",
            activities="、".join([hobbies[i]] + [hobbies[i + 1]] * (1 + (i * 5) % 4)) + "。",
        )
        for i in range(len(hobbies) - 1)
    ]
    (tmp_path / "corpus").mkdir()
    write_dump(tmp_path / "corpus" / "chain.txt", chain)
    build(tmp_path / "corpus", tmp_path / "index")
    links, clusters = _pairs_and_clusters(tmp_path / "index")
    numbers = [record.project_no for record in chain]
    assert {frozenset(pair) for pair in itertools.pairwise(numbers)} <= {
        frozenset(link_id.rsplit("-", 1)[1] for link_id in link) for link in links
    }  # every link of the chain is a candidate pair
    for cluster in clusters:
        assert len(cluster) <= 3
        assert all(sum(frozenset((m, o)) in links for o in cluster if o != m) >= 1 for m in cluster)


# --- real archives: many files, some bad, any letter case -------------------------------------


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "archive"
    folder.mkdir()
    shutil.copy(SAMPLE_DUMP, folder / "good1.txt")
    write_dump(folder / "good2.txt", EXTRA)
    (folder / "bad1.txt").write_text("これは評価シートではありません。\n", "utf-8")
    (folder / "bad2.txt").write_bytes(b"\x00\x01\x02\xff\xfe\x00" * 50)
    return folder


@pytest.mark.parametrize("command", ["parse", "index"])
def test_a_folder_with_bad_files_names_each_and_exits_1(
    mixed_folder: Path, tmp_path: Path, command: str
) -> None:
    index = tmp_path / "index"
    args = [command, str(mixed_folder)] + (["--index", str(index)] if command == "index" else [])
    result = invoke(*args)
    assert result.exit_code == 1
    for name, reason in (("bad1.txt", "テキストダンプではありません"), ("bad2.txt", "バイナリ")):
        assert re.search(rf"{name}: [^\n]*{reason}", result.stderr), result.stderr
        assert result.stderr.count(name) == 1
    for name in ("good1.txt", "good2.txt"):
        assert name not in result.stderr
    assert "2個のファイルを読めませんでした" in result.stderr
    assert not index.exists()  # nothing indexed from a run that stopped
    result = invoke(*args, "--keep-going")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("bad1.txt") == 1 and result.stderr.count("bad2.txt") == 1
    if command == "index":
        assert sorted(hits(index, "事業")) == [
            "2023-12276",
            "2023-12770",
            "2023-40001",
            "2023-40002",
        ]
    else:
        assert {record["id"] for record in json.loads(result.stdout)} == {
            "2023-12276",
            "2023-12770",
            "2023-40001",
            "2023-40002",
        }


def test_upper_case_txt_files_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "ARCHIVE"
    folder.mkdir()
    shutil.copy(SAMPLE_DUMP, folder / "SHEETS.TXT")
    write_dump(folder / "snow.Txt", EXTRA)
    build(folder, tmp_path / "index")
    assert len(hits(tmp_path / "index", "事業", extra=("-n", "10"))) == 4
    parsed = invoke("parse", str(folder), "--format", "jsonl")
    assert parsed.exit_code == 0 and len(parsed.stdout.splitlines()) == 4


# --- OS errors: a Japanese message and exit 1 ----------------------------------------------


def test_an_index_location_under_a_file_is_a_japanese_message(sample: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("メモ", "utf-8")
    result = invoke("index", str(SAMPLE_DUMP), "--index", str(blocker / "index"))
    assert result.exit_code == 1
    assert result.stderr.startswith("エラー: ")
    assert "ファイル" in result.stderr and "別の場所（--index など）" in result.stderr
    assert blocker.read_text("utf-8") == "メモ"
    result = invoke(
        "report", "--candidates", "--index", str(sample), "--out", str(blocker / "r.md")
    )
    assert result.exit_code == 1
    assert f"{blocker / 'r.md'} に書き出せません（" in result.stderr


def test_a_read_only_index_location_is_a_japanese_message(tmp_path: Path) -> None:
    parent = tmp_path / "shared"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        if os.access(parent, os.W_OK):
            pytest.skip(
                "このユーザー（root）は書き込み権限を無視できるため、読み取り専用の場所を作れません"
                "（ファイルの下の場所のテストは実行しています）"
            )
        result = invoke("index", str(SAMPLE_DUMP), "--index", str(parent / "index"))
        assert result.exit_code == 1
        assert "権限がありません" in result.stderr
        assert "別の場所（--index など）" in result.stderr
    finally:
        parent.chmod(0o755)


# --- a damaged index: one message for every command; index refuses to update it -----------


COMMANDS = (
    ("show", "12276"),
    ("search", "交流"),
    ("similar", "12276"),
    ("candidates",),
    ("history", "12276"),
    ("changes", "--year", "2023"),
)


@pytest.mark.parametrize("damage", ["truncated", "emptied"])
def test_a_damaged_records_file_gives_every_command_the_same_message(
    sample: Path, tmp_path: Path, damage: str
) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample, index)
    records = index / "records.jsonl"
    data = records.read_bytes()
    # Cut inside a multi-byte character: show used to die with UnicodeDecodeError.
    cut = next(i for i in range(len(data) // 2, len(data)) if data[i] >= 0xC0) + 1
    records.write_bytes(data[:cut] if damage == "truncated" else b"")
    messages = set()
    for command in COMMANDS:
        result = invoke(*command, "--index", str(index))
        assert result.exit_code == 1, (command, result.output)
        messages.add(result.stderr)
    (message,) = messages
    assert message.startswith(f"エラー: 索引 {index} が壊れているため読み込めません（records.jsonl")
    assert f"`evalsearch index PATH... --index {index} --rebuild`" in message
    # index PATH on the damaged index refuses to update it (it used to say 更新しました).
    result = invoke("index", str(SAMPLE_DUMP), "--index", str(index))
    assert result.exit_code == 1
    assert "更新しました" not in result.output
    assert result.stderr == message
    assert records.read_bytes() == (data[:cut] if damage == "truncated" else b"")
    # --rebuild repairs it.
    build(SAMPLE_DUMP, index, "--rebuild")
    assert invoke("show", "12276", "--index", str(index)).exit_code == 0


@pytest.mark.parametrize("fingerprint", ["stale", "updated"])
def test_a_corrupt_similarity_file_is_a_corrupt_index_not_numpy_advice(
    sample: Path, tmp_path: Path, fingerprint: str
) -> None:
    from evalsearch.store import Fingerprint

    index = tmp_path / "index"
    shutil.copytree(sample, index)
    target = index / "similarity-idf.npy"
    # An array of Python objects: numpy refuses it and suggests allow_pickle=True.
    np.save(target, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    if fingerprint == "updated":  # the manifest agrees: only the loader can notice
        manifest = json.loads((index / "manifest.json").read_text("utf-8"))
        manifest["artefacts"][target.name] = Fingerprint.of(target).to_dict()
        (index / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    for command in (("similar", "12276"), ("candidates",)):
        result = invoke(*command, "--index", str(index))
        assert result.exit_code == 1
        assert "allow_pickle" not in result.output and "pickle" not in result.output
        assert result.stderr.startswith("エラー: ")
        assert "壊れて" in result.stderr
        assert f"--index {index} --rebuild" in result.stderr


# --- queries -----------------------------------------------------------------------------


def test_one_word_repeated_1000_times_is_searched_with_a_note(sample: Path) -> None:
    result = invoke("search", *(["交流"] * 1000), "--index", str(sample))
    assert result.exit_code == 0, result.output
    assert "注: 検索語が多いため" in result.stdout
    assert ": 2件" in result.stdout
    quoted = invoke("search", " ".join(["交流"] * 1000), "--index", str(sample), "--format", "json")
    data = json.loads(quoted.stdout)
    assert data["total"] == 2 and data["notes"]


def test_two_words_without_quotes_are_one_query(sample: Path) -> None:
    result = invoke("search", "技能実習生", "交流", "--index", str(sample))
    assert result.exit_code == 0, result.output
    assert "「技能実習生 交流」: 2件" in result.stdout
    assert hits(sample, "技能実習生", "交流")[0] == "2023-12770"


def test_excluded_words_after_a_double_dash(sample: Path) -> None:
    result = invoke("search", "--index", str(sample), "--", "交流", "-技能実習生")
    assert result.exit_code == 0, result.output
    assert "「交流 -技能実習生」: 1件" in result.stdout
    data = json.loads(
        invoke(
            "search", "--index", str(sample), "--format", "json", "--", "交流", "-技能実習生"
        ).stdout
    )
    assert [hit["id"] for hit in data["hits"]] == ["2023-12276"]


@pytest.mark.parametrize("year", ["2023", "令和5", "令和５", "R5", "r5", "5", "５"])
def test_year_takes_western_reiwa_and_short_forms(sample: Path, year: str) -> None:
    assert sorted(hits(sample, "事業", extra=("--year", year))) == ["2023-12276", "2023-12770"]
    assert hits(sample, "事業", extra=("--year", "2022")) == []


@pytest.mark.parametrize("project", ["１２２７６", "２０２３－１２２７６", "2023-１２２７６"])
def test_show_takes_full_width_digits(sample: Path, project: str) -> None:
    result = invoke("show", project, "--index", str(sample))
    assert result.exit_code == 0, result.output
    assert "輸出促進支援事業（事業番号 12276・2023年度）" in result.stdout


def test_department_by_unique_prefix_and_close_names(sample: Path) -> None:
    assert hits(sample, "事業", extra=("--department", "総合政策")) == ["2023-12276"]
    assert hits(sample, "事業", extra=("--department", "商工")) == ["2023-12770"]
    result = invoke("search", "事業", "--index", str(sample), "--department", "総合政策課")
    assert result.exit_code == 1
    assert "--department 総合政策課 に当たる主管課はありません（近い名前: 総合政策室）" in (
        result.stderr
    )


# --- CSV: formula injection and the BOM -----------------------------------------------------

FORMULA_SHEETS = (
    make_record(
        "70001",
        '=HYPERLINK("http://example.com","観光案内")',
        department="+観光課",
        activities="観光案内所を運営し、観光客に観光情報を提供する。",
        reasons={"オ": "「@観光ガイド協会補助事業」と統合を検討する。"},
        answers={"オ": "ある"},
        decision="見直しのうえで継続",
        measures=("統合・振替",),
    ),
    make_record(
        "70002",
        "@観光ガイド協会補助事業",
        department="-観光課",
        activities="観光案内所で観光ガイドを育成し、観光客に観光情報を提供する。",
    ),
)

FORMULA_START = ("=", "+", "-", "@")


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


def test_csv_cells_that_excel_would_run_are_escaped(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    write_dump(tmp_path / "corpus" / "f.txt", FORMULA_SHEETS)
    index = tmp_path / "index"
    build(tmp_path / "corpus", index)
    out = tmp_path / "r.csv"
    assert invoke("report", "--candidates", "--index", str(index), "--out", str(out)).exit_code == 0
    outputs = {
        "search": invoke("search", "観光", "--index", str(index), "--format", "csv").stdout,
        "candidates": invoke("candidates", "--index", str(index), "--format", "csv").stdout,
        "report": out.read_text("utf-8"),
    }
    for name, text in outputs.items():
        cells = _cells(text)
        assert len(cells) > 12, name
        for cell in cells:
            assert not cell.startswith(FORMULA_START), (name, cell)
        assert '\'=HYPERLINK("http://example.com","観光案内")' in cells, name
        assert "'@観光ガイド協会補助事業" in cells, name
        assert {"'+観光課", "'-観光課"} <= set(cells), name


def test_bom_on_stdout_and_always_in_the_report_csv(sample: Path, tmp_path: Path) -> None:
    for command in (("search", "交流"), ("candidates",), ("changes", "--year", "2023")):
        plain = invoke(*command, "--index", str(sample), "--format", "csv")
        with_bom = invoke(*command, "--index", str(sample), "--format", "csv", "--bom")
        assert not plain.stdout.startswith("\ufeff"), command
        assert with_bom.stdout.startswith("\ufeff"), command
        assert with_bom.stdout_bytes.startswith(b"\xef\xbb\xbf")
        assert with_bom.stdout[1:] == plain.stdout
    for args in (("--candidates",), ("--project", "12276"), ("--changes", "--year", "2023")):
        out = tmp_path / "r.csv"
        invoke("report", *args, "--index", str(sample), "--out", str(out))
        assert out.read_bytes().startswith(b"\xef\xbb\xbf"), args


# --- names in half-width katakana ---------------------------------------------------------


def _katakana_sheets(named_half_width: bool) -> tuple:
    half, full = "根室ﾍﾞﾄﾅﾑ交流協会", "根室ベトナム交流協会"
    target_name, mention = (half, full) if named_half_width else (full, half)
    return (
        make_record(
            "12770",
            f"{target_name}補助事業",
            department="商工労働観光課",
            answers={"オ": "ない"},
            reasons={"オ": "類似する事業はない。"},
            activities="外国人技能実習生と地域住民の交流イベントを開催する。",
        ),
        make_record(
            "12276",
            "輸出促進支援事業",
            department="総合政策室",
            answers={"オ": "ある"},
            reasons={
                "ウ": f"民間主導で「{mention}」が設立されたことから、事業統合について検討を進める。"
            },
            activities="海外の商談会に出展し、地域の交流を進める。",
            decision="見直しのうえで継続",
            measures=("統合・振替",),
        ),
    )


@pytest.mark.parametrize("named_half_width", [True, False], ids=["name", "mention"])
def test_half_width_katakana_names_still_give_the_mention_evidence(
    tmp_path: Path, named_half_width: bool
) -> None:
    (tmp_path / "corpus").mkdir()
    write_dump(tmp_path / "corpus" / "k.txt", _katakana_sheets(named_half_width))
    index = tmp_path / "index"
    build(tmp_path / "corpus", index)
    candidates = flat(invoke("candidates", "--index", str(index)).stdout)
    assert "12276 の【ウ】が「根室ベトナム交流協会」（12770 " in candidates
    assert (
        "要確認（食い違いの疑い）: 12276「輸出促進支援事業」は【ウ】で「根室ベトナム交流協会」"
        in (candidates)
    )
    similar = flat(invoke("similar", "12276", "--index", str(index)).stdout)
    assert "言及: 12276 の【ウ】が「根室ベトナム交流協会」" in similar
    data = json.loads(invoke("candidates", "--index", str(index), "--format", "json").stdout)
    (pair,) = data["pairs"]
    assert pair["components"]["cross_reference"] > 0 and pair["contradictions"]
    out = tmp_path / "r.md"
    invoke("report", "--candidates", "--index", str(index), "--out", str(out))
    report = out.read_text("utf-8")
    assert "**名称の言及** 12276 の【ウ】が「根室ベトナム交流協会」" in report
    assert "**根室ベトナム交流協会**" in report  # the name marked where the sentence is shown
