"""Parse and validate one county report file against the reporting contract.

`parse_report(path)` never raises on bad input: whatever the file holds, the
answer is a `Report` with findings (and, when there is no error, the values in
canonical units, each with its sheet and cell).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from core import registry
from core.periods import Period, PeriodError, find_period
from core.registry import Indicator
from core.text import normalize
from ingest.current import required_forms
from ingest.findings import ERROR, Finding, finding
from ingest.headers import (
    is_prior_label,
    known_units,
    match_header,
    prior_header,
    unit_cell,
    unit_factor,
    unit_in_brackets,
)
from ingest.reader import Cell, Sheet, Unreadable, read_file
from ingest.values import decimals, parse_value

FORM_LABELS = {"LZ-0": "县域指标", "LZ-1": "特色小镇", "LZ-2": "小城市培育试点镇"}
_SHEET_FORM = [("LZ-0", ("县域",)), ("LZ-1", ("特色小镇",)), ("LZ-2", ("试点镇", "小城市培育"))]
_FORM_CODE = re.compile(r"LZ-?([012])", re.IGNORECASE)
_TOTAL_NAMES = {"合计", "总计", "小计", "全县合计", "全市合计"}
_FOOTER_PREFIXES = ("注", "说明", "填报人", "单位负责人", "统计负责人", "联系电话", "报出日期", "审核人", "制表人")
_HEADER_SEARCH_ROWS = 30
_CN_DATE = re.compile(r"(20\d\d)\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})")


@dataclass(frozen=True)
class Value:
    form: str
    town_code: str | None  # None on the county row of LZ-0
    indicator: str
    value: Decimal
    sheet: str
    cell: str
    # the county-reported 上年同期 of the same town and indicator (canonical units) and its cell, same sheet
    value_prev_year: Decimal | None = None
    prev_year_cell: str | None = None


@dataclass
class Report:
    file_name: str
    county_code: str | None = None
    period: Period | None = None
    forms: list[str] = field(default_factory=list)
    values: list[Value] = field(default_factory=list)  # loaded only if the report is accepted
    findings: list[Finding] = field(default_factory=list)
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "refused" if any(f.severity == ERROR for f in self.findings) else "accepted"

    def to_dict(self) -> dict:
        """The `check --json` object of the stable interface."""
        accepted = self.status == "accepted"
        return {
            "status": self.status,
            "county_code": self.county_code,
            "period": str(self.period) if self.period else None,
            "findings": [f.to_dict() for f in self.findings],
            "values": [
                {"form": v.form, "town_code": v.town_code, "indicator": v.indicator, "value": float(v.value),
                 "value_prev_year": None if v.value_prev_year is None else float(v.value_prev_year)}
                for v in self.values
            ] if accepted else [],
        }


def a1(row: int, col: int) -> str:
    """0-based row/col to an A1 reference."""
    letters = ""
    n = col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def _text(cell: Cell | None) -> str:
    return "" if cell is None or cell.value is None else str(cell.value).strip()


def _row_get(row: list[Cell], col: int | None) -> Cell | None:
    return row[col] if col is not None and col < len(row) else None


# ----------------------------------------------------------------------------- counties

def find_county(text: str, seeds_dir: Path | None = None) -> set[str]:
    """County codes named in `text` by code, full name or short name (anywhere in it)."""
    s = normalize(text)
    tokens, lengths, always = _county_tokens(registry.folder(seeds_dir))
    found = set(always)
    for length in lengths:  # every substring of a token's length looked up: a registry of 2,800 counties
        for i in range(len(s) - length + 1):  # costs a few lookups per character, not 8,400 scans
            codes = tokens.get(s[i:i + length])
            if codes:
                found |= codes
    return found


@functools.cache
def _county_tokens(folder: Path) -> tuple[dict[str, frozenset[str]], tuple[int, ...], frozenset[str]]:
    """(token -> county codes, the tokens' lengths, the codes of an empty token, which every text contains)."""
    tokens: dict[str, set[str]] = {}
    for c in registry.counties(folder):
        for token in (c.code, c.name_zh, c.short_name):
            tokens.setdefault(token, set()).add(c.code)
    always = frozenset(tokens.pop("", ()))
    return ({t: frozenset(c) for t, c in tokens.items()}, tuple(sorted({len(t) for t in tokens})), always)


# ----------------------------------------------------------------------------- sheets

@dataclass
class _FormSheet:
    form: str
    sheet: Sheet
    header_row: int | None = None
    county_texts: list[tuple[str, str]] = field(default_factory=list)  # (text, cell)
    period_texts: list[tuple[str, str]] = field(default_factory=list)


def _form_of(sheet: Sheet, file_name: str, is_csv: bool) -> str | None:
    name = normalize(sheet.name)
    for form, needles in _SHEET_FORM:
        if any(n in name for n in needles):
            return form
    m = _FORM_CODE.search(name)
    if m:
        return f"LZ-{m.group(1)}"
    for row in sheet.rows[:8]:
        for cell in row:
            t = normalize(_text(cell))
            if "表号" in t or is_csv:
                m = _FORM_CODE.search(t)
                if m:
                    return f"LZ-{m.group(1)}"
    if is_csv:
        m = _FORM_CODE.search(normalize(file_name))
        if m:
            return f"LZ-{m.group(1)}"
    return None


def _find_header(sheet: Sheet, form: str) -> int | None:
    """The row with the 代码/名称 headers and indicator headers (in it, or in the row below it
    when the header has two rows: a merged group cell above its sub-columns)."""
    def kinds(r: int) -> set[str]:
        return {match_header(_text(c), form).kind for c in sheet.rows[r]} if r < len(sheet.rows) else set()

    for r in range(min(_HEADER_SEARCH_ROWS, len(sheet.rows))):
        row_kinds = kinds(r)
        if ("code" in row_kinds or "name" in row_kinds) and ("indicator" in row_kinds or "indicator" in kinds(r + 1)):
            return r
    return None


_SUBTOTAL_LABELS = {"小计", "合计", "计", "总计", "总额", "总量", "本期", "本期数", "本年累计", "累计"}


def _group_sub(text: str) -> bool:
    """A sub-column heading that takes its meaning from the group above it (小计, 本期, 上年同期)."""
    return normalize(text) in _SUBTOTAL_LABELS or is_prior_label(text)


def _header_texts(sheet: Sheet, hr: int, form: str) -> tuple[dict[int, tuple[str, str]], int]:
    """Header text and its cell for every column, and the first row after the header.

    A two-row header (a group cell such as 固定资产投资（万元） merged over its sub-columns
    小计 / 其中：特色产业投资 / 其中：民间投资, or 本期 / 上年同期) is flattened: a sub-column
    takes its own header, a 小计 or 本期 column the group's, a 上年同期 column the name of the
    group's prior-year column, and a sub-column without a unit the group's unit."""
    top = sheet.rows[hr]
    texts = {c: (_text(cell), a1(hr, c)) for c, cell in enumerate(top) if _text(cell)}
    below = sheet.rows[hr + 1] if hr + 1 < len(sheet.rows) else []
    sub = {c: _text(cell) for c, cell in enumerate(below) if _text(cell)}

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
            text = sub[c] if m.unit or not group_unit else f"{sub[c]}（{group_unit}）"
            texts[c] = (text, a1(hr + 1, c))
        elif m.kind == "unknown":
            texts[c] = (sub[c], a1(hr + 1, c))


def _labelled(texts: list[tuple[str, str]], label: str) -> list[tuple[str, str]]:
    """Texts following `label` (e.g. 填报单位) in the title block, with their cells."""
    out = []
    for i, (text, cell) in enumerate(texts):
        t = normalize(text)
        if label in t:
            rest = t.split(label, 1)[1].lstrip(":：")
            if not rest and i + 1 < len(texts):
                rest, cell = normalize(texts[i + 1][0]), texts[i + 1][1]
            # the rest may run into the next label on the same cell
            rest = re.split(r"表号|填报单位|报告期|单位[:：]", rest)[0]
            out.append((rest, cell))
    return out


def _title_texts(sheet: Sheet, upto: int) -> list[tuple[str, str]]:
    return [(_text(c), a1(r, ci)) for r, row in enumerate(sheet.rows[:upto]) for ci, c in enumerate(row) if _text(c)]


# ----------------------------------------------------------------------------- columns and rows

_PRIOR_SUFFIX = "（上年同期）"
RowValues = dict[tuple[str, bool], tuple[Decimal, str]]  # (indicator, is 上年同期) -> (value, A1 cell)


@dataclass(frozen=True)
class _Column:
    indicator: Indicator
    unit: str | None  # as written; None: canonical unless a unit row says otherwise
    prior: bool = False  # the indicator's 上年同期 column

    @property
    def key(self) -> tuple[str, bool]:
        return (self.indicator.code, self.prior)

    @property
    def label(self) -> str:
        """The column's name in messages: 固定资产投资, or 固定资产投资（上年同期）."""
        return self.indicator.name_zh + (_PRIOR_SUFFIX if self.prior else "")


@dataclass
class _Header:
    code_col: int | None = None
    name_col: int | None = None
    columns: dict[int, _Column] = field(default_factory=dict)
    cells: dict[int, str] = field(default_factory=dict)  # column -> A1 cell of its header


@dataclass
class _Rows:
    index: dict[str, int] = field(default_factory=dict)  # town (county on LZ-0) -> its row
    values: dict[str, RowValues] = field(default_factory=dict)
    total_row: int | None = None


def _with_unit_row(columns: dict[int, _Column], unit_row: list[Cell]) -> dict[int, _Column]:
    """Columns whose header has no unit take the unit written under them in a unit row."""
    out = {}
    for c, col in columns.items():
        if col.unit is None and c < len(unit_row) and _text(unit_row[c]):
            col = _Column(col.indicator, unit_cell(_text(unit_row[c])), col.prior)
        out[c] = col
    return out


# ----------------------------------------------------------------------------- the parser

class _Parser:
    def __init__(self, path: Path, file_name: str, today: date, seeds_dir: Path):
        self.path = path
        self.report = Report(file_name=file_name)
        self.today = today
        self.seeds_dir = seeds_dir  # the registry seeds: the counties, who must report, who may

    def add(self, code: str, **kw) -> None:
        self.report.findings.append(finding(code, **kw))

    def run(self) -> Report:
        name = self.report.file_name
        try:
            sheets = read_file(self.path, name)
        except Unreadable as exc:
            self.report.findings.append(finding("file.unreadable", detail=exc.zh))
            # the English message carries the English reason
            f = self.report.findings[-1]
            self.report.findings[-1] = Finding(f.severity, f.code, None, None, None, None, f.message_zh,
                                               f"The file cannot be read: {exc.en}. "
                                               "Save it as .xlsx (or .xls / .csv) and send it again.")
            return self.report
        is_csv = Path(name).suffix.lower() == ".csv"
        form_sheets: dict[str, _FormSheet] = {}
        for sheet in sheets:
            if sheet.hidden:
                continue
            form = _form_of(sheet, name, is_csv)
            if form and form not in form_sheets:
                form_sheets[form] = _FormSheet(form, sheet)
        for fs in form_sheets.values():
            fs.header_row = _find_header(fs.sheet, fs.form)
            texts = _title_texts(fs.sheet, fs.header_row if fs.header_row is not None else 8)
            fs.county_texts = _labelled(texts, "填报单位")
            fs.period_texts = _labelled(texts, "报告期") or texts
        if not form_sheets:
            self.add("sheet.missing", form="LZ-0", label=FORM_LABELS["LZ-0"],
                     detail="文件中没有可识别的报表（工作表名称应包含“县域指标”“特色小镇”或“试点镇”）。",
                     detail_en="No form sheet was recognised (sheet names must contain 县域指标, 特色小镇 or 试点镇).")
            return self.report
        self._resolve_county(form_sheets)
        self._resolve_period(form_sheets)
        if self.report.county_code is None or self.report.period is None:
            return self.report
        self._check_sheets_present(form_sheets, is_csv)
        for form in sorted(form_sheets):
            self._parse_form(form_sheets[form])
        self.report.forms = sorted(form_sheets)
        return self.report

    # -- title block and file name

    def _resolve_county(self, form_sheets: dict[str, _FormSheet]) -> None:
        named: dict[str, tuple[str, str]] = {}
        for fs in form_sheets.values():
            for text, cell in fs.county_texts:
                codes = find_county(text, self.seeds_dir)
                if len(codes) != 1:
                    self.add("meta.county", sheet=fs.sheet.name, cell=cell,
                             detail=f"“{text}”不是嘉兴市的县（市、区）" if text else "填报单位为空")
                    return
                named.setdefault(codes.pop(), (fs.sheet.name, cell))
        from_name = find_county(Path(self.report.file_name).stem, self.seeds_dir)
        if len(named) > 1:
            self.add("meta.county", detail="各报表的填报单位不一致：" + "、".join(sorted(named)))
            return
        if not named:
            if len(from_name) == 1:
                self.report.county_code = from_name.pop()
                return
            self.add("meta.county", sheet=next(iter(form_sheets.values())).sheet.name,
                     detail="表头中没有填报单位")
            return
        code = next(iter(named))
        if from_name and code not in from_name:
            sheet, cell = named[code]
            self.add("meta.county", sheet=sheet, cell=cell,
                     detail=f"文件名指向 {'、'.join(sorted(from_name))}，表头填报单位为 {code}")
            return
        self.report.county_code = code

    def _resolve_period(self, form_sheets: dict[str, _FormSheet]) -> None:
        periods: dict[Period, tuple[str, str]] = {}
        for fs in form_sheets.values():
            for text, cell in fs.period_texts:
                try:
                    p = find_period(text)
                except PeriodError as exc:
                    self.add("meta.period", sheet=fs.sheet.name, cell=cell, detail=f"{exc}（只接受季末月份）")
                    return
                if p:
                    periods.setdefault(p, (fs.sheet.name, cell))
                    break
        try:
            from_name = find_period(Path(self.report.file_name).stem)
        except PeriodError:
            from_name = None
        if len(periods) > 1:
            self.add("meta.period", detail="各报表的报告期不一致：" + "、".join(str(p) for p in sorted(periods)))
            return
        if not periods:
            if from_name:
                periods[from_name] = ("", "")
            else:
                self.add("meta.period", sheet=next(iter(form_sheets.values())).sheet.name, detail="表头中没有报告期")
                return
        period = next(iter(periods))
        sheet, cell = periods[period]
        if from_name and from_name != period:
            self.add("meta.period", sheet=sheet or None, cell=cell or None,
                     detail=f"文件名为 {from_name}，表头报告期为 {period}")
            return
        if period.end > self.today:
            self.add("meta.period", sheet=sheet or None, cell=cell or None, detail=f"{period} 尚未结束")
            return
        self.report.period = period

    def _check_sheets_present(self, form_sheets: dict[str, _FormSheet], is_csv: bool) -> None:
        if is_csv:
            return  # a CSV file is one form; the county's report is assembled from several files
        required = required_forms(self.report.county_code, self.report.period, self.seeds_dir)
        for form in sorted(required - set(form_sheets)):
            if form == "LZ-0":
                self.add("sheet.missing", form="LZ-0", label=FORM_LABELS["LZ-0"],
                         detail="县域指标表每期必报。", detail_en="LZ-0 is required every period.")
            else:
                self.add("sheet.missing", form=form, label=FORM_LABELS[form],
                         detail="本县（市、区）在本报告期有该项目成员，须报送此表。",
                         detail_en="The county has member towns of this programme in the period.")

    # -- one form sheet

    def _parse_form(self, fs: _FormSheet) -> None:
        sheet, form = fs.sheet, fs.form
        if fs.header_row is None:
            for ind in registry.form_indicators(form, self.seeds_dir):
                if ind.required:
                    self.add("header.required", sheet=sheet.name, indicator=ind.code, name=ind.name_zh)
            return
        texts, data_start = _header_texts(sheet, fs.header_row, form)
        header = self._read_header(sheet.name, texts, form)
        if data_start < len(sheet.rows) and self._is_unit_row(sheet.rows[data_start], header.code_col,
                                                              header.name_col):
            header.columns = _with_unit_row(header.columns, sheet.rows[data_start])
            data_start += 1
        factors = self._factors(sheet.name, header)
        present = {col.indicator.code for col in header.columns.values() if not col.prior}
        for ind in registry.form_indicators(form, self.seeds_dir):
            if ind.required and ind.code not in present:
                self.add("header.required", sheet=sheet.name, cell=a1(fs.header_row, 0), indicator=ind.code,
                         name=ind.name_zh)
        header.columns = {c: col for c, col in header.columns.items() if c in factors}
        rows = self._read_rows(fs, data_start, header, factors)
        self._check_rows(fs, header, factors, rows)
        self._emit_values(fs, rows)

    def _read_header(self, sheet: str, texts: dict[int, tuple[str, str]], form: str) -> _Header:
        header = _Header()
        for c, (text, ref) in sorted(texts.items()):
            m = match_header(text, form)
            header.cells[c] = ref
            if m.kind == "code" and header.code_col is None:
                header.code_col = c
            elif m.kind == "name" and header.name_col is None:
                header.name_col = c
            elif m.kind == "indicator":
                column = _Column(m.indicator, m.unit, m.prior)
                if column.key not in {col.key for col in header.columns.values()}:  # the first one counts
                    header.columns[c] = column
            elif m.kind == "unknown":
                self.add("header.unknown", sheet=sheet, cell=ref, header=text)
        return header

    def _factors(self, sheet: str, header: _Header) -> dict[int, Decimal]:
        """Factor to the canonical unit of every column whose unit is accepted (header.unit for the others)."""
        factors: dict[int, Decimal] = {}
        for c, col in header.columns.items():
            ind = col.indicator
            factor = unit_factor(ind, col.unit)
            if factor is None:
                self.add("header.unit", sheet=sheet, cell=header.cells[c], indicator=ind.code, name=col.label,
                         unit=col.unit, accepted="、".join(ind.accepted_units))
            else:
                factors[c] = Decimal(str(factor)).normalize()
        return factors

    @staticmethod
    def _is_unit_row(row: list[Cell], code_col: int | None, name_col: int | None) -> bool:
        units = known_units()
        seen = False
        for c, cell in enumerate(row):
            t = _text(cell)
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

    def _read_rows(self, fs: _FormSheet, start: int, header: _Header, factors: dict[int, Decimal]) -> _Rows:
        sheet, form = fs.sheet, fs.form
        rows = _Rows()
        in_footer = False
        for r in range(start, len(sheet.rows)):
            row = sheet.rows[r]
            texts = [_text(c) for c in row]
            if not any(texts):
                continue
            first = normalize(next(t for t in texts if t))
            if in_footer or first.startswith(_FOOTER_PREFIXES):
                in_footer = True
                self._footer(texts)
                continue
            code_text = _text(_row_get(row, header.code_col))
            name_text = _text(_row_get(row, header.name_col))
            if normalize(name_text) in _TOTAL_NAMES or normalize(code_text) in _TOTAL_NAMES:
                rows.total_row = r
                continue
            key = self._row_key(sheet.name, form, r, header, code_text, name_text, rows)
            if key is None:
                continue
            rows.index[key] = r
            rows.values[key] = self._row_values(sheet.name, r, row, header.columns, factors,
                                                None if form == "LZ-0" else key)
        return rows

    def _row_key(self, sheet: str, form: str, r: int, header: _Header, code_text: str, name_text: str,
                 rows: _Rows) -> str | None:
        """The town code of a data row (the county code on LZ-0); None (with a finding) if the row is not used."""
        if form == "LZ-0":
            key, label, town_code, id_col = self.report.county_code, name_text or code_text, None, header.name_col or 0
        else:
            town = self._identify_town(sheet, registry.form_programmes(self.seeds_dir)[form], r, header.code_col, header.name_col,
                                       code_text, name_text)
            if town is None:
                return None
            key, label, town_code = town.code, town.name_zh, town.code
            id_col = header.code_col if code_text and header.code_col is not None else (header.name_col or 0)
        if key in rows.index:
            self.add("row.duplicate", sheet=sheet, cell=a1(r, id_col), town_code=town_code, label=label,
                     other_row=rows.index[key] + 1)
            return None
        return key

    def _check_rows(self, fs: _FormSheet, header: _Header, factors: dict[int, Decimal], rows: _Rows) -> None:
        """Members without a row, sub-items above their parents, the 合计 row."""
        sheet, form, county = fs.sheet, fs.form, self.report.county_code
        if form != "LZ-0":
            programme = registry.form_programmes(self.seeds_dir)[form]
            for town in registry.members(county, programme, self.report.period.end, self.seeds_dir):
                if town.code not in rows.index:
                    self.add("row.member_missing", sheet=sheet.name, town_code=town.code, label=town.name_zh)
        elif county not in rows.index:
            self.add("value.required", sheet=sheet.name, indicator="county_gdp",
                     name=registry.form_indicators("LZ-0", self.seeds_dir)[0].name_zh)
        self._check_parents(sheet.name, form, rows.values)
        if rows.total_row is not None and form != "LZ-0":
            self._check_total(sheet, rows.total_row, header.columns, factors, rows.values)

    def _emit_values(self, fs: _FormSheet, rows: _Rows) -> None:
        """The values of the form: a current value carries its 上年同期 (if reported) on the same row.
        A 上年同期 without a current value is not kept: it is never a current value."""
        form = fs.form
        for key, vals in rows.values.items():
            for (code, prior), (value, cell) in vals.items():
                if prior:
                    continue
                prev = vals.get((code, True))
                self.report.values.append(Value(
                    form, None if form == "LZ-0" else key, code, value, fs.sheet.name, cell,
                    value_prev_year=prev[0] if prev else None, prev_year_cell=prev[1] if prev else None))

    def _identify_town(self, sheet: str, programme: str, r: int, code_col, name_col,
                       code_text: str, name_text: str):
        county, period = self.report.county_code, self.report.period
        label = name_text or code_text
        by_code = registry.towns_by_code(self.seeds_dir)
        cell = a1(r, code_col if code_col is not None else (name_col or 0))
        town = None
        code_norm = normalize(code_text).upper()
        if code_norm:
            town = by_code.get(code_norm) or by_code.get(f"PT-{code_norm}")  # a bare township code
            if town is None or town.county_code != county:
                self.add("row.town_unknown", sheet=sheet, cell=cell, label=label)
                return None
        else:
            name_norm = normalize(name_text)
            matches = [t for t in registry.towns(self.seeds_dir) if t.county_code == county
                       and name_norm in {normalize(n) for n in (t.name_zh, *t.aliases)}]
            if len(matches) != 1:
                self.add("row.town_unknown", sheet=sheet, cell=a1(r, name_col or 0), label=label)
                return None
            town = matches[0]
        if not code_text or not name_text:
            self.add("row.identity", sheet=sheet, cell=cell, town_code=town.code, label=town.name_zh,
                     given="名称" if name_text else "代码", given_en="name" if name_text else "code")
        members = {t.code for t in registry.members(county, programme, period.end, self.seeds_dir)}
        if town.code not in members:
            zh = {"characteristic": "特色小镇", "pilot": "小城市培育试点镇"}[programme]
            self.add("row.town_not_member", sheet=sheet, cell=cell, town_code=town.code, label=town.name_zh,
                     programme_zh=zh, programme_en=programme)
            return None
        return town

    def _row_values(self, sheet: str, r: int, row: list[Cell], columns: dict[int, _Column],
                    factors: dict[int, Decimal], town_code: str | None) -> RowValues:
        out: RowValues = {}
        for c, col in columns.items():
            ind = col.indicator
            cell = _row_get(row, c) or Cell(None)
            ref = a1(r, c)
            parsed = parse_value(cell.value, cell.number_format, rate=ind.kind == "rate_pct")
            where = {"sheet": sheet, "cell": ref, "town_code": town_code, "indicator": ind.code, "name": col.label}
            if parsed.error:
                self.add("value.not_number", raw=parsed.raw, **where)
                continue
            if parsed.value is None:
                if ind.required and not col.prior:  # a 上年同期 is never required
                    self.add("value.required", **where)
                continue
            value = parsed.value * factors[c]
            value = value.normalize() if value == value.to_integral_value() else value
            if ind.kind != "rate_pct" and value < 0:
                self.add("value.negative", value=value, **where)
                continue
            if ind.value_type == "integer" and value != value.to_integral_value():
                self.add("value.not_integer", value=value, **where)
                continue
            out[col.key] = (value, ref)
        return out

    def _check_parents(self, sheet: str, form: str, town_values: dict[str, RowValues]) -> None:
        """A sub-item above its parent, for the current values and for the 上年同期 values alike."""
        inds = {i.code: i for i in registry.form_indicators(form, self.seeds_dir)}
        for key, vals in town_values.items():
            for (code, prior), (value, cell) in vals.items():
                parent = inds[code].parent
                if parent and (parent, prior) in vals and value > vals[(parent, prior)][0]:
                    suffix = _PRIOR_SUFFIX if prior else ""
                    self.add("value.parent", sheet=sheet, cell=cell, town_code=None if form == "LZ-0" else key,
                             indicator=code, name=inds[code].name_zh + suffix, value=value,
                             parent_name=inds[parent].name_zh + suffix, parent_value=vals[(parent, prior)][0])

    def _check_total(self, sheet: Sheet, r: int, columns: dict[int, _Column], factors: dict[int, Decimal],
                     town_values: dict[str, RowValues]) -> None:
        row = sheet.rows[r]
        for c, col in columns.items():
            if col.indicator.kind == "rate_pct":
                continue
            cell = _row_get(row, c) or Cell(None)
            parsed = parse_value(cell.value, cell.number_format)
            if parsed.value is None:
                continue
            total = parsed.value * factors[c]
            parts = [vals[col.key][0] for vals in town_values.values() if col.key in vals]
            expected = sum(parts, Decimal(0))
            last_digit = Decimal(1).scaleb(-decimals(parsed.value)) * factors[c]
            tolerance = max(abs(expected) * Decimal("0.005"), last_digit)
            if abs(total - expected) > tolerance:
                self.add("value.total", sheet=sheet.name, cell=a1(r, c), indicator=col.indicator.code,
                         name=col.label, value=total, expected=expected)

    def _footer(self, texts: list[str]) -> None:
        joined = " ".join(texts)
        s = normalize(joined)
        for label, key in (("填报人", "reporter"), ("联系电话", "phone")):
            m = re.search(label + r"[:：]?([^:：]*?)(?=填报人|联系电话|报出日期|单位负责人|统计负责人|$)", s)
            if m and m.group(1):
                self.report.metadata.setdefault(key, m.group(1))
        if "报出日期" in s:
            m = _CN_DATE.search(s.split("报出日期", 1)[1])
            if m:
                try:
                    self.report.metadata.setdefault("report_date", date(int(m[1]), int(m[2]), int(m[3])))
                except ValueError:
                    pass


_SNIFF_ROWS = 10


def sniff_county(path: Path, file_name: str | None = None) -> str | None:
    """The county code the file's title block names (填报单位 on its form sheets), read cheaply
    (the first rows only), for grouping files before they are parsed; None when the file cannot be
    read or its sheets name no county, or more than one. Never reads the file name (which the
    parser checks against the title block) and never raises. Whatever it says, the parser decides."""
    name = file_name or Path(path).name
    try:
        from ingest.reader import read_head

        codes: set[str] = set()
        for sheet in read_head(Path(path), name, _SNIFF_ROWS):
            if sheet.hidden or _form_of(sheet, name, Path(name).suffix.lower() == ".csv") is None:
                continue
            for text, _cell in _labelled(_title_texts(sheet, _SNIFF_ROWS), "填报单位"):
                codes |= find_county(text) or {""}  # a label naming no county: unknown
        return codes.pop() if len(codes) == 1 and "" not in codes else None
    except Exception:  # unreadable, damaged, or anything else: the file is grouped alone and parsed as usual
        return None


def parse_report(path: Path, file_name: str | None = None, today: date | None = None, *,
                 seeds_dir: Path | None = None) -> Report:
    """Parse and validate one file. Never raises on bad content: every problem of the file is a finding.
    An exception is a defect of the parser, not of the file, and propagates: the ingest holds the file as
    an incident (ingest.landing) instead of refusing the county's report for it.

    `seeds_dir` holds the registry seeds (counties, towns, indicators and the membership seeds
    memberships, decisions, decision_actions that decide which towns must and may report);
    default: `core.config.seeds_dir()` (TWOTOWNS_SEEDS_DIR, else the project's dbt seeds)."""
    today = today or datetime.now().date()
    return _Parser(Path(path), file_name or Path(path).name, today, registry.folder(seeds_dir)).run()
