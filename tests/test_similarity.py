"""SimilarityModel: fit on real Sudachi terms, ``similar``, persistence without pickle."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import evalsearch
from evalsearch.cli import app
from evalsearch.crossref import CrossReferences
from evalsearch.errors import (
    IndexCorruptError,
    IndexVersionError,
    NotFittedError,
    ProjectNotFoundError,
)
from evalsearch.handle import Index
from evalsearch.similar import YearScope, similar_sheets
from evalsearch.similarity import SimilarityModel, load_generic_terms
from tests.conftest import copy_index
from tests.factories import make_record
from tests.themed_corpus import DISTRACTORS, OVERLAPPING_PAIRS, THEMED, analyze_records

PARTNER = {a: b for a, b in OVERLAPPING_PAIRS[:4]} | {b: a for a, b in OVERLAPPING_PAIRS[:4]}
REBUILD = r"`evalsearch index PATH\.\.\. --index .+ --rebuild`"


def row(ix: Index, project: str) -> int:
    return ix.model.row_of(ix.record(project).key)


@pytest.mark.parametrize("project", sorted(PARTNER))
def test_overlapping_sheet_is_the_nearest_neighbour(themed_index: Index, project: str) -> None:
    result = themed_index.similar(project, limit=3)
    assert result.similar[0].sheet.project_no == PARTNER[project]


@pytest.mark.parametrize(("a", "b"), OVERLAPPING_PAIRS)
def test_overlapping_pairs_rank_above_every_distractor_pair(
    themed_index: Index, a: str, b: str
) -> None:
    model = themed_index.model
    overlap = model.similarity(row(themed_index, a), row(themed_index, b))
    for distractor in DISTRACTORS:
        distractor_row = row(themed_index, distractor)
        best_distractor = max(
            model.similarity(distractor_row, other)
            for other in range(len(model))
            if other != distractor_row
        )
        assert overlap > 3 * best_distractor


def test_generic_words_do_not_appear_in_shared_terms(themed_index: Index) -> None:
    generic = load_generic_terms()
    assert {"事業", "推進", "実施", "必要"} <= generic
    for sheet in THEMED:
        for neighbour in themed_index.similar(sheet.project_no, limit=5).similar:
            terms = {term.term for term in neighbour.shared_terms}
            assert not terms & generic
            for pair in neighbour.passage_pairs:
                assert not set(pair.shared_terms) & generic


def test_distractors_written_in_boilerplate_are_not_similar_to_each_other(
    themed_index: Index,
) -> None:
    rows = [row(themed_index, project) for project in DISTRACTORS]
    for a in rows:
        for b in rows:
            if a != b:
                assert themed_index.model.similarity(a, b) == pytest.approx(0.0, abs=1e-6)


def test_neighbour_carries_shared_terms_and_passage_pairs(themed_index: Index) -> None:
    neighbour = themed_index.similar("23001", limit=1).similar[0]
    assert neighbour.sheet.project_no == "23002"
    assert {"点検", "補修", "損傷"} <= {term.term for term in neighbour.shared_terms}
    # Contributions are shares of the cosine: positive, best first, summing to at most it.
    contributions = [term.contribution for term in neighbour.shared_terms]
    assert contributions == sorted(contributions, reverse=True)
    assert sum(contributions) <= neighbour.score + 1e-6
    pair = neighbour.passage_pairs[0]
    assert (pair.passage, pair.other_passage) == ("ア", "ア")
    assert pair.score > 0.2


def test_json_form_has_the_documented_keys(themed_index: Index) -> None:
    data = themed_index.similar("21001", limit=2).to_dict()
    assert data["project"]["id"] == "2023-21001"
    first = data["similar"][0]
    assert {
        "id",
        "project_no",
        "project_name",
        "department",
        "score",
        "shared_terms",
        "passage_pairs",
    } <= set(first)
    assert first["id"] == "2023-21002"
    json.dumps(data, ensure_ascii=False)  # plain JSON types only


def test_sheet_itself_is_never_its_own_neighbour(themed_index: Index) -> None:
    ids = [n.sheet.id for n in themed_index.similar("24001", limit=20).similar]
    assert "2023-24001" not in ids
    assert len(ids) == len(set(ids))


# --- year scopes: a corpus of several fiscal years, through the library and the CLI ------

SCOPES = {
    # scope: (CLI flags, neighbours of 31001's newest sheet (2023))
    YearScope.OTHER_PROJECTS: ([], {"2023-31002", "2022-31003"}),
    YearScope.SAME_YEAR: (["--same-year"], {"2023-31002"}),
    YearScope.ANY_YEAR: (["--any-year"], {"2023-31002", "2022-31003", "2022-31001"}),
}


def test_the_year_scopes_give_three_different_answers() -> None:
    # Otherwise swapping two scopes (or two CLI flags) would go unnoticed below.
    answers = [frozenset(expected) for _, expected in SCOPES.values()]
    assert len(set(answers)) == len(answers)


@pytest.mark.parametrize("scope", list(SCOPES), ids=[scope.value for scope in SCOPES])
def test_year_scopes_in_the_library(years_index: Index, scope: YearScope) -> None:
    result = years_index.similar("31001", limit=5, years=scope)
    assert result.project.id == "2023-31001"  # the newest year by default
    assert result.years is scope
    assert {neighbour.sheet.id for neighbour in result.similar} == SCOPES[scope][1]


def test_the_default_year_scope_is_other_projects(years_index: Index) -> None:
    found = {neighbour.sheet.id for neighbour in years_index.similar("31001", limit=5).similar}
    assert found == SCOPES[YearScope.OTHER_PROJECTS][1]


@pytest.mark.parametrize("scope", list(SCOPES), ids=[scope.value for scope in SCOPES])
def test_year_scope_flags_of_the_cli(years_index: Index, scope: YearScope) -> None:
    flags, expected = SCOPES[scope]
    result = CliRunner().invoke(
        app,
        ["similar", "31001", "--index", str(years_index.path), "--format", "json", *flags],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["project"]["id"] == "2023-31001"
    assert {neighbour["id"] for neighbour in data["similar"]} == expected


def test_an_older_year_of_the_project(years_index: Index) -> None:
    older = years_index.similar("31001", limit=5, year=2022, years=YearScope.SAME_YEAR)
    assert older.project.id == "2022-31001"
    assert [n.sheet.id for n in older.similar] == ["2022-31003"]
    result = CliRunner().invoke(
        app,
        [
            *("similar", "31001", "--year", "2022", "--same-year"),
            *("--format", "json", "--index", str(years_index.path)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert [n["id"] for n in json.loads(result.stdout)["similar"]] == ["2022-31003"]


@pytest.mark.parametrize("project", ["99999", "2021-31001"])
def test_unknown_project_is_reported(years_index: Index, project: str) -> None:
    with pytest.raises(ProjectNotFoundError, match="索引にありません"):
        years_index.similar(project)


# --- the model on its own ----------------------------------------------------------------


def _fit(records) -> tuple[SimilarityModel, CrossReferences]:
    model = SimilarityModel().fit(records, analyze_records(records))
    return model, CrossReferences.build(records, similarity=model.batch_similarity())


def test_fit_returns_the_fitted_model_with_one_row_per_record() -> None:
    records = THEMED[:4]
    model = SimilarityModel()
    assert model.fit(records, analyze_records(records)) is model
    assert model.keys_ == [record.key for record in records]
    assert len(model) == 4
    assert model.row_of(records[2].key) == 2


def test_record_with_unresolved_answers_and_empty_passages() -> None:
    records = (
        make_record("41001", "空欄の事業", answers={label: None for label in "アイウエオカ"}),
        make_record("41002", "空欄の事業二", answers={"オ": None}),
    )
    model, crossrefs = _fit(records)
    assert similar_sheets(model, crossrefs, records[0].key).similar == ()
    sheet = crossrefs.sheet(records[0].key)
    assert sheet.integration_stance is None
    assert sheet.integration_label == "不明"


def test_save_and_load_round_trip_without_pickle(themed_index: Index, tmp_path: Path) -> None:
    model = themed_index.model
    model.save(tmp_path)
    loaded = SimilarityModel.load(tmp_path)
    assert loaded.vocabulary_ == model.vocabulary_
    assert loaded.keys_ == model.keys_
    assert (loaded.vectors_ != model.vectors_).nnz == 0
    key = themed_index.record("22001").key
    crossrefs = themed_index.crossrefs
    assert (
        similar_sheets(loaded, crossrefs, key).to_dict()
        == similar_sheets(model, crossrefs, key).to_dict()
    )
    for name in ("similarity-vectors.npz", "similarity-passages.npz"):
        with zipfile.ZipFile(tmp_path / name) as archive:
            for member in archive.namelist():
                with archive.open(member) as handle:
                    array = np.lib.format.read_array(handle, allow_pickle=False)
                    assert array.dtype != object


def _edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text("utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")


@pytest.mark.parametrize(
    "changes",
    [
        {"schema_version": 0},
        {"schema_version": None},
        {"dictionary_version": "sudachidict-core 1"},
    ],
)
def test_version_mismatch_asks_for_rebuild(
    themed_index: Index, tmp_path: Path, changes: dict
) -> None:
    # The model has no version stamp of its own: the index manifest is the one stamp.
    copy = copy_index(themed_index, tmp_path / "index")
    _edit_json(copy / "manifest.json", **changes)
    with pytest.raises(IndexVersionError, match=REBUILD):
        evalsearch.open(copy)


def test_a_model_file_changed_after_the_build_asks_for_rebuild(
    themed_index: Index, tmp_path: Path
) -> None:
    copy = copy_index(themed_index, tmp_path / "index")
    _edit_json(copy / "similarity-meta.json", max_df=0.9)
    with pytest.raises(IndexCorruptError, match="similarity-meta.json.*" + REBUILD):
        evalsearch.open(copy).similar("21001")


def test_missing_model_asks_for_rebuild(tmp_path: Path) -> None:
    with pytest.raises(IndexCorruptError, match=r"類似度モデル.*--rebuild"):
        SimilarityModel.load(tmp_path)


def test_unfitted_model_raises() -> None:
    with pytest.raises(NotFittedError, match="まだ作られていません"):
        similar_sheets(SimilarityModel(), CrossReferences([], []), "根室市/2023-12276")


@pytest.mark.parametrize("damage", ["truncate_vectors", "drop_vocabulary", "bad_json"])
def test_damaged_model_is_corrupt(themed_index: Index, tmp_path: Path, damage: str) -> None:
    themed_index.model.save(tmp_path)
    if damage == "truncate_vectors":
        (tmp_path / "similarity-vectors.npz").write_bytes(b"PK\x03\x04broken")
    elif damage == "drop_vocabulary":
        (tmp_path / "similarity-vocabulary.json").write_text('["only"]', "utf-8")
    else:
        (tmp_path / "similarity-meta.json").write_text("{", "utf-8")
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        SimilarityModel.load(tmp_path)


def test_fit_needs_aligned_inputs() -> None:
    with pytest.raises(ValueError, match="aligned"):
        SimilarityModel().fit(THEMED, [])


def test_analyzer_drops_generic_numbers_and_duplicate_parts() -> None:
    from evalsearch.analysis import analyze

    analyzer = SimilarityModel().build_analyzer()
    features = analyzer(analyze("令和5年度に事業を推進し、技能実習生10名の受入れを図る。"))
    assert "技能実習生" in features
    assert {"技能", "実習"} <= set(features)  # mode-A parts match partial mentions
    assert not {"事業", "推進", "図る", "10", "5", "生"} & set(features)


def test_settings_are_keyword_arguments_and_are_saved(tmp_path: Path) -> None:
    records = THEMED[:4]
    model = SimilarityModel(generic_terms={"水産物"}, min_term_length=3)
    model.fit(records, analyze_records(records))
    assert "水産物" not in model.vocabulary_
    assert all(len(term) >= 3 for term in model.vocabulary_)
    model.save(tmp_path)
    loaded = SimilarityModel.load(tmp_path)
    assert loaded.generic_terms == frozenset({"水産物"})
    assert loaded.min_term_length == 3


def test_max_df_drops_words_every_sheet_uses() -> None:
    records = tuple(
        make_record(
            f"5{i:04d}",
            f"事業{i}",
            activities=f"地域の交流を深める。テーマ{i}番の講座として陶芸{i}を教える。",
        )
        for i in range(25)
    )
    model = SimilarityModel().fit(records, analyze_records(records))
    assert "交流" not in model.vocabulary_
    assert "陶芸" not in model.vocabulary_
    assert "講座" not in model.vocabulary_


SAME_NAME = (
    make_record(
        "71001",
        "高齢者見守り推進事業",
        department="介護福祉課",
        reasons={"オ": "「見守り協会」が行う高齢者の安否確認と重なるため、統合を検討する。"},
        activities="一人暮らし高齢者の安否確認と見守り訪問を行う。",
    ),
    make_record(
        "71002",
        "見守り協会補助事業",
        department="地域福祉課",
        activities="通学路で児童の登下校を見守る防犯パトロール団体に補助する。",
    ),
    make_record(
        "71003",
        "見守り協会補助事業",
        department="生活安全課",
        activities="高齢者の安否確認と見守り訪問を行う団体に補助する。",
    ),
)


def test_a_name_shared_by_several_sheets_goes_to_the_closest_one() -> None:
    _, crossrefs = _fit(SAME_NAME)
    pairs = {(reference.source, reference.target) for reference in crossrefs.references}
    assert pairs == {("根室市/2023-71001", "根室市/2023-71003")}  # not the first-listed 71002


def test_a_copy_of_an_index_is_an_index(years_index: Index, tmp_path: Path) -> None:
    # Fingerprints are of the files, not of the path: a moved index still opens.
    moved = tmp_path / "moved"
    shutil.copytree(years_index.path, moved)
    with evalsearch.open(moved) as ix:
        assert ix.similar("31001").to_dict() == years_index.similar("31001").to_dict()
