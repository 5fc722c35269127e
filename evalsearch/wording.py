"""Sentences that appear in several outputs (terminal, reports, CSV, JSON reasons), each
written once so every output says the same thing the same way. Plain strings, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from evalsearch.crossref import RELATION_LABELS, CrossReference, SheetInfo

MISSING = "—"


def decision_text(
    decision: str | None, measures: Sequence[str] = (), end_fiscal_year: int | None = None
) -> str:
    """見直しのうえで継続（統合・振替・終期 2027年度）: a direction with its measures."""
    details = list(measures)
    if end_fiscal_year is not None:
        details.append(f"終期 {end_fiscal_year}年度")
    text = decision or MISSING
    return text + (f"（{'・'.join(details)}）" if details else "")


def reference_sentence(reference: CrossReference, source: SheetInfo, target: SheetInfo) -> str:
    """12276 の【ウ】が「根室ベトナム交流協会」（12770 根室ベトナム交流協会補助事業）に言及（統合の文脈）"""
    return (
        f"{source.project_no} の【{reference.passage}】が「{reference.name}」"
        f"（{target.project_no} {target.project_name}）に言及"
        f"{RELATION_LABELS[reference.relation]}"
    )


def thousand_yen(value: float | int | None) -> str:
    """1,267 千円 (or — when blank)."""
    if value is None:
        return MISSING
    number = int(value) if float(value).is_integer() else value
    return f"{number:,} 千円"
