"""Benchmark of the cross-year layer (evalsearch.history) on the generator's planted transitions.

    .venv/bin/python bench/history_bench.py --n 10000

generates N sheets into a temporary directory, parses them back with
``evalsearch.parse.parse_paths`` and prints, as JSON:

``accuracy``
    per planted change class, the share of planted transitions the library classifies as that
    class (recall; target ≥ 0.95 each), with ``confusion`` (planted → predicted counts);
``similarity``
    the distribution of the decision similarity for planted ``edited`` and ``rewritten``
    transitions and the accuracy of either class at candidate thresholds, the measurement
    ``EDITED_MIN_SIMILARITY`` was chosen from;
``history_ms``
    ``project_history`` per project with two or more sheets, warm (median, p95, max);
``changes_s``
    ``year_changes`` over all parsed sheets, per year, with copied and stale counts;
``copied``
    recall and precision of ``copied`` against the sheets whose planted ア–カ transitions are
    all ``same``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evalsearch.history import (
    CHANGE_KINDS,
    EDITED_MIN_SIMILARITY,
    classify,
    group_projects,
    item_texts,
    mask_numbers,
    normalise,
    project_history,
    year_changes,
)
from evalsearch.records import SheetRecord

HISTORY_SAMPLE = 300
"""Projects timed for ``history_ms``."""
THRESHOLDS: tuple[float, ...] = (0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70)


def _transitions(
    labels: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> list[Mapping[str, Any]]:
    if isinstance(labels, Mapping):
        return list(labels.get("transitions") or ())
    return list(labels)


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _similarity(old: str, new: str) -> float:
    a, b = mask_numbers(normalise(old)), mask_numbers(normalise(new))
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def measure_history(
    records: Iterable[SheetRecord],
    labels: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Accuracy per planted class, similarity distributions and timings (see module doc)."""
    records = list(records)
    planted = _transitions(labels)
    extra_keys = {key for record in records for key in record.texts}
    texts = {(record.project_no, record.fiscal_year): item_texts(record) for record in records}

    confusion: dict[str, Counter[str]] = {kind: Counter() for kind in CHANGE_KINDS}
    similarities: dict[str, list[float]] = {"edited": [], "rewritten": []}
    missing = 0
    for label in planted:
        old = texts.get((label["project_no"], label["from"]))
        new = texts.get((label["project_no"], label["to"]))
        if old is None or new is None:
            missing += 1
            continue
        before, after = old.get(label["key"], ""), new.get(label["key"], "")
        truth = label["change"]
        confusion[truth][classify(before, after).change] += 1
        if truth in similarities:
            similarities[truth].append(_similarity(before, after))

    accuracy = {
        kind: (counts[kind] / total if (total := sum(counts.values())) else float("nan"))
        for kind, counts in confusion.items()
    }
    sweep = {
        f"{threshold:.2f}": {
            "edited": _share(similarities["edited"], lambda s, t=threshold: s >= t),
            "rewritten": _share(similarities["rewritten"], lambda s, t=threshold: s < t),
        }
        for threshold in THRESHOLDS
    }

    projects = [group for group in group_projects(records).values() if len(group) > 1]
    sample = projects[:HISTORY_SAMPLE]
    for group in sample:  # warm-up: first calls pay for regex compilation and imports
        project_history(group)
    latencies = []
    for group in sample:
        started = time.perf_counter()
        project_history(group)
        latencies.append((time.perf_counter() - started) * 1000)

    # Truth: every planted ア–カ transition into the sheet is ``same`` (planted copies, and the
    # rare continuation whose six reasons were each drawn ``same``).
    reasoning: dict[tuple[str, int], list[str]] = {}
    for label in planted:
        if label["key"] not in ("見直し", "動向") and label["key"] not in extra_keys:
            reasoning.setdefault((label["project_no"], label["to"]), []).append(label["change"])
    planted_copied = {
        where for where, kinds in reasoning.items() if all(kind == "same" for kind in kinds)
    }
    found_copied: set[tuple[str, int]] = set()
    changes: dict[str, Any] = {}
    for year in sorted({record.fiscal_year for record in records}):
        started = time.perf_counter()
        report = year_changes(records, year)
        seconds = time.perf_counter() - started
        found_copied.update((sheet.project_no, year) for sheet in report.sheets if sheet.copied)
        changes[str(year)] = {
            "seconds": round(seconds, 3),
            "sheets": len(report.sheets),
            "with_previous": sum(sheet.previous_year is not None for sheet in report.sheets),
            "copied": sum(sheet.copied for sheet in report.sheets),
            "stale": sum(bool(sheet.stale) for sheet in report.sheets),
        }

    return {
        "sheets": len(records),
        "planted_transitions": len(planted),
        "unmatched_transitions": missing,
        "accuracy": {kind: round(value, 4) for kind, value in accuracy.items()},
        "counts": {kind: sum(counts.values()) for kind, counts in confusion.items()},
        "confusion": {kind: dict(counts) for kind, counts in confusion.items()},
        "similarity": {
            "threshold": EDITED_MIN_SIMILARITY,
            **{
                kind: {
                    "min": round(min(values), 3) if values else None,
                    "p05": round(_percentile(values, 0.05), 3),
                    "median": round(_percentile(values, 0.5), 3),
                    "p95": round(_percentile(values, 0.95), 3),
                    "max": round(max(values), 3) if values else None,
                }
                for kind, values in similarities.items()
            },
            "sweep": sweep,
        },
        "history_ms": {
            "projects": len(sample),
            "median": round(statistics.median(latencies), 3) if latencies else None,
            "p95": round(_percentile(latencies, 0.95), 3),
            "max": round(max(latencies), 3) if latencies else None,
        },
        "changes_s": changes,
        "changes_max_s": max((entry["seconds"] for entry in changes.values()), default=None),
        "copied": {
            "planted": len(planted_copied),
            "found": len(found_copied),
            "recall": _ratio(len(planted_copied & found_copied), len(planted_copied)),
            "precision": _ratio(len(planted_copied & found_copied), len(found_copied)),
        },
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _share(values: Sequence[float], accept: Any) -> float | None:
    return round(sum(1 for value in values if accept(value)) / len(values), 4) if values else None


def main(argv: Sequence[str] | None = None) -> int:
    from bench.generate import generate
    from evalsearch.parse import parse_paths

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="number of sheets (default 3000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="history_bench_") as directory:
        out = Path(directory)
        started = time.perf_counter()
        report = generate(args.n, args.seed, out)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        records = list(parse_paths([report.sheet_dir]))
        parsed = time.perf_counter() - started
        assert report.transitions is not None
        labels = json.loads(report.transitions.read_text("utf-8"))
    figures = measure_history(records, labels)
    figures["generate_s"] = round(generated, 1)
    figures["parse_s"] = round(parsed, 1)
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
