"""Cross-period checks that need the accepted history in the warehouse.

`value.ytd_decrease` (error), `value.growth_outlier`, `value.growth_mismatch` and
`value.prior_mismatch` (warnings) compare a report with the current accepted versions
of the previous quarter of the same year and of the same quarter of the previous year.

The value of the same period last year is the 上年同期 the county reports beside the
current value when the form carries it (it includes revisions), else last year's
accepted report (programme-rules §2). Where both exist and differ by more than the
seed tolerance (policy_parameters `prior_mismatch_tolerance` of the report's year),
the revision is shown: `value.prior_mismatch`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core import registry
from ingest.findings import Finding, finding
from ingest.parse import Report, Value

GROWTH_LOW, GROWTH_HIGH = Decimal(-50), Decimal(100)
MISMATCH_PP = Decimal(5)
# reporting-spec §4: the tolerance of value.prior_mismatch when no policy row covers the year
DEFAULT_PRIOR_MISMATCH_TOLERANCE = Decimal("0.01")
# reported rate -> the value whose nominal growth it must roughly agree with
_RATE_OF = {"gdp_growth": "gdp", "county_gdp_growth": "county_gdp"}

_HISTORY_SQL = """
select c.year, c.quarter, v.form, v.town_code, v.indicator, v.value
from landing.current_submission_forms as c
join raw.report_values as v on v.submission_id = c.submission_id and v.form = c.form
where c.county_code = %(county)s
  and ((c.year = %(y1)s and c.quarter = %(q1)s) or (c.year = %(y2)s and c.quarter = %(q2)s))
"""

Key = tuple[str, str | None, str]  # (form, town or None, indicator)


def _schema_ready(conn) -> bool:
    return conn.execute("select to_regclass('raw.report_values') is not null").fetchone()[0]


def _accepted_history(conn, report: Report) -> tuple[dict[Key, Decimal], dict[Key, Decimal]]:
    """(previous quarter of the same year, same quarter of last year): accepted current values."""
    period = report.period
    prev_q = period.previous() if period.quarter > 1 else None
    rows = conn.execute(_HISTORY_SQL, {
        "county": report.county_code,
        "y1": prev_q.year if prev_q else -1, "q1": prev_q.quarter if prev_q else -1,
        "y2": period.year - 1, "q2": period.quarter,
    }).fetchall()
    prev_quarter: dict[Key, Decimal] = {}
    prev_year: dict[Key, Decimal] = {}
    for year, _quarter, form, town, indicator, value in rows:
        target = prev_year if year == period.year - 1 else prev_quarter
        target[(form, town, indicator)] = value
    return prev_quarter, prev_year


def prior_mismatch_tolerance(year: int, seeds_dir: Path | None = None) -> Decimal:
    """The policy's tolerance (a fraction) for a report of `year`."""
    value = registry.policy_parameter("prior_mismatch_tolerance", year, seeds_dir)
    return DEFAULT_PRIOR_MISMATCH_TOLERANCE if value is None else value


def prior_differs(reported: Decimal, accepted: Decimal, tolerance: Decimal) -> bool:
    """|reported − accepted| / |accepted| > tolerance (any difference from an accepted zero)."""
    if accepted == 0:
        return reported != 0
    return abs(reported - accepted) / abs(accepted) > tolerance


def history_findings(conn, report: Report, seeds_dir: Path | None = None) -> list[Finding]:
    if conn is None or not _schema_ready(conn):
        return [finding("check.history_skipped")]
    prev_quarter, prev_year = _accepted_history(conn, report)
    tolerance = prior_mismatch_tolerance(report.period.year, seeds_dir)
    inds = {(i.form, i.code): i for i in registry.indicators(seeds_dir)}
    current = {(v.form, v.town_code, v.indicator): v for v in report.values}
    out: list[Finding] = []
    for key, v in current.items():
        ind = inds[(v.form, v.indicator)]
        where = {"sheet": v.sheet, "cell": v.cell, "town_code": v.town_code, "indicator": v.indicator,
                 "name": ind.name_zh}
        if ind.kind == "flow_ytd" and key in prev_quarter and v.value < prev_quarter[key]:
            out.append(finding("value.ytd_decrease", value=v.value, previous=prev_quarter[key], **where))
        accepted = prev_year.get(key)
        if v.value_prev_year is not None and accepted is not None and prior_differs(v.value_prev_year, accepted,
                                                                                   tolerance):
            out.append(_prior_mismatch(v, accepted, tolerance, ind.name_zh))
        out += _growth_findings(v, ind.kind, _prior_used(v, accepted), current, prev_year, where)
    return out


def _prior_used(v: Value, accepted: Decimal | None) -> Decimal | None:
    """The value of the same period last year: the reported 上年同期, else last year's accepted value."""
    return v.value_prev_year if v.value_prev_year is not None else accepted


def _prior_mismatch(v: Value, accepted: Decimal, tolerance: Decimal, name: str) -> Finding:
    diff = ((v.value_prev_year - accepted) / accepted * 100) if accepted else None
    return finding("value.prior_mismatch", sheet=v.sheet, cell=v.prev_year_cell, town_code=v.town_code,
                   indicator=v.indicator, name=name, reported=v.value_prev_year, accepted=accepted,
                   diff=f"{diff:+.1f}%" if diff is not None else "—", tolerance=f"{tolerance * 100:g}%")


def _growth_findings(v: Value, kind: str, before: Decimal | None, current: dict[Key, Value],
                     prev_year: dict[Key, Decimal], where: dict) -> list[Finding]:
    out: list[Finding] = []
    growth = None
    if kind == "rate_pct":
        growth = v.value
    elif kind == "flow_ytd" and before:
        growth = (v.value / before - 1) * 100
    if growth is not None and not (GROWTH_LOW <= growth <= GROWTH_HIGH):
        out.append(finding("value.growth_outlier", growth=round(growth, 1), **where))
    base = _RATE_OF.get(v.indicator)
    if base:
        now = current.get((v.form, v.town_code, base))
        then = _prior_used(now, prev_year.get((v.form, v.town_code, base))) if now else None
        if now and then:
            computed = (now.value / then - 1) * 100
            if abs(computed - v.value) > MISMATCH_PP:
                out.append(finding("value.growth_mismatch", reported=v.value, computed=round(computed, 1), **where))
    return out
