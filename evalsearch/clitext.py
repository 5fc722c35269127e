"""The CLI's own words in Japanese, at 80 columns: help layout and usage errors.

Typer (through its own copy of click, ``typer._click``, which has no translations) writes help and usage errors in English and wraps text by
character count, so a line of Japanese (two columns a character) runs to twice the terminal
width. ``JapaneseHelpFormatter`` wraps by display width (``rich.cells.cell_len``) and names its
sections in Japanese; ``usage_error_text`` turns click's usage errors into Japanese. Only
``evalsearch.cli`` imports this module.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.cells import cell_len
from typer._click.core import Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer._click.formatting import HelpFormatter
from typer._click.utils import echo
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import Abort

INTERRUPTED = 130
"""Typer's exit code for Ctrl-C."""

HELP_WIDTH = 80
"""Columns of help text (the narrowest terminal a planner is likely to use)."""

SECTION_NAMES = {
    "Options": "オプション",
    "Arguments": "引数",
    "Commands": "コマンド",
}

_HELP_WORDS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"\[OPTIONS\]"), "[オプション]"),
    (re.compile(r"COMMAND \[ARGS\]\.\.\."), "コマンド [引数]..."),
    (re.compile(r"\{(\w+)\}"), lambda match: match.group(1).upper()),
    (re.compile(r"\[required\]"), "［必須］"),
    (re.compile(r"\[default: ([^;\]]*)(?:; ([^\]]*))?\]"), r"［既定: \1］"),
    (re.compile(r"\[(x>=\S+?|\S+<=x<=\S+?)\]"), ""),
    (re.compile(r"Show this message and exit\."), "このヘルプを表示して終了する。"),
    (re.compile(r" ?<list\[str\]>"), ""),
    (re.compile(r"<(int|int range)>"), "<整数>"),
    (re.compile(r"<(float|float range)>"), "<数>"),
    (re.compile(r"<str>"), "<文字列>"),
    (re.compile(r"<path>"), "<パス>"),
)
"""Typer's English words in help text, in Japanese (ranges are already said in the help)."""


def japanese_help(text: str) -> str:
    for pattern, replacement in _HELP_WORDS:
        text = pattern.sub(replacement, text)
    return text.rstrip()


_BREAKABLE = re.compile(r"(\s+)")


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` display columns. Breaks at spaces, and inside Japanese runs
    between any two characters (Japanese has no spaces to break at), never inside ASCII words.
    """
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for piece in _pieces(paragraph):
            candidate = line + piece
            if cell_len(candidate) <= width or not line.strip():
                line = candidate
                while cell_len(line) > width:  # one piece wider than the line (a long word)
                    cut = _fit(line, width)
                    lines.append(line[:cut].rstrip())
                    line = line[cut:]
                continue
            lines.append(line.rstrip())
            line = piece.lstrip()
        lines.append(line.rstrip())
    return lines


def _pieces(text: str) -> list[str]:
    """Units that may not be split: an ASCII word with what follows up to the next space, or
    one wide character (with a closing punctuation mark kept to it)."""
    pieces: list[str] = []
    for chunk in _BREAKABLE.split(text):
        if not chunk:
            continue
        if chunk.isspace() or chunk.isascii():
            pieces.append(chunk)
            continue
        run = ""
        for char in chunk:
            if char.isascii():
                run += char
                continue
            if run:
                pieces.append(run)
                run = ""
            if pieces and char in "、。，．）」』】〕：" and not pieces[-1].isspace():
                pieces[-1] += char
            else:
                pieces.append(char)
        if run:
            pieces.append(run)
    return pieces


def _fit(text: str, width: int) -> int:
    used = 0
    for index, char in enumerate(text):
        used += cell_len(char)
        if used > width:
            return max(1, index)
    return len(text)


class JapaneseHelpFormatter(HelpFormatter):
    """click's help formatter with Japanese section names, wrapping by display width."""

    def __init__(self, indent_increment: int = 2, width: int | None = None, **_: Any) -> None:
        super().__init__(indent_increment=indent_increment, width=HELP_WIDTH - 2)

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        args = japanese_help(args)
        start = f"{'':>{self.current_indent}}使い方: {prog} "
        indent = " " * 4
        lines = wrap(args, self.width - cell_len(start))
        self.write(start + (lines[0] if lines else "") + "\n")
        for line in lines[1:]:
            self.write(indent + line + "\n")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{SECTION_NAMES.get(heading, heading)}:\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        for line in wrap(japanese_help(text), self.width - self.current_indent):
            self.write(f"{indent}{line}\n" if line else "\n")

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 24, col_spacing: int = 2
    ) -> None:
        rows = [(japanese_help(first), japanese_help(second)) for first, second in rows]
        first_width = min(max((cell_len(first) for first, _ in rows), default=0), col_max)
        column = first_width + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if cell_len(first) <= first_width:
                self.write(" " * (column - cell_len(first)))
            else:
                self.write("\n" + " " * (column + self.current_indent))
            lines = wrap(second, max(self.width - column - self.current_indent, 20))
            self.write(lines[0] + "\n")
            for line in lines[1:]:
                self.write(" " * (column + self.current_indent) + line + "\n")


class _JapaneseContext(Context):
    formatter_class = JapaneseHelpFormatter


class JapaneseGroup(TyperGroup):
    """The command group: Japanese help, and usage errors reported in Japanese."""

    context_class = _JapaneseContext

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        # Typer's standalone mode prints click's English; run it non-standalone and report
        # what it raises ourselves.
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as error:
            echo(error.format_message(), err=True)
            sys.exit(error.exit_code)
        except UsageError as error:
            echo(usage_error_text(error), err=True)
            sys.exit(error.exit_code)
        except ClickException as error:
            echo(f"エラー: {translate(error.format_message())}", err=True)
            sys.exit(error.exit_code)
        except Abort:
            echo("中断しました。", err=True)
            sys.exit(1)
        if result == INTERRUPTED:
            echo("中断しました（索引は前のまま使えます）。", err=True)
        sys.exit(result if isinstance(result, int) else 0)


class JapaneseCommand(TyperCommand):
    context_class = _JapaneseContext


_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^Got unexpected extra arguments?(?:\(s\))? \((.*)\)$"),
        r"余分な引数があります（\1）。",
    ),
    (
        re.compile(r"^No such option: (\S+) \(Possible options: (.*)\)$"),
        r"オプション \1 はありません（近いもの: \2）。",
    ),
    (
        re.compile(r"^No such option: (\S+)(?: Did you mean (\S+)\?)?$"),
        r"オプション \1 はありません。",
    ),
    (re.compile(r"^No such command '(.*)'\.$"), r"コマンド「\1」はありません。"),
    (re.compile(r"^Missing argument '(.*)'\.$"), r"引数 \1 を指定してください。"),
    (
        re.compile(r"^Missing option '([^']*)'(?: / '[^']*')*\.$"),
        r"オプション \1 を指定してください。",
    ),
    (re.compile(r"^Option '(.*)' requires an argument\.$"), r"オプション \1 には値が必要です。"),
    (re.compile(r"^Option '(.*)' does not take a value\.$"), r"オプション \1 は値をとりません。"),
    (re.compile(r"^'(.*)' is not a valid integer\.$"), r"「\1」は整数ではありません。"),
    (re.compile(r"^'(.*)' is not a valid float\.$"), r"「\1」は数ではありません。"),
    (
        re.compile(r"^(\S+) is not in the range (\S+)>=(\S+)\.$"),
        r"\1 は使えません。\3 以上にしてください。",
    ),
    (
        re.compile(r"^(\S+) is not in the range (\S+)<=x<=(\S+)\.$"),
        r"\1 は使えません。\2 以上 \3 以下にしてください。",
    ),
    (re.compile(r"^'(.*)' is not one of (.*)\.$"), r"「\1」は選べません。次のどれかです: \2。"),
    (
        re.compile(r"^Input should be greater than or equal to (\S+)$"),
        r"\1 以上にしてください。",
    ),
    (re.compile(r"^Input should be less than or equal to (\S+)$"), r"\1 以下にしてください。"),
    (re.compile(r"^Input should be a valid integer.*$"), "整数を指定してください。"),
    (re.compile(r"^Input should be a valid number.*$"), "数を指定してください。"),
    (re.compile(r"^Input should be (.*)$"), r"次のどれかにしてください: \1。"),
    (re.compile(r"^Invalid value for (.*?): (.*)$"), r"\1 の値が正しくありません: \2"),
)


def translate(message: str) -> str:
    """click's English usage-error message in Japanese (as is when no pattern knows it)."""
    message = message.removeprefix("Value error, ")
    for _ in range(2):  # "Invalid value for X: <inner message>" holds a second message
        for pattern, replacement in _MESSAGES:
            match = pattern.match(message)
            if match:
                translated = match.expand(replacement)
                if pattern.pattern.startswith("^Invalid value"):
                    head, _, inner = translated.partition(": ")
                    return f"{head}: {translate(inner)}"
                return translated
    return message


def usage_error_text(error: Any) -> str:
    """The text shown for a click ``UsageError``: usage line, help hint, Japanese message."""
    lines = []
    context = getattr(error, "ctx", None)
    if context is not None:
        lines.append(context.get_usage())
        lines.append(f"詳しくは `{context.command_path} --help` を見てください。")
        lines.append("")
    lines.append(f"エラー: {translate(error.format_message())}")
    return "\n".join(lines)
