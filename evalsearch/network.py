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

WIDTH = 960
"""Largest picture width in SVG units (groups wrap into rows); the height follows."""

MIN_NODE_DISTANCE = 150.0
MAX_GROUP_RADIUS = 330.0

LEGEND_HEIGHT = 70.0
"""Two legend rows under the groups: edge kinds, then 主管課 colours."""

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
    "#bab0ac",
    "#ff9da7",
)
"""Node fill per 主管課 (in order of first appearance)."""

EDGE_COLOURS = {"contradiction": "#c0392b", "cross_reference": "#e67e22", "similarity": "#7f8c8d"}


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
    """Node centres in SVG units, the picture width and its height."""
    label_room = 82.0  # half a label's width (11 characters): labels sit under their node
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
        height = float(high[1] - low[1]) + 80.0
        if x + width > WIDTH - margin and x > margin:
            x, y, row_height = margin, y + row_height, 0.0
        left, top = x + label_room - float(low[0]), y + 20.0 - float(low[1])
        for node, (ux, uy) in zip(group, unit, strict=True):
            positions[node] = (left + ux * scale, top + uy * scale)
        x += width
        used = max(used, x)
        row_height = max(row_height, height)
    return positions, max(MIN_WIDTH, used + margin), y + row_height + LEGEND_HEIGHT


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


def render_svg(
    nodes: Mapping[str, Node], edges: Sequence[Edge], *, title: str = "類似事業のつながり"
) -> str:
    """One self-contained ``<svg>`` element showing ``edges`` between ``nodes``."""
    edges = select(edges)
    order = list(dict.fromkeys(node for edge in edges for node in (edge.a, edge.b)))
    if not order:
        order = list(nodes)[:1]
    positions, width, height = layout(order, edges)
    colours: dict[str, str] = {}
    for node_id in order:
        group = nodes[node_id].group
        colours.setdefault(group, PALETTE[len(colours) % len(PALETTE)])

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(title)}" '
        'class="network" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#fbfbf8"/>',
        f'<text x="24" y="32" font-size="17" font-weight="bold">{escape(title)}</text>',
    ]
    for edge in edges:
        (x1, y1), (x2, y2) = positions[edge.a], positions[edge.b]
        colour = EDGE_COLOURS.get(edge.kind, EDGE_COLOURS["similarity"])
        dash = ' stroke-dasharray="6 4"' if edge.kind == "contradiction" else ""
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{1.5 + 6 * edge.score:.1f}" stroke-opacity="0.85"{dash}>'
            f"<title>{escape(edge.a)} – {escape(edge.b)}: {edge.score:.2f}</title></line>"
        )
        parts.append(
            f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 5:.1f}" font-size="11" '
            f'text-anchor="middle" fill="#333">{edge.score:.2f}</text>'
        )
    for node_id in order:
        node = nodes[node_id]
        x, y = positions[node_id]
        parts.append(
            f'<g class="node"><circle cx="{x:.1f}" cy="{y:.1f}" r="11" '
            f'fill="{colours[node.group]}" stroke="#fff" stroke-width="2">'
            f"<title>{escape(node.id)} {escape(node.label)}（{escape(node.group)}）</title>"
            "</circle>"
            f'<text x="{x:.1f}" y="{y + 26:.1f}" font-size="12" text-anchor="middle">'
            f"{escape(_short(node.label, 11))}</text>"
            f'<text x="{x:.1f}" y="{y + 40:.1f}" font-size="10" text-anchor="middle" '
            f'fill="#555">{escape(node.id)}</text></g>'
        )
    parts.append(_legend(colours, width, height))
    parts.append("</svg>")
    return "".join(parts)


def _legend(colours: Mapping[str, str], width: float, height: float) -> str:
    y = height - 42
    items = [
        (EDGE_COLOURS["contradiction"], "食い違いの疑い", True),
        (EDGE_COLOURS["cross_reference"], "名称の言及", False),
        (EDGE_COLOURS["similarity"], "本文の類似", False),
    ]
    out = []
    x = 24.0
    for colour, label, dashed in items:
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(
            f'<line x1="{x:.0f}" y1="{y - 4:.0f}" x2="{x + 28:.0f}" y2="{y - 4:.0f}" '
            f'stroke="{colour}" stroke-width="4"{dash}/>'
            f'<text x="{x + 34:.0f}" y="{y:.0f}" font-size="11">{label}</text>'
        )
        x += 120
    x, y = 24.0, y + 22
    for group, colour in colours.items():
        label = _short(group, 10)
        step = 30 + 12 * len(label)
        if x + step > width - 24:
            break  # the full list is in the report's tables; the legend stays on one row
        out.append(
            f'<circle cx="{x + 6:.0f}" cy="{y - 4:.0f}" r="6" fill="{colour}"/>'
            f'<text x="{x + 16:.0f}" y="{y:.0f}" font-size="11">{escape(label)}</text>'
        )
        x += step
    return "".join(out)


def _short(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
