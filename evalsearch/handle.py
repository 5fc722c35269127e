"""``evalsearch.open(DIR) -> Index``: one object that owns everything in an index directory.

The handle checks the manifest once (version stamp and every file's fingerprint), then opens
what a question needs on first use and keeps it: the record store, the Whoosh engine (its
searcher stays warm across queries), the similarity model and the cross-references. Every
library question about an index is a method here; the CLI opens one handle per command::

    import evalsearch

    with evalsearch.open("index") as ix:
        ix.search("技能実習生")
        ix.similar("12276")
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from evalsearch.errors import QuerySyntaxError
from evalsearch.query import parse_query
from evalsearch.records import PASSAGE_LABELS, SheetRecord
from evalsearch.store import Manifest, RecordStore, corrupt, default_index_dir, read_manifest

if TYPE_CHECKING:
    from evalsearch.candidates import CandidateResult
    from evalsearch.crossref import CrossReferences
    from evalsearch.engine import Engine, Ranking
    from evalsearch.history import ChangesReport, ProjectHistory
    from evalsearch.search import SearchResult
    from evalsearch.similar import SimilarResult, YearScope
    from evalsearch.similarity import SimilarityModel


class Index:
    """An opened index directory (see the module docstring). Close it, or use ``with``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_index_dir()
        self.manifest: Manifest = read_manifest(self.path)
        self.store = RecordStore(self.path)
        self._engine: Engine | None = None
        self._model: SimilarityModel | None = None
        self._crossrefs: CrossReferences | None = None

    # -- the parts, opened on first use ----------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            # Imported here, not at the top: similarity questions need no Whoosh, and a
            # handle for `show` or `similar` should not pay for it.
            from evalsearch.engine import Engine

            self._engine = Engine(self.path)
        return self._engine

    @property
    def model(self) -> SimilarityModel:
        if self._model is None:
            # scipy and numpy load only for the questions that need them (not for search).
            from evalsearch.similarity import SimilarityModel

            self._model = SimilarityModel.load(self.path)
        return self._model

    @property
    def crossrefs(self) -> CrossReferences:
        if self._crossrefs is None:
            from evalsearch.crossref import CROSSREFS_FILE, CrossReferences

            try:
                self._crossrefs = CrossReferences.load(self.path)
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise corrupt(self.path, f"{CROSSREFS_FILE}: {type(error).__name__}") from error
        return self._crossrefs

    # -- questions -------------------------------------------------------------------------

    def records(self) -> list[SheetRecord]:
        """Every indexed record, in indexing order."""
        return self.store.records()

    def records_of(
        self, reference: str, *, year: int | None = None, municipality: str | None = None
    ) -> list[SheetRecord]:
        """Every sheet of the project ``reference`` (12276, 2023-12276, 大船渡市/0086), newest
        year first. Raises ProjectNotFoundError or AmbiguousProjectError."""
        return self.store.find(reference, year=year, municipality=municipality)

    def record(
        self, reference: str, *, year: int | None = None, municipality: str | None = None
    ) -> SheetRecord:
        """The sheet ``reference`` names: of fiscal ``year``, else the newest."""
        return self.records_of(reference, year=year, municipality=municipality)[0]

    def search(
        self,
        query: str,
        *,
        field: str | None = None,
        year: int | None = None,
        municipality: str | None = None,
        department: str | None = None,
        decision: str | None = None,
        measure: str | None = None,
        answers: Mapping[str, str] | None = None,
        include_unresolved: bool = False,
        limit: int = 10,
        ranking: Ranking | None = None,
        synonyms: bool = True,
    ) -> SearchResult:
        """Full-text search (query language: evalsearch.query), best first, with facets.

        Each query word is also searched through its synonyms (evalsearch.synonyms), weighted
        below the word; ``synonyms=False`` switches that off. ``ranking`` overrides the ranking
        settings (for tuning on judged queries)."""
        # Whoosh loads only for the questions that search.
        from evalsearch.engine import DEFAULT_RANKING, Filters
        from evalsearch.search import run_search

        if limit < 0:
            raise QuerySyntaxError("--limit は 0 以上にしてください。")
        fields = None if field is None else self.field_labels(field)
        items = self.answer_labels()
        for label in answers or {}:
            if label not in items:
                raise QuerySyntaxError(
                    f"--answer {label}=… の項目がありません。{'、'.join(items)} のどれかです。"
                )
        facets = self.engine.facet_values()
        if municipality:
            municipality = _one_value("自治体", "--municipality", municipality, facets)
        if department:
            department = _one_value("主管課", "--department", department, facets)
        filters = Filters(
            year=year,
            municipality=municipality,
            department=department,
            decision=decision,
            measure=measure,
            answers=dict(answers or {}),
            include_unresolved=include_unresolved,
        )
        parsed = parse_query(query)
        found = {}
        if synonyms:
            from evalsearch.synonyms import get_table

            table = get_table()
            found = {
                word.term: table.expand(word.term)
                for clause in parsed.positive_clauses()
                if not clause.phrase
                for word in clause.words
            }
        result = run_search(
            self.engine,
            parsed,
            field=fields,
            filters=filters,
            limit=limit,
            ranking=ranking or DEFAULT_RANKING,
            synonyms=found,
        )
        if answers and not include_unresolved:
            # What the answer filter left out, said rather than silently dropped.
            unresolved = self.engine.execute(
                parsed,
                default_label=fields,
                filters=replace(filters, only_unresolved=True),
                limit=1,
            ).total
            if unresolved:
                note = (
                    f"回答がダンプから確定しないシート {unresolved} 件（候補に指定の回答を含む）は"
                    "含めていません。--include-unresolved で加えます。"
                )
                result = replace(result, notes=(*result.notes, note))
        return result

    def passage_labels(self) -> list[str]:
        """The passage labels of this index's sheets, 根室 form order first (``--field``)."""
        return _form_order(self.engine.passage_labels())

    def answer_labels(self) -> list[str]:
        """The check items of this index's sheets (``--answer``)."""
        return _form_order(self.engine.answer_labels())

    def field_labels(self, field: str) -> tuple[str, ...]:
        """The passages ``--field`` names: a passage label of some form (カ, ⑧, 概要 …), or a
        shared concept (受益者負担 → カ of 根室-form sheets and ⑧ of 大船渡's)."""
        labels = set(self.passage_labels())
        if field in labels:
            return (field,)
        found = _concept_labels(field, labels)
        if found:
            return found
        raise QuerySyntaxError(
            f"--field {field} はありません。項目名（{'、'.join(self.passage_labels())}）か、"
            f"共通の分類（{'、'.join(concepts())}）を指定してください。"
        )

    def similar(
        self,
        reference: str,
        *,
        limit: int = 10,
        years: YearScope | None = None,
        year: int | None = None,
        municipality: str | None = None,
        other_municipalities: bool = False,
    ) -> SimilarResult:
        """The sheets most like ``reference``'s (its newest year unless ``year``)."""
        from evalsearch.similar import YearScope, similar_sheets

        record = self.record(reference, year=year, municipality=municipality)
        return similar_sheets(
            self.model,
            self.crossrefs,
            record.key,
            limit=limit,
            years=years or YearScope.OTHER_PROJECTS,
            other_municipalities=other_municipalities,
        )

    def candidates(
        self,
        *,
        year: int | None = None,
        municipality: str | None = None,
        min_score: float | None = None,
        limit: int | None = None,
        details: bool = True,
    ) -> CandidateResult:
        """Pairs worth a 統合・振替 review (evalsearch.candidates), best first."""
        from evalsearch.candidates import DEFAULT_MIN_SCORE, find_candidates

        return find_candidates(
            self.model,
            self.crossrefs,
            year=year,
            municipality=municipality,
            min_score=DEFAULT_MIN_SCORE if min_score is None else min_score,
            limit=limit,
            details=details,
        )

    def history(self, reference: str, *, municipality: str | None = None) -> ProjectHistory:
        """Every fiscal year of the project ``reference`` names, with what changed between
        consecutive evaluations (evalsearch.history)."""
        from evalsearch.history import project_history

        newest = self.record(reference, municipality=municipality)
        return project_history(
            record
            for record in self.records()
            if record.municipality == newest.municipality and record.project_no == newest.project_no
        )

    def changes(self, year: int, *, municipality: str | None = None) -> ChangesReport:
        """Every sheet of ``year`` against its previous evaluation: copied, stale, changed."""
        from evalsearch.history import year_changes

        return year_changes(
            (
                record
                for record in self.records()
                if municipality is None or record.municipality == municipality
            ),
            year,
        )

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<evalsearch.Index {self.path} ({self.manifest.records} sheets)>"


def open_index(path: str | Path | None = None) -> Index:
    """Open the index at ``path`` (default: ``$EVALSEARCH_INDEX`` or ``./index``).

    Raises IndexNotFoundError, IndexVersionError or IndexCorruptError with a message that
    says how to rebuild.
    """
    return Index(path)


def _one_value(title: str, option: str, given: str, facets: Mapping[str, list[str]]) -> str:
    """The indexed value ``given`` names: itself, else the one value it begins (総合政策 →
    総合政策室). None or several is an error naming the choices, never a silent 0件."""
    field = {"自治体": "municipality", "主管課": "department"}[title]
    values = sorted(set(facets.get(field, ())) - {""})
    wanted = unicodedata.normalize("NFKC", given).strip()
    if wanted in values:
        return wanted
    starting = [
        value for value in values if unicodedata.normalize("NFKC", value).startswith(wanted)
    ]
    if len(starting) == 1:
        return starting[0]
    if starting:
        raise QuerySyntaxError(
            f"{option} {given} に当たる{title}が複数あります: {'、'.join(starting[:10])}。"
            "どれか 1 つを指定してください。"
        )
    close = difflib.get_close_matches(wanted, values, n=5, cutoff=0.4)
    hint = f"近い名前: {'、'.join(close)}" if close else f"索引にある{title}は {len(values)} 件です"
    raise QuerySyntaxError(f"{option} {given} に当たる{title}はありません（{hint}）。")


PASSAGE_FIELD_LABELS: Mapping[str, str] = {
    "activities": "活動",
    "intent": "意図",
    "review_content": "見直し",
    "outlook_needs": "動向",
}
"""Where a form profile's passage with a ``field`` is indexed (SheetRecord.passages())."""


def concepts() -> tuple[str, ...]:
    from evalsearch.forms import CONCEPTS

    return CONCEPTS


def _form_order(labels: set[str]) -> list[str]:
    known = [label for label in PASSAGE_LABELS if label in labels]
    return known + sorted(labels - set(known))


def _concept_labels(concept: str, labels: set[str]) -> tuple[str, ...]:
    from evalsearch.forms import list_profiles

    if concept not in concepts():
        return ()
    found: list[str] = []
    for profile in list_profiles():
        for key in profile.keys_for_concept(concept):
            passage = next((p for p in profile.passages if p.key == key), None)
            label = PASSAGE_FIELD_LABELS.get(passage.field or "", key) if passage else key
            if label in labels and label not in found:
                found.append(label)
    return tuple(found)
