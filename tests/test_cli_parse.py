"""`evalsearch parse`: formats, and every bad input with its message and exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsearch.cli import app

SHEETS = Path(__file__).parent / "data" / "sheets"
SAMPLE = SHEETS / "000_e354498715c974cd.txt"
SAMPLE_TEXT = SAMPLE.read_text("utf-8")
runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def test_json_reproduces_the_reference_ids_in_file_then_sheet_order() -> None:
    result = invoke(
        "parse", str(SAMPLE), str(SHEETS / "100_welfare_two_orders.txt"), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["id"] for r in records] == ["2023-12276", "2023-12770", "2023-30015", "2023-30016"]


def test_jsonl_prints_one_record_per_line() -> None:
    result = invoke("parse", str(SAMPLE), "--format", "jsonl")
    lines = result.stdout.strip().split("\n")
    assert [json.loads(line)["project_no"] for line in lines] == ["12276", "12770"]


def test_table_lists_sheets_and_reports_warnings_on_stderr() -> None:
    result = invoke("parse", str(SAMPLE), "--format", "table")
    assert result.exit_code == 0
    assert "2023-12276" in result.stdout and "2023-12770" in result.stdout
    assert "警告: 2023-12276: ウ・エ・オ" in result.stderr


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "memo.txt",
            "会議のメモです。\n評価シートではありません。\n",
            "memo.txt: 事務事業評価シートのテキストダンプではありません",
        ),
        ("empty.txt", "", "empty.txt: 事務事業評価シートのテキストダンプではありません"),
        (
            "truncated.txt",
            SAMPLE_TEXT[: SAMPLE_TEXT.index("イ．")],
            "truncated.txt シート1: シートが途中で切れているか、様式が違います。見つからない項目: 評価の設問「ア．」、評価の設問「イ．」、評価の設問「ウ．」、評価の設問「エ．」",
        ),
        (
            "truncated_second.txt",
            SAMPLE_TEXT[: SAMPLE_TEXT.index("２　事務事業の概要と目的\n\n対　象")],
            "truncated_second.txt シート2: シートが途中で切れているか、様式が違います。",
        ),
        (
            "unknown_option.txt",
            SAMPLE_TEXT.replace(
                "□ある　　□一部ある　　■ない\n\n他に類似", "□ある　　□たぶん　　■ない\n\n他に類似"
            ),
            "unknown_option.txt シート2: 381行目: 不明なチェック項目「たぶん」があります。",
        ),
    ],
    ids=["not-a-dump", "empty", "truncated", "truncated-second-sheet", "unknown-option"],
)
def test_bad_input_names_file_sheet_and_problem(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = _write(tmp_path, name, content)
    result = invoke("parse", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("エラー: ")
    assert message in result.stderr.replace(str(tmp_path) + "/", "")


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.txt", SAMPLE_TEXT)
    second = _write(tmp_path, "b.txt", SAMPLE_TEXT)
    result = invoke("parse", str(first), str(second))
    assert result.exit_code == 1
    assert (
        f"{second} シート1: 同じID 2023-12276（年度-事業番号）のシートが2つあります（先に {first} シート1）"
        in result.stderr
    )


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sheet.pdf.txt"
    path.write_bytes(b"%PDF-1.7\n\xff\xfe\x00\x81")
    result = invoke("parse", str(path))
    assert result.exit_code == 1
    assert "UTF-8 のテキストとして読めません" in result.stderr


def test_missing_file() -> None:
    result = invoke("parse", "no/such/file.txt")
    assert result.exit_code == 1
    assert "no/such/file.txt: ファイルまたはディレクトリが見つかりません" in result.stderr


def test_strict_turns_warnings_into_errors() -> None:
    assert invoke("parse", str(SAMPLE)).exit_code == 0
    result = invoke("parse", str(SAMPLE), "--strict")
    assert result.exit_code == 1
    assert (
        "シート1: 警告があります（--strict）: ウ・エ・オ: どの回答欄がどの設問のものか判別できません"
        in result.stderr
    )


def test_strict_passes_clean_sheets() -> None:
    result = invoke("parse", str(SHEETS / "100_welfare_two_orders.txt"), "--strict")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    "args", [["parse"], ["parse", str(SAMPLE), "--format", "xml"], ["parse", "--nope"]]
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert invoke(*args).exit_code == 2


def test_a_directory_without_dumps_is_an_error(tmp_path: Path) -> None:
    result = invoke("parse", str(tmp_path))
    assert result.exit_code == 1
    assert f"{tmp_path}: テキストダンプ（*.txt）がありません" in result.stderr
