"""What the quality gates keep in the warehouse: audit batches and the raw gate's watermark.

Schema `quality` (owned by this package, created idempotently on first use per process):

- `quality.audit_batches (batch_id, submission_id)`: the submissions one checkpoint run
  validates. A run registers its submissions here (bound values, never SQL text), and the
  suites' batch is a query over raw.report_values joined with this table, chosen by GX's batch
  parameter `audit_batch_id` (a PartitionerColumnValue). The rows are removed when the run is
  over; rows left by a process that died are harmless (no other run uses their batch id) and are
  removed by the next run after a day.
- `quality.registry_*` and `quality.registry_versions`: the registry snapshots the suites' registry
  fragments read (expectations.fragments.ensure_registry), one per version of the seeds.
- `quality.marts_audits (build_id, gx_run_id, success, audited_at)`: the marts gate's verdict on
  each build of `marts_build` (core.marts); publish.marts publishes a build only with a passed one.
- `quality.raw_gate_validated (submission_id, gate_run_id, validated_at)`: the raw gate's
  watermark: the accepted submissions whose rows a *passed* raw gate has validated. Accepted rows
  never change, so the next gate validates only accepted submissions not in it. A failed gate
  adds nothing: the same rows are checked again next time. Kept as a set (not a maximum id)
  because submissions are accepted out of id order when waves load in parallel.

No foreign keys to landing: ingest removes a submission (ingest.landing.forget_submission)
without knowing about this schema.
"""

from __future__ import annotations

# the columns of raw.report_values the suites read, copied into the audit tables
COLUMNS = ("submission_id", "county_code", "year", "quarter", "form", "town_code", "indicator", "value",
           "source_file_sha256", "source_sheet", "source_cell", "value_prev_year", "prev_year_source_cell")
_COLUMN_TYPES = ("bigint", "text", "smallint", "smallint", "text", "text", "text", "numeric", "text", "text", "text",
                 "numeric", "text")
_ROWS = ", ".join(f"{c} {t}" for c, t in zip(COLUMNS, _COLUMN_TYPES, strict=True))

DDL = f"""
create schema if not exists quality;
create sequence if not exists quality.audit_batch_id_seq;
create table if not exists quality.audit_batches (
    batch_id      bigint not null,
    submission_id bigint not null,
    opened_at     timestamptz not null default now(),
    primary key (batch_id, submission_id)
);
-- the marts gate's verdict on each build of marts_build (core.marts): publish.marts switches a build in only
-- with a passed audit of it
create table if not exists quality.marts_audits (
    build_id    text not null,
    gx_run_id   text not null,
    success     boolean not null,
    audited_at  timestamptz not null default clock_timestamp(),
    primary key (build_id, gx_run_id)
);
create table if not exists quality.raw_gate_validated (
    submission_id bigint primary key,
    gate_run_id   text not null,
    validated_at  timestamptz not null default now()
);
-- the rows a checkpoint run validates, copied once per run (unlogged: scratch data, rebuilt by every run)
create unlogged table if not exists quality.audit_rows (audit_batch_id bigint not null, audit_sid bigint not null, {_ROWS});
create unlogged table if not exists quality.audit_current (audit_batch_id bigint not null, audit_sid bigint not null, {_ROWS});
create unlogged table if not exists quality.audit_history (audit_batch_id bigint not null, audit_sid bigint not null, {_ROWS});
-- (the key of "this audit_sid reports this county, period and form", which the history fill probes)
create index if not exists audit_rows_key on quality.audit_rows (audit_batch_id, audit_sid, county_code, year, quarter, form);
create index if not exists audit_current_key on quality.audit_current
    (audit_batch_id, audit_sid, county_code, year, quarter, form);
create index if not exists audit_history_batch on quality.audit_history (audit_batch_id);
""" + "".join(f"alter table quality.{t} add column if not exists {c} {ty};\n"  # a warehouse of an older release
              for t in ("audit_rows", "audit_current", "audit_history")
              for c, ty in zip(COLUMNS, _COLUMN_TYPES, strict=True))
_AUDIT_TABLES = ("audit_rows", "audit_current", "audit_history", "audit_batches")

def ensure(conn) -> None:
    """Create the schema and tables if they are missing (idempotent; a catalogue lookup when they exist,
    no lock on landing or raw). Checked on every call: tests and benchmarks recreate databases."""
    with conn.transaction():
        exists = conn.execute("select to_regclass('quality.raw_gate_validated') is not null "
                              "and to_regclass('quality.audit_current_key') is not null "
                              "and to_regclass('quality.registry_versions') is not null "
                              "and to_regclass('quality.registry_policy') is not null "
                              "and to_regclass('quality.marts_audits') is not null").fetchone()[0]
        if not exists:
            from expectations.fragments import REGISTRY_DDL

            conn.execute("select pg_advisory_xact_lock(hashtext('twotowns quality schema'))")
            conn.execute(DDL + REGISTRY_DDL)


def open_batch(conn, submission_ids: list[int], *, incremental: bool = False) -> int:
    """Register the submissions of one checkpoint run and copy what it validates; returns the batch id.

    quality.audit_rows: the submissions' rows (audit_sid = submission_id). `incremental` (raw gate):
    also quality.audit_current, the current values of each (county, period) they report and of the same
    quarter a year later (audit_sid 0). quality.audit_history: the history the submission suites compare
    with (fragments.context_sql). All with bound values; `conn` must be autocommit (GX reads the batch
    over its own connection). Copied once and analysed, the batch is read by every expectation as a
    small table with statistics, not as a join re-planned (and misestimated) in each query."""
    from expectations import fragments

    ensure(conn)
    ids = sorted({int(s) for s in submission_ids})
    with conn.transaction():
        batch_id = conn.execute("select nextval('quality.audit_batch_id_seq')").fetchone()[0]
        _drop_stale(conn)
        conn.execute("insert into quality.audit_batches (batch_id, submission_id) "
                     "select %s, unnest(%s::bigint[])", (batch_id, ids))
        conn.execute(fragments.fill_rows_sql(), {"batch": batch_id})
        conn.execute("analyze quality.audit_rows")  # the fills below are planned on these statistics
        source = "audit_rows"
        if incremental:
            conn.execute(fragments.fill_current_sql(), {"batch": batch_id})
            conn.execute("analyze quality.audit_current")
            source = "audit_current"
        conn.execute(fragments.fill_history_sql(source), {"batch": batch_id})
        conn.execute("analyze quality.audit_history")
    return batch_id


def _drop_stale(conn) -> None:
    """Remove what runs that died more than a day ago left behind."""
    from psycopg import sql

    stale = [r[0] for r in conn.execute("select distinct batch_id from quality.audit_batches "
                                        "where opened_at < now() - interval '1 day'").fetchall()]
    if stale:
        for table in _AUDIT_TABLES:
            column = "batch_id" if table == "audit_batches" else "audit_batch_id"
            conn.execute(sql.SQL("delete from quality.{} where {} = any(%s)").format(
                sql.Identifier(table), sql.Identifier(column)), (stale,))


def close_batch(conn, batch_id: int) -> None:
    from psycopg import sql

    with conn.transaction():
        for table in _AUDIT_TABLES:
            column = "batch_id" if table == "audit_batches" else "audit_batch_id"
            conn.execute(sql.SQL("delete from quality.{} where {} = %s").format(
                sql.Identifier(table), sql.Identifier(column)), (int(batch_id),))


def record_marts_audit(conn, build_id: str, run_id: str, success: bool) -> None:
    """The marts gate's verdict on one build (quality.marts_audits; a re-run adds a row)."""
    conn.execute("insert into quality.marts_audits (build_id, gx_run_id, success) values (%s, %s, %s) "
                 "on conflict (build_id, gx_run_id) do update set success = excluded.success, "
                 "audited_at = excluded.audited_at", (build_id, run_id, success))


def unvalidated_accepted(conn) -> list[int]:
    """Accepted submissions that no passed raw gate has validated yet, in id order."""
    ensure(conn)
    return [r[0] for r in conn.execute(
        "select s.submission_id from landing.submissions as s where s.status = 'accepted' and not exists "
        "(select 1 from quality.raw_gate_validated as w where w.submission_id = s.submission_id) "
        "order by s.submission_id").fetchall()]


def advance_watermark(conn, submission_ids: list[int], run_id: str) -> int:
    """Record submissions as validated by the passed raw gate `run_id`; returns how many were new."""
    ensure(conn)
    with conn.transaction():
        cur = conn.execute(
            "insert into quality.raw_gate_validated (submission_id, gate_run_id) "
            "select unnest(%s::bigint[]), %s on conflict (submission_id) do nothing",
            (sorted({int(s) for s in submission_ids}), run_id))
        return cur.rowcount
