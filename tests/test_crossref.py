"""Cross-references between sheets, the オ stance, and contradictions."""

from __future__ import annotations

import pytest

from evalsearch.crossref import (
    HUB_SOURCES,
    CrossReferences,
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
    assert (reference.source, reference.target) == ("根室市/2023-12276", "根室市/2023-12770")
    public = reference.to_public_dict()
    assert (public["source"], public["target"]) == ("2023-12276", "2023-12770")
    assert (public["source_key"], public["target_key"]) == (reference.source, reference.target)
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
    assert pairs == {("根室市/2023-61002", "根室市/2023-61001")}
    (reference,) = references
    assert reference.kind == "organisation" and not reference.quoted
    assert reference.relation == "integration"  # 「…と連携し、イベントの統合を検討する」


def test_partner_named_but_answering_no_is_a_contradiction() -> None:
    sheets = {record.key: SheetInfo.from_record(record) for record in NAMING}
    references = find_cross_references(NAMING)
    messages = pair_contradictions(
        sheets["根室市/2023-61001"], sheets["根室市/2023-61002"], references, similarity=0.0
    )
    assert messages and "61002" in messages[0] and "港まつり実行委員会" in messages[0]


def test_similar_sheet_answering_no_while_other_plans_merge() -> None:
    a = SheetInfo.from_record(make_record("1", "甲事業", answers={"オ": "ない"}))
    b = SheetInfo.from_record(make_record("2", "乙事業", measures=("統合・振替",)))
    assert pair_contradictions(a, b, [], similarity=0.2) == []
    (message,) = pair_contradictions(a, b, [], similarity=0.5)
    assert "類似度 0.50" in message and "統合に前向き" in message


# --- the three relations: integration, partner, mention -----------------------------------

FESTIVAL = make_record(
    "62001",
    "港まつり実行委員会補助金",
    department="観光課",
    answers={"オ": "ない"},
    reasons={"オ": "他に類似する事業はない。"},
)
RELATIONS = (
    FESTIVAL,
    make_record(
        "62002",
        "観光イベント事業",
        department="商工課",
        reasons={"ウ": "港まつり実行委員会と連携してイベントを運営している。"},
    ),
    make_record(
        "62003",
        "市民広報事業",
        department="広報課",
        reasons={"ア": "港まつり実行委員会の催しを広報紙で紹介した。"},
    ),
    make_record(
        "62004",
        "商店街にぎわい事業",
        department="商工課",
        reasons={"ウ": "港まつり実行委員会と協働して商店街の集客を図る。"},
        decision="見直しのうえで継続",
        measures=("統合・振替",),
    ),
    make_record(
        "62005",
        "港湾施設管理事業",
        department="港湾課",
        reasons={"オ": "港まつり実行委員会の事業と統合することを検討する。"},
    ),
)
FESTIVAL_KEY = "根室市/2023-62001"


def _by_source(references) -> dict[str, object]:
    return {reference.source.rpartition("-")[2]: reference for reference in references}


def test_a_name_in_a_cooperation_sentence_is_a_partner_and_a_bare_name_a_mention() -> None:
    references = _by_source(find_cross_references(RELATIONS))
    assert set(references) == {"62002", "62003", "62004", "62005"}
    assert all(reference.target == FESTIVAL_KEY for reference in references.values())
    relations = {source: reference.relation for source, reference in references.items()}
    assert relations == {
        "62002": "partner",  # 「…と連携して」
        "62003": "mention",  # named, nothing said about working together
        "62004": "partner",  # 「…と協働して」
        "62005": "integration",  # 「…と統合することを検討」
    }
    assert references["62002"].partner and references["62004"].partner
    assert not references["62003"].partner
    assert references["62003"].context == "港まつり実行委員会の催しを広報紙で紹介した。"


def test_relation_strengths_and_the_hub_discount() -> None:
    crossrefs = CrossReferences.build(RELATIONS)
    strength = {
        record.project_no: crossrefs.strength(record.key, FESTIVAL_KEY) for record in RELATIONS[1:]
    }
    # Four sheets name the committee: each mention counts sqrt(3 / 4) of its relation.
    hub = (HUB_SOURCES / 4) ** 0.5
    assert strength == pytest.approx(
        {"62002": 0.6 * hub, "62003": 0.4 * hub, "62004": 0.6 * hub, "62005": 1.0 * hub}
    )
    # Either direction, and nothing between sheets that do not name each other.
    assert crossrefs.strength(FESTIVAL_KEY, "根室市/2023-62003") == strength["62003"]
    assert crossrefs.strength("根室市/2023-62002", "根室市/2023-62003") == 0.0
    # Without the hub (three sheets or fewer) the relation counts in full.
    few = CrossReferences.build(RELATIONS[:3])
    assert few.strength("根室市/2023-62002", FESTIVAL_KEY) == pytest.approx(0.6)
    assert few.strength("根室市/2023-62003", FESTIVAL_KEY) == pytest.approx(0.4)


def test_only_a_merge_context_makes_a_partner_or_mention_contradict() -> None:
    sheets = {record.project_no: SheetInfo.from_record(record) for record in RELATIONS}
    references = find_cross_references(RELATIONS)

    def contradictions(source: str) -> list[str]:
        return pair_contradictions(sheets[source], sheets["62001"], references, similarity=0.0)

    # A partner named by a sheet that plans 統合・振替 while the partner answers オ = ない.
    (message,) = contradictions("62004")
    assert "「港まつり実行委員会」を連携先として（方向性は統合・振替）挙げている" in message
    assert "62001" in message and "「ない」と答えている" in message
    # The same partner named by a sheet that plans no merge, or only mentioned: no conflict.
    assert contradictions("62002") == []
    assert contradictions("62003") == []
    assert "統合の文脈で" in contradictions("62005")[0]


def test_candidate_reasons_say_which_relation() -> None:
    from evalsearch.candidates import score_pair
    from evalsearch.similarity import SimilarityModel
    from tests.themed_corpus import analyze_records

    model = SimilarityModel().fit(RELATIONS, analyze_records(RELATIONS))
    crossrefs = CrossReferences.build(RELATIONS, similarity=model.batch_similarity())
    festival = model.row_of(FESTIVAL_KEY)
    texts = {}
    for record in RELATIONS[1:]:
        pair = score_pair(model, crossrefs, model.row_of(record.key), festival)
        assert pair.a.project_no == record.project_no  # the naming sheet comes first
        assert pair.components["cross_reference"] == pytest.approx(
            crossrefs.strength(record.key, FESTIVAL_KEY)
        )
        (reason,) = [reason for reason in pair.reasons if reason.kind == "cross_reference"]
        texts[record.project_no] = reason.text
    assert texts["62002"].endswith("に言及（連携の文脈）")
    assert texts["62003"].endswith("（62001 港まつり実行委員会補助金）に言及")
    assert texts["62005"].endswith("に言及（統合の文脈）")
