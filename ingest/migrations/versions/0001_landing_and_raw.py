"""Landing and raw as they were before migrations: every table, the unique index of raw values, and the
v2 columns of last year's reported value (上年同期).

Idempotent on purpose: a deployment that already holds data was made by this very DDL (run on every submit
before migrations existed); upgrading it records this revision and changes nothing.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DDL = r"""
create schema if not exists landing;
create schema if not exists raw;

-- Every distinct file ever received, by content hash. The bytes live in the archive.
create table if not exists landing.files (
    file_sha256       text primary key check (file_sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes        bigint not null check (size_bytes >= 0),
    archive_path      text not null,
    first_received_at timestamptz not null
);

-- One row per distinct file received (a byte-identical resend is a no-op: no row).
create table if not exists landing.submissions (
    submission_id  bigint generated always as identity primary key,
    file_sha256    text not null unique references landing.files (file_sha256),
    file_name      text not null,
    received_at    timestamptz not null,
    processed_at   timestamptz not null default now(),
    county_code    text,
    year           smallint,
    quarter        smallint check (quarter between 1 and 4),
    forms          text[] not null default '{}',
    -- pending: values loaded and being audited; never current
    status         text not null check (status in ('pending', 'accepted', 'refused')),
    version        integer check (version >= 1),  -- Nth accepted report of (county, period) by receipt time
    deadline       date,
    late           boolean,
    errors         integer not null default 0,
    warnings       integer not null default 0,
    reporter       text,
    phone          text,
    report_date    date,
    constraint accepted_has_version check ((status = 'accepted') = (version is not null)),
    -- versions are renumbered by receipt time inside one transaction: checked at commit
    constraint submissions_version_uq unique (county_code, year, quarter, version) deferrable initially deferred
);

create table if not exists landing.findings (
    submission_id bigint not null references landing.submissions (submission_id),
    finding_no    integer not null,
    severity      text not null check (severity in ('error', 'warning', 'info')),
    code          text not null,
    sheet         text,
    cell          text,
    town_code     text,
    indicator     text,
    message_zh    text not null,
    message_en    text not null,
    primary key (submission_id, finding_no)
);

-- Every accepted value, in canonical units, traceable to file, sheet and cell.
-- town_code is null on the county row of LZ-0.
create table if not exists raw.report_values (
    submission_id      bigint not null references landing.submissions (submission_id),
    county_code        text not null,
    year               smallint not null,
    quarter            smallint not null check (quarter between 1 and 4),
    form               text not null check (form in ('LZ-0', 'LZ-1', 'LZ-2')),
    town_code          text,
    indicator          text not null,
    value              numeric,
    source_file_sha256 text not null,
    source_sheet       text not null,
    source_cell        text not null
);

create unique index if not exists report_values_uq
    on raw.report_values (submission_id, form, coalesce(town_code, ''), indicator);

-- v2: the county-reported value of the same period last year (上年同期), in canonical units, on the
-- row of the current value (same town, indicator and period), and its A1 cell (sheet: source_sheet).
-- Null when the form does not carry it. Databases created before v2 gain the columns here. The check
-- comes first because ALTER TABLE takes an ACCESS EXCLUSIVE lock even when IF NOT EXISTS makes it a
-- no-op, and this file runs before every submission (while dbt may be reading the table).
do $$
begin
    if (select count(*) from pg_attribute
        where attrelid = 'raw.report_values'::regclass and not attisdropped
          and attname in ('value_prev_year', 'prev_year_source_cell')) < 2 then
        alter table raw.report_values
            add column if not exists value_prev_year numeric,
            add column if not exists prev_year_source_cell text;
    end if;
end
$$;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    raise NotImplementedError("the landing schema holds every report ever received: it is never dropped")
