"""Form profiles: what one municipality's evaluation sheet asks and where a table keeps it.

A profile is a TOML file (``nemuro.toml``, ``ofunato.toml`` ship with evalsearch; users add
their own in the directory named by ``EVALSEARCH_FORMS``). It is validated on load; every
mistake is a ``FormProfileError`` naming the key and its line, because the people who write
profiles are planners, not programmers.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NoReturn

from evalsearch.errors import FormProfileError
from evalsearch.forms.concepts import CONCEPTS, INTEGRATION, PASSAGE_FIELDS
from evalsearch.records import BUDGET_ROWS, Direction

__all__ = [
    "CONCEPTS",
    "ENV_VAR",
    "ERAS",
    "INTEGRATION",
    "PASSAGE_FIELDS",
    "SCALAR_TARGETS",
    "CheckItem",
    "ColumnMap",
    "DirectionSpec",
    "FormProfile",
    "Passage",
    "TableSpec",
    "check_profile",
    "get_profile",
    "list_profiles",
    "load_profile",
    "parse_profile",
]

ENV_VAR = "EVALSEARCH_FORMS"
"""Directory of the user's own profiles (``*.toml``), read in addition to the shipped ones."""

PROJECT_NAME_KEY = "事業名"
"""Passage key of the project name; every record has it, so no profile may reuse it."""

ERAS: dict[str, int] = {"令和": 2018, "平成": 1988}

SCALAR_TARGETS: dict[str, str] = {
    "project_no": "事業番号",
    "project_name": "事業名",
    "department": "主管課・部課名",
    "section": "係・担当",
    "policy_area": "施策（施策区分）",
    "policy_goal": "政策（施策目標）",
    "affairs_type": "事務区分",
    "evaluation_stage": "評価時期",
    "fiscal_year": "年度",
    "created": "作成日",
    "created_year": "作成年",
    "created_month": "作成月",
    "created_day": "作成日（日）",
    "page": "ページ",
    "direction": "方向性の選択",
    "direction_measures": "方向性の手段",
    "direction_end_year": "方向性の終期",
}
"""Table-column targets that fill one record field; ``answer:KEY``, ``reason:KEY``,
``text:KEY`` and ``budget:ROW`` are the keyed ones."""

KEYED_TARGETS: tuple[str, ...] = ("answer", "reason", "text", "budget")
REQUIRED_TARGETS: tuple[str, ...] = ("project_no", "project_name")
Reader = Literal["text_dump", "table"]
READERS: tuple[str, ...] = ("text_dump", "table")
_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True)
class CheckItem:
    """One check question of the form (根室市 ア, 大船渡市 ①): its answer options as printed."""

    key: str
    label: str
    question: str
    options: tuple[str, ...]
    concept: str | None = None


@dataclass(frozen=True)
class Passage:
    """A free-text box other than the check reasons. ``field`` names the SheetRecord attribute
    it fills; without one the text goes to ``record.texts[key]``."""

    key: str
    label: str
    concept: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class DirectionSpec:
    """The closing decision (今後の方向性, 改革改善の方向性) and which options mean 統合."""

    label: str
    options: tuple[str, ...]
    measures: tuple[str, ...] = ()
    end_year_option: str | None = None
    integration: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnMap:
    """One table column: its header as printed and the record field it fills."""

    header: str
    field: str

    @property
    def kind(self) -> str:
        return self.field.split(":", 1)[0]

    @property
    def key(self) -> str | None:
        return self.field.split(":", 1)[1] if ":" in self.field else None


@dataclass(frozen=True)
class TableSpec:
    """How to read a table (.xlsx / .csv): one row per sheet, columns found by header."""

    columns: tuple[ColumnMap, ...]
    sheet: str | None = None


@dataclass(frozen=True)
class FormProfile:
    """One municipality's form: its questions and passages, and how its files are read."""

    id: str
    municipality: str
    name: str
    reader: Reader
    items: tuple[CheckItem, ...]
    passages: tuple[Passage, ...] = ()
    direction: DirectionSpec | None = None
    fiscal_year: int | None = None
    """Used when the table has no 年度 column (or the cell is empty)."""
    era: str = "令和"
    """The era of years typed as small numbers (年度 ``7`` → 令和7 → 2025)."""
    budget_columns: tuple[str, ...] = ()
    table: TableSpec | None = None
    description: str = ""
    source: str = field(default="", compare=False)
    """The file the profile was loaded from."""

    def item(self, key: str) -> CheckItem:
        for item in self.items:
            if item.key == key:
                return item
        keys = "・".join(item.key for item in self.items)
        raise FormProfileError(f"様式「{self.id}」に設問「{key}」はありません（設問: {keys}）")

    def keys_for_concept(self, concept: str) -> tuple[str, ...]:
        """Item and passage keys tagged with ``concept``, in form order."""
        _check_concept_name(concept)
        return tuple(entry.key for entry in self._entries() if entry.concept == concept)

    def direction_options_for_concept(self, concept: str) -> tuple[str, ...]:
        """Direction options (decisions or measures) that carry ``concept`` (only 統合 so far)."""
        _check_concept_name(concept)
        if concept != INTEGRATION or self.direction is None:
            return ()
        return self.direction.integration

    def means_integration(self, direction: Direction) -> bool:
        """Whether the record's decision or measures announce a merger on this form."""
        chosen = {direction.decision, *direction.measures}
        return bool(chosen & set(self.direction_options_for_concept(INTEGRATION)))

    def passage_label(self, key: str) -> str:
        """The label of a check item or passage (what the form prints for it)."""
        if key == PROJECT_NAME_KEY:
            return "事務事業名"
        for entry in self._entries():
            if entry.key == key:
                return entry.label
        raise FormProfileError(
            f"様式「{self.id}」に記述「{key}」はありません（記述: {'・'.join(self.passage_keys)}）"
        )

    def _entries(self) -> tuple[CheckItem | Passage, ...]:
        return (*self.items, *self.passages)

    @property
    def passage_keys(self) -> tuple[str, ...]:
        """Every searchable passage key: item reasons, other passages, then 事業名."""
        return (
            *(item.key for item in self.items),
            *(passage.key for passage in self.passages),
            PROJECT_NAME_KEY,
        )

    def passage(self, key: str) -> Passage | None:
        return next((passage for passage in self.passages if passage.key == key), None)

    def year_from_era(self, year: int) -> int:
        """A year typed in the profile's era (7) as a western year (2025); 4-digit years pass."""
        return year if year >= 1000 else ERAS[self.era] + year


def _check_concept_name(concept: str) -> None:
    if concept not in CONCEPTS:
        raise FormProfileError(
            f"concept「{concept}」は使えません。使える concept: {'、'.join(CONCEPTS)}"
        )


# --- loading -------------------------------------------------------------------------------

KeyPath = tuple[str | int, ...]

_TOML_MESSAGES: tuple[tuple[str, str], ...] = (
    (
        "Invalid value",
        '値の書き方が正しくありません（文字列は "…" で囲み、配列は [ … ] で閉じます）',
    ),
    ("Cannot overwrite a value", "同じキーが 2 回書かれています"),
    ("Cannot declare", "同じ表の見出し [ … ] が 2 回あります"),
    ("Expected '=' after a key", "キーの後に「=」がありません"),
    ("Expected ']' at the end of a table", "表の見出しの「]」が閉じていません"),
    ("Expected ']]' at the end of an array", "見出し [[ … ]] の「]]」が閉じていません"),
    (
        "Expected newline or end of document",
        "値の後に余計な文字があります（1 行に 1 つのキーを書きます）",
    ),
    ("Invalid date or datetime", "日付の書き方が正しくありません"),
    ("Invalid hex value", "\\u の後の 16 進数が正しくありません"),
    (
        "Invalid initial character for a key",
        'キーの書き方が正しくありません（日本語のキーは "…" で囲みます）',
    ),
    ("Invalid statement", "TOML として読めない行です"),
    ("Unclosed array", "配列の「]」が閉じていません"),
    ("Unclosed inline table", "「{」が閉じていません"),
    ("Unterminated string", "文字列の引用符が閉じていません"),
    ("Unescaped '\\'", "文字列の中の「\\」は「\\\\」と書いてください"),
    ("Escaped character is not a Unicode", "\\u の後の文字コードが正しくありません"),
    ("Illegal character '\\n'", "文字列の引用符が行の終わりまでに閉じていません"),
    ("Illegal character", "文字列に使えない文字（制御文字など）があります"),
    ("Found invalid character", "使えない文字があります"),
    ("Duplicate inline table key", "{ … } の中で同じキーが 2 回書かれています"),
    ("Cannot mutate immutable namespace", "{ … } で書いた表に後から値を足すことはできません"),
    ("Cannot redefine namespace", "値として書いたキーを表として書き直すことはできません"),
    ("Expected", "必要な記号がありません"),
)
_TOML_WHERE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _toml_error(error: tomllib.TOMLDecodeError, text: str, file: str) -> FormProfileError:
    """tomllib's English message and position, in Japanese with the line for FormProfileError."""
    raw = str(error)
    where = _TOML_WHERE.search(raw)
    reason = raw[: where.start()] if where else raw
    japanese = next((ja for en, ja in _TOML_MESSAGES if reason.startswith(en)), None)
    message = japanese if japanese else f"TOML として読めません（{reason}）"
    if where and where.group(1):
        return FormProfileError(
            f"TOML の書き方に誤りがあります（{where.group(2)} 文字目）: {message}",
            file=file,
            line=int(where.group(1)),
        )
    last = max(1, len(text.splitlines()))
    return FormProfileError(
        f"TOML の書き方に誤りがあります（ファイルの終わりまでに閉じていないものがあります）: {message}",
        file=file,
        line=last,
    )


_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_RE = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")


def _dotted(name: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in name.split("."))


def _locate(text: str, path: KeyPath, hint: str | None = None) -> int | None:
    """The 1-based line where ``path`` (e.g. ``("items", 2, "options")``) is written.

    tomllib returns plain dicts without positions, so the line is found by scanning the text:
    first the table header the path lives under (counting ``[[…]]`` repeats), then the key
    inside it, then ``hint`` (an offending value) on or after that line. A missing key points
    at its table's header.
    """
    lines = text.splitlines()
    sections: list[tuple[int, KeyPath]] = [(0, ())]
    counters: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(lines):
        match = _HEADER_RE.match(line)
        if not match:
            continue
        names = _dotted(match.group(2))
        if match.group(1) == "[[":
            index = counters.get(names, 0)
            counters[names] = index + 1
            sections.append((number, (*names, index)))
        else:
            sections.append((number, names))
    best = 0
    for position, (_, section_path) in enumerate(sections):
        if path[: len(section_path)] == section_path and len(section_path) >= len(
            sections[best][1]
        ):
            best = position
    start, prefix = sections[best]
    end = sections[best + 1][0] if best + 1 < len(sections) else len(lines)
    found: int | None = start if prefix else None
    rest = path[len(prefix) :]
    if rest and isinstance(rest[0], str):
        for number in range(start, end):
            match = _KEY_RE.match(lines[number])
            if match and rest[0] in match.groups():
                found = number
                break
    if hint and found is not None:
        for number in range(found, end):
            if hint in lines[number]:
                return number + 1
    return None if found is None else found + 1


def _display(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Reader:
    """Typed access to the parsed TOML; every mistake names the key and the line it is on."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file

    def fail(self, path: KeyPath, message: str, hint: str | None = None) -> NoReturn:
        raise FormProfileError(
            f"キー「{_display(path)}」: {message}",
            file=self.file,
            line=_locate(self.text, path, hint),
        )

    def keys(
        self,
        table: Mapping[str, Any],
        path: KeyPath,
        allowed: Sequence[str],
        required: Sequence[str] = (),
    ) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                guess = f"「{close[0]}」の書き誤りではありませんか。" if close else ""
                self.fail(
                    (*path, key), f"知らないキーです。{guess}使えるキー: {', '.join(allowed)}"
                )
        for key in required:
            if key not in table:
                where = f"{_display(path)} に" if path else ""
                raise FormProfileError(
                    f"{where}必須のキー「{key}」がありません",
                    file=self.file,
                    line=_locate(self.text, path),
                )

    def table(self, value: Any, path: KeyPath) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, "表（[見出し] の下にキー = 値 を並べたもの）で書いてください")
        return value

    def tables(self, value: Any, path: KeyPath) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.fail(path, f"[[{_display(path)}]] の見出しを繰り返して書いてください")
        return value

    def string(self, table: Mapping[str, Any], key: str, path: KeyPath) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail((*path, key), '空でない文字列（"…"）で書いてください')
        return value

    def optional_string(self, table: Mapping[str, Any], key: str, path: KeyPath) -> str | None:
        return None if key not in table else self.string(table, key, path)

    def strings(
        self, table: Mapping[str, Any], key: str, path: KeyPath, *, allow_empty: bool = False
    ) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            self.fail((*path, key), '空でない文字列の配列（["…", "…"]）で書いてください')
        if not value and not allow_empty:
            self.fail((*path, key), "1 つ以上書いてください")
        seen: set[str] = set()
        for item in value:
            if item in seen:
                self.fail((*path, key), f"「{item}」が 2 回書かれています", hint=item)
            seen.add(item)
        return tuple(value)

    def concept(self, table: Mapping[str, Any], path: KeyPath) -> str | None:
        concept = self.optional_string(table, "concept", path)
        if concept is not None and concept not in CONCEPTS:
            close = difflib.get_close_matches(concept, CONCEPTS, n=1, cutoff=0.4)
            guess = f"「{close[0]}」のことですか。" if close else ""
            self.fail(
                (*path, "concept"),
                f"concept「{concept}」は決まった語彙にありません。{guess}"
                f"使える concept: {'、'.join(CONCEPTS)}",
            )
        return concept


_TOP_KEYS = (
    "id",
    "municipality",
    "name",
    "description",
    "reader",
    "fiscal_year",
    "era",
    "items",
    "passages",
    "direction",
    "budget",
    "table",
)


def parse_profile(text: str, *, file: str = "<profile>") -> FormProfile:
    """A validated profile from TOML text (``file`` names it in messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _toml_error(error, text, file) from None
    read = _Reader(text, file)
    read.keys(data, (), _TOP_KEYS, ("id", "municipality", "name", "reader", "items"))

    profile_id = read.string(data, "id", ())
    if not _ID_RE.fullmatch(profile_id):
        read.fail(("id",), "半角の英小文字・数字・「-」「_」で書いてください（例: ofunato）")
    reader = read.string(data, "reader", ())
    if reader not in READERS:
        read.fail(("reader",), f'「{reader}」は使えません。"table" か "text_dump" です')
    fiscal_year = data.get("fiscal_year")
    if fiscal_year is not None and (
        not isinstance(fiscal_year, int) or isinstance(fiscal_year, bool) or fiscal_year < 1900
    ):
        read.fail(("fiscal_year",), "西暦の年度を数で書いてください（例: 2025）")
    era = data.get("era", "令和")
    if era not in ERAS:
        read.fail(("era",), f"「{era}」は使えません。{' か '.join(ERAS)} です")

    items = _items(read, data)
    passages = _passages(read, data, {item.key for item in items})
    direction = _direction(read, data)
    budget_columns = _budget(read, data)
    table = _table(read, data, reader, items, passages, direction, budget_columns)
    if reader == "table" and fiscal_year is None:
        assert table is not None
        if not any(column.field == "fiscal_year" for column in table.columns):
            read.fail(
                ("table", "columns"),
                "年度が決まりません。年度の列を fiscal_year に割り当てるか、"
                "最上位に fiscal_year = 2025 のように書いてください",
            )
    return FormProfile(
        id=profile_id,
        municipality=read.string(data, "municipality", ()),
        name=read.string(data, "name", ()),
        description=read.optional_string(data, "description", ()) or "",
        reader="table" if reader == "table" else "text_dump",
        items=items,
        passages=passages,
        direction=direction,
        fiscal_year=fiscal_year,
        era=era,
        budget_columns=budget_columns,
        table=table,
        source=file,
    )


def _items(read: _Reader, data: Mapping[str, Any]) -> tuple[CheckItem, ...]:
    entries = read.tables(data["items"], ("items",))
    if not entries:
        read.fail(("items",), "設問を 1 つ以上 [[items]] で書いてください")
    items: list[CheckItem] = []
    for index, entry in enumerate(entries):
        path: KeyPath = ("items", index)
        read.keys(
            entry,
            path,
            ("key", "label", "question", "options", "concept"),
            ("key", "label", "question", "options"),
        )
        key = read.string(entry, "key", path)
        if any(item.key == key for item in items):
            read.fail((*path, "key"), f"設問のキー「{key}」が 2 回使われています")
        items.append(
            CheckItem(
                key=key,
                label=read.string(entry, "label", path),
                question=read.string(entry, "question", path),
                options=read.strings(entry, "options", path),
                concept=read.concept(entry, path),
            )
        )
    return tuple(items)


def _passages(read: _Reader, data: Mapping[str, Any], item_keys: set[str]) -> tuple[Passage, ...]:
    passages: list[Passage] = []
    for index, entry in enumerate(read.tables(data.get("passages", []), ("passages",))):
        path: KeyPath = ("passages", index)
        read.keys(entry, path, ("key", "label", "concept", "field"), ("key", "label"))
        key = read.string(entry, "key", path)
        if key == PROJECT_NAME_KEY:
            read.fail((*path, "key"), f"「{PROJECT_NAME_KEY}」は事業名のために予約されています")
        if key in item_keys or any(passage.key == key for passage in passages):
            read.fail((*path, "key"), f"キー「{key}」は設問か別の記述で使われています")
        record_field = read.optional_string(entry, "field", path)
        if record_field is not None:
            if record_field not in PASSAGE_FIELDS:
                choices = "、".join(f"{name}（{what}）" for name, what in PASSAGE_FIELDS.items())
                read.fail(
                    (*path, "field"),
                    f"「{record_field}」は使えません。使える field: {choices}。"
                    "書かなければ record.texts に入ります",
                )
            if any(passage.field == record_field for passage in passages):
                read.fail((*path, "field"), f"field「{record_field}」は別の記述が使っています")
        passages.append(
            Passage(
                key=key,
                label=read.string(entry, "label", path),
                concept=read.concept(entry, path),
                field=record_field,
            )
        )
    return tuple(passages)


def _direction(read: _Reader, data: Mapping[str, Any]) -> DirectionSpec | None:
    if "direction" not in data:
        return None
    path: KeyPath = ("direction",)
    entry = read.table(data["direction"], path)
    read.keys(
        entry,
        path,
        ("label", "options", "measures", "end_year_option", "integration"),
        ("label", "options"),
    )
    options = read.strings(entry, "options", path)
    measures = read.strings(entry, "measures", path, allow_empty=True)
    end_year_option = read.optional_string(entry, "end_year_option", path)
    if end_year_option is not None and end_year_option not in options:
        read.fail((*path, "end_year_option"), "options に書いた選択肢のどれかを書いてください")
    integration = read.strings(entry, "integration", path, allow_empty=True)
    for option in integration:
        if option not in options and option not in measures:
            read.fail(
                (*path, "integration"),
                f"「{option}」は options にも measures にもありません",
                hint=option,
            )
    return DirectionSpec(
        label=read.string(entry, "label", path),
        options=options,
        measures=measures,
        end_year_option=end_year_option,
        integration=integration,
    )


def _budget(read: _Reader, data: Mapping[str, Any]) -> tuple[str, ...]:
    if "budget" not in data:
        return ()
    entry = read.table(data["budget"], ("budget",))
    read.keys(entry, ("budget",), ("columns",), ("columns",))
    return read.strings(entry, "columns", ("budget",))


def _table(
    read: _Reader,
    data: Mapping[str, Any],
    reader: str,
    items: Sequence[CheckItem],
    passages: Sequence[Passage],
    direction: DirectionSpec | None,
    budget_columns: Sequence[str],
) -> TableSpec | None:
    if reader != "table":
        if "table" in data:
            read.fail(("table",), 'reader = "text_dump" の様式に [table] は書けません')
        return None
    if "table" not in data:
        raise FormProfileError(
            'reader = "table" の様式には [table] と columns（見出し → 項目の対応）が必要です',
            file=read.file,
            line=_locate(read.text, ("reader",)),
        )
    path: KeyPath = ("table",)
    entry = read.table(data["table"], path)
    read.keys(entry, path, ("columns", "sheet"), ("columns",))
    sheet = read.optional_string(entry, "sheet", path)
    raw = entry["columns"]
    if not isinstance(raw, list) or not raw:
        read.fail(
            (*path, "columns"), '{ header = "見出し", field = "項目" } の配列で書いてください'
        )
    item_keys = {item.key for item in items}
    passage_keys = {passage.key for passage in passages}
    columns: list[ColumnMap] = []
    for index, column in enumerate(raw):
        where: KeyPath = (*path, "columns", index)
        if not isinstance(column, dict) or set(column) != {"header", "field"}:
            read.fail(
                where,
                '{ header = "見出し", field = "項目" } の形で書いてください',
                hint=_hint(column),
            )
        header, target = column["header"], column["field"]
        if not isinstance(header, str) or not "".join(header.split()):
            read.fail(where, "header は空でない文字列で書いてください", hint=_hint(column))
        if not isinstance(target, str):
            read.fail(where, "field は文字列で書いてください", hint=header)
        problem = _target_problem(target, item_keys, passage_keys, direction, budget_columns)
        if problem:
            read.fail(where, f"見出し「{header}」の field「{target}」: {problem}", hint=header)
        # Budget rows repeat one header per year; every other field takes exactly one column.
        if not target.startswith("budget:"):
            for earlier in columns:
                if earlier.field == target:
                    read.fail(
                        where,
                        f"field「{target}」に 2 つの列（「{earlier.header}」と「{header}」）が"
                        "割り当てられています",
                        hint=header,
                    )
        columns.append(ColumnMap(header=header, field=target))
    for required in REQUIRED_TARGETS:
        if not any(column.field == required for column in columns):
            read.fail(
                (*path, "columns"),
                f'{SCALAR_TARGETS[required]}の列（field = "{required}"）がありません',
            )
    return TableSpec(columns=tuple(columns), sheet=sheet)


def _hint(column: object) -> str | None:
    if isinstance(column, dict):
        for key in ("header", "field"):
            if isinstance(column.get(key), str):
                return str(column[key])
    return None


def _target_problem(
    target: str,
    item_keys: set[str],
    passage_keys: set[str],
    direction: DirectionSpec | None,
    budget_columns: Sequence[str],
) -> str | None:
    """Why ``target`` is not a field a column can fill (None if it is)."""
    if ":" not in target:
        if target not in SCALAR_TARGETS:
            close = difflib.get_close_matches(target, [*SCALAR_TARGETS, *KEYED_TARGETS], n=1)
            guess = f"「{close[0]}」のことですか。" if close else ""
            return (
                f"知らない項目です。{guess}使える項目: {', '.join(SCALAR_TARGETS)}、"
                "answer:設問, reason:設問, text:記述, budget:予算の行"
            )
        if target.startswith("direction") and direction is None:
            return "[direction] がないので方向性の列は割り当てられません"
        return None
    kind, key = target.split(":", 1)
    if kind in ("answer", "reason"):
        return None if key in item_keys else f"設問「{key}」は [[items]] にありません"
    if kind == "text":
        return None if key in passage_keys else f"記述「{key}」は [[passages]] にありません"
    if kind == "budget":
        if not budget_columns:
            return "[budget] の columns（年度の列名）がないので予算の列は割り当てられません"
        return None if key in BUDGET_ROWS else f"予算の行は {', '.join(BUDGET_ROWS)} のどれかです"
    return f"「{kind}:」は使えません。answer: / reason: / text: / budget: のどれかです"


def load_profile(path: str | Path) -> FormProfile:
    """Read and validate one profile file."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise FormProfileError("様式ファイルが見つかりません", file=str(path)) from None
    except UnicodeDecodeError:
        raise FormProfileError(
            "UTF-8 で保存してください（TOML は UTF-8 と決まっています）", file=str(path)
        ) from None
    except OSError as error:
        raise FormProfileError(
            f"様式ファイルを読めません（{error.strerror}）", file=str(path)
        ) from None
    return parse_profile(text, file=str(path))


def check_profile(path: str | Path) -> FormProfile:
    """Validate a profile as ``list_profiles`` would use it, including its id being free."""
    profile = load_profile(path)
    for shipped in _shipped():
        if shipped.id == profile.id and Path(shipped.source).resolve() != Path(path).resolve():
            raise FormProfileError(
                f"id「{profile.id}」は evalsearch に付属の様式（{shipped.municipality}）が"
                "使っています。別の id にしてください",
                file=str(path),
                line=_locate(Path(path).read_text("utf-8-sig"), ("id",)),
            )
    return profile


@functools.cache
def _shipped() -> tuple[FormProfile, ...]:
    files = sorted(
        (entry for entry in resources.files(__name__).iterdir() if entry.name.endswith(".toml")),
        key=lambda entry: entry.name,
    )
    return tuple(parse_profile(entry.read_text("utf-8"), file=str(entry)) for entry in files)


def _user_profiles() -> Iterator[FormProfile]:
    directory = os.environ.get(ENV_VAR)
    if not directory:
        return
    root = Path(directory)
    if not root.is_dir():
        raise FormProfileError(
            f"環境変数 {ENV_VAR} のディレクトリがありません。様式（*.toml）を置いた"
            "ディレクトリを指定するか、変数を消してください",
            file=directory,
        )
    for path in sorted(root.glob("*.toml")):
        yield load_profile(path)


def list_profiles() -> list[FormProfile]:
    """The shipped profiles, then the user's (``EVALSEARCH_FORMS``); ids are unique."""
    profiles: list[FormProfile] = list(_shipped())
    for profile in _user_profiles():
        clash = next((other for other in profiles if other.id == profile.id), None)
        if clash is not None:
            raise FormProfileError(
                f"様式の id「{profile.id}」が {clash.source} と重なっています。どちらかの id を変えてください",
                file=profile.source,
                line=_locate(Path(profile.source).read_text("utf-8-sig"), ("id",)),
            )
        profiles.append(profile)
    return profiles


def get_profile(profile_id: str) -> FormProfile:
    profiles = list_profiles()
    for profile in profiles:
        if profile.id == profile_id:
            return profile
    known = "、".join(f"{profile.id}（{profile.municipality}）" for profile in profiles)
    raise FormProfileError(
        f"様式「{profile_id}」はありません。使える様式: {known}。自分の市の様式は"
        f"環境変数 {ENV_VAR} のディレクトリに *.toml で置いてください"
    )


@functools.cache
def item_labels(form: str) -> dict[str, str]:
    """The short labels of a form's check items by key (empty for a form no profile has)."""
    try:
        return {item.key: item.label for item in get_profile(form).items}
    except FormProfileError:
        return {}
