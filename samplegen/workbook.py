"""Render a county report as an .xlsx workbook, byte for byte reproducible."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core.xlsx import workbook_bytes
from samplegen.registry import Indicator
from samplegen.report import FormTable, Report
from samplegen.values import Number

TITLES = {
    "LZ-0": "嘉兴市县域经济指标季报",
    "LZ-1": "嘉兴市特色小镇建设情况季报",
    "LZ-2": "嘉兴市小城市培育试点镇发展情况季报",
}
SHEET_NAMES = {"LZ-0": "LZ-0 县域指标", "LZ-1": "LZ-1 特色小镇", "LZ-2": "LZ-2 试点镇"}
INSTRUCTIONS_SHEET = "填表说明"
INSTRUCTIONS = (
    "填表说明",
    "1. 本表为嘉兴市特色小镇和小城市培育试点镇（两镇）季报，由各县（市、区）汇总填报。",
    "2. 报送时间：季后20日内报送；四季度报表于次年1月31日前报送。",
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


def _write_form(ws: Worksheet, report: Report, table: FormTable, style: Presentation) -> None:
    headers = ["代码", "名称"] + [header_text(ind, style) for ind in table.indicators]
    remarks = style.remarks_column and table.has_total
    if remarks:
        headers.append(REMARKS_HEADER)
    last_col = len(headers)
    last_letter = get_column_letter(last_col)

    ws["A1"] = TITLES[table.form]
    ws.merge_cells(f"A1:{last_letter}1")
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 28
    ws["A2"] = f"表号：{table.form}"
    ws["C2"] = f"填报单位：{report.county.name_zh}"
    ws.cell(row=2, column=last_col, value=f"报告期：{report.period.ytd_label}")
    ws.cell(row=2, column=last_col).alignment = Alignment(horizontal="right")

    for col, text in enumerate(headers, start=1):
        cell = ws.cell(row=3, column=col, value=text)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = BORDER
    ws.row_dimensions[3].height = 42

    row_no = 3
    written: dict[str, list[Number | str]] = {ind.code: [] for ind in table.indicators}
    for index, row in enumerate(table.rows):
        row_no += 1
        ws.cell(row=row_no, column=1, value=row.code).border = BORDER
        ws.cell(row=row_no, column=2, value=row.name).border = BORDER
        for col, ind in enumerate(table.indicators, start=3):
            shown = _display(ind, row.values[ind.code], style)
            written[ind.code].append(shown)
            cell = ws.cell(row=row_no, column=col, value=shown)
            cell.number_format = _number_format(ind, style)
            cell.border = BORDER
            if isinstance(shown, str):
                cell.alignment = Alignment(horizontal="center")
        if remarks:
            ws.cell(row=row_no, column=last_col, value=REMARKS[index % len(REMARKS)] or None).border = BORDER

    if table.has_total:
        row_no += 1
        ws.cell(row=row_no, column=1).border = BORDER
        total_name = ws.cell(row=row_no, column=2, value="合计")
        total_name.font = Font(bold=True)
        total_name.border = BORDER
        for col, ind in enumerate(table.indicators, start=3):
            cell = ws.cell(row=row_no, column=col, value=_total(ind, written[ind.code], style))
            cell.number_format = _number_format(ind, style)
            cell.border = BORDER
        if remarks:
            ws.cell(row=row_no, column=last_col).border = BORDER

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

    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = max(14, max(_display_width(r.name) for r in table.rows) + 2)
    for col in range(3, last_col + 1):
        width = min(18, max(11, _display_width(headers[col - 1]) // 2 + 2))
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "C4"


def _write_instructions(ws: Worksheet) -> None:
    for row, text in enumerate(INSTRUCTIONS, start=1):
        ws.cell(row=row, column=1, value=text)
    ws["A1"].font = Font(bold=True, size=12)
    ws.column_dimensions["A"].width = 90


def build_workbook(report: Report, style: Presentation) -> Workbook:
    wb = Workbook()
    _write_instructions(wb.active)
    wb.active.title = INSTRUCTIONS_SHEET
    for table in report.tables:
        _write_form(wb.create_sheet(SHEET_NAMES[table.form]), report, table, style)
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
