"""What the baselines read of a sheet: all its text, analysed as evalsearch analyses it.

The relevance harness (plain BM25) and the merge-pair harness (TF-IDF cosine) both stand for
what a user would pick instead of evalsearch: one search or similarity over the whole sheet,
with the same Sudachi analysis. Both take the sheet's text from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

EXCLUDED_KEYS = frozenset({"source", "warnings"})
"""Keys of ``SheetRecord.to_dict()`` left out of the baseline's sheet text (provenance)."""


def string_values(value: Any, *, skip: frozenset[str] = EXCLUDED_KEYS) -> Iterable[str]:
    """All string values inside a JSON-like value, depth first; keys in ``skip`` left out."""
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in skip:
                yield from string_values(item, skip=skip)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from string_values(item, skip=skip)


def sudachi_terms(text: str) -> list[str]:
    """Sheet terms: evalsearch's analysis (compound terms and their mode-A parts)."""
    from evalsearch.analysis import analyze

    return [term.text for term in analyze(text)]
