"""Benchmark harness: speed, memory and retrieval quality of evalsearch at N sheets.

    python bench/run.py --sizes 1000,10000 [--large] --out bench/results.json

For each size N the harness generates N synthetic sheets (``bench/generate.py``, seed
``--seed``) under ``--work/nN/`` and measures, each heavy stage in its own subprocess:

build child (``build_index`` end to end, as ``evalsearch index`` runs it, both cores):
  build_sheets_per_s  N / wall seconds of ``build_index(rebuild=True)``: parse + analyse +
                      Whoosh + record store + TF-IDF similarity model + cross-references
  build_cpu_sheets_per_s  N / ((parent + worker CPU seconds) / cores): what the build would
                      do on idle cores (robust to other load on a shared machine)
  peak_rss_mb         peak of the summed VmRSS of the build's process tree (parent + workers),
                      sampled every 50 ms; an upper bound (forked workers share pages)
  index_mb            size of the index directory
  stages              wall seconds of the parent's serial stages (segment commit, record
                      store, similarity fit with cross-references) and of the parallel worker
                      phase

measure child (one process; the index opened once with ``evalsearch.open`` and kept warm):
  parse_sheets_per_s  ``parse_paths`` over all files, one process, per CPU second (robust to
                      other load on the machine; the wall-clock rate is parse_wall_sheets_per_s)
  sudachi_*           raw SudachiPy (mode C, core dictionary) and ``evalsearch.analysis.analyze``
                      throughput per CPU second over the passages of the same sheets (the first
                      5,000): the analysis floor. build_fraction_of_analysis_floor = build rate
                      ÷ (analyze rate × cores)
  worker_cpu_ms_*     CPU ms per sheet of a build worker's steps (parse, analyse, Whoosh add,
                      Whoosh segment finish) over the first 1,000 sheets, one process
  query_p50_ms/p95    ``ix.search`` latency over ``bench/queries.json`` (1–3 terms, field
                      restrictions, year/department/decision/measure/answer filters, synonyms
                      on), warm: every query runs once before 5 timed rounds, on one open
                      handle; query_cpu_p95_ms is the same in CPU time; slowest_queries the
                      three worst medians
  similar_ms          median ``ix.similar(id, limit=10)`` latency, model loaded (model_load_s:
                      the handle's first use of the model and cross-references), over the
                      planted groups' first members (at most 200)
  candidates_s        ``ix.candidates(limit=50)``, the whole corpus as ``evalsearch candidates``
                      runs it (its default --limit 50: evidence for the 50 pairs shown);
                      candidates_all_pairs_s is every pair above the threshold without evidence
                      (``details=False``), the list recall and precision are computed from
  neighbour_recall_at_10  share of the exact top-10 neighbours (within the year and
                      municipality) that ``nearest_pairs`` finds, over at most 300 sheets of
                      the largest group; 1.0 when every group is small enough to be exact
  recall_at_10        share of planted pairs (every pair inside a labels.json group) found among
                      the candidate pairs, which come from each sheet's 10 nearest neighbours
  precision_at_50     share of the 50 best candidate pairs that are planted pairs
  history_ms          ``ix.history(project)`` (warm, median and p95) over at most 200 projects
                      with two or more sheets; changes_s ``ix.changes(year)`` for the newest
                      year; history_accuracy the per-class accuracy of
                      ``bench/history_bench.measure_history`` on the planted transitions

cli child (a new process per run, as a user types it):
  cli_search_s        wall seconds of ``evalsearch search 統合 --index DIR`` (median of 3,
                      after one run to warm the file cache); cli_heavy_imports lists scipy or
                      sklearn if the search path imported them (it must not)

incremental child:
  incremental_index_s  wall seconds of ``build_index`` after one sheet file changed (a word
                      of one passage), the index otherwise up to date

The 1-minute load average before and after each stage is recorded and printed: the figures
are only comparable when it stays near the harness's own load (other work on the machine
slows them). ``GOALS`` (issue 13) are printed beside the figures.

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
CLI_CANDIDATES_LIMIT = 50
"""``evalsearch candidates``' default --limit: the pairs a user is shown."""
NEIGHBOUR_SAMPLE = 300
HISTORY_SAMPLE = 200
CLI_QUERY = "統合"
CLI_ROUNDS = 3

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
    tree = _descendants(root)
    if tree is None:
        tree = _descendants_by_scan(root)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError):
            continue
    return total


def _descendants(root: int) -> set[int] | None:
    """``root`` and its descendants through /proc/PID/task/TID/children (None where the
    kernel has no such file): reading only the tree, not every process of the machine, keeps
    the 50 ms sampler from taking a quarter of a core away from the build it measures."""
    tree = {root}
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                    children = [int(child) for child in handle.read().split()]
            except FileNotFoundError:
                return None
            except (OSError, ValueError):
                continue
            for child in children:
                if child not in tree:
                    tree.add(child)
                    pending.append(child)
    return tree


def _descendants_by_scan(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                for line in handle:
                    if line.startswith("PPid:"):
                        parents[int(entry)] = int(line.split()[1])
                        break
        except (OSError, ValueError):
            continue
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


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
    ebuild._write_store = _timed(stages, "record_store_s", ebuild._write_store)
    engine.commit_segments = _timed(stages, "whoosh_commit_s", engine.commit_segments)
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


def child_incremental(sheet_dir: Path, index_dir: Path) -> dict[str, Any]:
    """One sheet file changed (one word of one passage), the rest of the index up to date."""
    from evalsearch.build import build_index

    path = sorted(sheet_dir.glob("*.txt"))[len(list(sheet_dir.glob("*.txt"))) // 2]
    original = path.read_text("utf-8")
    changed = original.replace("推進", "促進", 1)
    if changed == original:
        changed = original + "\n"
    path.write_text(changed, encoding="utf-8")
    try:
        started = time.perf_counter()
        report = build_index([sheet_dir], index_dir)
        seconds = time.perf_counter() - started
    finally:
        path.write_text(original, encoding="utf-8")
    return {"seconds": seconds, "report": report.to_dict()}


def child_cli(index_dir: Path) -> dict[str, Any]:
    """``evalsearch search`` in new processes, as a user runs it."""
    command = [str(Path(sys.executable).with_name("evalsearch")), "search", CLI_QUERY]
    command += ["--index", str(index_dir)]
    probe = (
        "import sys, atexit\n"
        "atexit.register(lambda: print('HEAVY', *[m for m in ('scipy', 'sklearn') "
        "if m in sys.modules], file=sys.stderr))\n"
        "from evalsearch.cli import app\n"
        f"sys.argv = {['evalsearch', *command[1:]]!r}\n"
        "app()\n"
    )
    # Bytecode written and used, as an installed package has it (pip compiles on install);
    # PYTHONDONTWRITEBYTECODE in the environment would make every run compile every module.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    heavy = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        env=env,
    )
    found = next(
        (line.split()[1:] for line in heavy.stderr.splitlines() if line.startswith("HEAVY")), []
    )
    times = []
    for round_ in range(CLI_ROUNDS + 1):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, cwd=REPO, check=True, env=env)
        if round_:  # the first run warms the file cache
            times.append(time.perf_counter() - started)
    return {"cli_search_s": statistics.median(times), "cli_heavy_imports": found}


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

    totals = {"parse": 0.0, "analyse": 0.0, "whoosh_add": 0.0, "whoosh_finish": 0.0}
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
        started = time.process_time()
        sink.finish()
        totals["whoosh_finish"] += time.process_time() - started
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
    cpu: list[float] = []
    for _ in range(QUERY_ROUNDS):
        for position, spec in enumerate(queries):
            started, cpu_started = time.perf_counter(), time.process_time()
            run(spec)
            per_query[position].append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
    latencies = [value for values in per_query for value in values]
    slowest = sorted(
        range(len(queries)), key=lambda i: statistics.median(per_query[i]), reverse=True
    )[:3]
    return {
        "query_p50_ms": _percentile(latencies, 0.5),
        "query_p95_ms": _percentile(latencies, 0.95),
        "query_cpu_p95_ms": _percentile(cpu, 0.95),
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
    every = ix.candidates(details=False)
    all_pairs_s = time.perf_counter() - started
    started = time.perf_counter()
    shown = ix.candidates(limit=CLI_CANDIDATES_LIMIT)
    candidates_s = time.perf_counter() - started
    if [pair.ids for pair in shown.pairs] != [pair.ids for pair in every.pairs][: len(shown.pairs)]:
        raise SystemExit("candidates(limit=50) is not the head of the full ranking")
    pairs = [frozenset(pair.ids) for pair in every.pairs]
    planted = planted_pairs(groups)
    top = pairs[:PRECISION_TOP]
    return {
        "model_load_s": load,
        "similar_ms": statistics.median(latencies) if latencies else float("nan"),
        "similar_group_recall_at_10": found / len(sample) if sample else float("nan"),
        "candidates_s": candidates_s,
        "candidates_all_pairs_s": all_pairs_s,
        "candidate_pairs": len(pairs),
        "planted_pairs": len(planted),
        "recall_at_10": len(planted & set(pairs)) / len(planted) if planted else float("nan"),
        "precision_at_50": sum(pair in planted for pair in top) / len(top) if top else float("nan"),
        **neighbour_recall(ix),
    }


def neighbour_recall(ix: Index, sample: int = NEIGHBOUR_SAMPLE) -> dict[str, Any]:
    """Recall of the exact top-10 neighbours by the default (possibly approximate) search,
    over a sample of the largest (year, municipality) group."""
    import numpy as np

    from evalsearch.candidates import DEFAULT_TOP_K, MIN_SIMILARITY
    from evalsearch.similarity import EXACT_GROUP_SHEETS

    model = ix.model
    groups = model.fiscal_years_ * (int(model.municipality_codes_.max()) + 1)
    groups = groups + model.municipality_codes_
    values, sizes = np.unique(groups, return_counts=True)
    members = np.flatnonzero(groups == values[np.argmax(sizes)])
    queries = np.random.default_rng(0).choice(members, min(sample, len(members)), replace=False)
    queries.sort()

    def neighbours(exact: bool) -> tuple[list[int], list[int], list[float]]:
        return model.group_neighbours(
            members,
            top_k=DEFAULT_TOP_K,
            min_similarity=MIN_SIMILARITY,
            exact=exact,
            queries=queries,
        )

    started = time.perf_counter()
    found = neighbours(len(members) <= EXACT_GROUP_SHEETS)
    search_s = time.perf_counter() - started
    exact = neighbours(True)
    wanted = set(zip(exact[0], exact[1], strict=True))
    got = set(zip(found[0], found[1], strict=True))
    return {
        "neighbour_recall_at_10": len(wanted & got) / len(wanted) if wanted else float("nan"),
        "neighbour_search": "exact" if len(members) <= EXACT_GROUP_SHEETS else "approximate",
        "neighbour_group_sheets": len(members),
        "neighbour_sample_s": search_s,
    }


def measure_history(ix: Index, transitions: Path | None) -> dict[str, Any]:
    """``ix.history`` and ``ix.changes`` as the CLI asks them, and the change-class accuracy of
    bench/history_bench.py on the planted transitions."""
    from collections import Counter

    from bench import history_bench

    records = ix.records()
    counts = Counter((record.municipality, record.project_no) for record in records)
    projects = [key for key, count in counts.items() if count > 1][:HISTORY_SAMPLE]
    for municipality, number in projects[:5]:  # warm-up
        ix.history(number, municipality=municipality)
    latencies = []
    for municipality, number in projects:
        started = time.perf_counter()
        ix.history(number, municipality=municipality)
        latencies.append((time.perf_counter() - started) * 1000)
    newest = max(record.fiscal_year for record in records)
    started = time.perf_counter()
    ix.changes(newest)
    changes_s = time.perf_counter() - started
    out: dict[str, Any] = {
        "history_ms": statistics.median(latencies) if latencies else float("nan"),
        "history_p95_ms": _percentile(latencies, 0.95),
        "changes_s": changes_s,
    }
    if transitions is not None and transitions.exists():
        figures = history_bench.measure_history(records, json.loads(transitions.read_text()))
        out["history_accuracy"] = figures["accuracy"]
        out["history_copied"] = figures["copied"]
    return out


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
        out.update(measure_history(ix, labels.with_name("transitions.json")))
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

    load: dict[str, float] = {"before_build": os.getloadavg()[0]}
    build, build_peak = run_child(["--child", "build", str(generated.sheet_dir), str(index_dir)])
    load["after_build"] = os.getloadavg()[0]
    print(f"[n={n}] built in {build['seconds']:.1f} s", file=sys.stderr)
    measured, measure_peak = run_child(
        ["--child", "measure", str(generated.sheet_dir), str(index_dir), str(generated.labels)]
    )
    load["after_measure"] = os.getloadavg()[0]
    print(f"[n={n}] measured", file=sys.stderr)
    cli, _ = run_child(["--child", "cli", str(index_dir)])
    load["after_cli"] = os.getloadavg()[0]
    incremental, incremental_peak = run_child(
        ["--child", "incremental", str(generated.sheet_dir), str(index_dir)]
    )
    load["after_incremental"] = os.getloadavg()[0]
    print(f"[n={n}] incremental index in {incremental['seconds']:.1f} s", file=sys.stderr)
    cpu_total = build["cpu_s"] + build["cpu_workers_s"]
    result: dict[str, Any] = {
        "build_sheets_per_s": n / build["seconds"],
        "build_cpu_sheets_per_s": n / (cpu_total / machine_cpus()),
        "parse_sheets_per_s": measured["parse_sheets_per_s"],
        "index_mb": directory_mb(index_dir),
        "peak_rss_mb": build_peak,
        "query_p50_ms": measured["query_p50_ms"],
        "query_p95_ms": measured["query_p95_ms"],
        "similar_ms": measured["similar_ms"],
        "candidates_s": measured["candidates_s"],
        "recall_at_10": measured["recall_at_10"],
        "precision_at_50": measured["precision_at_50"],
        "cli_search_s": cli["cli_search_s"],
        "cli_heavy_imports": cli["cli_heavy_imports"],
        "incremental_index_s": incremental["seconds"],
        "incremental_peak_rss_mb": incremental_peak,
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
        "loadavg_1min": load,
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
    ("build_cpu_sheets_per_s", "build on idle cores (sheets/s, from CPU time)", "{:.0f}"),
    ("parse_sheets_per_s", "parse (sheets/s, 1 process)", "{:.0f}"),
    ("analyze_sheets_per_s", "evalsearch analyze (sheets/s, 1 process)", "{:.0f}"),
    ("sudachi_sheets_per_s", "raw Sudachi (sheets/s, 1 process)", "{:.0f}"),
    ("build_fraction_of_analysis_floor", "build ÷ analysis floor (all cores)", "{:.2f}"),
    ("index_mb", "index size (MB)", "{:.1f}"),
    ("peak_rss_mb", "peak RSS of build (MB)", "{:.0f}"),
    ("query_p50_ms", "query p50 (ms, warm)", "{:.1f}"),
    ("query_p95_ms", "query p95 (ms, warm)", "{:.1f}"),
    ("query_cpu_p95_ms", "query p95 (CPU ms, warm)", "{:.1f}"),
    ("similar_ms", "similar (ms, median)", "{:.1f}"),
    ("candidates_s", "candidates, top 50 (s)", "{:.2f}"),
    ("candidates_all_pairs_s", "candidates, every pair, no evidence (s)", "{:.2f}"),
    ("neighbour_recall_at_10", "recall of the exact top-10 neighbours", "{:.3f}"),
    ("recall_at_10", "recall@10 of planted pairs", "{:.3f}"),
    ("precision_at_50", "precision of top 50", "{:.2f}"),
    ("cli_search_s", "CLI search, cold process (s)", "{:.2f}"),
    ("incremental_index_s", "index after 1 changed file (s)", "{:.2f}"),
    ("history_ms", "history (ms, median, warm)", "{:.1f}"),
    ("history_p95_ms", "history (ms, p95, warm)", "{:.1f}"),
    ("changes_s", "changes --year (s)", "{:.2f}"),
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


GOALS: tuple[tuple[str, str, Callable[[int], float | None], str], ...] = (
    # (metric, label, goal at N (None: no goal at that size), "<=" or ">=")
    ("peak_rss_mb", "peak RSS of the build (MB)", lambda n: 2048.0, "<="),
    ("build_sheets_per_s", "build (sheets/s)", lambda n: 400.0 if n >= 100_000 else None, ">="),
    (
        "query_p95_ms",
        "query p95, warm (ms)",
        lambda n: 50.0 if n >= 100_000 else (10.0 if n >= 10_000 else None),
        "<=",
    ),
    ("similar_ms", "similar, warm (ms)", lambda n: 15.0 if n >= 100_000 else None, "<="),
    ("candidates_s", "candidates, whole corpus (s)", lambda n: 60.0, "<="),
    ("neighbour_recall_at_10", "recall of the exact top 10", lambda n: 0.99, ">="),
    ("recall_at_10", "planted-pair recall@10", lambda n: 0.95, ">="),
    (
        "cli_search_s",
        "CLI search, cold process (s)",
        lambda n: 0.5 if n >= 100_000 else (0.3 if n >= 10_000 else None),
        "<=",
    ),
    ("incremental_index_s", "index 1 changed file (s)", lambda n: 5.0, "<="),
    ("history_p95_ms", "history, warm (ms, p95)", lambda n: 50.0, "<="),
    ("changes_s", "changes --year (s)", lambda n: 10.0, "<="),
)
"""Issue 13's goals (and issue 12's for history), per corpus size; 100k goals apply from
100,000 sheets, 10k goals from 10,000."""


def goals_markdown(results: dict[str, dict[str, Any]]) -> str:
    """Every goal figure with its goal beside it (✓ met, ✗ missed), then the flat-memory ratio,
    the change-class accuracy and the load averages."""
    sizes = list(results)
    lines = [
        "| goal | " + " | ".join(f"N = {int(size):,}" for size in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for key, label, goal_at, direction in GOALS:
        cells = []
        for size in sizes:
            value = results[size].get(key)
            goal = goal_at(int(size))
            if value is None:
                cells.append("–")
                continue
            shown = f"{value:.3f}" if value < 10 else f"{value:.0f}"
            if goal is None:
                cells.append(shown)
                continue
            met = value <= goal if direction == "<=" else value >= goal
            cells.append(f"{shown} {'✓' if met else '✗'} (goal {direction} {goal:g})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    small = [size for size in sizes if int(size) == 1000]
    large = [size for size in sizes if int(size) == 10_000]
    if small and large:
        ratio = results[large[0]]["peak_rss_mb"] / results[small[0]]["peak_rss_mb"]
        lines.append(
            f"| RSS at 10k ÷ RSS at 1k | {ratio:.2f} {'✓' if ratio <= 1.5 else '✗'} (goal <= 1.5) |"
            + " |" * (len(sizes) - 1)
        )
    lines.append("")
    for size in sizes:
        result = results[size]
        heavy = result.get("cli_heavy_imports")
        lines.append(
            f"N = {int(size):,}: CLI search imports scipy/sklearn: {heavy or 'no'}; "
            "load average (1 min): "
            + ", ".join(f"{stage} {value:.2f}" for stage, value in result["loadavg_1min"].items())
        )
        accuracy = result.get("history_accuracy")
        if accuracy:
            lines.append(
                f"N = {int(size):,}: change-class accuracy (goal >= 0.95 each): "
                + ", ".join(f"{kind} {value:.3f}" for kind, value in accuracy.items())
            )
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
        elif kind == "incremental":
            answer = child_incremental(Path(paths[0]), Path(paths[1]))
        elif kind == "cli":
            answer = child_cli(Path(paths[0]))
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
    print()
    print(goals_markdown(results))
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
