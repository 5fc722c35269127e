"""Group consecutive checkbox items into the form's checkbox groups."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from evalsearch.errors import ParseError
from evalsearch.parse.form import CHECK_GROUPS
from evalsearch.parse.lexer import Token

_GROUPS: dict[str, tuple[str, ...]] = {
    name: tuple(unicodedata.normalize("NFKC", option) for option in options)
    for name, options in CHECK_GROUPS.items()
}
# Longest sequences first: the カ row (ある, 検討の必要性がある, …) starts like the ウエオ row.
_BY_LENGTH = sorted(_GROUPS.items(), key=lambda item: len(item[1]), reverse=True)
_KNOWN_OPTIONS = {option for options in _GROUPS.values() for option in options}


@dataclass(frozen=True)
class CheckGroup:
    """One printed checkbox group, e.g. ``□ある ■一部ある □ない``."""

    name: str
    ticked: tuple[str, ...]
    line: int
    box: int
    end_year: str | None = None
    """The year written into 終期設定あり（R__年度末終了予定）, when the group has one."""

    @property
    def single(self) -> str | None:
        """The ticked option when exactly one is ticked."""
        return self.ticked[0] if len(self.ticked) == 1 else None


def group_checks(run: Sequence[Token], *, file: str, sheet: int) -> list[CheckGroup]:
    """Split a run of adjacent checkbox tokens into groups; unknown options are errors."""
    for token in run:
        if token.text not in _KNOWN_OPTIONS:
            raise ParseError(
                f"{token.line}行目: 不明なチェック項目「{token.text}」があります。"
                "様式の選択肢（例: □ある　□一部ある　□ない）と照らして確認してください",
                file=file,
                sheet=sheet,
            )
    groups: list[CheckGroup] = []
    position = 0
    while position < len(run):
        texts = [token.text for token in run[position:]]
        for name, options in _BY_LENGTH:
            if tuple(texts[: len(options)]) == options:
                items = run[position : position + len(options)]
                end_year = next(
                    (token.captures["end_year"] for token in items if "end_year" in token.captures),
                    None,
                )
                groups.append(
                    CheckGroup(
                        name=name,
                        ticked=tuple(token.text for token in items if token.ticked),
                        line=items[0].line,
                        box=items[0].box,
                        end_year=end_year,
                    )
                )
                position += len(options)
                break
        else:
            token = run[position]
            raise ParseError(
                f"{token.line}行目: チェック欄「{token.text}」の並びが様式と一致しません"
                "（選択肢の欠落や途中切れの可能性があります）",
                file=file,
                sheet=sheet,
            )
    return groups
