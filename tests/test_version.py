"""One version number: the package metadata, ``evalsearch.__version__`` and the changelog."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import evalsearch

REPO = Path(__file__).resolve().parent.parent


def test_installed_metadata_reports_the_module_version() -> None:
    assert version("evalsearch") == evalsearch.__version__


def test_changelog_starts_with_the_module_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text("utf-8")
    first = re.search(r"^## (\S+) ", changelog, re.MULTILINE)
    assert first is not None
    assert first.group(1) == evalsearch.__version__
