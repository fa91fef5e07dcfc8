"""Render a county report as an .xlsx workbook, byte for byte reproducible."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core import registry
from core.periods import Period
from core.xlsx import workbook_bytes
from samplegen.registry import Indicator
from samplegen.report import FormTable, Report
from samplegen.values import Number

INSTRUCTIONS_SHEET = "填表说明"


def titles() -> dict[str, str]:
    """form -> the title above its table (seed report_forms)."""
    return {f.code: f.title_zh for f in registry.report_forms()}


def sheet_names() -> dict[str, str]:
    """form -> its sheet's name in the template (seed report_forms)."""
    return {f.code: f.sheet_name for f in registry.report_forms()}


def instructions() -> tuple[str, ...]:
    """The instructions sheet of the template; the deadlines as the seed reporting_deadlines gives them."""
    q4 = Period(2021, 4).deadline
    return (
        "填表说明",
        "1. 本表为嘉兴市特色小镇和小城市培育试点镇（两镇）季报，由各县（市、区）汇总填报。",
        f"2. 报送时间：季后{registry.deadline_days(1)}日内报送；四季度报表于次年{q4.month}月{q4.day}日前报送。",
        "3. 流量指标填报年初至报告期末累计数，存量指标填报期末数，增速按可比价计算（%）。",
        "4. 金额单位为万元（保留1位小数），企业数、人数填整数；无数据的填“-”。",
        "5. “其中”项不得大于其所属指标；合计行为各镇数据之和。",
        "6. 请勿修改表样、插入或删除列。",
    )
FOOTER_NOTE = "注：本表数据为年初至报告期末累计数。"
NOT_REPORTED = "-"
YI_PER_WAN = 10_000
REMARKS_HEADER = "备注"
REMARKS = ("含省重点项目", "", "新开工项目较多", "", "")
CURRENT_SUB, PRIOR_SUB = "本期", "上年同期"  # sub-headings under an indicator's group cell

THIN = Side(style="thin")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


@dataclass(frozen=True)
class Presentation:
    """How a county writes its report (everything that is not the values)."""

    money_unit: str  # 万元 or 亿元
    remarks_column: bool
    reporter: str
    phone: str
    reported_on: date
    prior_layout: str | None = None  # 上年同期 columns: "group" (本期 | 上年同期 under the indicator), "suffix", "prefix"
    plain: bool = False  # no borders, fonts or alignment (a system export; also 3x quicker to write)


def cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _unit(ind: Indicator, style: Presentation) -> str:
    return style.money_unit if ind.is_money else ind.unit


def header_text(ind: Indicator, style: Presentation) -> str:
    prefix = "其中：" if ind.parent else ""
    return f"{prefix}{ind.name_zh}（{_unit(ind, style)}）"


def _display(ind: Indicator, value: Number | None, style: Presentation) -> Number | str:
    if value is None:
        return NOT_REPORTED
    if ind.is_money and style.money_unit == "亿元":
        return round(value / YI_PER_WAN, 4)
    return value


def _digits(ind: Indicator, style: Presentation) -> int:
    if ind.is_integer:
        return 0
    if ind.is_money and style.money_unit == "亿元":
        return 4
    return 1


def _number_format(ind: Indicator, style: Presentation) -> str:
    if ind.is_rate:
        return "0.0"
    digits = _digits(ind, style)
    return "#,##0" if digits == 0 else "#,##0." + "0" * digits


def _total(ind: Indicator, cells: list[Number | str], style: Presentation) -> Number | None:
    """合计 of a column, from the values as written (rates: no total)."""
    if ind.is_rate:
        return None
    numbers = [v for v in cells if not isinstance(v, str)]
    if ind.is_integer:
        return int(sum(numbers))
    return round(sum(numbers), _digits(ind, style))


@dataclass(frozen=True)
class Column:
    """A value column of a form sheet: an indicator's current value, or its 上年同期."""

    ind: Indicator
    prior: bool = False


def columns_of(table: FormTable, style: Presentation) -> list[Column]:
    """The value columns in order: each indicator, followed by its 上年同期 column if it has one."""
    out: list[Column] = []
    for ind in table.indicators:
        out.append(Column(ind))
        if style.prior_layout and ind.code in table.prior_indicators:
            out.append(Column(ind, prior=True))
    return out


def _two_row_header(columns: list[Column], style: Presentation) -> bool:
    return style.prior_layout == "group" and any(col.prior for col in columns)


def column_header(col: Column, style: Presentation) -> str:
    """The one-row header text of a column (a prior column of the group layout: its sub-heading)."""
    if not col.prior:
        return header_text(col.ind, style)
    unit = _unit(col.ind, style)
    if style.prior_layout == "group":
        return PRIOR_SUB
    if style.prior_layout == "prefix":
        return f"上年同期{col.ind.name_zh}（{unit}）"
    return f"{col.ind.name_zh}上年同期（{unit}）"


def _header_cell(ws: Worksheet, row: int, col: int, text: str | None, plain: bool = False) -> None:
    cell = ws.cell(row=row, column=col, value=text)
    if plain:
        return
    cell.font = Font(bold=True)
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    cell.border = BORDER


def _write_header(ws: Worksheet, headers: list[str], columns: list[Column], style: Presentation) -> int:
    """Header row 3 (and row 4 for 本期 | 上年同期 under a merged group cell); returns the first data row."""
    if not _two_row_header(columns, style):
        for col, text in enumerate(headers, start=1):
            _header_cell(ws, 3, col, text, style.plain)
        ws.row_dimensions[3].height = 42
        return 4
    sheet_cols = {2 + index: col for index, col in enumerate(columns, start=1)}
    for col, text in enumerate(headers, start=1):
        value = sheet_cols.get(col)
        if value is not None and value.prior:
            _header_cell(ws, 3, col, None, style.plain)
            _header_cell(ws, 4, col, PRIOR_SUB, style.plain)
            ws.merge_cells(start_row=3, end_row=3, start_column=col - 1, end_column=col)
            ws.cell(row=4, column=col - 1, value=CURRENT_SUB)
            continue
        _header_cell(ws, 3, col, text, style.plain)
        _header_cell(ws, 4, col, None, style.plain)
        if not (col + 1 in sheet_cols and sheet_cols[col + 1].prior):
            ws.merge_cells(start_row=3, end_row=4, start_column=col, end_column=col)
    ws.row_dimensions[3].height = 30
    ws.row_dimensions[4].height = 24
    return 5


def _write_title(ws: Worksheet, report: Report, form: str, last_col: int) -> None:
    ws["A1"] = titles()[form]
    ws.merge_cells(f"A1:{get_column_letter(last_col)}1")
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 28
    ws["A2"] = f"表号：{form}"
    ws["C2"] = f"填报单位：{report.county.name_zh}"
    ws.cell(row=2, column=last_col, value=f"报告期：{report.period.ytd_label}")
    ws.cell(row=2, column=last_col).alignment = Alignment(horizontal="right")


def _value_cell(ws: Worksheet, row_no: int, col: int, ind: Indicator, value: Number | str | None,
                style: Presentation) -> None:
    cell = ws.cell(row=row_no, column=col, value=value)
    cell.number_format = _number_format(ind, style)
    if style.plain:
        return
    cell.border = BORDER
    if isinstance(value, str):
        cell.alignment = Alignment(horizontal="center")


def _write_rows(ws: Worksheet, table: FormTable, columns: list[Column], style: Presentation, first_row: int,
                remarks_col: int | None) -> int:
    """The data rows and the 合计 row; returns the last row written."""
    row_no = first_row - 1
    written: dict[Column, list[Number | str]] = {col: [] for col in columns}
    for index, row in enumerate(table.rows):
        row_no += 1
        _framed(ws.cell(row=row_no, column=1, value=row.code), style)
        _framed(ws.cell(row=row_no, column=2, value=row.name), style)
        for sheet_col, col in enumerate(columns, start=3):
            shown = _display(col.ind, (row.prev_year if col.prior else row.values)[col.ind.code], style)
            written[col].append(shown)
            _value_cell(ws, row_no, sheet_col, col.ind, shown, style)
        if remarks_col:
            _framed(ws.cell(row=row_no, column=remarks_col, value=REMARKS[index % len(REMARKS)] or None), style)
    if table.has_total:
        row_no += 1
        _framed(ws.cell(row=row_no, column=1), style)
        total_name = _framed(ws.cell(row=row_no, column=2, value="合计"), style)
        if not style.plain:
            total_name.font = Font(bold=True)
        for sheet_col, col in enumerate(columns, start=3):
            _value_cell(ws, row_no, sheet_col, col.ind, _total(col.ind, written[col], style), style)
        if remarks_col:
            _framed(ws.cell(row=row_no, column=remarks_col), style)
    return row_no


def _framed(cell, style: Presentation):
    """The cell with its thin border (none in a plain workbook)."""
    if not style.plain:
        cell.border = BORDER
    return cell


def _write_footer(ws: Worksheet, row_no: int, style: Presentation) -> None:
    row_no += 1  # one blank row
    footer = (
        FOOTER_NOTE,
        f"填报人：{style.reporter}",
        f"联系电话：{style.phone}",
        f"报出日期：{cn_date(style.reported_on)}",
    )
    for text in footer:
        row_no += 1
        ws.cell(row=row_no, column=1, value=text)


def _write_form(ws: Worksheet, report: Report, table: FormTable, style: Presentation) -> None:
    columns = columns_of(table, style)
    headers = ["代码", "名称"] + [column_header(col, style) for col in columns]
    remarks = style.remarks_column and table.has_total
    if remarks:
        headers.append(REMARKS_HEADER)
    last_col = len(headers)
    _write_title(ws, report, table.form, last_col)
    first_row = _write_header(ws, headers, columns, style)
    last_row = _write_rows(ws, table, columns, style, first_row, last_col if remarks else None)
    _write_footer(ws, last_row, style)
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = max(14, max(_display_width(r.name) for r in table.rows) + 2)
    for col in range(3, last_col + 1):
        width = min(18, max(11, _display_width(headers[col - 1]) // 2 + 2))
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = f"C{first_row}"


def _write_instructions(ws: Worksheet) -> None:
    for row, text in enumerate(instructions(), start=1):
        ws.cell(row=row, column=1, value=text)
    ws["A1"].font = Font(bold=True, size=12)
    ws.column_dimensions["A"].width = 90


def build_workbook(report: Report, style: Presentation) -> Workbook:
    wb = Workbook()
    _write_instructions(wb.active)
    wb.active.title = INSTRUCTIONS_SHEET
    for table in report.tables:
        _write_form(wb.create_sheet(sheet_names()[table.form]), report, table, style)
    created = datetime.combine(style.reported_on, time(9, 0))
    wb.properties.creator = style.reporter
    wb.properties.lastModifiedBy = style.reporter
    wb.properties.title = f"{report.county.name_zh}{report.period.quarter_label}两镇季报"
    wb.properties.created = created
    wb.properties.modified = datetime.combine(style.reported_on, time(16, 30))
    return wb


def render(report: Report, style: Presentation) -> bytes:
    wb = build_workbook(report, style)
    return workbook_bytes(wb, datetime.combine(style.reported_on, time(16, 30)))
