"""Form profiles: the shipped ones, their agreement with the 根室 parser, and the messages a
planner gets for a mistake in their own profile (key and line)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evalsearch.errors import EvalSearchError, FormProfileError
from evalsearch.forms import (
    CONCEPTS,
    ENV_VAR,
    PASSAGE_FIELDS,
    FormProfile,
    check_profile,
    get_profile,
    list_profiles,
    load_profile,
    parse_profile,
)
from evalsearch.parse.form import DIRECTION_DECISIONS, DIRECTION_MEASURES, item_options
from evalsearch.records import ITEM_LABELS, ITEM_QUESTIONS, PASSAGE_LABELS, Direction

REPO = Path(__file__).resolve().parent.parent
TABLES = REPO / "tests" / "data" / "tables"
MIHON = TABLES / "mihon.toml"
MIHON_TEXT = MIHON.read_text("utf-8")


@pytest.fixture(autouse=True)
def no_user_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def nemuro() -> FormProfile:
    return get_profile("nemuro")


@pytest.fixture
def ofunato() -> FormProfile:
    return get_profile("ofunato")


def test_shipped_profiles() -> None:
    profiles = list_profiles()
    assert [(p.id, p.municipality, p.reader) for p in profiles] == [
        ("nemuro", "根室市", "text_dump"),
        ("ofunato", "大船渡市", "table"),
    ]
    for profile in profiles:
        used = {item.concept for item in profile.items} | {p.concept for p in profile.passages}
        used.discard(None)
        assert used <= set(CONCEPTS)


# --- 根室市: the profile says what evalsearch.parse knows -----------------------------------


def test_nemuro_items_are_the_parsers_items(nemuro: FormProfile) -> None:
    assert tuple(item.key for item in nemuro.items) == ITEM_LABELS


@pytest.mark.parametrize("key", ITEM_LABELS)
def test_nemuro_item_agrees_with_parse_form(nemuro: FormProfile, key: str) -> None:
    item = nemuro.item(key)
    assert item.question == ITEM_QUESTIONS[key]
    assert item.options == item_options(key)


def test_nemuro_direction_agrees_with_parse_form(nemuro: FormProfile) -> None:
    assert nemuro.direction is not None
    assert nemuro.direction.options == DIRECTION_DECISIONS
    assert nemuro.direction.measures == DIRECTION_MEASURES
    assert nemuro.direction.end_year_option in DIRECTION_DECISIONS
    assert nemuro.direction.integration == ("統合・振替",)


def test_nemuro_passages_are_the_record_passages(nemuro: FormProfile) -> None:
    assert nemuro.passage_keys == PASSAGE_LABELS
    fields = {passage.key: passage.field for passage in nemuro.passages}
    assert fields == {
        "見直し": "review_content",
        "動向": "outlook_needs",
        "活動": "activities",
        "対象": "target",
        "意図": "intent",
    }


# --- lookups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile_id", "concept", "keys"),
    [
        ("nemuro", "統合", ("オ",)),
        ("nemuro", "受益者負担", ("カ",)),
        ("nemuro", "今後の動向", ("動向",)),
        ("ofunato", "統合", ()),
        ("ofunato", "コスト削減", ("⑥", "⑦")),
        ("ofunato", "受益者負担", ("⑧",)),
        ("ofunato", "手段・活動", ("手段", "前年度の手段")),
        ("ofunato", "今後の方向性", ("課長等の方向性", "課長等意見")),
    ],
)
def test_keys_for_concept(profile_id: str, concept: str, keys: tuple[str, ...]) -> None:
    assert get_profile(profile_id).keys_for_concept(concept) == keys


def test_integration_is_carried_by_direction_options(
    nemuro: FormProfile, ofunato: FormProfile
) -> None:
    assert ofunato.direction_options_for_concept("統合") == ("改革改善（縮小・統合含む）",)
    assert ofunato.means_integration(Direction("改革改善（縮小・統合含む）"))
    assert not ofunato.means_integration(Direction("現状維持"))
    assert nemuro.means_integration(Direction("見直しのうえで継続", ("効率化", "統合・振替")))
    assert not nemuro.means_integration(Direction("見直しのうえで継続", ("拡充",)))


def test_unknown_concept_lookup_is_an_error(ofunato: FormProfile) -> None:
    with pytest.raises(FormProfileError, match="concept「統合性」は使えません"):
        ofunato.keys_for_concept("統合性")


@pytest.mark.parametrize(
    ("profile_id", "key", "label"),
    [
        ("ofunato", "①", "政策体系との整合性"),
        ("ofunato", "課長等意見", "課長等意見（全体総括・今後の改革改善の内容）"),
        ("ofunato", "事業名", "事務事業名"),
        ("nemuro", "オ", "他の事業との統合"),
        ("nemuro", "見直し", "見直しの内容など"),
    ],
)
def test_passage_label(profile_id: str, key: str, label: str) -> None:
    assert get_profile(profile_id).passage_label(key) == label


def test_unknown_item_and_passage(ofunato: FormProfile) -> None:
    with pytest.raises(FormProfileError, match=r"設問「ア」はありません（設問: ①・②"):
        ofunato.item("ア")
    with pytest.raises(FormProfileError, match="記述「見直し」はありません"):
        ofunato.passage_label("見直し")


def test_ofunato_passage_fields(ofunato: FormProfile) -> None:
    fields = {p.field: p.key for p in ofunato.passages if p.field is not None}
    assert fields == {
        "activities": "手段",
        "target": "対象",
        "intent": "意図",
        "outlook_needs": "状況の変化",
    }
    assert set(fields) <= set(PASSAGE_FIELDS)


# --- mistakes in a planner's profile -------------------------------------------------------


def line_of(text: str, fragment: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text[: text.index(fragment, start)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "after", "message"),
    [
        (
            'options = ["できる"',
            'optoins = ["できる"',
            "",
            "キー「items[2].optoins」: 知らないキーです。「options」の書き誤りではありませんか。",
        ),
        (
            'concept = "統合"',
            'concept = "統合性"',
            "",
            "キー「items[2].concept」: concept「統合性」は決まった語彙にありません。「統合」のことですか。",
        ),
        (
            'options = ["ある", "ない"]',
            'options = "ある"',
            "",
            "キー「items[1].options」: 空でない文字列の配列",
        ),
        (
            '{ header = "①の理由", field = "reason:①" }',
            '{ header = "①の理由", field = "reason:⑨" }',
            "",
            "キー「table.columns[6]」: 見出し「①の理由」の field「reason:⑨」: 設問「⑨」は [[items]] にありません",
        ),
        (
            '{ header = "担当課", field = "department" }',
            '{ header = "担当課", field = "departmnet" }',
            "",
            "field「departmnet」: 知らない項目です。「department」のことですか。",
        ),
        (
            'integration = ["統合"]',
            'integration = ["合併"]',
            "",
            "キー「direction.integration」: 「合併」は options にも measures にもありません",
        ),
        (
            'municipality = "見本市"',
            'municipalty = "見本市"',
            "",
            "キー「municipalty」: 知らないキーです。「municipality」の書き誤りではありませんか。",
        ),
        (
            'key = "②"',
            'key = "①"',
            'label = "必要性"',
            "キー「items[2].key」: 設問のキー「①」が 2 回使われています",
        ),
        (
            'field = "intent"',
            'field = "intention"',
            "",
            "キー「passages[2].field」: 「intention」は使えません",
        ),
        ('reader = "table"', 'reader = "excel"', "", "キー「reader」: 「excel」は使えません"),
        (
            'name = "見本の事務事業評価表"',
            'name = "見本の事務事業評価表',
            "",
            "TOML の書き方に誤りがあります（19 文字目）: 文字列の引用符が行の終わりまでに閉じていません",
        ),
        (
            'era = "令和"',
            'era = "令和"\nera = "平成"',
            "",
            "TOML の書き方に誤りがあります（11 文字目）: 同じキーが 2 回書かれています",
        ),
    ],
)
def test_profile_mistake_names_key_and_line(old: str, new: str, after: str, message: str) -> None:
    text = MIHON_TEXT.replace(old, new, 1)
    assert text != MIHON_TEXT
    with pytest.raises(FormProfileError) as error:
        parse_profile(text, file="mihon.toml")
    # The line is where the changed text's last line is (a duplicate is reported where it repeats).
    line = line_of(text, new.splitlines()[-1], after) if "\n" in new else line_of(text, new, after)
    assert str(error.value).startswith(f"mihon.toml {line} 行目: "), str(error.value)
    assert message in str(error.value)
    assert isinstance(error.value, EvalSearchError)


def test_missing_key_points_at_its_table() -> None:
    text = MIHON_TEXT.replace('question = "似た事業と統合できますか"\n', "")
    with pytest.raises(FormProfileError) as error:
        parse_profile(text, file="mihon.toml")
    second_item = line_of(text, "[[items]]", after='key = "①"')
    assert str(error.value) == (
        f"mihon.toml {second_item} 行目: items[2] に必須のキー「question」がありません"
    )


def test_a_table_profile_needs_a_fiscal_year() -> None:
    text = MIHON_TEXT.replace("fiscal_year = 2024\n", "").replace(
        '    { header = "年度", field = "fiscal_year" },\n', ""
    )
    with pytest.raises(FormProfileError, match="年度が決まりません") as error:
        parse_profile(text, file="mihon.toml")
    line = line_of(text, "columns = [", after="[table]")
    assert str(error.value).startswith(f"mihon.toml {line} 行目")


def test_one_column_per_field() -> None:
    text = MIHON_TEXT.replace(
        '    { header = "担当課", field = "department" },\n',
        '    { header = "担当課", field = "department" },\n'
        '    { header = "部課名", field = "department" },\n',
    )
    with pytest.raises(FormProfileError, match="「担当課」と「部課名」") as error:
        parse_profile(text, file="mihon.toml")
    assert str(error.value).startswith(f"mihon.toml {line_of(text, '部課名')} 行目")


def test_profile_file_must_be_utf8(tmp_path: Path) -> None:
    path = tmp_path / "sjis.toml"
    path.write_bytes(MIHON_TEXT.encode("cp932"))
    with pytest.raises(FormProfileError, match="UTF-8 で保存してください"):
        load_profile(path)


# --- user profiles -------------------------------------------------------------------------


def test_user_profiles_come_from_the_env_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(TABLES))
    assert [profile.id for profile in list_profiles()] == ["nemuro", "ofunato", "mihon"]
    mihon = get_profile("mihon")
    assert mihon.source == str(MIHON)
    assert check_profile(MIHON) == mihon


def test_missing_env_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "none"))
    with pytest.raises(FormProfileError, match=f"環境変数 {ENV_VAR} のディレクトリがありません"):
        list_profiles()


def test_user_profile_may_not_take_a_shipped_id(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MIHON_TEXT.replace('id = "mihon"', 'id = "ofunato"'), encoding="utf-8")
    with pytest.raises(FormProfileError, match="付属の様式（大船渡市）が使っています"):
        check_profile(path)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(FormProfileError, match=r"ofunato\.toml と重なっています") as error:
        list_profiles()
    assert str(error.value).startswith(f"{path} {line_of(path.read_text('utf-8'), 'id = ')} 行目")


def test_unknown_profile_id_lists_the_known_ones() -> None:
    with pytest.raises(
        FormProfileError, match=r"使える様式: nemuro（根室市）、ofunato（大船渡市）"
    ):
        get_profile("kushiro")


def test_shipped_profiles_pass_check_profile(tmp_path: Path) -> None:
    for profile in list_profiles():
        assert check_profile(profile.source) == profile
        copy = tmp_path / Path(profile.source).name
        shutil.copy(profile.source, copy)
        with pytest.raises(FormProfileError, match="別の id にしてください"):
            check_profile(copy)
