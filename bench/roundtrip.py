"""Compare a parsed record with the generator's truth.

Rules (the contract the round-trip test and ``bench/run.py`` check):

* free text is compared after removing all whitespace (the parser re-joins wrapped lines);
* a budget row that is blank in every column equals an absent row (both print nothing);
* in the scrambled block order the ウ/エ/オ checkbox rows are detached from their items, so for
  those the parser may return ``answer=None`` if the true answer is among ``answer_candidates``;
* indicator cells are compared in NFKC form (the parser NFKC-normalises them: ５％ → 5%);
* ``warnings`` are not compared, and ``source.file`` is compared by file name only;
* everything else must be equal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from bench.layout import SCRAMBLED
from evalsearch.records import SheetRecord

DETACHED_ITEMS: frozenset[str] = frozenset({"ウ", "エ", "オ"})
TEXT_FIELDS: frozenset[str] = frozenset(
    {
        "project_name",
        "target",
        "activities",
        "intent",
        "review_content",
        "outlook_needs",
        "reason",
        "name",
        "policy_area",
        "policy_goal",
    }
)
_WHITESPACE = re.compile(r"\s+")


def squash(text: str | None) -> str | None:
    return None if text is None else _WHITESPACE.sub("", text)


def compare_records(truth: SheetRecord, parsed: SheetRecord, *, order: str) -> list[str]:
    """Differences as "path: expected …, got …" lines; empty when the record round-trips."""
    expected = _normalise(truth.to_dict())
    actual = _normalise(parsed.to_dict())
    problems: list[str] = []
    expected_items = expected.pop("assessments")
    actual_items = actual.pop("assessments")
    for label, item in expected_items.items():
        got = actual_items.get(label)
        if got is None:
            problems.append(f"assessments.{label}: missing")
            continue
        if squash(item["reason"]) != squash(got["reason"]):
            problems.append(
                f"assessments.{label}.reason: expected {item['reason']!r}, got {got['reason']!r}"
            )
        answer = got.get("answer")
        if answer == item["answer"]:
            continue
        candidates = got.get("answer_candidates") or []
        if (
            order == SCRAMBLED
            and label in DETACHED_ITEMS
            and answer is None
            and item["answer"] in candidates
        ):
            continue
        problems.append(
            f"assessments.{label}.answer: expected {item['answer']!r}, got {answer!r}"
            f" (candidates {candidates!r})"
        )
    problems.extend(_diff(expected, actual, ""))
    return problems


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data.pop("warnings", None)
    source = dict(data.get("source") or {})
    source["file"] = PurePath(str(source.get("file", ""))).name
    data["source"] = source
    budget = dict(data.get("budget") or {})
    for key, values in list(budget.items()):
        if isinstance(values, list) and key != "columns" and all(v is None for v in values):
            budget[key] = None
    data["budget"] = budget
    data["indicators"] = [_nfkc(item) for item in data.get("indicators") or []]
    return data


def _nfkc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value)
    if isinstance(value, Mapping):
        return {key: _nfkc(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_nfkc(item) for item in value]
    return value


def _diff(expected: Any, actual: Any, path: str) -> list[str]:
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        out: list[str] = []
        for key in sorted(set(expected) | set(actual)):
            out.extend(_diff(expected.get(key), actual.get(key), f"{path}.{key}" if path else key))
        return out
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        if len(expected) != len(actual):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        out = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            out.extend(_diff(left, right, f"{path}[{index}]"))
        return out
    leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
    both_text = isinstance(expected, str) and isinstance(actual, str)
    if leaf in TEXT_FIELDS and both_text and squash(expected) == squash(actual):
        return []
    if expected == actual:
        return []
    return [f"{path}: expected {expected!r}, got {actual!r}"]
