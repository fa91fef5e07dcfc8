"""The 合计 row of a town form: each column's total against the sum of the towns' values."""

from __future__ import annotations

from decimal import Decimal

from core.text import normalize
from ingest.reader import Cell, Sheet
from ingest.sheet.cells import a1, row_get
from ingest.sheet.columns import Column, RowValues
from ingest.sheet.report import Context
from ingest.values import decimals, parse_value

_TOTAL_NAMES = {"合计", "总计", "小计", "全县合计", "全市合计"}


def is_total(code_text: str, name_text: str) -> bool:
    """A 合计 (总计, 小计, …) row, by its code or name."""
    return normalize(name_text) in _TOTAL_NAMES or normalize(code_text) in _TOTAL_NAMES


def check_total(ctx: Context, sheet: Sheet, r: int, columns: dict[int, Column], factors: dict[int, Decimal],
                town_values: dict[str, RowValues]) -> None:
    """Each total (not of a rate) within half a percent, or the last digit written, of the towns' sum."""
    row = sheet.rows[r]
    for c, col in columns.items():
        if col.indicator.kind == "rate_pct":
            continue
        cell = row_get(row, c) or Cell(None)
        parsed = parse_value(cell.value, cell.number_format)
        if parsed.value is None:
            continue
        total = parsed.value * factors[c]
        parts = [vals[col.key][0] for vals in town_values.values() if col.key in vals]
        expected = sum(parts, Decimal(0))
        last_digit = Decimal(1).scaleb(-decimals(parsed.value)) * factors[c]
        tolerance = max(abs(expected) * Decimal("0.005"), last_digit)
        if abs(total - expected) > tolerance:
            ctx.add("value.total", sheet=sheet.name, cell=a1(r, c), indicator=col.indicator.code,
                    name=col.label, value=total, expected=expected)
