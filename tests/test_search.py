"""Search (``Index.search``) on the index of the sample and the sheets of
tests/search_corpus.py (the session fixture ``search_index``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import evalsearch
from evalsearch.errors import QuerySyntaxError
from evalsearch.handle import Index
from evalsearch.query import Clause, parse_query
from tests.factories import build_test_index, make_record


def ids(search_index: Index, query: str, **options) -> list[str]:
    return [hit.id for hit in search_index.search(query, limit=50, **options).hits]


# --- matching ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["取り組み", "取組み", "取組む", "取り組む"])
def test_every_spelling_of_torikumi_finds_noun_and_verb_sheets(
    search_index: Index, query: str
) -> None:
    found = ids(search_index, query)
    assert "2023-30005" in found  # only 取組む (verb)
    assert "2023-30006" in found  # only 取組み (noun)
    assert "2023-12276" in found  # 取組み and 取り組む


@pytest.mark.parametrize("query", ["実習生", "技能実習生"])
def test_a_compound_finds_itself_and_a_part_finds_the_compound(
    search_index: Index, query: str
) -> None:
    found = ids(search_index, query)
    assert {"2023-12770", "2023-30001"} <= set(found)


def test_a_word_with_the_exact_term_ranks_first(search_index: Index) -> None:
    # 30008 has 実習生 itself; 12770 and 30001 have it only inside 技能実習生.
    assert ids(search_index, "実習生")[0] == "2023-30008"


def test_a_compound_finds_its_parts_written_apart_first(search_index: Index) -> None:
    # 30001 writes 生活相談の窓口: 相談 and 窓口 one position apart (particles are not indexed),
    # as a sheet writes 経費の削減 for 経費削減. 30008 has 窓口 alone.
    found = ids(search_index, "相談窓口")
    assert found[0] == "2023-30001"
    assert "2023-30008" in found


def test_a_word_scores_its_best_alternative_not_their_sum() -> None:
    from whoosh import query as wq

    from evalsearch.analysis import QueryWord
    from evalsearch.engine import EVERY_TERM, BestOf, _word_query

    word = _word_query("text", QueryWord("実習生", ("実習", "生")), {}, EVERY_TERM)
    assert isinstance(word, BestOf)
    # The word, the sub-compound inside a longer compound (a part match, weighted below);
    # no phrase of the parts, 生 being one character.
    assert [type(q) for q in word.subqueries] == [wq.Term, wq.Term]
    assert word.subqueries[1].boost < 1.0
    apart = _word_query("text", QueryWord("経費削減", ("経費", "削減")), {}, EVERY_TERM)
    assert isinstance(apart, BestOf)
    phrases = [q for q in apart.subqueries if isinstance(q, wq.Sequence)]
    assert [[t.text for t in q.subqueries] for q in phrases] == [["経費", "削減"]]


def test_a_quoted_phrase_keeps_light_verbs_and_a_clause_of_them_still_searches() -> None:
    assert [w.term for w in parse_query('"検討している"').required[0][0].words] == [
        "検討",
        "為る",
        "居る",
    ]
    assert [w.term for w in parse_query("検討している").required[0][0].words] == ["検討"]
    assert [w.term for w in parse_query("いる").required[0][0].words] == ["居る"]


def test_parts_in_different_words_do_not_make_the_compound(search_index: Index) -> None:
    # 30008 has 技能と実習生: 技能 and 実習生 are two words, not the compound 技能実習生.
    assert "2023-30008" not in ids(search_index, "技能実習生")
    assert "2023-30008" in ids(search_index, "技能 実習生")


@pytest.mark.parametrize("query", ["ＮＰＯ", "NPO", "npo"])
def test_full_width_and_ascii_spellings_meet(search_index: Index, query: str) -> None:
    assert set(ids(search_index, query)) == {"2023-30003", "2023-30004"}


def test_a_query_finds_sheets_with_half_its_content_words_and_all_of_them_first(
    search_index: Index,
) -> None:
    # README: a sheet matches when it holds at least half (rounded down, at least one) of the
    # query's content words. 外国人・技能実習生・交流: one word is enough; 12770 holds all three
    # and leads, 30001 (外国人技能実習生, no 交流) follows, then the sheets with 交流 only.
    found = ids(search_index, "外国人技能実習生との交流", synonyms=False)
    assert found[:2] == ["2023-12770", "2023-30001"]
    assert set(found) == {"2023-12770", "2023-30001", "2023-30011", "2023-30012", "2023-12276"}
    # 外国人・技能実習生・観光・案内・所: two words needed; no sheet has all five.
    assert set(ids(search_index, "外国人技能実習生と観光案内所", synonyms=False)) == {
        "2023-12770",  # 外国人, 技能実習生
        "2023-30001",  # 外国人, 技能実習生
        "2023-30002",  # 観光, 案内, 所
    }


def test_field_prefix_finds_only_sheets_whose_passage_speaks_of_it(search_index: Index) -> None:
    assert "2023-30002" in ids(search_index, "統合")  # 統合 in its ウ passage
    assert set(ids(search_index, "オ:統合")) == {"2023-12276", "2023-12770"}
    assert ids(search_index, "統合", field="オ") == ids(search_index, "オ:統合")
    assert set(ids(search_index, "ウ:統合")) == {"2023-30002", "2023-12276"}


def test_or(search_index: Index) -> None:
    # 防災訓練 is two words (防災, 訓練): one is half of them, so 30008 (職業訓練) is found too,
    # below 30005, which holds both.
    found = ids(search_index, "ＮＰＯ OR 防災訓練", synonyms=False)
    assert set(found) == {"2023-30003", "2023-30004", "2023-30005", "2023-30008"}
    assert found[0] == "2023-30005"


def test_not_and_quoted_phrases(search_index: Index) -> None:
    assert ids(search_index, "ＮＰＯ NOT ＰＲ") == ["2023-30004"]
    assert ids(search_index, "ＮＰＯ -ＰＲ") == ["2023-30004"]
    assert ids(search_index, '"地域住民との交流" 実習生') == ["2023-12770"]
    assert "2023-30011" not in ids(search_index, '"地域住民との交流"')
    assert ids(search_index, '"交流 地域住民"') == []  # wrong order
    assert ids(search_index, "「技能実習生の受入れを支援」") == ["2023-30001"]


def test_adjacent_words_rank_higher(search_index: Index) -> None:
    # Same words, same length; only 30012 has them in the query's order (地域住民との交流).
    result = search_index.search("地域住民交流")
    found = [hit.id for hit in result.hits]
    assert found.index("2023-30012") < found.index("2023-30011")
    scores = {hit.id: hit.score for hit in result.hits}
    assert scores["2023-30012"] > scores["2023-30011"]


# --- filters ----------------------------------------------------------------------------


def _records(search_index: Index) -> dict[str, object]:
    return {record.id: record for record in search_index.records()}


@pytest.mark.parametrize(
    ("options", "keep"),
    [
        ({"year": 2022}, lambda r: r.fiscal_year == 2022),
        ({"department": "商工労働観光課"}, lambda r: r.department == "商工労働観光課"),
        (
            {"decision": "見直しのうえで継続"},
            lambda r: r.direction.decision == "見直しのうえで継続",
        ),
        ({"measure": "統合・振替"}, lambda r: "統合・振替" in r.direction.measures),
        ({"answers": {"オ": "ない"}}, lambda r: r.assessments["オ"].answer == "ない"),
        (
            {"answers": {"ウ": "ある", "オ": "ない"}},
            lambda r: r.assessments["ウ"].answer == "ある" and r.assessments["オ"].answer == "ない",
        ),
        ({"year": 2023, "decision": "休止"}, lambda r: r.direction.decision == "休止"),
    ],
)
def test_every_filter_narrows_to_exactly_the_matching_sheets(
    search_index: Index, options: dict, keep
) -> None:
    everything = set(ids(search_index, "事業"))
    records = _records(search_index)
    expected = {rid for rid in everything if keep(records[rid])}
    assert expected, "the corpus must hold a sheet for this filter"
    result = search_index.search("事業", limit=50, **options)
    assert {hit.id for hit in result.hits} == expected
    assert result.total == len(expected)
    assert sum(result.facets["department"].values()) == len(expected)


# --- results ----------------------------------------------------------------------------


def test_hit_json_form(search_index: Index) -> None:
    result = search_index.search("オ:統合", limit=1)
    data = result.to_dict()
    assert data["query"] == "オ:統合"
    assert data["total"] == 2
    assert len(data["hits"]) == 1
    hit = data["hits"][0]
    assert hit["municipality"] == "根室市"
    assert set(hit) == {
        "id",
        "municipality",
        "project_no",
        "project_name",
        "department",
        "score",
        "fields",
        "snippets",
    }
    assert hit["fields"] == ["オ"]
    assert [snippet["field"] for snippet in hit["snippets"]] == ["オ"]
    snippet = hit["snippets"][0]
    assert all(snippet["text"][s:e] == "統合" for s, e in snippet["highlights"])


def test_snippets_are_the_matching_sentence_with_the_terms_highlighted(
    search_index: Index,
) -> None:
    hit = next(hit for hit in search_index.search("実習生").hits if hit.id == "2023-12770")
    first = hit.snippets[0]
    assert first.field == "ア"
    assert first.text == (
        "令和５年度は外国人技能実習生と地域住民との交流イベントを開催し、"
        "約70名の参加があり、親善交流の機会を通じた相互理解を深めた。"
    )
    assert [first.text[s:e] for s, e in first.highlights] == ["実習生"]


def test_a_snippet_stops_at_the_sentence_end(search_index: Index) -> None:
    hit = next(h for h in search_index.search("イ:行政主導").hits)
    (snippet,) = hit.snippets
    assert snippet.text.endswith("留意する。")
    assert "今後においては" not in snippet.text


def test_facets_count_every_hit_not_only_the_shown_ones(search_index: Index) -> None:
    result = search_index.search("事業", limit=1)
    assert len(result.hits) == 1
    assert sum(result.facets["department"].values()) == result.total
    assert sum(result.facets["decision"].values()) == result.total
    assert result.facets["department"]["市民協働課"] == 4


def test_a_fresh_handle_of_the_directory_answers_the_same(search_index: Index) -> None:
    with evalsearch.open(search_index.path) as fresh:
        assert fresh.search("ＮＰＯ").total == 2
        assert fresh.search("ＮＰＯ").to_dict() == search_index.search("ＮＰＯ").to_dict()


# --- query language ---------------------------------------------------------------------


def test_parse_query_structure() -> None:
    parsed = parse_query('オ:統合 "技能実習生" 交流 OR 輸出 NOT 廃止')
    assert [[c.field for c in group] for group in parsed.required] == [["オ"], [None], [None, None]]
    assert parsed.required[1][0].phrase is True
    assert parsed.excluded == (Clause(parsed.excluded[0].words, None, False),)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "検索語を指定してください"),
        ("の", "検索できる語がありません"),
        ("統合 OR", "OR の後に検索語"),
        ("OR 統合", "OR の前後に検索語"),
        ('"統合', '引用符 " が閉じていません'),
        ("NOT", "NOT の後に除外する語"),
        ("統合 OR NOT 廃止", "NOT の語は OR でつなげません"),
    ],
)
def test_bad_queries_say_what_to_fix(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(query)


def test_unknown_field_and_answer_label_are_errors(search_index: Index) -> None:
    with pytest.raises(QuerySyntaxError, match="--field キ はありません"):
        search_index.search("統合", field="キ")
    with pytest.raises(QuerySyntaxError, match="--answer キ=… の項目がありません"):
        search_index.search("統合", answers={"キ": "ある"})


def test_total_and_facets_count_every_match_even_with_a_small_limit(search_index: Index) -> None:
    # Whoosh prunes matches that cannot reach the top hits; the count must not.
    everything = search_index.search("ＮＰＯ OR 防災訓練 OR 統合", limit=50)
    first = search_index.search("ＮＰＯ OR 防災訓練 OR 統合", limit=1)
    assert first.total == everything.total == len(everything.hits)
    assert first.facets == everything.facets


# --- snippets without an index ----------------------------------------------------------


def test_a_long_sentence_is_cut_around_its_first_match() -> None:
    from evalsearch.analysis import analyze_query
    from evalsearch.search import SNIPPET_CHARS, make_snippet

    text = (
        "前置き。"
        + "市内の事業所を訪問し、" * 20
        + "外国人技能実習生の生活相談を行う。"
        + "後書き。"
    )
    snippet = make_snippet("活動", text, analyze_query("実習生"))
    assert snippet is not None
    assert snippet.text.startswith("…市内の事業所を訪問し、")
    assert snippet.text.endswith("外国人技能実習生の生活相談を行う。")
    assert len(snippet.text) <= SNIPPET_CHARS + 2
    assert [snippet.text[s:e] for s, e in snippet.highlights] == ["実習生"]
    assert "前置き" not in snippet.text
    early = make_snippet(
        "活動", "技能実習生の" + "生活相談、" * 40 + "を行う。", analyze_query("実習生")
    )
    assert early is not None
    assert early.text.startswith("技能実習生の生活相談、") and early.text.endswith("…")
    assert len(early.text) == SNIPPET_CHARS + 1


def test_highlights_cover_a_compound_or_its_parts_in_a_row() -> None:
    from evalsearch.analysis import analyze, analyze_query
    from evalsearch.search import highlight_spans

    text = "技能実習生と実習の生徒、実習生。"
    spans = highlight_spans(analyze(text), analyze_query("実習生"))
    assert [text[s:e] for s, e in spans] == ["実習生", "実習生"]
    assert spans[0] == (2, 5)  # inside 技能実習生
    spans = highlight_spans(analyze(text), analyze_query("技能実習生"))
    assert [text[s:e] for s, e in spans] == ["技能実習生"]


# --- check-item answers and one-kanji words --------------------------------------------------


ANSWER_SHEETS = (
    # 40001 answers カ (受益者負担) ある; 40002 answers ない, but writes 受益者 and 負担 in its
    # reason and answers ある to ウ, エ and オ. Every sheet has the label 受益者負担 in its
    # answer summary.
    make_record(
        "40001",
        "子育て相談事業",
        activities="子育ての相談に応じる。",
        reasons={"カ": "利用者から実費相当の料金を求めることが考えられる。"},
        answers={"エ": "ない", "カ": "ある"},
    ),
    make_record(
        "40002",
        "高齢者福祉事業",
        activities="高齢者の相談に応じる。",
        reasons={"カ": "受益者負担がある他の事業との均衡から、新たな負担は求めない。"},
        answers={"ウ": "ある", "エ": "ある", "オ": "ある"},
    ),
    make_record(
        "40003",
        "市道維持事業",
        activities="冬期の市道の除雪を行う。",
    ),
    make_record(
        "40004",
        "雪まつり事業",
        activities="雪まつりを開催し、雪の像を展示する。",
    ),
    make_record(
        "40005", "広報事業", activities="広報紙を発行する。", answers={"ア": "結びついていない"}
    ),
    *(make_record(f"4010{n}", "広報事業", activities="広報紙を発行する。") for n in range(4)),
)


@pytest.fixture(scope="module")
def answers_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    index_dir = build_test_index(tmp_path_factory.mktemp("answers"), {"a.txt": ANSWER_SHEETS})
    with evalsearch.open(index_dir) as ix:
        yield ix


def test_answer_items_pair_each_label_word_with_what_the_answer_adds() -> None:
    from evalsearch.analysis import analyze
    from evalsearch.engine import answer_items, answer_line_heads, answer_pair_term
    from evalsearch.forms import item_labels

    record = make_record("1", "事業", answers={"カ": "既に負担がある", "オ": "ある"})
    text = record.answer_summary(item_labels(record.form))
    tokens = {term for term, _ in answer_items(text, analyze(text), answer_line_heads(record))}
    assert {"受益者", "負担", "統合"} <= tokens  # the labels' words
    assert answer_pair_term("受益者", "既に") in tokens
    assert answer_pair_term("受益者", "有る") in tokens
    assert answer_pair_term("統合", "有る") in tokens  # オ 他の事業との統合 ある
    # 負担 is the label's own word: 受益者負担 typed alone is not the answer 既に負担がある.
    assert answer_pair_term("受益者", "負担") not in tokens
    # Answer words stay with their own item's label.
    assert answer_pair_term("統合", "既に") not in tokens


def test_a_label_word_and_an_answer_word_find_the_sheets_giving_that_answer_to_that_item(
    answers_index: Index,
) -> None:
    from evalsearch.engine import Ranking

    query = "受益者負担がある"
    assert ids(answers_index, query, synonyms=False)[0] == "2023-40001"
    # Without the answer bonus 40002 comes first: its reason has the very words 受益者負担がある,
    # and it answers ある to three other items.
    plain = Ranking(answer_boost=0.0)
    found = [h.id for h in answers_index.search(query, ranking=plain, synonyms=False).hits]
    assert found[0] == "2023-40002"


def test_a_one_kanji_word_finds_the_two_kanji_words_holding_it_below_itself(
    answers_index: Index,
) -> None:
    # 除雪 is one Sudachi unit: 雪 is no part of it.
    assert ids(answers_index, "雪", synonyms=False) == ["2023-40004", "2023-40003"]
    assert ids(answers_index, "冬", synonyms=False) == ["2023-40003"]
    # ... and its snippet shows the word that matched.
    hit = answers_index.search("雪", synonyms=False).hits[1]
    assert hit.fields == ("活動",)
    snippet = hit.snippets[0]
    assert [snippet.text[a:b] for a, b in snippet.highlights] == ["除雪"]
    # The exclusion is the word itself: the sheet writing 雪 is never returned.
    assert ids(answers_index, "除雪 NOT 雪", synonyms=False) == ["2023-40003"]
    assert ids(answers_index, "冬期 NOT 除雪", synonyms=False) == []


def test_a_negative_answer_is_told_from_the_positive_one(answers_index: Index) -> None:
    # ア 成果への結びつき: 40005 結びついていない, every other sheet 結びついている. The ない
    # is indexed (analysis.NEGATION) and pairs with the label's 成果.
    assert set(ids(answers_index, '"結びついていない"', synonyms=False)) == {"2023-40005"}
    assert ids(answers_index, "成果が上がっていない", synonyms=False)[0] == "2023-40005"
