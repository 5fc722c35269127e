"""Tables of evaluation sheets (one row per sheet) → SheetRecords, guided by a form profile.

The header row is found by matching the profile's headers, compared after NFKC and with all
whitespace removed, because collection tables wrap headers inside cells (``作成\\n年``) and mix
full- and half-width characters. Cell values are kept as typed (full-width digits, 「Ｅ　一般」,
line breaks); only answers are normalised, to compare them with the profile's options.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from openpyxl.utils import get_column_letter

from evalsearch.errors import DuplicateRecordError, ParseError
from evalsearch.forms import ERAS, ColumnMap, FormProfile, list_profiles
from evalsearch.readers.sources import TABLE_SUFFIXES, RawSheet, Row, open_sheets
from evalsearch.records import (
    BUDGET_COLUMNS_DEFAULT,
    BUDGET_ROWS,
    Assessment,
    Budget,
    Direction,
    Number,
    SheetRecord,
    SourceRef,
)

HEADER_SEARCH_ROWS = 30
"""The header row is looked for among the first rows of each sheet (titles and helper rows
may come first: 大船渡市's row 1 is a helper row)."""

END_BLANK_ROWS = 100
"""A run of this many empty rows ends the table. Workbooks are often formatted far below the
data (大船渡市: 407 sheets, 1,826 formatted rows), and openpyxl parses every formatted cell; stopping
here keeps reading the real file under a second instead of ~3 s."""

TEXT_DUMP_SUFFIX = ".txt"
MISSING_SHOWN = 12
"""How many missing headers an unknown-layout message lists per profile."""

_ENUMERATOR = re.compile(r"^(?:\(\d+\)|\d+)[.)、:]?")
_MEASURE_SPLIT = re.compile(r"[、,，/／\n]+")
_ERA_YEAR = re.compile(r"(令和|平成)(\d+|元)")
_LETTER_YEAR = re.compile(r"^([RH])(\d+)", re.IGNORECASE)
_WESTERN_YEAR = re.compile(r"(\d{4})")
_SMALL_YEAR = re.compile(r"^(\d{1,2})(?:年度?)?$")
_BLANK_NUMBERS = frozenset({"", "-", "－", "‐", "―", "ー", "—"})


@dataclass(frozen=True)
class TableReadResult:
    records: tuple[SheetRecord, ...]
    skipped_rows: tuple[int, ...]
    """Row numbers (as the spreadsheet shows them) of rows left out: no 事業番号 or 事業名, or
    no 年度 when the profile has no default. Empty rows are not counted."""
    warnings: tuple[str, ...]
    profile: FormProfile
    sheet: str | None = None
    header_row: int | None = None


def normalise_header(value: object) -> str:
    """A header compared across layouts: NFKC, every whitespace (line breaks too) removed."""
    if value is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(value)).split())


def printed(value: object) -> str:
    """A header or cell for a message: one line, as typed."""
    return " ".join(str(value).split())


# --- header matching -----------------------------------------------------------------------


@dataclass
class _Match:
    """How well one profile's headers fit one candidate header row."""

    profile: FormProfile
    sheet: str | None
    row_number: int
    headers: Row
    positions: dict[int, list[int]] = field(default_factory=dict)
    """Column-map index → 0-based column positions (one per budget column for budget rows)."""
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def found(self) -> int:
        return len(self.positions)


def _match(profile: FormProfile, sheet: str | None, number: int, headers: Row) -> _Match:
    assert profile.table is not None
    where: dict[str, list[int]] = {}
    for position, header in enumerate(headers):
        key = normalise_header(header)
        if key:
            where.setdefault(key, []).append(position)
    match = _Match(profile, sheet, number, headers)
    for index, column in enumerate(profile.table.columns):
        need = len(profile.budget_columns) if column.kind == "budget" else 1
        found = where.get(normalise_header(column.header), [])
        if len(found) >= need:
            match.positions[index] = found[:need]
        elif need > 1 and found:
            match.missing.append(f"{column.header}（{need} 回のうち {len(found)} 回）")
        else:
            match.missing.append(column.header)
    return match


def _best_match(
    profile: FormProfile, sheets: Sequence[tuple[RawSheet, list[tuple[int, Row]]]]
) -> _Match | None:
    best: _Match | None = None
    assert profile.table is not None
    for sheet, head in sheets:
        if profile.table.sheet is not None and sheet.name != profile.table.sheet:
            continue
        for number, row in head:
            if not any(normalise_header(cell) for cell in row):
                continue
            match = _match(profile, sheet.name, number, row)
            if best is None or match.found > best.found:
                best = match
            if match.complete:
                return match
    return best


def _unknown_layout(
    file: str, tried: Sequence[tuple[FormProfile, _Match | None]], sheet_names: Sequence[str | None]
) -> ParseError:
    lines = ["表の見出しがどの様式にも合いません。試した様式:"]
    for profile, match in tried:
        assert profile.table is not None
        if match is None:
            wanted = profile.table.sheet
            if wanted is not None and wanted not in sheet_names:
                names = "、".join(f"「{name}」" for name in sheet_names if name)
                lines.append(
                    f"- {profile.id}（{profile.municipality}）: シート「{wanted}」がありません（あるシート: {names}）"
                )
            else:
                lines.append(
                    f"- {profile.id}（{profile.municipality}）: 見出しらしい行がありません"
                )
            continue
        total = len(profile.table.columns)
        where = f"シート「{match.sheet}」の " if match.sheet else ""
        lines.append(
            f"- {profile.id}（{profile.municipality}）: {where}{match.row_number} 行目を見出しとすると、"
            f"{total} 列のうち {len(match.missing)} 列の見出しが見つかりません"
        )
        found = [printed(cell) for cell in match.headers if normalise_header(cell)]
        by_key = {normalise_header(text): text for text in found}
        for missing in match.missing[:MISSING_SHOWN]:
            close = difflib.get_close_matches(
                normalise_header(missing), list(by_key), n=2, cutoff=0.5
            )
            hint = (
                "（近い見出し: " + "、".join(f"「{by_key[key]}」" for key in close) + "）"
                if close
                else "（近い見出しなし）"
            )
            lines.append(f"    見つからない見出し「{printed(missing)}」{hint}")
        if len(match.missing) > MISSING_SHOWN:
            lines.append(f"    ほか {len(match.missing) - MISSING_SHOWN} 列")
    lines.append(
        "様式の [table] columns の header を表の見出しに合わせるか、自分の市の様式を "
        "EVALSEARCH_FORMS のディレクトリに置いてください（改行・空白・全角半角の違いは無視します）"
    )
    return ParseError("\n".join(lines), file=file)


def _choose(
    path: Path, sheets: list[RawSheet], profile: FormProfile | None
) -> tuple[_Match, list[tuple[int, Row]], RawSheet, list[str]]:
    """The matching profile and header row, the rows already read past it, its sheet, and
    warnings about other sheets in the same form (only one sheet per file is read)."""
    if profile is not None and profile.reader != "table":
        raise ParseError(
            f'様式「{profile.id}」はテキストダンプ用（reader = "{profile.reader}"）で、表は読めません',
            file=str(path),
        )
    heads = [(sheet, list(itertools.islice(sheet.rows, HEADER_SEARCH_ROWS))) for sheet in sheets]
    candidates = (
        [profile] if profile is not None else [p for p in list_profiles() if p.reader == "table"]
    )
    tried = [(candidate, _best_match(candidate, heads)) for candidate in candidates]
    complete = [match for _, match in tried if match is not None and match.complete]
    if not complete:
        raise _unknown_layout(str(path), tried, [sheet.name for sheet in sheets])
    complete.sort(key=lambda match: -match.found)
    if len(complete) > 1 and complete[0].found == complete[1].found:
        names = "、".join(match.profile.id for match in complete)
        raise ParseError(
            f"表の見出しが複数の様式（{names}）に同じだけ合います。様式を指定してください",
            file=str(path),
        )
    chosen = complete[0]
    sheet, head = next((sheet, head) for sheet, head in heads if sheet.name == chosen.sheet)
    rest = [(number, row) for number, row in head if number > chosen.row_number]
    # SourceRef holds a file and a row, not a sheet, so a second sheet could not be told apart.
    notes = [
        f"シート「{other.name}」も様式「{chosen.profile.id}」の表ですが、読むのは 1 ファイル 1 シート"
        f"（「{sheet.name}」）です。シートごとに別のファイルに保存してください"
        for other, other_head in heads
        if other is not sheet
        and (match := _best_match(chosen.profile, [(other, other_head)])) is not None
        and match.complete
    ]
    return chosen, rest, sheet, notes


# --- cells ---------------------------------------------------------------------------------


def _text(value: object) -> str | None:
    """A cell as text, as typed, without surrounding blanks (None when empty)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    elif isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = str(value)
    return text or None


def _number(value: object) -> Number | str:
    """A budget cell as a number, None when blank, or the text when it is not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    text = "".join(unicodedata.normalize("NFKC", str(value)).split()).replace(",", "")
    if text in _BLANK_NUMBERS:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return printed(value)


def _year(value: object, profile: FormProfile) -> int | None:
    """A year cell (7, 「令和7年度」, 「R7」, 2025) as a western year."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dt.date):
        return value.year
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return profile.year_from_era(int(value)) if 0 < value < 3000 else None
    text = "".join(unicodedata.normalize("NFKC", str(value)).split())
    if match := _ERA_YEAR.search(text):
        return ERAS[match.group(1)] + (1 if match.group(2) == "元" else int(match.group(2)))
    if match := _LETTER_YEAR.match(text):
        return ERAS["令和" if match.group(1).upper() == "R" else "平成"] + int(match.group(2))
    if match := _WESTERN_YEAR.search(text):
        return int(match.group(1))
    if match := _SMALL_YEAR.match(text):
        return profile.year_from_era(int(match.group(1)))
    return None


def _choice(value: str, options: Sequence[str]) -> str | None:
    """The option a cell names (「１　現状維持」 → 現状維持), compared after NFKC without blanks."""
    wanted = normalise_header(value)
    by_key = {normalise_header(option): option for option in options}
    if wanted in by_key:
        return by_key[wanted]
    return by_key.get(_ENUMERATOR.sub("", wanted, count=1))


# --- rows → records ------------------------------------------------------------------------


class _Rows:
    """Turns data rows into records for one matched header row."""

    def __init__(self, path: Path, match: _Match) -> None:
        table = match.profile.table
        assert table is not None
        self.file = str(path)
        self.profile = match.profile
        self.headers = match.headers
        self.columns: list[tuple[ColumnMap, list[int]]] = [
            (column, match.positions[index]) for index, column in enumerate(table.columns)
        ]
        self.single: dict[str, int] = {
            column.field: positions[0]
            for column, positions in self.columns
            if column.kind != "budget"
        }
        self.warnings: list[str] = []
        self.id_width: int | None = None

    def where(self, number: int, position: int) -> str:
        header = self.headers[position] if position < len(self.headers) else ""
        return f"{number} 行目 {get_column_letter(position + 1)} 列「{printed(header)}」"

    def cell(self, row: Row, target: str) -> object:
        position = self.single.get(target)
        if position is None or position >= len(row):
            return None
        return row[position]

    def learn_id_width(self, rows: Sequence[tuple[int, Row]]) -> None:
        """The width the id column uses: numeric cells are zero-padded to it (0 → 0000)."""
        widths = Counter(
            len(text)
            for _, row in rows
            if isinstance(cell := self.cell(row, "project_no"), str)
            and (text := cell.strip()).isascii()
            and text.isdigit()
        )
        self.id_width = widths.most_common(1)[0][0] if widths else None

    def project_no(self, value: object) -> str | None:
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and float(value).is_integer()
        ):
            digits = str(int(value))
            # Excel drops the leading zeros of an id typed as a number; the column's other ids
            # show the width the city uses.
            return digits.zfill(self.id_width) if self.id_width else digits
        return _text(value)

    def record(self, number: int, row: Row) -> SheetRecord | None:
        profile = self.profile
        warnings: list[str] = []
        project_no = self.project_no(self.cell(row, "project_no"))
        project_name = _text(self.cell(row, "project_name"))
        if not project_no or not project_name:
            what = "・".join(
                name
                for name, value in (("事業番号", project_no), ("事業名", project_name))
                if not value
            )
            self.warnings.append(f"{number} 行目: {what}が空のため読み飛ばしました")
            return None
        fiscal_year = self.fiscal_year(number, row, warnings)
        if fiscal_year is None:
            self.warnings.append(
                f"{number} 行目: 年度が分からないため読み飛ばしました（様式に fiscal_year を書くと既定の年度になります）"
            )
            return None
        texts: dict[str, str] = {}
        fields: dict[str, str | None] = {}
        reasons: dict[str, str] = {}
        answers: dict[str, str | None] = {}
        for column, positions in self.columns:
            if column.kind not in ("text", "answer", "reason"):
                continue
            value = row[positions[0]] if positions[0] < len(row) else None
            key = column.key or ""
            text = _text(value)
            if column.kind == "reason":
                reasons[key] = text or ""
            elif column.kind == "answer":
                answers[key] = self.answer(number, positions[0], key, text, warnings)
            else:
                passage = profile.passage(key)
                if passage is not None and passage.field is not None:
                    fields[passage.field] = text
                elif text:
                    texts[key] = text
        assessments = {
            item.key: Assessment(answers.get(item.key), reasons.get(item.key, ""))
            for item in profile.items
            if item.key in answers or item.key in reasons
        }
        return SheetRecord(
            fiscal_year=fiscal_year,
            evaluation_stage=_text(self.cell(row, "evaluation_stage")),
            project_no=project_no,
            project_name=project_name,
            department=_text(self.cell(row, "department")) or "",
            section=_text(self.cell(row, "section")),
            priority_project=None,
            affairs_type=_text(self.cell(row, "affairs_type")),
            policy_area=_text(self.cell(row, "policy_area")),
            policy_goal=_text(self.cell(row, "policy_goal")),
            target=fields.get("target"),
            target_outlook=fields.get("target_outlook"),
            activities=fields.get("activities") or "",
            intent=fields.get("intent") or "",
            indicators=(),
            budget=self.budget(number, row, warnings),
            review_status=None,
            review_content=fields.get("review_content") or "",
            outlook_needs=fields.get("outlook_needs") or "",
            assessments=assessments,
            direction=self.direction(number, row, warnings),
            created=self.created(row),
            page=_text(self.cell(row, "page")),
            source=SourceRef(self.file, number),
            warnings=tuple(warnings),
            municipality=profile.municipality,
            form=profile.id,
            texts=texts,
        )

    def warn(self, warnings: list[str], message: str) -> None:
        warnings.append(message)
        self.warnings.append(message)

    def fiscal_year(self, number: int, row: Row, warnings: list[str]) -> int | None:
        value = self.cell(row, "fiscal_year")
        year = _year(value, self.profile)
        if year is None and _text(value) is not None:
            self.warn(
                warnings,
                f"{self.where(number, self.single['fiscal_year'])}: 年度「{printed(value)}」を読めないため"
                f"様式の既定（{self.profile.fiscal_year}）にしました",
            )
        return year if year is not None else self.profile.fiscal_year

    def answer(
        self, number: int, position: int, key: str, text: str | None, warnings: list[str]
    ) -> str | None:
        if text is None:
            return None
        item = self.profile.item(key)
        chosen = _choice(text, item.options)
        if chosen is None:
            self.warn(
                warnings,
                f"{self.where(number, position)}: 回答「{printed(text)}」は設問{key}の選択肢"
                f"（{'／'.join(item.options)}）にありません",
            )
        return chosen

    def direction(self, number: int, row: Row, warnings: list[str]) -> Direction:
        spec = self.profile.direction
        if spec is None:
            return Direction(None)
        decision: str | None = None
        if (text := _text(self.cell(row, "direction"))) is not None:
            decision = _choice(text, spec.options)
            if decision is None:
                self.warn(
                    warnings,
                    f"{self.where(number, self.single['direction'])}: 「{printed(text)}」は"
                    f"{spec.label}の選択肢（{'／'.join(spec.options)}）にありません",
                )
        measures: list[str] = []
        if (text := _text(self.cell(row, "direction_measures"))) is not None:
            for part in filter(None, (piece.strip() for piece in _MEASURE_SPLIT.split(text))):
                measure = _choice(part, spec.measures)
                if measure is None:
                    self.warn(
                        warnings,
                        f"{self.where(number, self.single['direction_measures'])}: 「{part}」は"
                        f"手段の選択肢（{'／'.join(spec.measures)}）にありません",
                    )
                elif measure not in measures:
                    measures.append(measure)
        end_year = _year(self.cell(row, "direction_end_year"), self.profile)
        return Direction(decision, tuple(measures), end_year)

    def budget(self, number: int, row: Row, warnings: list[str]) -> Budget:
        columns = self.profile.budget_columns
        if not columns:
            return Budget(columns=BUDGET_COLUMNS_DEFAULT)
        sums: dict[str, list[Number]] = {}
        for column, positions in self.columns:
            if column.kind != "budget" or column.key is None:
                continue
            values = sums.setdefault(column.key, [None] * len(columns))
            for slot, position in enumerate(positions):
                value = _number(row[position] if position < len(row) else None)
                if isinstance(value, str):
                    self.warn(
                        warnings,
                        f"{self.where(number, position)}: 「{value}」は数ではないため空欄とみなしました",
                    )
                    continue
                if value is not None:
                    # Several headers may feed one row (国庫支出金 + 都道府県支出金 → 国道支出金).
                    current = values[slot]
                    values[slot] = value if current is None else current + value
        rows = {name: tuple(sums[name]) for name in BUDGET_ROWS if name in sums}
        return Budget(columns=tuple(columns), **rows)

    def created(self, row: Row) -> str | None:
        whole = self.cell(row, "created")
        if whole is not None:
            return _text(whole)
        year = _year(self.cell(row, "created_year"), self.profile)
        if year is None:
            return None
        parts = [f"{year:04d}"]
        for target in ("created_month", "created_day"):
            value = _number(self.cell(row, target))
            if not isinstance(value, int | float) or not float(value).is_integer():
                break
            parts.append(f"{int(value):02d}")
        return "-".join(parts)


def _is_blank(row: Row) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


def _data_rows(rows: Iterable[tuple[int, Row]]) -> Iterator[tuple[int, Row]]:
    blank_run = 0
    for number, row in rows:
        if _is_blank(row):
            blank_run += 1
            if blank_run >= END_BLANK_ROWS:
                return
            continue
        blank_run = 0
        yield number, row


def _read(path: Path, profile: FormProfile | None) -> TableReadResult:
    with open_sheets(path) as sheets:
        match, rest, sheet, notes = _choose(path, sheets, profile)
        rows = list(_data_rows(itertools.chain(rest, sheet.rows)))
    reader = _Rows(path, match)
    reader.warnings.extend(notes)
    reader.learn_id_width(rows)
    records: list[SheetRecord] = []
    skipped: list[int] = []
    first_row: dict[str, int] = {}
    for number, row in rows:
        record = reader.record(number, row)
        if record is None:
            skipped.append(number)
            continue
        if record.id in first_row:
            raise DuplicateRecordError(
                f"同じID {record.id}（年度-事業番号）が {first_row[record.id]} 行目と {number} 行目に"
                "あります。どちらかの事業番号を直してください",
                file=str(path),
            )
        first_row[record.id] = number
        records.append(record)
    return TableReadResult(
        records=tuple(records),
        skipped_rows=tuple(skipped),
        warnings=tuple(reader.warnings),
        profile=match.profile,
        sheet=match.sheet,
        header_row=match.row_number,
    )


def _read_dump(path: Path, profile: FormProfile | None) -> TableReadResult:
    from evalsearch.parse import parse_file

    profile = profile or detect_profile(path)
    if profile.reader != "text_dump":
        raise ParseError(
            f"様式「{profile.id}」は表（.xlsx / .csv）用で、テキストダンプは読めません",
            file=str(path),
        )
    records: list[SheetRecord] = []
    seen: dict[str, int] = {}
    for record in parse_file(path):
        record = replace(record, municipality=profile.municipality, form=profile.id)
        if record.id in seen:
            raise DuplicateRecordError(
                f"同じID {record.id}（年度-事業番号）がシート{seen[record.id] + 1}と"
                f"シート{record.source.sheet_index + 1}にあります。どちらかを除いてください",
                file=str(path),
            )
        seen[record.id] = record.source.sheet_index
        records.append(record)
    warnings = tuple(
        f"シート{record.source.sheet_index + 1}: {warning}"
        for record in records
        for warning in record.warnings
    )
    return TableReadResult(tuple(records), (), warnings, profile)


def read_table(path: str | Path, profile: FormProfile | None = None) -> TableReadResult:
    """Every sheet in a table file (.xlsx, .xlsm, .csv, .tsv), read with ``profile`` or the
    profile whose headers the file matches. A text dump (.txt) goes to ``evalsearch.parse``."""
    path = Path(path)
    if path.suffix.lower() == TEXT_DUMP_SUFFIX:
        return _read_dump(path, profile)
    return _read(path, profile)


def detect_profile(path: str | Path) -> FormProfile:
    """The profile whose headers the file's header row matches (``ParseError`` if none does)."""
    path = Path(path)
    if path.suffix.lower() == TEXT_DUMP_SUFFIX:
        dumps = [profile for profile in list_profiles() if profile.reader == "text_dump"]
        if not dumps:
            raise ParseError(
                'テキストダンプを読む様式（reader = "text_dump"）がありません', file=str(path)
            )
        return dumps[0]
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ParseError(
            f"表として読める形式ではありません（{', '.join((*TABLE_SUFFIXES, TEXT_DUMP_SUFFIX))} を読めます）",
            file=str(path),
        )
    with open_sheets(path) as sheets:
        match, *_ = _choose(path, sheets, None)
    return match.profile
