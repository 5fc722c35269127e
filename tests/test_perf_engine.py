"""The numpy query executor (engine._Vectorised) answers exactly what Whoosh's matchers answer.

One generated corpus, built with two workers (two segments) and then updated in place (old
segments with deleted documents), is searched both ways with the bench queries, the judged
queries and queries that exercise every node the compiler makes: phrases, OR, NOT, fields,
filters, answers, synonyms, long queries. Totals, facets, hit order and scores must agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import evalsearch
from bench.generate import generate
from evalsearch import engine
from evalsearch.build import build_index
from evalsearch.handle import Index

REPO = Path(__file__).resolve().parent.parent

EXTRA_QUERIES: tuple[dict[str, Any], ...] = (
    {"query": '"技能実習生"'},
    {"query": "実習生"},
    {"query": "交流 -補助"},
    {"query": "-統合 連携"},
    {"query": "観光 NOT イベント"},
    {"query": "統合 OR 集約"},
    {"query": "オ:統合"},
    {"query": "オ:統合 連携"},
    {"query": '"地域 交流"'},
    {"query": "「見守り訪問」"},
    {"query": "委託"},
    {"query": "委託", "synonyms": False},
    {"query": "高齢者 見守り 訪問 緊急"},
    {"query": "取り組み 推進 支援 連携 強化 充実 向上 確保"},
    {"query": "PR 情報発信"},
    {"query": "子ども 子育て", "year": 2024},
    {"query": "統合", "limit": 0},
    {"query": "連携", "limit": 40},
    {"query": "存在しない語句ですよ"},
    {"query": "補助", "field": "事業名"},
    {"query": "受益者負担", "field": "受益者負担"},
    {"query": "取り組み", "answers": {"オ": "ある"}, "include_unresolved": True},
    # The answer bonus (label word + answer word) and one-kanji words inside compounds.
    {"query": "受益者負担がある"},
    {"query": "ある 統合 可能性"},
    {"query": "雪"},
    {"query": "市 冬 NOT 除雪"},
)


def _queries() -> list[dict[str, Any]]:
    specs = [dict(spec) for spec in json.loads((REPO / "bench" / "queries.json").read_text())]
    for name in ("nemuro", "ofunato"):
        judged = json.loads((REPO / "bench" / "judgments" / f"{name}.json").read_text())
        specs.extend({"query": query["query"]} for query in judged["queries"])
    return specs + [dict(spec) for spec in EXTRA_QUERIES]


@pytest.fixture(scope="module")
def generated_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    work = tmp_path_factory.mktemp("perf_engine")
    report = generate(160, 7, work)
    index_dir = work / "index"
    build_index([report.sheet_dir], index_dir, rebuild=True, processes=2)
    # Change two files and index again: their old sheets stay in the old segments, deleted.
    for path in sorted(report.sheet_dir.glob("*.txt"))[:2]:
        path.write_text(path.read_text("utf-8").replace("連携", "協働"), encoding="utf-8")
    build_index([report.sheet_dir], index_dir, processes=2)
    with evalsearch.open(index_dir) as ix:
        yield ix


def _no_fallback(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the query fell back to Whoosh's matchers")


def _answer(ix: Index, spec: dict[str, Any], vectorised: bool) -> tuple[Any, ...]:
    options = {key: value for key, value in spec.items() if key != "query"}
    options.setdefault("limit", 10)
    previous = engine.VECTORISED, engine.Engine._execute_whoosh
    engine.VECTORISED = vectorised
    if vectorised:
        # Every node these queries compile to is the executor's: no silent fallback.
        engine.Engine._execute_whoosh = _no_fallback  # type: ignore[method-assign]
    try:
        result = ix.search(spec["query"], **options)
    finally:
        engine.VECTORISED, engine.Engine._execute_whoosh = previous  # type: ignore[method-assign]
    facets = {name: dict(counts) for name, counts in result.facets.items()}
    return result.total, [(hit.id, hit.score) for hit in result.hits], facets


def test_the_index_has_several_segments_and_deletions(generated_index: Index) -> None:
    reader = generated_index.engine.searcher().reader()
    segments = [sub for sub, _ in generated_index.engine.searcher().leaf_searchers()]
    assert len(segments) >= 2
    assert reader.has_deletions()


@pytest.mark.parametrize("spec", _queries(), ids=lambda spec: json.dumps(spec, ensure_ascii=False))
def test_vectorised_execution_matches_whoosh(generated_index: Index, spec: dict[str, Any]) -> None:
    whoosh_total, whoosh_hits, whoosh_facets = _answer(generated_index, spec, vectorised=False)
    total, hits, facets = _answer(generated_index, spec, vectorised=True)
    assert total == whoosh_total
    assert facets == whoosh_facets
    assert [key for key, _ in hits] == [key for key, _ in whoosh_hits]
    for (_, score), (_, expected) in zip(hits, whoosh_hits, strict=True):
        assert math.isclose(score, expected, rel_tol=1e-9)


def test_a_node_the_executor_does_not_know_runs_through_whoosh(generated_index: Index) -> None:
    from whoosh import query as wq

    executor = generated_index.engine._executor()
    assert executor is not None
    with pytest.raises(engine._Unsupported):
        executor.run(wq.Prefix(engine.COMBINED_FIELD, "統"), None)
