"""The portal's schema `portal` in the warehouse: accounts, sessions, login attempts, previews, uploads.

Created idempotently (under an advisory lock) by every process that starts the portal or its CLI.
Every statement takes its values as parameters; no SQL is built from input.
"""

from __future__ import annotations

import contextlib
import functools

SCHEMA_LOCK = "twotowns.portal.schema"

DDL = (
    "create schema if not exists portal",
    """create table if not exists portal.accounts (
        account_id bigserial primary key,
        login text not null unique,
        role text not null check (role in ('county', 'office')),
        county_code text,
        email text,
        password_hash text not null,
        disabled boolean not null default false,
        created_at timestamptz not null default now(),
        password_set_at timestamptz not null default now(),
        check ((role = 'county') = (county_code is not null)))""",
    """create table if not exists portal.sessions (
        token_hash text primary key,
        account_id bigint not null references portal.accounts on delete cascade,
        csrf_token text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null)""",
    """create table if not exists portal.login_attempts (
        attempt_id bigserial primary key,
        at timestamptz not null default now(),
        login text not null,
        client text not null,
        success boolean not null)""",
    "create index if not exists login_attempts_login on portal.login_attempts (login, at)",
    "create index if not exists login_attempts_client on portal.login_attempts (client, at)",
    """create table if not exists portal.previews (
        preview_id text primary key,
        account_id bigint not null references portal.accounts,
        county_code text,
        created_at timestamptz not null default now(),
        files jsonb not null,
        upload_id text)""",
    """create table if not exists portal.uploads (
        upload_id text primary key,
        preview_id text not null,
        account_id bigint not null references portal.accounts,
        county_code text not null,
        period text,
        submitted_at timestamptz not null default now(),
        files jsonb not null,
        intake text not null,
        intake_note text,
        notified_at timestamptz)""",
    "create index if not exists uploads_county on portal.uploads (county_code, submitted_at)",
)


def ensure_schema(conn) -> None:
    """The portal's tables, created if absent (one process at a time)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (SCHEMA_LOCK,))
        if conn.execute("select to_regclass('portal.uploads') is not null").fetchone()[0]:
            return
        for statement in DDL:
            conn.execute(statement)


@functools.cache
def _ready(url: str) -> bool:
    from core.warehouse import connect
    from ingest.landing import ensure_schema as ensure_landing

    with connect(url, autocommit=True) as conn:
        ensure_landing(conn)
        ensure_schema(conn)
    return True


@contextlib.contextmanager
def connection():
    """An autocommit connection to the warehouse, the schemas ensured once per process and URL."""
    from core.warehouse import connect, warehouse_url

    url = warehouse_url()
    _ready(url)
    with connect(url, autocommit=True, connect_timeout=10) as conn:
        yield conn
