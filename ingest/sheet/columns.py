"""The header of a form sheet: the row of 代码/名称 and indicator headers (one row, or two when a group cell
is merged over its sub-columns), an optional row of units under it, and what each column holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core import registry
from core.registry import Indicator
from core.text import normalize
from ingest.headers import (
    is_prior_label,
    known_units,
    match_header,
    prior_header,
    unit_cell,
    unit_factor,
    unit_in_brackets,
)
from ingest.reader import Cell, Sheet
from ingest.sheet.cells import a1, text
from ingest.sheet.forms import FormSheet
from ingest.sheet.report import Context

_HEADER_SEARCH_ROWS = 30
_SUBTOTAL_LABELS = {"小计", "合计", "计", "总计", "总额", "总量", "本期", "本期数", "本年累计", "累计"}
PRIOR_SUFFIX = "（上年同期）"
RowValues = dict[tuple[str, bool], tuple[Decimal, str]]  # (indicator, is 上年同期) -> (value, A1 cell)


@dataclass(frozen=True)
class Column:
    indicator: Indicator
    unit: str | None  # as written; None: canonical unless a unit row says otherwise
    prior: bool = False  # the indicator's 上年同期 column

    @property
    def key(self) -> tuple[str, bool]:
        return (self.indicator.code, self.prior)

    @property
    def label(self) -> str:
        """The column's name in messages: 固定资产投资, or 固定资产投资（上年同期）."""
        return self.indicator.name_zh + (PRIOR_SUFFIX if self.prior else "")


@dataclass
class Header:
    code_col: int | None = None
    name_col: int | None = None
    columns: dict[int, Column] = field(default_factory=dict)
    cells: dict[int, str] = field(default_factory=dict)  # column -> A1 cell of its header


def find_header(sheet: Sheet, form: str) -> int | None:
    """The row with the 代码/名称 headers and indicator headers (in it, or in the row below it
    when the header has two rows: a merged group cell above its sub-columns)."""
    def kinds(r: int) -> set[str]:
        return {match_header(text(c), form).kind for c in sheet.rows[r]} if r < len(sheet.rows) else set()

    for r in range(min(_HEADER_SEARCH_ROWS, len(sheet.rows))):
        row_kinds = kinds(r)
        if ("code" in row_kinds or "name" in row_kinds) and ("indicator" in row_kinds or "indicator" in kinds(r + 1)):
            return r
    return None


def read_columns(ctx: Context, fs: FormSheet) -> tuple[Header, dict[int, Decimal], int] | None:
    """The sheet's header, the factor to the canonical unit of every column kept (a column of a unit not
    accepted is dropped), and the first data row; None when the sheet has no header. A required indicator
    without a column is a finding."""
    sheet, form = fs.sheet, fs.form
    if fs.header_row is None:
        _check_required(ctx, fs, set(), None)
        return None
    texts, data_start = _header_texts(sheet, fs.header_row, form)
    header = _read_header(ctx, sheet.name, texts, form)
    if data_start < len(sheet.rows) and _is_unit_row(sheet.rows[data_start], header.code_col, header.name_col):
        header.columns = _with_unit_row(header.columns, sheet.rows[data_start])
        data_start += 1
    factors = _factors(ctx, sheet.name, header)
    present = {col.indicator.code for col in header.columns.values() if not col.prior}
    _check_required(ctx, fs, present, a1(fs.header_row, 0))
    header.columns = {c: col for c, col in header.columns.items() if c in factors}
    return header, factors, data_start


def _check_required(ctx: Context, fs: FormSheet, present: set[str], cell: str | None) -> None:
    for ind in registry.form_indicators(fs.form, ctx.seeds_dir):
        if ind.required and ind.code not in present:
            ctx.add("header.required", sheet=fs.sheet.name, cell=cell, indicator=ind.code, name=ind.name_zh)


def _group_sub(text_: str) -> bool:
    """A sub-column heading that takes its meaning from the group above it (小计, 本期, 上年同期)."""
    return normalize(text_) in _SUBTOTAL_LABELS or is_prior_label(text_)


def _header_texts(sheet: Sheet, hr: int, form: str) -> tuple[dict[int, tuple[str, str]], int]:
    """Header text and its cell for every column, and the first row after the header.

    A two-row header (a group cell such as 固定资产投资（万元） merged over its sub-columns
    小计 / 其中：特色产业投资 / 其中：民间投资, or 本期 / 上年同期) is flattened: a sub-column
    takes its own header, a 小计 or 本期 column the group's, a 上年同期 column the name of the
    group's prior-year column, and a sub-column without a unit the group's unit."""
    top = sheet.rows[hr]
    texts = {c: (text(cell), a1(hr, c)) for c, cell in enumerate(top) if text(cell)}
    below = sheet.rows[hr + 1] if hr + 1 < len(sheet.rows) else []
    sub = {c: text(cell) for c, cell in enumerate(below) if text(cell)}

    def group_kind(col: int) -> str:
        left = [c for c in texts if c <= col]
        return match_header(texts[max(left)][0], form).kind if left else "empty"

    two_rows = any(match_header(t, form).kind == "indicator" for t in sub.values()) or any(
        _group_sub(t) and group_kind(c) == "indicator" for c, t in sub.items())
    if not two_rows:
        return texts, hr + 1
    _flatten(texts, sub, hr, form)
    return texts, hr + 2


def _flatten(texts: dict[int, tuple[str, str]], sub: dict[int, str], hr: int, form: str) -> None:
    """Give each sub-column of a two-row header its one-row header text (in place)."""
    group_text, group_unit, group = "", None, match_header("", form)
    for c in range(max([*texts, *sub]) + 1):
        if c in texts:
            group_text = texts[c][0]
            group = match_header(group_text, form)
            group_unit = group.unit if group.kind == "indicator" else unit_in_brackets(group_text)
        if c not in sub:
            continue
        m = match_header(sub[c], form)
        if normalize(sub[c]) in _SUBTOTAL_LABELS:
            texts[c] = (group_text, a1(hr, c))
        elif is_prior_label(sub[c]) and group.kind == "indicator" and not group.prior:
            texts[c] = (prior_header(group.indicator, unit_in_brackets(sub[c]) or group_unit), a1(hr + 1, c))
        elif m.kind in ("indicator", "code", "name"):
            text_ = sub[c] if m.unit or not group_unit else f"{sub[c]}（{group_unit}）"
            texts[c] = (text_, a1(hr + 1, c))
        elif m.kind == "unknown":
            texts[c] = (sub[c], a1(hr + 1, c))


def _read_header(ctx: Context, sheet: str, texts: dict[int, tuple[str, str]], form: str) -> Header:
    """The code and name columns and the indicator columns (the first of each indicator counts); a header
    that is none of them is a finding."""
    header = Header()
    for c, (text_, ref) in sorted(texts.items()):
        m = match_header(text_, form)
        header.cells[c] = ref
        if m.kind == "code" and header.code_col is None:
            header.code_col = c
        elif m.kind == "name" and header.name_col is None:
            header.name_col = c
        elif m.kind == "indicator":
            column = Column(m.indicator, m.unit, m.prior)
            if column.key not in {col.key for col in header.columns.values()}:  # the first one counts
                header.columns[c] = column
        elif m.kind == "unknown":
            ctx.add("header.unknown", sheet=sheet, cell=ref, header=text_)
    return header


def _is_unit_row(row: list[Cell], code_col: int | None, name_col: int | None) -> bool:
    """A row of units under the header (单位 / 计量单位 allowed under the code and name columns)."""
    units = known_units()
    seen = False
    for c, cell in enumerate(row):
        t = text(cell)
        if not t:
            continue
        u = unit_cell(t)
        if c in (code_col, name_col) and (normalize(t).startswith(("单位", "计量单位")) or u in units):
            seen = True
            continue
        if u not in units:
            return False
        seen = True
    return seen


def _with_unit_row(columns: dict[int, Column], unit_row: list[Cell]) -> dict[int, Column]:
    """Columns whose header has no unit take the unit written under them in a unit row."""
    out = {}
    for c, col in columns.items():
        if col.unit is None and c < len(unit_row) and text(unit_row[c]):
            col = Column(col.indicator, unit_cell(text(unit_row[c])), col.prior)
        out[c] = col
    return out


def _factors(ctx: Context, sheet: str, header: Header) -> dict[int, Decimal]:
    """Factor to the canonical unit of every column whose unit is accepted (header.unit for the others)."""
    factors: dict[int, Decimal] = {}
    for c, col in header.columns.items():
        ind = col.indicator
        factor = unit_factor(ind, col.unit)
        if factor is None:
            ctx.add("header.unit", sheet=sheet, cell=header.cells[c], indicator=ind.code, name=col.label,
                    unit=col.unit, accepted="、".join(ind.accepted_units))
        else:
            factors[c] = Decimal(str(factor)).normalize()
    return factors
