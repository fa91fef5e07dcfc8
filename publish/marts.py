"""Publish an audited build of the marts to BI tools: the warehouse's write-audit-publish switch.

    python -m publish marts          # what the warehouse_build DAG's publish_marts task runs

dbt writes the marts into `marts_build`, the marts gate audits them there (core.marts);
`publish_marts` then, in one transaction:

1. checks that the build `marts_build` holds built every mart (a `dbt build -s` of some
   leaves tables of two builds there) and that the gate's last audit of it passed (a build
   changed since, or a failed audit, is refused: MartsNotAudited);
2. labels its tables and columns for BI tools: PostgreSQL comments with the Chinese label
   and unit of every published column (publish.columns) and the dataset's title;
3. grants the roles that read `marts` (the BI role) select on its tables;
4. swaps the schemas by renaming: `marts_build` becomes `marts`, the previous `marts`
   becomes `marts_build` (retired: the next build rewrites it), and the incremental
   models' state (incremental_state."marts__<table>__*") follows its table;
5. takes the read access away from the retired set and stamps both schemas.

Renames touch the catalogue only: no row is copied, whatever the size of the marts, and
BI queries are not blocked: a statement reads the set that was published when it began.
A publication run (publish.wap) holds the switch off while it reads (`reading_published`),
so that every file of a version comes from one build.
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from core.datasets import published
from core.faults import point
from core.marts import BUILD, PUBLISHED, STATE_SCHEMA, build_of, stamp
from publish.columns import COLUMNS

# the switch takes it exclusively (per transaction), a publication run shared (per session)
SWITCH_LOCK = "twotowns marts switch"
_RETIRING = "marts_retiring"


class MartsNotAudited(RuntimeError):
    """The build in marts_build has no passed audit (or changed after it): it is not published."""


@contextlib.contextmanager
def reading_published(conn):
    """Keep the marts from being switched while `conn` reads them (a shared session lock)."""
    conn.execute("select pg_advisory_lock_shared(hashtext(%s))", (SWITCH_LOCK,))
    try:
        yield
    finally:
        # after a failure the lock still goes; a lost connection took it with it
        with contextlib.suppress(psycopg.Error):
            if conn.info.transaction_status == TransactionStatus.INERROR:
                conn.rollback()
            conn.execute("select pg_advisory_unlock_shared(hashtext(%s))", (SWITCH_LOCK,))


def _passed_audit(conn, build: str) -> str | None:
    """The run id of the last marts audit of `build` if it passed, else None."""
    if conn.execute("select to_regclass('quality.marts_audits') is null").fetchone()[0]:
        return None
    row = conn.execute("select gx_run_id, success from quality.marts_audits where build_id = %s "
                       "order by audited_at desc limit 1", (build,)).fetchone()
    return row[0] if row and row[1] else None


def _label(column: str) -> str | None:
    if column not in COLUMNS:
        return None
    label, unit = COLUMNS[column]
    return f"{label}（单位：{unit}）" if unit else label


def _comment(conn, schema: str) -> dict:
    """Comments on the tables and columns of `schema`: the dataset's title, each column's label and unit."""
    titles = {d.name: d.label_zh for d in published()}
    labelled, unlabelled = 0, []
    rows = conn.execute("select c.table_name, c.column_name from information_schema.columns as c "
                        "join information_schema.tables as t using (table_schema, table_name) "
                        "where c.table_schema = %s and t.table_type = 'BASE TABLE' "
                        "order by c.table_name, c.ordinal_position", (schema,)).fetchall()
    for table in sorted({t for t, _ in rows}):
        title = titles.get(table)
        if title:
            conn.execute(sql.SQL("comment on table {}.{} is {}").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Literal(f"{title}（{table}）")))
    for table, column in rows:
        label = _label(column)
        if label is None:
            unlabelled.append(f"{table}.{column}")
            continue
        conn.execute(sql.SQL("comment on column {}.{}.{} is {}").format(
            sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column), sql.Literal(label)))
        labelled += 1
    return {"labelled_columns": labelled, "unlabelled_columns": unlabelled}


def _readers(conn, schema: str) -> list[str]:
    """The roles besides the owner with usage on `schema` (the BI role)."""
    return [r[0] for r in conn.execute(
        "select distinct r.rolname from pg_namespace as n cross join lateral aclexplode(n.nspacl) as a "
        "join pg_roles as r on r.oid = a.grantee "
        "where n.nspname = %s and a.privilege_type = 'USAGE' and a.grantee <> n.nspowner order by 1",
        (schema,)).fetchall()]


def _rename(conn, old: str, new: str) -> None:
    conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(old), sql.Identifier(new)))


def _swap_state(conn) -> int:
    """Swap the incremental state tables of the two schemas (they are named after the schema)."""
    names = [r[0] for r in conn.execute(
        "select c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind = 'r' and (c.relname like %s or c.relname like %s)",
        (STATE_SCHEMA, PUBLISHED + r"\_\_%", BUILD + r"\_\_%")).fetchall()]
    moves = []
    for i, name in enumerate(sorted(names)):
        source, rest = name.split("__", 1)
        moves.append((name, f"{_RETIRING}_{i}", f"{PUBLISHED if source == BUILD else BUILD}__{rest}"))
    for steps in ((0, 1), (1, 2)):  # every table to a temporary name first: no name is taken twice
        for move in moves:
            conn.execute(sql.SQL("alter table {}.{} rename to {}").format(
                sql.Identifier(STATE_SCHEMA), sql.Identifier(move[steps[0]]), sql.Identifier(move[steps[1]])))
    return len(moves)


def _stamp(conn, schema: str, value: dict) -> None:
    conn.execute(sql.SQL("comment on schema {} is {}").format(
        sql.Identifier(schema), sql.Literal(json.dumps(value, ensure_ascii=False, sort_keys=True))))


def publish_marts(url: str | None = None, *, now: datetime | None = None) -> dict:
    """Switch the audited build of marts_build into marts (see module doc). Returns what was done;
    `switched` False when there is no new build (already published: a re-run is a no-op)."""
    from core.warehouse import connect

    start = time.monotonic()
    with connect(url) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (SWITCH_LOCK,))
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(PUBLISHED)))
        published, built = stamp(conn, PUBLISHED), stamp(conn, BUILD)
        build = build_of(built)
        if build is None:
            return {"switched": False, "build_id": published.get("build_id"),
                    "reason": f"no new build in {BUILD}: {PUBLISHED} stays as it is"}
        if not built.get("complete"):
            raise MartsNotAudited(f"build {build} in {BUILD} did not build every mart "
                                  f"({', '.join(built.get('not_built') or [])} not built or failed): it holds tables "
                                  "of two builds and is never published; run a whole `dbt build`")
        gx_run = _passed_audit(conn, build)
        if gx_run is None:
            raise MartsNotAudited(f"build {build} in {BUILD} has no passed marts audit (python -m expectations "
                                  f"marts): {PUBLISHED} stays on build {published.get('build_id')}")
        wal_before = conn.execute("select pg_current_wal_insert_lsn()").fetchone()[0]
        labels = _comment(conn, BUILD)
        readers = _readers(conn, PUBLISHED)
        for role in readers:
            conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(
                sql.Identifier(BUILD), sql.Identifier(role)))
        _rename(conn, PUBLISHED, _RETIRING)
        _rename(conn, BUILD, PUBLISHED)
        _rename(conn, _RETIRING, BUILD)
        for role in readers:
            conn.execute(sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(BUILD), sql.Identifier(role)))
            conn.execute(sql.SQL("revoke all on all tables in schema {} from {}").format(
                sql.Identifier(BUILD), sql.Identifier(role)))
            conn.execute(sql.SQL("grant usage on schema {} to {}").format(
                sql.Identifier(PUBLISHED), sql.Identifier(role)))
        states = _swap_state(conn)
        point("marts.switch")
        at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
        _stamp(conn, PUBLISHED, {**built, "state": "published", "gx_run_id": gx_run, "published_at": at})
        _stamp(conn, BUILD, {"state": "retired", "build_id": published.get("build_id"), "retired_at": at})
        wal_bytes = conn.execute("select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)::bigint",
                                 (wal_before,)).fetchone()[0]
    return {"switched": True, "build_id": build, "gx_run_id": gx_run, "previous_build_id": published.get("build_id"),
            "readers": readers, "state_tables": states, **labels, "wal_bytes": int(wal_bytes),
            "seconds": round(time.monotonic() - start, 3)}
