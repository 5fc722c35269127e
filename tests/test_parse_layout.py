"""Block orders, content cues, multi-sheet files and checkbox groups, on variants of real dumps."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from evalsearch.parse import parse_paths, parse_text
from evalsearch.records import SheetRecord

SHEETS = Path(__file__).parent / "data" / "sheets"
SAMPLE_TEXT = (SHEETS / "000_e354498715c974cd.txt").read_text("utf-8")
WELFARE_TEXT = (SHEETS / "100_welfare_two_orders.txt").read_text("utf-8")
SCRAMBLED_SHEET = SAMPLE_TEXT[: SAMPLE_TEXT.index("5-11") + len("5-11\n")]
CLEAN_SHEET = SAMPLE_TEXT[len(SCRAMBLED_SHEET) :]


def _squash(text: str) -> str:
    return re.sub(r"\s", "", text)


def _box_index(boxes: list[str], reason: str) -> int:
    matches = [index for index, box in enumerate(boxes) if _squash(box) == _squash(reason)]
    assert len(matches) == 1, reason
    return matches[0]


def _move_reasons(text: str, reasons: dict[str, str], order: dict[str, str]) -> str:
    """Print item ``order[x]``'s reason in the box where item ``x``'s reason was."""
    boxes = text.split("\n\n")
    slots = {item: _box_index(boxes, reason) for item, reason in reasons.items()}
    moved = list(boxes)
    for item, source in order.items():
        moved[slots[item]] = boxes[slots[source]]
    return "\n\n".join(moved)


def _only(text: str) -> SheetRecord:
    records = parse_text(text, file="variant.txt")
    assert len(records) == 1
    return records[0]


SCRAMBLED = _only(SCRAMBLED_SHEET)
MOVABLE = ("ア", "イ", "ウ", "エ", "オ")  # カ's reason starts on its question's line


PERMUTATIONS = [p for p in itertools.permutations(MOVABLE) if p != MOVABLE][::11]
DETACHED_QUESTION_BOX = "市以外がその事業に取り\n組むことは可能ですか\n（民間、ＮＰＯ等）\n\n"
UNKNOWN_LAYOUT = SCRAMBLED_SHEET.replace(DETACHED_QUESTION_BOX, "")


@pytest.mark.parametrize("permutation", PERMUTATIONS, ids="".join)
def test_known_scrambled_order_places_reasons_by_their_boxes(permutation: tuple[str, ...]) -> None:
    reasons = {item: SCRAMBLED.assessments[item].reason for item in MOVABLE}
    order = dict(zip(MOVABLE, permutation, strict=True))
    variant = _only(_move_reasons(SCRAMBLED_SHEET, reasons, order))
    for item, source in order.items():
        assert _squash(variant.assessments[item].reason) == _squash(reasons[source]), item


@pytest.mark.parametrize("permutation", PERMUTATIONS, ids="".join)
def test_unknown_layout_places_reasons_by_content(permutation: tuple[str, ...]) -> None:
    assert DETACHED_QUESTION_BOX in SCRAMBLED_SHEET
    reasons = {item: SCRAMBLED.assessments[item].reason for item in MOVABLE}
    variant = _only(
        _move_reasons(UNKNOWN_LAYOUT, reasons, dict(zip(MOVABLE, permutation, strict=True)))
    )
    for item in MOVABLE:
        assert _squash(variant.assessments[item].reason) == _squash(reasons[item]), item


def test_scrambled_order_rejoins_a_reason_split_over_two_boxes() -> None:
    reason = SCRAMBLED.assessments["カ"].reason
    assert reason.startswith("既に、輸出促進に") and reason.endswith("当面新たな負担は求めない。")


def test_clean_order_trusts_position_over_content() -> None:
    clean = _only(CLEAN_SHEET)
    reasons = {item: clean.assessments[item].reason for item in ("ウ", "エ")}
    swapped = _only(_move_reasons(CLEAN_SHEET, reasons, {"ウ": "エ", "エ": "ウ"}))
    assert _squash(swapped.assessments["ウ"].reason) == _squash(reasons["エ"])
    assert _squash(swapped.assessments["エ"].reason) == _squash(reasons["ウ"])
    assert not any("不確か" in warning for warning in swapped.warnings)


def test_clean_order_pins_shared_answer_rows_to_their_labels() -> None:
    clean = _only(CLEAN_SHEET)
    assert {item: clean.assessments[item].answer for item in ("ウ", "エ", "オ")} == {
        "ウ": "ない",
        "エ": "一部ある",
        "オ": "ない",
    }
    assert clean.warnings == ()


def test_scrambled_shared_rows_that_agree_resolve_without_warning() -> None:
    record = parse_text(WELFARE_TEXT, file="welfare.txt")[1]
    assert {item: record.assessments[item].answer for item in ("ウ", "エ", "オ")} == dict.fromkeys(
        ("ウ", "エ", "オ"), "ある"
    )
    assert record.warnings == ()


@pytest.mark.parametrize(
    ("dumps", "ids"),
    [
        ((SAMPLE_TEXT,), ["2023-12276", "2023-12770"]),
        ((WELFARE_TEXT,), ["2023-30015", "2023-30016"]),
        ((SAMPLE_TEXT, WELFARE_TEXT), ["2023-12276", "2023-12770", "2023-30015", "2023-30016"]),
        ((WELFARE_TEXT, SAMPLE_TEXT), ["2023-30015", "2023-30016", "2023-12276", "2023-12770"]),
        ((CLEAN_SHEET, SCRAMBLED_SHEET), ["2023-12770", "2023-12276"]),
    ],
    ids=["sample", "welfare", "sample+welfare", "welfare+sample", "clean-then-scrambled"],
)
def test_multi_sheet_files_split_into_sheets_in_order(
    dumps: tuple[str, ...], ids: list[str]
) -> None:
    records = parse_text("\n".join(dumps), file="many.txt")
    assert [record.id for record in records] == ids
    assert [record.source.sheet_index for record in records] == list(range(len(ids)))


def test_parse_paths_reads_files_then_sheets_in_order(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(WELFARE_TEXT, "utf-8")
    (tmp_path / "b.txt").write_text(SAMPLE_TEXT, "utf-8")
    ids = [record.id for record in parse_paths([tmp_path])]
    assert ids == ["2023-30015", "2023-30016", "2023-12276", "2023-12770"]


def test_comment_lines_are_ignored() -> None:
    records = parse_text("# synthetic evalsearch bench sheet\n" + CLEAN_SHEET, file="c.txt")
    assert [record.id for record in records] == ["2023-12770"]


def _tick(text: str, row_pattern: str, option: str) -> str:
    """Re-tick the first checkbox row matching ``row_pattern`` so that only ``option`` is ticked."""
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if re.search(row_pattern, line):
            unticked = line.replace("■", "□")
            lines[number] = re.sub(
                rf"□(?={re.escape(option)}(?:[\s（）()]|$))", "■", unticked, count=1
            )
            return "\n".join(lines)
    raise AssertionError(row_pattern)


ROW = {
    "ア": r"□?■?結びついている.*結びついていない",
    "イ": r"可能.*一部可能.*不可能",
    "ウ": r"ある.*一部ある.*ない$",
    "カ": r"検討の必要性がある",
}


@pytest.mark.parametrize(
    ("item", "option"),
    [
        ("ア", "結びついている"),
        ("ア", "一部結びついている"),
        ("ア", "結びついていない"),
        ("イ", "可能"),
        ("イ", "一部可能"),
        ("イ", "不可能"),
        ("ウ", "ある"),
        ("ウ", "一部ある"),
        ("ウ", "ない"),
        ("カ", "ある"),
        ("カ", "検討の必要性がある"),
        ("カ", "ない"),
        ("カ", "既に負担がある"),
    ],
)
def test_every_assessment_option_is_read(item: str, option: str) -> None:
    record = _only(_tick(CLEAN_SHEET, ROW[item], option))
    assert record.assessments[item].answer == option


@pytest.mark.parametrize(
    ("row", "option", "field", "value"),
    [
        (r"^見直し状況", "検討中", "review_status", "検討中"),
        (r"^見直し状況", "見直し・改善済み", "review_status", "見直し・改善済み"),
        (
            r"^見直し状況",
            "見直しをしたが改善に至っていない",
            "review_status",
            "見直しをしたが改善に至っていない",
        ),
        (r"^重点プロジェクト", "該当", "priority_project", True),
        (r"^重点プロジェクト", "非該当", "priority_project", False),
    ],
)
def test_every_metadata_option_is_read(row: str, option: str, field: str, value: object) -> None:
    assert getattr(_only(_tick(CLEAN_SHEET, row, option)), field) == value


def test_affairs_type_and_stage_options() -> None:
    text = CLEAN_SHEET.replace("■自治\n□法定受託", "□自治\n■法定受託")
    assert _only(text).affairs_type == "法定受託"
    text = CLEAN_SHEET.replace("■中間\n□事後", "□中間\n■事後")
    record = _only(text)
    assert record.evaluation_stage == "中間"  # the title says 中間評価
    assert any("評価時期" in warning for warning in record.warnings)


DIRECTION_BLOCK = (
    "■現状のまま継続\n"
    "□見直しのうえで継続　（□拡充　　□手段を見直す　　□効率化　　□簡素化　　□統合・振替）\n"
    "□終期設定あり　（R　　年度末終了予定）\n□休止\n□廃止\n□完了"
)


@pytest.mark.parametrize(
    ("block", "decision", "measures", "end_year"),
    [
        (DIRECTION_BLOCK, "現状のまま継続", (), None),
        (
            DIRECTION_BLOCK.replace("■現状", "□現状")
            .replace("□見直しのうえ", "■見直しのうえ")
            .replace("□拡充", "■拡充")
            .replace("□簡素化", "■簡素化"),
            "見直しのうえで継続",
            ("拡充", "簡素化"),
            None,
        ),
        (
            DIRECTION_BLOCK.replace("■現状", "□現状").replace(
                "□終期設定あり　（R　　年度末", "■終期設定あり　（R１０年度末"
            ),
            "終期設定あり",
            (),
            2028,
        ),
        (DIRECTION_BLOCK.replace("■現状", "□現状").replace("□休止", "■休止"), "休止", (), None),
        (DIRECTION_BLOCK.replace("■現状", "□現状").replace("□廃止", "■廃止"), "廃止", (), None),
        (DIRECTION_BLOCK.replace("■現状", "□現状").replace("□完了", "■完了"), "完了", (), None),
    ],
    ids=["continue", "revise", "end-set", "pause", "abolish", "complete"],
)
def test_direction_group(
    block: str, decision: str, measures: tuple[str, ...], end_year: int | None
) -> None:
    assert DIRECTION_BLOCK in CLEAN_SHEET
    direction = _only(CLEAN_SHEET.replace(DIRECTION_BLOCK, block)).direction
    assert (direction.decision, direction.measures, direction.end_fiscal_year) == (
        decision,
        measures,
        end_year,
    )


def test_two_ticks_in_one_row_leave_the_answer_open_with_a_warning() -> None:
    record = _only(
        CLEAN_SHEET.replace(
            "□結びついている　　■一部結びついている", "■結びついている　　■一部結びついている"
        )
    )
    assert record.assessments["ア"].answer is None
    assert any("ア: 回答欄が複数に■" in warning for warning in record.warnings)


def test_full_width_text_is_kept_as_printed_and_labels_are_normalised() -> None:
    record = parse_text(SAMPLE_TEXT, file="s.txt")[0]
    assert "産地ＰＲ" in record.activities
    assert record.budget.columns == ("R5予算", "R5決算", "R6予算")
    second = parse_text(SAMPLE_TEXT, file="s.txt")[1]
    assert second.budget.columns == ("R5予算", "R5決算", "R6予算")  # printed as R５予算


def test_short_reasons_without_a_full_stop_are_still_reasons() -> None:
    text = CLEAN_SHEET.replace(
        "他に類似する事業もないことから、現段階では統合の可能性はない。", "特になし"
    )
    record = _only(text)
    assert record.assessments["オ"].reason == "特になし"
    assert [indicator.name for indicator in record.indicators] == [
        "市民と外国人技能実習生の交流機会イベント"
    ]


def test_a_reason_started_on_its_question_line_continues_even_after_a_full_stop() -> None:
    text = SCRAMBLED_SHEET.replace(
        "相当のリスク負担を伴っていることから、", "相当のリスク負担を伴っている。"
    )
    reason = _only(text).assessments["カ"].reason
    assert reason.endswith("伴っている。当面新たな負担は求めない。")


def test_review_content_printed_in_a_box_of_its_own() -> None:
    text = CLEAN_SHEET.replace(
        "見直しの内容など\n\n", "見直しの内容など\n\n補助対象経費の範囲を見直した。\n\n"
    )
    assert _only(text).review_content == "補助対象経費の範囲を見直した。"
    assert _only(CLEAN_SHEET).review_content == ""
