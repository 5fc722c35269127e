"""Command-line interface: each command parses options, calls one library function, renders.

Nothing imports this module. Library errors (``EvalSearchError``) become a Japanese message on
stderr and exit code 1; usage errors are click's (exit code 2).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from evalsearch.errors import EvalSearchError

app = typer.Typer(
    help="事務事業評価シートの検索・比較エンジン。",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Turn library errors into a message and exit code 1 instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EvalSearchError as error:
            stderr.print(f"エラー: {error}", markup=False, highlight=False)
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]


def main() -> None:
    app(prog_name="evalsearch")


if __name__ == "__main__":
    sys.exit(main())
