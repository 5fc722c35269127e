"""Issue #11: Shift_JIS (CP932) and UTF-16 dumps through the CLI, with the encoding shown.

Real bytes as Windows tools write them (CRLF line ends, BOMs or none); they used to be
refused with advice about PDFs.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsearch.cli import app
from tests.conftest import SAMPLE_DUMP
from tests.factories import make_record
from tests.search_corpus import write_dump

runner = CliRunner()

TEXT = SAMPLE_DUMP.read_text("utf-8")
CRLF = TEXT.replace("\n", "\r\n")

ENCODED = {
    "cp932": (CRLF.encode("cp932"), "CP932（Shift_JIS）"),
    "utf-16-le-bom": (codecs.BOM_UTF16_LE + CRLF.encode("utf-16-le"), "UTF-16（BOM付き）"),
    "utf-16-be-bom": (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "UTF-16（BOM付き）"),
    "utf-16-le": (CRLF.encode("utf-16-le"), "UTF-16LE（BOMなし）"),
    "utf-16-be": (TEXT.encode("utf-16-be"), "UTF-16BE（BOMなし）"),
    "utf-8-bom": (codecs.BOM_UTF8 + CRLF.encode("utf-8"), "UTF-8（BOM付き）"),
}


def invoke(*args: str):
    result = runner.invoke(app, list(args), prog_name="evalsearch")
    assert "Traceback" not in result.output
    return result


def _records(*args: str) -> list[dict]:
    result = invoke("parse", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    for record in records:
        record.pop("source")
    return records


@pytest.mark.parametrize("name", ENCODED)
def test_parse_reads_the_dump_and_shows_its_encoding(tmp_path: Path, name: str) -> None:
    data, label = ENCODED[name]
    path = tmp_path / f"{name}.txt"
    path.write_bytes(data)
    result = invoke("parse", str(path), "--format", "table")
    assert result.exit_code == 0, result.output
    assert f"読み込み: {path}（{label}、2シート）" in result.stderr
    assert "2023-12276" in result.stdout and "2023-12770" in result.stdout
    assert "PDF" not in result.output
    assert _records(str(path)) == _records(str(SAMPLE_DUMP))


def test_index_reads_a_folder_of_mixed_encodings(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "sample-sjis.txt").write_bytes(ENCODED["cp932"][0])
    snow = folder / "snow.utf8"
    write_dump(
        snow,
        (
            make_record("40001", "市道除雪事業", department="建設課", activities="市道の除雪。"),
            make_record("40002", "歩道除雪事業", department="建設課", activities="歩道の除雪。"),
        ),
    )
    text = snow.read_text("utf-8")
    snow.unlink()
    (folder / "snow-utf16le.txt").write_bytes(text.replace("\n", "\r\n").encode("utf-16-le"))
    index = tmp_path / "index"
    result = invoke("index", str(folder), "--index", str(index))
    assert result.exit_code == 0, result.output
    assert "合計4件" in result.stdout
    found = invoke("search", "除雪", "--index", str(index), "--format", "json")
    assert sorted(hit["id"] for hit in json.loads(found.stdout)["hits"]) == [
        "2023-40001",
        "2023-40002",
    ]
    shown = invoke("show", "12770", "--index", str(index))
    assert "根室ベトナム交流協会補助事業" in shown.stdout
    assert "外国人技能実習生と地域住民との交流イベント" in shown.stdout
