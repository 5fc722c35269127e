"""Which encoding a CSV export is in, decided without ever guessing wrong silently.

Japanese offices export CSV from Excel as CP932 (「CSV（コンマ区切り）」) or UTF-8 with a BOM
(「CSV UTF-8」); other tools write plain UTF-8. A BOM is proof. Otherwise strict UTF-8 is tried
first because CP932 text is almost never valid UTF-8, while UTF-8 text often *is* valid CP932
(as mojibake) — the other order would mis-decode. Anything else is refused, not guessed.
"""

from __future__ import annotations

import codecs

from evalsearch.errors import ParseError

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    # Excel's 「Unicode テキスト」 is UTF-16 with a BOM.
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

HALFWIDTH_KANA = range(0xFF61, 0xFFA0)
PRIVATE_USE = range(0xE000, 0xF900)
MOJIBAKE_SHARE = 0.3
"""Python's CP932 decodes almost any bytes: EUC-JP comes out mostly as half-width katakana and
stray bytes as private-use characters (外字). Real CP932 tables have few of either, so above this
share of the non-ASCII characters the text is refused instead of read as nonsense."""


def decode_table_bytes(data: bytes, *, file: str) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was in (``utf-8-sig``, ``utf-8``, ``cp932``…)."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as error:
                raise _refuse(
                    file, f"BOM は {encoding} ですが、{error.start} バイト目が読めません"
                ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError as error:
        raise _refuse(
            file, f"UTF-8 でも CP932（Shift_JIS）でもありません（{error.start} バイト目）"
        ) from None
    if _looks_like_mojibake(text):
        raise _refuse(
            file,
            "CP932（Shift_JIS）として読むと半角カナや外字ばかりになります（EUC-JP などの可能性）",
        )
    return text, "cp932"


def _looks_like_mojibake(text: str) -> bool:
    wide = [ord(char) for char in text if ord(char) >= 0x80]
    if not wide:
        return False
    odd = sum(1 for code in wide if code in HALFWIDTH_KANA or code in PRIVATE_USE)
    return odd / len(wide) > MOJIBAKE_SHARE


def _refuse(file: str, why: str) -> ParseError:
    return ParseError(
        f"文字コードを判定できません: {why}。Excel で開き「CSV UTF-8（コンマ区切り）」"
        "で保存し直してください",
        file=file,
    )
