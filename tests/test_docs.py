"""The docs are part of the product: every command has Japanese help and README examples run."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalsearch.cli import app

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text("utf-8")
runner = CliRunner()


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def _readme_examples() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.startswith("evalsearch ")
    ]


def test_readme_quick_start_is_make_demo_and_make_test() -> None:
    quick_start = README.split("## クイックスタート", 1)[1].split("##", 1)[0]
    assert "make demo" in quick_start and "make test" in quick_start


JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _help_entries(text: str) -> list[str]:
    """The help's argument and option entries, each with its wrapped lines joined."""
    entries: list[str] = []
    for line in text.splitlines():
        if re.match(r"^  \S", line):
            entries.append(line.strip())
        elif re.match(r"^   +\S", line) and entries:
            entries[-1] += line.strip()
        elif not line.startswith(" "):
            entries.append("")  # a section heading ends the entry before it
    return [entry for entry in entries if entry]


@pytest.mark.parametrize("command", _commands())
def test_help_is_japanese(command: str) -> None:
    import typer.main

    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    paragraphs = result.stdout.split("\n\n")
    # The summary is the command's Japanese docstring (wrapped to the terminal) ...
    callback = typer.main.get_command(app).commands[command].callback  # type: ignore[attr-defined]
    docstring = (callback.__doc__ or "").strip().split("\n\n")[0]
    assert re.sub(r"\s+", "", paragraphs[1]) == re.sub(r"\s+", "", docstring)
    assert JAPANESE.search(docstring), docstring
    # ... every argument and option (but the framework's --help) says what it does in
    # Japanese ...
    entries = [
        entry
        for entry in _help_entries("\n\n".join(paragraphs[2:]))
        if not entry.startswith("--help")
    ]
    assert entries, result.stdout
    for entry in entries:
        assert JAPANESE.search(entry.split(">", 1)[-1]), entry
    # ... every command but parse and forms works on an index and says where it is ...
    if command not in ("parse", "forms"):
        assert re.search(r"--index <[^>]+>", result.stdout), result.stdout
        squeezed = re.sub(r"\s+", "", result.stdout)
        assert "索引ディレクトリ（既定:環境変数EVALSEARCH_INDEX" in squeezed
    # ... and the README lists it.
    assert f"`{command}" in README


def test_every_command_appears_in_a_readme_example() -> None:
    used = {example.split()[1] for example in _readme_examples()}
    assert set(_commands()) <= used


def _empty_result(example: str, args: list[str], stdout: str, cwd: Path) -> str:
    """Why the example's output is an empty answer ("" when it found something)."""
    command = args[0]
    out = cwd / args[args.index("--out") + 1] if "--out" in args else None
    if out is not None:
        text = out.read_text("utf-8-sig") if out.exists() else ""
        if not text or "条件に合う組み合わせはありません" in text:
            return f"{out} is empty"
        if "--changes" in args and not re.search(r"<td>\d{4}-\d+</td>", text):
            return f"{out} lists no sheet"
        return ""
    if "--format" in args and args[args.index("--format") + 1] == "json":
        data = json.loads(stdout)
        found = data if isinstance(data, list) else data.get("hits", data.get("pairs"))
        return "" if found else "empty JSON answer"
    checks = {
        "search": (r"」: [1-9]\d*件", "該当するシートはありません"),
        "parse": (r"評価シート [1-9]\d*件", None),
        "index": (r"合計[1-9]\d*件", None),
        "similar": (r"^1\. ", "共通する語をもつシートはありません"),
        "changes": (r"年度: [1-9]\d*件", "この年度のシートはありません"),
        "candidates": (r"^1\. ", "条件に合う組み合わせはありません"),
    }
    found, empty = checks.get(command, (None, None))
    if found and not re.search(found, stdout, re.M):
        return f"no {found!r} in the output"
    if empty and empty in stdout:
        return empty
    return ""


def test_readme_examples_run_and_find_something(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "corpus").symlink_to(REPO / "corpus")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALSEARCH_INDEX", str(tmp_path / "index"))
    examples = _readme_examples()
    assert examples[1].startswith("evalsearch index"), "index must be built before the queries"
    empty = []
    for example in examples:
        args = shlex.split(example)[1:]
        result = runner.invoke(app, args, prog_name="evalsearch")
        assert result.exit_code == 0, f"{example}\n{result.output}"
        assert result.stdout.strip(), example
        why = _empty_result(example, args, result.stdout, tmp_path)
        if why:
            empty.append(f"{example}: {why}")
    assert not empty, "README の例が何も見つけません:\n" + "\n".join(empty)


def test_readme_says_how_to_call_the_cli() -> None:
    assert ".venv/bin/evalsearch" in README
    assert "source .venv/bin/activate" in README
