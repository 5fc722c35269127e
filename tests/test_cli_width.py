"""Issue #11: a fully Japanese CLI that fits 80 columns.

Help and usage errors of every command in Japanese (none of click's English), every help line
within 80 display columns, and the terminal output (search snippets, candidate reasons, the
parse table) readable at 80 columns: rendered with rich at width 80, and through the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from evalsearch.cli import app
from evalsearch.display import candidates_view, records_table, search_table, similar_view
from evalsearch.handle import Index
from evalsearch.parse import parse_paths
from tests.conftest import SAMPLE_DUMP

runner = CliRunner()

ENGLISH = (
    "Usage",
    "Options",
    "Arguments",
    "Commands",
    "Error:",
    "Got unexpected",
    "Input should be",
    "No such",
    "Possible options",
    "Invalid value",
    "Missing",
    "Show this message",
    "Try ",
    "[default",
    "[required]",
    "is not",
    "Traceback",
)


def _walk(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _walk(command, (*path, name))


COMMANDS = dict(_walk(typer.main.get_command(app)))
"""Every command and subcommand, by its words on the command line."""


def invoke(*args: str):
    return runner.invoke(app, list(args), prog_name="evalsearch")


def _no_english(text: str) -> None:
    for word in ENGLISH:
        assert word not in text, f"{word!r} in:\n{text}"


# --- help -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda path: " ".join(path) or "evalsearch")
def test_help_is_japanese_and_within_80_columns(path: tuple[str, ...]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    _no_english(result.output)
    assert result.output.startswith("使い方: evalsearch")
    assert re.search(r"^オプション:$", result.output, re.M)
    wide = [line for line in result.output.splitlines() if cell_len(line) > 80]
    assert not wide, "\n".join(wide)


def test_no_arguments_shows_the_japanese_help() -> None:
    result = invoke()
    _no_english(result.output)
    assert "使い方: evalsearch" in result.output
    assert "コマンド:" in result.output


# --- usage errors ---------------------------------------------------------------------------


def _base(path: tuple[str, ...], command: Any, *, without: str = "") -> list[str]:
    """The command with made-up values for what it requires (usage errors come first)."""
    args = list(path)
    for param in command.params:
        if not param.required or param.name == without:
            continue
        if param.param_type_name == "argument":
            args.append("12276")
        elif param.name == "year":
            args += [param.opts[0], "2023"]
        else:
            args += [param.opts[0], "r.md"]
    return args


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in param.opts if opt.startswith("-")}


def _bad_inputs() -> Iterator[Any]:
    for path, command in COMMANDS.items():
        if hasattr(command, "commands"):
            yield pytest.param([*path, "nosuchcommand"], id=f"{' '.join(path)}-unknown-subcommand")
            continue
        options = _options(command)
        name = " ".join(path)
        variadic = any(
            param.param_type_name == "argument" and param.nargs == -1 for param in command.params
        )
        if not variadic:
            yield pytest.param([*_base(path, command), "extra1", "extra2"], id=f"{name}-extra")
        yield pytest.param([*_base(path, command), "--bogus"], id=f"{name}-unknown-option")
        yield pytest.param([*_base(path, command), "--formt=json"], id=f"{name}-misspelt")
        if "--year" in options:
            base = _base(path, command, without="year")
            yield pytest.param([*base, "--year", "令和五"], id=f"{name}-year-kanji")
            yield pytest.param([*base, "--year", "平成"], id=f"{name}-year-era")
            yield pytest.param([*base, "--year"], id=f"{name}-year-missing-value")
        if "-n" in options:
            yield pytest.param([*_base(path, command), "-n", "0"], id=f"{name}-n-0")
            yield pytest.param([*_base(path, command), "-n", "abc"], id=f"{name}-n-abc")
        if "--format" in options:
            yield pytest.param([*_base(path, command), "--format", "xml"], id=f"{name}-xml")
        if "--min-score" in options:
            yield pytest.param([*_base(path, command), "--min-score", "2"], id=f"{name}-score")
        if any(param.required for param in command.params):
            yield pytest.param(list(path), id=f"{name}-missing")


@pytest.mark.parametrize("args", list(_bad_inputs()))
def test_usage_errors_are_japanese(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    _no_english(result.output)
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("エラー: "), result.output
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", last.removeprefix("エラー: "))
    if len(args) > 1 and args[0] in COMMANDS and args[1] != "nosuchcommand":
        assert f"詳しくは `evalsearch {args[0]}" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "1", "2", "3"], "余分な引数があります（2 3）。"),
        (
            ["search", "x", "--formt", "json"],
            "オプション --formt はありません（近いもの: ",
        ),
        (["search", "x", "--year", "令和五"], "「令和五」は年度として読めません"),
        (["search", "x", "-n", "0"], "1 以上にしてください。"),
        (["candidates", "--format", "xml"], "「xml」は選べません"),
        (["report", "--candidates"], "オプション --out を指定してください。"),
    ],
)
def test_usage_error_messages_say_what_to_fix(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output


# --- terminal output at 80 columns ----------------------------------------------------------


def _render(renderable: Any, *, soft_wrap: bool = False) -> tuple[str, str]:
    """(plain text, text with ANSI styles) of ``renderable`` on an 80-column terminal."""
    console = Console(
        width=80, record=True, force_terminal=True, color_system="standard", soft_wrap=soft_wrap
    )
    console.print(renderable)
    return console.export_text(clear=False), console.export_text(styles=True)


def _within_80(text: str) -> None:
    wide = [line for line in text.splitlines() if cell_len(line) > 80]
    assert not wide, "\n".join(wide)


@pytest.mark.parametrize("soft_wrap", [False, True], ids=["console", "cli-console"])
def test_search_snippets_wrap_under_their_hit_with_the_words_highlighted(
    sample_index: Index, soft_wrap: bool
) -> None:
    result = sample_index.search("外国人技能実習生との交流")
    plain, styled = _render(search_table(result), soft_wrap=soft_wrap)
    _within_80(plain)
    lines = plain.splitlines()
    snippet = next(s for hit in result.hits for s in hit.snippets if len(s.text) > 40)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"   【{snippet.field}】"))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("   ") or line.startswith("   【"):
            break
        block.append(line)
    assert len(block) > 1  # wrapped, every line indented under the hit
    joined = "".join(line[3:] for line in block)
    assert joined == f"【{snippet.field}】{snippet.text}"
    assert "\x1b[1m交流\x1b[0m" in styled  # the matched words in bold


def test_candidate_reasons_are_lines_under_each_pair(sample_index: Index) -> None:
    result = sample_index.candidates()
    plain, _ = _render(candidates_view(result, total=result.total))
    _within_80(plain)
    lines = plain.splitlines()
    pair = result.pairs[0]
    heading = next(i for i, line in enumerate(lines) if line.startswith("1. "))
    reasons = [line for line in lines[heading + 1 :] if line.startswith("   ・")]
    assert len(reasons) == len(pair.reasons)
    # A reason longer than a line continues under its bullet, not at the left margin.
    for i, line in enumerate(lines[heading + 2 :], heading + 2):
        assert line.startswith("   ") or not line, line
        if not line.startswith("   ・") and line:
            assert line.startswith("     ") and lines[i - 1].startswith("   "), line
    body = re.sub(r"\n {3,5}", "", "\n".join(lines[heading + 1 :]))
    for reason in pair.reasons:
        assert reason.text in body


def test_similar_evidence_is_lines_under_each_neighbour(sample_index: Index) -> None:
    plain, _ = _render(similar_view(sample_index.similar("12276")))
    _within_80(plain)
    assert re.search(r"^   要確認（食い違いの疑い）: ", plain, re.M)


def test_parse_table_headers_are_not_broken() -> None:
    plain, _ = _render(records_table(list(parse_paths([SAMPLE_DUMP]))))
    _within_80(plain)
    header = next(line for line in plain.splitlines() if "ID" in line)
    assert re.fullmatch(
        r"┃ ID +┃ 事業名 +┃ 主管課 +┃ 総事業費 +┃ 方向性 +┃ オ +┃ 警告 ┃", header.strip()
    ), header
    assert "総事業費は千円" in plain  # the unit, in the title
    assert "未確定" in plain  # 12276's オ: not a bare "?"


@pytest.mark.parametrize(
    "args",
    [
        ["search", "外国人技能実習生との交流"],
        ["candidates"],
        ["similar", "12276"],
        ["show", "12276"],
    ],
)
def test_cli_output_fits_80_columns(
    sample_index: Index, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = invoke(*args, "--index", str(sample_index.path))
    assert result.exit_code == 0, result.output
    if args[0] == "show":  # passages are plain paragraphs: only the framed parts are checked
        lines = [line for line in result.stdout.splitlines() if line[:1] in "┏┃┡│└ "]
        _within_80("\n".join(lines))
    else:
        _within_80(result.stdout)
