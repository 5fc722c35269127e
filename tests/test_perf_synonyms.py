"""The compact synonym store (SQLite beside the JSON cache) expands every word exactly as the
full table does, and get_table() uses it so a cold search does not load the whole table."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsearch import synonyms
from evalsearch.synonyms import SynonymTable


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("synonym-cache")
    written = synonyms.write_compact_store(cache)
    assert written is not None and written.exists()
    return cache


@pytest.fixture
def compact(store: Path, monkeypatch: pytest.MonkeyPatch) -> SynonymTable:
    monkeypatch.setenv(synonyms.CACHE_ENV, str(store))
    table = synonyms._compact_table(())
    assert table is not None
    return table


def test_the_compact_table_expands_every_word_as_the_full_table(
    compact: SynonymTable, store: Path
) -> None:
    full = SynonymTable.load(cache=store)
    keys = [*full._triggers, *full._rules, ("無い語",), ("ＮＰＯ",)]
    assert len(keys) > 40_000
    for key in keys[::7]:
        assert compact.expand(key) == full.expand(key), key
    words = ["一人暮らし", "高齢者", "委託", "子ども"]
    assert compact.spans(words) == full.spans(words)
    assert compact.version() == full.version()
    assert compact.max_key_length == full.max_key_length


def test_get_table_uses_the_store_and_writes_it_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(synonyms.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(synonyms, "_tables", {})
    table = synonyms.get_table()
    assert isinstance(table._triggers, synonyms._StoredTriggers)
    assert list(tmp_path.glob("*.sqlite"))
    assert ("外部委託",) in [e.terms for e in table.expand("委託")]


def test_a_damaged_store_falls_back_to_the_full_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(synonyms.CACHE_ENV, str(tmp_path))
    path = synonyms._store_path(tmp_path, synonyms.MUNICIPAL_SYNONYMS_FILE)
    path.write_bytes(b"not a database")
    monkeypatch.setattr(synonyms, "_tables", {})
    table = synonyms.get_table()
    assert not isinstance(table._triggers, synonyms._StoredTriggers)
    assert ("外部委託",) in [e.terms for e in table.expand("委託")]


def test_user_files_use_the_full_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synonyms, "_tables", {})
    user = tmp_path / "user.txt"
    user.write_text("補助, 助成\n", encoding="utf-8")
    table = synonyms.get_table([user])
    assert not isinstance(table._triggers, synonyms._StoredTriggers)
    assert ("助成",) in [e.terms for e in table.expand("補助")]


def test_warm_writes_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(synonyms.CACHE_ENV, str(tmp_path))
    assert synonyms._main(["--warm"]) == 0
    assert synonyms._store_path(tmp_path, synonyms.MUNICIPAL_SYNONYMS_FILE).exists()
