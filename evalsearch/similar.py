"""``similar``: the sheets whose text is most like one sheet's, with the evidence.

A question asked of an index's similarity model and cross-references; the index handle
(evalsearch.handle) resolves the project reference and calls ``similar_sheets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from evalsearch.crossref import CrossReference, CrossReferences, SheetInfo
from evalsearch.similarity import PassagePair, SharedTerm, SimilarityModel


@dataclass(frozen=True)
class Neighbour:
    """One similar sheet with the evidence for the similarity."""

    sheet: SheetInfo
    score: float
    shared_terms: tuple[SharedTerm, ...]
    passage_pairs: tuple[PassagePair, ...]
    cross_references: tuple[CrossReference, ...]
    contradictions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.sheet.id,
            "project_no": self.sheet.project_no,
            "project_name": self.sheet.project_name,
            "department": self.sheet.department,
            "fiscal_year": self.sheet.fiscal_year,
            "score": round(self.score, 4),
            "shared_terms": [term.to_dict() for term in self.shared_terms],
            "passage_pairs": [pair.to_dict() for pair in self.passage_pairs],
            "cross_references": [ref.to_public_dict() for ref in self.cross_references],
            "contradictions": list(self.contradictions),
        }


class YearScope(StrEnum):
    """Which sheets ``similar`` compares with (the sheet itself is never among them)."""

    OTHER_PROJECTS = "other-projects"
    """Every year, but not the project's own sheets of other years (the default)."""
    SAME_YEAR = "same-year"
    """Only sheets of the same fiscal year."""
    ANY_YEAR = "any-year"
    """Every sheet, the project's other years included: how a project drifted is worth seeing."""

    @property
    def label(self) -> str:
        return {
            YearScope.OTHER_PROJECTS: "全年度（同じ事業の他年度を除く）",
            YearScope.SAME_YEAR: "同じ年度",
            YearScope.ANY_YEAR: "全年度（同じ事業の他年度を含む）",
        }[self]


@dataclass(frozen=True)
class SimilarResult:
    """The answer of ``similar``: the sheet asked about and its neighbours, best first."""

    project: SheetInfo
    similar: tuple[Neighbour, ...]
    years: YearScope = YearScope.OTHER_PROJECTS

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project.to_dict(),
            "similar": [neighbour.to_dict() for neighbour in self.similar],
        }


def similar_sheets(
    model: SimilarityModel,
    crossrefs: CrossReferences,
    key: str,
    *,
    limit: int = 10,
    years: YearScope = YearScope.OTHER_PROJECTS,
    other_municipalities: bool = False,
) -> SimilarResult:
    """The ``limit`` sheets most similar to the sheet ``key``, best first, among ``years``.

    Sheets of the same municipality by default; ``other_municipalities`` compares with the
    other municipalities' sheets only (how do other cities run and justify this project?).
    """
    row = model.row_of(key)
    allowed = np.ones(len(model), dtype=bool)
    if years is YearScope.SAME_YEAR:
        allowed &= model.fiscal_years_ == model.fiscal_years_[row]
    elif years is YearScope.OTHER_PROJECTS:
        allowed &= model.project_codes_ != model.project_codes_[row]
    same_place = model.municipality_codes_ == model.municipality_codes_[row]
    allowed &= ~same_place if other_municipalities else same_place
    neighbours = []
    for other in model.nearest(row, limit=limit, allowed=allowed):
        other_key = model.keys_[other]
        score = model.similarity(row, other)
        neighbours.append(
            Neighbour(
                sheet=crossrefs.sheet(other_key),
                score=score,
                shared_terms=model.shared_terms(row, other),
                passage_pairs=model.passage_pairs(row, other),
                cross_references=crossrefs.between(key, other_key),
                contradictions=crossrefs.contradictions(key, other_key, score),
            )
        )
    return SimilarResult(project=crossrefs.sheet(key), similar=tuple(neighbours), years=years)
