"""The streaming build: workers spool texts and terms, the parent keeps offsets and features.

What it must keep: the same index files whatever the number of workers, no spool left behind,
a similarity model equal to the one scikit-learn's CountVectorizer gave over all the terms at
once, segment files shared (hard-linked) with the previous index but never changed in it, and
the same postings (field lengths included) as Whoosh's own per-posting length lookups gave.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

import evalsearch
from bench.generate import generate
from evalsearch import engine, store
from evalsearch.build import SPOOL_PREFIX, build_index
from evalsearch.similarity import SimilarityModel

MODEL_FILES = (
    "records.jsonl",
    "terms.jsonl",
    "crossrefs.json",
    "similarity-meta.json",
    "similarity-vocabulary.json",
    "similarity-idf.npy",
    "similarity-vectors.npz",
    "similarity-passages.npz",
)


@pytest.fixture(scope="module")
def sheets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(120, 11, tmp_path_factory.mktemp("perf_build")).sheet_dir


@pytest.fixture(scope="module")
def built(sheets: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    index_dir = tmp_path_factory.mktemp("perf_build_index") / "index"
    build_index([sheets], index_dir, rebuild=True, processes=2)
    yield index_dir


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_worker_and_two_write_the_same_files(sheets: Path, built: Path, tmp_path: Path) -> None:
    single = tmp_path / "single"
    build_index([sheets], single, rebuild=True, processes=1)
    for name in MODEL_FILES:
        assert _digest(single / name) == _digest(built / name), name


def test_no_spool_file_is_left(built: Path) -> None:
    assert not list(built.glob(f"{SPOOL_PREFIX}*"))
    assert not list(built.parent.glob(".*staging*"))


def _count_vectorizer_model(index_dir: Path) -> SimilarityModel:
    """The similarity model as it was fitted before the build streamed: CountVectorizer over
    every passage of every sheet at once (kept here as the reference)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.preprocessing import normalize

    records = list(store.iter_records(index_dir))
    terms = dict(store.iter_terms(index_dir))
    analyzed = [terms[record.key] for record in records]
    model = SimilarityModel()
    labels = model._labels(analyzed)
    n = len(records)
    documents = [analyzed[i].get(label, ()) for i in range(n) for label in labels]
    vectorizer = CountVectorizer(analyzer=model.build_analyzer(), lowercase=False)
    counts = sparse.csr_matrix(vectorizer.fit_transform(documents).astype(np.float64))
    vocabulary = list(vectorizer.get_feature_names_out())
    weights = np.array([model.weight_of(label) for label in labels])
    combine = sparse.csr_matrix(
        (
            np.tile(weights, n),
            np.arange(n * len(labels)),
            np.arange(0, n * len(labels) + 1, len(labels)),
        ),
        shape=(n, n * len(labels)),
    )
    from evalsearch.similarity import _sublinear

    sheet_tf = sparse.csr_matrix(combine @ counts)
    sheet_tf.data = _sublinear(sheet_tf.data)
    counts.data = _sublinear(counts.data)
    frequency = np.bincount(sheet_tf.indices, minlength=len(vocabulary))
    keep = np.flatnonzero(frequency <= model.max_df * n)
    sheet_tf, counts = sheet_tf[:, keep], counts[:, keep]
    transformer = TfidfTransformer(norm="l2", smooth_idf=True, sublinear_tf=False)
    vectors = transformer.fit_transform(sheet_tf)
    idf = np.asarray(transformer.idf_, dtype=np.float64)
    model.passage_labels_ = labels
    model.vocabulary_ = [vocabulary[k] for k in keep]
    model.idf_ = idf
    model.vectors_ = sparse.csr_matrix(vectors, dtype=np.float32)
    model.passage_vectors_ = sparse.csr_matrix(
        normalize(sparse.csr_matrix(counts.multiply(idf.reshape(1, -1)))), dtype=np.float32
    )
    return model


def test_the_streamed_model_equals_count_vectorizer_over_every_sheet(built: Path) -> None:
    expected = _count_vectorizer_model(built)
    found = SimilarityModel.load(built)
    assert found.passage_labels_ == expected.passage_labels_
    assert found.vocabulary_ == expected.vocabulary_
    assert np.array_equal(found.idf_, expected.idf_)
    for name in ("vectors_", "passage_vectors_"):
        difference = getattr(found, name) != getattr(expected, name)
        assert difference.nnz == 0, name


def test_an_incremental_run_writes_what_a_rebuild_writes(sheets: Path, tmp_path: Path) -> None:
    work = tmp_path / "sheets"
    work.mkdir()
    for path in sheets.glob("*.txt"):
        (work / path.name).write_bytes(path.read_bytes())
    updated, rebuilt = tmp_path / "updated", tmp_path / "rebuilt"
    build_index([work], updated, rebuild=True, processes=2)
    files = sorted(work.glob("*.txt"))
    files[1].write_text(files[1].read_text("utf-8").replace("連携", "協働"), encoding="utf-8")
    files[4].unlink()
    build_index([work], updated, processes=2)
    build_index([work], rebuilt, rebuild=True, processes=2)
    for name in MODEL_FILES[2:]:  # records and terms differ in order only
        assert _digest(updated / name) == _digest(rebuilt / name), name
    assert sorted((updated / "records.jsonl").read_text("utf-8").splitlines()) == sorted(
        (rebuilt / "records.jsonl").read_text("utf-8").splitlines()
    )


def test_a_linked_copy_leaves_the_source_segments_unchanged(built: Path, tmp_path: Path) -> None:
    before = {path.name: _digest(path) for path in (built / engine.WHOOSH_DIR).iterdir()}
    with evalsearch.open(built) as ix:
        total = ix.search("連携").total
        keys = [record.key for record in ix.records()[:5]]
    engine.copy(built, tmp_path)
    engine.commit_segments(tmp_path, keys, [])
    after = {path.name: _digest(path) for path in (built / engine.WHOOSH_DIR).iterdir()}
    assert after == before
    with evalsearch.open(built) as ix:
        assert ix.search("連携").total == total
    copied = engine.Engine(tmp_path)
    assert copied.searcher().doc_count() == len(ix.records()) - len(keys)
    copied.close()


def test_bulk_field_lengths_equal_whoosh_lookups(built: Path) -> None:
    searcher = engine.Engine(built).searcher()
    for sub, _ in searcher.leaf_searchers():
        reader = sub.reader()
        perdoc = reader._perdoc
        bulk = engine._BulkLengths(perdoc)
        for fieldname in ("text", engine.passage_field("ア"), "key"):
            for docnum in range(reader.doc_count_all()):
                assert bulk.doc_field_length(docnum, fieldname) == perdoc.doc_field_length(
                    docnum, fieldname
                )
