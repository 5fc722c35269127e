"""``evalsearch.open(DIR)``: the README's library usage, the project resolver, and a damaged
index refused the same way by the library and by every CLI command."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import evalsearch
from evalsearch import store
from evalsearch.cli import app
from evalsearch.errors import AmbiguousProjectError, IndexCorruptError, ProjectNotFoundError
from evalsearch.handle import Index
from tests.conftest import copy_index
from tests.factories import make_record


def test_readme_usage(sample_index: Index) -> None:
    ix = evalsearch.open(sample_index.path)
    try:
        result = ix.search("技能実習生")
        assert [hit.id for hit in result.hits] == ["2023-12770"]
        assert result.hits[0].key == "根室市/2023-12770"
        similar = ix.similar("12276")
        assert similar.project.id == "2023-12276"
        assert [neighbour.sheet.id for neighbour in similar.similar] == ["2023-12770"]
    finally:
        ix.close()


def test_the_handle_is_a_context_manager_and_answers_every_question(sample_index: Index) -> None:
    with evalsearch.open(sample_index.path) as ix:
        assert isinstance(ix, evalsearch.Index)
        assert repr(ix) == f"<evalsearch.Index {sample_index.path} (2 sheets)>"
        assert [record.key for record in ix.records()] == [
            "根室市/2023-12276",
            "根室市/2023-12770",
        ]
        assert ix.record("12770").project_name == "根室ベトナム交流協会補助事業"
        pairs = ix.candidates().pairs
        assert [(pair.a.id, pair.b.id) for pair in pairs] == [("2023-12276", "2023-12770")]
        assert len(ix.model) == 2
        assert ix.crossrefs.between("根室市/2023-12276", "根室市/2023-12770")
        # Searching twice reuses one searcher (kept warm across queries).
        searcher = ix.engine.searcher()
        ix.search("交流")
        assert ix.engine.searcher() is searcher


# --- the project resolver ------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_cities(tmp_path_factory: pytest.TempPathFactory) -> store.RecordStore:
    """A record store holding project 0086 of two municipalities, 12276 of one."""
    directory = tmp_path_factory.mktemp("two-cities")
    nemuro = make_record("0086", "観光振興事業")
    records = [
        nemuro,
        dataclasses.replace(nemuro, municipality="大船渡市", project_name="港湾振興事業"),
        make_record("12276", "輸出促進支援事業", fiscal_year=2022),
        make_record("12276", "輸出促進支援事業", fiscal_year=2023),
    ]
    store.write_records(directory, records)
    return store.RecordStore(directory)


def test_a_reference_found_in_two_municipalities_asks_which(
    two_cities: store.RecordStore,
) -> None:
    with pytest.raises(AmbiguousProjectError, match="大船渡市/0086、根室市/0086 のように"):
        two_cities.find("0086")
    assert [r.project_name for r in two_cities.find("大船渡市/0086")] == ["港湾振興事業"]
    assert [r.project_name for r in two_cities.find("0086", municipality="根室市")] == [
        "観光振興事業"
    ]
    assert [r.key for r in two_cities.find("大船渡市/2023-0086")] == ["大船渡市/2023-0086"]


def test_a_project_of_several_years_is_newest_first(two_cities: store.RecordStore) -> None:
    assert [r.fiscal_year for r in two_cities.find("１２２７６")] == [2023, 2022]
    assert [r.id for r in two_cities.find("12276", year=2022)] == ["2022-12276"]
    with pytest.raises(ProjectNotFoundError, match="2021年度の事業 12276 は索引にありません"):
        two_cities.find("12276", year=2021)
    with pytest.raises(ProjectNotFoundError):
        two_cities.find("大船渡市/12276")


# --- a damaged index is refused the same way everywhere -----------------------------------

COMMANDS = (
    ["show", "12276"],
    ["search", "統合"],
    ["similar", "12276"],
    ["candidates"],
)


def _first(pattern: str) -> Callable[[Path], Path]:
    def pick(index_dir: Path) -> Path:
        found = sorted(index_dir.glob(pattern))
        assert found, pattern
        return found[0]

    return pick


DAMAGED_FILES = {
    "records": _first("records.jsonl"),
    "terms": _first("terms.jsonl"),
    "similarity-vectors": _first("similarity-vectors.npz"),
    "similarity-meta": _first("similarity-meta.json"),
    "whoosh-segment": _first("whoosh/*.seg"),
}


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("how", [_truncate, _empty], ids=["truncated", "emptied"])
@pytest.mark.parametrize("which", list(DAMAGED_FILES))
def test_a_damaged_file_is_refused_by_open_and_every_command(
    sample_index: Index, tmp_path: Path, which: str, how: Callable[[Path], None]
) -> None:
    index_dir = copy_index(sample_index, tmp_path / "index")
    damaged = DAMAGED_FILES[which](index_dir)
    how(damaged)
    with pytest.raises(IndexCorruptError) as caught:
        evalsearch.open(index_dir)
    message = str(caught.value)
    assert message.startswith(f"索引 {index_dir} が壊れているため読み込めません")
    assert damaged.relative_to(index_dir).as_posix() in message
    assert f"`evalsearch index PATH... --index {index_dir} --rebuild`" in message
    runner = CliRunner()
    for args in COMMANDS:
        result = runner.invoke(app, [*args, "--index", str(index_dir)])
        assert result.exit_code == 1, (args, result.output)
        assert result.stdout == "", args
        assert result.stderr.strip() == f"エラー: {message}", args
