"""The report's picture: candidate pairs as a network, laid out here and drawn as inline SVG.

No JavaScript and no layout library: each connected group is laid out on its own with a few
hundred steps of a Fruchterman–Reingold spring model (deterministic start on a circle, so the
same input gives the same picture), then the groups are packed left to right in rows. The
output is one ``<svg>`` element with text labels, readable without network access.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
from rich.cells import cell_len

WIDTH = 960
"""Largest picture width in SVG units (groups wrap into rows); the height follows."""

MIN_NODE_DISTANCE = 150.0
MAX_GROUP_RADIUS = 330.0

MIN_WIDTH = 620
"""Room for the legend even when the picture holds a single pair."""

MAX_NODES = 40
"""More nodes than this are unreadable in one picture; the best-scored pairs are kept."""

PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#e15759",
    "#9c755f",
    "#ff9da7",
)
"""Node fill per 主管課 (in order of first appearance). Departments beyond these share
``OTHER_COLOUR``: two departments never look alike, and every colour has its legend entry."""

OTHER_COLOUR = "#bab0ac"
OTHER_LABEL = "その他の主管課"

EDGE_KINDS: Mapping[str, tuple[str, str, bool]] = {
    "contradiction": ("#c0392b", "要確認（食い違いの疑い）", True),
    "contradiction_inferred": ("#e6a19a", "要確認（推定）", True),
    "cross_reference": ("#e67e22", "名称の言及", False),
    "similarity": ("#7f8c8d", "本文の類似", False),
}
"""Edge kind -> (colour, legend label, dashed). The labels are the reports' own headings: a
contradiction resting on an answer inferred from a reason text is 要確認（推定） everywhere."""

EDGE_COLOURS = {kind: colour for kind, (colour, _, _) in EDGE_KINDS.items()}

BACKGROUND = "#fbfbf8"
LABEL_CHARS = 12
"""Characters per line of a node label (a name wraps onto up to ``LABEL_LINES`` lines)."""
LABEL_LINES = 3
LINE_HEIGHT = 14.0
NODE_RADIUS = 11.0
HALO = f'paint-order="stroke" stroke="{BACKGROUND}" stroke-width="3" stroke-linejoin="round"'
"""Text drawn over a line stays readable: a ring of background colour around each glyph."""


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    group: str  # 主管課: nodes of one department share a colour


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    score: float
    kind: str  # a key of EDGE_COLOURS


def select(edges: Sequence[Edge], max_nodes: int = MAX_NODES) -> list[Edge]:
    """The best edges (input order is best first) whose nodes fit in ``max_nodes``."""
    chosen: list[Edge] = []
    seen: set[str] = set()
    for edge in edges:
        new = {edge.a, edge.b} - seen
        if len(seen) + len(new) > max_nodes:
            continue
        seen |= new
        chosen.append(edge)
    return chosen


def spring_layout(
    count: int, links: Sequence[tuple[int, int, float]], *, iterations: int = 300
) -> np.ndarray:
    """Positions (count × 2, within the unit disc) for one connected group.

    Fruchterman–Reingold: linked nodes attract with d²/k scaled by the link's score, all nodes
    repel with k²/d; the step ("temperature") shrinks linearly so the layout settles.
    """
    if count == 1:
        return np.zeros((1, 2))
    if count == 2:
        return np.array([[-1.0, 0.0], [1.0, 0.0]])
    angles = np.linspace(0, 2 * math.pi, count, endpoint=False)
    position = np.column_stack([np.cos(angles), np.sin(angles)])
    k = math.sqrt(4.0 / count)
    temperature = 0.2
    for step in range(iterations):
        delta = position[:, None, :] - position[None, :, :]
        distance = np.maximum(np.linalg.norm(delta, axis=2), 1e-3)
        force = (k * k / distance**2)[:, :, None] * delta
        np.fill_diagonal(force[:, :, 0], 0.0)
        np.fill_diagonal(force[:, :, 1], 0.0)
        displacement = force.sum(axis=1)
        for a, b, weight in links:
            d = position[a] - position[b]
            length = max(float(np.linalg.norm(d)), 1e-3)
            pull = d * length / k * (0.5 + weight)
            displacement[a] -= pull
            displacement[b] += pull
        length = np.maximum(np.linalg.norm(displacement, axis=1), 1e-9)
        cap = temperature * (1 - step / iterations)
        position += displacement / length[:, None] * np.minimum(length, cap)[:, None]
    position -= position.mean(axis=0)
    # Turn the group so its long axis is horizontal: labels sit under the nodes, and a
    # vertical chain would stack every label onto the next edge.
    _, vectors = np.linalg.eigh(np.cov(position.T))
    axis = vectors[:, -1]
    if axis[0] < 0:
        axis = -axis
    rotation = np.array([[axis[0], axis[1]], [-axis[1], axis[0]]])
    position = position @ rotation.T
    radius = float(np.max(np.linalg.norm(position, axis=1))) or 1.0
    return position / radius


def _groups(nodes: Sequence[str], edges: Sequence[Edge]) -> list[list[str]]:
    neighbours: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        neighbours[edge.a].add(edge.b)
        neighbours[edge.b].add(edge.a)
    seen: set[str] = set()
    groups: list[list[str]] = []
    for node in nodes:
        if node in seen:
            continue
        stack, group = [node], []
        seen.add(node)
        while stack:
            current = stack.pop()
            group.append(current)
            for other in sorted(neighbours[current]):
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        groups.append(group)
    return sorted(groups, key=len, reverse=True)


def layout(
    nodes: Sequence[str], edges: Sequence[Edge]
) -> tuple[dict[str, tuple[float, float]], float, float]:
    """Node centres in SVG units, the picture width and the height of the groups (the
    legend goes below)."""
    label_room = LABEL_CHARS * 12 / 2 + 10  # half a label's width: labels sit under their node
    margin = 24.0
    positions: dict[str, tuple[float, float]] = {}
    x, y, row_height, used = margin, margin + 40.0, 0.0, 0.0
    for group in _groups(nodes, edges):
        index = {node: i for i, node in enumerate(group)}
        links = [
            (index[edge.a], index[edge.b], edge.score)
            for edge in edges
            if edge.a in index and edge.b in index
        ]
        unit = spring_layout(len(group), links)
        scale = _scale(unit, len(group))
        low, high = unit.min(axis=0) * scale, unit.max(axis=0) * scale
        width = float(high[0] - low[0]) + 2 * label_room
        height = float(high[1] - low[1]) + 40.0 + LABEL_LINES * LINE_HEIGHT + 14.0
        if x + width > WIDTH - margin and x > margin:
            x, y, row_height = margin, y + row_height, 0.0
        left, top = x + label_room - float(low[0]), y + 20.0 - float(low[1])
        for node, (ux, uy) in zip(group, unit, strict=True):
            positions[node] = (left + ux * scale, top + uy * scale)
        x += width
        used = max(used, x)
        row_height = max(row_height, height)
    return positions, max(MIN_WIDTH, used + margin), y + row_height


def _scale(unit: np.ndarray, count: int) -> float:
    """SVG units per layout unit: nodes at least ``MIN_NODE_DISTANCE`` apart (labels are
    about that wide), within ``MAX_GROUP_RADIUS`` so one big group cannot fill the picture."""
    base = 80.0 if count == 2 else 55.0 + 28.0 * math.sqrt(count)
    if count < 2:
        return base
    gaps = np.linalg.norm(unit[:, None, :] - unit[None, :, :], axis=2)
    closest = float(gaps[np.triu_indices(count, 1)].min())
    wanted = MIN_NODE_DISTANCE / closest if closest > 1e-6 else MAX_GROUP_RADIUS
    return min(MAX_GROUP_RADIUS, max(base, wanted))


Box = tuple[float, float, float, float]
"""left, top, right, bottom in SVG units."""


def label_lines(label: str) -> list[str]:
    """A node label as lines of ``LABEL_CHARS`` characters, whole up to ``LABEL_LINES``
    lines (a longer name ends in …; the full name is in the node's tooltip and the tables)."""
    count = min(LABEL_LINES, max(1, math.ceil(len(label) / LABEL_CHARS)))
    if len(label) > LABEL_CHARS * LABEL_LINES:
        label = label[: LABEL_CHARS * LABEL_LINES - 1] + "…"
    per_line = max(1, math.ceil(len(label) / count))  # balanced: no line of one character
    return [label[i : i + per_line] for i in range(0, len(label), per_line)] or [""]


def node_boxes(x: float, y: float, lines: Sequence[str]) -> list[Box]:
    """What a node covers: its circle, and its label lines with the project number below."""
    width = max(cell_len(line) for line in lines) * 6.0 + 4
    bottom = y + 18 + LINE_HEIGHT * len(lines) + 12
    return [
        (x - NODE_RADIUS - 2, y - NODE_RADIUS - 2, x + NODE_RADIUS + 2, y + NODE_RADIUS + 2),
        (x - width / 2, y + 14, x + width / 2, bottom),
    ]


def edge_label_box(x: float, y: float) -> Box:
    """The box of a score label (``0.45``) centred on (x, y)."""
    return (x - 14, y - 8, x + 14, y + 6)


def _overlaps(box: Box, others: Sequence[Box]) -> bool:
    left, top, right, bottom = box
    return any(
        left < o_right and o_left < right and top < o_bottom and o_top < bottom
        for o_left, o_top, o_right, o_bottom in others
    )


_LABEL_STEPS = (0.5, 0.4, 0.6, 0.32, 0.68, 0.25, 0.75)
"""Where along an edge its score label may go, tried in this order."""


def _edge_label_at(
    start: tuple[float, float], end: tuple[float, float], taken: Sequence[Box]
) -> tuple[float, float] | None:
    """A point on the edge whose score label covers no node, node label or other score
    label; None when the edge has no such point (its score stays in the tooltip and tables)."""
    (x1, y1), (x2, y2) = start, end
    for step in _LABEL_STEPS:
        x, y = x1 + (x2 - x1) * step, y1 + (y2 - y1) * step
        if not _overlaps(edge_label_box(x, y), taken):
            return x, y
    return None


def render_svg(
    nodes: Mapping[str, Node], edges: Sequence[Edge], *, title: str = "類似事業のつながり"
) -> str:
    """One self-contained ``<svg>`` element showing ``edges`` between ``nodes``.

    Drawn in layers: edges, nodes, node labels (wrapped, never cut under ``LABEL_LINES``
    lines), then score labels where they cover no node and no label. Every colour in the
    picture has its legend entry."""
    edges = select(edges)
    order = list(dict.fromkeys(node for edge in edges for node in (edge.a, edge.b)))
    if not order:
        order = list(nodes)[:1]
    positions, width, groups_height = layout(order, edges)
    colours: dict[str, str] = {}
    for node_id in order:
        group = nodes[node_id].group
        if group not in colours and len(colours) < len(PALETTE):
            colours[group] = PALETTE[len(colours)]
    legend, legend_height = _legend(colours, edges, order, nodes, width, groups_height)
    height = groups_height + legend_height

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(title)}" '
        'class="network" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="{BACKGROUND}"/>',
        f'<text x="24" y="32" font-size="17" font-weight="bold">{escape(title)}</text>',
    ]
    for edge in edges:
        (x1, y1), (x2, y2) = positions[edge.a], positions[edge.b]
        colour, _, dashed = EDGE_KINDS.get(edge.kind, EDGE_KINDS["similarity"])
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(
            f'<line class="edge" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{colour}" stroke-width="{1.5 + 6 * edge.score:.1f}" '
            f'stroke-opacity="0.85"{dash}>'
            f"<title>{escape(edge.a)} – {escape(edge.b)}: {edge.score:.2f}</title></line>"
        )
    taken: list[Box] = []
    labels: list[str] = []
    for node_id in order:
        node = nodes[node_id]
        x, y = positions[node_id]
        lines = label_lines(node.label)
        taken.extend(node_boxes(x, y, lines))
        fill = colours.get(node.group, OTHER_COLOUR)
        parts.append(
            f'<circle class="node" cx="{x:.1f}" cy="{y:.1f}" r="{NODE_RADIUS:.0f}" '
            f'fill="{fill}" stroke="#fff" stroke-width="2">'
            f"<title>{escape(node.id)} {escape(node.label)}（{escape(node.group)}）</title>"
            "</circle>"
        )
        spans = "".join(
            f'<tspan x="{x:.1f}" y="{y + 28 + LINE_HEIGHT * i:.1f}">{escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        labels.append(
            f'<text class="node-label" font-size="12" text-anchor="middle" {HALO}>{spans}'
            f'<tspan x="{x:.1f}" y="{y + 28 + LINE_HEIGHT * len(lines) - 1:.1f}" '
            f'font-size="10" fill="#555">{escape(node.id)}</tspan></text>'
        )
    parts.extend(labels)
    for edge in edges:
        spot = _edge_label_at(positions[edge.a], positions[edge.b], taken)
        if spot is None:
            continue
        taken.append(edge_label_box(*spot))
        parts.append(
            f'<text class="edge-label" x="{spot[0]:.1f}" y="{spot[1] + 4:.1f}" font-size="11" '
            f'text-anchor="middle" fill="#333" {HALO}>{edge.score:.2f}</text>'
        )
    parts.append(legend)
    parts.append("</svg>")
    return "".join(parts)


def _legend(
    colours: Mapping[str, str],
    edges: Sequence[Edge],
    order: Sequence[str],
    nodes: Mapping[str, Node],
    width: float,
    top: float,
) -> tuple[str, float]:
    """The legend under the groups, and its height: one row of edge kinds, then the 主管課
    colours in as many rows as they need (names whole). An entry for every colour drawn."""
    out: list[str] = []
    row = 22.0
    y = top + 16
    x = 24.0
    kinds = [kind for kind in EDGE_KINDS if kind != "contradiction_inferred"]
    if any(edge.kind == "contradiction_inferred" for edge in edges):
        kinds.insert(1, "contradiction_inferred")
    for kind in kinds:
        colour, label, dashed = EDGE_KINDS[kind]
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(
            f'<line x1="{x:.0f}" y1="{y - 4:.0f}" x2="{x + 28:.0f}" y2="{y - 4:.0f}" '
            f'stroke="{colour}" stroke-width="4"{dash}/>'
            f'<text class="legend" x="{x + 34:.0f}" y="{y:.0f}" font-size="11">{label}</text>'
        )
        x += 34 + cell_len(label) * 5.5 + 18
    entries = list(colours.items())
    if any(nodes[node].group not in colours for node in order):
        entries.append((OTHER_LABEL, OTHER_COLOUR))
    x, y = 24.0, y + row
    for group, colour in entries:
        step = 16 + cell_len(group) * 5.5 + 18
        if x + step > width - 24 and x > 24:
            x, y = 24.0, y + row
        out.append(
            f'<circle class="legend-colour" cx="{x + 6:.0f}" cy="{y - 4:.0f}" r="6" '
            f'fill="{colour}"/>'
            f'<text class="legend" x="{x + 16:.0f}" y="{y:.0f}" font-size="11">'
            f"{escape(group)}</text>"
        )
        x += step
    return "".join(out), y - top + 16
