"""Cell values: numbers in every spelling counties use, not-reported markers, errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.text import normalize

NOT_REPORTED = {"", "-", "—", "－", "--", "/", "无", "——", "－－"}
_EXCEL_ERRORS = {"#DIV/0!", "#REF!", "#VALUE!", "#N/A", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA", "#ERROR"}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Parsed:
    value: Decimal | None  # None: not reported
    error: str | None = None  # 'not_number' | 'excel_error'
    raw: str = ""


def is_percent_format(number_format: str) -> bool:
    fmt = re.sub(r'"[^"]*"|\\.', "", number_format or "")
    return "%" in fmt


def parse_value(raw: object, number_format: str = "General", *, rate: bool = False) -> Parsed:
    """Parse one data cell. Rates are in percent: a percentage-formatted cell's
    fraction 0.123 reads as 12.3, and a trailing % is dropped."""
    if raw is None:
        return Parsed(None)
    if isinstance(raw, bool):
        return Parsed(None, "not_number", str(raw))
    if isinstance(raw, (int, float)):
        if raw != raw or raw in (float("inf"), float("-inf")):  # NaN/inf never come from a real cell
            return Parsed(None, "not_number", str(raw))
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        if is_percent_format(number_format):
            value *= 100
        return Parsed(_clean(value))
    text = str(raw).strip()
    if text.upper() in _EXCEL_ERRORS or (text.startswith("#") and text.endswith(("!", "?", "A"))):
        return Parsed(None, "excel_error", text)
    s = normalize(text)  # full-width digits and punctuation, spaces
    if s in NOT_REPORTED or text in NOT_REPORTED:
        return Parsed(None)
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    s = s.replace(",", "")
    if not _NUMBER.match(s):
        return Parsed(None, "not_number", text)
    try:
        value = Decimal(s)
    except InvalidOperation:
        return Parsed(None, "not_number", text)
    if percent and not rate:
        return Parsed(None, "not_number", text)
    return Parsed(_clean(value))


def _clean(value: Decimal) -> Decimal:
    """Drop float noise beyond 10 decimal places and trailing zeros."""
    q = value.quantize(Decimal("1e-10")) if value.as_tuple().exponent < -10 else value
    return q.normalize() if q == q.to_integral_value() else q


def decimals(value: Decimal) -> int:
    exp = value.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0
