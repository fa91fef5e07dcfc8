"""A quality gate for the pipeline: run a stage, keep its report, block on critical failures.

    from expectations.gate import run_gate
    run_gate("raw")             # before dbt build (dags/warehouse_build.py): incremental
    run_gate("raw", full=True)  # every row again (python -m expectations raw --full)
    run_gate("warehouse")       # after dbt build, before the marts are switched in (publish.marts)
    run_gate("warehouse", full=True)  # every partition of the incremental marts again

The report goes to `<var>/quality/<stage>.json` (what scripts/demo.py prints),
with a link to the stage's Data Docs; a critical failure raises
QualityGateFailed, whose message names the failed checks and the docs.

The raw gate is incremental: accepted raw rows never change, so it validates
the rows of the accepted submissions that no passed raw gate has validated yet
(the watermark `quality.raw_gate_validated`, expectations/state.py), and the
current values of the periods they touch (with the neighbouring periods as
history); only the checks that need the whole table (`meta.scope: table`:
schema, the unique index, one current version per county/period/form, refused
reports keep no values) read all of it, through indexes. The watermark
advances only when the gate passes: a failed gate checks the same rows again
next time. `full=True` checks every row and every current value, and on a pass
marks every submission accepted when it started as validated. The summary
gives `raw_rows` (rows in raw.report_values), `new_submissions`, `mode` and
`rows_per_s` (raw rows / wall time: the gx_raw_rows_per_s of the benchmark).

The marts gate audits the marts of the build in `marts_build` (core.marts) and
records its verdict for that build in `quality.marts_audits`; publish.marts
switches a build into `marts`, where BI tools read, only with a passed audit of
it. A build that changed while it was audited (another dbt invocation wrote a
mart meanwhile) fails the gate: what was audited is no longer what is there.
Like the raw gate it checks what is new: in an incremental mart audited by
partition (town_quarter_indicators) the partitions that builds rewrote since
the last passed gate (a failed gate leaves them to the next one); the other
marts, rebuilt whole by every build, whole.
"""

from __future__ import annotations

import json
from pathlib import Path

from core import config
from core.files import write_atomic


class QualityGateFailed(RuntimeError):
    pass


def report_path(stage: str) -> Path:
    return config.var_dir() / "quality" / f"{stage}.json"


def write_report(outcome) -> Path:
    path = report_path(outcome.stage)
    return write_atomic(path, json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2, default=str))


def summary(outcome, path: Path | None = None) -> dict:
    return {
        "stage": outcome.stage, "success": outcome.success, "run_id": outcome.run_id,
        "suites": len(outcome.suites), "expectations": sum(len(s.expectations) for s in outcome.suites),
        "rows_validated": outcome.rows_validated, "seconds": outcome.seconds,
        "critical_failures": outcome.failures("critical"), "warnings": outcome.failures("warning"),
        "info": outcome.failures("info"), "notes": outcome.notes,
        "docs_url": outcome.docs_url, "report": str(path) if path else None,
    }


def decide(outcome, what: str) -> dict:
    """Keep the outcome's report; raise QualityGateFailed (naming `what`, the failed checks, the
    report and the Data Docs) if a critical expectation failed; else return the summary."""
    path = write_report(outcome)
    doc = summary(outcome, path)
    if not outcome.success:
        raise QualityGateFailed(f"{what} failed: {'; '.join(doc['critical_failures'])} "
                                f"(report: {path}; Data Docs: {outcome.docs_url})")
    return doc


def run_gate(stage: str, url: str | None = None, *, full: bool = False) -> dict:
    """Run the stage's suites; write the outcome to var/quality/<stage>.json; raise if a critical one failed.
    `raw` is incremental unless `full` (see module doc)."""
    from expectations.run import run_stage

    if stage == "raw":
        return run_raw_gate(url, full=full)
    if stage == "warehouse":
        return run_marts_gate(url, full=full)
    return decide(run_stage(stage, url), f"{stage} audit")


def run_marts_gate(url: str | None = None, *, full: bool = False) -> dict:
    """The marts gate (see module doc): audit the build in marts_build, record the verdict for it.

    Incremental marts whose suite is audited by partition (stages.audited_partitions) are read only in the
    partitions written since the last passed gate, unless `full`. Their `__unaudited` state tables are
    locked (SHARE) from before the audit reads them until the verdict: a dbt build meanwhile waits to add
    what it rewrites, so a pass empties exactly the partitions that were audited."""
    from psycopg import sql

    from core import marts
    from core.warehouse import connect
    from expectations import state
    from expectations.run import run_stage

    with connect(url, autocommit=True) as conn:
        state.ensure(conn)
        build = marts.build_id(conn)
    with connect(url) as held:  # one transaction: the locks, then the emptied sets with a pass
        unaudited = [sql.SQL("{}.{}").format(sql.Identifier(marts.STATE_SCHEMA), sql.Identifier(name))
                     for name in marts.unaudited_tables(held)]
        for table in unaudited:
            held.execute(sql.SQL("lock table {} in share mode").format(table))
        outcome = run_stage("warehouse", url, unaudited_only=not full)
        with connect(url, autocommit=True) as conn:
            after = marts.build_id(conn)
            if build is None:
                outcome.notes.append(f"{marts.BUILD} holds no new build (nothing built since the last switch): "
                                     "audited, nothing to publish")
            elif after != build:
                outcome.success = False
                outcome.notes.append(f"build {build} was replaced by {after} while it was audited: not published")
            else:
                outcome.notes.append(f"build {build} audited")
        if outcome.success:
            for table in unaudited:
                held.execute(sql.SQL("delete from {}").format(table))
        held.commit()
    with connect(url, autocommit=True) as conn:
        if build is not None:
            state.record_marts_audit(conn, build, outcome.run_id or "warehouse", outcome.success and after == build)
    if outcome.success or outcome.failures("critical"):
        doc = decide(outcome, "warehouse audit")
    else:
        path = write_report(outcome)
        raise QualityGateFailed(f"warehouse audit failed: {outcome.notes[-1]} (report: {path})")
    doc["build_id"] = build
    return doc


def run_raw_gate(url: str | None = None, *, full: bool = False, docs: bool = True) -> dict:
    """The raw gate (see module doc): incremental from the watermark, or `full`."""
    import time

    from core.warehouse import connect
    from expectations import state
    from expectations.run import execute, run_stage
    from expectations.stages import prepare_sql_stage

    start = time.monotonic()
    with connect(url, autocommit=True) as conn:
        new = state.unvalidated_accepted(conn)
        if full:
            outcome = run_stage("raw", url, docs=docs)
        else:
            prepared = prepare_sql_stage("raw", url, incremental=True, docs=docs)
            batch_id = state.open_batch(conn, new, incremental=True)
            try:
                outcome = execute(prepared, url, batch_id=batch_id)
            finally:
                state.close_batch(conn, batch_id)
            outcome.batch_submissions = len(new)
        raw_rows = conn.execute("select count(*) from raw.report_values").fetchone()[0]
        if outcome.success:
            state.advance_watermark(conn, new, outcome.run_id or "raw")
    outcome.seconds = round(time.monotonic() - start, 3)
    outcome.notes.append(f"{'full' if full else 'incremental'} raw gate: {len(new)} accepted submissions not "
                         f"validated before; {raw_rows} rows in raw.report_values; "
                         f"{'watermark advanced' if outcome.success else 'watermark kept: they are checked again'}")
    doc = decide(outcome, "raw audit" + (" (full)" if full else ""))
    doc.update(mode="full" if full else "incremental", new_submissions=len(new), raw_rows=raw_rows,
               rows_per_s=round(raw_rows / outcome.seconds, 1) if outcome.seconds else None)
    return doc
