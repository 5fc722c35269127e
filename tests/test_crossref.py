"""Cross-references between sheets, the オ stance, and contradictions."""

from __future__ import annotations

import pytest

from evalsearch.crossref import (
    SheetInfo,
    core_name,
    find_cross_references,
    integration_stance,
    names_of,
    pair_contradictions,
)
from evalsearch.records import SheetRecord
from tests.factories import make_record


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("根室ベトナム交流協会補助事業", "根室ベトナム交流協会"),
        ("輸出促進支援事業", "輸出促進"),
        ("観光協会運営費補助金", "観光協会"),
        ("商店街振興組合助成事業", "商店街振興組合"),
        ("事業", "事業"),
        ("まちづくり推進事業", "まちづくり"),
    ],
)
def test_core_name_strips_generic_suffixes(name: str, core: str) -> None:
    assert core_name(name) == core


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "根室ベトナム交流協会補助事業",
            [
                ("根室ベトナム交流協会補助事業", "project_name"),
                ("根室ベトナム交流協会", "organisation"),
            ],
        ),
        # 輸出促進 is a topic, not a name: only the full name identifies the project.
        ("輸出促進支援事業", [("輸出促進支援事業", "project_name")]),
        ("観光協会補助金", [("観光協会補助金", "project_name"), ("観光協会", "organisation")]),
        ("広報事業", []),
        ("医師会補助事業", [("医師会補助事業", "project_name"), ("医師会", "organisation")]),
        ("大会補助事業", [("大会補助事業", "project_name")]),
        (
            "地域公共交通活性化推進事業",
            [("地域公共交通活性化推進事業", "project_name"), ("地域公共交通活性化", "core_name")],
        ),
    ],
)
def test_names_of_keeps_only_identifying_names(name: str, expected: list) -> None:
    assert names_of(name) == expected


@pytest.mark.parametrize(
    ("answer", "reason", "stance"),
    [
        ("ない", "", "negative"),
        ("不可能", "", "negative"),
        ("ある", "", "positive"),
        ("一部ある", "", "positive"),
        (None, "他に類似する事業もないことから、現段階では統合の可能性はない。", "negative"),
        (None, "統合は困難である。", "negative"),
        (None, "貿易等に関する事務事業と統合することも検討できる。", "positive"),
        (None, "統合の余地がある。", "positive"),
        (None, "", None),
        (None, "引き続き実施する。", None),
    ],
)
def test_integration_stance(answer: str | None, reason: str, stance: str | None) -> None:
    assert integration_stance(answer, reason) == stance


def test_sample_12276_names_12770(sample_expected_records: list[SheetRecord]) -> None:
    references = find_cross_references(sample_expected_records)
    assert len(references) == 1
    reference = references[0]
    assert (reference.source, reference.target) == ("2023-12276", "2023-12770")
    assert reference.passage == "ウ"
    assert reference.name == "根室ベトナム交流協会"
    assert reference.kind == "organisation"
    assert reference.quoted and reference.relation == "integration"
    assert "根室ベトナム交流協会" in reference.context


def test_sample_contradiction_with_unresolved_answer(
    sample_expected_records: list[SheetRecord],
) -> None:
    # The parser may leave 12276's オ unresolved; 12770 answers ない.
    a, b = (SheetInfo.from_record(record) for record in sample_expected_records)
    a = SheetInfo.from_dict({**a.to_dict(), "integration_answer": None})
    messages = pair_contradictions(a, b, find_cross_references(sample_expected_records), 0.05)
    assert len(messages) == 1
    assert "12770" in messages[0] and "ない" in messages[0] and "【ウ】" in messages[0]


NAMING = (
    make_record(
        "61001",
        "港まつり実行委員会補助金",
        department="観光課",
        answers={"オ": "ない"},
        reasons={"オ": "他に類似する事業はない。"},
    ),
    make_record(
        "61002",
        "観光イベント事業",
        department="商工課",
        reasons={"ウ": "港まつり実行委員会と連携し、イベントの統合を検討する。"},
    ),
    make_record(
        "61003",
        "市民広報事業",
        department="広報課",
        reasons={"ア": "港まつりの告知を行った。広報事業として紙面を割いた。"},
    ),
    make_record(
        "61004",
        "広報事業",
        department="秘書課",
    ),
    make_record(
        "61001",
        "港まつり実行委員会補助金",
        fiscal_year=2022,
        reasons={"ア": "港まつり実行委員会補助金の前年度分。"},
    ),
)


def test_references_need_an_identifying_name_and_the_same_year() -> None:
    references = find_cross_references(NAMING)
    pairs = {(ref.source, ref.target) for ref in references}
    # 61002 names the committee; 61003 only says 港まつり (not a name) and 広報事業 (too short);
    # the 2022 sheet names its own project.
    assert pairs == {("2023-61002", "2023-61001")}
    (reference,) = references
    assert reference.kind == "organisation" and not reference.quoted
    assert reference.relation == "integration"  # 「…と連携し、イベントの統合を検討する」


def test_partner_named_but_answering_no_is_a_contradiction() -> None:
    sheets = {record.id: SheetInfo.from_record(record) for record in NAMING}
    references = find_cross_references(NAMING)
    messages = pair_contradictions(
        sheets["2023-61001"], sheets["2023-61002"], references, similarity=0.0
    )
    assert messages and "61002" in messages[0] and "港まつり実行委員会" in messages[0]


def test_similar_sheet_answering_no_while_other_plans_merge() -> None:
    a = SheetInfo.from_record(make_record("1", "甲事業", answers={"オ": "ない"}))
    b = SheetInfo.from_record(make_record("2", "乙事業", measures=("統合・振替",)))
    assert pair_contradictions(a, b, [], similarity=0.2) == []
    (message,) = pair_contradictions(a, b, [], similarity=0.5)
    assert "類似度 0.50" in message and "統合に前向き" in message
