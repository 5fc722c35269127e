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
from typing import Any

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
    from evalsearch.similarity import _term_frequencies

    weights = np.array([model.weight_of(label) for label in labels])
    sheet_tf, counts = _term_frequencies(counts, weights, n)
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


def _postings(directory: Path) -> dict[tuple[str, bytes], Any]:
    """Every term's statistics and postings (documents by key, not number)."""
    searcher = engine.Engine(directory).searcher()
    reader = searcher.reader()
    keys = {docnum: fields["key"] for docnum, fields in reader.iter_docs()}
    found: dict[tuple[str, bytes], Any] = {}
    for fieldname, btext in reader.all_terms():
        info = reader.term_info(fieldname, btext)
        matcher = reader.postings(fieldname, btext)
        postings = []
        while matcher.is_active():
            postings.append((keys[matcher.id()], matcher.weight(), matcher.value()))
            matcher.next()
        stats = (info.weight(), info.doc_frequency(), info.min_length(), info.max_length())
        found[(fieldname, btext)] = (stats, info.max_weight(), sorted(postings))
    searcher.close()
    return found


def test_the_term_at_a_time_posting_writer_writes_whooshs_postings(
    built: Path, sheets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plain Whoosh path: add_postings left as Whoosh has it, every block compressed.
    monkeypatch.setattr(engine, "_add_postings", None)
    monkeypatch.setattr(engine.SegmentSink, "finish", _whoosh_finish)
    plain = tmp_path / "plain"
    build_index([sheets], plain, rebuild=True, processes=2)
    assert _postings(plain) == _postings(built)


def _whoosh_finish(self: engine.SegmentSink) -> Any:
    return self._writer._finalize_segment() if self._count else self._writer.cancel()


def _segment_files(directory: Path, ours: bool, records: list[Any]) -> dict[str, bytes]:
    """The files of one segment of ``records``, not assembled into a compound file (which
    stamps each part with its time), by the part they are (terms, postings, columns …)."""
    engine.create(directory)
    sink = engine.SegmentSink(directory)
    for record, analyzed in records:
        sink.add(record, analyzed)
    writer = sink._writer
    writer.compound = False
    if ours:
        sink.finish()
    else:
        per_document_reader = writer.per_document_reader
        writer.per_document_reader = lambda: engine._BulkLengths(per_document_reader())
        writer._finalize_segment()
    return {
        path.name.split(".", 1)[1]: path.read_bytes()
        for path in (directory / engine.WHOOSH_DIR).iterdir()
        if path.is_file() and path.name.startswith("MAIN_") and "." in path.name
    }


@pytest.mark.parametrize("block", [128, 3])
def test_the_term_at_a_time_writer_writes_whooshs_bytes(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    # Every list compressed, as Whoosh does: then the segment is Whoosh's, byte for byte.
    monkeypatch.setattr(engine, "SMALL_POSTING_LIST", 0)
    # Blocks of 3 postings: lists of several blocks, which 60 sheets never fill at 128.
    from whoosh.codec.whoosh3 import W3Codec

    monkeypatch.setattr(W3Codec, "__init__", _codec_with_blocks(W3Codec.__init__, block))
    terms = dict(store.iter_terms(built))
    records = [(record, terms[record.key]) for record in list(store.iter_records(built))[:60]]
    ours = _segment_files(tmp_path / "ours", True, records)
    whooshs = _segment_files(tmp_path / "whoosh", False, records)
    assert ours.keys() == whooshs.keys() and len(ours) > 3
    for part, data in whooshs.items():
        assert ours[part] == data, part


def _codec_with_blocks(init: Any, block: int) -> Any:
    def patched(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._blocklimit = block

    return patched


def test_the_idf_and_l2_norm_are_scikit_learns_to_the_bit() -> None:
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.preprocessing import normalize

    from evalsearch.similarity import _l2_normalized, _smooth_idf

    rng = np.random.default_rng(3)
    for seed in range(4):
        counts = sparse.random(800, 300, density=0.04, random_state=seed, format="csr")
        counts.data = np.floor(counts.data * 9) + rng.random(counts.nnz)
        counts = sparse.csr_matrix(counts[np.argsort(rng.random(800))])  # empty rows too
        transformer = TfidfTransformer(norm="l2", smooth_idf=True, sublinear_tf=False)
        expected = sparse.csr_matrix(transformer.fit_transform(counts))
        idf = _smooth_idf(counts)
        assert np.array_equal(idf, transformer.idf_)
        weighted = sparse.csr_matrix(counts, copy=True)
        weighted.data *= idf[weighted.indices]
        assert (_l2_normalized(weighted) != expected).nnz == 0
        assert (_l2_normalized(counts) != sparse.csr_matrix(normalize(counts))).nnz == 0
