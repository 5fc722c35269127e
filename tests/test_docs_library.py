"""The README's library example runs as written, against an index built from corpus/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evalsearch.build import build_index

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text("utf-8")


def _python_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_readme_has_a_library_example() -> None:
    examples = _python_examples()
    assert examples and "evalsearch.open(" in examples[0]


def test_the_library_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build_index([REPO / "corpus" / "000_e354498715c974cd.txt"], tmp_path / "index")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(_python_examples()[0], "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    # The example prints each hit of 技能実習生: the sample's 12770 is the one.
    assert "2023-12770 根室ベトナム交流協会補助事業" in printed
