"""Which sheet is which form (LZ-0 县域指标, LZ-1 特色小镇, LZ-2 小城市培育试点镇), and the forms the county
must send for the period. The forms, their names and the words their sheets are recognised by are the
seed report_forms (core.registry.report_forms)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from core import registry
from core.text import normalize
from ingest.current import required_forms
from ingest.reader import Sheet
from ingest.sheet.cells import text
from ingest.sheet.report import Context


def form_labels(seeds_dir: Path | None = None) -> dict[str, str]:
    """form -> its Chinese name (seed report_forms)."""
    return {f.code: f.name_zh for f in registry.report_forms(seeds_dir)}


@functools.cache
def _code_pattern(codes: tuple[str, ...]) -> re.Pattern:
    """The form codes as counties write them: "LZ-1", "LZ1", "lz-1" (the hyphen optional)."""
    optional_hyphen = [re.escape(c).replace(re.escape("-"), "-?") for c in codes]
    return re.compile("|".join(f"({p})" for p in optional_hyphen), re.IGNORECASE)


def _code_in(text_: str, forms: tuple) -> str | None:
    m = _code_pattern(tuple(f.code for f in forms)).search(text_)
    return forms[m.lastindex - 1].code if m else None


@dataclass
class FormSheet:
    form: str
    sheet: Sheet
    header_row: int | None = None
    county_texts: list[tuple[str, str]] = field(default_factory=list)  # (text, cell)
    period_texts: list[tuple[str, str]] = field(default_factory=list)


def form_of(sheet: Sheet, file_name: str, is_csv: bool, seeds_dir: Path | None = None) -> str | None:
    """The form of a sheet: by the words of its name, else a form code in its name, else its 表号 in the
    first rows (a CSV file: any form code there, else in the file name); None for a sheet that is no form."""
    forms = registry.report_forms(seeds_dir)
    name = normalize(sheet.name)
    for form in forms:
        if any(k in name for k in form.sheet_keywords):
            return form.code
    if code := _code_in(name, forms):
        return code
    for row in sheet.rows[:8]:
        for cell in row:
            t = normalize(text(cell))
            if ("表号" in t or is_csv) and (code := _code_in(t, forms)):
                return code
    return _code_in(normalize(file_name), forms) if is_csv else None


def form_sheets(sheets: list[Sheet], file_name: str, is_csv: bool, seeds_dir: Path | None = None
                ) -> dict[str, FormSheet]:
    """The first visible sheet of each form, by form."""
    found: dict[str, FormSheet] = {}
    for sheet in sheets:
        if sheet.hidden:
            continue
        form = form_of(sheet, file_name, is_csv, seeds_dir)
        if form and form not in found:
            found[form] = FormSheet(form, sheet)
    return found


def no_form_sheet(ctx: Context) -> None:
    """The file holds no sheet of any form."""
    forms = registry.report_forms(ctx.seeds_dir)
    names = [f.sheet_name.split(" ", 1)[-1] for f in forms]  # "LZ-1 特色小镇" -> 特色小镇
    ctx.add("sheet.missing", form=forms[0].code, label=forms[0].name_zh,
            detail="文件中没有可识别的报表（工作表名称应包含" + "".join(f"“{n}”" for n in names[:-1])
            + f"或“{names[-1]}”）。",
            detail_en=f"No form sheet was recognised (sheet names must contain {', '.join(names[:-1])} or {names[-1]}).")


def check_sheets_present(ctx: Context, found: dict[str, FormSheet], is_csv: bool) -> None:
    """Every form the county must send for the period is in the workbook (LZ-0 always; LZ-1 and LZ-2
    when the county has member towns of the programme)."""
    if is_csv:
        return  # a CSV file is one form; the county's report is assembled from several files
    required = required_forms(ctx.report.county_code, ctx.report.period, ctx.seeds_dir)
    labels, programmes = form_labels(ctx.seeds_dir), registry.form_programmes(ctx.seeds_dir)
    for form in sorted(required - set(found)):
        if form not in programmes:  # the county's own form
            ctx.add("sheet.missing", form=form, label=labels[form],
                    detail=f"{labels[form]}表每期必报。", detail_en=f"{form} is required every period.")
        else:
            ctx.add("sheet.missing", form=form, label=labels[form],
                    detail="本县（市、区）在本报告期有该项目成员，须报送此表。",
                    detail_en="The county has member towns of this programme in the period.")
