"""The empty report form of a quarter for a county, its member towns pre-filled.

Generated from the registry and the indicator catalogue (the seeds: samplegen.registry reads the same
files, and its members are the one membership definition, core.membership), written by the sample
generator's workbook writer (samplegen.workbook): the layout the parser reads. New members appear
from the quarter they join; ended memberships are gone.
"""

from __future__ import annotations

from datetime import date, datetime, time

from core.periods import Period
from core.xlsx import workbook_bytes

FIRST_DATA_ROW = 4  # a one-row header in row 3 (no 上年同期 columns)


def _report(county_code: str, period: Period):
    from samplegen.periods import Period as SamplePeriod
    from samplegen.registry import load_registry
    from samplegen.report import FormTable, Report, Row

    reg = load_registry()
    county = reg.county(county_code)
    sp = SamplePeriod(period.year, period.quarter)
    tables = []
    for form in reg.forms:
        indicators = reg.form_indicators(form)
        if form not in reg.programme_of_form:  # the county's own form: its row
            entities = [(county.code, county.name_zh, None)]
        else:
            entities = [(t.code, t.name_zh, t.code) for t in reg.members(county.code, reg.programme_of_form[form], sp)]
        if not entities:
            continue
        rows = tuple(Row(code, name, town, {ind.code: None for ind in indicators}) for code, name, town in entities)
        tables.append(FormTable(form, indicators, rows))
    return Report(county, sp, tuple(tables))


def form_template(county_code: str, period: Period, today: date | None = None) -> bytes:
    """The .xlsx form: title block (填报单位, 报告期), the member rows, empty value cells."""
    from samplegen.workbook import Presentation, build_workbook, sheet_names

    today = today or date.today()
    report = _report(county_code, period)
    style = Presentation(money_unit="万元", remarks_column=False, reporter="", phone="", reported_on=today)
    wb = build_workbook(report, style)
    for table in report.tables:
        ws = wb[sheet_names()[table.form]]
        last = FIRST_DATA_ROW + len(table.rows) - 1 + (1 if table.has_total else 0)
        for row in ws.iter_rows(min_row=FIRST_DATA_ROW, max_row=last, min_col=3, max_col=2 + len(table.indicators)):
            for cell in row:
                cell.value = None
    return workbook_bytes(wb, datetime.combine(today, time(9, 0)))
