"""Which encoding a text dump is in, decided without ever decoding it wrong.

Dumps come out of PDF tools and office PCs in several encodings: UTF-8 (with or without a
BOM), UTF-16 (Windows 「Unicode テキスト」, with a BOM, or without one from some converters)
and CP932 (Shift_JIS, the Windows default). The order of the tests is what keeps a guess from
going wrong:

1. a BOM is proof, and the rest must then decode strictly in that encoding;
2. NUL bytes never occur in UTF-8 or CP932 text, so a file with NULs is UTF-16 — the side
   most NULs fall on is the byte order (ASCII characters such as the line breaks are
   ``xx 00`` in little endian) — or else binary (a PDF, an image) and refused;
3. strict UTF-8 before CP932, because CP932 text is almost never valid UTF-8 while UTF-8 text
   often *is* valid CP932 (as mojibake);
4. strict CP932, refused when the result is mostly half-width katakana or private-use
   characters: Python's CP932 decodes almost any bytes, and that is what EUC-JP or random
   bytes turn into.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from evalsearch.errors import ParseError

ENCODING_LABELS: dict[str, str] = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8（BOM付き）",
    "utf-16": "UTF-16（BOM付き）",
    "utf-16-le": "UTF-16LE（BOMなし）",
    "utf-16-be": "UTF-16BE（BOMなし）",
    "cp932": "CP932（Shift_JIS）",
}
"""The encodings a dump can be read in (Python codec names: ``data.decode(name)`` gives the
text, BOM removed) and how to show each to a user."""

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16BE"),
)
_HALFWIDTH_KANA = range(0xFF61, 0xFFA0)
_PRIVATE_USE = range(0xE000, 0xF900)
_MOJIBAKE_SHARE = 0.3
"""Above this share of half-width katakana and private-use characters among the non-ASCII
ones, CP932 output is mojibake: real sheets have few of either."""
# Control characters a text file may hold: tab, line feed, form feed, carriage return.
_CONTROLS = frozenset(chr(code) for code in (*range(0x20), 0x7F)) - set("\t\n\x0c\r")

NOT_TEXT_HINT = "PDF そのものではなく、テキストに書き出したものを指定してください"


def decode_dump(data: bytes, *, file: str) -> tuple[str, str]:
    """The text of a dump file's bytes and the encoding it was in (a key of ENCODING_LABELS).

    Raises ParseError naming ``file`` when the bytes are not text in a known encoding.
    """
    for bom, encoding, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as error:
                raise ParseError(
                    f"先頭に {name} の BOM がありますが、{name} として読めません"
                    f"（{error.start + 1}バイト目）。ファイルが壊れていないか確認してください",
                    file=file,
                ) from None
    if b"\x00" in data:
        decoded = _utf16_without_bom(data)
        if decoded is None:
            raise ParseError(
                f"UTF-8 のテキストとして読めません（NUL バイトを含むバイナリファイルです）。{NOT_TEXT_HINT}",
                file=file,
            )
        return decoded
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        utf8_error = error
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        raise ParseError(
            f"UTF-8 のテキストとして読めません（{utf8_error.start + 1}バイト目）。"
            f"UTF-16・CP932（Shift_JIS）としても読めません。{NOT_TEXT_HINT}",
            file=file,
        ) from None
    if _looks_like_mojibake(text) or _has_controls(text):
        raise ParseError(
            f"UTF-8 のテキストとして読めません（{utf8_error.start + 1}バイト目）。"
            "CP932（Shift_JIS）として読むと半角カナや外字・制御文字ばかりになります"
            f"（EUC-JP やバイナリの可能性）。UTF-8 で保存し直すか、{NOT_TEXT_HINT}",
            file=file,
        )
    return text, "cp932"


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text told by where its NUL bytes fall, or None (binary)."""
    if len(data) % 2:
        return None
    # Little endian prints ASCII as "xx 00": its NULs fall on odd offsets.
    odd = data[1::2].count(0)
    even = data[0::2].count(0)
    if odd == even:
        return None
    encoding = "utf-16-le" if odd > even else "utf-16-be"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    # A dump has line breaks; read in the wrong byte order it has none (U+0A00 instead).
    if ("\n" not in text and "\r" not in text) or _has_controls(text):
        return None
    return text, encoding


def _has_controls(text: str) -> bool:
    return not _CONTROLS.isdisjoint(text)


def _looks_like_mojibake(text: str) -> bool:
    wide = [ord(char) for char in text if ord(char) >= 0x80]
    if not wide:
        return False
    odd = sum(1 for code in wide if code in _HALFWIDTH_KANA or code in _PRIVATE_USE)
    return odd / len(wide) > _MOJIBAKE_SHARE


def read_bytes(path: Path) -> bytes:
    """A file's bytes; a missing or unreadable file is a ParseError naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ParseError(
            "ファイルが見つかりません。パスを確認してください", file=str(path)
        ) from None
    except OSError as error:
        raise ParseError(f"ファイルを読めません（{error.strerror}）", file=str(path)) from None
