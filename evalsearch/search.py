"""A parsed query (evalsearch.query) -> hits: run on the engine, matched passages, snippets.

Returns data, never prints. The query language is described in evalsearch.query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from evalsearch.analysis import QueryWord, Term, analyze
from evalsearch.engine import (
    DEFAULT_RANKING,
    TERM_SEPARATOR,
    Engine,
    Filters,
    Ranking,
    is_one_kanji,
)
from evalsearch.query import ParsedQuery

SNIPPET_CHARS = 120
"""Longest snippet; a longer sentence is cut around its first highlighted term."""

MAX_SNIPPETS = 3
"""Snippets shown per hit (the passages with the most matched terms first)."""

_SENTENCE = re.compile(r"[^。！？!?\n]*(?:[。！？!?]+|\n|$)")


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    field: str  # passage label (ア…カ, 見直し, …)
    text: str
    highlights: tuple[tuple[int, int], ...]  # char ranges of matched terms within ``text``

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "text": self.text,
            "highlights": [list(span) for span in self.highlights],
        }


@dataclass(frozen=True)
class Hit:
    key: str
    id: str
    municipality: str
    project_no: str
    project_name: str
    department: str
    fiscal_year: int
    decision: str
    score: float
    fields: tuple[str, ...]  # labels of matched passages, in the sheet's passage order
    snippets: tuple[Snippet, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "municipality": self.municipality,
            "project_no": self.project_no,
            "project_name": self.project_name,
            "department": self.department,
            "score": round(self.score, 4),
            "fields": list(self.fields),
            "snippets": [snippet.to_dict() for snippet in self.snippets],
        }


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    hits: tuple[Hit, ...]
    facets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # facets: {"department": {主管課: 件数}, "decision": {方向性: 件数}} over every hit
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # synonyms: query word -> the synonyms searched with it (shown as 「同義語: …」)
    notes: tuple[str, ...] = ()
    # notes: what the user should know about how the query was run (shown before the hits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "hits": [hit.to_dict() for hit in self.hits],
            "facets": {name: dict(counts) for name, counts in self.facets.items()},
            "synonyms": {word: list(found) for word, found in self.synonyms.items()},
            "notes": list(self.notes),
        }


def run_search(
    engine: Engine,
    parsed: ParsedQuery,
    *,
    field: str | tuple[str, ...] | None = None,
    filters: Filters | None = None,
    limit: int = 10,
    ranking: Ranking = DEFAULT_RANKING,
    synonyms: Mapping[str, Sequence[Synonym]] | None = None,
) -> SearchResult:
    """Run a parsed query on an opened engine; hits carry their matched passages' snippets.

    ``synonyms`` maps a query word's term to its expansions (weighted below the word)."""
    synonyms = synonyms or {}
    expansions = {
        term: [(synonym.terms, synonym.weight) for synonym in found]
        for term, found in synonyms.items()
    }
    outcome = engine.execute(
        parsed,
        default_label=field,
        filters=filters,
        limit=limit,
        ranking=ranking,
        expansions=expansions,
    )
    inside = {
        word.term: tuple(engine.kanji_words(word.term))
        for clause in parsed.positive_clauses()
        for word in clause.words
        if is_one_kanji(word.term)
    }
    hits = tuple(
        _hit(raw.score, raw.stored, parsed, field, synonyms, inside) for raw in outcome.hits
    )
    used = {term: tuple(s.surface for s in found) for term, found in synonyms.items() if found}
    return SearchResult(parsed.text, outcome.total, hits, outcome.facets, used, parsed.notes)


class Synonym(Protocol):
    """What search needs of an expansion (evalsearch.synonyms.Expansion)."""

    @property
    def terms(self) -> tuple[str, ...]: ...
    @property
    def weight(self) -> float: ...
    @property
    def surface(self) -> str: ...


def _with_synonyms(
    words: Sequence[QueryWord],
    synonyms: Mapping[str, Sequence[Synonym]],
    inside: Mapping[str, Sequence[str]] | None = None,
) -> list[QueryWord]:
    """The words, their one-term synonyms and the two-kanji words a one-kanji word matches
    (``inside``: 雪 → 除雪), so snippets highlight what matched."""
    out = list(words)
    for word in words:
        out.extend(
            QueryWord(s.terms[0], ()) for s in synonyms.get(word.term, ()) if len(s.terms) == 1
        )
        out.extend(QueryWord(term, ()) for term in (inside or {}).get(word.term, ()))
    return out


def _hit(
    score: float,
    stored: Mapping[str, Any],
    parsed: ParsedQuery,
    field: str | tuple[str, ...] | None,
    synonyms: Mapping[str, Sequence[Synonym]],
    inside: Mapping[str, Sequence[str]] | None = None,
) -> Hit:
    fields = (field,) if isinstance(field, str) else field

    def searched(clause_field: str | None, label: str) -> bool:
        if clause_field is not None:
            return clause_field == label
        return fields is None or label in fields

    doc = stored.get("doc") or {}
    passages: Mapping[str, str] = doc.get("passages") or {}
    term_sets = {
        label: frozenset(joined.split(TERM_SEPARATOR))
        for label, joined in (doc.get("terms") or {}).items()
    }
    clauses = parsed.positive_clauses()
    matched: dict[str, int] = {}
    for label, terms in term_sets.items():
        count = sum(
            1
            for clause in clauses
            if searched(clause.field, label)
            for word in _with_synonyms(clause.words, synonyms, inside)
            if _word_in(word, terms)
        )
        if count:
            matched[label] = count
    snippet_labels = sorted(matched, key=lambda label: -matched[label])[:MAX_SNIPPETS]
    snippets = []
    for label in passages:
        if label in snippet_labels:
            words = [
                word
                for clause in clauses
                if searched(clause.field, label)
                for word in _with_synonyms(clause.words, synonyms, inside)
            ]
            snippet = make_snippet(label, passages.get(label, ""), words)
            if snippet is not None:
                snippets.append(snippet)
    return Hit(
        key=stored.get("key", ""),
        id=stored.get("id", ""),
        municipality=stored.get("municipality", ""),
        project_no=stored.get("project_no", ""),
        project_name=doc.get("project_name", ""),
        department=stored.get("department", ""),
        fiscal_year=int(stored.get("fiscal_year") or 0),
        decision=stored.get("decision", ""),
        score=float(score),
        fields=tuple(label for label in passages if label in matched),
        snippets=tuple(snippets),
    )


def _word_in(word: QueryWord, terms: frozenset[str]) -> bool:
    return word.term in terms or (bool(word.parts) and all(part in terms for part in word.parts))


# --- snippets ----------------------------------------------------------------------------


def highlight_spans(terms: Sequence[Term], words: Sequence[QueryWord]) -> list[tuple[int, int]]:
    """Char ranges of ``terms`` matching ``words``: the word itself, or its parts in a row
    inside one compound (the same match rule as the index)."""
    wanted = {word.term for word in words}
    chains = [word.parts for word in words if word.parts]
    spans: list[tuple[int, int]] = []
    group: list[Term] = []  # the parts of the current compound

    def match_parts() -> None:
        texts = [part.text for part in group]
        for chain in chains:
            size = len(chain)
            for i in range(len(texts) - size + 1):
                if tuple(texts[i : i + size]) == chain:
                    spans.append((group[i].start, group[i + size - 1].end))

    for term in terms:
        if term.is_part:
            group.append(term)
            continue
        match_parts()
        group = []
        if term.text in wanted:
            spans.append((term.start, term.end))
    match_parts()
    # A compound already highlighted covers its own parts: keep only outermost spans.
    merged: list[tuple[int, int]] = []
    for start, end in sorted(set(spans), key=lambda span: (span[0], -span[1])):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def make_snippet(label: str, text: str, words: Sequence[QueryWord]) -> Snippet | None:
    """The sentence (cut at 。！？ or a line break) with the most matched terms, highlighted."""
    if not text:
        return None
    spans = highlight_spans(analyze(text), words)
    if not spans:
        return None
    best: tuple[int, int, int] | None = None  # (-count, start, end)
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        if start == end:
            continue
        count = sum(1 for s, e in spans if s >= start and e <= end)
        if count and (best is None or -count < best[0]):
            best = (-count, start, end)
    if best is None:
        return None
    _, start, end = best
    # Trim surrounding whitespace of the sentence; cut a long one around its first match.
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    inside = [(s, e) for s, e in spans if s >= start and e <= end]
    prefix = suffix = ""
    if end - start > SNIPPET_CHARS:
        first = inside[0][0]
        window_start = max(start, first - SNIPPET_CHARS // 3)
        # Start after a 読点 close by rather than in the middle of a word.
        comma = text.find("、", window_start, first)
        if window_start > start and 0 <= comma < window_start + 12:
            window_start = comma + 1
        window_end = min(end, window_start + SNIPPET_CHARS)
        prefix = "…" if window_start > start else ""
        suffix = "…" if window_end < end else ""
        start, end = window_start, window_end
        inside = [(s, e) for s, e in inside if s >= start and e <= end]
    shift = start - len(prefix)
    return Snippet(
        label,
        prefix + text[start:end] + suffix,
        tuple((s - shift, e - shift) for s, e in inside),
    )
