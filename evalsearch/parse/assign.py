"""Give each assessment item (ア–カ) its checkbox answer and its reasoning passage.

The dump may print section ５'s boxes out of order, so a passage is not simply "the text after
the label". Passages are assigned to items as a whole — each item gets at most one passage,
each passage at most one item — maximising a score built from what the form provides:

* position, from the two block orders seen in real dumps: a passage printed on the line where
  its question ends (the カ box in one order), or the chain "label → that item's checkbox row →
  passage" (every item in the other order) is strong evidence; a passage right after a checkbox
  row that only one item has (ア, イ and カ have their own option sets) is weak evidence;
* content: each question has its own vocabulary (``form.QUESTION_CUES``): an オ reason talks
  about 統合 or 類似事業, a カ reason about 負担.

Answers: ア, イ and カ rows are recognised by their option sets. ウ, エ and オ share one set, so
a row belongs to one of them only when printed right after its label; otherwise the answer is
left as None with the candidates and a warning, unless every candidate row agrees.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from evalsearch.parse.checks import CheckGroup
from evalsearch.parse.form import (
    BLOCK_ORDERS,
    CHECK_GROUPS,
    QUESTION_CUES,
    SHARED_GROUP,
    SHARED_GROUP_ITEMS,
    group_items,
)
from evalsearch.parse.lexer import Kind, Token
from evalsearch.records import ITEM_LABELS, Assessment

Element = Token | CheckGroup

STRONG_POSITION = 6.0
WEAK_POSITION = 1.0
# Below this margin, swapping two items' passages is nearly as good: say so in a warning.
UNCERTAIN_MARGIN = 1.0

_CUES: dict[str, dict[str, float]] = {}
for _item, _cues in QUESTION_CUES.items():
    normalised: dict[str, float] = {}
    for _word, _weight in _cues.items():
        key = unicodedata.normalize("NFKC", _word)
        normalised[key] = max(_weight, normalised.get(key, 0.0))
    _CUES[_item] = normalised


@dataclass(frozen=True)
class Passage:
    """A free-text passage of section ５ and the element indices it starts and ends at."""

    text: str
    index: int
    last_index: int
    first_line_only: bool = False
    """True when the passage starts on its question's line (only its first line printed there)."""


def _block_order_regex(template: str) -> re.Pattern[str]:
    parts = []
    for symbol in template.split():
        kind, _, item = symbol.partition(":")
        parts.append(f"(?:(?P<{item}>P) )?" if kind == "P" else re.escape(symbol) + " ")
    return re.compile("".join(parts))


_BLOCK_ORDER_RES: dict[str, re.Pattern[str]] = {
    name: _block_order_regex(template) for name, template in BLOCK_ORDERS.items()
}


def _symbol(element: Element) -> str | None:
    if isinstance(element, CheckGroup):
        return f"G:{element.name}" if group_items(element.name) else None
    if element.kind is Kind.LABEL:
        kind, _, item = element.key.partition(":")
        return {"item": f"I:{item}", "question": f"Q:{item}"}.get(kind)
    return None


def block_order_items(elements: Sequence[Element], passages: Sequence[Passage]) -> dict[int, str]:
    """passage row → item, when section ５ is printed in one of the known block orders."""
    starts = {passage.index: row for row, passage in enumerate(passages)}
    symbols: list[str] = []
    rows_at: dict[int, int] = {}
    length = 0
    for index, element in enumerate(elements):
        symbol = "P" if index in starts else _symbol(element)
        if symbol is None:
            continue
        if index in starts:
            rows_at[length] = starts[index]
        symbols.append(symbol)
        length += len(symbol) + 1
    observed = "".join(f"{symbol} " for symbol in symbols)
    for pattern in _BLOCK_ORDER_RES.values():
        match = pattern.fullmatch(observed)
        if match is not None:
            return {
                rows_at[match.start(item)]: item
                for item in ITEM_LABELS
                if match.group(item) is not None
            }
    return {}


def _item_label_of(element: Element) -> str | None:
    if isinstance(element, Token) and element.kind is Kind.LABEL:
        kind, _, item = element.key.partition(":")
        if kind in {"item", "question"}:
            return item
    return None


def content_score(text: str, item: str) -> float:
    return _cue_score(unicodedata.normalize("NFKC", text), item)


def _cue_score(normalised: str, item: str) -> float:
    return sum(weight for word, weight in _CUES[item].items() if word in normalised)


def max_weight_assignment(scores: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """(row, column) pairs of a maximum-score assignment, in row order.

    A line-for-line port of the shortest augmenting path solver (Crouse 2016) behind
    ``scipy.optimize.linear_sum_assignment(scores, maximize=True)``. Ported rather than
    imported because scipy costs ~0.5 s to import for matrices of at most ~10×6; ported
    rather than rewritten because scores are small integers and ties are common, and the
    chosen assignment among equal optima must stay scipy's (same operations, same order,
    so the same floating-point values and the same tie-breaking).
    """
    nr = len(scores)
    nc = len(scores[0]) if nr else 0
    if nr == 0 or nc == 0:
        return []
    # scipy transposes a tall matrix and negates for maximisation.
    transpose = nc < nr
    if transpose:
        cost = [[-scores[i][j] for i in range(nr)] for j in range(nc)]
        nr, nc = nc, nr
    else:
        cost = [[-value for value in row] for row in scores]
    inf = float("inf")
    u = [0.0] * nr
    v = [0.0] * nc
    path = [-1] * nc
    col4row = [-1] * nr
    row4col = [-1] * nc
    for current in range(nr):
        # Find the shortest augmenting path from row ``current``.
        min_val = 0.0
        # Filled in reverse so that a constant matrix gives the identity (scipy #11602).
        remaining = list(range(nc - 1, -1, -1))
        seen_rows = [False] * nr
        seen_columns = [False] * nc
        shortest = [inf] * nc
        i = current
        sink = -1
        while sink == -1:
            index = -1
            lowest = inf
            seen_rows[i] = True
            cost_i, u_i = cost[i], u[i]
            for position, j in enumerate(remaining):
                r = min_val + cost_i[j] - u_i - v[j]
                if r < shortest[j]:
                    path[j] = i
                    shortest[j] = r
                # Among equal minima prefer a free column: it ends the path.
                if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                    lowest = shortest[j]
                    index = position
            min_val = lowest
            if min_val == inf:
                raise ValueError("cost matrix is infeasible")
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            seen_columns[j] = True
            remaining[index] = remaining[-1]
            remaining.pop()
        # Update the dual variables.
        u[current] += min_val
        for i in range(nr):
            if seen_rows[i] and i != current:
                u[i] += min_val - shortest[col4row[i]]
        for j in range(nc):
            if seen_columns[j]:
                v[j] -= min_val - shortest[j]
        # Augment the previous solution along the path.
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            col4row[i], j = j, col4row[i]
            if i == current:
                break
    if transpose:
        return [(col4row[column], column) for column in sorted(range(nr), key=col4row.__getitem__)]
    return [(row, col4row[row]) for row in range(nr)]


def position_score(elements: Sequence[Element], passage: Passage, item: str) -> float:
    index = passage.index
    before = elements[index - 1] if index >= 1 else None
    first = elements[index]
    if before is None:
        return 0.0
    if _item_label_of(before) == item and isinstance(first, Token) and first.inline:
        return STRONG_POSITION
    if isinstance(before, CheckGroup) and item in group_items(before.name):
        label = elements[index - 2] if index >= 2 else None
        if label is not None and _item_label_of(label) == item:
            return STRONG_POSITION
        if before.name == item:
            return WEAK_POSITION
    return 0.0


def _pinned_shared_rows(elements: Sequence[Element]) -> dict[int, str]:
    """ウ/エ/オ rows printed right after their own label: element index → item."""
    pinned: dict[int, str] = {}
    for index, element in enumerate(elements):
        if isinstance(element, CheckGroup) and element.name == SHARED_GROUP and index >= 1:
            item = _item_label_of(elements[index - 1])
            if item in SHARED_GROUP_ITEMS and item not in pinned.values():
                pinned[index] = item
    return pinned


def _answer_of(group: CheckGroup, item: str, warnings: list[str]) -> str | None:
    if group.single is None:
        state = "未回答" if not group.ticked else "複数に■"
        warnings.append(f"{item}: 回答欄が{state}です（{group.line}行目）")
    return group.single


def assign_answers(
    elements: Sequence[Element],
) -> tuple[dict[str, tuple[str | None, tuple[str, ...] | None]], list[str]]:
    """item → (answer, candidates or None), plus warnings."""
    warnings: list[str] = []
    answers: dict[str, tuple[str | None, tuple[str, ...] | None]] = {}
    groups = [(index, e) for index, e in enumerate(elements) if isinstance(e, CheckGroup)]
    for item in ("ア", "イ", "カ"):
        rows = [group for _, group in groups if group.name == item]
        if not rows:
            warnings.append(f"{item}: 回答のチェック欄が見つかりません")
            answers[item] = (None, None)
            continue
        if len(rows) > 1:
            warnings.append(f"{item}: 回答のチェック欄が{len(rows)}つあります（最初の行を採用）")
        answers[item] = (_answer_of(rows[0], item, warnings), None)

    pinned = _pinned_shared_rows(elements)
    for index, item in pinned.items():
        answers[item] = (_answer_of(elements[index], item, warnings), None)  # type: ignore[arg-type]
    open_items = [item for item in SHARED_GROUP_ITEMS if item not in answers]
    open_rows = [
        group for index, group in groups if group.name == SHARED_GROUP and index not in pinned
    ]
    if open_items:
        if len(open_rows) != len(open_items):
            warnings.append(
                f"{'・'.join(open_items)}: 回答欄の数（{len(open_rows)}）が設問の数と合いません"
            )
        values = {group.single for group in open_rows if group.single is not None}
        candidates = tuple(option for option in CHECK_GROUPS[SHARED_GROUP] if option in values)
        for item in open_items:
            if len(candidates) == 1 and len(open_rows) == len(open_items):
                answers[item] = (candidates[0], None)
            else:
                answers[item] = (None, candidates)
        if len(candidates) > 1:
            warnings.append(
                f"{'・'.join(open_items)}: どの回答欄がどの設問のものか判別できません"
                f"（候補: {'／'.join(candidates)}）"
            )
    return answers, warnings


def merge_continuations(passages: Sequence[Passage]) -> list[Passage]:
    """Re-join a passage cut in two boxes.

    The next passage box continues a passage when the passage stops mid-sentence, or when it
    started on its question's line: that layout prints only the reason's first line there and
    the rest in the following box, wherever the line happened to end.
    """
    merged: list[Passage] = []
    for passage in passages:
        if merged:
            last = merged[-1]
            ends_sentence = last.text.rstrip().endswith(("。", ".", "」", "）", ")"))
            if passage.index == last.last_index + 1 and (last.first_line_only or not ends_sentence):
                merged[-1] = Passage(last.text + passage.text, last.index, passage.last_index)
                continue
        merged.append(passage)
    return merged


def assign_reasons(
    elements: Sequence[Element], passages: Sequence[Passage]
) -> tuple[dict[str, str], list[str]]:
    """item → reason text, plus warnings for unplaced passages, empty items, close calls."""
    warnings: list[str] = []
    if not passages:
        return {item: "" for item in ITEM_LABELS}, [
            f"{'・'.join(ITEM_LABELS)}: 理由の記述が見つかりません"
        ]
    known_order = block_order_items(elements, passages)
    scores: list[list[float]] = []
    for row, passage in enumerate(passages):
        normalised = unicodedata.normalize("NFKC", passage.text)
        scores.append(
            [
                (STRONG_POSITION if known_order.get(row) == item else 0.0)
                + position_score(elements, passage, item)
                + _cue_score(normalised, item)
                for item in ITEM_LABELS
            ]
        )
    chosen = {ITEM_LABELS[column]: row for row, column in max_weight_assignment(scores)}
    reasons = {item: passages[chosen[item]].text if item in chosen else "" for item in ITEM_LABELS}
    for item in ITEM_LABELS:
        if item not in chosen:
            warnings.append(f"{item}: 理由の記述が見つかりません")
    for row, passage in enumerate(passages):
        if row not in chosen.values():
            warnings.append(f"どの設問にも割り当てられない記述があります（{passage.text[:20]}…）")
    assigned = sorted(chosen.items(), key=lambda pair: ITEM_LABELS.index(pair[0]))
    for position, (first, p) in enumerate(assigned):
        for second, q in assigned[position + 1 :]:
            a, b = ITEM_LABELS.index(first), ITEM_LABELS.index(second)
            margin = scores[p][a] + scores[q][b] - scores[p][b] - scores[q][a]
            if margin < UNCERTAIN_MARGIN:
                warnings.append(f"{first}と{second}の理由の割り当てが不確かです（内容から推定）")
    return reasons, warnings


def assess(
    elements: Sequence[Element], passages: Sequence[Passage]
) -> tuple[dict[str, Assessment], list[str]]:
    answers, answer_warnings = assign_answers(elements)
    reasons, reason_warnings = assign_reasons(elements, merge_continuations(passages))
    assessments = {
        item: Assessment(
            answer=answers[item][0], reason=reasons[item], answer_candidates=answers[item][1]
        )
        for item in ITEM_LABELS
    }
    return assessments, answer_warnings + reason_warnings
