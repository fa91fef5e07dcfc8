"""The landing and raw schemas, versioned with Alembic (ingest/migrations).

    python -m ops migrate        # upgrade the warehouse to the newest revision (what a deployment runs)

`ensure(conn)` is what the ingest calls before it writes: one query of the version table when the
database is up to date (no DDL, no lock); a database that is behind (new, or made by an older
release) is upgraded once, under an advisory lock, data in place. Revision 0001 is the DDL that
created the schemas before migrations existed, idempotent, so a deployment holding data upgrades
without a manual step.
"""

from __future__ import annotations

from pathlib import Path

HEAD = "0003"  # the newest revision in migrations/versions (tested)
VERSION_SCHEMA = "landing"
VERSION_TABLE = "alembic_version"
LOCK = "twotowns landing migrations"
MIGRATIONS = Path(__file__).parent / "migrations"


def current(conn) -> str | None:
    """The revision the database is at (None: never migrated)."""
    exists = conn.execute("select to_regclass(%s) is not null", (f"{VERSION_SCHEMA}.{VERSION_TABLE}",)).fetchone()[0]
    if not exists:
        return None
    row = conn.execute(f"select version_num from {VERSION_SCHEMA}.{VERSION_TABLE}").fetchone()  # constants
    return row[0] if row else None


def _config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def head() -> str:
    """The newest revision of the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def migrate(url: str | None = None, *, libpq: dict | None = None,
            revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database at `url` (default: the warehouse; or the psycopg connection parameters
    `libpq`) to `revision`; returns the revisions (before, after)."""
    import psycopg
    from alembic import command
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from core.warehouse import conn_params

    params = libpq or conn_params(url).libpq()
    engine = create_engine("postgresql+psycopg://", poolclass=NullPool, creator=lambda: psycopg.connect(**params))
    try:
        with engine.connect() as connection:
            before = current(connection.connection.driver_connection)
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
            after = current(connection.connection.driver_connection)
    finally:
        engine.dispose()
    return before, after


def ensure(conn) -> None:
    """Upgrade the database `conn` is connected to if it is behind HEAD (see module doc)."""
    from psycopg.pq import TransactionStatus

    idle = conn.info.transaction_status == TransactionStatus.IDLE
    revision = current(conn)
    if not conn.autocommit and idle:
        conn.rollback()  # only the version read: the caller's connection is left as it was
    if revision == HEAD:
        return
    info = conn.info
    migrate(libpq={"host": info.host, "port": info.port, "user": info.user, "password": info.password,
                   "dbname": info.dbname})
