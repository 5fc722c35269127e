"""Helpers of the benchmark harness (bench/run.py); the harness itself runs in `make bench`."""

from __future__ import annotations

import os

from bench.run import REQUIRED_KEYS, TABLE_ROWS, _percentile, _tree_rss_kb, markdown, planted_pairs


def test_planted_pairs_are_every_pair_inside_a_group() -> None:
    pairs = planted_pairs([["a", "b"], ["c", "d", "e"]])
    assert pairs == {frozenset(p) for p in (("a", "b"), ("c", "d"), ("c", "e"), ("d", "e"))}


def test_percentile_picks_from_the_sorted_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert _percentile(values, 0.5) == 51.0
    assert _percentile(values, 0.95) == 95.0
    assert _percentile([3.0], 0.95) == 3.0


def test_process_tree_rss_counts_this_process() -> None:
    assert _tree_rss_kb(os.getpid()) > 1000


def test_markdown_table_has_a_row_per_metric_and_a_column_per_size() -> None:
    result = {key: 1.0 for key in REQUIRED_KEYS} | {"build_stages_s": {"workers_s": 1.0}}
    table = markdown({"1000": result, "10000": result})
    lines = table.splitlines()
    assert lines[0] == "| metric | N = 1,000 | N = 10,000 |"
    assert len([line for line in lines if line.startswith("| ")]) == 1 + len(TABLE_ROWS)
