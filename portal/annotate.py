"""A copy of a refused report with the cells of its findings highlighted and commented.

An .xlsx is annotated in place (a copy: its own formats kept); an .xls or CSV, or an .xlsx openpyxl
cannot open, is rendered as a new workbook from what the reader read (ingest.reader.read_file), one
sheet per sheet, under the same sheet names the findings use.
"""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

FILLS = {"error": PatternFill("solid", start_color="FFF4B4B4"), "warning": PatternFill("solid", start_color="FFFFE0A0")}
SHEET_TITLE_MAX = 31  # Excel's limit


def _grid_workbook(path: Path, name: str) -> Workbook:
    from ingest.reader import read_file

    wb = Workbook()
    wb.remove(wb.active)
    for sheet in read_file(path, name):
        ws = wb.create_sheet(sheet.name[:SHEET_TITLE_MAX])
        for r, row in enumerate(sheet.rows, start=1):
            for c, cell in enumerate(row, start=1):
                if cell.value is not None:
                    ws.cell(row=r, column=c, value=cell.value)
    if not wb.sheetnames:
        wb.create_sheet("报表")
    return wb


def _open(path: Path, name: str) -> Workbook:
    if Path(name).suffix.lower() == ".xlsx":
        try:
            return load_workbook(path)
        except Exception:  # a workbook openpyxl cannot open: what the reader read of it instead
            pass
    return _grid_workbook(path, name)


def annotated_workbook(path: Path, name: str, findings: list[dict]) -> bytes:
    """The workbook with every finding that names a sheet and a cell marked there; the others listed on a
    first sheet 问题清单 (every finding, with its cell)."""
    wb = _open(path, name)
    summary = wb.create_sheet("问题清单", 0)
    summary.append(["级别", "工作表", "单元格", "小镇", "指标", "说明", "Explanation"])
    for f in findings:
        summary.append([f["severity"], f.get("sheet"), f.get("cell"), f.get("town_code"), f.get("indicator"),
                        f["message_zh"], f["message_en"]])
        sheet, cell = f.get("sheet"), f.get("cell")
        if not sheet or not cell or f["severity"] not in FILLS:
            continue
        title = sheet[:SHEET_TITLE_MAX]
        if title not in wb.sheetnames:
            continue
        target = wb[title][cell]
        if isinstance(target, MergedCell):
            continue
        target.fill = FILLS[f["severity"]]
        text = f"{f['message_zh']}\n{f['message_en']}"
        if target.comment is not None and target.comment.author == "两镇数据平台":
            text = target.comment.text + "\n\n" + text
        target.comment = Comment(text, "两镇数据平台", width=360, height=160)
    summary.column_dimensions["F"].width = 60
    summary.column_dimensions["G"].width = 60
    wb.active = 0
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
