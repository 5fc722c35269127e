"""CSV: one schema per result type, shared by ``--format csv`` and ``report x.csv``.

Every cell goes through ``cell``: a text starting with ``=``, ``+``, ``-``, ``@`` (or a tab or
carriage return) is what Excel runs as a formula, so it is written behind an apostrophe, the
escape Excel itself shows as plain text. ``bom`` prepends the byte-order mark Japanese Excel
needs to read UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from evalsearch.wording import decision_text, reference_sentence, thousand_yen

if TYPE_CHECKING:
    from evalsearch.candidates import CandidatePair
    from evalsearch.crossref import SheetInfo
    from evalsearch.history import ChangesReport
    from evalsearch.search import SearchResult

BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One cell's text, defused against formula injection."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return (BOM if bom else "") + buffer.getvalue()


SEARCH_COLUMNS: tuple[str, ...] = (
    "順位",
    "自治体",
    "ID",
    "事業番号",
    "事業名",
    "主管課",
    "年度",
    "今後の方向性",
    "スコア",
    "該当項目",
    "抜粋",
)


def search_csv(result: SearchResult, *, bom: bool = False) -> str:
    return write_csv(
        SEARCH_COLUMNS,
        (
            [
                rank,
                hit.municipality,
                hit.id,
                hit.project_no,
                hit.project_name,
                hit.department,
                hit.fiscal_year,
                hit.decision,
                f"{hit.score:.4f}",
                " ".join(hit.fields),
                " ".join(f"【{snippet.field}】{snippet.text}" for snippet in hit.snippets),
            ]
            for rank, hit in enumerate(result.hits, 1)
        ),
        bom=bom,
    )


def _sheet_columns(side: str) -> tuple[str, ...]:
    return tuple(
        f"{side}_{name}"
        for name in ("ID", "事業番号", "事業名", "主管課", "総事業費", "方向性", "統合の回答")
    )


PAIR_COLUMNS: tuple[str, ...] = (
    "順位",
    "スコア",
    "類似度",
    *_sheet_columns("A"),
    *_sheet_columns("B"),
    "共通語",
    "対応する記述",
    "名称の言及",
    "食い違いの疑い",
    "理由",
    "まとまり",
)
"""Candidate pairs, and a project's neighbours in ``report --project P x.csv``."""


def _sheet_cells(sheet: SheetInfo) -> list[object]:
    return [
        sheet.id,
        sheet.project_no,
        sheet.project_name,
        sheet.department,
        thousand_yen(sheet.total_cost),
        decision_text(sheet.decision, sheet.measures),
        sheet.integration_label,
    ]


def pairs_csv(
    pairs: Sequence[CandidatePair],
    clusters: Sequence[Sequence[str]] = (),
    *,
    bom: bool = False,
) -> str:
    """``clusters`` are groups of record keys (numbered from 1 in the last column)."""
    cluster_of: Mapping[str, int] = {
        key: number for number, cluster in enumerate(clusters, 1) for key in cluster
    }
    rows = []
    for rank, pair in enumerate(pairs, 1):
        sheets = {pair.a.key: pair.a, pair.b.key: pair.b}
        rows.append(
            [
                rank,
                f"{pair.score:.4f}",
                f"{pair.similarity:.4f}",
                *_sheet_cells(pair.a),
                *_sheet_cells(pair.b),
                "、".join(term.term for term in pair.shared_terms),
                "／".join(
                    f"{p.passage}↔{p.other_passage}（{p.score:.2f}）" for p in pair.passage_pairs
                ),
                "／".join(
                    reference_sentence(ref, sheets[ref.source], sheets[ref.target])
                    for ref in pair.cross_references
                ),
                "／".join(pair.contradictions),
                "／".join(reason.text for reason in pair.reasons),
                cluster_of.get(pair.a.key, ""),
            ]
        )
    return write_csv(PAIR_COLUMNS, rows, bom=bom)


def changes_csv(report: ChangesReport, *, bom: bool = False) -> str:
    """One row per sheet of the year (``evalsearch.history.CSV_HEADER``)."""
    header, *rows = report.to_csv_rows()
    return write_csv(header, rows, bom=bom)
