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
    ``similarity-meta.json`` (version stamp, settings, per-sheet facts, cross-references),
    ``similarity-vocabulary.json``, ``similarity-idf.npy`` and the two CSR matrices as ``.npz``
    of plain arrays, read back with ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from evalsearch.crossref import (
    CrossReference,
    SheetInfo,
    find_cross_references,
    pair_contradictions,
)
from evalsearch.errors import (
    IndexCorruptError,
    IndexVersionError,
    NotFittedError,
    project_not_found,
    rebuild_hint,
)
from evalsearch.records import ITEM_LABELS, SheetRecord

if TYPE_CHECKING:
    from evalsearch.analysis import Term

MODEL_FORMAT_VERSION = 1
"""Bump when the stored form or the feature definition changes: old models must be rebuilt."""

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

GENERIC_TERMS: frozenset[str] = frozenset(
    {
        # Light verbs, formal nouns and connectives as ``analysis`` emits them (normalised):
        # the most frequent terms of the sample sheets (為る 31×, 有る 11×, こと 10×, 等 10×).
        "為る",
        "有る",
        "居る",
        "成る",
        "出来る",
        "行う",
        "図る",
        "言う",
        "思う",
        "関する",
        "対する",
        "掛かる",
        "係る",
        "応じる",
        "通じる",
        "伴う",
        "踏まえる",
        "向ける",
        "進める",
        "努める",
        "つとめる",
        "引き続く",
        "求める",
        "上げる",
        "合わせる",
        "無い",
        "為",
        "物",
        "事",
        "等",
        "他",
        "所",
        "様",
        "其々",
        "既に",
        "且つ",
        "今後",
        "当面",
        "現在",
        "現状",
        "一定",
        "程度",
        "更なる",
        "新た",
        # Administrative vocabulary every sheet uses, whatever its topic (事業 16×, 取り組む 9×,
        # 必要 7× in the two sample sheets): a road and a welfare project meet through these.
        "事業",
        "事務",
        "事務事業",
        "推進",
        "実施",
        "必要",
        "必要性",
        "検討",
        "取り組む",
        "確保",
        "向上",
        "市",
        "本市",
        "行政",
        "効果",
        "効率",
        "効率化",
        "効率的",
        "効果的",
        "積極的",
        "適切",
        "円滑",
        "サービス",
        # 市民 and ニーズ come from the form's own heading 「今後の動向・市民ニーズなど」.
        "市民",
        "ニーズ",
        "継続",
        "充実",
        "強化",
        "対応",
        "目的",
        "対象",
        "状況",
        "実績",
        "年度",
        "令和",
        "平成",
        "予算",
        "事業費",
        "事業内容",
        "内容",
        "主体",
        "実施主体",
        "活用",
        "方向性",
        # Words echoed from the questions ア–カ themselves (成果に結びついているか, 統合の
        # 可能性, 受益者負担 …): every sheet answers the same form, so they carry no topic.
        # 統合 matters for candidates, which read it from 方向性 and オ, not from the vectors.
        "成果",
        "結び付く",
        "有効",
        "意図",
        "可能",
        "可能性",
        "見直し",
        "見直す",
        "単位",
        "コスト",
        "工夫",
        "アイデア",
        "統合",
        "受益者",
        "負担",
        "類似",
        "削減",
    }
)
"""Terms dropped from the similarity vectors (normalised forms, see the comments)."""

_NOISE = re.compile(r"^([0-9.,%]+|[ぁ-ゖー]{1,3})$")
"""Numbers (10, 70, 5) and short hiragana-only terms (こと, よう, つく, おる, さらに): after
normalisation Sudachi spells content words in kanji (町作り), so what is left in hiragana is
grammar."""

MIN_TERM_LENGTH = 2
"""One-character terms are dropped: in the sample they are affixes (等 産 他 面 型 界 間 場 会
名 本 現 多 約) and mode-A remnants (人 生 的 者 化); a topical one-character word (港, 税)
nearly always comes with a compound (港湾, 市税) that carries it."""

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


@dataclass(frozen=True)
class Neighbour:
    """One similar sheet with the evidence for the similarity."""

    sheet: SheetInfo
    score: float
    shared_terms: tuple[SharedTerm, ...]
    passage_pairs: tuple[PassagePair, ...]
    cross_references: tuple[CrossReference, ...]
    contradictions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.sheet.id,
            "project_no": self.sheet.project_no,
            "project_name": self.sheet.project_name,
            "department": self.sheet.department,
            "fiscal_year": self.sheet.fiscal_year,
            "score": round(self.score, 4),
            "shared_terms": [term.to_dict() for term in self.shared_terms],
            "passage_pairs": [pair.to_dict() for pair in self.passage_pairs],
            "cross_references": [ref.to_dict() for ref in self.cross_references],
            "contradictions": list(self.contradictions),
        }


class YearScope(StrEnum):
    """Which sheets ``similar`` compares with (the sheet itself is never among them)."""

    OTHER_PROJECTS = "other-projects"
    """Every year, but not the project's own sheets of other years (the default)."""
    SAME_YEAR = "same-year"
    """Only sheets of the same fiscal year."""
    ANY_YEAR = "any-year"
    """Every sheet, the project's other years included: how a project drifted is worth seeing."""

    @property
    def label(self) -> str:
        return {
            YearScope.OTHER_PROJECTS: "全年度（同じ事業の他年度を除く）",
            YearScope.SAME_YEAR: "同じ年度",
            YearScope.ANY_YEAR: "全年度（同じ事業の他年度を含む）",
        }[self]


@dataclass(frozen=True)
class SimilarResult:
    """The answer of ``similar``: the sheet asked about and its neighbours, best first."""

    project: SheetInfo
    similar: tuple[Neighbour, ...]
    years: YearScope = YearScope.OTHER_PROJECTS

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project.to_dict(),
            "similar": [neighbour.to_dict() for neighbour in self.similar],
        }


class SimilarityModel:
    """TF-IDF vectors of every sheet, per-sheet facts and cross-references.

    Build it with ``SimilarityModel.fit(records, analyzed)`` (settings are keyword-only, as in
    scikit-learn); learned state carries a trailing underscore. Using an unfitted model raises
    ``NotFittedError``.
    """

    def __init__(
        self,
        *,
        passage_weights: Mapping[str, float] | None = None,
        generic_terms: Iterable[str] | None = None,
        max_df: float = DEFAULT_MAX_DF,
        min_term_length: int = MIN_TERM_LENGTH,
    ) -> None:
        self.passage_weights = dict(PASSAGE_WEIGHTS if passage_weights is None else passage_weights)
        self.generic_terms = frozenset(GENERIC_TERMS if generic_terms is None else generic_terms)
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
            for term in terms:
                text = term.text
                if text in generic or len(text) < min_length or _NOISE.match(text):
                    continue
                if term.is_part:
                    # A part spelled like its own compound would count the word twice.
                    if (term.position, text) in compounds:
                        continue
                else:
                    compounds.add((term.position, text))
                out.append(text)
            return out

        return analyzer

    @classmethod
    def fit(
        cls,
        records: Sequence[SheetRecord],
        analyzed: Sequence[Mapping[str, Sequence[Term]]],
        **settings: Any,
    ) -> SimilarityModel:
        """Fit on ``records``; ``analyzed[i]`` maps passage label → Terms of ``records[i]``."""
        from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
        from sklearn.preprocessing import normalize

        if len(records) != len(analyzed):
            raise ValueError(
                f"records ({len(records)}) and analyzed ({len(analyzed)}) must be aligned"
            )
        model = cls(**settings)
        labels = tuple(label for label, weight in model.passage_weights.items() if weight > 0)
        n = len(records)
        documents = [analyzed[i].get(label, ()) for i in range(n) for label in labels]
        vectorizer = CountVectorizer(analyzer=model.build_analyzer(), lowercase=False)
        try:
            counts = vectorizer.fit_transform(documents).astype(np.float64)
            vocabulary = list(vectorizer.get_feature_names_out())
        except ValueError:
            # No sheet has a single usable term (e.g. empty sheets): an empty model is valid.
            counts = sparse.csr_matrix((n * len(labels), 0), dtype=np.float64)
            vocabulary = []
        counts = sparse.csr_matrix(counts)

        weights = np.array([model.passage_weights[label] for label in labels])
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
            keep = np.flatnonzero(document_frequency <= model.max_df * n)
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

        model.passage_labels_ = labels
        model.vocabulary_ = vocabulary
        model.idf_ = idf
        model.vectors_ = sparse.csr_matrix(vectors, dtype=np.float32)
        model.passage_vectors_ = sparse.csr_matrix(passages, dtype=np.float32)
        model.sheets_ = [SheetInfo.from_record(record) for record in records]
        # A project name shared by several sheets of a year goes to the one most like the
        # sheet naming it.
        model.cross_references_ = find_cross_references(
            records, similarity=_batch_similarity(model.vectors_)
        )
        model._prepare()
        return model

    def _prepare(self) -> None:
        """Lookup tables derived from the learned state (not stored)."""
        self._index = {sheet.id: i for i, sheet in enumerate(self.sheets_)}
        self.fiscal_years_ = np.array([sheet.fiscal_year for sheet in self.sheets_], dtype=np.int64)
        codes: dict[str, int] = {}
        self.project_codes_ = np.array(
            [codes.setdefault(sheet.project_no, len(codes)) for sheet in self.sheets_],
            dtype=np.int64,
        )
        self._references: dict[tuple[str, str], list[CrossReference]] = {}
        self._sources: dict[str, int] = {}
        for reference in self.cross_references_:
            self._sources[reference.target] = self._sources.get(reference.target, 0) + 1
            key = _pair_key(reference.source, reference.target)
            self._references.setdefault(key, []).append(reference)

    def _check_fitted(self) -> None:
        if not hasattr(self, "vectors_"):
            raise NotFittedError(
                "類似度モデルがまだ作られていません。"
                "`evalsearch index PATH... --rebuild` で作ってください。"
            )

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the model into ``directory`` (files ``similarity-*``); metadata goes last."""
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
            "format_version": MODEL_FORMAT_VERSION,
            "dictionary_version": _dictionary_version(),
            "settings": {
                "passage_weights": self.passage_weights,
                "generic_terms": sorted(self.generic_terms),
                "max_df": self.max_df,
                "min_term_length": self.min_term_length,
            },
            "passage_labels": list(self.passage_labels_),
            "sheets": [sheet.to_dict() for sheet in self.sheets_],
            "cross_references": [reference.to_dict() for reference in self.cross_references_],
        }
        # The metadata is written last: a model cut short by a crash has none and reads as
        # "not built" rather than as a half model.
        (directory / _FILES["meta"]).write_text(json.dumps(meta, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> SimilarityModel:
        """Read a model written by ``save``; checks its version stamp and consistency."""
        directory = Path(directory)
        meta_path = directory / _FILES["meta"]
        if not meta_path.exists():
            raise NotFittedError(
                f"{directory}: 類似度モデルがありません。{rebuild_hint(directory)}"
            )
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except (OSError, ValueError) as error:
            raise IndexCorruptError(
                f"{meta_path}: 類似度モデルを読めません（{error}）。{rebuild_hint(directory)}"
            ) from None
        version = meta.get("format_version")
        if version != MODEL_FORMAT_VERSION:
            raise IndexVersionError(
                f"{directory}: 類似度モデルの形式が古いか新しすぎます（版 {version}、"
                f"必要な版 {MODEL_FORMAT_VERSION}）。"
                f"{rebuild_hint(directory)}"
            )
        dictionary = _dictionary_version()
        if meta.get("dictionary_version") != dictionary:
            raise IndexVersionError(
                f"{directory}: 類似度モデルは別の Sudachi 辞書（{meta.get('dictionary_version')}）"
                f"で作られています（現在 {dictionary}）。"
                f"{rebuild_hint(directory)}"
            )
        try:
            settings = meta["settings"]
            model = cls(
                passage_weights=settings["passage_weights"],
                generic_terms=settings["generic_terms"],
                max_df=settings["max_df"],
                min_term_length=settings["min_term_length"],
            )
            model.passage_labels_ = tuple(meta["passage_labels"])
            model.sheets_ = [SheetInfo.from_dict(item) for item in meta["sheets"]]
            model.cross_references_ = [
                CrossReference.from_dict(item) for item in meta["cross_references"]
            ]
            model.vocabulary_ = json.loads((directory / _FILES["vocabulary"]).read_text("utf-8"))
            model.idf_ = np.load(directory / _FILES["idf"], allow_pickle=False)
            model.vectors_ = _load_csr(directory / _FILES["vectors"])
            model.passage_vectors_ = _load_csr(directory / _FILES["passages"])
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
            raise IndexCorruptError(
                f"{directory}: 類似度モデルが壊れています（{error}）。{rebuild_hint(directory)}"
            ) from None
        n, width = len(model.sheets_), len(model.vocabulary_)
        if (
            model.vectors_.shape != (n, width)
            or model.passage_vectors_.shape != (n * len(model.passage_labels_), width)
            or model.idf_.shape != (width,)
        ):
            raise IndexCorruptError(
                f"{directory}: 類似度モデルの行列の大きさが合いません。{rebuild_hint(directory)}"
            )
        model._prepare()
        return model

    # -- queries -----------------------------------------------------------------------------

    def __len__(self) -> int:
        self._check_fitted()
        return len(self.sheets_)

    def row_of(self, sheet_id: str) -> int:
        """The row of the sheet with this id (KeyError if the model has none)."""
        self._check_fitted()
        return self._index[sheet_id]

    def resolve(self, project: str, *, year: int | None = None) -> int:
        """The row of a sheet given its id (2023-12276) or project number (12276).

        A project number with several years means the newest year unless ``year`` says which.
        """
        self._check_fitted()
        project = project.strip()
        if project in self._index and year is None:
            return self._index[project]
        rows = [
            i
            for i, sheet in enumerate(self.sheets_)
            if (sheet.project_no == project or sheet.id == project)
            and (year is None or sheet.fiscal_year == year)
        ]
        if not rows:
            raise project_not_found(project, year)
        return max(rows, key=lambda i: self.sheets_[i].fiscal_year)

    def scores(self, row: int) -> np.ndarray:
        """Cosine similarity of sheet ``row`` with every sheet (dense, one float per sheet)."""
        self._check_fitted()
        product = self.vectors_ @ self.vectors_[row].T
        return np.asarray(product.toarray(), dtype=np.float64).ravel()

    def similarity(self, a: int, b: int) -> float:
        _, products = _shared(_row(self.vectors_, a), _row(self.vectors_, b))
        return float(products.sum())

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

    def cross_references(self, a: int, b: int) -> tuple[CrossReference, ...]:
        """References between sheets ``a`` and ``b`` in either direction."""
        key = _pair_key(self.sheets_[a].id, self.sheets_[b].id)
        return tuple(self._references.get(key, ()))

    def reference_strength(self, a: int, b: int) -> float:
        """0–1: how strongly sheets ``a`` and ``b`` name each other (``CrossReference.strength``,
        the strongest of the two directions)."""
        return max(
            (
                reference.strength(self._sources.get(reference.target, 1))
                for reference in self.cross_references(a, b)
            ),
            default=0.0,
        )

    def contradictions(self, a: int, b: int, similarity: float) -> tuple[str, ...]:
        return tuple(
            pair_contradictions(
                self.sheets_[a], self.sheets_[b], self.cross_references(a, b), similarity
            )
        )

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


def similar(
    source: SimilarityModel | Path | str,
    project: str,
    *,
    limit: int = 10,
    years: YearScope = YearScope.OTHER_PROJECTS,
    year: int | None = None,
) -> SimilarResult:
    """The ``limit`` sheets most similar to ``project``, best first, among ``years``.

    ``source`` is a fitted model or an index directory; ``year`` picks which of the project's
    sheets to start from (the newest by default).
    """
    model = as_model(source)
    row = model.resolve(project, year=year)
    scores = model.scores(row)
    mask = scores > 0
    mask[row] = False
    if years is YearScope.SAME_YEAR:
        mask &= model.fiscal_years_ == model.fiscal_years_[row]
    elif years is YearScope.OTHER_PROJECTS:
        own = model.sheets_[row].project_no
        mask &= np.fromiter((sheet.project_no != own for sheet in model.sheets_), bool, len(mask))
    candidates = np.flatnonzero(mask)
    if len(candidates) > limit:
        best = np.argpartition(-scores[candidates], limit - 1)[:limit]
        candidates = candidates[best]
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")][:limit]
    neighbours = tuple(
        Neighbour(
            sheet=model.sheets_[other],
            score=float(scores[other]),
            shared_terms=model.shared_terms(row, int(other)),
            passage_pairs=model.passage_pairs(row, int(other)),
            cross_references=model.cross_references(row, int(other)),
            contradictions=model.contradictions(row, int(other), float(scores[other])),
        )
        for other in candidates
    )
    return SimilarResult(project=model.sheets_[row], similar=neighbours, years=years)


def as_model(source: SimilarityModel | Path | str) -> SimilarityModel:
    """A fitted model from itself or from the index directory holding it."""
    if isinstance(source, SimilarityModel):
        source._check_fitted()
        return source
    return SimilarityModel.load(Path(source))


def _sublinear(values: np.ndarray) -> np.ndarray:
    """1 + ln(tf) from tf = 1 up, tf itself below (weighted counts can be 0.5): continuous."""
    return np.where(values >= 1.0, 1.0 + np.log(np.maximum(values, 1.0)), values)


def _pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _dictionary_version() -> str:
    from evalsearch.analysis import dictionary_version

    return dictionary_version()


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
