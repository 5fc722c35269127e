"""Reports: Markdown and CSV content, the SVG picture, and the HTML in a real browser."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import evalsearch
from evalsearch.handle import Index
from evalsearch.network import Edge, Node, render_svg, spring_layout
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
    circles = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="11"', svg)
    assert len(circles) == 8  # n8 has no edge and is not drawn
    for x, y in circles:
        assert 0 < float(x) < width and 0 < float(y) < height
    assert 'stroke-dasharray="6 4"' in svg


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium がありません（apt-get install chromium で入ります）",
)
def test_html_report_renders_in_headless_chromium(sample: Index, tmp_path: Path) -> None:
    path = write_report(build_candidates_report(sample), tmp_path / "report.html")
    screenshot = tmp_path / "report.png"
    flags = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1100,1600",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # The browser parsed the inline SVG into the DOM, with its nodes and labels.
    assert re.search(r"<svg[^>]*class=\"network\"", dom)
    assert dom.count("<circle") >= 2
    assert "根室ベトナム交流協会補" in dom
    subprocess.run(
        [*flags, f"--screenshot={screenshot}", path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert screenshot.stat().st_size > 10_000
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
