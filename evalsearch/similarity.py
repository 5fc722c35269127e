"""TF-IDF similarity between sheets: fitted by ``evalsearch index``, queried by ``similar``.

The model is built from the same Sudachi term stream as the search index (``analysis``):
``build.py`` analyses every passage once; this module never tokenises text itself. It is the
TF-IDF adapter of the one analyzer: the ``analyzer`` callable below turns a passage's ``Term``
list into feature strings, which ``FeatureCounts`` counts one sheet at a time (in the build's
workers, via ``SimilarityModel.sheet_features``) exactly as scikit-learn's ``CountVectorizer``
counted them over all sheets at once -- without the build holding every sheet's terms.

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
from array import array
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

UNWEIGHTED_LABELS = frozenset({"事業名", "回答", "指標", "対象"})
"""Indexed for search, not counted in similarity: a name, the answers, indicator names and
the 対象 box are short lists (件数, 関係団体、事業所、市民): one shared word makes two such
passages look alike, and they say little about what a project argues."""

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

EXACT_GROUP_SHEETS = 6000
"""Pairs never leave one (fiscal year, municipality) group. A group up to this size gets exact
neighbours from the chunked sparse product; the product costs the square of the group size
(~100 s for one 33,000-sheet year at 100,000 sheets), so a larger group takes candidates from
a truncated SVD and re-scores them exactly (``APPROXIMATE_*``; bench/run.py reports the
recall of the exact top 10)."""

APPROXIMATE_DIMENSIONS = 450
"""Dimensions of the truncated SVD that proposes neighbours in a large group (of 919 terms in
the bench corpus). Recall of the exact top 10 over 300 sheets of a 33,334-sheet group (100,000
sheets): 0.912 at 200 dimensions with 40 candidates, 0.973 with 80, 0.995 with 200; 0.999 at
320 dimensions with 80 candidates (11 s for the group), 0.9987 at 450 with 40 (8.6 s)."""

APPROXIMATE_CANDIDATES = 40
"""Neighbours proposed per sheet by the SVD and re-scored with the exact cosine; the best
``top_k`` of them are kept (see ``APPROXIMATE_DIMENSIONS`` for the measurements)."""

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
    _label_weights: dict[str, float] | None = None  # as saved (load); see save

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
        if len(records) != len(analyzed):
            raise ValueError(
                f"records ({len(records)}) and analyzed ({len(analyzed)}) must be aligned"
            )
        counts = FeatureCounts(self)
        for record, passages in zip(records, analyzed, strict=True):
            counts.add(record.key, self.sheet_features(passages))
        return counts.fit(
            [record.key for record in records],
            [record.fiscal_year for record in records],
            [(record.municipality, record.project_no) for record in records],
        )

    def sheet_features(self, passages: Mapping[str, Sequence[Term]]) -> SheetFeatures:
        """One sheet's passage labels (all of them, in order) and the feature counts of each
        weighted passage: what ``fit`` needs of a sheet, small enough to pass between
        processes (the build computes it where the sheet was analysed)."""
        analyzer = self.build_analyzer()
        counted: dict[str, tuple[list[str], list[int]]] = {}
        for label, terms in passages.items():
            if self.weight_of(label) <= 0:
                continue
            features: dict[str, int] = {}
            for feature in analyzer(terms):
                features[feature] = features.get(feature, 0) + 1
            counted[label] = (list(features), list(features.values()))
        return tuple(passages), counted

    def _fit_counts(
        self,
        labels: tuple[str, ...],
        counts: sparse.csr_matrix,
        vocabulary: list[str],
        keys: list[str],
        years: Sequence[int],
        projects: Sequence[tuple[str, str]],
    ) -> SimilarityModel:
        """The model from the raw passage counts: one row per (sheet, label), ``labels`` per
        sheet, columns ``vocabulary`` in sorted order (as scikit-learn's CountVectorizer)."""
        n = len(keys)
        sheet_tf, counts = _term_frequencies(
            counts, np.array([self.weight_of(label) for label in labels]), n
        )

        if n >= MAX_DF_MIN_SHEETS and vocabulary:
            document_frequency = np.bincount(sheet_tf.indices, minlength=len(vocabulary))
            keep = np.flatnonzero(document_frequency <= self.max_df * n)
            sheet_tf = sheet_tf[:, keep]
            counts = counts[:, keep]
            vocabulary = [vocabulary[k] for k in keep]

        if vocabulary:
            idf = _smooth_idf(sheet_tf)
            vectors = _sheet_vectors(sheet_tf, idf)
            del sheet_tf
            passages = _passage_vectors(counts, idf)
        else:
            vectors, passages, idf = sheet_tf, counts, np.zeros(0)
        del counts

        self.passage_labels_ = labels
        self.vocabulary_ = vocabulary
        self.idf_ = idf
        self.vectors_ = sparse.csr_matrix(vectors, dtype=np.float32)
        del vectors
        self.passage_vectors_ = sparse.csr_matrix(passages, dtype=np.float32)
        self._set_sheets(keys, years, projects)
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
            # What each counted passage weighed: weight_of also depends on module constants
            # (OTHER_PASSAGE_WEIGHT, UNWEIGHTED_LABELS) the settings above do not hold, and an
            # update may keep this model only while they are the same.
            "label_weights": {label: self.weight_of(label) for label in self.passage_labels_},
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
            model._label_weights = meta.get("label_weights")
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
        # Through the term-major copy: only the postings of the sheet's own terms are read,
        # not every stored value (a sparse mat-vec over all sheets cost 35 ms at 100,000).
        by_term = self._by_term()
        columns, values = _row(self.vectors_, row)
        indptr, indices, data = by_term.indptr, by_term.indices, by_term.data
        # Each term's postings are one contiguous slice: concatenating slices copies memory,
        # where a gather through an index array cost twice as long at 100,000 sheets.
        spans = [(int(indptr[column]), int(indptr[column + 1])) for column in columns.tolist()]
        if not spans:
            return np.zeros(len(self.keys_))
        rows = np.concatenate([indices[start:stop] for start, stop in spans])
        weights = np.concatenate(
            [
                data[start:stop] * value
                for (start, stop), value in zip(spans, values.tolist(), strict=True)
            ]
        )
        return np.bincount(rows, weights=weights, minlength=len(self.keys_))

    def _by_term(self) -> sparse.csc_matrix:
        """The sheet vectors column by column (made on first use, kept)."""
        by_term = getattr(self, "_columns", None)
        if by_term is None or by_term.shape != self.vectors_.shape:
            by_term = self._columns = sparse.csc_matrix(self.vectors_)
            by_term.sort_indices()
        return by_term

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
        self,
        rows: np.ndarray,
        *,
        top_k: int,
        min_similarity: float,
        exact: bool | None = None,
    ) -> dict[tuple[int, int], float]:
        """{(row a, row b): cosine} for each sheet's ``top_k`` neighbours among ``rows`` of its
        own fiscal year and municipality, other projects only.

        Each (year, municipality) group is searched on its own. Small groups (and every group
        with ``exact=True``) take the product ``X[chunk] @ X.T`` a block of rows at a time,
        turned dense only for that block, so memory is bounded by ``MAX_BLOCK_CELLS``, not by
        the number of pairs; groups above ``EXACT_GROUP_SHEETS`` take candidates from a
        truncated SVD and keep the best by exact cosine (``exact=False`` forces that).
        """
        self._check_fitted()
        found: dict[tuple[int, int], float] = {}
        rows = np.asarray(rows)
        if len(rows) < 2 or top_k < 1:
            return found
        # Same year and municipality: a merge is one city's decision within one budget year.
        groups = self.fiscal_years_[rows] * (int(self.municipality_codes_.max()) + 1)
        groups = groups + self.municipality_codes_[rows]
        for group in np.unique(groups):
            members = rows[groups == group]
            if len(members) < 2:
                continue
            use_exact = exact if exact is not None else len(members) <= EXACT_GROUP_SHEETS
            neighbours = self.group_neighbours(
                members, top_k=top_k, min_similarity=min_similarity, exact=use_exact
            )
            for a, b, value in zip(*neighbours, strict=True):
                found[(min(a, b), max(a, b))] = value
        return found

    def group_neighbours(
        self,
        members: np.ndarray,
        *,
        top_k: int,
        min_similarity: float,
        exact: bool,
        queries: np.ndarray | None = None,
    ) -> tuple[list[int], list[int], list[float]]:
        """(rows, neighbour rows, cosines): the ``top_k`` nearest ``members`` of each row of
        ``queries`` (default: every member), other projects only, cosine ≥ ``min_similarity``.
        ``exact=False`` proposes candidates by truncated SVD and ranks them by exact cosine."""
        from threadpoolctl import threadpool_limits

        # One BLAS thread: the products here are many small ones, and on a busy 2-core
        # machine OpenBLAS threads spin against each other (measured 80x slower).
        with threadpool_limits(limits=1):
            return self._group_neighbours(members, top_k, min_similarity, exact, queries)

    def _group_neighbours(
        self,
        members: np.ndarray,
        top_k: int,
        min_similarity: float,
        exact: bool,
        queries: np.ndarray | None,
    ) -> tuple[list[int], list[int], list[float]]:
        vectors = sparse.csr_matrix(self.vectors_[members])
        projects = self.project_codes_[members]
        if queries is None:
            local = np.arange(len(members))
        else:
            order = np.argsort(members)
            local = order[np.searchsorted(members, queries, sorter=order)]
        k = min(top_k, len(members) - 1)
        out: tuple[list[int], list[int], list[float]] = ([], [], [])
        if k < 1 or not len(local):
            return out
        if exact:
            transposed = vectors.T.tocsr()
            chunk = max(1, min(MAX_CHUNK_ROWS, MAX_BLOCK_CELLS // len(members)))
            for start in range(0, len(local), chunk):
                block_rows = local[start : start + chunk]
                block = (vectors[block_rows] @ transposed).toarray()
                # The sheet itself and the project's other sheets are never candidates.
                block[projects[block_rows, None] == projects[None, :]] = -np.inf
                best = np.argpartition(-block, k - 1, axis=1)[:, :k]
                values = np.take_along_axis(block, best, axis=1)
                _collect(out, members, block_rows, best, values, min_similarity)
            return out
        wanted = min(len(members) - 1, max(k, APPROXIMATE_CANDIDATES))
        proposed = _ivf_candidates(_reduce(vectors), local, projects, wanted)
        for start in range(0, len(local), MAX_CHUNK_ROWS):
            block_rows = local[start : start + MAX_CHUNK_ROWS]
            best = proposed[start : start + MAX_CHUNK_ROWS]
            valid = best >= 0
            values = np.full(best.shape, -np.inf)
            pairs = np.broadcast_to(block_rows[:, None], best.shape)[valid]
            values[valid] = _row_dots(vectors, pairs, best[valid])
            keep = np.argsort(-values, axis=1, kind="stable")[:, :k]
            _collect(
                out,
                members,
                block_rows,
                np.take_along_axis(best, keep, axis=1),
                np.take_along_axis(values, keep, axis=1),
                min_similarity,
            )
        return out

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


SheetFeatures = tuple[tuple[str, ...], dict[str, tuple[list[str], list[int]]]]
"""``SimilarityModel.sheet_features``: (every passage label of the sheet, in order; per
weighted label, its features and their counts)."""


class FeatureCounts:
    """The similarity model's input gathered one sheet at a time (``add``), so that the build
    never holds every sheet's terms: per-sheet feature counts in flat integer arrays, with the
    vocabulary as a dictionary. ``fit`` gives the same model as ``SimilarityModel.fit`` over
    the same sheets. A key added again replaces its sheet."""

    def __init__(self, model: SimilarityModel) -> None:
        self.model = model
        self._vocabulary: dict[str, int] = {}
        self._label_lists: dict[tuple[str, ...], int] = {}
        self._sheets: dict[str, tuple[int, int, int]] = {}  # key -> (labels id, start, stop)
        self._entry_label: array[int] = array("i")  # per passage entry: label id
        self._entry_stop: array[int] = array("q")  # per passage entry: end in the flat arrays
        self._labels: dict[str, int] = {}
        self._features: array[int] = array("i")
        self._counts: array[int] = array("i")

    def __contains__(self, key: str) -> bool:
        return key in self._sheets

    def add(self, key: str, features: SheetFeatures) -> None:
        labels, counted = features
        lists = self._label_lists.setdefault(labels, len(self._label_lists))
        start = len(self._entry_label)
        vocabulary = self._vocabulary
        for label, (names, counts) in counted.items():
            self._entry_label.append(self._labels.setdefault(label, len(self._labels)))
            self._features.extend([vocabulary.setdefault(name, len(vocabulary)) for name in names])
            self._counts.extend(counts)
            self._entry_stop.append(len(self._features))
        self._sheets[key] = (lists, start, len(self._entry_label))

    def fit(
        self, keys: list[str], years: Sequence[int], projects: Sequence[tuple[str, str]]
    ) -> SimilarityModel:
        """The fitted model of the sheets ``keys`` (each added before), in that order."""
        model = self.model
        lists = {number: labels for labels, number in self._label_lists.items()}
        # Labels as SimilarityModel._labels orders them: the 根室 form's, then in order seen.
        seen = dict.fromkeys(model.passage_weights)
        for key in keys:
            seen.update(dict.fromkeys(lists[self._sheets[key][0]]))
        labels = tuple(label for label in seen if model.weight_of(label) > 0)
        row_index, column_ids, values = self._entries(keys, labels)
        used = np.unique(column_ids)
        names = list(self._vocabulary)
        vocabulary = sorted(names[i] for i in used.tolist())
        column_of = np.full(len(names), -1, dtype=np.int64)
        if len(used):
            column_of[used] = _sorted_positions([names[i] for i in used.tolist()])
        counts = sparse.csr_matrix(
            (values, (row_index, column_of[column_ids] if len(column_ids) else column_ids)),
            shape=(len(keys) * len(labels), len(vocabulary)),
        )
        counts.sum_duplicates()
        counts.sort_indices()
        return model._fit_counts(labels, counts, vocabulary, keys, years, projects)

    def update(
        self,
        fitted: SimilarityModel,
        keys: list[str],
        years: Sequence[int],
        projects: Sequence[tuple[str, str]],
    ) -> SimilarityModel | None:
        """``fitted``'s vocabulary and idf, kept, over the sheets ``keys`` in that order: the
        sheets added here are transformed with them, every other row is copied from
        ``fitted``. A full fit would move the idf of the words the new sheets use a little;
        the rows of the sheets not added here are exactly what they were.

        None when a sheet added here has a weighted passage ``fitted`` has no rows for, or a
        sheet of ``keys`` is in neither: only a full fit can place it."""
        fitted._check_fitted()
        model = self.model
        if _settings(model) != _settings(fitted):
            return None  # new passage weights or generic words: only a full fit applies them
        saved = fitted._label_weights
        if saved is None or any(model.weight_of(label) != w for label, w in saved.items()):
            return None
        labels = fitted.passage_labels_
        lists = {number: labels for labels, number in self._label_lists.items()}
        new = [key for key in keys if key in self._sheets]
        for key in new:
            if any(
                model.weight_of(label) > 0 and label not in labels
                for label in lists[self._sheets[key][0]]
            ):
                return None
        if any(key not in fitted._rows for key in keys if key not in self._sheets):
            return None
        row_index, column_ids, values = self._entries(new, labels)
        # Words the fitted vocabulary lacks (new ones, or dropped by max_df) stay out, as
        # a full fit over these sheets would have left the rare ones out of the old rows.
        position = {name: column for column, name in enumerate(fitted.vocabulary_)}
        column_of = np.array([position.get(name, -1) for name in self._vocabulary], dtype=np.int64)
        columns = column_of[column_ids] if len(column_ids) else column_ids
        known = columns >= 0
        width, size = len(labels), len(fitted.vocabulary_)
        counts = sparse.csr_matrix(
            (values[known], (row_index[known], columns[known])), shape=(len(new) * width, size)
        )
        counts.sum_duplicates()
        counts.sort_indices()
        # As _fit_counts does, with the kept idf.
        sheet_tf, counts = _term_frequencies(
            counts, np.array([model.weight_of(label) for label in labels]), len(new)
        )
        vectors = sparse.csr_matrix(_sheet_vectors(sheet_tf, fitted.idf_), dtype=np.float32)
        passages = sparse.csr_matrix(_passage_vectors(counts, fitted.idf_), dtype=np.float32)
        # Rows: the old model's, then the new sheets'; picked in the order of ``keys``.
        added = {key: len(fitted.keys_) + row for row, key in enumerate(new)}
        order = np.array(
            [added[key] if key in added else fitted._rows[key] for key in keys], dtype=np.int64
        )
        passage_order = (order[:, None] * width + np.arange(width)[None, :]).ravel()
        updated = SimilarityModel(
            passage_weights=fitted.passage_weights,
            generic_terms=fitted.generic_terms,
            max_df=fitted.max_df,
            min_term_length=fitted.min_term_length,
        )
        updated.passage_labels_ = labels
        updated.vocabulary_ = fitted.vocabulary_
        updated.idf_ = fitted.idf_
        updated.vectors_ = sparse.csr_matrix(sparse.vstack([fitted.vectors_, vectors])[order])
        updated.passage_vectors_ = sparse.csr_matrix(
            sparse.vstack([fitted.passage_vectors_, passages])[passage_order]
        )
        updated._set_sheets(keys, years, projects)
        return updated

    def _entries(
        self, keys: Sequence[str], labels: tuple[str, ...]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(matrix row, feature id, count) of every counted feature of the sheets ``keys``:
        row ``sheet × len(labels) + label``; ids number ``self._vocabulary``."""
        position = {label: i for i, label in enumerate(labels)}
        label_names = list(self._labels)
        entry_label = np.frombuffer(self._entry_label, dtype=np.int32)
        entry_stop = np.frombuffer(self._entry_stop, dtype=np.int64)
        entry_start = np.concatenate(([0], entry_stop[:-1])) if len(entry_stop) else entry_stop
        rows: list[np.ndarray] = []
        entries: list[np.ndarray] = []
        label_row = np.array([position.get(name, -1) for name in label_names], dtype=np.int64)
        for sheet, key in enumerate(keys):
            _, start, stop = self._sheets[key]
            if stop > start:
                chosen = np.arange(start, stop)
                rows.append(sheet * len(labels) + label_row[entry_label[chosen]])
                entries.append(chosen)
        features = np.frombuffer(self._features, dtype=np.int32)
        counts_flat = np.frombuffer(self._counts, dtype=np.int32)
        if not entries:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        entry = np.concatenate(entries)
        row_of_entry = np.concatenate(rows)
        lengths = entry_stop[entry] - entry_start[entry]
        flat = np.repeat(entry_start[entry] - np.cumsum(lengths) + lengths, lengths)
        flat = flat + np.arange(int(lengths.sum()))
        return (
            np.repeat(row_of_entry, lengths),
            features[flat],
            counts_flat[flat].astype(np.float64),
        )


def _smooth_idf(sheet_tf: sparse.csr_matrix) -> np.ndarray:
    """scikit-learn's ``TfidfTransformer(smooth_idf=True).idf_``: ln((1 + n) / (1 + df)) + 1,
    computed in the same steps (so to the same bits)."""
    frequency = np.bincount(sheet_tf.indices, minlength=sheet_tf.shape[1]).astype(np.float64)
    frequency += 1.0
    idf = np.full_like(frequency, fill_value=sheet_tf.shape[0] + 1, dtype=np.float64)
    idf /= frequency
    np.log(idf, out=idf)
    idf += 1.0
    return idf


def _l2_normalized(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """scikit-learn's ``normalize(matrix, norm="l2")`` to the last bit, without importing
    scikit-learn (1.5 s of CPU, paid by the build while its workers write their segments):
    each row's squares summed one entry after the other in stored order, as its Cython loop
    does, then every entry divided by the root; rows of zeros are left as they are."""
    matrix = sparse.csr_matrix(matrix, dtype=np.float64, copy=True)
    data, starts = matrix.data, matrix.indptr[:-1]
    lengths = np.diff(matrix.indptr)
    # Rows longest first: the rows with a k-th entry are a prefix, so the sums take O(nnz).
    order = np.argsort(-lengths, kind="stable")
    longer = np.searchsorted(-lengths[order], -np.arange(int(lengths.max(initial=0))), "left")
    sums = np.zeros(len(lengths))
    for k, count in enumerate(longer.tolist()):
        rows = order[:count]
        values = data[starts[rows] + k]
        sums[rows] += values * values
    norms = np.sqrt(sums)
    norms[sums == 0.0] = 1.0
    data /= np.repeat(norms, lengths)
    return matrix


def _settings(model: SimilarityModel) -> tuple[Any, ...]:
    return (
        sorted(model.passage_weights.items()),
        model.generic_terms,
        model.max_df,
        model.min_term_length,
    )


def _sorted_positions(names: list[str]) -> np.ndarray:
    """Each name's position in ``sorted(names)`` (names are distinct)."""
    order = sorted(range(len(names)), key=names.__getitem__)
    positions = np.empty(len(names), dtype=np.int64)
    positions[order] = np.arange(len(names))
    return positions


_Row = tuple[np.ndarray, np.ndarray]
"""One CSR row as (column indices, values)."""


def _row(matrix: sparse.csr_matrix, row: int) -> _Row:
    start, stop = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[start:stop], matrix.data[start:stop]


def _shared(a: _Row, b: _Row) -> tuple[np.ndarray, np.ndarray]:
    """Columns two rows share and the products of their values there."""
    columns, left, right = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    return columns, a[1][left].astype(np.float64) * b[1][right]


GRAM_MAX_TERMS = 4000
"""Up to this many columns the SVD comes from the eigenvectors of the (columns × columns)
Gram matrix: exact, and fast where an iterative SVD spends its time in thread contention."""


def _collect(
    out: tuple[list[int], list[int], list[float]],
    members: np.ndarray,
    block_rows: np.ndarray,
    best: np.ndarray,
    values: np.ndarray,
    min_similarity: float,
) -> None:
    local_rows, slots = np.nonzero(values >= min_similarity)
    out[0].extend(members[block_rows[local_rows]].tolist())
    out[1].extend(members[best[local_rows, slots]].tolist())
    out[2].extend(values[local_rows, slots].astype(float).tolist())


APPROXIMATE_PROBES = 12
APPROXIMATE_PROBE_SHARE = 0.06
"""Each sheet looks into the nearest ``max(APPROXIMATE_PROBES, share × clusters)`` clusters
of the inverted file (about 2·√n clusters). On the 10,000-sheet corpus (115 clusters per
year) 3 probes found 0.969 of the exact pairs, 4 0.985, 6 (5 %) 0.992, 12 0.992; at 100,000
sheets (365 clusters per year) 6 % to 20 % found the same share (the number of candidates
limits the recall there, not the probes)."""


def _ivf_candidates(
    reduced: np.ndarray, queries: np.ndarray, projects: np.ndarray, wanted: int
) -> np.ndarray:
    """The ``wanted`` rows of ``reduced`` with the largest dot product with each query row,
    other projects only, searched in an inverted file: the rows are clustered (k-means), and
    each query compares itself with the rows of its ``APPROXIMATE_PROBES`` nearest clusters
    only, not with the whole group. ``-1`` fills a row that found fewer candidates."""
    size = len(reduced)
    rng = np.random.default_rng(0)
    count = max(1, min(size // 16, int(2 * np.sqrt(size))))
    sample = reduced[rng.choice(size, min(size, count * 40), replace=False)]
    centroids = sample[rng.choice(len(sample), count, replace=False)].copy()
    for _ in range(10):
        labels = _nearest_centroid(sample, centroids, 1)[:, 0]
        members = sparse.csr_matrix(
            (np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))),
            shape=(count, len(labels)),
        )
        sums = np.asarray(members @ sample)
        sizes = np.bincount(labels, minlength=count)
        filled = sizes > 0
        centroids[filled] = sums[filled] / sizes[filled, None]
    probes = min(count, max(APPROXIMATE_PROBES, int(np.ceil(APPROXIMATE_PROBE_SHARE * count))))
    labels = _nearest_centroid(reduced, centroids, 1)[:, 0]
    looked = _nearest_centroid(reduced[queries], centroids, probes)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    unique_projects = len(np.unique(projects)) == len(projects)
    # Each query's candidates from each of its probed clusters, side by side.
    slots = probes * wanted
    rows_found = np.full((len(queries), slots), -1, dtype=np.int32)
    scores_found = np.full((len(queries), slots), -np.inf, dtype=np.float32)
    flat = looked.ravel()
    by_cluster = np.argsort(flat, kind="stable")
    cluster_bounds = np.searchsorted(flat[by_cluster], np.arange(count + 1))
    for cluster in range(count):
        rows = order[bounds[cluster] : bounds[cluster + 1]]
        asking = by_cluster[cluster_bounds[cluster] : cluster_bounds[cluster + 1]]
        if not len(rows) or not len(asking):
            continue
        take = min(wanted, len(rows))
        for start in range(0, len(asking), MAX_CHUNK_ROWS):
            part = asking[start : start + MAX_CHUNK_ROWS]
            query, probe = part // probes, part % probes
            block = reduced[queries[query]] @ reduced[rows].T
            if unique_projects:
                # One sheet per project in a (year, municipality) group: only the sheet itself
                # is of its own project (rows are in ascending order within a cluster).
                at = np.searchsorted(rows, queries[query])
                own = (at < len(rows)) & (rows[np.minimum(at, len(rows) - 1)] == queries[query])
                block[np.flatnonzero(own), at[own]] = -np.inf
            else:
                block[projects[queries[query], None] == projects[None, rows]] = -np.inf
            best = np.argpartition(-block, take - 1, axis=1)[:, :take]
            columns = probe[:, None] * wanted + np.arange(take)
            rows_found[query[:, None], columns] = rows[best]
            scores_found[query[:, None], columns] = np.take_along_axis(block, best, axis=1)
    take = min(wanted, slots)
    best = np.argpartition(-scores_found, take - 1, axis=1)[:, :take]
    result = np.take_along_axis(rows_found, best, axis=1).astype(np.int64)
    result[~np.isfinite(np.take_along_axis(scores_found, best, axis=1))] = -1
    return result


def _nearest_centroid(rows: np.ndarray, centroids: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` nearest centroids (Euclidean) of each row, nearest first."""
    half = 0.5 * np.einsum("ij,ij->i", centroids, centroids)
    out = np.empty((len(rows), count), dtype=np.int64)
    for start in range(0, len(rows), 4096):
        scores = rows[start : start + 4096] @ centroids.T - half
        if count == 1:
            out[start : start + 4096, 0] = np.argmax(scores, axis=1)
        else:
            best = np.argpartition(-scores, count - 1, axis=1)[:, :count]
            ranked = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1)
            out[start : start + 4096] = np.take_along_axis(best, ranked, axis=1)
    return out


def _reduce(vectors: sparse.csr_matrix) -> np.ndarray:
    """Rows of ``vectors`` in ``APPROXIMATE_DIMENSIONS`` SVD dimensions (``U·S``): their dot
    products approximate the cosines, enough to propose neighbours for exact scoring."""
    dimensions = min(APPROXIMATE_DIMENSIONS, min(vectors.shape) - 1)
    if dimensions < 1:
        return np.asarray(vectors.toarray(), dtype=np.float32)
    matrix = sparse.csr_matrix(vectors, dtype=np.float64)
    if matrix.shape[1] <= GRAM_MAX_TERMS:
        gram = (matrix.T @ matrix).toarray()
        _, eigenvectors = np.linalg.eigh(gram)  # ascending eigenvalues
        basis = eigenvectors[:, ::-1][:, :dimensions]
        return np.ascontiguousarray(matrix @ basis, dtype=np.float32)
    from sklearn.utils.extmath import randomized_svd

    left, singular, _ = randomized_svd(matrix, dimensions, n_iter=4, random_state=0)
    return np.ascontiguousarray(left * singular, dtype=np.float32)


def _row_dots(vectors: sparse.csr_matrix, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The cosine of rows ``left[i]`` and ``right[i]`` for every i (exact, sparse)."""
    product = vectors[left].multiply(vectors[right])
    return np.asarray(product.sum(axis=1), dtype=np.float64).ravel()


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


def _term_frequencies(
    counts: sparse.csr_matrix, weights: np.ndarray, sheets: int
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """(sheet tf, passage tf) of ``sheets`` sheets from raw passage counts, one row per
    (sheet, label), ``weights`` giving each label's weight: the weighted sum per sheet, both
    made sublinear.

    Sublinear on the weighted total, not per passage: a boilerplate word repeated in all
    eight reasoning passages must not count eight times as much as a topic word."""
    width = len(weights)
    combine = sparse.csr_matrix(
        (
            np.tile(weights, sheets),
            np.arange(sheets * width),
            np.arange(0, sheets * width + 1, width),
        ),
        shape=(sheets, sheets * width),
    )
    sheet_tf = sparse.csr_matrix(combine @ counts)
    sheet_tf.data = _sublinear(sheet_tf.data)
    counts.data = _sublinear(counts.data)
    return sheet_tf, counts


def _sheet_vectors(sheet_tf: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """The sheets' L2-normalised tf-idf rows (float64)."""
    vectors = sparse.csr_matrix(sheet_tf, dtype=np.float64, copy=True)
    vectors.data *= idf[vectors.indices]
    return _l2_normalized(vectors)


def _passage_vectors(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """The passages' L2-normalised tf-idf rows (float64)."""
    return _l2_normalized(sparse.csr_matrix(counts.multiply(idf.reshape(1, -1))))


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
