"""Benchmark harness: speed, memory and retrieval quality of evalsearch at N sheets.

    python bench/run.py --sizes 1000,10000 [--large] --out bench/results.json

For each size N the harness generates N synthetic sheets (``bench/generate.py``, seed
``--seed``) under ``--work/nN/`` and measures, each heavy stage in its own subprocess:

build child (``build_index`` end to end, as ``evalsearch index`` runs it, both cores):
  build_sheets_per_s  N / wall seconds of ``build_index(rebuild=True)``: parse + analyse +
                      Whoosh + record store + TF-IDF similarity model
  peak_rss_mb         peak of the summed VmRSS of the build's process tree (parent + workers),
                      sampled every 50 ms; an upper bound (forked workers share pages)
  index_mb            size of the index directory
  stages              wall seconds of the parent's serial stages (segment commit, record
                      store, similarity fit) and of the parallel worker phase

measure child (one process; the index opened once with ``evalsearch.open`` and kept warm):
  parse_sheets_per_s  ``parse_paths`` over all files, one process, per CPU second (robust to
                      other load on the machine; the wall-clock rate is parse_wall_sheets_per_s)
  sudachi_*           raw SudachiPy (mode C, core dictionary) and ``evalsearch.analysis.analyze``
                      throughput per CPU second over the passages of the same sheets (the first
                      5,000): the analysis floor. build_fraction_of_analysis_floor = build rate
                      ÷ (analyze rate × cores)
  worker_cpu_ms_*     CPU ms per sheet of a build worker's three steps (parse, analyse, Whoosh
                      add) over the first 1,000 sheets, one process
  query_p50_ms/p95    ``ix.search`` latency over ``bench/queries.json`` (1–3 terms, field
                      restrictions, year/department/decision/measure/answer filters), warm:
                      every query runs once before 5 timed rounds, on one open handle
  similar_ms          median ``ix.similar(id, limit=10)`` latency, model loaded (model_load_s:
                      the handle's first use of the model and cross-references), over the
                      planted groups' first members (at most 200)
  candidates_s        ``ix.candidates()`` with its defaults (top 10 neighbours per sheet);
                      candidates_without_details_s is the same ranking without per-pair evidence
  recall_at_10        share of planted pairs (every pair inside a labels.json group) found among
                      the candidate pairs, which come from each sheet's 10 nearest neighbours
  precision_at_50     share of the 50 best candidate pairs that are planted pairs

The 1-minute load average before and after each stage is recorded: the figures are only
comparable when it stays near the harness's own load (other work on the machine slows them).

Prints a Markdown table and writes JSON: {"sizes": {"N": {...}}, "machine": {...}}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalsearch.handle import Index

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_SIZES = (1000, 10_000)
LARGE_SIZE = 100_000
QUERIES_FILE = Path(__file__).with_name("queries.json")
QUERY_ROUNDS = 5
SIMILAR_SAMPLE = 200
SUDACHI_SAMPLE_SHEETS = 5000
PROFILE_SHEETS = 1000
PRECISION_TOP = 50
RSS_INTERVAL_S = 0.05

REQUIRED_KEYS = (
    "build_sheets_per_s",
    "parse_sheets_per_s",
    "index_mb",
    "peak_rss_mb",
    "query_p50_ms",
    "query_p95_ms",
    "similar_ms",
    "candidates_s",
    "recall_at_10",
    "precision_at_50",
)


# --------------------------------------------------------------------------------------------
# Process-tree memory sampling (Linux /proc; no psutil needed).


def _tree_rss_kb(root: int) -> int:
    """Summed VmRSS of ``root`` and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                ppid, vmrss = -1, 0
                for line in handle:
                    if line.startswith("PPid:"):
                        ppid = int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        vmrss = int(line.split()[1])
        except (OSError, ValueError):
            continue
        parents[int(entry)] = ppid
        rss[int(entry)] = vmrss
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(rss.get(pid, 0) for pid in tree)


def run_child(args: Sequence[str]) -> tuple[dict[str, Any], float]:
    """Run ``run.py --child …``; return its JSON answer and the tree's peak RSS in MB."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kb(process.pid))
            stop.wait(RSS_INTERVAL_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"bench child {' '.join(args)} failed with exit code {process.returncode}")
    return json.loads(out.strip().splitlines()[-1]), peak / 1024


# --------------------------------------------------------------------------------------------
# Child: build.


def _timed(stages: dict[str, float], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - started

    return wrapper


def child_build(sheet_dir: Path, index_dir: Path) -> dict[str, Any]:
    import resource

    from evalsearch import build as ebuild
    from evalsearch import engine, store

    stages: dict[str, float] = {}
    ebuild._fit_similarity = _timed(stages, "similarity_fit_s", ebuild._fit_similarity)
    engine.commit_segments = _timed(stages, "whoosh_commit_s", engine.commit_segments)
    store.write_records = _timed(stages, "record_store_s", store.write_records)
    store.write_terms = _timed(stages, "record_store_s", store.write_terms)
    store.write_manifest = _timed(stages, "manifest_s", store.write_manifest)
    if index_dir.exists():
        shutil.rmtree(index_dir)
    started = time.perf_counter()
    report = ebuild.build_index([sheet_dir], index_dir, rebuild=True)
    seconds = time.perf_counter() - started
    stages["workers_s"] = seconds - sum(stages.values())
    usage_self = resource.getrusage(resource.RUSAGE_SELF)
    usage_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": seconds,
        "report": report.to_dict(),
        "stages": stages,
        "maxrss_parent_mb": usage_self.ru_maxrss / 1024,
        "maxrss_worker_mb": usage_children.ru_maxrss / 1024,
        "cpu_s": usage_self.ru_utime + usage_self.ru_stime,
        "cpu_workers_s": usage_children.ru_utime + usage_children.ru_stime,
    }


# --------------------------------------------------------------------------------------------
# Child: measure (parse, Sudachi floor, queries, similar, candidates, quality).


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[position]


def measure_parse(sheet_dir: Path) -> tuple[dict[str, Any], list[str]]:
    from evalsearch.parse import parse_paths

    passages: list[str] = []
    warnings = 0
    count = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for record in parse_paths([sheet_dir]):
        count += 1
        warnings += len(record.warnings)
        if count <= SUDACHI_SAMPLE_SHEETS:
            passages.extend(text for text in record.passages().values() if text)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    return {
        "parse_sheets_per_s": count / cpu,
        "parse_wall_sheets_per_s": count / seconds,
        "parse_s": seconds,
        "parsed_sheets": count,
        "parse_warnings": warnings,
    }, passages


def measure_worker_stages(sheet_dir: Path, sheets: int = PROFILE_SHEETS) -> dict[str, Any]:
    """CPU ms per sheet of what a build worker does: parse, analyse, add to a Whoosh segment."""
    import tempfile

    from evalsearch import engine
    from evalsearch.build import analyze_record
    from evalsearch.parse import parse_paths

    totals = {"parse": 0.0, "analyse": 0.0, "whoosh_add": 0.0}
    done = 0
    with tempfile.TemporaryDirectory() as scratch:
        engine.create(Path(scratch))
        sink = engine.SegmentSink(Path(scratch))
        for path in sorted(sheet_dir.glob("*.txt")):
            started = time.process_time()
            records = list(parse_paths([path]))
            totals["parse"] += time.process_time() - started
            for record in records:
                started = time.process_time()
                packed = analyze_record(record)
                totals["analyse"] += time.process_time() - started
                started = time.process_time()
                sink.add(record, packed)
                totals["whoosh_add"] += time.process_time() - started
            done += len(records)
            if done >= sheets:
                break
        sink.cancel()
    return {"worker_cpu_ms_per_sheet": {k: v * 1000 / max(done, 1) for k, v in totals.items()}}


def measure_sudachi(passages: Sequence[str], sheets: int) -> dict[str, Any]:
    """Raw SudachiPy and evalsearch's analyzer over the same passages, one process."""
    from sudachipy import Dictionary, SplitMode

    from evalsearch.analysis import analyze

    tokenizer = Dictionary(dict="core").tokenizer(mode=SplitMode.C)
    chars = sum(len(text) for text in passages)
    started = time.process_time()
    for text in passages:
        tokenizer.tokenize(text)
    raw = time.process_time() - started
    analyze(passages[0] if passages else "")  # build the analyzer's own tokenizer first
    started = time.process_time()
    for text in passages:
        analyze(text)
    analysed = time.process_time() - started
    return {
        "sudachi_sheets": sheets,
        "sudachi_chars": chars,
        "sudachi_chars_per_s": chars / raw,
        "sudachi_sheets_per_s": sheets / raw,
        "analyze_sheets_per_s": sheets / analysed,
    }


def measure_queries(ix: Index) -> dict[str, Any]:
    queries = json.loads(QUERIES_FILE.read_text("utf-8"))

    def run(spec: dict[str, Any]) -> int:
        options = {key: value for key, value in spec.items() if key != "query"}
        return ix.search(spec["query"], limit=10, **options).total

    totals = [run(spec) for spec in queries]  # warm-up
    per_query: list[list[float]] = [[] for _ in queries]
    for _ in range(QUERY_ROUNDS):
        for position, spec in enumerate(queries):
            started = time.perf_counter()
            run(spec)
            per_query[position].append((time.perf_counter() - started) * 1000)
    latencies = [value for values in per_query for value in values]
    slowest = sorted(
        range(len(queries)), key=lambda i: statistics.median(per_query[i]), reverse=True
    )[:3]
    return {
        "query_p50_ms": _percentile(latencies, 0.5),
        "query_p95_ms": _percentile(latencies, 0.95),
        "queries": len(queries),
        "queries_without_hits": sum(1 for total in totals if total == 0),
        "slowest_queries": [
            {**queries[i], "median_ms": statistics.median(per_query[i]), "hits": totals[i]}
            for i in slowest
        ],
    }


def planted_pairs(groups: Iterable[Sequence[str]]) -> set[frozenset[str]]:
    return {frozenset(pair) for group in groups for pair in combinations(group, 2)}


def measure_similarity(ix: Index, groups: list[list[str]]) -> dict[str, Any]:
    started = time.perf_counter()
    _ = ix.model, ix.crossrefs  # opened on first use: time the load on its own
    load = time.perf_counter() - started

    latencies = []
    found = 0
    sample = groups[:SIMILAR_SAMPLE]
    for group in sample:
        started = time.perf_counter()
        result = ix.similar(group[0], limit=10)
        latencies.append((time.perf_counter() - started) * 1000)
        neighbours = {neighbour.sheet.id for neighbour in result.similar}
        found += all(member in neighbours for member in group[1:])

    started = time.perf_counter()
    ix.candidates(details=False)
    ranking_s = time.perf_counter() - started
    started = time.perf_counter()
    candidates = ix.candidates()
    candidates_s = time.perf_counter() - started
    pairs = [frozenset(pair.ids) for pair in candidates.pairs]
    planted = planted_pairs(groups)
    top = pairs[:PRECISION_TOP]
    return {
        "model_load_s": load,
        "similar_ms": statistics.median(latencies) if latencies else float("nan"),
        "similar_group_recall_at_10": found / len(sample) if sample else float("nan"),
        "candidates_s": candidates_s,
        "candidates_without_details_s": ranking_s,
        "candidate_pairs": len(pairs),
        "planted_pairs": len(planted),
        "recall_at_10": len(planted & set(pairs)) / len(planted) if planted else float("nan"),
        "precision_at_50": sum(pair in planted for pair in top) / len(top) if top else float("nan"),
    }


def child_measure(sheet_dir: Path, index_dir: Path, labels: Path) -> dict[str, Any]:
    parse, passages = measure_parse(sheet_dir)
    out: dict[str, Any] = dict(parse)
    out.update(measure_sudachi(passages, min(parse["parsed_sheets"], SUDACHI_SAMPLE_SHEETS)))
    out.update(measure_worker_stages(sheet_dir))
    import evalsearch

    started = time.perf_counter()
    with evalsearch.open(index_dir) as ix:  # one handle for every question, as an app keeps it
        out["open_s"] = time.perf_counter() - started
        out.update(measure_queries(ix))
        out.update(measure_similarity(ix, json.loads(labels.read_text("utf-8"))))
    return out


# --------------------------------------------------------------------------------------------
# Parent.


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    memory = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            memory = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    ).stdout.strip()
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_gb": memory,
        "sudachipy": version("sudachipy"),
        "sudachidict_core": version("sudachidict-core"),
        "whoosh": version("whoosh-reloaded"),
        "git_commit": commit,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def directory_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024 / 1024


def bench_size(n: int, seed: int, work: Path) -> dict[str, Any]:
    from bench.generate import generate

    base = work / f"n{n}"
    generated = generate(n, seed, base)
    index_dir = base / "index"
    print(
        f"[n={n}] generated {generated.sheets} sheets in {generated.seconds:.1f} s", file=sys.stderr
    )

    load_before = os.getloadavg()[0]
    build, build_peak = run_child(["--child", "build", str(generated.sheet_dir), str(index_dir)])
    load_after_build = os.getloadavg()[0]
    print(f"[n={n}] built in {build['seconds']:.1f} s", file=sys.stderr)
    measured, measure_peak = run_child(
        ["--child", "measure", str(generated.sheet_dir), str(index_dir), str(generated.labels)]
    )
    print(f"[n={n}] measured", file=sys.stderr)
    result: dict[str, Any] = {
        "build_sheets_per_s": n / build["seconds"],
        "parse_sheets_per_s": measured["parse_sheets_per_s"],
        "index_mb": directory_mb(index_dir),
        "peak_rss_mb": build_peak,
        "query_p50_ms": measured["query_p50_ms"],
        "query_p95_ms": measured["query_p95_ms"],
        "similar_ms": measured["similar_ms"],
        "candidates_s": measured["candidates_s"],
        "recall_at_10": measured["recall_at_10"],
        "precision_at_50": measured["precision_at_50"],
        "build_s": build["seconds"],
        "build_stages_s": build["stages"],
        "build_cpu_s": {"parent": build["cpu_s"], "workers": build["cpu_workers_s"]},
        "build_maxrss_mb": {
            "parent": build["maxrss_parent_mb"],
            "worker": build["maxrss_worker_mb"],
        },
        "build_warnings": build["report"]["warnings"],
        "measure_peak_rss_mb": measure_peak,
        "generate_s": generated.seconds,
        "loadavg_1min": {
            "before_build": load_before,
            "after_build": load_after_build,
            "after_measure": os.getloadavg()[0],
        },
        "planted_groups": generated.groups,
    }
    for key, value in measured.items():
        result.setdefault(key, value)
    result["build_fraction_of_analysis_floor"] = result["build_sheets_per_s"] / (
        measured["analyze_sheets_per_s"] * machine_cpus()
    )
    return result


def machine_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


TABLE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("build_sheets_per_s", "build (sheets/s, end to end)", "{:.0f}"),
    ("parse_sheets_per_s", "parse (sheets/s, 1 process)", "{:.0f}"),
    ("analyze_sheets_per_s", "evalsearch analyze (sheets/s, 1 process)", "{:.0f}"),
    ("sudachi_sheets_per_s", "raw Sudachi (sheets/s, 1 process)", "{:.0f}"),
    ("build_fraction_of_analysis_floor", "build ÷ analysis floor (all cores)", "{:.2f}"),
    ("index_mb", "index size (MB)", "{:.1f}"),
    ("peak_rss_mb", "peak RSS of build (MB)", "{:.0f}"),
    ("query_p50_ms", "query p50 (ms, warm)", "{:.1f}"),
    ("query_p95_ms", "query p95 (ms, warm)", "{:.1f}"),
    ("similar_ms", "similar (ms, median)", "{:.1f}"),
    ("candidates_s", "candidates (s)", "{:.2f}"),
    ("recall_at_10", "recall@10 of planted pairs", "{:.3f}"),
    ("precision_at_50", "precision of top 50", "{:.2f}"),
)


def markdown(results: dict[str, dict[str, Any]]) -> str:
    sizes = list(results)
    lines = [
        "| metric | " + " | ".join(f"N = {int(size):,}" for size in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for key, label, fmt in TABLE_ROWS:
        cells = [fmt.format(results[size][key]) if key in results[size] else "–" for size in sizes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Build stages (wall s): "
        + "; ".join(
            f"N = {int(size):,}: "
            + ", ".join(
                f"{name} {seconds:.1f}" for name, seconds in results[size]["build_stages_s"].items()
            )
            for size in sizes
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated N"
    )
    parser.add_argument("--large", action="store_true", help=f"also N = {LARGE_SIZE:,}")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results.json", help="JSON file"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out", help="generated data")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, *paths = args.child
        if kind == "build":
            answer = child_build(Path(paths[0]), Path(paths[1]))
        else:
            answer = child_measure(Path(paths[0]), Path(paths[1]), Path(paths[2]))
        print(json.dumps(answer))
        return 0

    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    if args.large and LARGE_SIZE not in sizes:
        sizes.append(LARGE_SIZE)
    results = {str(n): bench_size(n, args.seed, args.work) for n in sizes}
    output = {"sizes": results, "machine": machine()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(output, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
