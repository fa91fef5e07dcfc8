"""Alembic environment of the landing and raw schemas (ingest/schema.py runs it; no alembic.ini).

The version table is landing.alembic_version. Migrations run in one transaction, after an advisory
lock: two processes that start on an old database at once upgrade it once.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from ingest.schema import LOCK, VERSION_SCHEMA, VERSION_TABLE


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE,
                      version_table_schema=VERSION_SCHEMA, transactional_ddl=True)
    with context.begin_transaction():
        connection.execute(text("select pg_advisory_xact_lock(hashtext(:lock))"), {"lock": LOCK})
        connection.execute(text(f"create schema if not exists {VERSION_SCHEMA}"))  # a constant
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run python -m ops migrate")
run_migrations_online()
