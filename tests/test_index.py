"""build_index and the index directory: incremental updates, atomic swaps, version checks."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import evalsearch
from evalsearch import store
from evalsearch.build import build_index
from evalsearch.engine import index_tokens, make_schema
from evalsearch.errors import (
    DuplicateRecordError,
    EvalSearchError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    ParseError,
    ProjectNotFoundError,
)
from evalsearch.records import SheetRecord
from tests.conftest import SAMPLE_DUMP
from tests.factories import make_record
from tests.search_corpus import write_dump

EXTRA = (
    make_record("40001", "除雪対策事業", department="建設課", activities="市道の除雪を行う。"),
    make_record("40002", "街路灯維持事業", department="建設課", activities="街路灯を修繕する。"),
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the sample and EXTRA, built once (in parallel); tests work on copies."""
    root = tmp_path_factory.mktemp("built")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE_DUMP, corpus / SAMPLE_DUMP.name)
    write_dump(corpus / "extra.txt", EXTRA)
    build_index([corpus], root / "index", rebuild=True)
    return root


@pytest.fixture
def work(built: Path, tmp_path: Path) -> Path:
    """A fresh index of its own corpus copy (files are known by their absolute path)."""
    root = tmp_path / "w"
    shutil.copytree(built / "corpus", root / "corpus")
    build_index([root / "corpus"], root / "index", rebuild=True, processes=1)
    return root


def hits(index_dir: Path, query: str) -> list[str]:
    with evalsearch.open(index_dir) as ix:
        return [hit.id for hit in ix.search(query, limit=50).hits]


def total(index_dir: Path, query: str) -> int:
    with evalsearch.open(index_dir) as ix:
        return ix.search(query).total


def record_ids(index_dir: Path) -> list[str]:
    with evalsearch.open(index_dir) as ix:
        return [record.id for record in ix.records()]


def test_build_reports_counts_and_writes_the_layout(built: Path) -> None:
    index_dir = built / "index"
    manifest = json.loads((index_dir / "manifest.json").read_text("utf-8"))
    assert manifest["schema_version"] == store.SCHEMA_VERSION
    assert manifest["dictionary_version"].startswith("sudachidict-core")
    assert manifest["records"] == 4
    files = manifest["files"]
    assert sorted(Path(key).name for key in files) == [SAMPLE_DUMP.name, "extra.txt"]
    assert all(len(entry["sha256"]) == 64 for entry in files.values())
    # Every other file of the directory is fingerprinted.
    on_disk = {
        path.relative_to(index_dir).as_posix()
        for path in index_dir.rglob("*")
        if path.is_file() and path.name != "manifest.json"
    }
    assert set(manifest["artefacts"]) == on_disk
    assert {"records.jsonl", "terms.jsonl", "crossrefs.json", "similarity-meta.json"} <= on_disk
    assert record_ids(index_dir) == [
        "2023-12276",
        "2023-12770",
        "2023-40001",
        "2023-40002",
    ]
    assert not list(built.glob(".index.staging-*"))


def test_stored_terms_are_the_analysis_of_each_passage(built: Path) -> None:
    from evalsearch.analysis import analyze
    from evalsearch.forms import item_labels

    index_dir = built / "index"
    records = list(store.iter_records(index_dir))
    analyzed = dict(store.iter_terms(index_dir))
    assert list(analyzed) == [record.key for record in records]
    for record in records:
        passages = analyzed[record.key]
        texts = record.searchable_texts(item_labels(record.form))
        assert set(passages) == set(texts)
        for label, text in texts.items():
            assert passages[label] == analyze(text)


def test_an_unchanged_run_skips_every_file(work: Path) -> None:
    before = (work / "index" / "manifest.json").read_text("utf-8")
    report = build_index([work / "corpus"], work / "index")
    assert (report.files_skipped, report.files_added, report.sheets_indexed) == (2, 0, 0)
    assert report.sheets_total == 4
    assert (work / "index" / "manifest.json").read_text("utf-8") == before


def test_reindexing_a_changed_file_replaces_its_sheets_without_duplicates(work: Path) -> None:
    changed = (
        make_record("40001", "除雪対策事業", department="建設課", activities="歩道の排雪を行う。"),
    )
    write_dump(work / "corpus" / "extra.txt", changed)  # 40002 is gone from the file
    report = build_index([work / "corpus"], work / "index")
    assert (report.files_replaced, report.files_skipped) == (1, 1)
    assert (report.sheets_indexed, report.sheets_removed, report.sheets_total) == (1, 1, 3)
    index_dir = work / "index"
    assert hits(index_dir, "排雪") == ["2023-40001"]
    assert hits(index_dir, "除雪") == ["2023-40001"]  # 事業名 still says 除雪
    assert hits(index_dir, "市道") == []
    assert hits(index_dir, "街路灯") == []
    assert record_ids(index_dir).count("2023-40001") == 1
    assert total(index_dir, "事業") == 3
    with evalsearch.open(index_dir) as ix:
        assert ix.engine.searcher().doc_count() == 3


def test_adding_a_file_keeps_the_others(work: Path, tmp_path: Path) -> None:
    new = write_dump(
        tmp_path / "new" / "more.txt",
        (
            make_record(
                "40003", "公園管理事業", department="建設課", activities="公園の遊具を点検する。"
            ),
        ),
    )
    report = build_index([new], work / "index")
    assert (report.files_added, report.sheets_total) == (1, 5)
    assert hits(work / "index", "遊具") == ["2023-40003"]
    assert hits(work / "index", "除雪") == ["2023-40001"]


def test_rebuild_starts_from_the_given_paths_only(work: Path) -> None:
    report = build_index([work / "corpus" / "extra.txt"], work / "index", rebuild=True)
    assert report.sheets_total == 2
    assert hits(work / "index", "技能実習生") == []


def test_a_failed_run_leaves_the_previous_index_searchable(work: Path) -> None:
    bad = work / "corpus" / "zz_not_a_sheet.txt"
    bad.write_text("これは評価シートではありません。\n", "utf-8")
    (work / "corpus" / "extra.txt").write_text(
        (work / "corpus" / "extra.txt").read_text("utf-8").replace("市道", "農道"), "utf-8"
    )
    with pytest.raises(ParseError, match=r"zz_not_a_sheet\.txt"):
        build_index([work / "corpus"], work / "index")
    assert hits(work / "index", "市道") == ["2023-40001"]
    assert hits(work / "index", "農道") == []
    assert not list(work.glob(".index.staging-*"))


def test_an_interrupted_run_leaves_the_previous_index_searchable(work: Path) -> None:
    (work / "corpus" / "extra.txt").write_text(
        (work / "corpus" / "extra.txt").read_text("utf-8").replace("市道", "農道"), "utf-8"
    )

    def interrupt(done: int, total: int) -> None:
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index([work / "corpus"], work / "index", progress=interrupt)
    assert hits(work / "index", "市道") == ["2023-40001"]
    assert not list(work.glob(".index.staging-*"))
    # The next run picks the change up.
    build_index([work / "corpus"], work / "index")
    assert hits(work / "index", "農道") == ["2023-40001"]


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("rebuild", [False, True], ids=["update", "rebuild"])
def test_a_killed_runs_staging_folder_is_removed_by_the_next_build(
    work: Path, rebuild: bool
) -> None:
    # A run killed before its swap leaves .index.staging-<its pid> beside the index.
    stale = work / f".index.staging-{_dead_pid()}"
    shutil.copytree(work / "index", stale)
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        other = work / f".index.staging-{running.pid}"  # a run still going
        other.mkdir()
        (work / "corpus" / "extra.txt").write_text(
            (work / "corpus" / "extra.txt").read_text("utf-8").replace("市道", "農道"), "utf-8"
        )
        build_index([work / "corpus"], work / "index", rebuild=rebuild, processes=1)
        assert not stale.exists()
        assert other.is_dir()  # not ours to remove
    finally:
        running.kill()
        running.wait()
    assert hits(work / "index", "農道") == ["2023-40001"]
    assert [path.name for path in work.glob(".index.staging-*")] == [
        f".index.staging-{running.pid}"
    ]


def test_duplicate_ids_across_files_are_refused(work: Path) -> None:
    write_dump(work / "corpus" / "copy.txt", EXTRA[:1])
    with pytest.raises(EvalSearchError, match="2023-40001"):
        build_index([work / "corpus"], work / "index", rebuild=True)
    assert total(work / "index", "除雪") == 1


@pytest.mark.parametrize("rebuild", [True, False], ids=["rebuild", "update"])
def test_a_directory_that_is_not_an_index_is_never_used_or_replaced(
    tmp_path: Path, rebuild: bool
) -> None:
    victim = tmp_path / "documents"
    victim.mkdir()
    (victim / "memo.txt").write_text("大事なメモ", "utf-8")
    with pytest.raises(
        EvalSearchError, match="evalsearch の索引ではないため使えません（置き換えもしません）"
    ):
        build_index([SAMPLE_DUMP], victim, rebuild=rebuild)
    assert [p.name for p in victim.iterdir()] == ["memo.txt"]
    with pytest.raises(EvalSearchError, match="evalsearch の索引ではない"):
        evalsearch.open(victim)


@pytest.mark.parametrize("rebuild", [True, False], ids=["rebuild", "update"])
def test_an_index_path_that_is_a_file_is_refused_and_left_alone(
    tmp_path: Path, rebuild: bool
) -> None:
    notes = tmp_path / "notes.txt.bak"
    notes.write_text("my notes", "utf-8")
    with pytest.raises(EvalSearchError, match=r"notes\.txt\.bak はディレクトリではありません"):
        build_index([SAMPLE_DUMP], notes, rebuild=rebuild)
    assert notes.read_text("utf-8") == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt.bak"]
    with pytest.raises(EvalSearchError, match="ディレクトリではありません"):
        evalsearch.open(notes)


def test_parallel_and_single_process_builds_agree(built: Path, tmp_path: Path) -> None:
    build_index([built / "corpus"], tmp_path / "one", rebuild=True, processes=1)
    for query in ("技能実習生", "除雪", "オ:統合", "取り組み"):
        assert hits(tmp_path / "one", query) == hits(built / "index", query)


# --- NOT on an index of several segments ---------------------------------------------------


def _run_sheets(run: int, note: str = "") -> list[SheetRecord]:
    """The sheets of the file added by incremental run ``run`` (one segment each).

    In each file a sheet holding only the excluded word comes before the first sheet holding
    both words of a NOT pair: Whoosh's AndNotMatcher let exactly that first match of each
    segment through (evalsearch/engine.py)."""
    texts = (
        "歩道の段差を修繕する。",
        "遊具の塗装を行う。",
        "市道の除雪と歩道の除雪を行う。",
        "市道の除雪を行う。",
        "街路灯を修繕する。",
        "街路灯を点検する。",
        "公園の遊具を点検する。",
        "公園の芝生を刈る。",
    )
    return [
        make_record(
            f"4{run}{number:02d}",
            f"維持管理事業{run}の{number}",
            department="建設課",
            activities=text + note,
        )
        for number, text in enumerate(texts)
    ]


NOT_QUERIES = (
    ("除雪", "除雪 NOT 歩道", ("歩道",)),
    ("街路灯", "街路灯 NOT 修繕", ("修繕",)),
    ("公園", "公園 -遊具", ("遊具",)),
    ("点検", "点検 NOT 遊具", ("遊具",)),
    ("歩道", "歩道 NOT 修繕", ("修繕",)),
    ("修繕", "修繕 NOT 街路灯 NOT 公園", ("街路灯", "公園")),
)


def test_not_excludes_in_every_segment(tmp_path: Path) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    for run in range(4):
        path = write_dump(corpus / f"run{run}.txt", _run_sheets(run))
        build_index([path], index_dir, processes=1)  # one new segment per run
    # Re-indexing a file deletes its old documents from an older segment.
    write_dump(corpus / "run0.txt", _run_sheets(0, note="年度末に実施する。"))
    build_index([corpus], index_dir, processes=1)

    with evalsearch.open(index_dir) as ix:
        segments = ix.engine.searcher().reader().leaf_readers()
        assert len(segments) > 1, "the test needs an index of several segments"
        records = ix.records()
        assert len(records) == 32
        for word, query, excluded in NOT_QUERIES:
            found = {hit.id for hit in ix.search(query, limit=100, synonyms=False).hits}
            texts = {record.id: "".join(record.passages().values()) for record in records}
            with_word = {rid for rid, text in texts.items() if word in text}
            assert found, query
            # The exclusion removes a sheet of every run ...
            assert len(with_word - found) >= 4, query
            for rid in found:
                assert word in texts[rid], (query, rid)
                assert not any(other in texts[rid] for other in excluded), (query, rid)
            # ... and keeps every other sheet with the word.
            assert found == {
                rid for rid in with_word if not any(other in texts[rid] for other in excluded)
            }, query


# --- opening and version checks ----------------------------------------------------------


def test_a_missing_index_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match=r"がありません。`evalsearch index PATH"):
        evalsearch.open(tmp_path / "nothing")


def _cli_errors(index_dir: Path) -> dict[str, str]:
    """stderr of each reading command (each must fail with exit code 1)."""
    from typer.testing import CliRunner

    from evalsearch.cli import app

    out = {}
    for args in (["show", "12276"], ["search", "統合"], ["similar", "12276"], ["candidates"]):
        result = CliRunner().invoke(app, [*args, "--index", str(index_dir)])
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        out[args[0]] = result.stderr
    return out


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("schema_version", 0, "別の版の evalsearch で作られています（版 0"),
        ("dictionary_version", "sudachidict-core 20200101", "別の Sudachi 辞書"),
    ],
)
def test_an_index_of_another_version_asks_for_a_rebuild(
    work: Path, key: str, value: object, message: str
) -> None:
    path = work / "index" / "manifest.json"
    manifest = json.loads(path.read_text("utf-8"))
    manifest[key] = value
    path.write_text(json.dumps(manifest), "utf-8")
    for action in (
        lambda: evalsearch.open(work / "index"),
        lambda: build_index([work / "corpus"], work / "index"),
    ):
        with pytest.raises(IndexVersionError, match=message) as caught:
            action()
        assert "--rebuild" in str(caught.value)
    for command, stderr in _cli_errors(work / "index").items():
        assert message in stderr, command
        assert "--rebuild" in stderr, command
    # --rebuild is the way out.
    build_index([work / "corpus"], work / "index", rebuild=True)
    assert total(work / "index", "技能実習生") == 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / "manifest.json").write_text("{", "utf-8"),
        lambda d: (d / "manifest.json").unlink(),
        lambda d: shutil.rmtree(d / "whoosh"),
        lambda d: [p.write_bytes(b"garbage") for p in (d / "whoosh").glob("*.toc")],
    ],
    ids=["manifest-not-json", "manifest-missing", "whoosh-missing", "toc-garbage"],
)
def test_a_corrupt_index_gives_a_clear_message(work: Path, damage) -> None:
    damage(work / "index")
    with pytest.raises(IndexCorruptError, match="壊れているため読み込めません") as caught:
        evalsearch.open(work / "index")
    assert "--rebuild" in str(caught.value)
    # The rebuild the message asks for repairs the index.
    build_index([work / "corpus"], work / "index", rebuild=True)
    assert hits(work / "index", "除雪") == ["2023-40001"]


def _truncate_segments(index_dir: Path) -> None:
    for path in (index_dir / "whoosh").glob("*.seg"):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])


def test_damaged_segment_files_give_a_clear_message_and_rebuild_repairs(work: Path) -> None:
    _truncate_segments(work / "index")
    with pytest.raises(IndexCorruptError, match=r"壊れているため読み込めません（whoosh/.*\.seg"):
        evalsearch.open(work / "index")
    (work / "corpus" / "extra.txt").write_text(
        (work / "corpus" / "extra.txt").read_text("utf-8").replace("市道", "農道"), "utf-8"
    )
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        build_index([work / "corpus"], work / "index")
    build_index([work / "corpus"], work / "index", rebuild=True)
    assert hits(work / "index", "農道") == ["2023-40001"]


def test_corrupt_records_are_reported(work: Path) -> None:
    (work / "index" / "records.jsonl").write_text("{not json\n", "utf-8")
    with pytest.raises(IndexCorruptError, match=r"records\.jsonl 1行目"):
        list(store.iter_records(work / "index"))
    with pytest.raises(IndexCorruptError, match=r"records\.jsonl.*--rebuild"):
        evalsearch.open(work / "index")


# --- finding records ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "project", ["12276", "2023-12276", " 12276 ", "１２２７６", "根室市/12276"]
)
def test_find_records_by_number_or_id(built: Path, project: str) -> None:
    with evalsearch.open(built / "index") as ix:
        assert [r.id for r in ix.records_of(project)] == ["2023-12276"]
        assert ix.record(project).key == "根室市/2023-12276"


def test_find_records_reports_an_unknown_project(built: Path) -> None:
    with evalsearch.open(built / "index") as ix:
        with pytest.raises(ProjectNotFoundError, match="事業 99999 は索引にありません"):
            ix.records_of("99999")
        with pytest.raises(ProjectNotFoundError, match="2019年度の事業 12276"):
            ix.records_of("12276", year=2019)


def test_default_index_dir_follows_the_environment(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVALSEARCH_INDEX", raising=False)
    assert store.default_index_dir() == Path("index")
    monkeypatch.setenv("EVALSEARCH_INDEX", "/srv/idx")
    assert store.default_index_dir() == Path("/srv/idx")
    monkeypatch.setenv("EVALSEARCH_INDEX", str(built / "index"))
    with evalsearch.open() as ix:
        assert ix.path == built / "index"
        assert len(ix.records()) == 4


def test_the_whoosh_schema_pickles_as_whoosh_classes_only(built: Path) -> None:
    from whoosh import fields as wfields

    # Whoosh pickles the schema into its table of contents: no class of ours may be named
    # there, so opening an index never imports (or runs) code named by the file.
    data = pickle.dumps(make_schema())
    assert b"evalsearch" not in data
    restored = pickle.loads(data)
    assert type(restored["text"]) is wfields.TEXT
    for toc in (built / "index" / "whoosh").glob("*.toc"):
        assert b"evalsearch" not in toc.read_bytes()


def test_index_tokens_put_a_compound_its_parts_and_sub_compounds_at_one_position() -> None:
    from evalsearch.analysis import analyze

    assert index_tokens(analyze("外国人技能実習生との交流"), base=100) == [
        ("外国人", 100),
        ("外国", 100),
        ("人", 100),
        ("\x02外国人", 100),
        ("技能実習生", 101),
        ("技能", 101),
        ("実習", 101),
        ("生", 101),
        ("\x02技能実習", 101),
        ("\x02技能実習生", 101),
        ("\x02実習生", 101),
        ("交流", 102),
    ]


def test_a_duplicate_sheet_arriving_in_a_later_run_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(SAMPLE_DUMP, source / "a.txt")
    build_index([source], tmp_path / "index")
    shutil.copy(SAMPLE_DUMP, source / "b.txt")
    with pytest.raises(
        DuplicateRecordError,
        match=r"ID 2023-12276（年度-事業番号）のシートが索引済みの .*a\.txt にもあります",
    ):
        build_index([source], tmp_path / "index")
    assert total(tmp_path / "index", "技能実習生") == 1


def test_a_sheet_moved_to_another_file_is_not_a_duplicate(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(SAMPLE_DUMP, source / "a.txt")
    build_index([source], tmp_path / "index")
    (source / "a.txt").rename(source / "b.txt")
    build_index([source], tmp_path / "index")
    assert sorted(record_ids(tmp_path / "index")) == ["2023-12276", "2023-12770"]
