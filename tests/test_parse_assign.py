"""The pure-Python assignment solver against scipy's, including its choice among equal optima."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from evalsearch.parse.assign import max_weight_assignment

# Values an assign_reasons score is built from (position 6/1, cues 1–3), so ties are frequent.
SCORE_VALUES = (0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 12.0)


def _matrix(rng: random.Random, rows: int, columns: int, kind: str) -> list[list[float]]:
    if kind == "scores":
        return [[rng.choice(SCORE_VALUES) for _ in range(columns)] for _ in range(rows)]
    if kind == "binary":
        return [[float(rng.random() < 0.3) for _ in range(columns)] for _ in range(rows)]
    if kind == "constant":
        return [[2.0] * columns for _ in range(rows)]
    if kind == "halves":
        return [[rng.randint(-4, 8) / 2 for _ in range(columns)] for _ in range(rows)]
    return [[rng.uniform(-10, 10) for _ in range(columns)] for _ in range(rows)]


CASES = [
    (seed, rows, columns, kind)
    for seed in range(12)
    for rows, columns in [(1, 6), (3, 6), (5, 6), (6, 6), (7, 6), (8, 6), (10, 6), (12, 6), (4, 2)]
    for kind in ("scores", "binary", "constant", "halves", "uniform")
]


@pytest.mark.parametrize(("seed", "rows", "columns", "kind"), CASES)
def test_same_assignment_as_scipy(seed: int, rows: int, columns: int, kind: str) -> None:
    np = pytest.importorskip("numpy")
    optimize = pytest.importorskip("scipy.optimize")
    matrix = _matrix(random.Random(f"{seed}-{rows}-{columns}-{kind}"), rows, columns, kind)
    expected_rows, expected_columns = optimize.linear_sum_assignment(
        np.array(matrix), maximize=True
    )
    expected = list(zip(expected_rows.tolist(), expected_columns.tolist(), strict=True))
    assert max_weight_assignment(matrix) == expected


def test_empty_matrix() -> None:
    assert max_weight_assignment([]) == []


def test_importing_the_parser_does_not_import_scipy_or_numpy() -> None:
    code = (
        "import sys, evalsearch.parse; "
        "print(sorted(m for m in ('scipy', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
