"""evalsearch.synonyms: Sudachi synonym dictionary + municipal pairs + user files (real Sudachi)."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalsearch import synonyms
from evalsearch.errors import EvalSearchError
from evalsearch.synonyms import (
    MAX_EXPANSIONS,
    MUNICIPAL_SYNONYMS_FILE,
    SUDACHI_SYNONYMS_FILE,
    WEIGHT_FOREIGN,
    WEIGHT_SYNONYM,
    WEIGHT_VARIANT,
    Expansion,
    SynonymFileError,
    SynonymTable,
    get_table,
    parse_synonym_file,
    version,
)


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synonym-cache")


@pytest.fixture(scope="session")
def sudachi_only(cache: Path) -> SynonymTable:
    """The Sudachi dictionary alone (a cold build: analyses every headword, fills the cache)."""
    return SynonymTable.load(municipal_file=None, cache=cache)


@pytest.fixture(scope="session")
def table(sudachi_only: SynonymTable, cache: Path) -> SynonymTable:
    """Sudachi + the shipped municipal file, from the warm cache."""
    return SynonymTable.load(cache=cache)


@pytest.fixture(scope="session")
def sudachi_json() -> list[dict]:
    with gzip.open(SUDACHI_SYNONYMS_FILE, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def targets(expansions: list[Expansion]) -> list[tuple[str, ...]]:
    return [expansion.terms for expansion in expansions]


def entry(groups: list[dict], group_id: str, headword: str) -> dict:
    group = next(group for group in groups if group["id"] == group_id)
    return next(item for item in group["items"] if item["midashi"] == headword)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- the vendored data ---------------------------------------------------------------------


def test_vendored_dictionary_ships_with_its_licence() -> None:
    folder = SUDACHI_SYNONYMS_FILE.parent
    assert "Apache License" in (folder / "LICENSE").read_text("utf-8")
    notice = (folder / "NOTICE").read_text("utf-8")
    assert "sudachi-synonyms-dictionary@18.0.0" in notice
    assert "WorksApplications/SudachiDict" in notice
    assert SUDACHI_SYNONYMS_FILE.stat().st_size < 5_000_000


def test_import_is_cheap() -> None:
    """Importing the module loads neither Sudachi nor any table."""
    code = (
        "import sys, evalsearch.synonyms as s; "
        "assert 'sudachipy' not in sys.modules, 'sudachipy imported'; "
        "assert not s._tables"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- Sudachi flags -------------------------------------------------------------------------


def test_child_and_jido_from_either_source(sudachi_only: SynonymTable, table: SynonymTable) -> None:
    # Sudachi group 019163: 児童 (flag 0), 子供 / 子ども (flag 1): one way only.
    assert ("子供",) in targets(sudachi_only.expand("児童"))
    assert ("児童",) not in targets(sudachi_only.expand("子供"))
    # The municipal line 「子ども, 児童」 adds the other way, keyed on the normalised 子供.
    child = table.expand("子供")
    assert ("児童",) in targets(child)
    assert next(e for e in child if e.terms == ("児童",)).source == "municipal"
    assert ("子供",) in targets(table.expand("児童"))


def test_flag_1_is_reached_but_never_triggers(
    sudachi_only: SynonymTable, sudachi_json: list[dict]
) -> None:
    npo = entry(sudachi_json, "022779", "NPO")
    assert npo["expandControl"] == 1
    assert npo["ryakusyou"].startswith("略語・略称")
    expansions = sudachi_only.expand("非営利団体")
    by_terms = {e.terms: e for e in expansions}
    # An abbreviation of the same 語彙素 is a variant; another 語彙素 of the group a synonym.
    assert by_terms[("NPO",)].weight == WEIGHT_VARIANT
    assert by_terms[("非営利組織",)].weight == WEIGHT_SYNONYM
    assert sudachi_only.expand("NPO") == []


def test_flag_2_is_never_used(sudachi_only: SynonymTable, sudachi_json: list[dict]) -> None:
    assert entry(sudachi_json, "000486", "ドミニオン")["expandControl"] == 2
    assert entry(sudachi_json, "000486", "領土")["expandControl"] == 0
    assert ("領地",) in targets(sudachi_only.expand("領土"))
    assert ("ドミニオン",) not in targets(sudachi_only.expand("領土"))
    assert sudachi_only.expand("ドミニオン") == []


def test_misspellings_and_misuse_are_never_offered(
    sudachi_only: SynonymTable, sudachi_json: list[dict]
) -> None:
    assert entry(sudachi_json, "016616", "テトラポット")["hyoukiYure"] == "間違い表記"
    assert ("テトラポット",) not in targets(sudachi_only.expand("テトラポッド"))
    # ...but typing the misspelling still finds the right word.
    assert ("テトラポッド",) in targets(sudachi_only.expand("テトラポット"))
    assert entry(sudachi_json, "023062", "姑息")["gokeiSyubetsu"] == "間違い"
    assert ("姑息",) not in targets(sudachi_only.expand("卑怯"))


def test_foreign_spellings_rank_last(sudachi_only: SynonymTable) -> None:
    child = sudachi_only.expand("子供")
    weights = {e.surface: e.weight for e in child}
    assert weights["kid"] == WEIGHT_FOREIGN
    assert weights["キッズ"] == WEIGHT_SYNONYM
    assert [e.weight for e in child] == sorted((e.weight for e in child), reverse=True)


def test_every_expansion_is_weighted_below_one_never_itself_and_capped(
    table: SynonymTable,
) -> None:
    keys = [*table._triggers, *table._rules]
    assert len(keys) > 40_000
    for key in keys:
        expansions = table.expand(key)
        assert len(expansions) <= MAX_EXPANSIONS
        assert len({e.terms for e in expansions}) == len(expansions)
        for expansion in expansions:
            assert 0.0 < expansion.weight < 1.0
            assert expansion.terms != key
            assert expansion.terms and all(expansion.terms)
            assert expansion.surface
            assert expansion.source in ("sudachi", "municipal", "user")


def test_normalised_forms_are_the_keys(sudachi_only: SynonymTable) -> None:
    # 子ども / こども are analysed to 子供 like the index does, and vanish as self-expansions.
    assert ("子供",) not in targets(sudachi_only.expand("子供"))
    assert sudachi_only.expand("ＮＰＯ") == sudachi_only.expand("NPO")  # NFKC fallback
    assert sudachi_only.expand(("子供",)) == sudachi_only.expand("子供")


# --- municipal pairs -----------------------------------------------------------------------


def test_itaku_expands_to_outsourcing_and_blocks_unrelated_senses(
    sudachi_only: SynonymTable, table: SynonymTable
) -> None:
    itaku = targets(table.expand("委託"))
    assert ("外部委託",) in itaku
    assert ("業務委託",) in itaku
    # 民間委託 is the phrase (民間, 委託): it contains 委託, so it adds nothing and is dropped.
    assert ("民間", "委託") not in itaku
    assert ("委託",) in targets(table.expand(("民間", "委託")))
    # 「委託 != 付託 …」 removes the parliamentary sense the Sudachi group carries.
    assert ("付託",) in targets(sudachi_only.expand("委託"))
    assert ("付託",) not in itaku
    assert ("委託",) not in targets(table.expand("付託"))


def test_abbreviation_and_full_form(table: SynonymTable) -> None:
    npo = {e.terms: e for e in table.expand("NPO")}
    assert npo[("特定非営利活動法人",)].weight == WEIGHT_VARIANT
    assert ("NPO",) in targets(table.expand("特定非営利活動法人"))
    assert ("社会福祉協議会",) in targets(table.expand("社協"))
    assert ("デジタルトランスフォーメーション",) in targets(table.expand("DX"))


def test_multi_word_headwords_are_phrases(table: SynonymTable) -> None:
    lonely = table.expand(("独居", "高齢者"))
    assert ("独り暮らし", "高齢者") in targets(lonely)
    assert ("単身", "高齢者") in targets(lonely)
    spans = table.spans(["独り暮らし", "高齢者", "支援"])
    assert (spans[0].start, spans[0].end) == (0, 2)
    assert ("独居", "高齢者") in targets(list(spans[0].expansions))
    assert {(span.start, span.end) for span in spans} >= {(0, 2), (0, 1), (1, 2)}


def test_shipped_municipal_file_is_clean(table: SynonymTable) -> None:
    rules = parse_synonym_file(MUNICIPAL_SYNONYMS_FILE, "municipal")
    assert 30 <= len(rules) <= 80
    assert table.notes == []
    for rule in rules:
        if rule.block:
            continue
        for terms, surface in rule.left:
            assert table.expand(terms), f"{surface}（{rule.line} 行目）が展開されません"


# --- file format and errors ----------------------------------------------------------------


def test_file_format(tmp_path: Path, cache: Path) -> None:
    user = write(
        tmp_path / "user.txt",
        "\ufeff# コメント\n"
        "\n"
        "ふるさと納税 ＝＞ 寄付金 ；0.7   # 一方向、全角の記号、重み\n"
        "自治会、町内会\n"
        "補助金 != 助成金\n",
    )
    custom = SynonymTable.load([user], municipal_file=None, sudachi_file=None, cache=cache)
    (hometown,) = custom.expand("ふるさと納税")
    assert hometown == Expansion(("寄付金",), 0.7, "user", "寄付金")
    assert custom.expand("寄付金") == []
    assert targets(custom.expand("町内会")) == [("自治会",)]
    # The block applies to every source: the shipped file pairs 補助金 and 助成金.
    both = SynonymTable.load([user], cache=cache)
    assert ("助成金",) not in targets(both.expand("補助金"))
    assert ("補助金",) not in targets(both.expand("助成金"))
    assert ("交付金",) in targets(both.expand("補助金"))


def test_user_file_wins_a_tie(tmp_path: Path, cache: Path) -> None:
    user = write(tmp_path / "user.txt", "委託, 外部委託 ; 0.5\n")
    custom = SynonymTable.load([user], cache=cache)
    assert next(e for e in custom.expand("委託") if e.terms == ("外部委託",)).source == "user"


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("補助金", "語が 1 つしかありません"),
        ("補助金,, 助成金", "空の語"),
        ("補助金, 助成金,", "空の語"),
        ("補助金 => 助成金 => 交付金", "2 つ以上"),
        ("=> 助成金", "左右の両方"),
        ("補助金, 助成金 ; 1.5", "0 より大きく 1 未満"),
        ("補助金, 助成金 ; たくさん", "重み「たくさん」"),
        ("補助金, 助成金 ; 0.5 ; 0.6", "「;」が 2 つ以上"),
        ("補助金 != 助成金 ; 0.5", "重みは書けません"),
        ("補助金 => 助成金 != 交付金", "同じ行に書けません"),
        ("補助金, の", "「の」は索引の語になりません"),
    ],
)
def test_parse_errors_name_file_and_line(tmp_path: Path, line: str, hint: str) -> None:
    path = write(tmp_path / "bad.txt", f"# 見出し\n統合, 一本化\n{line}\n")
    with pytest.raises(SynonymFileError) as raised:
        parse_synonym_file(path)
    message = str(raised.value)
    assert f"{path} 3 行目" in message
    assert hint in message
    assert isinstance(raised.value, EvalSearchError)


def test_missing_or_undecodable_file(tmp_path: Path) -> None:
    with pytest.raises(SynonymFileError, match="ありません"):
        parse_synonym_file(tmp_path / "none.txt")
    (tmp_path / "sjis.txt").write_bytes("補助金, 助成金\n".encode("shift_jis"))
    with pytest.raises(SynonymFileError, match="UTF-8"):
        parse_synonym_file(tmp_path / "sjis.txt")


def test_lines_that_add_nothing_are_noted(tmp_path: Path) -> None:
    user = write(tmp_path / "user.txt", "空き家, 空家\n")
    custom = SynonymTable.load([user], municipal_file=None, sudachi_file=None, cache=None)
    assert custom.expand("空き家") == []
    assert len(custom.notes) == 1 and "1 行目" in custom.notes[0]


# --- version -------------------------------------------------------------------------------


def test_version_follows_the_files(tmp_path: Path, table: SynonymTable, cache: Path) -> None:
    assert table.version() == version()
    assert version().startswith("sudachi-synonyms 18.0.0 ")
    municipal = tmp_path / "municipal.txt"
    shutil.copy(MUNICIPAL_SYNONYMS_FILE, municipal)
    before = version(municipal_file=municipal)
    assert before == version()  # same content, same version
    with municipal.open("a", encoding="utf-8") as handle:
        handle.write("公民館, コミュニティセンター\n")
    after = version(municipal_file=municipal)
    assert after != before
    loaded = SynonymTable.load(municipal_file=municipal, cache=cache)
    assert loaded.version() == after
    user = write(tmp_path / "user.txt", "補助, 助成\n")
    assert version([user]) != version()
    with pytest.raises(SynonymFileError):
        version([tmp_path / "none.txt"])


# --- cache and speed -----------------------------------------------------------------------


def test_warm_cache_builds_fast_and_equals_the_cold_build(
    sudachi_only: SynonymTable, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CPU time, best of two: other processes on a busy machine must not fail the test.
    elapsed = []
    for _ in range(2):
        monkeypatch.setattr(synonyms, "_loaded", {})  # read the cache file, not this process's copy
        started = time.process_time()
        warm = SynonymTable.load(cache=cache)
        elapsed.append(time.process_time() - started)
    assert min(elapsed) < 1.5, f"{min(elapsed):.2f} s"
    warm_only = SynonymTable.load(municipal_file=None, cache=cache)
    for key in list(sudachi_only._triggers)[::50]:
        assert warm_only.expand(key) == sudachi_only.expand(key)
    assert warm.expand("委託")


def test_expand_is_fast(table: SynonymTable) -> None:
    fresh = SynonymTable(table._groups, (), version="")
    keys = list(fresh._triggers)[:5000] + [(f"無い語{i}",) for i in range(1000)]
    started = time.process_time()
    for key in keys:
        fresh.expand(key)  # first call: computed
    per_word = (time.process_time() - started) / len(keys)
    assert per_word < 0.05e-3, f"{per_word * 1e3:.4f} ms"


def _tiny_dictionary(path: Path, headword: str) -> Path:
    groups = [
        {
            "id": "000001",
            "items": [
                {
                    "taigenYogen": "体言",
                    "expandControl": 0,
                    "vocabularyNumber": 1,
                    "gokeiSyubetsu": "代表語",
                    "ryakusyou": "代表語形",
                    "hyoukiYure": "代表表記",
                    "bunya": [],
                    "midashi": word,
                }
                for word in ("統合", headword)
            ],
        }
    ]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(groups, handle, ensure_ascii=False)
    return path


def test_cache_is_keyed_by_the_data_and_survives_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synonyms, "_loaded", {})
    data = _tiny_dictionary(tmp_path / "tiny.json.gz", "一本化")
    cache = tmp_path / "cache"
    first = SynonymTable.load(municipal_file=None, sudachi_file=data, cache=cache)
    assert targets(first.expand("統合")) == [("一本化",)]
    (cached,) = cache.glob("sudachi-synonyms-*.json")
    cached.write_text("{broken", encoding="utf-8")
    synonyms._loaded.clear()
    again = SynonymTable.load(municipal_file=None, sudachi_file=data, cache=cache)
    assert targets(again.expand("統合")) == [("一本化",)]
    _tiny_dictionary(data, "集約")  # new data: a new key, the old file is replaced
    changed = SynonymTable.load(municipal_file=None, sudachi_file=data, cache=cache)
    assert targets(changed.expand("統合")) == [("集約",)]
    assert len(list(cache.glob("sudachi-synonyms-*.json"))) == 1


def test_process_table_is_built_once(
    monkeypatch: pytest.MonkeyPatch, cache: Path, sudachi_only: SynonymTable
) -> None:
    monkeypatch.setenv("EVALSEARCH_CACHE_DIR", str(cache))
    assert get_table() is get_table()
    assert ("外部委託",) in targets(get_table().expand("委託"))


def test_command_line(
    monkeypatch: pytest.MonkeyPatch,
    cache: Path,
    sudachi_only: SynonymTable,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from evalsearch.synonyms import _main

    monkeypatch.setenv("EVALSEARCH_CACHE_DIR", str(cache))
    assert _main(["--warm", "委託"]) == 0
    out = capsys.readouterr().out
    assert "sudachi-synonyms 18.0.0" in out
    assert "委託 → " in out and "外部委託(0.5, municipal)" in out
