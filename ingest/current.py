"""What is current: for every (county, period, form), the accepted submission with the
highest version (by receipt time) that carries that form. A workbook carries all its
forms; a CSV file carries one, so a county's report can be assembled from CSV files.
The dbt model int_submissions_current implements the same rule for the marts."""

from __future__ import annotations

from pathlib import Path

from core import registry
from core.periods import Period

# One row per (county_code, year, quarter, form) with its current submission.
CURRENT_FORMS_SQL = """
select distinct on (s.county_code, s.year, s.quarter, f.form)
    s.county_code, s.year, s.quarter, f.form, s.submission_id, s.version, s.file_sha256
from landing.submissions as s
cross join lateral unnest(s.forms) as f(form)
where s.status = 'accepted'
order by s.county_code, s.year, s.quarter, f.form, s.version desc
"""


def required_forms(county_code: str, period: Period, seeds_dir: Path | None = None) -> set[str]:
    """LZ-0 always; LZ-1 / LZ-2 when the county has member towns of that programme at quarter end."""
    forms = {"LZ-0"}
    for form, programme in registry.FORM_PROGRAMME.items():
        if registry.members(county_code, programme, period.end, seeds_dir):
            forms.add(form)
    return forms


def missing_forms(conn, county_code: str, period: Period, seeds_dir: Path | None = None) -> list[str]:
    """Required forms of the county's report for the period that no accepted submission carries yet."""
    present = {r[0] for r in conn.execute(
        "select distinct f.form from landing.submissions as s cross join lateral unnest(s.forms) as f(form) "
        "where s.status = 'accepted' and s.county_code = %s and s.year = %s and s.quarter = %s",
        (county_code, period.year, period.quarter)).fetchall()}
    return sorted(required_forms(county_code, period, seeds_dir) - present)
