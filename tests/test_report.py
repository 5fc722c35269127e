"""Reports: Markdown and CSV content, the SVG picture, and the HTML in a real browser."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import evalsearch
from evalsearch.handle import Index
from evalsearch.network import EDGE_KINDS, Edge, Node, render_svg, spring_layout
from evalsearch.report import (
    build_candidates_report,
    build_project_report,
    highlight,
    output_format,
    render,
    write_report,
)
from tests.factories import build_test_index, make_record

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def sample(reference_index: Index) -> Index:
    """The sample's reference records (their ウ・エ・オ answers are all known)."""
    return reference_index


def test_markdown_report_of_the_sample(sample: Index) -> None:
    text = render(build_candidates_report(sample), "md")
    assert text.startswith("# 統合・振替の候補となる事業の組み合わせ")
    # Summary table row, side-by-side table, call-outs, highlighted shared terms.
    assert re.search(r"^\| 1 \| 12276 輸出促進支援事業", text, re.MULTILINE)
    assert "| 総事業費 | 2,017 千円 | 798 千円 |" in text
    assert "| オ 統合の可能性 | ある | ない |" in text
    assert "**要確認（食い違いの疑い）**" in text
    assert "「**根室ベトナム交流協会**」" in text
    assert "**交流**" in text
    assert "## スコアの計算方法" in text


# Names and texts with the characters that break a Markdown table (|) or start emphasis (*, _).
ESCAPE_SHEETS = (
    make_record(
        "91001",
        "港湾|物流_支援*事業",
        department="港湾_物流*課",
        activities="港湾の物流_拠点で*荷役*の効率化を支援し、貨物|コンテナの取扱量を増やす。",
        reasons={"オ": "「港湾|倉庫_管理*事業」と荷役の業務が重なり、統合できる。"},
        answers={"オ": "ある"},
        decision="見直しのうえで継続",
        measures=("統合・振替",),
    ),
    make_record(
        "91002",
        "港湾|倉庫_管理*事業",
        department="物流|推進課",
        activities="港湾の倉庫で*荷役*と貨物|コンテナの保管を行い、物流_拠点を支える。",
        reasons={"ア": "荷役の効率化で貨物|コンテナの保管量が増えた。"},
    ),
)
_ESCAPED = re.compile(r"\\[|*_]")


@pytest.fixture(scope="module")
def escape_index(tmp_path_factory: pytest.TempPathFactory):
    index_dir = build_test_index(tmp_path_factory.mktemp("escape"), {"e.txt": ESCAPE_SHEETS})
    with evalsearch.open(index_dir) as ix:
        yield ix


@pytest.mark.parametrize("kind", ["candidates", "project"])
def test_markdown_escapes_table_breaking_characters(escape_index: Index, kind: str) -> None:
    report = (
        build_candidates_report(escape_index)
        if kind == "candidates"
        else build_project_report(escape_index, "91001")
    )
    assert report.pairs, "the two sheets must make a pair"
    text = render(report, "md")
    for name in ("港湾|物流_支援*事業", "港湾|倉庫_管理*事業", "港湾_物流*課", "物流|推進課"):
        escaped = name.replace("|", "\\|").replace("_", "\\_").replace("*", "\\*")
        assert escaped in text
    # Every row of a table has as many cells as its header: no pipe of the data splits a cell.
    lines = text.splitlines()
    header_cells = None
    rows = 0
    for line in lines:
        if not line.startswith("|"):
            header_cells = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))
        if header_cells is None:
            header_cells = cells
        else:
            assert cells == header_cells, line
            rows += 1
    assert rows >= 8  # the summary row, the side-by-side rows, the score table
    # Nothing of the data opens emphasis or a cell: with the escaped characters taken out,
    # the only * left are the report's own ** pairs and the only | the tables' own.
    for line in _ESCAPED.sub("", text).splitlines():
        assert "*" not in line.replace("**", ""), line
        assert "_" not in line, line
        assert line.startswith("|") or "|" not in line, line


def test_csv_report_columns(sample: Index, tmp_path: Path) -> None:
    path = write_report(build_candidates_report(sample), tmp_path / "c.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens UTF-8 correctly
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["A_事業番号"] == "12276" and row["B_事業番号"] == "12770"
    assert row["B_統合の回答"] == "ない"
    assert "根室ベトナム交流協会" in row["名称の言及"]
    assert row["食い違いの疑い"]
    assert "交流" in row["共通語"]


def test_project_report(sample: Index) -> None:
    report = build_project_report(sample, "12770")
    assert report.kind == "project"
    assert report.pairs[0].a.project_no == "12770"  # the project stays on the left
    text = render(report, "md")
    assert "12770 根室ベトナム交流協会補助事業 に類似する事業" in text
    assert "スコアの計算方法" not in text


def test_themed_report_lists_clusters_and_every_pair(themed_index: Index) -> None:
    report = build_candidates_report(themed_index, detail_count=2)
    text = render(report, "md")
    assert "## 3事業以上のまとまり" in text
    assert "24001 介護予防教室事業" in text
    assert len(report.detailed) == 2
    assert text.count("### ") == 2
    html = render(report, "html")
    assert html.count('<section class="pair"') == 2
    assert "上位 2 件のみ根拠を載せています" in html


def test_html_is_self_contained(sample: Index) -> None:
    html = render(build_candidates_report(sample), "html")
    assert html.count("<svg") == 1
    assert "<script" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "<mark>根室ベトナム交流協会</mark>" in html


@pytest.mark.parametrize(
    ("name", "fmt"), [("a.html", "html"), ("a.HTM", "html"), ("a.md", "md"), ("a.csv", "csv")]
)
def test_output_format_from_suffix(name: str, fmt: str) -> None:
    assert output_format(Path(name)) == fmt


def test_unknown_suffix_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\.html / \.md / \.csv"):
        output_format(Path("report.pdf"))


def test_highlight_marks_surface_spans_of_normalised_terms() -> None:
    segments = highlight("まちづくりの取組みを進める。", {"町作り", "取り組む"})
    assert [s.text for s in segments if s.marked] == ["まちづくり", "取組み"]
    assert "".join(s.text for s in segments) == "まちづくりの取組みを進める。"


def test_spring_layout_is_deterministic_and_bounded() -> None:
    links = [(0, 1, 0.5), (1, 2, 0.4), (2, 0, 0.3), (2, 3, 0.2)]
    first, second = spring_layout(4, links), spring_layout(4, links)
    assert (first == second).all()
    assert (abs(first) <= 1.0 + 1e-9).all()
    # Linked nodes end closer together than the unlinked pair (0, 3).
    distance = lambda i, j: float(((first[i] - first[j]) ** 2).sum() ** 0.5)  # noqa: E731
    assert distance(2, 3) < distance(0, 3)


def test_svg_places_every_node_inside_the_picture() -> None:
    nodes = {f"n{i}": Node(f"{i}", f"事業{i}", f"課{i % 3}") for i in range(9)}
    edges = [Edge(f"n{i}", f"n{i + 1}", 0.3, "similarity") for i in range(0, 8, 2)]
    edges.append(Edge("n0", "n2", 0.6, "contradiction"))
    svg = render_svg(nodes, edges)
    width, height = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    circles = re.findall(r'<circle class="node" cx="([\d.]+)" cy="([\d.]+)" r="11"', svg)
    assert len(circles) == 8  # n8 has no edge and is not drawn
    for x, y in circles:
        assert 0 < float(x) < width and 0 < float(y) < height
    assert 'stroke-dasharray="6 4"' in svg


# --- the HTML in a real browser -----------------------------------------------------------

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium がありません（apt-get install chromium fonts-noto-cjk で入ります）",
)


def _chromium(tmp_path: Path, *args: str, size: str = "1100,1600") -> subprocess.CompletedProcess:
    flags = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={size}",
    ]
    return subprocess.run([*flags, *args], capture_output=True, text=True, timeout=120, check=True)


def _screenshot(tmp_path: Path, page: Path, size: str = "1100,1600") -> str:
    """The page's screenshot as the SHA-256 of the PNG (equal images, equal digests)."""
    png = page.with_suffix(".png")
    _chromium(tmp_path, f"--screenshot={png}", page.as_uri(), size=size)
    assert png.stat().st_size > 1_000
    return hashlib.sha256(png.read_bytes()).hexdigest()


KANA_AND_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ONE_KANJI = "口"
"""Every kana and kanji of a page replaced by this one: drawn as glyphs the page changes;
drawn as the empty box a missing Japanese font gives every kanji, it looks the same."""


@needs_chromium
def test_japanese_text_renders_as_glyphs_not_boxes(tmp_path: Path) -> None:
    # Without a Japanese font every kanji is the same empty box: two different kanji drawn
    # large give identical screenshots. `make test` installs fonts-noto-cjk with chromium.
    shots = []
    for kanji in ("統", "合"):
        page = tmp_path / f"kanji-{ord(kanji)}.html"
        page.write_text(
            '<!DOCTYPE html><html lang="ja"><meta charset="utf-8">'
            '<body style="margin:0;background:#fff"><div style="font: 160px/1 '
            "'Noto Sans CJK JP', sans-serif\">" + kanji + "</div></body></html>",
            "utf-8",
        )
        shots.append(_screenshot(tmp_path, page, size="240,240"))
    assert shots[0] != shots[1], (
        "漢字が字形ではなく空の四角で描かれています。日本語フォントを入れてください"
        "（apt-get install fonts-noto-cjk、make test が入れます）"
    )


@needs_chromium
def test_html_report_renders_in_headless_chromium(sample: Index, tmp_path: Path) -> None:
    path = write_report(build_candidates_report(sample), tmp_path / "report.html")
    dom = _chromium(tmp_path, "--dump-dom", path.as_uri()).stdout
    # The browser parsed the inline SVG into the DOM, with its nodes and whole labels.
    assert re.search(r"<svg[^>]*class=\"network\"", dom)
    assert dom.count("<circle") >= 2
    labels = re.findall(r'<text class="node-label".*?</text>', dom)
    assert any(
        "".join(re.findall(r"<tspan[^>]*>([^<]*)</tspan>", label)).startswith(
            "根室ベトナム交流協会補助事業"
        )
        for label in labels
    ), labels
    report_png = _screenshot(tmp_path, path)
    assert path.with_suffix(".png").stat().st_size > 10_000
    # The report's text is drawn as glyphs: the same page with every kana and kanji made one
    # kanji looks different. Were the report's text empty boxes (no Japanese font), every
    # kanji would be the same box and the two screenshots the same image.
    boxes = tmp_path / "one-kanji.html"
    boxes.write_text(KANA_AND_KANJI.sub(ONE_KANJI, path.read_text("utf-8")), "utf-8")
    assert _screenshot(tmp_path, boxes) != report_png, (
        "報告書の日本語が空の四角で描かれています（日本語フォントがありません: "
        "apt-get install fonts-noto-cjk）"
    )
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


# --- issue #11: one passage once per card, one wording, whole labels, a legend per colour -----


def _cards(text: str) -> list[str]:
    """The Markdown report's per-pair sections."""
    detail = text.split("## 組み合わせごとの根拠", 1)[1].split("\n## ", 1)[0]
    return detail.split("\n### ")[1:]


@pytest.mark.parametrize("kind", ["candidates", "project"])
def test_a_passage_is_written_once_per_card(sample: Index, kind: str) -> None:
    # 12276's ウ matches three of 12770's passages (イ, ア, 動向): it used to be written out
    # beside each of them, and once more quoted in the 名称の言及 call-out.
    report = (
        build_candidates_report(sample)
        if kind == "candidates"
        else build_project_report(sample, "12276")
    )
    (view,) = report.detailed
    assert len(view.pair.passage_pairs) >= 3
    assert len({p.passage for p in view.pair.passage_pairs}) < len(view.pair.passage_pairs)
    md = render(report, "md")
    (card,) = _cards(md)
    records = {record.project_no: record for record in sample.records()}
    texts = [*records["12276"].passages().values(), *records["12770"].passages().values()]
    for passage in {text for text in texts if len(text) >= 20}:
        plain = re.sub(r"\*\*|\\", "", card)
        assert plain.count(passage) <= 1, passage
    assert plain.count("地域密着型商社") == 1
    assert "（その文は下の「A ウ 見直しの必要性」にあります）" in card
    html = render(report, "html")
    section = html.split('<section class="pair"', 1)[1].split("</section>", 1)[0]
    assert re.sub(r"<[^>]+>", "", section).count("地域密着型商社") == 1
    assert section.count('<div class="match">') == 3


def test_every_output_says_食い違い_never_矛盾(sample: Index, tmp_path: Path) -> None:
    report = build_candidates_report(sample)
    html, md = render(report, "html"), render(report, "md")
    csv_text = write_report(report, tmp_path / "c.csv").read_text("utf-8-sig")
    for text in (html, md, csv_text):
        assert "矛盾" not in text
    # The legend of the picture uses the card's own heading for a contradiction.
    svg = re.search(r"<svg.*</svg>", html, re.S).group(0)
    assert '<text class="legend"' in svg and ">要確認（食い違いの疑い）</text>" in svg
    assert "<strong>要確認（食い違いの疑い）</strong>" in html
    assert "**要確認（食い違いの疑い）**" in md


INFERRED = (
    # 61001's オ box is ticked nowhere: its answer is unresolved; the reason says ない.
    make_record(
        "61001",
        "港まつり実行委員会補助金",
        department="観光課",
        answers={"オ": None},
        reasons={"オ": "他に類似する事業はないことから、統合の可能性はない。"},
        activities="港まつりの開催を補助し、観光客を呼び込む。",
    ),
    make_record(
        "61002",
        "観光イベント事業",
        department="商工課",
        reasons={"ウ": "港まつり実行委員会と事業を統合することを検討する。"},
        activities="港まつりなど観光イベントを開催し、観光客を呼び込む。",
        decision="見直しのうえで継続",
        measures=("統合・振替",),
    ),
)


@pytest.fixture(scope="module")
def inferred_index(tmp_path_factory: pytest.TempPathFactory):
    index_dir = build_test_index(tmp_path_factory.mktemp("inferred"), {"i.txt": INFERRED})
    with evalsearch.open(index_dir) as ix:
        yield ix


def test_a_contradiction_on_an_inferred_answer_is_a_check_not_an_assertion(
    inferred_index: Index, tmp_path: Path
) -> None:
    assert inferred_index.record("61001").assessments["オ"].answer is None
    report = build_candidates_report(inferred_index)
    (view,) = report.pairs
    assert view.pair.contradictions and all(
        text.endswith("（推定）") for text in view.pair.contradictions
    )
    html, md = render(report, "html"), render(report, "md")
    (card,) = _cards(md)
    section = html.split('<section class="pair"', 1)[1].split("</section>", 1)[0]
    for text in (section, card):
        assert "未確定（理由文からは「ない」と推定）" in text
        assert "食い違いの疑い" not in text  # asserted only on answers read from a sheet
        assert "と答えている" not in text  # nothing says 61001 answered
    assert html.count("<strong>要確認（推定）</strong>") == len(view.pair.contradictions)
    assert md.count("**要確認（推定）**") == len(view.pair.contradictions)
    # Each contradiction once per card: a call-out, not again among the reasons.
    for text in view.pair.contradictions:
        assert card.count(text) == 1
    # The picture draws the edge in the legend's 要確認（推定） style.
    svg = re.search(r"<svg.*</svg>", html, re.S).group(0)
    colour, label, _ = EDGE_KINDS["contradiction_inferred"]
    assert f'stroke="{colour}"' in svg and f">{label}</text>" in svg
    rows = list(
        csv.DictReader(io.StringIO(write_report(report, tmp_path / "i.csv").read_text("utf-8-sig")))
    )
    assert rows[0]["B_統合の回答"] == "未確定（理由文からは「ない」と推定）"


def _svg_texts(svg: str, cls: str) -> list[str]:
    return [
        "".join(re.findall(r">([^<>]*)</tspan>", match))
        for match in re.findall(rf'<text class="{cls}"[^>]*>(.*?)</text>', svg)
    ]


def test_node_labels_are_whole_names() -> None:
    names = [
        "ひとり親家庭医療費助成事業",
        "国保保険給付事業（絶対的必要給付）",
        "岩手県三陸鉄道強化促進協議会参画事業",
        "地域包括支援センター運営事業",
    ]
    nodes = {str(i): Node(f"{i:04d}", name, "課") for i, name in enumerate(names)}
    edges = [Edge("0", str(i), 0.4, "similarity") for i in range(1, len(names))]
    labels = _svg_texts(render_svg(nodes, edges), "node-label")
    assert sorted(labels) == sorted(f"{name}{i:04d}" for i, name in enumerate(names))
    assert "…" not in "".join(labels)


def _boxes_overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("spokes", [3, 8, 14])
def test_score_labels_cover_no_node_and_no_label(spokes: int) -> None:
    # A project report's star: every edge meets the centre node, whose label the scores of
    # short edges used to be written over.
    from evalsearch.network import edge_label_box, label_lines, node_boxes

    nodes = {"c": Node("0127", "ひとり親家庭医療費助成事業", "市民生活部国保医療課")}
    nodes |= {f"n{i}": Node(f"{i:04d}", f"類似事業その{i}", f"課{i % 4}") for i in range(spokes)}
    edges = [Edge("c", f"n{i}", 0.9 - 0.05 * i, "similarity") for i in range(spokes)]
    svg = render_svg(nodes, edges)
    circles = [
        (float(x), float(y))
        for x, y in re.findall(r'<circle class="node" cx="([\d.]+)" cy="([\d.]+)"', svg)
    ]
    by_position = {}
    for label, (x, y) in zip(_svg_texts(svg, "node-label"), circles, strict=True):
        name = next(node.label for node in nodes.values() if label.startswith(node.label))
        by_position[x, y] = node_boxes(x, y, label_lines(name))
    obstacles = [box for boxes in by_position.values() for box in boxes]
    scores = re.findall(r'<text class="edge-label" x="([\d.]+)" y="([\d.]+)"', svg)
    assert len(scores) >= min(spokes, 3)
    placed = []
    for x, y in scores:
        box = edge_label_box(float(x), float(y) - 4)
        assert not any(_boxes_overlap(box, other) for other in obstacles), (x, y)
        assert not any(_boxes_overlap(box, other) for other in placed), (x, y)
        placed.append(box)
    # Scores are drawn after nodes and labels: nothing is painted over them.
    assert svg.index('class="edge-label"') > svg.rindex('class="node-label"')


@pytest.mark.parametrize("departments", [3, 9, 15])
def test_every_colour_in_the_picture_has_a_legend_entry(departments: int) -> None:
    nodes = {
        f"n{i}": Node(f"{i:04d}", f"事業{i}", f"保健福祉部第{i % departments}課")
        for i in range(2 * departments)
    }
    edges = [Edge(f"n{i}", f"n{i + 1}", 0.3, "similarity") for i in range(0, 2 * departments, 2)]
    svg = render_svg(nodes, edges)
    fills = set(re.findall(r'<circle class="node" [^>]*fill="(#[0-9a-f]{6})"', svg))
    legend = re.findall(
        r'<circle class="legend-colour" [^>]*fill="(#[0-9a-f]{6})"/><text class="legend"[^>]*>([^<]*)</text>',
        svg,
    )
    assert fills == {colour for colour, _ in legend}
    assert len(legend) == len({colour for colour, _ in legend})  # one entry per colour
    names = [name for _, name in legend]
    assert "…" not in "".join(names)  # department names whole
    if departments > 9:
        assert names[-1] == "その他の主管課"
    else:
        assert sorted(names) == sorted({node.group for node in nodes.values()})
    width, height = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    for x, y in re.findall(r'<text class="legend" x="([\d.]+)" y="([\d.]+)"', svg):
        assert 0 < float(x) < width and 0 < float(y) < height


def test_the_detail_note_never_sends_readers_to_rows_the_summary_lacks(
    themed_index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evalsearch.report

    report = build_candidates_report(themed_index, detail_count=2)
    assert len(report.pairs) > 4
    monkeypatch.setattr(evalsearch.report, "SUMMARY_ROWS", 4)
    html = render(report, "html")
    assert f"全 {len(report.pairs)} 件は一覧を参照" not in html
    assert f"一覧は上位 4 件、全 {len(report.pairs)} 件は CSV 形式の報告書に載ります" in html
    assert html.count('<tr>\n    <td class="num">') == 4
