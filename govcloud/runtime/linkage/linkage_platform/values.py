"""Canonical values: what each column type accepts, how text files are decoded, how an identifier is normalized
before it is pseudonymized, and how text handed to subscribers is made safe to open in a spreadsheet.

The checks are plain string operations rather than regular expressions: a resident list of 1.5 million rows runs
each of them millions of times.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

# Python's "shift_jis" is JIS X 0208 as published: it decodes 0x8160 to U+301C (〜) where Windows writes U+FF5E
# (～), likewise 0x8161 (‖, ∥), 0x817C (−, －), 0x8191 (¢, ￠), 0x8192 (£, ￡) and 0x81CA (¬, ￢), and it rejects
# the NEC and IBM extensions (①, ㈱, 髙, 﨑). Files called Shift_JIS by the systems that write them are Windows-31J,
# which is CP932. Reading both as CP932 gives one resident one token whichever system sent the file.
CODECS = {"utf-8": "utf-8-sig", "cp932": "cp932", "shift_jis": "cp932"}

_DECIMAL_CHARS = "0123456789+-.eE"


def is_string(value: Any) -> bool:
    return type(value) is str and value != ""


def is_integer(value: Any) -> bool:
    """A JSON integer, or ASCII digits with an optional leading minus (not full-width or Arabic-Indic digits)."""
    if type(value) is int:
        return True
    if type(value) is not str:
        return False
    digits = value[1:] if value[:1] == "-" else value
    return digits.isascii() and digits.isdigit()


def is_decimal(value: Any) -> bool:
    """A finite number: a JSON number, or ASCII digits with sign, point and exponent (no NaN, no Infinity)."""
    if type(value) is int:
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is not str or not value or value.strip(_DECIMAL_CHARS):
        return False
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


def is_date(value: Any) -> bool:
    """A calendar date written YYYY-MM-DD (not a week date such as 2024-W01-1, nor 20240101)."""
    if type(value) is not str or len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.isascii():
        return False
    if not (value[:4].isdigit() and value[5:7].isdigit() and value[8:].isdigit()):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": is_string,
    "integer": is_integer,
    "decimal": is_decimal,
    "date": is_date,
}


def is_key(value: Any) -> bool:
    """A record key: 1-128 ASCII letters, digits, '.', '_' or '-' (it becomes part of an object name)."""
    return (
        type(value) is str
        and 0 < len(value) <= 128
        and value.isascii()
        and value.replace(".", "a").replace("_", "a").replace("-", "a").isalnum()
    )


def canonical(kind: str, value: Any) -> str:
    """The form of a value that is pseudonymized, so that equal values give equal tokens.

    Text is NFKC-normalized (full-width letters and digits become ASCII, half-width katakana full-width, the
    ideographic space a space) and its whitespace collapsed to single spaces with none at either end: ``山田　太郎``,
    ``山田 太郎`` and `` 山田  太郎`` are one name. Letter case is kept. Numbers take their shortest form (``007`` is
    ``7``, ``1.50`` is ``1.5``); dates are already canonical."""
    if kind == "string":
        text = value if value.isascii() else unicodedata.normalize("NFKC", value)
        return " ".join(text.split())
    if kind == "integer":
        return str(int(value))
    if kind == "decimal":
        number = Decimal(str(value)).normalize()
        return format(number, "f")
    return str(value)


# What a spreadsheet reads as the start of a formula (OWASP CSV injection), full-width forms included.
FORMULA_START = frozenset("=+-@\t\r＝＋－＠")


def is_formula(text: str) -> bool:
    return text[:1] in FORMULA_START


def neutralize(text: str) -> str:
    """A leading apostrophe makes a spreadsheet show the text as text."""
    return "'" + text
