"""SimilarityModel: fit on real Sudachi terms, similar(), persistence without pickle."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from evalsearch.errors import (
    IndexCorruptError,
    IndexVersionError,
    NotFittedError,
    ProjectNotFoundError,
)
from evalsearch.similarity import GENERIC_TERMS, SimilarityModel, YearScope, similar
from tests.factories import make_record
from tests.themed_corpus import DISTRACTORS, OVERLAPPING_PAIRS, THEMED, analyze_records

PARTNER = {a: b for a, b in OVERLAPPING_PAIRS[:4]} | {b: a for a, b in OVERLAPPING_PAIRS[:4]}

YEARS = (
    make_record(
        "31001",
        "ごみ分別啓発事業",
        fiscal_year=2022,
        activities="ごみの分別方法を説明する出前講座を開き、資源ごみの回収を増やす。",
    ),
    make_record(
        "31001",
        "ごみ分別啓発事業",
        fiscal_year=2023,
        activities="ごみの分別方法を説明する出前講座を開き、資源ごみの回収を増やす。",
    ),
    make_record(
        "31002",
        "資源回収奨励事業",
        fiscal_year=2023,
        activities="町内会の資源ごみ回収に奨励金を出し、ごみの分別を進める。",
    ),
    make_record(
        "31003",
        "生ごみ減量推進事業",
        fiscal_year=2022,
        activities="生ごみの分別と堆肥化を説明する出前講座を開き、ごみの回収量を減らす。",
    ),
)


@pytest.fixture(scope="module")
def model() -> SimilarityModel:
    return SimilarityModel.fit(THEMED, analyze_records(THEMED))


@pytest.mark.parametrize("project", sorted(PARTNER))
def test_overlapping_sheet_is_the_nearest_neighbour(model: SimilarityModel, project: str) -> None:
    result = similar(model, project, limit=3)
    assert result.similar[0].sheet.project_no == PARTNER[project]


@pytest.mark.parametrize(("a", "b"), OVERLAPPING_PAIRS)
def test_overlapping_pairs_rank_above_every_distractor_pair(
    model: SimilarityModel, a: str, b: str
) -> None:
    overlap = model.similarity(model.resolve(a), model.resolve(b))
    for distractor in DISTRACTORS:
        row = model.resolve(distractor)
        best_distractor = max(
            model.similarity(row, other) for other in range(len(model)) if other != row
        )
        assert overlap > 3 * best_distractor


def test_generic_words_do_not_appear_in_shared_terms(model: SimilarityModel) -> None:
    for sheet in THEMED:
        for neighbour in similar(model, sheet.project_no, limit=5).similar:
            terms = {term.term for term in neighbour.shared_terms}
            assert not terms & GENERIC_TERMS
            for pair in neighbour.passage_pairs:
                assert not set(pair.shared_terms) & GENERIC_TERMS


def test_distractors_written_in_boilerplate_are_not_similar_to_each_other(
    model: SimilarityModel,
) -> None:
    rows = [model.resolve(project) for project in DISTRACTORS]
    for a in rows:
        for b in rows:
            if a != b:
                assert model.similarity(a, b) == pytest.approx(0.0, abs=1e-6)


def test_neighbour_carries_shared_terms_and_passage_pairs(model: SimilarityModel) -> None:
    neighbour = similar(model, "23001", limit=1).similar[0]
    assert neighbour.sheet.project_no == "23002"
    assert {"点検", "補修", "損傷"} <= {term.term for term in neighbour.shared_terms}
    # Contributions are shares of the cosine: positive, best first, summing to at most it.
    contributions = [term.contribution for term in neighbour.shared_terms]
    assert contributions == sorted(contributions, reverse=True)
    assert sum(contributions) <= neighbour.score + 1e-6
    pair = neighbour.passage_pairs[0]
    assert (pair.passage, pair.other_passage) == ("ア", "ア")
    assert pair.score > 0.2


def test_json_form_has_the_documented_keys(model: SimilarityModel) -> None:
    data = similar(model, "21001", limit=2).to_dict()
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


def test_sheet_itself_is_never_its_own_neighbour(model: SimilarityModel) -> None:
    ids = [n.sheet.id for n in similar(model, "24001", limit=20).similar]
    assert "2023-24001" not in ids
    assert len(ids) == len(set(ids))


def test_year_scopes() -> None:
    model = SimilarityModel.fit(YEARS, analyze_records(YEARS))

    def ids(**options: object) -> set[str]:
        result = similar(model, "31001", limit=5, **options)
        assert result.project.id == "2023-31001"  # the newest year by default
        return {neighbour.sheet.id for neighbour in result.similar}

    assert ids() == {"2023-31002", "2022-31003"}  # not its own 2022 sheet
    assert ids(years=YearScope.SAME_YEAR) == {"2023-31002"}
    assert ids(years=YearScope.ANY_YEAR) == {"2023-31002", "2022-31003", "2022-31001"}
    older = similar(model, "31001", limit=5, year=2022, years=YearScope.SAME_YEAR)
    assert older.project.id == "2022-31001"
    assert [n.sheet.id for n in older.similar] == ["2022-31003"]


@pytest.mark.parametrize("project", ["99999", "2021-31001"])
def test_unknown_project_is_reported(project: str) -> None:
    model = SimilarityModel.fit(YEARS, analyze_records(YEARS))
    with pytest.raises(ProjectNotFoundError, match="索引にありません"):
        similar(model, project)


def test_record_with_unresolved_answers_and_empty_passages() -> None:
    records = (
        make_record("41001", "空欄の事業", answers={label: None for label in "アイウエオカ"}),
        make_record("41002", "空欄の事業二", answers={"オ": None}),
    )
    model = SimilarityModel.fit(records, analyze_records(records))
    assert similar(model, "41001").similar == ()
    assert model.sheets_[0].integration_stance is None
    assert model.sheets_[0].integration_label == "不明"


def test_save_and_load_round_trip_without_pickle(model: SimilarityModel, tmp_path: Path) -> None:
    model.save(tmp_path)
    loaded = SimilarityModel.load(tmp_path)
    assert loaded.vocabulary_ == model.vocabulary_
    assert (loaded.vectors_ != model.vectors_).nnz == 0
    assert similar(loaded, "22001").to_dict() == similar(model, "22001").to_dict()
    for name in ("similarity-vectors.npz", "similarity-passages.npz"):
        with zipfile.ZipFile(tmp_path / name) as archive:
            for member in archive.namelist():
                with archive.open(member) as handle:
                    array = np.lib.format.read_array(handle, allow_pickle=False)
                    assert array.dtype != object


def _stamp(directory: Path, **changes: object) -> None:
    path = directory / "similarity-meta.json"
    meta = json.loads(path.read_text("utf-8"))
    meta.update(changes)
    path.write_text(json.dumps(meta, ensure_ascii=False), "utf-8")


@pytest.mark.parametrize(
    "changes",
    [{"format_version": 0}, {"format_version": None}, {"dictionary_version": "sudachidict-core 1"}],
)
def test_version_mismatch_asks_for_rebuild(
    model: SimilarityModel, tmp_path: Path, changes: dict
) -> None:
    model.save(tmp_path)
    _stamp(tmp_path, **changes)
    with pytest.raises(
        IndexVersionError, match=r"`evalsearch index PATH\.\.\. --index .+ --rebuild`"
    ):
        SimilarityModel.load(tmp_path)


def test_missing_model_is_not_fitted(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError, match=r"類似度モデルがありません.*--rebuild"):
        SimilarityModel.load(tmp_path)


def test_unfitted_model_raises() -> None:
    with pytest.raises(NotFittedError, match="まだ作られていません"):
        similar(SimilarityModel(), "12276")


@pytest.mark.parametrize("damage", ["truncate_vectors", "drop_vocabulary", "bad_json"])
def test_damaged_model_is_corrupt(model: SimilarityModel, tmp_path: Path, damage: str) -> None:
    model.save(tmp_path)
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
        SimilarityModel.fit(THEMED, [])


def test_analyzer_drops_generic_numbers_and_duplicate_parts() -> None:
    from evalsearch.analysis import analyze

    analyzer = SimilarityModel().build_analyzer()
    features = analyzer(analyze("令和5年度に事業を推進し、技能実習生10名の受入れを図る。"))
    assert "技能実習生" in features
    assert {"技能", "実習"} <= set(features)  # mode-A parts match partial mentions
    assert not {"事業", "推進", "図る", "10", "5", "生"} & set(features)


def test_max_df_drops_words_every_sheet_uses() -> None:
    records = tuple(
        make_record(
            f"5{i:04d}",
            f"事業{i}",
            activities=f"地域の交流を深める。テーマ{i}番の講座として陶芸{i}を教える。",
        )
        for i in range(25)
    )
    model = SimilarityModel.fit(records, analyze_records(records))
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
    model = SimilarityModel.fit(SAME_NAME, analyze_records(SAME_NAME))
    pairs = {(reference.source, reference.target) for reference in model.cross_references_}
    assert pairs == {("2023-71001", "2023-71003")}  # not the first-listed 71002
