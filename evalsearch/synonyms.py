"""Synonym expansion for queries: the Sudachi synonym dictionary, our municipal pairs, user files.

Sources, in the order they are merged (a later source wins a tie in weight):

* ``sudachi`` -- the Sudachi 同義語辞書 (WorksApplications/SudachiDict ``synonyms.txt``), vendored
  as the JSON of the npm package ``sudachi-synonyms-dictionary`` (``data/sudachi-synonyms/``,
  Apache-2.0, see its NOTICE). Each headword keeps the upstream flags:

  - 展開制御フラグ: 0 expands both ways; 1 is never a trigger (the entry is reached only from
    the other words of its group); 2 is never used at all (a deletion record);
  - 語彙素番号 / 語形種別 / 略語・略称 / 表記ゆれ: words of one 語彙素 (same 語彙素番号) are
    variants of one word (spelling variants, abbreviation ↔ full form, 別称, 旧称); words of
    other 語彙素 in the group are synonyms. 誤用 (語形種別 4) and 誤表記 (表記ゆれ 3) may trigger
    an expansion but are never offered as one.

* ``municipal`` -- ``data/municipal_synonyms.txt``: pairs of municipal evaluation text that the
  Sudachi dictionary lacks (format documented at the top of that file).
* ``user`` -- files given by path, same format.

Keys and expansions are the terms the index holds: every headword goes through
``analysis.analyze_query`` and becomes the tuple of its words' terms, so 子供／子ども／こども meet
at 子供 and a multi-word headword (一人暮らしの高齢者) becomes a phrase (独り暮らし, 高齢者).
Headwords that fall onto the word itself vanish (no self-expansion), and so does an expansion
that contains the typed word (委託 → 民間 委託 adds nothing to what 委託 finds).

Weights (the typed word counts 1.0):

* ``WEIGHT_VARIANT`` 0.8 -- same 語彙素: 表記ゆれ, 略語・略称 ↔ 正式名 (非営利団体 → ＮＰＯ), 別称, 旧称;
* ``WEIGHT_SYNONYM`` 0.5 -- another 語彙素 of the group, and every municipal/user pair unless
  its line gives a weight;
* ``WEIGHT_FOREIGN`` 0.3 -- an alphabet spelling or translation (child, outsourcing): such words
  are rare in Japanese evaluation sheets, so they come last and the cap usually drops them.

At most ``MAX_EXPANSIONS`` per word, best first (weight, then user > municipal > sudachi, then
dictionary order, which puts a group's representative word first).

Cost: analysing the 67k Sudachi headwords takes ~4 s, so the normalised Sudachi table is cached
as a JSON file keyed by (dictionary data, Sudachi dictionary version, analysis.py source,
CACHE_FORMAT) in ``cache_dir()``; ``python -m evalsearch.synonyms --warm`` fills it at install
time. Loading a warm table takes well under a second; nothing is read at import time.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalsearch.errors import EvalSearchError

Source = Literal["sudachi", "municipal", "user"]

DATA_DIR = Path(__file__).resolve().parent / "data"
SUDACHI_SYNONYMS_FILE = DATA_DIR / "sudachi-synonyms" / "sudachi-synonyms-dictionary.json.gz"
SUDACHI_SYNONYMS_VERSION = "18.0.0"
"""Version of the npm package the vendored JSON comes from (see its NOTICE)."""
MUNICIPAL_SYNONYMS_FILE = DATA_DIR / "municipal_synonyms.txt"

WEIGHT_VARIANT = 0.8
WEIGHT_SYNONYM = 0.5
WEIGHT_FOREIGN = 0.3
MAX_EXPANSIONS = 8

CACHE_FORMAT = 1
"""Bump when the cached table's layout or the way it is built changes."""
CACHE_ENV = "EVALSEARCH_CACHE_DIR"
_CACHE_PREFIX = "sudachi-synonyms-"

_SOURCE_RANK: dict[str, int] = {"user": 0, "municipal": 1, "sudachi": 2}

# The npm JSON spells the upstream numeric flags out; back to the numbers of docs/synonyms.md.
_FORM = {"代表語": 0, "対訳": 1, "別称": 2, "旧称": 3, "間違い": 4, "未定義": 0}
_ABBREVIATION = {"代表語形": 0, "略語・略称/アルファベット": 1, "略語・略称": 2, "未定義": 0}
_SPELLING = {
    "代表表記": 0,
    "アルファベット表記": 1,
    "異表記・表記ゆれ": 2,
    "間違い表記": 3,
    "未定義": 0,
}
_FORM_TRANSLATION = 1
_FORM_MISUSE = 4
_SPELLING_ALPHABET = 1
_SPELLING_MISSPELLED = 3
_EXPAND_ALWAYS, _EXPAND_NOT_FROM, _EXPAND_NEVER = 0, 1, 2


class SynonymFileError(EvalSearchError):
    """A synonym file cannot be read; the message names the file and line and says the fix."""


@dataclass(frozen=True, slots=True)
class Expansion:
    """One way to widen a query word: a term, or a phrase of terms, at a lower weight."""

    terms: tuple[str, ...]  # index terms (QueryWord.term of each word); several = a phrase
    weight: float  # < 1.0, the weight of the typed word
    source: Source
    surface: str  # a readable form for display: 「同義語: {surface}」

    @property
    def label(self) -> str:
        return f"同義語: {self.surface}"


@dataclass(frozen=True, slots=True)
class Span:
    """Query words ``start:end`` (a word or a run of words) that have expansions."""

    start: int
    end: int
    expansions: tuple[Expansion, ...]


# --- the Sudachi table ---------------------------------------------------------------------

# One cached Sudachi entry: [terms, surface, expand flag, 語彙素 (or -1 - position when the
# upstream number is missing), 語形種別, 略語・略称, 表記ゆれ]. Entries with flag 2 and
# headwords with no content word are dropped when the cache is built.
_Entry = tuple[tuple[str, ...], str, int, int, int, int, int]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _analysis_digest() -> str:
    """The analysis code and dictionary the cached terms were made with."""
    from evalsearch import analysis

    digest = hashlib.sha256(Path(analysis.__file__).read_bytes())
    digest.update(analysis.dictionary_version().encode())
    return digest.hexdigest()


def cache_dir() -> Path:
    """Where the normalised Sudachi table is cached: $EVALSEARCH_CACHE_DIR, else the XDG cache."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evalsearch"


def _cache_key(data_file: Path) -> str:
    digest = hashlib.sha256(f"format {CACHE_FORMAT}\n".encode())
    digest.update(_file_digest(data_file).encode())
    digest.update(_analysis_digest().encode())
    return digest.hexdigest()[:24]


def _terms_of(text: str) -> tuple[str, ...]:
    from evalsearch.analysis import analyze_query

    return tuple(word.term for word in analyze_query(text, light_verbs=True))


def _build_sudachi(data_file: Path) -> list[list[_Entry]]:
    """Read the vendored JSON and analyse every headword (the slow part: seconds)."""
    with gzip.open(data_file, "rt", encoding="utf-8") as handle:
        groups = json.load(handle)
    analysed: dict[str, tuple[str, ...]] = {}
    table: list[list[_Entry]] = []
    for group in groups:
        entries: list[_Entry] = []
        for position, item in enumerate(group["items"]):
            flag = int(item.get("expandControl") or 0)
            if flag == _EXPAND_NEVER:
                continue
            surface = item["midashi"]
            terms = analysed.get(surface)
            if terms is None:
                terms = analysed[surface] = _terms_of(surface)
            if not terms:
                continue
            lexeme = item.get("vocabularyNumber")
            entries.append(
                (
                    terms,
                    surface,
                    flag,
                    int(lexeme) if isinstance(lexeme, int) else -1 - position,
                    _FORM[item["gokeiSyubetsu"]],
                    _ABBREVIATION[item["ryakusyou"]],
                    _SPELLING[item["hyoukiYure"]],
                )
            )
        if len(entries) > 1:
            table.append(entries)
    return table


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building ~70k small containers: it halves the load time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_loaded: dict[tuple[str, str], list[list[_Entry]]] = {}
"""Sudachi tables already loaded in this process, by (data file, cache key)."""


def _load_sudachi(data_file: Path, cache: Path | None) -> list[list[_Entry]]:
    """The normalised Sudachi table: from this process, the cache, or built (and cached)."""
    key = _cache_key(data_file)
    memo_key = (str(data_file.resolve()), key)
    table = _loaded.get(memo_key)
    if table is not None:
        return table
    path = cache / f"{_CACHE_PREFIX}{key}.json" if cache is not None else None
    with _gc_paused():
        if path is not None:
            table = _read_cache(path, key)
        if table is None:
            table = _build_sudachi(data_file)
            if path is not None:
                _write_cache(path, key, table)
    _loaded[memo_key] = table
    return table


def _read_cache(path: Path, key: str) -> list[list[_Entry]] | None:
    try:
        raw = json.loads(path.read_text("utf-8"))
        if raw.get("key") != key:
            return None
        return [
            [(tuple(e[0]), e[1], e[2], e[3], e[4], e[5], e[6]) for e in group]
            for group in raw["groups"]
        ]
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # missing or damaged: the caller rebuilds it


@contextmanager
def _replacing_cache_file(path: Path) -> Iterator[str]:
    """A temporary file beside ``path`` for the caller to fill. When the block ends without an
    error it becomes ``path`` atomically and the cache's older files of the same kind (same
    suffix) are removed; otherwise it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield temporary
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; other users may share the cache
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    for old in path.parent.glob(f"{_CACHE_PREFIX}*{path.suffix}"):
        if old != path:
            old.unlink(missing_ok=True)


def _write_cache(path: Path, key: str, table: list[list[_Entry]]) -> None:
    """Write atomically; a cache that cannot be written only costs the next process time."""
    try:
        text = json.dumps({"key": key, "groups": table}, ensure_ascii=False, separators=(",", ":"))
        with _replacing_cache_file(path) as temporary:
            Path(temporary).write_text(text, encoding="utf-8")
    except OSError:
        pass


# --- municipal and user files ----------------------------------------------------------------

_COMMENT = re.compile(r"[#＃]")
_ONE_WAY = re.compile(r"=>|＝＞|⇒")
_BLOCK = re.compile(r"!=|！＝")
_WEIGHT = re.compile(r"[;；]")
_ITEM_SEPARATOR = re.compile(r"[,，、]")


@dataclass(frozen=True, slots=True)
class _Rule:
    """One line of a synonym file: each left word expands to each right word (or is blocked)."""

    left: tuple[tuple[tuple[str, ...], str], ...]  # (terms, surface)
    right: tuple[tuple[tuple[str, ...], str], ...]
    weight: float
    source: Source
    block: bool
    file: str
    line: int


def _items(side: str, where: str) -> list[tuple[tuple[str, ...], str]]:
    items: list[tuple[tuple[str, ...], str]] = []
    for raw in _ITEM_SEPARATOR.split(side):
        surface = raw.strip()
        if not surface:
            raise SynonymFileError(
                f"{where}: 空の語があります（「,」が続いているか、行頭・行末にあります）。"
                "語を「,」で区切って書いてください（例: 補助金, 助成金）。"
            )
        terms = _terms_of(surface)
        if not terms:
            raise SynonymFileError(
                f"{where}: 「{surface}」は索引の語になりません（助詞や記号だけです）。"
                "内容のある語を書いてください。"
            )
        items.append((terms, surface))
    return items


def _parse_line(text: str, file: str, line: int, source: Source) -> _Rule | None:
    where = f"{file} {line} 行目"
    body = _COMMENT.split(text, maxsplit=1)[0].strip()
    if not body:
        return None
    weight = WEIGHT_SYNONYM
    pieces = _WEIGHT.split(body)
    if len(pieces) > 2:
        raise SynonymFileError(
            f"{where}: 「;」が 2 つ以上あります。重みは行末に 1 つだけ書いてください（例: 社会福祉協議会, 社協 ; 0.8）。"
        )
    if len(pieces) == 2:
        body, weight_text = pieces[0].strip(), unicodedata.normalize("NFKC", pieces[1]).strip()
        try:
            weight = float(weight_text)
        except ValueError:
            weight = -1.0
        if not 0.0 < weight < 1.0:
            raise SynonymFileError(
                f"{where}: 重み「{weight_text}」が正しくありません。"
                "0 より大きく 1 未満の数で書いてください（例: ; 0.8）。"
            )
    block_parts = _BLOCK.split(body)
    one_way_parts = _ONE_WAY.split(body)
    if len(block_parts) > 1 and len(one_way_parts) > 1:
        raise SynonymFileError(
            f"{where}: 「=>」と「!=」は同じ行に書けません。2 行に分けてください。"
        )
    if len(block_parts) > 2 or len(one_way_parts) > 2:
        raise SynonymFileError(
            f"{where}: 「=>」または「!=」が 2 つ以上あります。1 行に 1 つにしてください。"
        )
    if len(block_parts) == 2 or len(one_way_parts) == 2:
        block = len(block_parts) == 2
        left_text, right_text = block_parts if block else one_way_parts
        if block and len(pieces) == 2:
            raise SynonymFileError(
                f"{where}: 「!=」の行に重みは書けません。「;」以降を消してください。"
            )
        mark = "!=" if block else "=>"
        if not left_text.strip() or not right_text.strip():
            raise SynonymFileError(
                f"{where}: 「{mark}」の左右の両方に語を書いてください（例: 委託 {mark} 外部委託）。"
            )
        left, right = _items(left_text, where), _items(right_text, where)
        return _Rule(tuple(left), tuple(right), weight, source, block, file, line)
    items = _items(body, where)
    if len(items) < 2:
        raise SynonymFileError(
            f"{where}: 語が 1 つしかありません。同じ意味の語を「,」で区切って 2 つ以上書くか、"
            "「=>」で展開先を書いてください（例: 補助金, 助成金）。"
        )
    return _Rule(tuple(items), tuple(items), weight, source, False, file, line)


def parse_synonym_file(path: str | os.PathLike[str], source: Source = "user") -> list[_Rule]:
    """The rules of a municipal or user synonym file; ``SynonymFileError`` names file and line."""
    file = Path(path)
    try:
        text = file.read_text("utf-8-sig")
    except FileNotFoundError:
        raise SynonymFileError(
            f"同義語ファイル {file} がありません。パスを確かめてください。"
        ) from None
    except UnicodeDecodeError:
        raise SynonymFileError(
            f"同義語ファイル {file} は UTF-8 ではありません。UTF-8 で保存し直してください。"
        ) from None
    except OSError as error:
        raise SynonymFileError(
            f"同義語ファイル {file} を読めません（{error.strerror}）。"
        ) from None
    rules: list[_Rule] = []
    for number, line in enumerate(text.splitlines(), start=1):
        rule = _parse_line(line, str(file), number, source)
        if rule is not None:
            rules.append(rule)
    return rules


# --- version -------------------------------------------------------------------------------


def version(
    user_files: Sequence[str | os.PathLike[str]] = (),
    *,
    municipal_file: str | os.PathLike[str] | None = MUNICIPAL_SYNONYMS_FILE,
    sudachi_file: str | os.PathLike[str] | None = SUDACHI_SYNONYMS_FILE,
) -> str:
    """What the expansions come from, for the index manifest (cheap: hashes files only).

    ``sudachi-synonyms 18.0.0 6967c3cf; municipal 1a2b3c4d5e6f; user -``. The Sudachi
    dictionary version the terms depend on is ``analysis.dictionary_version()``.
    """
    parts = []
    if sudachi_file is not None:
        parts.append(
            f"sudachi-synonyms {SUDACHI_SYNONYMS_VERSION} {_file_digest(Path(sudachi_file))[:8]}"
        )
    else:
        parts.append("sudachi-synonyms -")
    parts.append(
        f"municipal {_file_digest(Path(municipal_file))[:12]}" if municipal_file else "municipal -"
    )
    if user_files:
        digest = hashlib.sha256()
        for user_file in user_files:
            try:
                digest.update(hashlib.sha256(Path(user_file).read_bytes()).digest())
            except OSError:
                raise SynonymFileError(
                    f"同義語ファイル {user_file} を読めません。パスを確かめてください。"
                ) from None
        parts.append(f"user {digest.hexdigest()[:12]}")
    else:
        parts.append("user -")
    return "; ".join(parts)


# --- the table -----------------------------------------------------------------------------


def _contains(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    size = len(shorter)
    return any(longer[i : i + size] == shorter for i in range(len(longer) - size + 1))


class SynonymTable:
    """Every source merged; ``expand`` is a dictionary look-up (memoised per key)."""

    def __init__(
        self,
        sudachi_groups: Sequence[Sequence[_Entry]] = (),
        rules: Iterable[_Rule] = (),
        *,
        version: str = "",
        max_expansions: int = MAX_EXPANSIONS,
    ) -> None:
        self._groups = sudachi_groups
        self._version = version
        self._max = max_expansions
        # key -> indices of the groups in which some entry with that key may trigger
        triggers: dict[tuple[str, ...], list[int]] = {}
        for index, group in enumerate(sudachi_groups):
            for terms, _, flag, *_ in group:
                if flag == _EXPAND_ALWAYS:
                    found = triggers.setdefault(terms, [])
                    if not found or found[-1] != index:
                        found.append(index)
        self._triggers = triggers
        # key -> (terms, weight, source, surface, order) from the municipal and user files
        self._rules: dict[
            tuple[str, ...], list[tuple[tuple[str, ...], float, Source, str, int]]
        ] = {}
        self._blocked: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
        self.notes: list[str] = []
        """Lines that add nothing (every word is the same index term), for a tidy-up."""
        for order, rule in enumerate(rules):
            useful = False
            for left_terms, _ in rule.left:
                for right_terms, right_surface in rule.right:
                    if left_terms == right_terms:
                        continue
                    useful = True
                    if rule.block:
                        self._blocked.add((left_terms, right_terms))
                        self._blocked.add((right_terms, left_terms))
                    else:
                        self._rules.setdefault(left_terms, []).append(
                            (right_terms, rule.weight, rule.source, right_surface, order)
                        )
            if not useful:
                self.notes.append(
                    f"{rule.file} {rule.line} 行目: どの語も同じ索引語になるため、展開に使われません。"
                )
        self.max_key_length = max((len(key) for key in (*self._triggers, *self._rules)), default=1)
        self._memo: dict[tuple[str, ...], tuple[Expansion, ...]] = {}

    # The public constructor.
    @classmethod
    def load(
        cls,
        user_files: Sequence[str | os.PathLike[str]] = (),
        *,
        municipal_file: str | os.PathLike[str] | None = MUNICIPAL_SYNONYMS_FILE,
        sudachi_file: str | os.PathLike[str] | None = SUDACHI_SYNONYMS_FILE,
        cache: str | os.PathLike[str] | Literal["default"] | None = "default",
        max_expansions: int = MAX_EXPANSIONS,
    ) -> SynonymTable:
        """Build the table. ``cache="default"`` uses ``cache_dir()``; ``None`` never caches."""
        rules: list[_Rule] = []
        if municipal_file is not None:
            rules.extend(parse_synonym_file(municipal_file, "municipal"))
        for user_file in user_files:
            rules.extend(parse_synonym_file(user_file, "user"))
        groups: list[list[_Entry]] = []
        if sudachi_file is not None:
            where = cache_dir() if cache == "default" else (Path(cache) if cache else None)
            groups = _load_sudachi(Path(sudachi_file), where)
        return cls(
            groups,
            rules,
            version=version(user_files, municipal_file=municipal_file, sudachi_file=sudachi_file),
            max_expansions=max_expansions,
        )

    def version(self) -> str:
        return self._version

    def __contains__(self, word: object) -> bool:
        key = (word,) if isinstance(word, str) else tuple(word)  # type: ignore[arg-type]
        return bool(self.expand(key))

    def expand(self, word: str | Sequence[str]) -> list[Expansion]:
        """Expansions of an index term (``QueryWord.term``) or of a phrase of terms, best first."""
        key = (word,) if isinstance(word, str) else tuple(word)
        found = self._memo.get(key)
        if found is None:
            found = self._compute(key)
            if not found:
                normalised = tuple(unicodedata.normalize("NFKC", term) for term in key)
                if normalised != key:
                    found = self._compute(normalised)
            self._memo[key] = found
        return list(found)

    def spans(self, terms: Sequence[str]) -> list[Span]:
        """The runs of query words that have expansions, longest first at each start.

        For ``[w.term for w in clause.words]``: 一人暮らしの高齢者 → (独り暮らし, 高齢者) gives a
        span 0:2 (独居 高齢者, 単身 高齢者) and spans 0:1 and 1:2 for the single words.
        """
        spans: list[Span] = []
        words = tuple(terms)
        for start in range(len(words)):
            for end in range(min(len(words), start + self.max_key_length), start, -1):
                found = self.expand(words[start:end])
                if found:
                    spans.append(Span(start, end, tuple(found)))
        return spans

    def _compute(self, key: tuple[str, ...]) -> tuple[Expansion, ...]:
        # terms -> (weight, -source rank, -order, source, surface): the max wins.
        best: dict[tuple[str, ...], tuple[float, int, int, Source, str]] = {}

        def offer(
            terms: tuple[str, ...], weight: float, source: Source, surface: str, order: int
        ) -> None:
            if terms == key or _contains(terms, key) or (key, terms) in self._blocked:
                return
            candidate = (weight, -_SOURCE_RANK[source], -order, source, surface)
            current = best.get(terms)
            if current is None or candidate[:2] > current[:2]:
                best[terms] = candidate

        order = 0
        for index in self._triggers.get(key, ()):
            group = self._groups[index]
            lexemes = {
                entry[3] for entry in group if entry[0] == key and entry[2] == _EXPAND_ALWAYS
            }
            for terms, surface, _flag, lexeme, form, _abbreviation, spelling in group:
                order += 1
                if form == _FORM_MISUSE or spelling == _SPELLING_MISSPELLED:
                    continue
                if spelling == _SPELLING_ALPHABET or form == _FORM_TRANSLATION:
                    weight = WEIGHT_FOREIGN
                elif lexeme in lexemes:
                    weight = WEIGHT_VARIANT
                else:
                    weight = WEIGHT_SYNONYM
                offer(terms, weight, "sudachi", surface, order)
        for terms, weight, source, surface, rule_order in self._rules.get(key, ()):
            offer(terms, weight, source, surface, rule_order)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], -item[1][1], -item[1][2]))
        return tuple(
            Expansion(terms, weight, source, surface)
            for terms, (weight, _, _, source, surface) in ranked[: self._max]
        )


# --- the compact store -------------------------------------------------------------------
# get_table() serves every query word of a process from one table. Loading the whole table
# (the JSON cache above: 26,000 groups, 43,000 triggers, plus the municipal file analysed
# with Sudachi) cost 0.3–0.5 s, paid by every cold ``evalsearch search``. The compact store
# is an SQLite file beside the JSON cache, keyed the same way and by the municipal file:
# the groups, the trigger -> groups index and the parsed municipal rules. A table backed by
# it reads a trigger's groups when a query word asks for them; expansions are computed by
# the same code (``SynonymTable._compute``), so they are the same.

_STORE_SUFFIX = ".sqlite"
_STORE_FORMAT = "1"


def _store_path(cache: Path, municipal_file: Path) -> Path:
    digest = hashlib.sha256(_cache_key(SUDACHI_SYNONYMS_FILE).encode())
    digest.update(_file_digest(municipal_file).encode())
    digest.update(_STORE_FORMAT.encode())
    return cache / f"{_CACHE_PREFIX}{digest.hexdigest()[:24]}{_STORE_SUFFIX}"


def _join(terms: Sequence[str]) -> str:
    return "\x1f".join(terms)


def write_compact_store(cache: Path | None = None) -> Path | None:
    """Write the compact store of the default table (Sudachi + municipal file) into the
    cache directory (``--warm`` does this at install time); None if it cannot be written."""
    import sqlite3

    where = cache if cache is not None else cache_dir()
    try:
        groups = _load_sudachi(SUDACHI_SYNONYMS_FILE, where)
        rules = parse_synonym_file(MUNICIPAL_SYNONYMS_FILE, "municipal")
        table = SynonymTable(groups, rules)
        path = _store_path(where, MUNICIPAL_SYNONYMS_FILE)
        # The database is closed before the file replaces the old one (exits run in reverse).
        with (
            _replacing_cache_file(path) as temporary,
            contextlib.closing(sqlite3.connect(temporary)) as db,
        ):
            db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
            db.execute("CREATE TABLE groups (id INTEGER PRIMARY KEY, entries TEXT)")
            db.execute("CREATE TABLE triggers (key TEXT PRIMARY KEY, groups TEXT)")
            db.executemany(
                "INSERT INTO groups VALUES (?, ?)",
                (
                    (index, json.dumps(group, ensure_ascii=False, separators=(",", ":")))
                    for index, group in enumerate(groups)
                ),
            )
            db.executemany(
                "INSERT INTO triggers VALUES (?, ?)",
                ((_join(key), json.dumps(found)) for key, found in table._triggers.items()),
            )
            rule_rows = [
                [
                    [[list(terms), surface] for terms, surface in rule.left],
                    [[list(terms), surface] for terms, surface in rule.right],
                    rule.weight,
                    rule.source,
                    rule.block,
                    rule.file,
                    rule.line,
                ]
                for rule in rules
            ]
            meta = {
                "format": _STORE_FORMAT,
                "max_key_length": str(max((len(key) for key in table._triggers), default=1)),
                "rules": json.dumps(rule_rows, ensure_ascii=False),
                "version": version(),
            }
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.commit()
        return path
    except (OSError, sqlite3.Error, SynonymFileError):
        return None


class _StoredTriggers:
    """``SynonymTable._triggers`` read from the store: trigger -> group indices."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def get(self, key: tuple[str, ...], default: Any = ()) -> Any:
        row = self._db.execute("SELECT groups FROM triggers WHERE key = ?", (_join(key),))
        found = row.fetchone()
        return json.loads(found[0]) if found else default


class _StoredGroups:
    """``SynonymTable._groups`` read from the store, a group at a time."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self._cache: dict[int, list[_Entry]] = {}

    def __getitem__(self, index: int) -> list[_Entry]:
        group = self._cache.get(index)
        if group is None:
            row = self._db.execute("SELECT entries FROM groups WHERE id = ?", (index,)).fetchone()
            group = self._cache[index] = [
                (tuple(e[0]), e[1], e[2], e[3], e[4], e[5], e[6]) for e in json.loads(row[0])
            ]
        return group


def _compact_table(user_files: Sequence[str]) -> SynonymTable | None:
    """The default table backed by the compact store, written first if missing; None when
    user files are given or the store cannot be used (the caller loads the full table)."""
    import sqlite3

    if user_files:
        return None
    cache = cache_dir()
    try:
        path = _store_path(cache, MUNICIPAL_SYNONYMS_FILE)
        if not path.exists() and write_compact_store(cache) is None:
            return None
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
        if meta.get("format") != _STORE_FORMAT:
            return None
        rules = [
            _Rule(
                tuple((tuple(terms), surface) for terms, surface in left),
                tuple((tuple(terms), surface) for terms, surface in right),
                weight,
                source,
                block,
                file,
                line,
            )
            for left, right, weight, source, block, file, line in json.loads(meta["rules"])
        ]
    except (OSError, sqlite3.Error, ValueError, KeyError, TypeError):
        return None
    table = SynonymTable((), rules, version=meta["version"])
    table._groups = _StoredGroups(db)  # type: ignore[assignment]
    table._triggers = _StoredTriggers(db)  # type: ignore[assignment]
    table.max_key_length = max(
        int(meta["max_key_length"]), max((len(key) for key in table._rules), default=1)
    )
    return table


# --- the process-wide table ----------------------------------------------------------------

_tables: dict[tuple[str, ...], SynonymTable] = {}
_lock = threading.Lock()


def get_table(user_files: Sequence[str | os.PathLike[str]] = ()) -> SynonymTable:
    """The table for these user files, built on first use and kept for the process.

    The Sudachi groups and the municipal rules come from the compact store
    (``_CompactStore``) when the cache holds one: a cold ``evalsearch search`` then looks
    up only its own words instead of loading 26,000 groups (0.3–0.5 s)."""
    key = tuple(str(Path(path).resolve()) for path in user_files)
    table = _tables.get(key)
    if table is None:
        with _lock:
            table = _tables.get(key)
            if table is None:
                table = _tables[key] = _compact_table(key) or SynonymTable.load(key)
    return table


def expand(
    word: str | Sequence[str], user_files: Sequence[str | os.PathLike[str]] = ()
) -> list[Expansion]:
    """``get_table(user_files).expand(word)``."""
    return get_table(user_files).expand(word)


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evalsearch.synonyms", description="同義語辞書の確認とキャッシュの作成"
    )
    parser.add_argument("words", nargs="*", help="展開を表示する語")
    parser.add_argument("--warm", action="store_true", help="Sudachi 同義語辞書のキャッシュを作る")
    parser.add_argument("--user", action="append", default=[], help="利用者の同義語ファイル")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        table = SynonymTable.load(args.user)
    except SynonymFileError as error:
        print(f"エラー: {error}", file=sys.stderr)
        return 1
    if args.warm:
        write_compact_store()
        print(
            f"同義語辞書: {table.version()}（{time.perf_counter() - started:.2f} 秒、キャッシュ {cache_dir()}）"
        )
    for note in table.notes:
        print(f"注意: {note}", file=sys.stderr)
    from evalsearch.analysis import analyze_query

    for word in args.words:
        terms = tuple(query_word.term for query_word in analyze_query(word))
        shown: list[Any] = [f"{e.surface}({e.weight}, {e.source})" for e in table.expand(terms)]
        print(f"{word} → {' / '.join(shown) if shown else '（なし）'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
