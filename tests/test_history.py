"""A project across fiscal years (evalsearch.history): change classes, diffs, copies, stale years."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import pytest
from rich.console import Console

from bench.generate import iter_files, make_plan
from bench.history_bench import measure_history
from evalsearch.display import changes_renderable, history_renderable
from evalsearch.errors import EvalSearchError
from evalsearch.history import (
    CSV_HEADER,
    DuplicateYearError,
    classify,
    diff_spans,
    era_year,
    latest_indicator_year,
    project_history,
    stale_references,
    summary_line,
    year_changes,
    year_of_label,
)
from evalsearch.parse import parse_text
from evalsearch.records import Assessment, Direction, Indicator, SheetRecord, SourceRef
from evalsearch.report import changes_markdown, history_markdown
from tests.factories import make_record

# Real passages of the sample sheets (12770, 12276) and their next-year versions.
EVENT_R5 = (
    "令和５年度は外国人技能実習生と地域住民との交流イベントを開催し、約７０名の参加があり、"
    "親善交流の機会を通じた相互理解を深めた。"
)
EVENT_R6 = (
    "令和６年度は外国人技能実習生と地域住民との交流イベントを開催し、約８２名の参加があり、"
    "親善交流の機会を通じた相互理解を深めた。"
)
EVENT_R6_EDITED = (
    "令和６年度は外国人技能実習生と地域住民との交流イベントを開催し、約８２名の参加があり、"
    "交流の機会を通じて相互理解を一層深めた。"
)
NO_MERGE = "他に類似する事業もないことから、現段階では統合の可能性はない。"
NO_MERGE_REWRITTEN = (
    "技能実習生の受入れに特化した事業であり、同様の支援を行う事業は市内に存在しないため、"
    "統合の対象とはならないと判断した。"
)
SUBSIDY = "事業補助であることから、事業内容についての確認を行いながら、必要に応じて見直しをかける。"
BURDEN = "実施主体への補助金については、一定額を設定しており、すでに負担がある。"
TOGETHER = (
    "交流イベントなどの実施主体は外郭団体であるものの、外国人技能実習生が安心して暮らせる"
    "まちづくりのためには市が積極的に関与し、連携しながら事業に取り組む必要がある。"
)
MORE = (
    "外国人技能実習生が安心して暮らせるまちづくりのためには、さらなる外国人技能実習生と"
    "地域住民との交流機会の拡充が必要であり、当面は事業補助が必要。"
)


def sheet(
    year: int,
    *,
    project_no: str = "12770",
    name: str = "根室ベトナム交流協会補助事業",
    reasons: Mapping[str, str] | None = None,
    answers: Mapping[str, str | None] | None = None,
    review: str = "",
    outlook: str = "外国人技能実習生と地域住民の交流機会の増進につとめる。",
    decision: str = "現状のまま継続",
    measures: tuple[str, ...] = (),
    actual_through: int | None = None,
    file: str | None = None,
) -> SheetRecord:
    """A sheet of the sample's 12770 for ``year``; indicators hold R(era-4)..R(actual_through)."""
    base = {"ア": EVENT_R5, "イ": TOGETHER, "ウ": MORE, "エ": SUBSIDY, "オ": NO_MERGE, "カ": BURDEN}
    record = make_record(
        project_no,
        name,
        fiscal_year=year,
        reasons={**base, **(reasons or {})},
        answers=answers,
        review_content=review,
        outlook_needs=outlook,
        decision=decision,
        measures=measures,
    )
    indicators: tuple[Indicator, ...] = ()
    if actual_through is not None:
        era = actual_through - 2018
        indicators = (
            Indicator(
                name="交流イベントの開催回数",
                plan_year="H30",
                plan="年2回",
                actual={f"R{n}": f"{n % 3}回" for n in range(era - 4, era + 1)},
                target={"R2": "年2回", "R7": "年3回"},
            ),
        )
    return dataclasses.replace(
        record,
        indicators=indicators,
        source=SourceRef(file=file or f"dumps/{year}.txt", sheet_index=0),
    )


# --------------------------------------------------------------------------------------------
# Change classes.


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [
        (NO_MERGE, NO_MERGE, "same"),
        (NO_MERGE, "他に類似する事業もないことから、\n現段階では　統合の可能性はない。", "same"),
        (
            "ＮＰＯ等の団体が主体となって実施することが可能と考えられる。",
            "NPO等の団体が主体となって実施することが可能と考えられる。",
            "same",
        ),
        (EVENT_R5, EVENT_R6, "numbers"),
        ("令和元年度から実施している。", "令和２年度から実施している。", "numbers"),
        ("R5年度実績は12件であった。", "R6年度実績は1,015件であった。", "numbers"),
        ("説明会を三回開催した。", "説明会を四回開催した。", "numbers"),
        ("令和５年９月に説明会を開いた。", "令和6年10月に説明会を開いた。", "numbers"),
        (EVENT_R5, EVENT_R6_EDITED, "edited"),
        (SUBSIDY, SUBSIDY + "また、関係団体と連携して交流事業に取り組んでいる。", "edited"),
        (TOGETHER, TOGETHER.replace("必要がある。", "必要があると考える。"), "edited"),
        (NO_MERGE, NO_MERGE_REWRITTEN, "rewritten"),
        (MORE, SUBSIDY, "rewritten"),
        ("", NO_MERGE, "rewritten"),
        (NO_MERGE, "", "rewritten"),
        ("", "", "same"),
    ],
)
def test_classify(old: str, new: str, change: str) -> None:
    verdict = classify(old, new)
    assert verdict.change == change
    assert verdict.similarity is not None
    # The cheap path decides the same class.
    assert classify(old, new, exact=False).change == change


def test_one_word_is_not_a_number() -> None:
    """一部・一定 are words: replacing them is an edit, not a new figure."""
    assert classify("一部の経費を削減できる。", "全部の経費を削減できる。").change == "edited"


def test_similarity_ignores_updated_figures() -> None:
    edited = classify(EVENT_R5, EVENT_R6_EDITED)
    reworded_only = EVENT_R5.replace(
        "親善交流の機会を通じた相互理解を深めた", "交流の機会を通じて相互理解を一層深めた"
    )
    also_numbers = classify(EVENT_R5, reworded_only)
    assert edited.change == also_numbers.change == "edited"
    assert edited.similarity == pytest.approx(also_numbers.similarity)


# --------------------------------------------------------------------------------------------
# Diffs.


def spans(old: str, new: str) -> list[tuple[str, str, str]]:
    return [(span.op, span.old, span.new) for span in diff_spans(old, new)]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "令和５年度は約７０名の参加があった。",
            "令和６年度は約８２名の参加があった。",
            [
                ("equal", "令和", "令和"),
                ("replace", "5", "6"),
                ("equal", "年度は約", "年度は約"),
                ("replace", "70", "82"),
                ("equal", "名の参加があった。", "名の参加があった。"),
            ],
        ),
        # 75→78 is one number, not 7 + 5→8.
        (
            "参加者は７５名であった。",
            "参加者は７８名であった。",
            [
                ("equal", "参加者は", "参加者は"),
                ("replace", "75", "78"),
                ("equal", "名であった。", "名であった。"),
            ],
        ),
        (
            SUBSIDY,
            SUBSIDY + "今後も継続する。",
            [("equal", SUBSIDY, SUBSIDY), ("insert", "", "今後も継続する。")],
        ),
        (
            "親善交流の機会を通じた相互理解を深めた。",
            "交流の機会を通じて相互理解を一層深めた。",
            [
                ("delete", "親善", ""),
                ("equal", "交流の機会を通じ", "交流の機会を通じ"),
                ("replace", "た", "て"),
                ("equal", "相互理解を", "相互理解を"),
                ("insert", "", "一層"),
                ("equal", "深めた。", "深めた。"),
            ],
        ),
        # Two changes two characters apart read as one phrase, not confetti.
        (
            "市が直接実施する必要がある。",
            "民間が主に実施する必要がある。",
            [
                ("replace", "市が直接", "民間が主に"),
                ("equal", "実施する必要がある。", "実施する必要がある。"),
            ],
        ),
        (NO_MERGE, NO_MERGE, [("equal", NO_MERGE, NO_MERGE)]),
        ("", "", []),
    ],
)
def test_diff_spans(old: str, new: str, expected: list[tuple[str, str, str]]) -> None:
    assert spans(old, new) == expected


def test_diff_spans_rebuild_both_texts() -> None:
    diff = diff_spans(NO_MERGE, NO_MERGE_REWRITTEN)
    assert "".join(span.old for span in diff) == NO_MERGE
    assert "".join(span.new for span in diff) == NO_MERGE_REWRITTEN
    equal_runs = [span.old for span in diff if span.op == "equal"]
    assert all(len(run) >= 4 for run in equal_runs[1:-1])


# --------------------------------------------------------------------------------------------
# Eras.


@pytest.mark.parametrize(
    ("label", "year"),
    [
        ("R5", 2023),
        ("Ｒ５", 2023),
        ("令和5", 2023),
        ("令和元年度", 2019),
        ("H30", 2018),
        ("平成27年度", 2015),
        ("2024", 2024),
        ("2024年度", 2024),
        ("目標", None),
    ],
)
def test_year_of_label(label: str, year: int | None) -> None:
    assert year_of_label(label) == year


def test_era_year() -> None:
    assert era_year("令和", "５") == 2023
    assert era_year("平成", "元") == 1989
    assert era_year("R", "7") == 2025


def test_latest_indicator_year_skips_blank_cells() -> None:
    indicator = Indicator("回数", "R1", "3回", {"R5": "2回", "R6": "1回", "R7": "－"}, {})
    assert latest_indicator_year([indicator]) == 2024
    assert latest_indicator_year([]) is None


# --------------------------------------------------------------------------------------------
# One project's history.


def three_years() -> list[SheetRecord]:
    return [
        sheet(2023, actual_through=2023),
        sheet(
            2024,
            reasons={"ア": EVENT_R6, "オ": NO_MERGE_REWRITTEN},
            answers={"オ": "一部ある"},
            review="令和６年度から交流イベントをオンラインでも実施し、事務の効率化を図った。",
            actual_through=2024,
        ),
        sheet(
            2025,
            name="ベトナム交流協会補助事業",
            reasons={"ア": EVENT_R6_EDITED, "オ": NO_MERGE_REWRITTEN},
            answers={"オ": "一部ある"},
            review="令和６年度から交流イベントをオンラインでも実施し、事務の効率化を図った。",
            decision="見直しのうえで継続",
            measures=("統合・振替",),
            actual_through=2025,
        ),
    ]


def test_project_history_classifies_every_item() -> None:
    history = project_history(reversed(three_years()))  # any order
    assert history.years == (2023, 2024, 2025)
    assert [item.key for item in history.items] == [
        "ア",
        "イ",
        "ウ",
        "エ",
        "オ",
        "カ",
        "見直し",
        "動向",
        "活動",
        "意図",
    ]
    changes = {
        item.key: [transition.change for transition in item.transitions] for item in history.items
    }
    assert changes == {
        "ア": ["numbers", "edited"],
        "イ": ["same", "same"],
        "ウ": ["same", "same"],
        "エ": ["same", "same"],
        "オ": ["rewritten", "same"],
        "カ": ["same", "same"],
        "見直し": ["rewritten", "same"],
        "動向": ["same", "same"],
        "活動": ["same", "same"],
        "意図": ["same", "same"],
    }
    o = next(item for item in history.items if item.key == "オ").transitions[0]
    assert o.answer is not None and o.answer.changed
    assert (o.answer.old, o.answer.new) == ("ない", "一部ある")
    assert o.similarity < 0.55
    review = next(item for item in history.items if item.key == "見直し")
    assert review.label == "見直しの内容" and review.transitions[0].answer is None


def test_project_history_shows_the_rename_and_the_direction() -> None:
    history = project_history(three_years())
    assert history.names == {
        2023: "根室ベトナム交流協会補助事業",
        2024: "根室ベトナム交流協会補助事業",
        2025: "ベトナム交流協会補助事業",
    }
    assert history.project_name == "ベトナム交流協会補助事業"
    assert [entry.decision for entry in history.direction] == [
        "現状のまま継続",
        "現状のまま継続",
        "見直しのうえで継続",
    ]
    assert history.direction[-1].measures == ("統合・振替",)
    assert [row.total_cost for row in history.rows] == [1000, 1000, 1000]
    assert [row.answers["オ"] for row in history.rows] == ["ない", "一部ある", "一部ある"]


def test_unrenamed_project_has_no_names() -> None:
    assert project_history(three_years()[:2]).names == {}


def test_summary_line() -> None:
    history = project_history(three_years())
    assert summary_line(history, 2024) == "前年度から: 同文 5 / 数値のみ 1 / 改稿 2"
    assert summary_line(history) == "前年度から: 同文 7 / 一部修正 1"
    assert summary_line(history, 2023) is None


def test_one_year_project_has_nothing_to_compare() -> None:
    history = project_history([sheet(2024)])
    assert not history.comparable
    assert history.message is not None and "1年分" in history.message
    assert all(item.transitions == () for item in history.items)
    assert summary_line(history) is None
    assert history.to_dict()["message"] == history.message


def test_two_sheets_in_one_year_name_both_files() -> None:
    records = [sheet(2023, file="a/2023.txt"), sheet(2023, file="b/copy.txt"), sheet(2024)]
    with pytest.raises(DuplicateYearError) as raised:
        project_history(records)
    assert isinstance(raised.value, EvalSearchError)
    message = str(raised.value)
    assert "a/2023.txt" in message and "b/copy.txt" in message and "2023年度" in message
    with pytest.raises(DuplicateYearError):
        year_changes(records, 2024)


def test_records_of_two_projects_are_refused() -> None:
    with pytest.raises(ValueError):
        project_history([sheet(2023), sheet(2024, project_no="12276")])
    with pytest.raises(ValueError):
        project_history([])


def test_history_json_contract() -> None:
    data = json.loads(json.dumps(project_history(three_years()).to_dict(), ensure_ascii=False))
    assert {"project", "municipality", "names", "years", "rows", "items", "direction"} <= set(data)
    assert data["project"] == "12770" and data["years"] == [2023, 2024, 2025]
    assert data["names"]["2025"] == "ベトナム交流協会補助事業"
    row = data["rows"][0]
    assert set(row) == {
        "year",
        "answers",
        "review_status",
        "decision",
        "measures",
        "end_fiscal_year",
        "total_cost",
        "indicators",
    }
    assert (
        row["answers"]["ア"] == "結びついている" and row["indicators"][0]["actual"]["R5"] == "2回"
    )
    item = data["items"][0]
    assert set(item) == {"key", "label", "transitions"} and item["key"] == "ア"
    transition = item["transitions"][0]
    assert {"from", "to", "change", "similarity", "diff"} <= set(transition)
    assert (transition["from"], transition["to"], transition["change"]) == (2023, 2024, "numbers")
    assert transition["similarity"] == 1.0
    assert transition["diff"][1] == {"op": "replace", "old": "5", "new": "6"}
    assert set(data["direction"][0]) == {"year", "decision", "measures", "end_fiscal_year"}


# --------------------------------------------------------------------------------------------
# Stale references.


@pytest.mark.parametrize(
    ("text", "actual_through", "quoted"),
    [
        (EVENT_R5, 2025, 2023),
        ("R5年度実績は12件であり、前年度を上回った。", 2024, 2023),
        ("令和４年度は５０名、令和５年度は７０名の参加があった。", 2025, 2023),
        ("2023年度は説明会を３回開催した。", 2024, 2023),
        ("令和５年度末の登録者数は１２０人であった。", 2025, 2023),
    ],
)
def test_stale_reference_found(text: str, actual_through: int, quoted: int) -> None:
    record = sheet(2025, reasons={"ア": text}, actual_through=actual_through)
    (reference,) = stale_references(record)
    assert (reference.key, reference.quoted_year) == ("ア", quoted)
    assert reference.latest_indicator_year == actual_through
    assert reference.text == text.replace("\n", "")


@pytest.mark.parametrize(
    ("text", "actual_through"),
    [
        (EVENT_R5, 2023),  # quotes the newest year of its own table
        (EVENT_R5, None),  # no indicator values to compare with
        ("令和５年度から交流イベントをオンラインでも実施し、事務の効率化を図った。", 2025),
        ("令和５年度までに説明会を３回開催する計画である。", 2025),
        ("令和５年度に計画を策定した。", 2025),  # no figures
        ("令和５年度末までに登録者数を１２０人とする。", 2025),
        ("令和５年度に策定した計画では、目標を１２０人としている。", 2025),
        ("令和５年度は５０名、令和７年度は７０名の参加があった。", 2025),
        ("平成２７年度より実施しており、参加者は７０名である。", 2025),
    ],
)
def test_stale_reference_not_found(text: str, actual_through: int | None) -> None:
    record = sheet(2025, reasons={"ア": text}, actual_through=actual_through)
    assert stale_references(record) == ()


def test_only_the_newest_quoted_sentence_is_reported() -> None:
    text = "令和４年度は５０名の参加があった。令和５年度は７０名の参加があった。"
    record = sheet(2025, reasons={"ア": text}, actual_through=2025)
    (reference,) = stale_references(record)
    assert reference.text == "令和５年度は７０名の参加があった。"


# --------------------------------------------------------------------------------------------
# One year's changes.


def corpus() -> list[SheetRecord]:
    """Three projects in 2024 and 2025 and one new in 2025."""
    copied_2024 = sheet(2024, project_no="100", name="写しの事業", actual_through=2024)
    copied_2025 = sheet(
        2025,
        project_no="100",
        name="写しの事業",
        review="令和７年度は事業内容を見直した。",  # only a passage changes: still a copy
        actual_through=2025,
    )
    edited_2024 = sheet(2024, project_no="200", name="修正の事業", actual_through=2024)
    edited_2025 = sheet(
        2025,
        project_no="200",
        name="修正の事業",
        reasons={"ア": EVENT_R6_EDITED.replace("令和６", "令和７"), "オ": NO_MERGE_REWRITTEN},
        answers={"オ": "一部ある"},
        decision="見直しのうえで継続",
        measures=("効率化",),
        actual_through=2025,
    )
    numbers_2024 = sheet(2024, project_no="300", name="数値の事業", actual_through=2024)
    numbers_2025 = sheet(
        2025,
        project_no="300",
        name="数値の事業",
        reasons={"ア": EVENT_R5.replace("令和５", "令和７")},
        actual_through=2025,
    )
    new_2025 = sheet(2025, project_no="400", name="新規の事業", reasons={"ア": NO_MERGE})
    return [
        copied_2024,
        copied_2025,
        edited_2024,
        edited_2025,
        numbers_2024,
        numbers_2025,
        new_2025,
    ]


def test_year_changes_flags_copies_and_sorts_them_first() -> None:
    report = year_changes(corpus(), 2025)
    assert [entry.project_no for entry in report.sheets] == ["100", "300", "200", "400"]
    by_no = {entry.project_no: entry for entry in report.sheets}

    copied = by_no["100"]
    assert copied.copied and copied.previous_year == 2024
    assert copied.changes == {"same": 7, "numbers": 0, "edited": 0, "rewritten": 1}
    assert [reference.quoted_year for reference in copied.stale] == [2023]

    numbers = by_no["300"]
    assert not numbers.copied and numbers.stale == ()
    assert numbers.changes == {"same": 6, "numbers": 1, "edited": 0, "rewritten": 0}
    assert numbers.items["ア"] == "numbers"

    edited = by_no["200"]
    assert not edited.copied and edited.direction_changed
    assert edited.answers_changed == ("オ",)
    assert edited.changes == {"same": 5, "numbers": 0, "edited": 1, "rewritten": 1}

    new = by_no["400"]
    assert new.previous_year is None and not new.copied and not new.direction_changed
    assert sum(new.changes.values()) == 0


def test_year_changes_compares_with_the_newest_earlier_sheet() -> None:
    records = [sheet(2023), sheet(2025, reasons={"ア": EVENT_R5.replace("令和５", "令和７")})]
    (entry,) = year_changes(records, 2025).sheets
    assert entry.previous_year == 2023 and entry.items["ア"] == "numbers"
    assert year_changes(records, 2024).sheets == ()


def test_unread_answers_are_no_change() -> None:
    records = [sheet(2024, answers={"ウ": None}), sheet(2025, answers={"ウ": "ある"})]
    (entry,) = year_changes(records, 2025).sheets
    assert entry.answers_changed == ()


def test_changes_json_and_csv() -> None:
    report = year_changes(corpus(), 2025)
    data = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert data["year"] == 2025
    first = data["sheets"][0]
    assert {
        "id",
        "project_no",
        "project_name",
        "previous_year",
        "copied",
        "changes",
        "direction_changed",
        "answers_changed",
        "stale",
    } <= set(first)
    assert first["id"] == "2025-100" and first["copied"] is True
    assert set(first["changes"]) == {"same", "numbers", "edited", "rewritten"}
    assert set(first["stale"][0]) == {"key", "quoted_year", "latest_indicator_year", "text"}
    assert data["sheets"][-1]["previous_year"] is None

    rows = report.to_csv_rows()
    assert rows[0] == list(CSV_HEADER)
    assert len(rows) == 1 + len(report.sheets)
    assert all(isinstance(cell, str) for row in rows for cell in row)
    assert rows[1][:6] == ["2025-100", "根室市", "100", "写しの事業", "2024", "はい"]


# --------------------------------------------------------------------------------------------
# Any form: items by their keys.

CIRCLED = ("①", "②", "③", "④", "⑤", "⑥", "⑦", "⑧")


def other_form_sheet(
    year: int, reasons: Mapping[str, str], texts: Mapping[str, str]
) -> SheetRecord:
    base = make_record("A-07", "地域公共交通確保維持事業", fiscal_year=year)
    return dataclasses.replace(
        base,
        municipality="大船渡市",
        form="ofunato",
        assessments={key: Assessment(answer="Ａ", reason=reasons.get(key, "")) for key in CIRCLED},
        review_content="",
        outlook_needs="",
        texts=dict(texts),
        direction=Direction(decision="拡充"),
        source=SourceRef(file=f"ofunato/{year}.txt", sheet_index=2),
    )


def test_other_form_with_circled_keys() -> None:
    reasons_2023 = {
        key: f"{key}について、路線バスの利用者数は令和５年度に１２３人であった。" for key in CIRCLED
    }
    reasons_2024 = dict(reasons_2023)
    reasons_2024["①"] = "①について、路線バスの利用者数は令和６年度に１４０人であった。"
    reasons_2024["⑧"] = "デマンド交通の導入により、交通空白地域の解消を図る方針に改めた。"
    texts_2023 = {"概要": "市内の路線バスの運行を支援する。", "課長等意見": "継続が妥当である。"}
    texts_2024 = {
        "概要": "市内の路線バスの運行を支援する。",
        "課長等意見": "事業の継続が妥当である。",
    }
    records = [
        other_form_sheet(2023, reasons_2023, texts_2023),
        other_form_sheet(2024, reasons_2024, texts_2024),
    ]
    history = project_history(records)
    assert [item.key for item in history.items] == [
        *CIRCLED,
        "見直し",
        "動向",
        "活動",
        "意図",
        "概要",
        "課長等意見",
    ]
    change = {item.key: item.transitions[0].change for item in history.items}
    assert change["①"] == "numbers" and change["②"] == "same" and change["⑧"] == "rewritten"
    assert change["課長等意見"] == "edited" and change["見直し"] == "same"
    assert history.municipality == "大船渡市"
    assert summary_line(history) == "前年度から: 同文 7 / 数値のみ 1 / 一部修正 1 / 改稿 1"

    (entry,) = year_changes(records, 2024).sheets
    assert entry.changes == {"same": 7, "numbers": 1, "edited": 1, "rewritten": 1}
    assert "見直し" not in entry.items and not entry.copied


# --------------------------------------------------------------------------------------------
# Rendering.


def _lines(renderable: object, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


def test_history_renders_within_80_columns() -> None:
    from rich.cells import cell_len

    history = project_history(three_years())
    lines = _lines(history_renderable(history))
    assert all(cell_len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert "■ 2023→2024年度　同文 5 / 数値のみ 1 / 改稿 2" in text
    assert "【ア】数値のみ" in text and "［5→6］" in text
    assert "事業名の変更" in text and "回答：ない → 一部ある" in text
    single = "\n".join(_lines(history_renderable(project_history([sheet(2024)]))))
    assert "1年分" in single


def test_changes_render_within_80_columns() -> None:
    from rich.cells import cell_len

    lines = _lines(changes_renderable(year_changes(corpus(), 2025)))
    assert all(cell_len(line) <= 80 for line in lines)
    assert "評価の写し 1件" in "\n".join(lines)


def test_markdown() -> None:
    text = history_markdown(project_history(three_years()))
    assert text.startswith("# 12770 ベトナム交流協会補助事業")
    assert "~~5~~**6**" in text and "| 2025 |" in text and "\n\n\n" not in text
    report = changes_markdown(year_changes(corpus(), 2025))
    assert "| 2025-100 |" in report and "写し" in report


# --------------------------------------------------------------------------------------------
# Planted transitions of the generator, parsed back.


def test_planted_transitions_round_trip() -> None:
    records: list[SheetRecord] = []
    planted: list[dict[str, object]] = []
    for file in iter_files(make_plan(240, 5)):
        records.extend(parse_text(file.text(), file=file.name))
        for generated in file.sheets:
            planted.extend(transition.to_dict() for transition in generated.transitions)
    figures = measure_history(records, {"transitions": planted})
    assert figures["unmatched_transitions"] == 0
    for kind, count in figures["counts"].items():
        assert count >= 10, (kind, figures["counts"])
    for kind, accuracy in figures["accuracy"].items():
        assert accuracy >= 0.95, (kind, figures["confusion"])
    assert figures["history_ms"]["max"] < 50
