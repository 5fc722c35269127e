"""Merge-pair recall: does a method's top K pairs contain the pairs a reviewer would merge?

    python bench/merge_pairs.py [--corpus ofunato,generated] [--json OUT]

Two corpora, two methods, one table.

Corpora
  ofunato    大船渡市's 407 real 令和7年度 sheets (``/work/shared/realdata/ofunato/report.xlsx``)
             against the pairs judged by reading them (``bench/judgments/ofunato_merge_pairs.json``,
             grade 2 = clear merge candidate, 1 = plausible; how they were made:
             ``bench/judgments/MERGE_PAIRS.md``).
  generated  the 根室-form synthetic corpus, ``bench/generate.py --n 1000 --seed 3`` written to a
             temporary directory; the judged pairs are every pair inside a planted overlap group
             of ``labels.json`` (no grades there, so the grade-2 column is empty).

Methods
  baseline   TF-IDF cosine over whole sheets: scikit-learn ``TfidfVectorizer`` whose analyzer is
             evalsearch's Sudachi analysis (the term texts of ``evalsearch.analysis.analyze``),
             over all string values of the record's ``to_dict()`` joined recursively, except the
             provenance keys ``source`` and ``warnings`` (a file name is no sheet content).
             Every pair of sheets of the same municipality and fiscal year is ranked by cosine.
  evalsearch the library's own candidates through the one adapter ``evalsearch_pairs``.

Metrics, with K = the number of judged pairs of the corpus
  recall      share of the judged pairs found among the method's top K pairs
  recall_g2   the same over the grade-2 pairs only (top K list unchanged)
  recall_folds  the recall over each half of the judged pairs (``folds``: even and odd places
              of the sorted list), the halves the weights are cross-validated on
  precision   judged pairs (any grade) among the top K pairs ÷ K

Cross-validation (``--cv``, 大船渡 only)
  The index is built once; every setting of a small grid of candidate-score weights
  (``CV_GRID``) ranks the pairs again. For each fold, the settings best on that fold are
  reported with their recall on the other fold (the mean over settings tied on the tuning
  fold, since which of them would be picked is arbitrary), then the shipped weights on both.
  ``--split department`` puts each department's pairs (by the pair's first sheet) on one side.

Records of 大船渡市 come from ``evalsearch.readers.read_table(path).records``. Until that reader
exists, a small openpyxl fallback (``fallback_ofunato_texts``, marked below) yields
(id, whole-row text) for the baseline, and the evalsearch column reads 「未対応」 while
``build_index`` does not accept the workbook.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.wholesheet import string_values, sudachi_terms  # noqa: E402

OFUNATO_XLSX = Path("/work/shared/realdata/ofunato/report.xlsx")
OFUNATO_JUDGMENTS = Path(__file__).with_name("judgments") / "ofunato_merge_pairs.json"
GENERATED_N = 1000
GENERATED_SEED = 3
UNSUPPORTED = "未対応"

Pair = tuple[str, str]


def norm_pair(a: str, b: str) -> Pair:
    """A pair as an ordered tuple, so (a, b) and (b, a) are the same pair."""
    return (a, b) if a <= b else (b, a)


# --- metrics -------------------------------------------------------------------------------


def recall(found: Sequence[Pair], judged: Iterable[Pair]) -> float | None:
    """Share of ``judged`` pairs among ``found`` (order inside a pair ignored); None if none judged."""
    wanted = {norm_pair(*pair) for pair in judged}
    if not wanted:
        return None
    got = {norm_pair(*pair) for pair in found}
    return len(wanted & got) / len(wanted)


def precision_at(found: Sequence[Pair], judged: Iterable[Pair], k: int) -> float | None:
    """Judged pairs among the first ``k`` of ``found``, divided by ``k`` (a short list is not
    rewarded: missing places count as misses)."""
    if k <= 0:
        return None
    wanted = {norm_pair(*pair) for pair in judged}
    top = {norm_pair(*pair) for pair in found[:k]}
    return len(top & wanted) / k


def folds(judged: Iterable[Pair]) -> tuple[list[Pair], list[Pair]]:
    """The judged pairs in two halves: even and odd places of the sorted list. Weights tuned
    on one half are reported on the other (both grades and every department in each)."""
    ordered = sorted({norm_pair(*pair) for pair in judged})
    return ordered[0::2], ordered[1::2]


def department_folds(
    judged: Iterable[Pair], department_of: Mapping[str, str]
) -> tuple[list[Pair], list[Pair]]:
    """The judged pairs in two halves by the department of the pair's first sheet: the
    departments, sorted, go alternately to one half and the other, so no department's habits
    of writing are seen on both sides."""
    ordered = sorted({norm_pair(*pair) for pair in judged})
    departments = sorted({department_of[a] for a, _ in ordered})
    side = {department: number % 2 for number, department in enumerate(departments)}
    halves: tuple[list[Pair], list[Pair]] = ([], [])
    for pair in ordered:
        halves[side[department_of[pair[0]]]].append(pair)
    return halves


def score(found: Sequence[Pair], judged: Mapping[Pair, int]) -> dict[str, Any]:
    """recall, recall over grade 2, recall per fold, precision@K for the top K of ``found``,
    K = len(judged)."""
    k = len(judged)
    top = list(found[:k])
    grade2 = [pair for pair, grade in judged.items() if grade == 2]
    return {
        "k": k,
        "returned": len(top),
        "recall": recall(top, judged),
        "recall_g2": recall(top, grade2) if grade2 else None,
        "recall_folds": [recall(top, half) for half in folds(judged)],
        "precision": precision_at(top, judged, k),
        "hits": sorted("|".join(pair) for pair in {norm_pair(*p) for p in top} & set(judged)),
    }


# --- judged pairs --------------------------------------------------------------------------


def load_judgments(path: Path = OFUNATO_JUDGMENTS) -> dict[str, Any]:
    """The judgment file as JSON (see bench/judgments/MERGE_PAIRS.md for its form)."""
    return json.loads(Path(path).read_text("utf-8"))


def judged_pairs(document: Mapping[str, Any]) -> dict[Pair, int]:
    """{(a, b): grade} of a judgment document."""
    return {norm_pair(p["a"], p["b"]): int(p["grade"]) for p in document["pairs"]}


def planted_pairs(groups: Iterable[Sequence[str]]) -> dict[Pair, int]:
    """Every pair inside a planted group of labels.json, graded 0 (ungraded)."""
    return {norm_pair(a, b): 0 for group in groups for a, b in combinations(sorted(group), 2)}


# --- sheet texts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetText:
    """What the baseline needs of a sheet: its id, its block (municipality, year) and its text."""

    id: str
    block: tuple[str, int]
    text: str


def record_text(record: Any) -> SheetText:
    """A SheetRecord's whole-sheet text: every string value of ``to_dict()``, joined."""
    data = record.to_dict()
    municipality = str(data.get("municipality") or "")
    return SheetText(
        id=plain_id(str(data["id"])),
        block=(municipality, int(data["fiscal_year"])),
        text="\n".join(string_values(data)),
    )


def ofunato_record_id(raw_id: Any, year: int) -> str:
    """``2025-0086``; the sheet whose 事務事業ID is the number 0 becomes ``2025-0000``."""
    if isinstance(raw_id, int | float):
        number = f"{int(raw_id):04d}"
    else:
        number = str(raw_id).strip()
        if number.isdigit():
            number = number.zfill(4)
    return f"{year}-{number}"


# FALLBACK (until evalsearch.readers.read_table exists): a minimal openpyxl reader of the
# 大船渡市 collection table. It yields (id, whole-row text) for the baseline only; it knows
# nothing of the form's fields and is not how evalsearch reads the workbook.
def fallback_ofunato_texts(path: Path = OFUNATO_XLSX) -> list[SheetText]:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        next(rows, None)  # row 1: helper row
        header = [str(cell or "").replace("\n", "") for cell in next(rows, ())]
        id_col, name_col, year_col = (
            header.index("事務事業ID"),
            header.index("事務事業名"),
            header.index("年度"),
        )
        texts: list[SheetText] = []
        for row in rows:
            if row[id_col] is None or not str(row[name_col] or "").strip():
                continue
            era_year = int(str(row[year_col]).strip())
            year = era_year + 2018 if era_year < 100 else era_year  # 令和7 → 2025
            text = "\n".join(
                str(cell).strip() for cell in row if isinstance(cell, str) and cell.strip()
            )
            texts.append(SheetText(ofunato_record_id(row[id_col], year), ("大船渡市", year), text))
        return texts
    finally:
        workbook.close()


def ofunato_texts(path: Path = OFUNATO_XLSX) -> tuple[list[SheetText], str]:
    """The 大船渡 sheets for the baseline and where they came from ("readers" or "fallback")."""
    try:
        from evalsearch.readers import read_table
    except ImportError:
        return fallback_ofunato_texts(path), "fallback"
    return [record_text(record) for record in read_table(path).records], "readers"


def generated_texts(sheet_dir: Path) -> list[SheetText]:
    from evalsearch.parse import parse_paths

    return [record_text(record) for record in parse_paths([sheet_dir])]


# --- baseline ------------------------------------------------------------------------------


def tfidf_pairs(
    sheets: Sequence[SheetText], k: int, analyzer: Callable[[str], list[str]] = sudachi_terms
) -> list[tuple[str, str, float]]:
    """The ``k`` most similar pairs (id, id, cosine), best first, ties by ids; pairs only
    within a block (same municipality and fiscal year). The vocabulary and IDF are fitted on
    all sheets together."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    if k <= 0 or len(sheets) < 2:
        return []
    vectorizer = TfidfVectorizer(analyzer=analyzer, lowercase=False)
    matrix = vectorizer.fit_transform([sheet.text for sheet in sheets])  # rows L2-normalised
    blocks: dict[tuple[str, int], list[int]] = defaultdict(list)
    for row, sheet in enumerate(sheets):
        blocks[sheet.block].append(row)
    best: list[tuple[float, str, str]] = []
    for rows in blocks.values():
        if len(rows) < 2:
            continue
        sub = matrix[rows]
        cosine = (sub @ sub.T).toarray()
        upper_i, upper_j = np.triu_indices(len(rows), k=1)
        values = cosine[upper_i, upper_j]
        take = min(k, len(values))
        chosen = np.argpartition(-values, take - 1)[:take]
        for index in chosen:
            a, b = norm_pair(sheets[rows[upper_i[index]]].id, sheets[rows[upper_j[index]]].id)
            best.append((float(values[index]), a, b))
    ranked = heapq.nsmallest(k, best, key=lambda item: (-item[0], item[1], item[2]))
    return [(a, b, value) for value, a, b in ranked]


# --- evalsearch ----------------------------------------------------------------------------


def evalsearch_pairs(index_dir: Path, k: int) -> list[Pair]:
    """THE adapter to the library: its top ``k`` candidate pairs, best first."""
    import evalsearch

    with evalsearch.open(index_dir) as ix:
        result = ix.candidates(min_score=0.0, limit=k, details=False)
    return [(pair.a.id, pair.b.id) for pair in result.pairs]


def plain_id(record_id: str) -> str:
    """``大船渡市/2025-0086`` → ``2025-0086`` (judgments name sheets by id, not by key)."""
    return record_id.rsplit("/", 1)[-1]


def evalsearch_run(paths: Sequence[Path], k: int, work: Path) -> list[Pair]:
    """Index ``paths`` into ``work/index`` and take the adapter's top ``k`` pairs."""
    from evalsearch.build import build_index

    index_dir = work / "index"
    build_index(list(paths), index_dir, rebuild=True)
    return [norm_pair(plain_id(a), plain_id(b)) for a, b in evalsearch_pairs(index_dir, k)]


# --- corpora -------------------------------------------------------------------------------


@dataclass
class CorpusResult:
    corpus: str
    k: int
    sheets: int
    judged_ids_missing: int
    sheet_source: str
    baseline: dict[str, Any] | None = None
    evalsearch: dict[str, Any] | None = None
    evalsearch_status: str = "ok"
    """ok, skipped, unsupported (the library cannot read this input yet) or error."""
    evalsearch_note: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus,
            "k": self.k,
            "sheets": self.sheets,
            "judged_ids_missing": self.judged_ids_missing,
            "sheet_source": self.sheet_source,
            "baseline": self.baseline,
            "evalsearch": self.evalsearch,
            "evalsearch_status": self.evalsearch_status,
            "evalsearch_note": self.evalsearch_note,
            "seconds": {key: round(value, 2) for key, value in self.seconds.items()},
        }


def _measure(
    name: str,
    sheets: Sequence[SheetText],
    source: str,
    judged: Mapping[Pair, int],
    index_paths: Sequence[Path],
    *,
    with_evalsearch: bool,
    failure_status: str = "error",
) -> CorpusResult:
    k = len(judged)
    ids = {sheet.id for sheet in sheets}
    missing = len({i for pair in judged for i in pair} - ids)
    result = CorpusResult(name, k, len(sheets), missing, source)
    started = time.perf_counter()
    ranked = tfidf_pairs(sheets, k)
    result.seconds["baseline"] = time.perf_counter() - started
    result.baseline = score([(a, b) for a, b, _ in ranked], judged)
    if not with_evalsearch:
        result.evalsearch_status = "skipped"
        return result
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="merge-pairs-") as work:
        try:
            result.evalsearch = score(evalsearch_run(index_paths, k, Path(work)), judged)
        except Exception as error:  # report it, keep the baseline's numbers
            result.evalsearch_status = failure_status
            result.evalsearch_note = f"{type(error).__name__}: {error}"
            traceback.print_exc(limit=2, file=sys.stderr)
    result.seconds["evalsearch"] = time.perf_counter() - started
    return result


def measure_ofunato(
    xlsx: Path = OFUNATO_XLSX, judgments: Path = OFUNATO_JUDGMENTS, *, with_evalsearch: bool = True
) -> CorpusResult:
    started = time.perf_counter()
    sheets, source = ofunato_texts(xlsx)
    read_s = time.perf_counter() - started
    result = _measure(
        "ofunato",
        sheets,
        source,
        judged_pairs(load_judgments(judgments)),
        [xlsx],
        with_evalsearch=with_evalsearch,
        # Indexing the workbook is being integrated; until then its failure is 「未対応」.
        failure_status="unsupported",
    )
    result.seconds["read"] = read_s
    return result


def measure_generated(
    n: int = GENERATED_N, seed: int = GENERATED_SEED, *, with_evalsearch: bool = True
) -> CorpusResult:
    from bench.generate import generate

    with tempfile.TemporaryDirectory(prefix="merge-pairs-gen-") as work:
        started = time.perf_counter()
        report = generate(n, seed, Path(work))
        sheets = generated_texts(report.sheet_dir)
        read_s = time.perf_counter() - started
        groups = json.loads(report.labels.read_text("utf-8"))
        result = _measure(
            f"generated n={n} seed={seed}",
            sheets,
            "parse",
            planted_pairs(groups),
            [report.sheet_dir],
            with_evalsearch=with_evalsearch,
        )
    result.seconds["generate+parse"] = read_s
    return result


# --- cross-validation of the candidate-score weights ----------------------------------------

CV_GRID: Mapping[str, Sequence[float]] = {
    "similarity": (0.5, 0.55, 0.6, 0.65, 0.7),
    "rank_share": (0.0, 0.2, 0.25, 1 / 3, 0.4, 0.5),
    "cross_reference": (0.1, 0.15, 0.2, 0.25),
}
"""The settings ``--cv`` tries: the similarity weight, the rank's share inside it
(``candidates.RANK_SHARE``; 0 is the cosine alone) and the cross-reference weight. merge_plan
takes what is left of 0.9; integration_answer and contradiction keep 0.05 each (大船渡's sheets
have no オ answer, so neither can be tuned on them)."""


@dataclass(frozen=True)
class Setting:
    similarity: float
    rank_share: float
    cross_reference: float

    @property
    def merge_plan(self) -> float:
        return round(0.9 - self.similarity - self.cross_reference, 6)

    def weights(self) -> dict[str, float]:
        return {
            "similarity": self.similarity,
            "cross_reference": self.cross_reference,
            "merge_plan": self.merge_plan,
            "integration_answer": 0.05,
            "contradiction": 0.05,
        }

    def label(self) -> str:
        return (
            f"similarity {self.similarity:.2f} (rank share {self.rank_share:.2f}), "
            f"cross_reference {self.cross_reference:.2f}, merge_plan {self.merge_plan:.2f}"
        )


def cv_settings(grid: Mapping[str, Sequence[float]] = CV_GRID) -> list[Setting]:
    return [
        Setting(similarity, share, cross)
        for similarity in grid["similarity"]
        for share in grid["rank_share"]
        for cross in grid["cross_reference"]
        if 0.9 - similarity - cross >= -1e-9
    ]


def _ranked_with(ix: Any, setting: Setting | None, k: int) -> list[Pair]:
    """The top ``k`` pairs with ``setting``'s weights (None: the shipped ones)."""
    from evalsearch import candidates

    saved = candidates.SCORE_WEIGHTS, candidates.RANK_SHARE
    try:
        if setting is not None:
            candidates.SCORE_WEIGHTS = setting.weights()
            candidates.RANK_SHARE = setting.rank_share
        result = ix.candidates(min_score=0.0, limit=k, details=False)
    finally:
        candidates.SCORE_WEIGHTS, candidates.RANK_SHARE = saved
    return [norm_pair(plain_id(pair.a.id), plain_id(pair.b.id)) for pair in result.pairs]


def cross_validate(
    xlsx: Path = OFUNATO_XLSX, judgments: Path = OFUNATO_JUDGMENTS, *, split: str = "parity"
) -> dict[str, Any]:
    """2-fold cross-validation of ``CV_GRID`` on 大船渡 (see the module docstring); ``split``
    is "parity" (``folds``) or "department" (``department_folds``)."""
    import evalsearch
    from evalsearch.build import build_index

    judged = judged_pairs(load_judgments(judgments))
    k = len(judged)
    settings = cv_settings()
    with tempfile.TemporaryDirectory(prefix="merge-pairs-cv-") as work:
        index_dir = Path(work) / "index"
        build_index([xlsx], index_dir, rebuild=True)
        with evalsearch.open(index_dir) as ix:
            if split == "department":
                sheets = ix.crossrefs.sheets.values()
                halves = department_folds(
                    judged, {plain_id(sheet.id): sheet.department for sheet in sheets}
                )
            else:
                halves = folds(judged)
            table = []
            for setting in settings:
                top = _ranked_with(ix, setting, k)
                table.append([recall(top, half) or 0.0 for half in halves])
            shipped_top = _ranked_with(ix, None, k)
    out: dict[str, Any] = {
        "k": k,
        "split": split,
        "fold_sizes": [len(half) for half in halves],
        "settings": len(settings),
        "folds": [],
    }
    for tune, check in ((0, 1), (1, 0)):
        best = max(row[tune] for row in table)
        tied = [i for i, row in enumerate(table) if row[tune] == best]
        out["folds"].append(
            {
                "tuned_on": tune,
                "tuning_recall": best,
                "held_out_recall": sum(table[i][check] for i in tied) / len(tied),
                "tied_settings": [settings[i].label() for i in tied],
            }
        )
    out["shipped"] = {
        "recall": recall(shipped_top, judged),
        "recall_folds": [recall(shipped_top, half) for half in halves],
    }
    return out


def print_cross_validation(result: Mapping[str, Any]) -> None:
    sizes = " / ".join(str(size) for size in result["fold_sizes"])
    print(
        f"2-fold cross-validation ({result['split']}, {sizes} pairs) over "
        f"{result['settings']} settings, K = {result['k']}"
    )
    for fold in result["folds"]:
        other = 1 - fold["tuned_on"]
        tied = fold["tied_settings"]
        print(
            f"- tuned on fold {fold['tuned_on']} (recall {fold['tuning_recall']:.3f}, "
            f"{len(tied)} settings tied): fold {other} recall {fold['held_out_recall']:.3f}"
        )
        for label in tied[:5]:
            print(f"    {label}")
    shipped = result["shipped"]
    halves = ", ".join(f"{value:.3f}" for value in shipped["recall_folds"])
    print(f"- shipped weights: recall {shipped['recall']:.3f} (folds {halves})")


# --- output --------------------------------------------------------------------------------


def _cell(metrics: dict[str, Any] | None, key: str, status: str = "ok") -> str:
    if metrics is None:
        return {"unsupported": f"evalsearch: {UNSUPPORTED}", "error": "error"}.get(status, "–")
    value = metrics.get(key)
    return "–" if value is None else f"{value:.3f}"


def markdown(results: Sequence[CorpusResult]) -> str:
    lines = [
        "| corpus | K | baseline recall | baseline recall g2 | baseline P@K "
        "| evalsearch recall | evalsearch recall g2 | evalsearch P@K |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.corpus} | {r.k} | {_cell(r.baseline, 'recall')} "
            f"| {_cell(r.baseline, 'recall_g2')} | {_cell(r.baseline, 'precision')} "
            f"| {_cell(r.evalsearch, 'recall', r.evalsearch_status)} "
            f"| {_cell(r.evalsearch, 'recall_g2', r.evalsearch_status)} "
            f"| {_cell(r.evalsearch, 'precision', r.evalsearch_status)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="ofunato,generated", help="ofunato,generated")
    parser.add_argument("--xlsx", type=Path, default=OFUNATO_XLSX)
    parser.add_argument("--judgments", type=Path, default=OFUNATO_JUDGMENTS)
    parser.add_argument("--n", type=int, default=GENERATED_N)
    parser.add_argument("--seed", type=int, default=GENERATED_SEED)
    parser.add_argument("--no-evalsearch", action="store_true", help="baseline only")
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    parser.add_argument(
        "--cv", action="store_true", help="cross-validate the candidate-score weights (大船渡)"
    )
    parser.add_argument(
        "--split", choices=("parity", "department"), default="parity", help="folds of --cv"
    )
    args = parser.parse_args(argv)
    if args.cv:
        cv = cross_validate(args.xlsx, args.judgments, split=args.split)
        print_cross_validation(cv)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(cv, ensure_ascii=False, indent=1) + "\n", "utf-8")
        return 0

    started = time.perf_counter()
    wanted = [name.strip() for name in args.corpus.split(",") if name.strip()]
    results: list[CorpusResult] = []
    for name in wanted:
        if name == "ofunato":
            results.append(
                measure_ofunato(args.xlsx, args.judgments, with_evalsearch=not args.no_evalsearch)
            )
        elif name == "generated":
            results.append(
                measure_generated(args.n, args.seed, with_evalsearch=not args.no_evalsearch)
            )
        else:
            parser.error(f"unknown corpus: {name}")
    total = time.perf_counter() - started

    print(markdown(results))
    for r in results:
        notes = [f"{r.sheets} sheets ({r.sheet_source})"]
        if r.judged_ids_missing:
            notes.append(f"{r.judged_ids_missing} judged ids not among the sheets")
        if r.evalsearch_status == "unsupported":
            notes.append(f"evalsearch: {UNSUPPORTED} ({r.evalsearch_note[:200]})")
        elif r.evalsearch_status == "error":
            notes.append(f"evalsearch error ({r.evalsearch_note[:200]})")
        for method, metrics in (("baseline", r.baseline), ("evalsearch", r.evalsearch)):
            halves = (metrics or {}).get("recall_folds") or []
            if r.corpus == "ofunato" and halves:
                notes.append(f"{method} recall by fold {' / '.join(f'{v:.3f}' for v in halves)}")
        timing = ", ".join(f"{key} {value:.1f} s" for key, value in r.seconds.items())
        print(f"- {r.corpus}: {'; '.join(notes)}; {timing}")
    print(f"total {total:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"results": [r.to_dict() for r in results], "seconds": round(total, 2)},
                ensure_ascii=False,
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
