"""Write-audit-publish of the warehouse: where a build writes the marts, and which build they are.

    dbt build ──> marts_build ──[GX marts gate]──> publish.marts.publish_marts ──> marts (BI tools)

dbt writes the mart models into schema `marts_build` (dbt_project.yml), which only the
owner can read. The marts gate (expectations.gate) audits them there and records which
build it audited. `publish.marts.publish_marts` then swaps the two schemas in one
transaction, so the read-only BI role (and the publication) reads in `marts` a whole set
of marts from one build that passed its audit, never a half-built or failed one.

A build is identified by the dbt invocation that last wrote a mart: on-run-end stamps
`marts_build` with it (macro stamp_marts_build, as the schema's comment, JSON), so a build
changed after its audit (even by `dbt run -s` of one model) is no longer the audited one.
After a switch, `marts_build` holds the previous published set, stamped `retired`: it is
rebuilt by the next build (incremental models catch up from their own recorded inputs).
"""

from __future__ import annotations

import json

PUBLISHED = "marts"
BUILD = "marts_build"
# the state tables of incremental models (macros/incremental_partitions.sql) are named after
# their schema; they follow their table when the schemas swap
STATE_SCHEMA = "incremental_state"


def stamp(conn, schema: str = BUILD) -> dict:
    """The JSON comment of a marts schema ({} if the schema or its comment is missing)."""
    row = conn.execute("select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = %s",
                       (schema,)).fetchone()
    if not row or not row[0]:
        return {}
    try:
        value = json.loads(row[0])
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def build_of(value: dict) -> str | None:
    """The build a stamp of marts_build names (its dbt invocation id), or None: nothing built since the last
    switch."""
    return value.get("build_id") if value.get("state") == "built" else None


def build_id(conn) -> str | None:
    """The build `marts_build` holds (see build_of)."""
    return build_of(stamp(conn, BUILD))


def state_table(table: str, suffix: str, schema: str = BUILD) -> str:
    """The name, in STATE_SCHEMA, of a state table of the incremental mart `schema.table` (macro
    partition_state_relation: `<schema>__<table>__<suffix>`, its last 63 characters)."""
    return f"{schema}__{table}__{suffix}"[-63:]


def unaudited_tables(conn, schema: str = BUILD) -> list[str]:
    """The `__unaudited` state tables of the marts in `schema`: the partitions each of these incremental marts
    had written since the last passed marts gate (macro record_partition_inputs, audited_by_gate)."""
    return [name for (name,) in conn.execute(
        "select tablename from pg_tables where schemaname = %s and tablename like %s and tablename like %s "
        "order by tablename", (STATE_SCHEMA, schema.replace("_", r"\_") + r"\_\_%", r"%\_\_unaudited")).fetchall()]
