"""Which sheet is which form (LZ-0 县域指标, LZ-1 特色小镇, LZ-2 小城市培育试点镇), and the forms the county
must send for the period."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.text import normalize
from ingest.current import required_forms
from ingest.reader import Sheet
from ingest.sheet.cells import text
from ingest.sheet.report import Context

FORM_LABELS = {"LZ-0": "县域指标", "LZ-1": "特色小镇", "LZ-2": "小城市培育试点镇"}
_SHEET_FORM = [("LZ-0", ("县域",)), ("LZ-1", ("特色小镇",)), ("LZ-2", ("试点镇", "小城市培育"))]
_FORM_CODE = re.compile(r"LZ-?([012])", re.IGNORECASE)


@dataclass
class FormSheet:
    form: str
    sheet: Sheet
    header_row: int | None = None
    county_texts: list[tuple[str, str]] = field(default_factory=list)  # (text, cell)
    period_texts: list[tuple[str, str]] = field(default_factory=list)


def form_of(sheet: Sheet, file_name: str, is_csv: bool) -> str | None:
    """The form of a sheet: by its name, else its 表号 in the first rows (a CSV file: any LZ code there,
    else in the file name); None for a sheet that is no form."""
    name = normalize(sheet.name)
    for form, needles in _SHEET_FORM:
        if any(n in name for n in needles):
            return form
    m = _FORM_CODE.search(name)
    if m:
        return f"LZ-{m.group(1)}"
    for row in sheet.rows[:8]:
        for cell in row:
            t = normalize(text(cell))
            if "表号" in t or is_csv:
                m = _FORM_CODE.search(t)
                if m:
                    return f"LZ-{m.group(1)}"
    if is_csv:
        m = _FORM_CODE.search(normalize(file_name))
        if m:
            return f"LZ-{m.group(1)}"
    return None


def form_sheets(sheets: list[Sheet], file_name: str, is_csv: bool) -> dict[str, FormSheet]:
    """The first visible sheet of each form, by form."""
    found: dict[str, FormSheet] = {}
    for sheet in sheets:
        if sheet.hidden:
            continue
        form = form_of(sheet, file_name, is_csv)
        if form and form not in found:
            found[form] = FormSheet(form, sheet)
    return found


def no_form_sheet(ctx: Context) -> None:
    """The file holds no sheet of any form."""
    ctx.add("sheet.missing", form="LZ-0", label=FORM_LABELS["LZ-0"],
            detail="文件中没有可识别的报表（工作表名称应包含“县域指标”“特色小镇”或“试点镇”）。",
            detail_en="No form sheet was recognised (sheet names must contain 县域指标, 特色小镇 or 试点镇).")


def check_sheets_present(ctx: Context, found: dict[str, FormSheet], is_csv: bool) -> None:
    """Every form the county must send for the period is in the workbook (LZ-0 always; LZ-1 and LZ-2
    when the county has member towns of the programme)."""
    if is_csv:
        return  # a CSV file is one form; the county's report is assembled from several files
    required = required_forms(ctx.report.county_code, ctx.report.period, ctx.seeds_dir)
    for form in sorted(required - set(found)):
        if form == "LZ-0":
            ctx.add("sheet.missing", form="LZ-0", label=FORM_LABELS["LZ-0"],
                    detail="县域指标表每期必报。", detail_en="LZ-0 is required every period.")
        else:
            ctx.add("sheet.missing", form=form, label=FORM_LABELS[form],
                    detail="本县（市、区）在本报告期有该项目成员，须报送此表。",
                    detail_en="The county has member towns of this programme in the period.")
