"""The one definition of "which submission is current", read by dbt, GX, the ingest and (through the
marts' lineage) the publication.

The current submission of a (county, year, quarter, form) is the accepted submission with the highest
version among those that carry the form. A workbook carries all its forms, so a new workbook supersedes
all of them; a CSV file carries one form (reporting-spec §2), so a corrected LZ-1.csv supersedes LZ-1 only.

- landing.current_submission_forms_at(as_of): what was current for submissions received before `as_of`
  (dbt's int_submissions_current with var as_of_date rebuilds what was known then). A SQL function that
  PostgreSQL inlines like a view, written as an anti-join: the planner estimates it well on whole-data
  joins with raw.report_values (a window over the versions is estimated at a few rows and leads it into
  nested loops).
- landing.current_submission_forms: the same, now.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
create function landing.current_submission_forms_at(as_of timestamptz)
returns table (submission_id bigint, county_code text, year smallint, quarter smallint, form text,
               version integer, file_sha256 text, received_at timestamptz)
language sql stable
as $$
select s.submission_id, s.county_code, s.year, s.quarter, f.form, s.version, s.file_sha256, s.received_at
from landing.submissions as s
cross join lateral unnest(s.forms) as f(form)
where s.status = 'accepted'
    and s.received_at < as_of
    and not exists (
        select 1 from landing.submissions as later
        where later.status = 'accepted'
            and later.received_at < as_of
            and later.county_code = s.county_code
            and later.year = s.year
            and later.quarter = s.quarter
            and later.version > s.version
            and f.form = any(later.forms)
    )
$$;

create view landing.current_submission_forms as
select * from landing.current_submission_forms_at('infinity');
""")


def downgrade() -> None:
    op.execute("""
drop view landing.current_submission_forms;
drop function landing.current_submission_forms_at(timestamptz);
""")
