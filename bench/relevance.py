"""Judged relevance: nDCG@10, recall@10 and MRR of evalsearch and of a plain BM25 baseline.

    python bench/relevance.py [--corpus nemuro,ofunato] [--json OUT] [--quiet] [--no-evalsearch]

Both methods answer the same judged queries in the same run; the harness prints one table per
corpus (every query, then the means and evalsearch − baseline) and, with ``--json``, writes
every figure.

Corpora and judgments (how they were made: ``bench/judgments/README.md``)
  nemuro   the 根室 form: a fixed generated corpus vendored in ``bench/relevance_corpus/nemuro/``
           (240 synthetic sheets of 令和5–7 plus the sample dump's 2 real sheets), read with
           ``evalsearch.parse.parse_paths``; queries ``bench/judgments/nemuro.json``.
  ofunato  大船渡市's 407 real sheets (``corpus/ofunato/report.xlsx``, or the shared copy), read
           with ``evalsearch.readers.read_table(path).records``; queries
           ``bench/judgments/ofunato.json``. Sheets are named ``2025-<事務事業ID>``.
  Grades: 2 = a planner looking for this wants the sheet, 1 = partially relevant, absent = 0.

Methods
  baseline    Okapi BM25 (k1 = 1.2, b = 0.75, Lucene's idf ln(1 + (N − df + 0.5)/(df + 0.5)))
              over the whole sheet, OR over the query's terms as Elasticsearch's default
              ``match`` query does (a sheet sharing any term is retrieved; a term the query
              repeats counts twice). Sheet text: every string value of ``record.to_dict()``,
              recursively, joined, except the provenance keys ``source`` and ``warnings``.
              Sheet terms: ``evalsearch.analysis.analyze(text)`` term texts (compounds and their
              parts); query terms: ``evalsearch.analysis.analyze_query(query)`` words' ``.term``.
              Ties are broken by sheet id.
  evalsearch  an index built with ``evalsearch.build.build_index(paths, tmp, rebuild=True)``,
              queried through the one adapter ``evalsearch_ranking``. While ``build_index`` cannot
              index the 大船渡 workbook, that column reads 「未対応（表の読み取りが索引に未統合）」
              and the baseline is still measured.

Metrics (per query, then the mean over the corpus's queries), K = 10
  nDCG@10     DCG = Σ (2^grade − 1) / log2(rank + 1) over the top 10; the ideal DCG sorts all
              judged grades of the query (judged sheets the method never returns still count)
  recall@10   judged sheets of grade ≥ 1 among the top 10 ÷ all judged sheets of grade ≥ 1
  MRR         1 / rank of the first grade-2 sheet within the top 10, 0 if none (MRR@10)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.wholesheet import string_values, sudachi_terms  # noqa: E402

HERE = Path(__file__).resolve().parent
JUDGMENTS = HERE / "judgments"
NEMURO_DIR = HERE / "relevance_corpus" / "nemuro"
OFUNATO_XLSX_CANDIDATES = (
    REPO / "corpus" / "ofunato" / "report.xlsx",
    Path("/work/shared/realdata/ofunato/report.xlsx"),
)
K = 10
K1 = 1.2
B = 0.75
UNSUPPORTED = "未対応（表の読み取りが索引に未統合）"
METRICS = ("ndcg", "recall", "mrr")


# --- metrics -------------------------------------------------------------------------------


def dcg(grades: Sequence[int], k: int = K) -> float:
    """Σ (2^g − 1) / log2(rank + 1) over the first ``k`` grades (rank 1 first)."""
    return sum((2**grade - 1) / math.log2(rank + 2) for rank, grade in enumerate(grades[:k]))


def ndcg_at(ranking: Sequence[str], judgments: Mapping[str, int], k: int = K) -> float | None:
    """nDCG@k with gains 2^grade − 1; the ideal ranking is every judged grade, best first.
    None when the query has no sheet of grade ≥ 1."""
    ideal = dcg(sorted((g for g in judgments.values() if g > 0), reverse=True), k)
    if ideal == 0:
        return None
    return dcg([judgments.get(doc, 0) for doc in ranking[:k]], k) / ideal


def recall_at(ranking: Sequence[str], judgments: Mapping[str, int], k: int = K) -> float | None:
    """Sheets of grade ≥ 1 among the first ``k`` ÷ all sheets of grade ≥ 1 (None if none)."""
    relevant = {doc for doc, grade in judgments.items() if grade >= 1}
    if not relevant:
        return None
    return len(relevant & set(ranking[:k])) / len(relevant)


def reciprocal_rank(
    ranking: Sequence[str], judgments: Mapping[str, int], k: int = K, min_grade: int = 2
) -> float:
    """1 / rank of the first sheet of grade ≥ ``min_grade`` within the first ``k``, else 0."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if judgments.get(doc, 0) >= min_grade:
            return 1.0 / rank
    return 0.0


def query_metrics(ranking: Sequence[str], judgments: Mapping[str, int], k: int = K) -> dict:
    return {
        "ndcg": ndcg_at(ranking, judgments, k),
        "recall": recall_at(ranking, judgments, k),
        "mrr": reciprocal_rank(ranking, judgments, k),
        "top": list(ranking[:k]),
    }


def mean(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


# --- judgments -----------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgedQuery:
    id: str
    query: str
    kind: str
    need: str
    judgments: dict[str, int]

    @property
    def relevant(self) -> int:
        return sum(1 for grade in self.judgments.values() if grade >= 1)


def load_judgments(path: Path) -> list[JudgedQuery]:
    """The queries of a judgment file (bench/judgments/README.md describes the form)."""
    document = json.loads(Path(path).read_text("utf-8"))
    return [
        JudgedQuery(
            id=str(item["id"]),
            query=str(item["query"]),
            kind=str(item.get("kind", "")),
            need=str(item.get("need", "")),
            judgments={str(doc): int(grade) for doc, grade in item["judgments"].items()},
        )
        for item in document["queries"]
    ]


# --- sheet texts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetText:
    id: str
    text: str


def plain_id(record_id: str) -> str:
    """``大船渡市/2025-0086`` → ``2025-0086`` (judgments name sheets by id, not by key)."""
    return str(record_id).rsplit("/", 1)[-1]


def record_text(record: Any) -> SheetText:
    """A SheetRecord's whole-sheet text: every string value of ``to_dict()``, joined."""
    data = record.to_dict()
    return SheetText(plain_id(data["id"]), "\n".join(string_values(data)))


def nemuro_texts(directory: Path = NEMURO_DIR) -> tuple[list[SheetText], str]:
    from evalsearch.parse import parse_paths

    return [record_text(record) for record in parse_paths([directory])], "parse_paths"


def ofunato_xlsx() -> Path:
    for path in OFUNATO_XLSX_CANDIDATES:
        if path.exists():
            return path
    return OFUNATO_XLSX_CANDIDATES[-1]


def ofunato_record_id(raw_id: Any, year: int) -> str:
    """``2025-0086``; the sheet whose 事務事業ID is the number 0 becomes ``2025-0000``."""
    if isinstance(raw_id, int | float):
        number = f"{int(raw_id):04d}"
    else:
        number = str(raw_id).strip()
        if number.isdigit():
            number = number.zfill(4)
    return f"{year}-{number}"


# FALLBACK (delete once evalsearch.readers.read_table is always there): a minimal openpyxl
# reader of the 大船渡市 collection table giving (id, whole-row text) for the baseline and the
# tests' id check. It knows nothing of the form's fields; it is not how evalsearch reads it.
def fallback_ofunato_texts(path: Path) -> list[SheetText]:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        next(rows, None)  # row 1: helper row
        header = [str(cell or "").replace("\n", "") for cell in next(rows, ())]
        id_col, name_col = header.index("事務事業ID"), header.index("事務事業名")
        year_col = header.index("年度")
        texts: list[SheetText] = []
        for row in rows:
            if row[id_col] is None or not str(row[name_col] or "").strip():
                continue
            era_year = int(str(row[year_col]).strip())
            year = era_year + 2018 if era_year < 100 else era_year  # 令和7 → 2025
            text = "\n".join(
                str(cell).strip() for cell in row if isinstance(cell, str) and cell.strip()
            )
            texts.append(SheetText(ofunato_record_id(row[id_col], year), text))
        return texts
    finally:
        workbook.close()


def ofunato_texts(path: Path) -> tuple[list[SheetText], str]:
    """The 大船渡 sheets for the baseline and where they came from ("read_table"/"fallback")."""
    try:
        from evalsearch.readers import read_table
    except ImportError:
        return fallback_ofunato_texts(path), "fallback"
    return [record_text(record) for record in read_table(path).records], "read_table"


# --- baseline: Okapi BM25 --------------------------------------------------------------------


def sudachi_query_terms(query: str) -> list[str]:
    """Query terms: the content words of ``analyze_query`` (each word's compound term)."""
    from evalsearch.analysis import analyze_query

    return [word.term for word in analyze_query(query)]


class BM25:
    """Okapi BM25 over a fixed set of sheets, OR over the query terms (see the docstring)."""

    def __init__(
        self,
        sheets: Sequence[SheetText],
        analyzer: Callable[[str], list[str]] = sudachi_terms,
        query_analyzer: Callable[[str], list[str]] = sudachi_query_terms,
        k1: float = K1,
        b: float = B,
    ) -> None:
        import numpy as np
        from scipy import sparse

        self.ids = [sheet.id for sheet in sheets]
        self.query_analyzer = query_analyzer
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        lengths = np.zeros(len(sheets))
        for row, sheet in enumerate(sheets):
            terms = analyzer(sheet.text)
            lengths[row] = len(terms)
            for term, count in Counter(terms).items():
                rows.append(row)
                cols.append(vocabulary.setdefault(term, len(vocabulary)))
                counts.append(count)
        self.vocabulary = vocabulary
        tf = sparse.csr_matrix(
            (np.asarray(counts, dtype=float), (rows, cols)), shape=(len(sheets), len(vocabulary))
        )
        n = len(sheets)
        df = np.bincount(cols, minlength=len(vocabulary)).astype(float)
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5))
        average = lengths.mean() if n else 0.0
        norm = k1 * (1 - b + b * lengths / average) if average else np.full(n, k1)
        # weight(d, t) = idf(t) · tf · (k1 + 1) / (tf + k1 · (1 − b + b · dl / avgdl))
        coo = tf.tocoo()
        values = coo.data * (k1 + 1) / (coo.data + norm[coo.row]) * self.idf[coo.col]
        self.weights = sparse.csc_matrix((values, (coo.row, coo.col)), shape=tf.shape)

    def scores(self, query: str) -> Any:
        import numpy as np

        total = np.zeros(len(self.ids))
        for term in self.query_analyzer(query):
            column = self.vocabulary.get(term)
            if column is not None:
                total += self.weights[:, column].toarray().ravel()
        return total

    def rank(self, query: str, k: int = K) -> list[str]:
        """The ids of the best ``k`` sheets with a score above 0, best first, ties by id."""
        scores = self.scores(query)
        hits = [
            (-float(score), sheet_id)
            for sheet_id, score in zip(self.ids, scores, strict=True)
            if score > 0
        ]
        return [sheet_id for _, sheet_id in sorted(hits)[:k]]


# --- evalsearch ----------------------------------------------------------------------------

_HANDLES: dict[str, Any] = {}


def evalsearch_ranking(index_dir: str | Path, query: str, k: int = K) -> list[str]:
    """THE adapter to the library: the ids of its best ``k`` sheets for ``query``, best first.

    One handle per index directory is opened on first use and kept (its searcher stays warm)
    until ``close_handles()``."""
    import evalsearch

    key = str(index_dir)
    handle = _HANDLES.get(key)
    if handle is None:
        handle = _HANDLES[key] = evalsearch.open(index_dir)
    result = handle.search(query, limit=k)
    return [plain_id(hit.id) for hit in result.hits]


def close_handles() -> None:
    while _HANDLES:
        _, handle = _HANDLES.popitem()
        handle.close()


# --- one corpus ----------------------------------------------------------------------------


@dataclass
class CorpusResult:
    corpus: str
    sheets: int
    sheet_source: str
    queries: list[JudgedQuery]
    judged_ids_missing: list[str]
    baseline: dict[str, dict] = field(default_factory=dict)
    evalsearch: dict[str, dict] = field(default_factory=dict)
    evalsearch_status: str = "ok"
    """ok, skipped, unsupported (the library cannot index this input yet) or error."""
    evalsearch_note: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def means(self, method: str) -> dict[str, float | None]:
        table = getattr(self, method)
        if not table:
            return {name: None for name in METRICS}
        return {name: mean(table[q.id][name] for q in self.queries) for name in METRICS}

    def means_by_kind(self, method: str) -> dict[str, dict[str, Any]]:
        table = getattr(self, method)
        kinds: dict[str, list[JudgedQuery]] = defaultdict(list)
        for query in self.queries:
            kinds[query.kind].append(query)
        return {
            kind: {
                "queries": len(queries),
                **{name: mean(table[q.id][name] for q in queries) for name in METRICS},
            }
            for kind, queries in sorted(kinds.items())
            if table
        }

    def to_dict(self) -> dict[str, Any]:
        base, ours = self.means("baseline"), self.means("evalsearch")
        return {
            "corpus": self.corpus,
            "sheets": self.sheets,
            "sheet_source": self.sheet_source,
            "queries": len(self.queries),
            "judgments": sum(len(q.judgments) for q in self.queries),
            "judged_ids_missing": self.judged_ids_missing,
            "evalsearch_status": self.evalsearch_status,
            "evalsearch_note": self.evalsearch_note,
            "mean": {
                "baseline": base,
                "evalsearch": ours if self.evalsearch else None,
                "difference": {name: _diff(ours[name], base[name]) for name in METRICS}
                if self.evalsearch
                else None,
            },
            "by_kind": {
                "baseline": self.means_by_kind("baseline"),
                "evalsearch": self.means_by_kind("evalsearch"),
            },
            "per_query": [
                {
                    "id": q.id,
                    "query": q.query,
                    "kind": q.kind,
                    "relevant": q.relevant,
                    "grade2": sum(1 for g in q.judgments.values() if g == 2),
                    "baseline": self.baseline.get(q.id),
                    "evalsearch": self.evalsearch.get(q.id),
                }
                for q in self.queries
            ],
            "seconds": {key: round(value, 2) for key, value in self.seconds.items()},
        }


def measure(
    corpus: str,
    sheets: Sequence[SheetText],
    source: str,
    queries: Sequence[JudgedQuery],
    index_paths: Sequence[Path],
    *,
    with_evalsearch: bool,
    failure_status: str = "error",
    k: int = K,
) -> CorpusResult:
    ids = {sheet.id for sheet in sheets}
    missing = sorted({doc for q in queries for doc in q.judgments} - ids)
    result = CorpusResult(corpus, len(sheets), source, list(queries), missing)

    started = time.perf_counter()
    bm25 = BM25(sheets)
    result.seconds["baseline_index"] = time.perf_counter() - started
    started = time.perf_counter()
    for query in queries:
        result.baseline[query.id] = query_metrics(bm25.rank(query.query, k), query.judgments, k)
    result.seconds["baseline_queries"] = time.perf_counter() - started

    if not with_evalsearch:
        result.evalsearch_status = "skipped"
        return result
    from evalsearch.build import build_index

    with tempfile.TemporaryDirectory(prefix="relevance-") as work:
        index_dir = Path(work) / "index"
        started = time.perf_counter()
        try:
            build_index(list(index_paths), index_dir, rebuild=True)
        except Exception as error:  # report it, keep the baseline's figures
            result.evalsearch_status = failure_status
            result.evalsearch_note = f"{type(error).__name__}: {error}"
            if failure_status == "error":
                traceback.print_exc(limit=3, file=sys.stderr)
            return result
        finally:
            result.seconds["evalsearch_index"] = time.perf_counter() - started
        started = time.perf_counter()
        try:
            for query in queries:
                ranking = evalsearch_ranking(index_dir, query.query, k)
                result.evalsearch[query.id] = query_metrics(ranking, query.judgments, k)
        except Exception as error:
            result.evalsearch.clear()
            result.evalsearch_status = "error"
            result.evalsearch_note = f"{type(error).__name__}: {error}"
            traceback.print_exc(limit=3, file=sys.stderr)
        finally:
            close_handles()
            result.seconds["evalsearch_queries"] = time.perf_counter() - started
    return result


def measure_nemuro(*, with_evalsearch: bool = True, directory: Path = NEMURO_DIR) -> CorpusResult:
    started = time.perf_counter()
    sheets, source = nemuro_texts(directory)
    read_s = time.perf_counter() - started
    result = measure(
        "nemuro",
        sheets,
        source,
        load_judgments(JUDGMENTS / "nemuro.json"),
        [directory],
        with_evalsearch=with_evalsearch,
    )
    result.seconds["read"] = read_s
    return result


def measure_ofunato(*, with_evalsearch: bool = True, xlsx: Path | None = None) -> CorpusResult:
    xlsx = xlsx or ofunato_xlsx()
    started = time.perf_counter()
    sheets, source = ofunato_texts(xlsx)
    read_s = time.perf_counter() - started
    result = measure(
        "ofunato",
        sheets,
        source,
        load_judgments(JUDGMENTS / "ofunato.json"),
        [xlsx],
        with_evalsearch=with_evalsearch,
        # Indexing the workbook is being integrated; until then its failure is 「未対応」.
        failure_status="unsupported",
    )
    result.seconds["read"] = read_s
    return result


# --- output --------------------------------------------------------------------------------


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.3f}"


def _diff(ours: float | None, base: float | None) -> float | None:
    return None if ours is None or base is None else ours - base


def _evalsearch_cells(r: CorpusResult, row: Mapping[str, Any] | None) -> list[str]:
    if row is None:
        text = {
            "unsupported": f"evalsearch: {UNSUPPORTED}",
            "skipped": "–",
            "error": "error",
        }.get(r.evalsearch_status, "–")
        return [text, "", ""]
    return [_f(row["ndcg"]), _f(row["recall"]), _f(row["mrr"])]


def markdown(r: CorpusResult, *, per_query: bool = True) -> str:
    lines = [
        f"### {r.corpus}: {len(r.queries)} queries, "
        f"{sum(len(q.judgments) for q in r.queries)} judgments, {r.sheets} sheets",
        "",
        "| query | rel | BM25 nDCG@10 | BM25 R@10 | BM25 MRR "
        "| evalsearch nDCG@10 | evalsearch R@10 | evalsearch MRR | Δ nDCG |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if per_query:
        for q in r.queries:
            base, ours = r.baseline[q.id], r.evalsearch.get(q.id)
            delta = None if ours is None else _diff(ours["ndcg"], base["ndcg"])
            lines.append(
                f"| {q.id} {q.query} | {q.relevant} | {_f(base['ndcg'])} | {_f(base['recall'])} "
                f"| {_f(base['mrr'])} | {' | '.join(_evalsearch_cells(r, ours))} | {_signed(delta)} |"
            )
    base, ours = r.means("baseline"), r.means("evalsearch")
    lines.append(
        f"| **mean** | | **{_f(base['ndcg'])}** | **{_f(base['recall'])}** | **{_f(base['mrr'])}** "
        f"| {' | '.join(_evalsearch_cells(r, ours if r.evalsearch else None))} "
        f"| {_signed(_diff(ours['ndcg'], base['ndcg']) if r.evalsearch else None)} |"
    )
    if r.evalsearch:
        lines.append(
            f"| evalsearch − BM25 | | | | | {_signed(_diff(ours['ndcg'], base['ndcg']))} "
            f"| {_signed(_diff(ours['recall'], base['recall']))} "
            f"| {_signed(_diff(ours['mrr'], base['mrr']))} | |"
        )
    kinds_base, kinds_ours = r.means_by_kind("baseline"), r.means_by_kind("evalsearch")
    parts = []
    for kind, row in kinds_base.items():
        ours_kind = kinds_ours.get(kind)
        parts.append(
            f"{kind} ({row['queries']}) {_f(row['ndcg'])}"
            + (f" → {_f(ours_kind['ndcg'])}" if ours_kind else "")
        )
    lines += ["", "nDCG@10 by query kind (BM25 → evalsearch): " + "; ".join(parts)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--corpus", default="nemuro,ofunato", help="nemuro,ofunato")
    parser.add_argument("--xlsx", type=Path, default=None, help="大船渡 workbook")
    parser.add_argument("--no-evalsearch", action="store_true", help="baseline only")
    parser.add_argument("--quiet", action="store_true", help="means only, no per-query rows")
    parser.add_argument("--json", type=Path, help="write every figure as JSON")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results: list[CorpusResult] = []
    for name in (part.strip() for part in args.corpus.split(",") if part.strip()):
        if name == "nemuro":
            results.append(measure_nemuro(with_evalsearch=not args.no_evalsearch))
        elif name == "ofunato":
            results.append(measure_ofunato(with_evalsearch=not args.no_evalsearch, xlsx=args.xlsx))
        else:
            parser.error(f"unknown corpus: {name}")
    total = time.perf_counter() - started

    for r in results:
        print(markdown(r, per_query=not args.quiet))
        notes = [f"{r.sheets} sheets ({r.sheet_source})"]
        if r.judged_ids_missing:
            notes.append(f"{len(r.judged_ids_missing)} judged ids not among the sheets")
        if r.evalsearch_status == "unsupported":
            notes.append(f"evalsearch: {UNSUPPORTED} ({r.evalsearch_note[:160]})")
        elif r.evalsearch_status == "error":
            notes.append(f"evalsearch error ({r.evalsearch_note[:160]})")
        timing = ", ".join(f"{key} {value:.1f} s" for key, value in r.seconds.items())
        print(f"\n- {'; '.join(notes)}; {timing}\n")
    print(f"total {total:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "k": K,
            "bm25": {"k1": K1, "b": B},
            "results": [r.to_dict() for r in results],
            "seconds": round(total, 2),
        }
        args.json.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
