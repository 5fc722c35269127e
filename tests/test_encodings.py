"""Dumps in real archives' encodings, and folder runs that name every bad file (issue #11)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from evalsearch.errors import DuplicateRecordError, ParseError, ParseErrors
from evalsearch.parse import (
    DumpFile,
    iter_dump_files,
    parse_file,
    parse_files,
    parse_paths,
    read_dump,
    read_dump_file,
)
from evalsearch.parse.encoding import ENCODING_LABELS, decode_dump

SHEETS = Path(__file__).parent / "data" / "sheets"
SAMPLE = SHEETS / "000_e354498715c974cd.txt"
SAMPLE_TEXT = SAMPLE.read_text("utf-8")
WELFARE_TEXT = (SHEETS / "100_welfare_two_orders.txt").read_text("utf-8")
SAMPLE_IDS = ["2023-12276", "2023-12770"]
WELFARE_IDS = ["2023-30015", "2023-30016"]
CRLF_TEXT = SAMPLE_TEXT.replace("\n", "\r\n")

# (bytes as a Windows tool writes them, the encoding detected)
ENCODED = {
    "utf-8": (SAMPLE_TEXT.encode("utf-8"), "utf-8"),
    "utf-8-bom": (codecs.BOM_UTF8 + SAMPLE_TEXT.encode("utf-8"), "utf-8-sig"),
    "utf-16-le-bom": (codecs.BOM_UTF16_LE + CRLF_TEXT.encode("utf-16-le"), "utf-16"),
    "utf-16-be-bom": (codecs.BOM_UTF16_BE + SAMPLE_TEXT.encode("utf-16-be"), "utf-16"),
    "utf-16-le": (CRLF_TEXT.encode("utf-16-le"), "utf-16-le"),
    "utf-16-be": (SAMPLE_TEXT.encode("utf-16-be"), "utf-16-be"),
    "cp932": (CRLF_TEXT.encode("cp932"), "cp932"),
}


def _ids(records: list) -> list[str]:
    return [record.id for record in records]


@pytest.mark.parametrize("name", ENCODED)
def test_each_encoding_reads_the_same_records(tmp_path: Path, name: str) -> None:
    data, encoding = ENCODED[name]
    path = tmp_path / f"{name}.txt"
    path.write_bytes(data)
    dump = read_dump_file(path)
    assert dump == DumpFile(path, data.decode(encoding), encoding)
    assert dump.text.replace("\r\n", "\n") == SAMPLE_TEXT
    assert dump.encoding_label == ENCODING_LABELS[encoding]
    assert read_dump(path) == dump.text
    expected = [record.to_dict() for record in parse_file(SAMPLE)]
    got = [record.to_dict() for record in parse_file(path)]
    for record in [*expected, *got]:
        record.pop("source")
    assert got == expected


def test_cp932_bytes_are_really_shift_jis() -> None:
    data, _ = ENCODED["cp932"]
    assert "事務事業評価".encode("cp932") in data  # b"\x8e\x96\x96\xb1..."
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"%PDF-1.7\n\xff\xfe\x00\x81",
            "UTF-8 のテキストとして読めません（NUL バイトを含むバイナリ",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL バイトを含むバイナリファイルです"),
        ("事務事業評価シート".encode("euc-jp") * 20, "半角カナや外字・制御文字ばかり"),
        (b"\x81\x00\x81", "NUL バイト"),
        (b"abc\x82\xff\x82", "UTF-16・CP932（Shift_JIS）としても読めません"),
        (codecs.BOM_UTF8 + b"\xff\xfe", "先頭に UTF-8 の BOM がありますが、UTF-8 として読めません"),
        (codecs.BOM_UTF16_LE + b"\x00\xd8\x41", "先頭に UTF-16LE の BOM がありますが"),
    ],
    ids=["pdf", "png", "euc-jp", "odd-length-nul", "neither", "bad-utf8-bom", "bad-utf16-bom"],
)
def test_bytes_that_are_not_text_are_refused_not_guessed(data: bytes, message: str) -> None:
    with pytest.raises(ParseError) as raised:
        decode_dump(data, file="x.txt")
    assert str(raised.value).startswith("x.txt: ")
    assert message in str(raised.value)


def test_utf16_without_line_breaks_is_not_guessed() -> None:
    # Without a BOM the byte order is told by the line breaks; without them, refuse.
    with pytest.raises(ParseError, match="バイナリ"):
        decode_dump("事業番号 12276".encode("utf-16-le"), file="x.txt")


def test_utf8_that_is_also_valid_cp932_stays_utf8() -> None:
    data = "総事業費\n".encode()
    assert data.decode("cp932") != "総事業費\n"  # valid CP932 too, as mojibake
    assert decode_dump(data, file="x.txt") == ("総事業費\n", "utf-8")


def test_a_non_dump_in_cp932_gets_the_usual_message(tmp_path: Path) -> None:
    path = tmp_path / "memo.txt"
    path.write_bytes("会議のメモです。\r\n評価シートではありません。\r\n".encode("cp932"))
    with pytest.raises(ParseError, match="事務事業評価シートのテキストダンプではありません"):
        parse_file(path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """2 good files (CP932, UTF-16 with BOM) and 2 bad ones (binary, not a dump)."""
    (tmp_path / "a_sample.txt").write_bytes(CRLF_TEXT.encode("cp932"))
    (tmp_path / "b_binary.txt").write_bytes(b"%PDF-1.7\n\x00\x01\x02\x03")
    (tmp_path / "c_memo.txt").write_text("会議のメモです。\n", "utf-8")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "D_WELFARE.TXT").write_bytes(codecs.BOM_UTF16_LE + WELFARE_TEXT.encode("utf-16-le"))
    (sub / "notes.md").write_text("not a dump", "utf-8")
    return tmp_path


def test_a_folder_run_reads_every_good_file_and_names_every_bad_one(folder: Path) -> None:
    outcomes = []
    with pytest.raises(ParseErrors) as raised:
        for outcome in parse_files([folder]):
            outcomes.append(outcome)
    assert [(o.path.name, o.encoding, o.ok) for o in outcomes] == [
        ("a_sample.txt", "cp932", True),
        ("b_binary.txt", None, False),
        ("c_memo.txt", "utf-8", False),
        ("D_WELFARE.TXT", "utf-16", True),
    ]
    assert _ids(list(outcomes[0].records)) == SAMPLE_IDS
    assert _ids(list(outcomes[3].records)) == WELFARE_IDS
    error = raised.value
    assert [e.file for e in error.errors] == [
        str(folder / "b_binary.txt"),
        str(folder / "c_memo.txt"),
    ]
    message = str(error)
    assert message.startswith("2個のファイルを読めませんでした。")
    assert f"{folder / 'b_binary.txt'}: UTF-8 のテキストとして読めません" in message
    assert f"{folder / 'c_memo.txt'}: 事務事業評価シートのテキストダンプではありません" in message


def test_keep_going_returns_the_outcomes_without_raising(folder: Path) -> None:
    outcomes = list(parse_files([folder], keep_going=True))
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert outcomes[0].encoding_label == "CP932（Shift_JIS）"
    assert outcomes[1].encoding_label is None
    assert isinstance(outcomes[2].error, ParseError)


def test_parse_paths_yields_the_good_records_then_raises_for_the_bad(folder: Path) -> None:
    records = []
    with pytest.raises(ParseErrors) as raised:
        for record in parse_paths([folder]):
            records.append(record)
    assert _ids(records) == SAMPLE_IDS + WELFARE_IDS
    assert len(raised.value.errors) == 2


def test_one_bad_file_raises_its_own_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(SAMPLE_TEXT, "utf-8")
    (tmp_path / "b.txt").write_text(SAMPLE_TEXT, "utf-8")
    with pytest.raises(DuplicateRecordError, match=r"b\.txt シート1: 同じID 2023-12276"):
        list(parse_paths([tmp_path]))
    with pytest.raises(ParseErrors) as raised:
        list(parse_files([tmp_path]))
    assert str(raised.value) == str(raised.value.errors[0])
    assert raised.value.file == str(tmp_path / "b.txt")


def test_a_file_with_a_duplicate_is_dropped_whole(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(SAMPLE_TEXT, "utf-8")
    (tmp_path / "b.txt").write_text(WELFARE_TEXT + "\n" + SAMPLE_TEXT, "utf-8")
    (tmp_path / "c.txt").write_text(WELFARE_TEXT, "utf-8")
    outcomes = list(parse_files([tmp_path], keep_going=True))
    assert [len(o.records) for o in outcomes] == [2, 0, 2]
    assert isinstance(outcomes[1].error, DuplicateRecordError)
    # b.txt's welfare sheets were forgotten with it, so c.txt's are not duplicates.
    assert outcomes[2].ok


def test_missing_paths_and_empty_directories_are_outcomes_too(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(SAMPLE_TEXT, "utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    outcomes = list(parse_files([tmp_path / "nope.txt", empty, tmp_path], keep_going=True))
    assert [(o.path.name, o.ok) for o in outcomes] == [
        ("nope.txt", False),
        ("empty", False),
        ("good.txt", True),
    ]
    assert "ファイルまたはディレクトリが見つかりません" in str(outcomes[0].error)
    assert "テキストダンプ（*.txt）がありません" in str(outcomes[1].error)


def test_dump_suffix_matches_in_any_case(tmp_path: Path) -> None:
    for name in ("A.TXT", "b.Txt", "c.txt", "d.text", "e.txt.bak"):
        (tmp_path / name).write_text(SAMPLE_TEXT, "utf-8")
    assert [path.name for path in iter_dump_files([tmp_path])] == ["A.TXT", "b.Txt", "c.txt"]


def test_strict_fails_only_the_file_with_warnings(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(SAMPLE_TEXT, "utf-8")  # sheet 1 has warnings
    (tmp_path / "b.txt").write_text(WELFARE_TEXT, "utf-8")  # clean
    outcomes = list(parse_files([tmp_path], strict=True, keep_going=True))
    assert [o.ok for o in outcomes] == [False, True]
    assert "警告があります（--strict）" in str(outcomes[0].error)
