"""evalsearch.analysis: the one Sudachi token stream that Whoosh and TF-IDF share."""

from __future__ import annotations

import threading

import pytest

from evalsearch.analysis import (
    MAX_CHUNK_BYTES,
    NEGATION,
    STOP_POS,
    QueryWord,
    Term,
    analyze,
    analyze_query,
    chunks,
    conflate,
    dictionary_version,
)


def texts(text: str) -> list[str]:
    return [term.text for term in analyze(text)]


def compounds(text: str) -> list[str]:
    return [term.text for term in analyze(text) if not term.is_part]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("取り組み", "取組み"),  # 送り仮名 variants: normalized_form
        ("取り組み", "取組む"),  # noun ↔ verb: the 連用形 conflation rule
        ("取組みを支援する", "取り組む"),
        ("ＮＰＯ", "NPO"),  # full-width ↔ ASCII
        ("npo", "NPO"),
        ("ＰＲ", "PR"),
        ("見直し", "見直す"),  # godan サ行
        ("支払い", "支払う"),  # godan ワア行
        ("受入れ", "受け入れる"),  # ichidan
    ],
)
def test_spelling_variants_meet_on_one_term(left: str, right: str) -> None:
    assert set(compounds(left)) & set(compounds(right)), (compounds(left), compounds(right))


def test_the_sample_sentence_keeps_content_words_and_drops_particles() -> None:
    assert compounds("外国人技能実習生との交流") == ["外国人", "技能実習生", "交流"]


def test_a_compound_is_followed_by_its_mode_a_parts_at_its_own_position() -> None:
    terms = analyze("外国人技能実習生との交流")
    assert [(t.text, t.position, t.is_part) for t in terms] == [
        ("外国人", 0, False),
        ("外国", 0, True),
        ("人", 0, True),
        ("技能実習生", 1, False),
        ("技能", 1, True),
        ("実習", 1, True),
        ("生", 1, True),
        ("交流", 2, False),
    ]


def test_offsets_point_into_the_original_text() -> None:
    text = "　ＮＰＯと連携し、技能実習生の取組みを支援する。"
    assert [(t.text, text[t.start : t.end]) for t in analyze(text)] == [
        ("NPO", "ＮＰＯ"),
        ("連携", "連携"),
        ("為る", "し"),
        ("技能実習生", "技能実習生"),
        ("技能", "技能"),
        ("実習", "実習"),
        ("生", "生"),
        ("取り組む", "取組み"),
        ("支援", "支援"),
        ("為る", "する"),
    ]


@pytest.mark.parametrize("word", ["市", "税", "町"])
def test_one_kanji_content_words_are_kept(word: str) -> None:
    assert word in compounds(f"{word}が負担する。")


def test_punctuation_whitespace_particles_and_auxiliaries_are_dropped() -> None:
    assert STOP_POS == ("助詞", "助動詞", "補助記号", "空白")
    assert compounds("　（交流）、です。の！") == ["交流"]


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("結びついていない", ["結び付く", "居る", "無い"]),
        ("負担は求めない", ["負担", "求める", "無い"]),
        ("実施せず", ["実施", "為る", "無い"]),
        ("影響がない", ["影響", "無い"]),  # the adjective ない: the same term
    ],
)
def test_a_negative_auxiliary_is_kept_as_the_term_of_ない(text: str, terms: list[str]) -> None:
    # 結びついていない is not 結びついている: the answer is in the ない.
    assert compounds(text) == terms
    assert NEGATION == "無い"


def test_a_word_that_does_not_split_has_no_parts() -> None:
    assert [(t.text, t.is_part) for t in analyze("交流")] == [("交流", False)]
    assert analyze_query("交流") == [QueryWord("交流", ())]


def test_verbs_are_not_split_into_parts() -> None:
    # 取り組む -> 取る/組む would make 取る match every 取り組む.
    assert [(t.text, t.is_part) for t in analyze("取組む")] == [("取り組む", False)]


def test_query_words_carry_their_parts() -> None:
    assert analyze_query("外国人技能実習生との交流") == [
        QueryWord("外国人", ("外国", "人")),
        QueryWord("技能実習生", ("技能", "実習", "生")),
        QueryWord("交流", ()),
    ]
    assert analyze_query("実習生") == [QueryWord("実習生", ("実習", "生"))]


def query_terms(text: str, **options: bool) -> list[str]:
    return [word.term for word in analyze_query(text, **options)]


def test_query_words_leave_out_light_verbs_but_not_ある_and_ない() -> None:
    # する (廃止する), いる (〜ている) carry no content: as words they counted towards the
    # minimum to match although every sheet holds them.
    assert query_terms("廃止しても影響がない事業") == ["廃止", "影響", "無い", "事業"]
    assert query_terms("検討している") == ["検討"]
    assert query_terms("見直し余地がある") == ["見直す", "余地", "有る"]
    assert query_terms("成果が上がっていない事業") == ["成果", "上がる", "無い", "事業"]


def test_query_words_leave_out_the_verbs_of_compound_particles() -> None:
    assert query_terms("鹿による農作物被害") == ["鹿", "農作物", "被害"]
    assert query_terms("市民に対する支援") == ["市民", "支援"]
    assert query_terms("高齢者に関する事業") == ["高齢者", "事業"]
    # Only those verbs: 寄る after に is content.
    assert query_terms("店に寄る") == ["店", "寄る"]


def test_light_verbs_are_kept_on_request() -> None:
    # A quoted phrase and a synonym headword: the index holds these positions.
    assert query_terms("廃止しても影響がない", light_verbs=True) == ["廃止", "為る", "影響", "無い"]
    assert query_terms("鹿による被害", light_verbs=True) == ["鹿", "よる", "被害"]


def test_conflation_needs_a_canonical_verb_in_the_dictionary() -> None:
    pos_noun = ("名詞", "普通名詞", "一般", "*", "*", "*")
    assert conflate("取り組み", pos_noun) == "取り組む"
    assert conflate("手続き", pos_noun) == "手続き"  # 手続く is no verb
    assert conflate("交流", pos_noun) == "交流"  # no kana ending
    assert conflate("取り組み", ("名詞", "固有名詞", "一般", "*", "*", "*")) == "取り組み"


@pytest.mark.parametrize("text", ["", "。、　", "\n\n"])
def test_text_without_content_gives_no_terms(text: str) -> None:
    assert analyze(text) == []
    assert analyze_query(text) == []


def test_text_longer_than_sudachi_accepts_is_analysed_to_the_end() -> None:
    sentence = "市の取組みを支援する。"
    text = sentence * 6000  # ~200 KB of UTF-8, over Sudachi's 49 KB limit
    assert len(text.encode("utf-8")) > 4 * MAX_CHUNK_BYTES
    terms = analyze(text)
    assert [t.text for t in terms].count("取り組む") == 6000
    assert terms[-1].end == len(text) - 1  # the last 支援する ends before the final 。
    assert text[terms[-1].start : terms[-1].end] == "する"


def test_one_sentence_longer_than_the_limit_is_hard_split_without_losing_text() -> None:
    text = "交流" * 40000  # 240 KB, no sentence end
    pieces = list(chunks(text))
    assert len(pieces) > 1
    assert "".join(piece for _, piece in pieces) == text
    assert all(len(piece.encode("utf-8")) <= MAX_CHUNK_BYTES for _, piece in pieces)
    assert [offset for offset, _ in pieces] == [
        sum(len(piece) for _, piece in pieces[:i]) for i in range(len(pieces))
    ]
    assert len(analyze(text)) > 0


def test_chunks_cut_at_sentence_ends_first() -> None:
    text = ("あ" * 1000 + "。") * 40
    pieces = [piece for _, piece in chunks(text, max_bytes=10_000)]
    assert "".join(pieces) == text
    assert all(piece.endswith("。") for piece in pieces)


def test_each_thread_gets_its_own_tokenizer() -> None:
    text = "外国人技能実習生との交流を図る。" * 50
    expected = analyze(text)
    results: list[list[Term]] = []

    def work() -> None:
        for _ in range(20):
            results.append(analyze(text))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 80
    assert all(result == expected for result in results)


def test_dictionary_version_names_the_dictionary() -> None:
    assert dictionary_version().startswith("sudachidict-core ")
