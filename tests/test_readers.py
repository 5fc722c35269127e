"""Tables of sheets (.xlsx, .csv) → records: the real 大船渡市 file and small tables made here."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest

from evalsearch.errors import DuplicateRecordError, ParseError
from evalsearch.forms import ENV_VAR, FormProfile, load_profile
from evalsearch.readers import (
    END_BLANK_ROWS,
    TableReadResult,
    decode_table_bytes,
    detect_profile,
    read_table,
)
from evalsearch.records import SheetRecord

REPO = Path(__file__).resolve().parent.parent
OFUNATO = REPO / "corpus" / "ofunato" / "report.xlsx"
NEMURO_DUMP = REPO / "corpus" / "000_e354498715c974cd.txt"
TABLES = REPO / "tests" / "data" / "tables"
MIHON = TABLES / "mihon.toml"

Cells = Sequence[object]


@pytest.fixture(scope="module")
def ofunato() -> TableReadResult:
    return read_table(OFUNATO)


@pytest.fixture
def mihon() -> FormProfile:
    return load_profile(MIHON)


@pytest.fixture
def user_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test profile (見本市) is a user profile, as a planner would install theirs."""
    monkeypatch.setenv(ENV_VAR, str(TABLES))


def by_no(result: TableReadResult, project_no: str) -> SheetRecord:
    return next(record for record in result.records if record.project_no == project_no)


# --- the real file -----------------------------------------------------------------------


def test_real_file_reads_every_sheet(ofunato: TableReadResult) -> None:
    assert len(ofunato.records) == 407
    assert ofunato.skipped_rows == ()
    assert ofunato.profile.id == "ofunato"
    assert (ofunato.sheet, ofunato.header_row) == ("データ集計マクロ用シート", 2)
    assert len({record.id for record in ofunato.records}) == 407
    for record in ofunato.records:
        assert (record.municipality, record.form, record.fiscal_year) == (
            "大船渡市",
            "ofunato",
            2025,
        )
        assert len(record.project_no) == 4 and record.project_no.isdigit()
        assert record.project_name and record.department and record.section
        assert list(record.assessments) == ["①", "②", "③", "④", "⑤", "⑥", "⑦", "⑧"]
        for key, assessment in record.assessments.items():
            assert assessment.answer in ofunato.profile.item(key).options
        assert record.budget.columns == ("R2実績", "R3実績", "R4実績", "R5実績", "R6実績", "R7計画")
        assert record.policy_area and record.policy_goal and record.activities and record.intent
    assert [record.source.sheet_index for record in ofunato.records] == list(range(3, 410))


@pytest.mark.parametrize(
    ("row", "project_no", "name", "key", "answer", "reason_prefix", "decision", "costs"),
    # costs: 事業費計 of R2 and R3, トータルコスト of R2 (千円).
    [
        # Read by opening the file: row 3, columns H, I, GG, GH, GW, BY/CR and CC.
        (
            3,
            "0086",
            "不法投棄対策事業",
            "①",
            "結びついている",
            "不法投棄された廃棄物の処理や市民に対しての意識啓発",
            "現状維持",
            (3089, 2948, 4209),
        ),
        # Row 27: ② answered 見直し余地がある; direction ２ 改革改善（縮小・統合含む）.
        (
            27,
            "0869",
            "市民講座開催",
            "②",
            "見直し余地がある",
            "大学連携講座については市民が市内にいながら",
            "改革改善（縮小・統合含む）",
            (1682, 1129, 3162),
        ),
    ],
)
def test_real_file_spot_checks(
    ofunato: TableReadResult,
    row: int,
    project_no: str,
    name: str,
    key: str,
    answer: str,
    reason_prefix: str,
    decision: str,
    costs: tuple[int, int, int],
) -> None:
    record = by_no(ofunato, project_no)
    assert record.source.sheet_index == row
    assert record.project_name == name
    assert record.assessments[key].answer == answer
    assert record.assessments[key].reason.startswith(reason_prefix)
    assert record.direction.decision == decision
    assert record.budget.project_cost is not None and record.budget.total_cost is not None
    assert (*record.budget.project_cost[:2], record.budget.total_cost[0]) == costs


def test_real_file_keeps_values_as_typed(ofunato: TableReadResult) -> None:
    record = by_no(ofunato, "0086")
    assert record.affairs_type == "Ｅ　一般"
    assert record.target == "市民\n不法投棄廃棄物"
    assert record.texts["概要"].startswith("廃棄物の不法投棄を防止するため")
    assert "\n" in record.texts["概要"]
    assert record.created == "2025-09-25"
    assert record.outlook_needs.startswith("廃棄物の減量化と再資源化")
    assert record.texts["課長等の方向性"] == "１　現状維持"


def test_real_file_numeric_zero_id_is_padded_to_the_column_width(ofunato: TableReadResult) -> None:
    record = by_no(ofunato, "0000")
    assert record.project_name == "中野地区水路改修事業"
    assert record.source.sheet_index == 314


def test_real_file_direction_outside_options_is_a_warning(ofunato: TableReadResult) -> None:
    record = by_no(ofunato, "0420")
    assert record.direction.decision is None
    assert ofunato.warnings == record.warnings
    (warning,) = ofunato.warnings
    assert warning.startswith("183 行目 GW 列「(1) 改革改善の方向性」")
    assert "「0」" in warning


def test_real_file_integration_direction_carries_the_concept(ofunato: TableReadResult) -> None:
    merging = [r for r in ofunato.records if ofunato.profile.means_integration(r.direction)]
    assert len(merging) == 168


def test_real_file_reads_in_under_three_seconds() -> None:
    # CPU time of this process: other jobs on the machine must not make the test flaky.
    start = time.process_time()
    result = read_table(OFUNATO)
    elapsed = time.process_time() - start
    assert len(result.records) == 407
    assert elapsed < 3.0, f"{elapsed:.2f} s"


def test_detect_profile_of_the_real_file_and_a_dump() -> None:
    assert detect_profile(OFUNATO).id == "ofunato"
    assert detect_profile(NEMURO_DUMP).id == "nemuro"


def test_a_text_dump_goes_to_the_dump_parser() -> None:
    result = read_table(NEMURO_DUMP)
    assert result.profile.id == "nemuro"
    assert [record.project_no for record in result.records] == ["12276", "12770"]
    assert all(record.form == "nemuro" for record in result.records)


# --- small tables --------------------------------------------------------------------------

HEADERS: list[object] = [
    "年度",
    "事業番号",
    "事業名",
    "担当課",
    "① 必要性",
    "①の理由",
    "② 統合の可能性",
    "②の理由",
    "事業の概要",
    "意図",
    "今後の方向性",
    *(["国庫支出金", "県支出金", "事業費（千円）"] * 2),
]

# Wrapped, spaced and half/full-width differently from mihon.toml, as collection tables are.
MESSY_HEADERS: list[object] = [
    "年\n度",
    "事業\n番号",
    "事 業 名",
    "担当課 ",
    "①\u3000必要性",
    "①の\n理由",
    "②統合の可能性",
    "② の 理由",
    "事業の\n概要",
    "意\u3000図",
    "今後の\n方向性",
    *(["国庫\n支出金", "県 支出金", "事業費(千円)"] * 2),
]

ROW_A: list[object] = [
    6,
    "0012",
    "子育て応援事業",
    "こども課",
    "ある",
    "\u3000子育て世帯の負担を\n軽くするため。",
    "できない",
    "似た事業はない。",
    "相談会を年１２回開く。\n・出張相談",
    "子育ての不安が減る。",
    "継続",
    100,
    50,
    1200,
    0,
    "－",
    "1,300",
]
ROW_B: list[object] = [
    "令和6年度",
    7,
    "防災啓発事業",
    "総務課",
    "ない",
    "自主防災組織が担える。",
    "できる",
    "防災訓練事業と統合できる。",
    "防災講座を開く。",
    "備える世帯が増える。",
    "２\u3000統合",
    None,
    None,
    300,
    None,
    None,
    280,
]


def write_xlsx(path: Path, rows: Sequence[Cells]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def csv_text(rows: Sequence[Cells]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return out.getvalue()


def title_then(*rows: Cells) -> list[Cells]:
    """A title line and a blank line above the header, as exported tables often have."""
    return [["令和6年度 事務事業評価 集計表"], [], *rows]


def test_headers_match_across_line_breaks_spaces_and_width(
    tmp_path: Path, mihon: FormProfile
) -> None:
    path = write_xlsx(tmp_path / "messy.xlsx", title_then(MESSY_HEADERS, ROW_A, ROW_B))
    result = read_table(path, mihon)
    assert result.header_row == 3
    assert result.warnings == ()
    first, second = result.records
    assert (first.project_no, first.fiscal_year, first.municipality, first.form) == (
        "0012",
        2024,
        "見本市",
        "mihon",
    )
    assert first.assessments["①"].answer == "ある"
    assert first.assessments["①"].reason == "子育て世帯の負担を\n軽くするため。"
    assert first.texts == {"概要": "相談会を年１２回開く。\n・出張相談"}
    assert first.intent == "子育ての不安が減る。"
    assert first.budget.columns == ("R5決算", "R6予算")
    assert first.budget.national_prefectural == (150, 0)
    assert first.budget.project_cost == (1200, 1300)
    assert first.source.sheet_index == 4
    # A number typed in the id column is padded to the width of the others (7 → 0007).
    assert (second.project_no, second.fiscal_year) == ("0007", 2024)
    assert second.direction.decision == "統合"
    assert mihon.means_integration(second.direction)


def test_detect_profile_finds_a_user_profile(tmp_path: Path, user_forms: None) -> None:
    path = write_xlsx(tmp_path / "messy.xlsx", title_then(MESSY_HEADERS, ROW_A))
    assert detect_profile(path).id == "mihon"
    assert read_table(path).profile.id == "mihon"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "utf-16"])
def test_csv_encodings_are_detected(tmp_path: Path, mihon: FormProfile, encoding: str) -> None:
    row_b = ["R6", "0007", *ROW_B[2:]]
    path = tmp_path / f"table-{encoding}.csv"
    path.write_bytes(csv_text([HEADERS, ROW_A, row_b]).encode(encoding))
    result = read_table(path, mihon)
    assert [record.project_name for record in result.records] == ["子育て応援事業", "防災啓発事業"]
    first = result.records[0]
    assert first.texts["概要"] == "相談会を年１２回開く。\n・出張相談"
    assert first.fiscal_year == 2024 and result.records[1].fiscal_year == 2024
    assert first.budget.project_cost == (1200, 1300)


def test_utf8_is_never_read_as_cp932() -> None:
    text = "事業名,担当課\r\n子育て応援事業,こども課\r\n"
    assert decode_table_bytes(text.encode("utf-8"), file="t.csv") == (text, "utf-8")
    assert decode_table_bytes(text.encode("cp932"), file="t.csv") == (text, "cp932")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("事業名,担当課\n子育て応援事業,こども課\n".encode("euc_jp"), "半角カナ"),
        (b"\xfd\xfd\xfd,\x82\xa0", "外字"),
        (b"\x82\xa0\x82", "UTF-8 でも CP932"),
    ],
)
def test_undecodable_csv_is_refused(
    tmp_path: Path, mihon: FormProfile, data: bytes, why: str
) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(data)
    with pytest.raises(ParseError, match="文字コードを判定できません") as error:
        read_table(path, mihon)
    assert why in str(error.value) and str(path) in str(error.value)


def test_unknown_layout_lists_missing_and_closest_headers(tmp_path: Path, user_forms: None) -> None:
    headers = ["年度", "事業No", "事業名称", "担当課", "① 必要性"]
    path = write_xlsx(tmp_path / "other.xlsx", [headers, [6, "1", "x", "y", "ある"]])
    with pytest.raises(ParseError) as error:
        read_table(path)
    message = str(error.value)
    assert message.startswith(f"{path}: 表の見出しがどの様式にも合いません")
    assert "- ofunato（大船渡市）" in message and "- mihon（見本市）" in message
    assert "見つからない見出し「事業名」（近い見出し: 「事業名称」、「事業No」）" in message
    assert "見つからない見出し「事業番号」（近い見出し: 「事業名称」、「事業No」）" in message
    assert "見つからない見出し「事務事業ID」（近い見出しなし）" in message
    assert "見つからない見出し「②の理由」" in message


def test_rows_without_id_or_name_are_skipped_and_counted(
    tmp_path: Path, mihon: FormProfile
) -> None:
    no_id = [6, None, "名前だけの事業", *ROW_A[3:]]
    no_name = [6, "0099", "  ", *ROW_A[3:]]
    neither = [6, None, None, "メモだけの行"]
    rows: list[Cells] = [HEADERS, ROW_A, no_id, [], no_name, neither, ROW_B]
    result = read_table(write_xlsx(tmp_path / "gaps.xlsx", rows), mihon)
    assert [record.project_no for record in result.records] == ["0012", "0007"]
    assert result.skipped_rows == (3, 5, 6)
    assert result.warnings == (
        "3 行目: 事業番号が空のため読み飛ばしました",
        "5 行目: 事業名が空のため読み飛ばしました",
        "6 行目: 事業番号・事業名が空のため読み飛ばしました",
    )


def test_duplicate_ids_name_both_rows(tmp_path: Path, mihon: FormProfile) -> None:
    again = [6, "0012", "別の事業", *ROW_A[3:]]
    path = write_xlsx(tmp_path / "dup.xlsx", [HEADERS, ROW_A, ROW_B, again])
    with pytest.raises(DuplicateRecordError) as error:
        read_table(path, mihon)
    assert "2024-0012" in str(error.value)
    assert "2 行目と 4 行目" in str(error.value)
    assert str(path) in str(error.value)


def test_answer_outside_options_is_a_warning_naming_row_and_column(
    tmp_path: Path, mihon: FormProfile
) -> None:
    odd = list(ROW_A)
    odd[4] = "たぶんある"
    path = write_xlsx(tmp_path / "odd.xlsx", [HEADERS, odd])
    result = read_table(path, mihon)
    (record,) = result.records
    assert record.assessments["①"].answer is None
    assert record.assessments["①"].reason.startswith("子育て世帯")
    assert result.warnings == (
        "2 行目 E 列「① 必要性」: 回答「たぶんある」は設問①の選択肢（ある／ない）にありません",
    )
    assert record.warnings == result.warnings


def test_the_table_sheet_is_found_and_a_second_one_is_reported(
    tmp_path: Path, mihon: FormProfile
) -> None:
    workbook = openpyxl.Workbook()
    notes = workbook.active
    assert notes is not None
    notes.title = "説明"
    notes.append(["この表は見本市の事務事業評価です。"])
    for title, row in (("R6", ROW_A), ("R6追加", ROW_B)):
        sheet = workbook.create_sheet(title)
        sheet.append(HEADERS)
        sheet.append(row)
    path = tmp_path / "sheets.xlsx"
    workbook.save(path)
    result = read_table(path, mihon)
    assert result.sheet == "R6"
    assert [record.project_no for record in result.records] == ["0012"]
    (warning,) = result.warnings
    assert warning.startswith("シート「R6追加」も様式「mihon」の表ですが")


def test_blank_rows_inside_the_table_do_not_end_it(tmp_path: Path, mihon: FormProfile) -> None:
    gap = [[None] * len(HEADERS)] * (END_BLANK_ROWS - 1)
    path = write_xlsx(tmp_path / "gap.xlsx", [HEADERS, ROW_A, *gap, ROW_B])
    assert [r.project_no for r in read_table(path, mihon).records] == ["0012", "0007"]


def test_fiscal_year_falls_back_to_the_profile_default(tmp_path: Path, mihon: FormProfile) -> None:
    rows = [
        [year, f"00{index}", "事業", *ROW_A[3:]] for index, year in enumerate([None, 2023, "R5"])
    ]
    path = write_xlsx(tmp_path / "years.xlsx", [HEADERS, *rows])
    assert [r.fiscal_year for r in read_table(path, mihon).records] == [2024, 2023, 2023]


def test_text_file_named_xlsx_is_refused(tmp_path: Path, mihon: FormProfile) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("事業名,担当課\n", encoding="utf-8")
    with pytest.raises(ParseError, match=r"Excel ブック（\.xlsx）として読めません") as error:
        read_table(path, mihon)
    assert str(error.value).startswith(str(path))


def test_zip_that_is_not_a_workbook_is_refused(tmp_path: Path, mihon: FormProfile) -> None:
    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    with pytest.raises(ParseError, match="として読めません"):
        read_table(path, mihon)


def test_encrypted_workbook_is_refused_with_the_fix(tmp_path: Path, mihon: FormProfile) -> None:
    # Excel saves a password-protected .xlsx as an OLE compound file, not a zip.
    path = tmp_path / "locked.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    with pytest.raises(ParseError, match="パスワード") as error:
        read_table(path, mihon)
    assert str(path) in str(error.value)


def test_missing_file_and_unknown_suffix(tmp_path: Path, mihon: FormProfile) -> None:
    with pytest.raises(ParseError, match="見つかりません"):
        read_table(tmp_path / "none.xlsx", mihon)
    other = tmp_path / "table.ods"
    other.write_bytes(b"")
    with pytest.raises(ParseError, match="表として読める形式ではありません"):
        read_table(other, mihon)
