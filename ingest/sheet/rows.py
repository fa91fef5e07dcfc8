"""The data rows of a form sheet: each town's (the county's on LZ-0) values in canonical units, with the
checks of a cell (a number, not negative, whole where it must be, present where required) and of a row
(a sub-item not above its parent); and the `Value`s the report keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core import registry
from core.text import normalize
from ingest.reader import Cell
from ingest.sheet.cells import a1, row_get, text
from ingest.sheet.columns import PRIOR_SUFFIX, Column, Header, RowValues
from ingest.sheet.footer import read_footer, starts_footer
from ingest.sheet.forms import FormSheet
from ingest.sheet.report import Context, Value
from ingest.sheet.totals import is_total
from ingest.sheet.towns import row_key
from ingest.values import parse_value


@dataclass
class Rows:
    index: dict[str, int] = field(default_factory=dict)  # town (county on LZ-0) -> its row
    values: dict[str, RowValues] = field(default_factory=dict)
    total_row: int | None = None


def read_rows(ctx: Context, fs: FormSheet, start: int, header: Header, factors: dict[int, Decimal]) -> Rows:
    """The rows from `start`: blank rows skipped, the 合计 row noted, the footer read into the metadata."""
    sheet, form = fs.sheet, fs.form
    county_form = registry.is_county_form(form, ctx.seeds_dir)
    rows = Rows()
    in_footer = False
    for r in range(start, len(sheet.rows)):
        row = sheet.rows[r]
        texts = [text(c) for c in row]
        if not any(texts):
            continue
        first = normalize(next(t for t in texts if t))
        if in_footer or starts_footer(first):
            in_footer = True
            read_footer(texts, ctx.report.metadata)
            continue
        code_text = text(row_get(row, header.code_col))
        name_text = text(row_get(row, header.name_col))
        if is_total(code_text, name_text):
            rows.total_row = r
            continue
        key = row_key(ctx, sheet.name, form, r, header, code_text, name_text, rows.index)
        if key is None:
            continue
        rows.index[key] = r
        rows.values[key] = _row_values(ctx, sheet.name, r, row, header.columns, factors, None if county_form else key)
    return rows


def _row_values(ctx: Context, sheet: str, r: int, row: list[Cell], columns: dict[int, Column],
                factors: dict[int, Decimal], town_code: str | None) -> RowValues:
    """The row's values in canonical units; a cell that fails its checks is a finding and no value."""
    out: RowValues = {}
    for c, col in columns.items():
        ind = col.indicator
        cell = row_get(row, c) or Cell(None)
        ref = a1(r, c)
        parsed = parse_value(cell.value, cell.number_format, rate=ind.kind == "rate_pct")
        where = {"sheet": sheet, "cell": ref, "town_code": town_code, "indicator": ind.code, "name": col.label}
        if parsed.error:
            ctx.add("value.not_number", raw=parsed.raw, **where)
            continue
        if parsed.value is None:
            if ind.required and not col.prior:  # a 上年同期 is never required
                ctx.add("value.required", **where)
            continue
        value = parsed.value * factors[c]
        value = value.normalize() if value == value.to_integral_value() else value
        if ind.kind != "rate_pct" and value < 0:
            ctx.add("value.negative", value=value, **where)
            continue
        if ind.value_type == "integer" and value != value.to_integral_value():
            ctx.add("value.not_integer", value=value, **where)
            continue
        out[col.key] = (value, ref)
    return out


def check_parents(ctx: Context, sheet: str, form: str, town_values: dict[str, RowValues]) -> None:
    """A sub-item above its parent, for the current values and for the 上年同期 values alike."""
    inds = {i.code: i for i in registry.form_indicators(form, ctx.seeds_dir)}
    county_form = registry.is_county_form(form, ctx.seeds_dir)
    for key, vals in town_values.items():
        for (code, prior), (value, cell) in vals.items():
            parent = inds[code].parent
            if parent and (parent, prior) in vals and value > vals[(parent, prior)][0]:
                suffix = PRIOR_SUFFIX if prior else ""
                ctx.add("value.parent", sheet=sheet, cell=cell, town_code=None if county_form else key,
                        indicator=code, name=inds[code].name_zh + suffix, value=value,
                        parent_name=inds[parent].name_zh + suffix, parent_value=vals[(parent, prior)][0])


def emit_values(ctx: Context, fs: FormSheet, rows: Rows) -> None:
    """The values of the form: a current value carries its 上年同期 (if reported) on the same row.
    A 上年同期 without a current value is not kept: it is never a current value."""
    form = fs.form
    county_form = registry.is_county_form(form, ctx.seeds_dir)
    for key, vals in rows.values.items():
        for (code, prior), (value, cell) in vals.items():
            if prior:
                continue
            prev = vals.get((code, True))
            ctx.report.values.append(Value(
                form, None if county_form else key, code, value, fs.sheet.name, cell,
                value_prev_year=prev[0] if prev else None, prev_year_cell=prev[1] if prev else None))
