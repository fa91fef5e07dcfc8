"""What the quality gates keep in the warehouse: audit batches and the raw gate's watermark.

Schema `quality` (owned by this package, created idempotently on first use per process):

- `quality.audit_batches (batch_id, submission_id)`: the submissions one checkpoint run
  validates. A run registers its submissions here (bound values, never SQL text), and the
  suites' batch is a query over raw.report_values joined with this table, chosen by GX's batch
  parameter `audit_batch_id` (a PartitionerColumnValue). The rows are removed when the run is
  over; rows left by a process that died are harmless (no other run uses their batch id) and are
  removed by the next run after a day.
- `quality.raw_gate_validated (submission_id, gate_run_id, validated_at)`: the raw gate's
  watermark: the accepted submissions whose rows a *passed* raw gate has validated. Accepted rows
  never change, so the next gate validates only accepted submissions not in it. A failed gate
  adds nothing: the same rows are checked again next time. Kept as a set (not a maximum id)
  because submissions are accepted out of id order when waves load in parallel.

No foreign keys to landing: ingest removes a submission (ingest.landing.forget_submission)
without knowing about this schema.
"""

from __future__ import annotations

DDL = """
create schema if not exists quality;
create sequence if not exists quality.audit_batch_id_seq;
create table if not exists quality.audit_batches (
    batch_id      bigint not null,
    submission_id bigint not null,
    opened_at     timestamptz not null default now(),
    primary key (batch_id, submission_id)
);
create table if not exists quality.raw_gate_validated (
    submission_id bigint primary key,
    gate_run_id   text not null,
    validated_at  timestamptz not null default now()
);
"""

def ensure(conn) -> None:
    """Create the schema and tables if they are missing (idempotent; a catalogue lookup when they exist,
    no lock on landing or raw). Checked on every call: tests and benchmarks recreate databases."""
    with conn.transaction():
        exists = conn.execute("select to_regclass('quality.raw_gate_validated') is not null "
                              "and to_regclass('quality.audit_batches') is not null").fetchone()[0]
        if not exists:
            conn.execute("select pg_advisory_xact_lock(hashtext('twotowns quality schema'))")
            conn.execute(DDL)


def open_batch(conn, submission_ids: list[int]) -> int:
    """Register the submissions of one checkpoint run; returns the batch id. `conn` must be autocommit
    (GX reads the batch over its own connection)."""
    ensure(conn)
    ids = sorted({int(s) for s in submission_ids})
    with conn.transaction():
        batch_id = conn.execute("select nextval('quality.audit_batch_id_seq')").fetchone()[0]
        conn.execute("delete from quality.audit_batches where opened_at < now() - interval '1 day'")
        conn.execute("insert into quality.audit_batches (batch_id, submission_id) "
                     "select %s, unnest(%s::bigint[])", (batch_id, ids))
    return batch_id


def close_batch(conn, batch_id: int) -> None:
    with conn.transaction():
        conn.execute("delete from quality.audit_batches where batch_id = %s", (int(batch_id),))


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
