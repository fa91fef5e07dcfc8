"""What a county's report still lacks. Which submission is current is defined once, by the landing
view current_submission_forms (ingest/migrations/versions/0003), which dbt (int_submissions_current),
GX (expectations/fragments.py) and this module read."""

from __future__ import annotations

from pathlib import Path

from core import registry
from core.periods import Period


def required_forms(county_code: str, period: Period, seeds_dir: Path | None = None) -> set[str]:
    """The county's own form (LZ-0) always; a programme's form (LZ-1 / LZ-2) when the county has member towns
    of that programme at quarter end."""
    forms = set(registry.forms(seeds_dir)) - set(registry.form_programmes(seeds_dir))  # the county's own form
    for form, programme in registry.form_programmes(seeds_dir).items():
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
