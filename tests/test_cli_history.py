"""Issue #12 end to end: `history`, `changes`, `show` and the reports over a multi-year index.

The index is built by `evalsearch index` from files written here, so every value went through
the real parsers, Sudachi and Whoosh:

* the sample dump (corpus/000_e354498715c974cd.txt) edited into 令和5, 令和6 and 令和7 versions
  (``nemuro_dump``): 12770 changes as planted below and is renamed in 令和7; 12276 copies every
  passage each year while its ア keeps quoting 令和５年度's figures (stale from 令和6 on);
* a project with a 令和7 sheet only (13001);
* 大船渡市-form CSVs with the profile's own headers (``ofunato_csv``): 0086 changes, 0101 is
  copied every year.

A second index is made by bench/generate.py at small N: its planted transitions, copies and
renames must come back through `evalsearch index` and ``Index.history``/``Index.changes``.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import evalsearch
from bench.generate import generate
from evalsearch.cli import app
from evalsearch.forms import FormProfile, list_profiles
from evalsearch.history import CSV_HEADER, EDITED_MIN_SIMILARITY, classify, diff_spans
from tests.conftest import SAMPLE_DUMP
from tests.factories import make_record
from tests.search_corpus import write_dump

runner = CliRunner()


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def ok(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


# --------------------------------------------------------------------------------------------
# The 根室-form dumps: the sample sheet of each year, edited.

SAMPLE = SAMPLE_DUMP.read_text("utf-8")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

# 12770's ア: 令和5 → 令和6 only its figures; 令和6 → 令和7 figures and wording (親善 out, 一層 in).
EVENT = {
    2023: "令和５年度は外国人技能実習生と地域住民との交流イベントを開催し、約70名の参加があり、親善\n"
    "交流の機会を通じた相互理解を深めた。",
    2024: "令和６年度は外国人技能実習生と地域住民との交流イベントを開催し、約82名の参加があり、親善\n"
    "交流の機会を通じた相互理解を深めた。",
    2025: "令和７年度は外国人技能実習生と地域住民との交流イベントを開催し、約90名の参加があり、\n"
    "交流の機会を通じて相互理解を一層深めた。",
}
# 12770's オ from 令和6: answer ない → 一部ある, the reason rewritten.
MERGE_BEFORE = (
    "□ある　　□一部ある　　■ない\n\n他に類似する事業もないことから、現段階では統合の可能性はない。"
)
MERGE_AFTER = (
    "□ある　　■一部ある　　□ない\n\n"
    "市内の国際交流事業と対象や内容が一部重なることから、事業の統合について関係団体と協議を\n"
    "進める。"
)
MERGE_AFTER_TEXT = (
    "市内の国際交流事業と対象や内容が一部重なることから、事業の統合について関係団体と協議を進める。"
)
# 12770's 見直しの内容: empty in 令和5, written from 令和6.
REVIEW_BEFORE = "見直しの内容など\n\n今後の動向・市民ニーズなど"
REVIEW_TEXT = "令和６年度から交流イベントをオンラインでも実施し、事務の効率化を図った。"
REVIEW_AFTER = f"見直しの内容など\n{REVIEW_TEXT}\n\n今後の動向・市民ニーズなど"
# 12770's direction in 令和7.
DIRECTION_BEFORE = "■現状のまま継続\n□見直しのうえで継続　（□拡充　　□手段を見直す　　□効率化　　□簡素化　　□統合・振替）"
DIRECTION_AFTER = "□現状のまま継続\n■見直しのうえで継続　（□拡充　　□手段を見直す　　□効率化　　□簡素化　　■統合・振替）"
OLD_NAME, NEW_NAME = "根室ベトナム交流協会補助事業", "ベトナム交流協会補助事業"
# 12276's ア in every year: the sentence quoting 令和５年度's figures stays.
EXPORT_END = "一定程度成果に結びつい\nている。"
STALE_SENTENCE = "令和５年度の輸出実績は12件であった。"
EVENT_INDICATOR = "1 年0回 1回 0回 0回 0回 1回 年2回 年3回"
EVENT_ACTUALS = ("1回", "0回", "0回", "0回", "0回", "1回", "2回")


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def nemuro_dump(year: int) -> str:
    """The sample dump as the 令和(year-2018) evaluation: headers, indicator and budget years
    moved on, and the planted changes of 12770 and 12276."""
    era, step = year - 2018, year - 2023
    text = SAMPLE.replace("【令和５年度】", f"【令和{str(era).translate(FULL_WIDTH)}年度】")
    text = text.replace("R1 R2 R3 R4 R5", " ".join(f"R{n + step}" for n in range(1, 6)))
    text = text.replace("作成年月日 令和６年9月", f"作成年月日 令和{era + 1}年9月")
    text = text.replace("R5予算 R5決算 R6予算", f"R{era}予算 R{era}決算 R{era + 1}予算")
    text = text.replace("R６予算", f"R{era + 1}予算").replace(
        "R５予算 R５決算", f"R{era}予算 R{era}決算"
    )
    text = _replace_once(text, EXPORT_END, EXPORT_END + STALE_SENTENCE)
    text = _replace_once(text, EVENT[2023], EVENT[year])
    actuals = " ".join(EVENT_ACTUALS[step : step + 5])
    text = _replace_once(text, EVENT_INDICATOR, f"1 年0回 {actuals} 年2回 年3回")
    if year >= 2024:
        text = _replace_once(text, MERGE_BEFORE, MERGE_AFTER)
        text = _replace_once(text, REVIEW_BEFORE, REVIEW_AFTER)
    if year >= 2025:
        text = _replace_once(text, DIRECTION_BEFORE, DIRECTION_AFTER)
        text = _replace_once(text, f"事務事業名 {OLD_NAME}", f"事務事業名 {NEW_NAME}")
    return text


# --------------------------------------------------------------------------------------------
# The 大船渡-form tables: a CSV with the ofunato profile's headers.

CIRCLED = ("①", "②", "③", "④", "⑤", "⑥", "⑦", "⑧")


def ofunato_profile() -> FormProfile:
    return next(profile for profile in list_profiles() if profile.id == "ofunato")


def ofunato_csv(rows: Sequence[Mapping[str, str]]) -> str:
    """A table the ofunato profile reads: every header in the profile's order, the budget
    headers once per budget year; ``rows`` map a column's field (``reason:①``) to its cell."""
    profile = ofunato_profile()
    assert profile.table is not None
    singles = [column for column in profile.table.columns if column.kind != "budget"]
    budget = [column for column in profile.table.columns if column.kind == "budget"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [column.header for column in singles]
        + [column.header for _ in profile.budget_columns for column in budget]
    )
    for row in rows:
        writer.writerow(
            [row.get(column.field, "") for column in singles]
            + ["" for _ in profile.budget_columns for _ in budget]
        )
    return out.getvalue()


def ofunato_row(
    year: str,
    project_no: str,
    name: str,
    reasons: Mapping[str, str],
    *,
    answers: Mapping[str, str] | None = None,
    texts: Mapping[str, str] | None = None,
    direction: str = "１　現状維持",
) -> dict[str, str]:
    row = {
        "fiscal_year": year,
        "project_no": project_no,
        "project_name": name,
        "department": "生活福祉部 環境課",
        "section": "環境衛生係",
        "policy_goal": "安全で快適なまち",
        "policy_area": "生活環境の保全",
        "affairs_type": "自治事務",
        "direction": direction,
    }
    for item in ofunato_profile().items:
        row[f"answer:{item.key}"] = (answers or {}).get(item.key, item.options[0])
        row[f"reason:{item.key}"] = reasons[item.key]
    row.update({f"text:{key}": text for key, text in (texts or {}).items()})
    return row


PATROL = {
    2023: "不法投棄の監視パトロールを令和５年度に４８回実施し、回収量は１２３トンであった。",
    2024: "不法投棄の監視パトロールを令和６年度に５２回実施し、回収量は１１０トンであった。",
    2025: "不法投棄の監視パトロールを令和７年度に６０回実施し、回収量は９８トンであった。",
}
FAIRNESS_BEFORE = "⑧について、不法投棄の監視を続ける必要がある。"
FAIRNESS_AFTER = "監視カメラの設置場所が一部の地区に偏っているため、設置基準を見直す必要がある。"
OPINION_BEFORE = "監視体制の継続が妥当である。"
OPINION_AFTER = "監視体制の継続が妥当であり、地域との連携を強める。"


def ofunato_table(year: int) -> str:
    """0086 (numbers, a rewrite with a new answer, an edit, a new direction) and 0101 (copied);
    the year written three ways (令和5, R6, 2025)."""
    cell = {2023: "令和5", 2024: "R6", 2025: "2025"}[year]
    reasons = {key: f"{key}について、不法投棄の監視を続ける必要がある。" for key in CIRCLED}
    reasons["①"] = PATROL[year]
    if year >= 2024:
        reasons["⑧"] = FAIRNESS_AFTER
    patrol = ofunato_row(
        cell,
        "0086",
        "不法投棄対策事業",
        reasons,
        answers={"⑧": "見直し余地がある"} if year >= 2024 else None,
        texts={
            "概要": "不法投棄の監視と回収を行う。",
            "課長等意見": OPINION_AFTER if year >= 2024 else OPINION_BEFORE,
        },
        direction="２　改革改善（縮小・統合含む）" if year >= 2025 else "１　現状維持",
    )
    copied = ofunato_row(
        cell,
        "0101",
        "ごみ集積所管理事業",
        {key: f"{key}：ごみ集積所の管理を地域と協力して行っている。" for key in CIRCLED},
    )
    return ofunato_csv([patrol, copied])


# --------------------------------------------------------------------------------------------
# Fixtures.


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("history-corpus")
    for year in (2023, 2024, 2025):
        (directory / f"nemuro_{year}.txt").write_text(nemuro_dump(year), "utf-8")
        (directory / f"ofunato_{year}.csv").write_text(ofunato_table(year), "utf-8")
    write_dump(
        directory / "new_2025.txt",
        [make_record("13001", "新規の事業", fiscal_year=2025, reasons={"ア": "新たに始めた。"})],
    )
    return directory


@pytest.fixture(scope="module")
def index_dir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("history-index") / "index"
    ok("index", str(corpus), "--index", str(directory))
    return directory


def as_json(*args: str) -> Any:
    return json.loads(ok(*args))


def item(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return next(entry for entry in data["items"] if entry["key"] == key)


def changes_of(data: Mapping[str, Any]) -> dict[str, list[str]]:
    return {
        entry["key"]: [transition["change"] for transition in entry["transitions"]]
        for entry in data["items"]
    }


def rebuilt(diff: Sequence[Mapping[str, str]]) -> tuple[str, str]:
    return "".join(span["old"] for span in diff), "".join(span["new"] for span in diff)


def normal(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


# --------------------------------------------------------------------------------------------
# history PROJECT


def test_history_json_follows_the_contract(index_dir: Path) -> None:
    data = as_json("history", "12770", "--format", "json", "--index", str(index_dir))
    assert {"project", "years", "items", "direction"} <= set(data)
    assert data["project"] == "12770" and data["years"] == [2023, 2024, 2025]
    for entry in data["items"]:
        assert {"key", "label", "transitions"} == set(entry)
        for transition in entry["transitions"]:
            assert {"from", "to", "change", "similarity", "diff"} <= set(transition)
            for span in transition["diff"]:
                assert set(span) == {"op", "old", "new"}
    assert [entry["key"] for entry in data["items"]] == [
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
    assert item(data, "見直し")["label"] == "見直しの内容"
    assert [(t["from"], t["to"]) for t in item(data, "ア")["transitions"]] == [
        (2023, 2024),
        (2024, 2025),
    ]
    assert data["direction"] == [
        {"year": 2023, "decision": "現状のまま継続", "measures": [], "end_fiscal_year": None},
        {"year": 2024, "decision": "現状のまま継続", "measures": [], "end_fiscal_year": None},
        {
            "year": 2025,
            "decision": "見直しのうえで継続",
            "measures": ["統合・振替"],
            "end_fiscal_year": None,
        },
    ]


def test_history_classifies_the_planted_changes(index_dir: Path) -> None:
    data = as_json("history", "12770", "--format", "json", "--index", str(index_dir))
    assert changes_of(data) == {
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
    numbers, edited = item(data, "ア")["transitions"]
    assert numbers["similarity"] == 1.0
    assert {"op": "replace", "old": "5", "new": "6"} in numbers["diff"]
    assert {"op": "replace", "old": "70", "new": "82"} in numbers["diff"]
    assert rebuilt(numbers["diff"]) == (normal(EVENT[2023]), normal(EVENT[2024]))

    assert EDITED_MIN_SIMILARITY <= edited["similarity"] < 1.0
    assert {"op": "delete", "old": "親善", "new": ""} in edited["diff"]
    assert {"op": "insert", "old": "", "new": "一層"} in edited["diff"]
    assert {"op": "replace", "old": "82", "new": "90"} in edited["diff"]
    assert rebuilt(edited["diff"]) == (normal(EVENT[2024]), normal(EVENT[2025]))

    merge = item(data, "オ")["transitions"][0]
    assert merge["similarity"] < EDITED_MIN_SIMILARITY
    assert merge["answer"] == {"from": "ない", "to": "一部ある", "changed": True}
    assert rebuilt(merge["diff"])[1] == MERGE_AFTER_TEXT
    review = item(data, "見直し")["transitions"][0]
    assert review["similarity"] == 0.0 and review["answer"] is None
    assert rebuilt(review["diff"]) == ("", normal(REVIEW_TEXT))
    same = item(data, "イ")["transitions"][0]
    assert same["similarity"] == 1.0 and [span["op"] for span in same["diff"]] == ["equal"]


def test_history_shows_the_rename(index_dir: Path) -> None:
    data = as_json("history", "12770", "--format", "json", "--index", str(index_dir))
    assert data["names"] == {"2023": OLD_NAME, "2024": OLD_NAME, "2025": NEW_NAME}
    table = ok("history", "12770", "--index", str(index_dir))
    assert f"12770 {NEW_NAME}" in table
    assert f"事業名の変更：2023年度 {OLD_NAME} → 2025年度 {NEW_NAME}" in table
    unchanged = as_json("history", "12276", "--format", "json", "--index", str(index_dir))
    assert unchanged["names"] == {}


def test_history_table_marks_the_changed_spans(index_dir: Path) -> None:
    text = ok("history", "12770", "--index", str(index_dir))
    assert "12770 ベトナム交流協会補助事業　根室市　2023〜2025年度" in text
    assert "2025年度の前年度から: 同文 9 / 一部修正 1" in text
    assert "■ 2023→2024年度　同文 7 / 数値のみ 1 / 改稿 2" in text
    assert "■ 2024→2025年度　同文 9 / 一部修正 1" in text
    assert "【ア】数値のみ" in text and "令和［5→6］年度は" in text and "約［70→82］名" in text
    assert "【オ】改稿（類似度 0." in text and "回答：ない → 一部ある" in text
    assert f"新：{MERGE_AFTER_TEXT}" in text
    assert "【見直しの内容】改稿（類似度 0.00）" in text and "旧：（記載なし）" in text
    assert "【ア】一部修正（類似度 0.9" in text
    assert "［−親善］" in text and "［＋一層］" in text and "約［82→90］名" in text
    assert "見直しのうえで継続（統合・振替）" in text
    assert "R7 2回" in text  # each year's newest indicator value


def test_history_markdown(index_dir: Path) -> None:
    text = ok("history", "12770", "--format", "md", "--index", str(index_dir))
    assert text.startswith(f"# 12770 {NEW_NAME}（根室市）\n")
    assert f"事業名の変更：2023年度 {OLD_NAME} → 2025年度 {NEW_NAME}" in text
    assert "## 2023→2024年度の記述の変化（同文 7 / 数値のみ 1 / 改稿 2）" in text
    assert "令和~~5~~**6**年度は" in text and "約~~70~~**82**名" in text
    assert "~~親善~~" in text and "**一層**" in text
    assert "### 【オ】改稿" in text and f"- 新：{MERGE_AFTER_TEXT}" in text
    assert "| 2025 | 検討していない | 見直しのうえで継続（統合・振替） | 798 |" in text
    assert "| オ | ない | 一部ある | 一部ある |" in text


def test_history_of_the_library_is_the_cli_json(index_dir: Path) -> None:
    cli = as_json("history", "2023-12770", "--format", "json", "--index", str(index_dir))
    with evalsearch.open(index_dir) as ix:
        history = ix.history("12770")
        assert json.loads(json.dumps(history.to_dict(), ensure_ascii=False)) == cli
        assert history.project_name == NEW_NAME and history.comparable
        assert ix.history("根室市/12770").years == (2023, 2024, 2025)


def test_one_year_project_says_so_and_succeeds(index_dir: Path) -> None:
    message = "事業 13001（新規の事業）のシートは2025年度の1年分だけです。比べる前年度のシートがありません。"
    assert message in ok("history", "13001", "--index", str(index_dir))
    assert message in ok("history", "13001", "--format", "md", "--index", str(index_dir))
    data = as_json("history", "13001", "--format", "json", "--index", str(index_dir))
    assert data["message"] == message and data["years"] == [2025]
    assert all(entry["transitions"] == [] for entry in data["items"])
    assert "前年度から" not in ok("show", "13001", "--index", str(index_dir))


def test_unknown_project_is_an_error(index_dir: Path) -> None:
    result = invoke("history", "99999", "--index", str(index_dir))
    assert result.exit_code == 1
    assert "事業 99999 は索引にありません" in result.stderr


def test_two_sheets_of_one_year_name_both_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a_2024.txt").write_text(nemuro_dump(2024), "utf-8")
    (corpus / "b_2024_copy.txt").write_text(nemuro_dump(2024), "utf-8")
    result = invoke("index", str(corpus), "--index", str(tmp_path / "index"))
    assert result.exit_code == 1
    assert "a_2024.txt" in result.stderr and "b_2024_copy.txt" in result.stderr
    assert "2024-12276" in result.stderr or "2024-12770" in result.stderr


# --------------------------------------------------------------------------------------------
# changes --year Y

ISSUE_SHEET_KEYS = {
    "id",
    "project_no",
    "project_name",
    "previous_year",
    "copied",
    "changes",
    "direction_changed",
    "answers_changed",
    "stale",
}


@pytest.mark.parametrize("year", ["令和7", "R7", "2025", "令和７"])
def test_changes_year_in_any_spelling(index_dir: Path, year: str) -> None:
    data = as_json("changes", "--year", year, "--format", "json", "--index", str(index_dir))
    assert data["year"] == 2025
    assert len(data["sheets"]) == 5


def test_changes_json_follows_the_contract(index_dir: Path) -> None:
    data = as_json("changes", "--year", "2025", "--format", "json", "--index", str(index_dir))
    assert set(data) == {"year", "sheets"}
    for sheet in data["sheets"]:
        assert set(sheet) >= ISSUE_SHEET_KEYS
        assert set(sheet["changes"]) == {"same", "numbers", "edited", "rewritten"}
        for reference in sheet["stale"]:
            assert set(reference) == {"key", "quoted_year", "latest_indicator_year", "text"}
    # Copied and stale first, copied next, then by the share of unchanged items; new last.
    assert [sheet["id"] for sheet in data["sheets"]] == [
        "2025-12276",
        "2025-0101",
        "2025-0086",
        "2025-12770",
        "2025-13001",
    ]
    by_no = {sheet["project_no"]: sheet for sheet in data["sheets"]}

    copied = by_no["12276"]
    assert copied["copied"] is True and copied["previous_year"] == 2024
    assert copied["changes"] == {"same": 10, "numbers": 0, "edited": 0, "rewritten": 0}
    assert copied["stale"] == [
        {
            "key": "ア",
            "quoted_year": 2023,
            "latest_indicator_year": 2025,
            "text": STALE_SENTENCE,
        }
    ]
    assert copied["direction_changed"] is False and copied["answers_changed"] == []

    event = by_no["12770"]
    assert event["copied"] is False and event["stale"] == []
    assert event["project_name"] == NEW_NAME
    assert event["changes"] == {"same": 9, "numbers": 0, "edited": 1, "rewritten": 0}
    assert event["direction_changed"] is True and event["answers_changed"] == []

    new = by_no["13001"]
    assert new["previous_year"] is None and new["copied"] is False
    assert new["changes"] == {"same": 0, "numbers": 0, "edited": 0, "rewritten": 0}


def test_changes_of_the_year_before(index_dir: Path) -> None:
    data = as_json("changes", "--year", "R6", "--format", "json", "--index", str(index_dir))
    assert [sheet["id"] for sheet in data["sheets"]][:2] == ["2024-12276", "2024-0101"]
    by_no = {sheet["project_no"]: sheet for sheet in data["sheets"]}
    assert by_no["12276"]["copied"] and by_no["12276"]["stale"][0]["latest_indicator_year"] == 2024
    event = by_no["12770"]
    assert event["previous_year"] == 2023 and not event["copied"]
    assert event["changes"] == {"same": 7, "numbers": 1, "edited": 0, "rewritten": 2}
    assert event["answers_changed"] == ["オ"] and event["direction_changed"] is False
    assert event["items"]["ア"] == "numbers" and event["items"]["見直し"] == "rewritten"
    assert "13001" not in by_no
    first = as_json("changes", "--year", "2023", "--format", "json", "--index", str(index_dir))
    assert all(sheet["previous_year"] is None for sheet in first["sheets"])
    assert all(sheet["stale"] == [] for sheet in first["sheets"])  # 令和5 quotes its own year


def test_changes_of_the_library_is_the_cli_json(index_dir: Path) -> None:
    cli = as_json("changes", "--year", "2025", "--format", "json", "--index", str(index_dir))
    with evalsearch.open(index_dir) as ix:
        report = ix.changes(2025)
        assert json.loads(json.dumps(report.to_dict(), ensure_ascii=False)) == cli
        only = ix.changes(2025, municipality="大船渡市")
        assert [sheet.id for sheet in only.sheets] == ["2025-0101", "2025-0086"]


def test_changes_table_lists_copies_and_stale_first(index_dir: Path) -> None:
    text = ok("changes", "--year", "令和7", "--index", str(index_dir))
    assert "2025年度: 5件（前年度と比較 4件、評価の写し 2件、古い年度の数値 1件）" in text
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == [
        "12276",
        "0101",
        "0086",
        "12770",
        "13001",
    ]
    assert "写し" in rows[0] and "1件" in rows[0] and "同10 数0 一0 改0" in rows[0]
    assert "変更" in rows[3] and "同9 数0 一1 改0" in rows[3]
    assert "前年度なし" in rows[4]
    assert f"12276【ア】2023年度の数値（指標は2025年度まで）：{STALE_SENTENCE}" in text


def test_changes_csv(index_dir: Path) -> None:
    text = ok("changes", "--year", "2025", "--format", "csv", "--index", str(index_dir))
    assert not text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(CSV_HEADER)
    assert [row[0] for row in rows[1:]] == [
        "2025-12276",
        "2025-0101",
        "2025-0086",
        "2025-12770",
        "2025-13001",
    ]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["前年度の写し"] == "はい" and first["比較した年度"] == "2024"
    assert (first["同文"], first["数値のみ"], first["一部修正"], first["改稿"]) == (
        "10",
        "0",
        "0",
        "0",
    )
    assert first["古い年度の数値"] == f"【ア】2023年度（表は2025年度まで）{STALE_SENTENCE}"
    event = dict(zip(rows[0], rows[4], strict=True))
    assert (event["前年度の写し"], event["方向性の変更"], event["一部修正"]) == (
        "いいえ",
        "はい",
        "1",
    )
    bom = ok("changes", "--year", "R6", "--format", "csv", "--bom", "--index", str(index_dir))
    assert bom.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(bom.removeprefix("\ufeff"))))
    event = next(dict(zip(rows[0], row, strict=True)) for row in rows if row[2] == "12770")
    assert event["回答の変わった設問"] == "オ"


def test_changes_of_a_year_without_sheets(index_dir: Path) -> None:
    text = ok("changes", "--year", "2030", "--index", str(index_dir))
    assert "この年度のシートはありません。" in text


# --------------------------------------------------------------------------------------------
# show PROJECT


def test_show_prints_the_change_from_the_year_before(index_dir: Path) -> None:
    newest = ok("show", "12770", "--index", str(index_dir))
    assert "前年度から: 同文 9 / 一部修正 1（`evalsearch history 12770` で詳しく）" in newest
    middle = ok("show", "12770", "--year", "R6", "--index", str(index_dir))
    assert "前年度から: 同文 7 / 数値のみ 1 / 改稿 2" in middle
    first = ok("show", "2023-12770", "--index", str(index_dir))
    assert "前年度から" not in first
    copied = ok("show", "12276", "--index", str(index_dir))
    assert "前年度から: 同文 10（" in copied


# --------------------------------------------------------------------------------------------
# report --project P / report --changes --year Y


def test_project_report_markdown_has_a_history_section(index_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "12770.md"
    assert "報告書を書き出しました" in ok(
        "report", "--project", "12770", "--out", str(out), "--index", str(index_dir)
    )
    text = out.read_text("utf-8")
    section = text[text.index("## 経年（前年度からの変化）") :]
    assert f"事業名の変更：2023年度 {OLD_NAME} → 2025年度 {NEW_NAME}" in section
    assert "### 年度ごとの評価" in section
    assert "令和~~5~~**6**年度" in section and "~~親善~~" in section and "**一層**" in section
    assert "見直しのうえで継続（統合・振替）" in section


def test_project_report_html_has_a_history_section(index_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "12770.html"
    ok("report", "--project", "12770", "--out", str(out), "--index", str(index_dir))
    text = out.read_text("utf-8")
    section = text[text.index("<h2>経年（前年度からの変化）</h2>") :]
    assert "<td>2024</td>" in section and "前年度から: 同文 7 / 数値のみ 1 / 改稿 2" in section
    assert "<td>見直しのうえで継続（統合・振替）</td>" in section
    assert "前年度から: 同文 9 / 一部修正 1" in section


def test_project_report_html_marks_the_changed_spans(index_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "12770.html"
    ok("report", "--project", "12770", "--out", str(out), "--index", str(index_dir))
    section = out.read_text("utf-8").split("<h2>経年（前年度からの変化）</h2>", 1)[1]
    # 2024→2025: 親善 deleted, 一層 inserted in ア.
    assert "<del>親善</del>" in section and "<ins>一層</ins>" in section
    assert "2024→2025年度の記述の変化（同文 9 / 一部修正 1）" in section


@pytest.mark.parametrize("year", ["2025", "令和7", "R7"])
def test_changes_report_markdown(index_dir: Path, tmp_path: Path, year: str) -> None:
    out = tmp_path / "changes.md"
    ok("report", "--changes", "--year", year, "--out", str(out), "--index", str(index_dir))
    text = out.read_text("utf-8")
    assert text.startswith("# 2025年度の評価シートの前年度からの変化\n")
    assert "5件（前年度と比較 4件、評価の写し 2件、古い年度の数値 1件）" in text
    rows = [line for line in text.splitlines() if line.startswith("| 2025-")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| 2025-12276",
        "| 2025-0101",
        "| 2025-0086",
        "| 2025-12770",
        "| 2025-13001",
    ]
    assert "| 写し | 同文 10 |" in rows[0] and STALE_SENTENCE in rows[0]
    assert "| 同文 9 / 一部修正 1 | 変更 |" in rows[3]


def test_changes_report_html_and_csv(index_dir: Path, tmp_path: Path) -> None:
    html = tmp_path / "changes.html"
    ok("report", "--changes", "--year", "R7", "--out", str(html), "--index", str(index_dir))
    text = html.read_text("utf-8")
    assert "<title>2025年度の評価シートの前年度からの変化</title>" in text
    assert text.index("2025-12276") < text.index("2025-12770") < text.index("2025-13001")
    assert '<span class="copied">写し</span>' in text and STALE_SENTENCE in text

    table = tmp_path / "changes.csv"
    ok("report", "--changes", "--year", "R7", "--out", str(table), "--index", str(index_dir))
    raw = table.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == list(CSV_HEADER) and len(rows) == 6
    assert rows[1][:6] == ["2025-12276", "根室市", "12276", "輸出促進支援事業", "2024", "はい"]


def test_changes_report_needs_a_year(index_dir: Path, tmp_path: Path) -> None:
    result = invoke(
        "report", "--changes", "--out", str(tmp_path / "x.md"), "--index", str(index_dir)
    )
    assert result.exit_code == 2
    assert "--year" in result.output


# --------------------------------------------------------------------------------------------
# The 大船渡 form: items ①…⑧ and the form's own passages.


def test_history_of_an_ofunato_project(index_dir: Path) -> None:
    data = as_json("history", "大船渡市/0086", "--format", "json", "--index", str(index_dir))
    assert data["municipality"] == "大船渡市" and data["years"] == [2023, 2024, 2025]
    assert changes_of(data) == {
        "①": ["numbers", "numbers"],
        "②": ["same", "same"],
        "③": ["same", "same"],
        "④": ["same", "same"],
        "⑤": ["same", "same"],
        "⑥": ["same", "same"],
        "⑦": ["same", "same"],
        "⑧": ["rewritten", "same"],
        "見直し": ["same", "same"],
        "動向": ["same", "same"],
        "活動": ["same", "same"],
        "意図": ["same", "same"],
        "概要": ["same", "same"],
        "課長等意見": ["edited", "same"],
    }
    fairness = item(data, "⑧")["transitions"][0]
    assert fairness["answer"] == {
        "from": "公平・公正である",
        "to": "見直し余地がある",
        "changed": True,
    }
    assert rebuilt(fairness["diff"]) == (FAIRNESS_BEFORE, FAIRNESS_AFTER)
    patrol = item(data, "①")["transitions"][0]
    assert patrol["similarity"] == 1.0
    assert {"op": "replace", "old": "123", "new": "110"} in patrol["diff"]
    assert rebuilt(patrol["diff"]) == (normal(PATROL[2023]), normal(PATROL[2024]))
    opinion = item(data, "課長等意見")["transitions"][0]
    assert EDITED_MIN_SIMILARITY <= opinion["similarity"] < 1.0
    assert rebuilt(opinion["diff"]) == (OPINION_BEFORE, OPINION_AFTER)
    assert [entry["decision"] for entry in data["direction"]] == [
        "現状維持",
        "現状維持",
        "改革改善（縮小・統合含む）",
    ]
    assert as_json("history", "0086", "--format", "json", "--index", str(index_dir)) == data


def test_circled_item_numbers_are_kept_and_are_not_figures() -> None:
    """大船渡市's reasons number their points ①②…: a diff quotes them as written, and a changed
    point number is an edit, not a new figure (NFKC would read ① as 1)."""
    assert classify("①の取組を継続する。", "②の取組を継続する。").change == "edited"
    assert classify("①の相談は１２件", "①の相談は15件").change == "numbers"
    assert classify("ＮＰＯの㈱と協議", "NPOの㈱と協議").change == "same"
    assert [span.old for span in diff_spans("⑧は１０件", "⑧は12件")] == ["⑧は", "10", "件"]


def test_ofunato_project_in_the_terminal_and_markdown(index_dir: Path) -> None:
    text = ok("history", "0086", "--index", str(index_dir))
    assert "0086 不法投棄対策事業　大船渡市　2023〜2025年度" in text
    assert "■ 2023→2024年度　同文 7 / 数値のみ 1 / 一部修正 1 / 改稿 1" in text
    assert "【⑧】改稿" in text and "回答：公平・公正である → 見直し余地がある" in text
    assert "【課長等意見】一部修正" in text
    markdown = ok("history", "0086", "--format", "md", "--index", str(index_dir))
    assert "| ⑧ | 公平・公正である | 見直し余地がある | 見直し余地がある |" in markdown
    assert "~~123~~**110**" in markdown and "同文：②・③・④・⑤・⑥・⑦・概要" in markdown
    shown = ok("show", "大船渡市/0086", "--index", str(index_dir))
    assert "前年度から: 同文 9 / 数値のみ 1（`evalsearch history 0086` で詳しく）" in shown


def test_changes_of_ofunato_sheets(index_dir: Path) -> None:
    data = as_json("changes", "--year", "2024", "--format", "json", "--index", str(index_dir))
    by_no = {sheet["project_no"]: sheet for sheet in data["sheets"]}
    copied = by_no["0101"]
    assert copied["copied"] is True
    assert copied["changes"] == {"same": 8, "numbers": 0, "edited": 0, "rewritten": 0}
    patrol = by_no["0086"]
    assert patrol["copied"] is False and patrol["answers_changed"] == ["⑧"]
    assert patrol["changes"] == {"same": 7, "numbers": 1, "edited": 1, "rewritten": 1}
    assert patrol["direction_changed"] is False
    later = as_json("changes", "--year", "2025", "--format", "json", "--index", str(index_dir))
    patrol = next(sheet for sheet in later["sheets"] if sheet["project_no"] == "0086")
    assert patrol["direction_changed"] is True and patrol["copied"] is False
    assert patrol["changes"] == {"same": 9, "numbers": 1, "edited": 0, "rewritten": 0}


# --------------------------------------------------------------------------------------------
# The generator's planted transitions, through `evalsearch index`.


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("history-generated")
    report = generate(60, 1, out)
    assert report.transitions is not None
    labels = json.loads(report.transitions.read_text("utf-8"))
    index = out / "index"
    ok("index", str(report.sheet_dir), "--index", str(index))
    return index, labels


def test_generated_transitions_come_back_as_planted(
    generated: tuple[Path, dict[str, Any]],
) -> None:
    index, labels = generated
    planted = labels["transitions"]
    assert {label["change"] for label in planted} == {"same", "numbers", "edited", "rewritten"}
    found: dict[tuple[str, int, int, str], str] = {}
    with evalsearch.open(index) as ix:
        for project_no in sorted({label["project_no"] for label in planted}):
            for entry in ix.history(project_no).items:
                for transition in entry.transitions:
                    key = (project_no, transition.from_year, transition.to_year, entry.key)
                    found[key] = transition.change
    wrong = [
        (label, found.get((label["project_no"], label["from"], label["to"], label["key"])))
        for label in planted
        if found.get((label["project_no"], label["from"], label["to"], label["key"]))
        != label["change"]
    ]
    assert wrong == []


def test_generated_copies_and_renames(generated: tuple[Path, dict[str, Any]]) -> None:
    index, labels = generated
    assert labels["copied"] and labels["renamed"]
    reasoning: dict[tuple[str, int], list[str]] = {}
    for label in labels["transitions"]:
        if label["key"] in ("ア", "イ", "ウ", "エ", "オ", "カ"):
            reasoning.setdefault((label["project_no"], label["to"]), []).append(label["change"])
    truth = {where for where, kinds in reasoning.items() if set(kinds) == {"same"}}
    assert {(entry["project_no"], entry["year"]) for entry in labels["copied"]} <= truth
    with evalsearch.open(index) as ix:
        found = {
            (sheet.project_no, year)
            for year in (2024, 2025)
            for sheet in ix.changes(year).sheets
            if sheet.copied
        }
        assert found == truth
        for entry in labels["renamed"]:
            history = ix.history(entry["project_no"])
            year = entry["year"]
            before = max(y for y in history.years if y < year)
            assert history.names[year] != history.names[before]
    renamed = labels["renamed"][0]
    text = ok("history", renamed["project_no"], "--index", str(index))
    assert "事業名の変更：" in text and f"{renamed['year']}年度" in text
