"""Held files, and a file's new decision made beside its old one.

- landing.held_files: a file whose processing raised an internal error (a defect of the platform, not of
  the report) is held: its bytes stay in the archive and in quarantine, the county is told its report is
  held, not refused, and `python -m ops reprocess --held` processes it again once the defect is fixed.
- A file may have a pending submission beside its decided one: `ops reprocess` loads and audits the new
  one while the old version stays current, and replaces it in the transaction that decides the new one.
  At most one decided (accepted or refused) submission per file, as before.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
create table landing.held_files (
    file_sha256 text primary key references landing.files (file_sha256),
    file_name   text not null,
    received_at timestamptz not null,
    error       text not null,  -- the exception's type and message (the traceback is in the task log)
    held_at     timestamptz not null default now()
);

alter table landing.submissions drop constraint if exists submissions_file_sha256_key;
create unique index submissions_decided_file_uq on landing.submissions (file_sha256) where status <> 'pending';
create index submissions_file_sha256 on landing.submissions (file_sha256);
""")


def downgrade() -> None:
    op.execute("""
drop index landing.submissions_file_sha256;
drop index landing.submissions_decided_file_uq;
alter table landing.submissions add constraint submissions_file_sha256_key unique (file_sha256);
drop table landing.held_files;
""")
