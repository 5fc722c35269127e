"""Turn the lines of one text dump into a flat stream of typed tokens.

The PDF dump prints each box of the form as a run of lines; blank lines separate boxes, a box's
lines wrap anywhere (even inside a label), and one line can hold a label and its value
(``施策区分 海外との…``) or the end of a question and the start of its reason. The lexer reads a
box at a time:

* labels are matched on the NFKC form with all whitespace removed, so a label wrapped over
  lines still matches; a label must start and end at a whitespace or line boundary, so the same
  words inside a reason passage are never taken for a label;
* ``□``/``■`` checkbox items, rows of numbers and indicator rows are recognised per line;
* anything else is text, kept exactly as printed; a text that continues on the next line of the
  same box is re-joined with nothing inserted (a line starting with ``・`` keeps its line break).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from evalsearch.parse.form import LABELS, TITLE_PATTERN, LabelSpec


class Kind(Enum):
    LABEL = "label"
    CHECK = "check"
    NUMBERS = "numbers"
    INDICATOR_ROW = "indicator_row"
    TEXT = "text"
    FOOTER = "footer"


@dataclass(slots=True)
class Token:
    """One recognised piece of a sheet; ``line`` is 1-based in the file, ``box`` counts boxes."""

    kind: Kind
    line: int
    box: int
    key: str = ""
    text: str = ""
    cells: tuple[str, ...] = ()
    captures: dict[str, str] = field(default_factory=dict)
    ticked: bool = False
    inline: bool = False
    """True when the token follows another token on the same printed line."""
    end_line: int = 0
    """Last line of a text re-joined over several lines (equals ``line`` otherwise)."""


_TITLE = LabelSpec("title", TITLE_PATTERN)


_ALL_LABELS: tuple[LabelSpec, ...] = (_TITLE, *LABELS)
_ORDERED_LABELS: list[LabelSpec] = sorted(_ALL_LABELS, key=lambda s: len(s.pattern), reverse=True)
_LABEL_RE = re.compile(
    "|".join(f"(?P<L{index}>{spec.pattern})" for index, spec in enumerate(_ORDERED_LABELS))
)
# The named captures of each label, in pattern order: reading only the matched label's groups
# is much cheaper than filtering the whole groupdict() of the alternation.
_LABEL_CAPTURES: tuple[tuple[str, ...], ...] = tuple(
    tuple(sorted((groups := re.compile(spec.pattern).groupindex), key=groups.__getitem__))
    for spec in _ORDERED_LABELS
)
_WHITESPACE_RUN = re.compile(r"\s+")
_NUMBER_CELL = r"(?:-|−|[+-]?\d[\d,]*(?:\.\d+)?)"
_NUMBER_ROW_RE = re.compile(rf"{_NUMBER_CELL}(?:[ \t]+{_NUMBER_CELL})*[ \t]*$")
_INDICATOR_ROW_RE = re.compile(r"([1-9])((?:[ \t]+\S+){8})?[ \t]*$")
_FOOTER_RE = re.compile(r"\d+-\d+[ \t]*$")
_CHECK_ITEM_RE = re.compile(r"([□■])[ \t]*([^□■\s()]+)")
_CHECK_SEPARATOR_RE = re.compile(r"[ \t()]*")
_CHECK_ANNOTATION_RE = re.compile(
    r"[ \t]*\([ \t]*R[ \t]*(?P<end_year>\d*)[ \t]*年度末終了予定[ \t]*\)"
)
_SPACE = " \t"


def normalise(text: str) -> tuple[str, list[int]]:
    """NFKC ``text`` and map each normalised character back to its raw offset.

    The fast path covers the usual case where NFKC only swaps characters one for one
    (full width → half width); otherwise each character is normalised on its own.
    """
    normalised, offsets = _normalise(text)
    return normalised, list(range(len(text) + 1)) if offsets is None else offsets


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """``normalise``, with None for the identity map (the usual case: no list to build)."""
    normalised = unicodedata.normalize("NFKC", text)
    if len(normalised) == len(text):
        return normalised, None
    pieces: list[str] = []
    offsets: list[int] = []
    for raw_index, char in enumerate(text):
        piece = unicodedata.normalize("NFKC", char)
        pieces.append(piece)
        offsets.extend([raw_index] * len(piece))
    offsets.append(len(text))
    return "".join(pieces), offsets


def split_boxes(lines: list[str], first_line: int) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number of the box's first line, lines) for each blank-line separated box."""
    box: list[str] = []
    start = first_line
    for offset, line in enumerate(lines):
        if line.strip():
            if not box:
                start = first_line + offset
            box.append(line)
        elif box:
            yield start, box
            box = []
    if box:
        yield start, box


class _BoxLexer:
    """Lexes one box. Positions are in the NFKC text; raw slices come from ``offsets``."""

    def __init__(self, raw_lines: list[str], first_line: int, box: int):
        self.raw = "\n".join(raw_lines)
        self.norm, self.offsets = _normalise(self.raw)
        self.first_line = first_line
        self.box = box
        # Whitespace-free view of the box for label matching. Positions are mapped through
        # the whitespace runs (a few per box) rather than per-character tables, which cost
        # about half of the parse time: ``run_norm[k]``/``run_compact[k]`` are where run k
        # starts in the norm text and where the text after it starts in the compact text,
        # ``removed[k]`` the whitespace characters before run k.
        self.compact = _WHITESPACE_RUN.sub("", self.norm)
        self.run_norm: list[int] = []
        self.run_compact: list[int] = []
        self.removed: list[int] = [0]
        for run in _WHITESPACE_RUN.finditer(self.norm):
            start, end = run.span()
            self.run_norm.append(start)
            self.run_compact.append(start - self.removed[-1])
            self.removed.append(self.removed[-1] + end - start)
        self.tokens: list[Token] = []

    def norm_to_compact(self, position: int) -> int:
        """Compact position of the first non-space character at or after norm ``position``."""
        run = bisect_left(self.run_norm, position) - 1
        if run >= 0 and self.run_norm[run] + self.removed[run + 1] - self.removed[run] > position:
            return self.run_compact[run]  # inside a run: the text after it
        return position - self.removed[run + 1]

    def compact_to_norm(self, position: int) -> int:
        """Norm position of the compact character at ``position``."""
        return position + self.removed[bisect_right(self.run_compact, position)]

    def line_of(self, position: int) -> int:
        return self.first_line + self.norm.count("\n", 0, position)

    def line_end(self, position: int) -> int:
        end = self.norm.find("\n", position)
        return len(self.norm) if end < 0 else end

    def raw_slice(self, start: int, end: int) -> str:
        if self.offsets is None:
            return self.raw[start:end]
        return self.raw[self.offsets[start] : self.offsets[end]]

    def at_boundary(self, position: int) -> bool:
        return position == 0 or self.norm[position - 1].isspace()

    def ends_at_boundary(self, position: int) -> bool:
        return position >= len(self.norm) or self.norm[position].isspace()

    def match_label(self, position: int) -> tuple[LabelSpec, dict[str, str], int] | None:
        """A label starting at ``position`` and ending at a boundary; returns its end."""
        match = _LABEL_RE.match(self.compact, self.norm_to_compact(position))
        if match is None or match.lastgroup is None:
            return None
        index = int(match.lastgroup[1:])
        end = self.compact_to_norm(match.end() - 1) + 1
        if not self.ends_at_boundary(end):
            return None
        captures = {name: value for name in _LABEL_CAPTURES[index] if (value := match[name])}
        return _ORDERED_LABELS[index], captures, end

    def emit(self, kind: Kind, position: int, end: int | None = None, **fields: object) -> Token:
        line = self.line_of(position)
        end_line = line if end is None else self.line_of(max(position, end - 1))
        inline = bool(self.tokens) and self.tokens[-1].end_line == line
        token = Token(
            kind=kind,
            line=line,
            end_line=end_line,
            box=self.box,
            inline=inline,
            **fields,  # type: ignore[arg-type]
        )
        self.tokens.append(token)
        return token

    def lex(self) -> list[Token]:
        position = 0
        length = len(self.norm)
        while position < length:
            char = self.norm[position]
            if char.isspace():
                position += 1
                continue
            position = self.lex_one(position)
        return self.tokens

    def lex_one(self, position: int) -> int:
        line_start = position == 0 or self.norm[position - 1] == "\n"
        if self.at_boundary(position):
            label = self.match_label(position)
            if label is not None:
                spec, captures, end = label
                self.emit(
                    Kind.LABEL,
                    position,
                    end,
                    key=spec.key,
                    captures=captures,
                    text=self.raw_slice(position, end),
                )
                return end
            rest_end = self.line_end(position)
            rest = self.norm[position:rest_end]
            if self.norm[position] in "□■":
                return self.lex_checks(position)
            if line_start and _FOOTER_RE.fullmatch(rest) and self.is_whole_box(position, rest_end):
                self.emit(Kind.FOOTER, position, text=rest.strip())
                return rest_end
            if (
                line_start
                and (indicator := _INDICATOR_ROW_RE.fullmatch(rest))
                and not self.tokens_on_line(position)
            ):
                cells = tuple(indicator.group(2).split()) if indicator.group(2) else ()
                self.emit(
                    Kind.INDICATOR_ROW, position, key=indicator.group(1), cells=cells, text=rest
                )
                return rest_end
            if _NUMBER_ROW_RE.fullmatch(rest):
                self.emit(Kind.NUMBERS, position, cells=tuple(rest.split()), text=rest.strip())
                return rest_end
        return self.lex_text(position, line_start)

    def tokens_on_line(self, position: int) -> bool:
        line = self.line_of(position)
        return bool(self.tokens) and self.tokens[-1].end_line == line

    def is_whole_box(self, start: int, end: int) -> bool:
        return not self.norm[:start].strip() and not self.norm[end:].strip()

    def lex_checks(self, position: int) -> int:
        """Checkbox items up to the end of the line or the next label on it."""
        end_of_line = self.line_end(position)
        while position < end_of_line:
            item = _CHECK_ITEM_RE.match(self.norm, position, end_of_line)
            if item is None:
                break
            token = self.emit(Kind.CHECK, position, ticked=item.group(1) == "■", text=item.group(2))
            position = item.end()
            annotation = _CHECK_ANNOTATION_RE.match(self.norm, position, end_of_line)
            if annotation is not None:
                token.captures = {"end_year": annotation.group("end_year")}
                position = annotation.end()
            position = _CHECK_SEPARATOR_RE.match(self.norm, position, end_of_line).end()  # type: ignore[union-attr]
            if position < end_of_line and self.norm[position] not in "□■":
                break
        return position

    def lex_text(self, position: int, line_start: bool) -> int:
        """Text up to the end of the line, or up to a label that starts after a space."""
        end_of_line = self.line_end(position)
        cursor = position
        end = end_of_line
        while cursor < end_of_line:
            space = self.norm.find(" ", cursor, end_of_line)
            if space < 0:
                break
            next_start = space
            while next_start < end_of_line and self.norm[next_start].isspace():
                next_start += 1
            if next_start < end_of_line and (
                self.norm[next_start] in "□■" or self.match_label(next_start) is not None
            ):
                end = space
                break
            cursor = next_start
        piece = self.raw_slice(position, end).strip(" \t\u3000")
        previous = self.tokens[-1] if self.tokens else None
        continues = (
            line_start
            and previous is not None
            and previous.kind is Kind.TEXT
            and previous.end_line == self.line_of(position) - 1
        )
        if continues and previous is not None:
            separator = "\n" if piece.startswith("・") else ""
            previous.text += separator + piece
            previous.end_line = self.line_of(position)
        else:
            self.emit(Kind.TEXT, position, text=piece)
        return end


_TokenTemplate = tuple[Kind, int, str, str, tuple[str, ...], dict[str, str], bool, bool, int]


@lru_cache(maxsize=8192)
def _lex_box(text: str) -> tuple[_TokenTemplate, ...]:
    """The tokens of one box with lines counted from 0.

    A box lexes the same wherever it is printed, and most boxes of a dump are the form's own
    (labels, headings, checkbox rows: ~80 % of the boxes of the benchmark corpus repeat), so
    each distinct box is lexed once and its tokens are copied with the box's line numbers.
    """
    return tuple(
        (t.kind, t.line, t.key, t.text, t.cells, t.captures, t.ticked, t.inline, t.end_line)
        for t in _BoxLexer(text.split("\n"), 0, 0).lex()
    )


def lex_lines(lines: list[str], first_line: int = 1, first_box: int = 0) -> list[Token]:
    """Tokens of ``lines`` (comment lines starting with ``#`` must be blanked by the caller)."""
    tokens: list[Token] = []
    append = tokens.append
    for box_number, (start, box_lines) in enumerate(split_boxes(lines, first_line), first_box):
        for kind, line, key, text, cells, captures, ticked, inline, end_line in _lex_box(
            "\n".join(box_lines)
        ):
            # A fresh captures dict per token: tokens are mutable, templates are shared.
            append(
                Token(
                    kind,
                    start + line,
                    box_number,
                    key,
                    text,
                    cells,
                    dict(captures),
                    ticked,
                    inline,
                    start + end_line,
                )
            )
    return tokens
