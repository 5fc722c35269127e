"""The docs are part of the product: every command has Japanese help and README examples run."""

from __future__ import annotations

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


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "corpus").symlink_to(REPO / "corpus")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALSEARCH_INDEX", str(tmp_path / "index"))
    examples = _readme_examples()
    assert examples[1].startswith("evalsearch index"), "index must be built before the queries"
    for example in examples:
        result = runner.invoke(app, shlex.split(example)[1:])
        assert result.exit_code == 0, f"{example}\n{result.output}"
        assert result.stdout.strip(), example
