"""Cross-period checks that need the accepted history in the warehouse.

`value.ytd_decrease` (error), `value.growth_outlier` and `value.growth_mismatch`
(warnings) compare a report with the current accepted versions of the previous
quarter of the same year and of the same quarter of the previous year.
"""

from __future__ import annotations

from decimal import Decimal

from ingest import registry
from ingest.current import CURRENT_FORMS_SQL
from ingest.findings import Finding, finding
from ingest.parse import Report

GROWTH_LOW, GROWTH_HIGH = Decimal(-50), Decimal(100)
MISMATCH_PP = Decimal(5)
# reported rate -> the value whose nominal growth it must roughly agree with
_RATE_OF = {"gdp_growth": "gdp", "county_gdp_growth": "county_gdp"}

_HISTORY_SQL = f"""
with current_forms as ({CURRENT_FORMS_SQL})
select c.year, c.quarter, v.form, v.town_code, v.indicator, v.value
from current_forms as c
join raw.report_values as v on v.submission_id = c.submission_id and v.form = c.form
where c.county_code = %(county)s
  and ((c.year = %(y1)s and c.quarter = %(q1)s) or (c.year = %(y2)s and c.quarter = %(q2)s))
"""


def _schema_ready(conn) -> bool:
    return conn.execute("select to_regclass('raw.report_values') is not null").fetchone()[0]


def history_findings(conn, report: Report) -> list[Finding]:
    if conn is None or not _schema_ready(conn):
        return [finding("check.history_skipped")]
    period = report.period
    prev_q = period.previous() if period.quarter > 1 else None
    rows = conn.execute(_HISTORY_SQL, {
        "county": report.county_code,
        "y1": prev_q.year if prev_q else -1, "q1": prev_q.quarter if prev_q else -1,
        "y2": period.year - 1, "q2": period.quarter,
    }).fetchall()
    prev_quarter: dict[tuple, Decimal] = {}
    prev_year: dict[tuple, Decimal] = {}
    for year, _quarter, form, town, indicator, value in rows:
        target = prev_year if year == period.year - 1 else prev_quarter
        target[(form, town, indicator)] = value
    inds = {(i.form, i.code): i for i in registry.indicators()}
    current = {(v.form, v.town_code, v.indicator): v for v in report.values}
    out: list[Finding] = []
    for key, v in current.items():
        ind = inds[(v.form, v.indicator)]
        where = {"sheet": v.sheet, "cell": v.cell, "town_code": v.town_code, "indicator": v.indicator,
                 "name": ind.name_zh}
        if ind.kind == "flow_ytd" and key in prev_quarter and v.value < prev_quarter[key]:
            out.append(finding("value.ytd_decrease", value=v.value, previous=prev_quarter[key], **where))
        growth = None
        if ind.kind == "rate_pct":
            growth = v.value
        elif ind.kind == "flow_ytd" and prev_year.get(key):
            growth = (v.value / prev_year[key] - 1) * 100
        if growth is not None and not (GROWTH_LOW <= growth <= GROWTH_HIGH):
            out.append(finding("value.growth_outlier", growth=round(growth, 1), **where))
        base = _RATE_OF.get(v.indicator)
        if base:
            now = current.get((v.form, v.town_code, base))
            before = prev_year.get((v.form, v.town_code, base))
            if now and before:
                computed = (now.value / before - 1) * 100
                if abs(computed - v.value) > MISMATCH_PP:
                    out.append(finding("value.growth_mismatch", reported=v.value, computed=round(computed, 1),
                                       **where))
    return out
