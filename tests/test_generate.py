"""The benchmark generator (bench/generate.py): form fidelity, determinism, truth, round trip."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from bench.generate import (
    SYNTHETIC_MARKER,
    GeneratedFile,
    generate,
    iter_files,
    make_plan,
)
from bench.layout import NO_LINE_START, ORDERED, SCRAMBLED, char_width, render, wrap
from bench.phrases import OPTIONS, STAFF_COST_PER_FTE
from bench.roundtrip import compare_records
from evalsearch.parse import parse_text
from evalsearch.records import ITEM_LABELS, SheetRecord

SMALL_N = 150
SEED = 3


@pytest.fixture(scope="module")
def files() -> list[GeneratedFile]:
    return list(iter_files(make_plan(SMALL_N, SEED)))


@pytest.fixture(scope="module")
def sheets(files: list[GeneratedFile]) -> list:
    return [sheet for file in files for sheet in file.sheets]


def _boxes(text: str) -> list[str]:
    """The dump split at blank lines, whitespace removed inside each box."""
    return [re.sub(r"\s+", "", box) for box in text.split("\n\n")]


def test_layouts_reproduce_the_sample_box_for_box(
    sample_dump: Path, sample_expected_records: list[SheetRecord]
) -> None:
    first, second = sample_expected_records
    first = dataclasses.replace(first, page="5-11")
    text = render(first, SCRAMBLED, first_in_file=True, width=88) + render(
        second, ORDERED, first_in_file=False, width=88
    )
    assert _boxes(text) == _boxes(sample_dump.read_text("utf-8"))


def test_generation_is_deterministic(files: list[GeneratedFile]) -> None:
    again = list(iter_files(make_plan(SMALL_N, SEED)))
    assert [f.text() for f in again] == [f.text() for f in files]
    other = list(iter_files(make_plan(SMALL_N, SEED + 1)))
    assert [f.text() for f in other] != [f.text() for f in files]


def test_files_hold_several_sheets_of_both_orders(files: list[GeneratedFile], sheets: list) -> None:
    assert all(f.text().startswith(SYNTHETIC_MARKER + "\n ") for f in files)
    assert max(len(f.sheets) for f in files) > 1
    assert {sheet.order for sheet in sheets} == {SCRAMBLED, ORDERED}
    assert sum(len(f.sheets) for f in files) == SMALL_N
    ids = [sheet.record.id for sheet in sheets]
    assert len(set(ids)) == len(ids)


def test_budget_follows_the_form_arithmetic(sheets: list) -> None:
    for sheet in sheets:
        budget = sheet.record.budget
        for column in range(3):
            sources = [
                budget.national_prefectural,
                budget.municipal_bonds,
                budget.other,
                budget.general_revenue,
            ]
            funded = sum((row[column] or 0) for row in sources if row is not None)
            assert budget.project_cost[column] == funded
            fte = budget.staff_fte[column]
            assert budget.staff_cost[column] == round(fte * STAFF_COST_PER_FTE)
            assert (
                budget.total_cost[column] == budget.project_cost[column] + budget.staff_cost[column]
            )


def test_passages_are_varied_and_within_bounds(sheets: list) -> None:
    passages = []
    for sheet in sheets:
        texts = [*sheet.record.passages().values(), sheet.record.intent]
        for text in texts:
            assert not re.search(r"[ #■□{}]", text), text
        for label in ITEM_LABELS:
            assessment = sheet.record.assessments[label]
            assert assessment.answer in OPTIONS[label]
            assert 20 <= len(assessment.reason) <= 250
            passages.append(assessment.reason)
    assert len(set(passages)) > 0.8 * len(passages)  # boilerplate repeats, as in real sheets
    everything = "".join(passages)
    assert "取組み" in everything and "取り組み" in everything


def test_wrap_keeps_every_character_and_the_width() -> None:
    text = "令和5年度は約70名の参加があり、交流の機会を通じた相互理解を深めた。" * 4
    lines = wrap(text, 90)
    assert "".join(lines) == text
    for line in lines:
        assert line[0] not in NO_LINE_START
        assert sum(char_width(c) for c in line) <= 90 + 2  # one hanging punctuation mark
    assert wrap("・一行目\n・二行目") == ["・一行目", "・二行目"]


def test_planted_groups_cross_departments_and_name_the_partner(tmp_path: Path) -> None:
    report = generate(200, SEED, tmp_path, truth=True)
    groups = json.loads(report.labels.read_text("utf-8"))
    records = {
        record["id"]: record
        for record in map(json.loads, (tmp_path / "truth.jsonl").read_text("utf-8").splitlines())
    }
    assert len(list(report.sheet_dir.glob("*.txt"))) == report.files
    assert len(records) == 200 and groups
    for group in groups:
        members = [records[record_id] for record_id in group]
        assert len({m["department"] for m in members}) == len(members)
        assert len({m["fiscal_year"] for m in members}) == 1
        initiator = members[0]
        assert "統合・振替" in initiator["direction"]["measures"]
        reasons = "".join(item["reason"] for item in initiator["assessments"].values())
        assert "「" in reasons


def test_parser_reads_every_generated_sheet(files: list[GeneratedFile]) -> None:
    for file in files:
        records = parse_text(file.text(), file=file.name)
        assert len(records) == len(file.sheets), file.name


def test_parsed_records_round_trip_the_generator_truth(files: list[GeneratedFile]) -> None:
    problems = []
    for file in files:
        for sheet, parsed in zip(file.sheets, parse_text(file.text(), file=file.name), strict=True):
            for problem in compare_records(sheet.record, parsed, order=sheet.order):
                problems.append(
                    f"{file.name} #{sheet.record.source.sheet_index} ({sheet.order}): {problem}"
                )
    assert not problems, "\n".join(problems[:20])
