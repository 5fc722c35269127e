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


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_japanese_help_and_is_in_the_readme(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    summary = result.stdout.split("\n\n")[1]
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", summary), summary
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
