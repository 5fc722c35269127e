"""TF-IDF similarity between sheets: fitted by ``evalsearch index``, queried by ``similar``.

The model is built from the same Sudachi term stream as the search index (``analysis``):
``build.py`` analyses every passage once and hands the terms to ``SimilarityModel.fit``; this
module never tokenises text itself. It is the TF-IDF adapter of the one analyzer: the
``analyzer`` callable below turns a passage's ``Term`` list into the feature strings that
scikit-learn's ``CountVectorizer`` counts.

Vectors
    Each passage is counted on its own, the counts are summed with ``PASSAGE_WEIGHTS`` and the
    sum made sublinear (1 + ln tf, so one word repeated in a long 活動内容 list or in every
    reasoning passage does not swamp the rest), weighted by idf and L2-normalised, so a dot
    product is a cosine. Per-passage vectors (same idf, L2 per passage) are kept too: they say which
    passages of two sheets pair up (this sheet's ウ ↔ that sheet's 意図).

Stored form (no pickle)
    ``similarity-meta.json`` (settings, passage labels, sheet keys and years),
    ``similarity-vocabulary.json``, ``similarity-idf.npy`` and the two CSR matrices as ``.npz``
    of plain arrays, read back with ``np.load(..., allow_pickle=False)``. The index manifest
    (evalsearch.store) is the version stamp and the checksum of these files.

Cross-references are not part of the model: ``build.py`` makes them (evalsearch.crossref),
handing over ``SimilarityModel.batch_similarity`` to break ties between projects of one name.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from evalsearch.analysis import Term
from evalsearch.errors import IndexCorruptError, NotFittedError, rebuild_hint
from evalsearch.records import ITEM_LABELS, SheetRecord

REASONING_LABELS: tuple[str, ...] = (*ITEM_LABELS, "見直し", "動向")

PASSAGE_WEIGHTS: Mapping[str, float] = {
    **dict.fromkeys(REASONING_LABELS, 1.0),
    "活動": 0.5,
    "意図": 0.5,
}
"""How much each passage counts in a sheet's vector.

The reasoning passages (ア–カ, 見直しの内容, 今後の動向) weigh 1: they are where a sheet argues
about its own effect, overlap and future, which is what merging decisions turn on. 活動内容
and 意図 weigh 0.5: they name the project's topic (useful: two export projects should meet
there) but they are the longest passages and are written as lists of activities
(「…の開催」「…の運営」); at weight 1 a sheet's vector would be mostly its activity list, and
two sheets that both 開催 events would look alike. At 0.5, a term found only there counts half
a reasoning term and a term found in both places counts 1.5 -- topic words still dominate,
boilerplate does not. 事業名 is left out: names are short, mostly generic suffixes, and a
sheet naming another project is handled exactly by ``crossref`` instead.
"""


@cache
def load_generic_terms() -> frozenset[str]:
    """Terms dropped from the similarity vectors: ``evalsearch/data/generic_terms.txt`` (light
    verbs, formal nouns, administrative vocabulary every sheet uses, words echoed from the
    form's own questions; the file's comments say why each group is there)."""
    text = resources.files("evalsearch").joinpath("data/generic_terms.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


OTHER_PASSAGE_WEIGHT = 0.75
"""Weight of passages the 根室 weights do not name (other forms' items and texts): between a
reasoning passage (1) and a description (0.5), as a form may hold either under its own keys."""

UNWEIGHTED_LABELS = frozenset({"事業名", "回答"})

_NOISE = re.compile(r"^([0-9.,%]+|[ぁ-ゖー]{1,3})$")
"""Numbers (10, 70, 5) and short hiragana-only terms (こと, よう, つく, おる, さらに): after
normalisation Sudachi spells content words in kanji (町作り), so what is left in hiragana is
grammar."""

MIN_TERM_LENGTH = 2
"""One-character terms are dropped: in the sample they are affixes (等 産 他 面 型 界 間 場 会
名 本 現 多 約) and mode-A remnants (人 生 的 者 化); a topical one-character word (港, 税)
nearly always comes with a compound (港湾, 市税) that carries it."""

MAX_BLOCK_CELLS = 4_000_000
"""Cells of one dense block of the chunked product in ``nearest_pairs`` (rows × sheets):
~16 MB of float32."""

MAX_CHUNK_ROWS = 1000

DEFAULT_MAX_DF = 0.5
MAX_DF_MIN_SHEETS = 20
"""Terms found in more than ``max_df`` of the sheets are dropped too, the data's own list of
generic words -- but only from ``MAX_DF_MIN_SHEETS`` sheets up: in a handful of sheets every
shared word is in half of them."""

_FILES = {
    "meta": "similarity-meta.json",
    "vocabulary": "similarity-vocabulary.json",
    "idf": "similarity-idf.npy",
    "vectors": "similarity-vectors.npz",
    "passages": "similarity-passages.npz",
}


@dataclass(frozen=True)
class SharedTerm:
    """A term two vectors share and its share of their cosine (the contributions sum to it)."""

    term: str
    contribution: float

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "contribution": round(self.contribution, 4)}


@dataclass(frozen=True)
class PassagePair:
    """This sheet's passage ``passage`` matches the other sheet's ``other_passage``."""

    passage: str
    other_passage: str
    score: float
    shared_terms: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passage": self.passage,
            "other_passage": self.other_passage,
            "score": round(self.score, 4),
            "shared_terms": list(self.shared_terms),
        }


class SimilarityModel:
    """TF-IDF vectors of every sheet, whole and per passage.

    Settings are keyword-only, as in scikit-learn; ``fit`` learns the state below (trailing
    underscore) and returns the model. Using an unfitted model raises ``NotFittedError``.

    Learned attributes
        passage_labels_   passages counted, in the order of ``passage_vectors_`` rows
        vocabulary_       feature strings, in column order
        idf_              inverse document frequency per column
        vectors_          sheet × term, L2-normalised (a dot product is a cosine), float32
        passage_vectors_  (sheet, passage) × term, L2-normalised per passage, float32
        keys_             record key of each row (``根室市/2023-12276``)
        fiscal_years_     fiscal year of each row
        project_codes_    one integer per (municipality, project number)
        municipality_codes_  one integer per municipality
    """

    passage_labels_: tuple[str, ...]
    vocabulary_: list[str]
    idf_: np.ndarray
    vectors_: sparse.csr_matrix
    passage_vectors_: sparse.csr_matrix
    keys_: list[str]
    fiscal_years_: np.ndarray
    project_codes_: np.ndarray
    municipality_codes_: np.ndarray

    def __init__(
        self,
        *,
        passage_weights: Mapping[str, float] | None = None,
        generic_terms: Iterable[str] | None = None,
        max_df: float = DEFAULT_MAX_DF,
        min_term_length: int = MIN_TERM_LENGTH,
    ) -> None:
        self.passage_weights = dict(PASSAGE_WEIGHTS if passage_weights is None else passage_weights)
        self.generic_terms = frozenset(
            load_generic_terms() if generic_terms is None else generic_terms
        )
        self.max_df = max_df
        self.min_term_length = min_term_length

    # -- fitting -----------------------------------------------------------------------------

    def build_analyzer(self) -> Callable[[Sequence[Term]], list[str]]:
        """The callable given to ``CountVectorizer(analyzer=...)``: Terms → feature strings."""
        generic = self.generic_terms
        min_length = self.min_term_length

        def analyzer(terms: Sequence[Term]) -> list[str]:
            out: list[str] = []
            compounds: set[tuple[int, str]] = set()
            for text, position, _start, _end, is_part in terms:
                if text in generic or len(text) < min_length or _NOISE.match(text):
                    continue
                if is_part:
                    # A part spelled like its own compound would count the word twice.
                    if (position, text) in compounds:
                        continue
                else:
                    compounds.add((position, text))
                out.append(text)
            return out

        return analyzer

    def fit(
        self,
        records: Sequence[SheetRecord],
        analyzed: Sequence[Mapping[str, Sequence[Term]]],
    ) -> SimilarityModel:
        """Fit on ``records``; ``analyzed[i]`` maps passage label → Terms of ``records[i]``."""
        from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
        from sklearn.preprocessing import normalize

        if len(records) != len(analyzed):
            raise ValueError(
                f"records ({len(records)}) and analyzed ({len(analyzed)}) must be aligned"
            )
        labels = self._labels(analyzed)
        n = len(records)
        documents = [analyzed[i].get(label, ()) for i in range(n) for label in labels]
        vectorizer = CountVectorizer(analyzer=self.build_analyzer(), lowercase=False)
        try:
            counts = vectorizer.fit_transform(documents).astype(np.float64)
            vocabulary = list(vectorizer.get_feature_names_out())
        except ValueError:
            # No sheet has a single usable term (e.g. empty sheets): an empty model is valid.
            counts = sparse.csr_matrix((n * len(labels), 0), dtype=np.float64)
            vocabulary = []
        counts = sparse.csr_matrix(counts)

        weights = np.array([self.weight_of(label) for label in labels])
        combine = sparse.csr_matrix(
            (
                np.tile(weights, n),
                np.arange(n * len(labels)),
                np.arange(0, n * len(labels) + 1, len(labels)),
            ),
            shape=(n, n * len(labels)),
        )
        sheet_tf = sparse.csr_matrix(combine @ counts)
        # Sublinear on the weighted total, not per passage: a boilerplate word repeated in all
        # eight reasoning passages must not count eight times as much as a topic word.
        sheet_tf.data = _sublinear(sheet_tf.data)
        counts.data = _sublinear(counts.data)

        if n >= MAX_DF_MIN_SHEETS and vocabulary:
            document_frequency = np.bincount(sheet_tf.indices, minlength=len(vocabulary))
            keep = np.flatnonzero(document_frequency <= self.max_df * n)
            sheet_tf = sheet_tf[:, keep]
            counts = counts[:, keep]
            vocabulary = [vocabulary[k] for k in keep]

        if vocabulary:
            transformer = TfidfTransformer(norm="l2", smooth_idf=True, sublinear_tf=False)
            vectors = transformer.fit_transform(sheet_tf)
            idf = np.asarray(transformer.idf_, dtype=np.float64)
            passages = normalize(sparse.csr_matrix(counts.multiply(idf.reshape(1, -1))))
        else:
            vectors, passages, idf = sheet_tf, counts, np.zeros(0)

        self.passage_labels_ = labels
        self.vocabulary_ = vocabulary
        self.idf_ = idf
        self.vectors_ = sparse.csr_matrix(vectors, dtype=np.float32)
        self.passage_vectors_ = sparse.csr_matrix(passages, dtype=np.float32)
        self._set_sheets(
            [record.key for record in records],
            [record.fiscal_year for record in records],
            [(record.municipality, record.project_no) for record in records],
        )
        return self

    def weight_of(self, label: str) -> float:
        """A passage's weight: ``passage_weights``, else ``OTHER_PASSAGE_WEIGHT`` for the
        passages of other forms (①–⑧ reasons, 概要 …); never the name or the answer summary."""
        if label in self.passage_weights:
            return self.passage_weights[label]
        return 0.0 if label in UNWEIGHTED_LABELS else OTHER_PASSAGE_WEIGHT

    def _labels(self, analyzed: Sequence[Mapping[str, Sequence[Term]]]) -> tuple[str, ...]:
        """Every weighted passage label found, the 根室 form's first, then in order seen."""
        seen = dict.fromkeys(self.passage_weights)
        for passages in analyzed:
            seen.update(dict.fromkeys(passages))
        return tuple(label for label in seen if self.weight_of(label) > 0)

    def _set_sheets(
        self, keys: list[str], years: Sequence[int], projects: Sequence[tuple[str, str]]
    ) -> None:
        self.keys_ = keys
        self.fiscal_years_ = np.array(years, dtype=np.int64)
        codes: dict[tuple[str, str], int] = {}
        self.project_codes_ = np.array(
            [codes.setdefault(project, len(codes)) for project in projects], dtype=np.int64
        )
        places: dict[str, int] = {}
        self.municipality_codes_ = np.array(
            [places.setdefault(place, len(places)) for place, _ in projects], dtype=np.int64
        )
        self._projects = list(projects)
        self._rows = {key: row for row, key in enumerate(keys)}

    def _check_fitted(self) -> None:
        if not hasattr(self, "vectors_"):
            raise NotFittedError(
                "類似度モデルがまだ作られていません。"
                "`evalsearch index PATH... --rebuild` で作ってください。"
            )

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the model into ``directory`` (files ``similarity-*``)."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / _FILES["vocabulary"]).write_text(
            json.dumps(self.vocabulary_, ensure_ascii=False), "utf-8"
        )
        np.save(directory / _FILES["idf"], self.idf_, allow_pickle=False)
        _save_csr(directory / _FILES["vectors"], self.vectors_)
        _save_csr(directory / _FILES["passages"], self.passage_vectors_)
        meta = {
            "settings": {
                "passage_weights": self.passage_weights,
                "generic_terms": sorted(self.generic_terms),
                "max_df": self.max_df,
                "min_term_length": self.min_term_length,
            },
            "passage_labels": list(self.passage_labels_),
            "sheets": [
                [key, int(year), place, number]
                for key, year, (place, number) in zip(
                    self.keys_, self.fiscal_years_, self._projects, strict=True
                )
            ],
        }
        (directory / _FILES["meta"]).write_text(json.dumps(meta, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> SimilarityModel:
        """Read a model written by ``save`` (the index manifest has vouched for its version)."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / _FILES["meta"]).read_text("utf-8"))
            settings = meta["settings"]
            model = cls(
                passage_weights=settings["passage_weights"],
                generic_terms=settings["generic_terms"],
                max_df=settings["max_df"],
                min_term_length=settings["min_term_length"],
            )
            model.passage_labels_ = tuple(meta["passage_labels"])
            sheets = meta["sheets"]
            model._set_sheets(
                [key for key, _, _, _ in sheets],
                [year for _, year, _, _ in sheets],
                [(place, number) for _, _, place, number in sheets],
            )
            model.vocabulary_ = json.loads((directory / _FILES["vocabulary"]).read_text("utf-8"))
            model.idf_ = np.load(directory / _FILES["idf"], allow_pickle=False)
            model.vectors_ = _load_csr(directory / _FILES["vectors"])
            model.passage_vectors_ = _load_csr(directory / _FILES["passages"])
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
            # Not numpy's own advice (allow_pickle): nothing of ours is ever a pickle.
            raise IndexCorruptError(
                f"{directory}: 類似度モデルが壊れています（{type(error).__name__}）。"
                f"{rebuild_hint(directory)}"
            ) from None
        n, width = len(model.keys_), len(model.vocabulary_)
        if (
            model.vectors_.shape != (n, width)
            or model.passage_vectors_.shape != (n * len(model.passage_labels_), width)
            or model.idf_.shape != (width,)
        ):
            raise IndexCorruptError(
                f"{directory}: 類似度モデルの行列の大きさが合いません。{rebuild_hint(directory)}"
            )
        return model

    # -- queries -----------------------------------------------------------------------------

    def __len__(self) -> int:
        self._check_fitted()
        return len(self.keys_)

    def row_of(self, key: str) -> int:
        """The row of the sheet with this record key (KeyError if the model has none)."""
        self._check_fitted()
        return self._rows[key]

    def scores(self, row: int) -> np.ndarray:
        """Cosine similarity of sheet ``row`` with every sheet (dense, one float per sheet)."""
        self._check_fitted()
        product = self.vectors_ @ self.vectors_[row].T
        return np.asarray(product.toarray(), dtype=np.float64).ravel()

    def nearest(self, row: int, *, limit: int, allowed: np.ndarray | None = None) -> list[int]:
        """The ``limit`` rows most similar to ``row`` (never itself), best first, among the
        rows where ``allowed`` (a boolean mask) is true; rows of cosine 0 are left out."""
        scores = self.scores(row)
        mask = scores > 0
        mask[row] = False
        if allowed is not None:
            mask &= allowed
        candidates = np.flatnonzero(mask)
        if len(candidates) > limit:
            best = np.argpartition(-scores[candidates], limit - 1)[:limit]
            candidates = candidates[best]
        ordered = candidates[np.argsort(-scores[candidates], kind="stable")][:limit]
        return [int(other) for other in ordered]

    def nearest_pairs(
        self, rows: np.ndarray, *, top_k: int, min_similarity: float
    ) -> dict[tuple[int, int], float]:
        """{(row a, row b): cosine} for each sheet's ``top_k`` neighbours among ``rows`` of its
        own fiscal year and municipality, other projects only.

        The product ``X[chunk] @ X.T`` is taken a block of rows at a time and turned dense
        only for that block, so memory is bounded by ``MAX_BLOCK_CELLS``, not by the number
        of pairs.
        """
        self._check_fitted()
        found: dict[tuple[int, int], float] = {}
        m = len(rows)
        if m < 2 or top_k < 1:
            return found
        vectors = self.vectors_[rows]
        transposed = vectors.T.tocsr()
        years = self.fiscal_years_[rows]
        projects = self.project_codes_[rows]
        places = self.municipality_codes_[rows]
        chunk = max(1, min(MAX_CHUNK_ROWS, MAX_BLOCK_CELLS // m))
        k = min(top_k, m - 1)
        for start in range(0, m, chunk):
            stop = min(m, start + chunk)
            block = (vectors[start:stop] @ transposed).toarray()
            # Same project (the sheet itself included), other years and other municipalities
            # are never candidates: a merge is one city's decision within one budget year.
            block[projects[start:stop, None] == projects[None, :]] = 0.0
            block[years[start:stop, None] != years[None, :]] = 0.0
            block[places[start:stop, None] != places[None, :]] = 0.0
            best = np.argpartition(-block, k - 1, axis=1)[:, :k]
            values = np.take_along_axis(block, best, axis=1)
            local_rows, slots = np.nonzero(values >= min_similarity)
            for local, slot in zip(local_rows.tolist(), slots.tolist(), strict=True):
                a = int(rows[start + local])
                b = int(rows[best[local, slot]])
                found[(min(a, b), max(a, b))] = float(values[local, slot])
        return found

    def similarity(self, a: int, b: int) -> float:
        _, products = _shared(_row(self.vectors_, a), _row(self.vectors_, b))
        return float(products.sum())

    def batch_similarity(self) -> Callable[[int, Sequence[int]], np.ndarray]:
        """``(source row, candidate rows) -> cosines``, for building cross-references."""
        self._check_fitted()
        return _batch_similarity(self.vectors_)

    def shared_terms(self, a: int, b: int, *, limit: int = 8) -> tuple[SharedTerm, ...]:
        """The terms contributing most to the cosine of sheets ``a`` and ``b``."""
        return self._top_terms(_row(self.vectors_, a), _row(self.vectors_, b), limit)

    def passage_pairs(
        self, a: int, b: int, *, limit: int = 3, min_score: float = 0.05, terms: int = 5
    ) -> tuple[PassagePair, ...]:
        """The best-matching (passage of ``a``, passage of ``b``) pairs, best first."""
        # Works on the raw CSR arrays: candidates asks this for thousands of pairs, and
        # scipy's per-slice objects cost a hundred times more than the arithmetic.
        width = len(self.passage_labels_)
        rows_a = [_row(self.passage_vectors_, a * width + i) for i in range(width)]
        rows_b = [_row(self.passage_vectors_, b * width + j) for j in range(width)]
        columns = np.unique(np.concatenate([row[0] for row in (*rows_a, *rows_b)]))
        dense_a = _densify(rows_a, columns)
        dense_b = _densify(rows_b, columns)
        matrix = dense_a @ dense_b.T
        order = np.argsort(-matrix, axis=None, kind="stable")
        pairs: list[PassagePair] = []
        for flat in order[:limit]:
            i, j = divmod(int(flat), width)
            score = float(matrix[i, j])
            if score < min_score:
                break
            shared = self._top_terms(rows_a[i], rows_b[j], terms)
            pairs.append(
                PassagePair(
                    passage=self.passage_labels_[i],
                    other_passage=self.passage_labels_[j],
                    score=score,
                    shared_terms=tuple(term.term for term in shared),
                )
            )
        return tuple(pairs)

    def _top_terms(self, row_a: _Row, row_b: _Row, limit: int) -> tuple[SharedTerm, ...]:
        columns, products = _shared(row_a, row_b)
        order = np.argsort(-products, kind="stable")[:limit]
        return tuple(
            SharedTerm(self.vocabulary_[int(columns[k])], float(products[k]))
            for k in order
            if products[k] > 0
        )


_Row = tuple[np.ndarray, np.ndarray]
"""One CSR row as (column indices, values)."""


def _row(matrix: sparse.csr_matrix, row: int) -> _Row:
    start, stop = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[start:stop], matrix.data[start:stop]


def _shared(a: _Row, b: _Row) -> tuple[np.ndarray, np.ndarray]:
    """Columns two rows share and the products of their values there."""
    columns, left, right = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    return columns, a[1][left].astype(np.float64) * b[1][right]


def _batch_similarity(
    vectors: sparse.csr_matrix,
) -> Callable[[int, Sequence[int]], np.ndarray]:
    """``(source, candidates) -> cosines``: one sparse mat-vec per call; the candidate blocks
    and the source's dense row are cached (the same name is looked up again and again)."""
    vectors = sparse.csr_matrix(vectors, dtype=np.float64)
    blocks: dict[tuple[int, ...], sparse.csr_matrix] = {}
    dense: dict[int, np.ndarray] = {}

    def scores(source: int, candidates: Sequence[int]) -> np.ndarray:
        key = tuple(candidates)
        block = blocks.get(key)
        if block is None:
            block = blocks[key] = vectors[list(key)]
        row = dense.get(source)
        if row is None:
            dense.clear()  # sources come in order: keep only the current one
            row = dense[source] = np.zeros(vectors.shape[1])
            columns, values = _row(vectors, source)
            row[columns] = values
        return block @ row

    return scores


def _densify(rows: Sequence[_Row], columns: np.ndarray) -> np.ndarray:
    dense = np.zeros((len(rows), len(columns)))
    for i, (indices, values) in enumerate(rows):
        dense[i, np.searchsorted(columns, indices)] = values
    return dense


def _sublinear(values: np.ndarray) -> np.ndarray:
    """1 + ln(tf) from tf = 1 up, tf itself below (weighted counts can be 0.5): continuous."""
    return np.where(values >= 1.0, 1.0 + np.log(np.maximum(values, 1.0)), values)


def _save_csr(path: Path, matrix: sparse.csr_matrix) -> None:
    matrix = sparse.csr_matrix(matrix)
    with path.open("wb") as handle:
        np.savez(
            handle,
            data=matrix.data,
            indices=matrix.indices,
            indptr=matrix.indptr,
            shape=np.array(matrix.shape, dtype=np.int64),
        )


def _load_csr(path: Path) -> sparse.csr_matrix:
    with np.load(path, allow_pickle=False) as arrays:
        shape = tuple(int(size) for size in arrays["shape"])
        return sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
