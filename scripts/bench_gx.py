"""Throughput of the GX audits: rows validated per second, on the sample and on an enlarged copy.

    python -m scripts.bench_gx [--factor 100] [--submissions 20] [--batch 24] [--new-share 0.025]
                                 [--no-warehouse] [--json]

Works in a scratch database `<warehouse db>_gxbench` on the same server (dropped
and made again): loads the sample reports, builds the marts with dbt, and
measures

- the submission audit: a pending copy of an accepted report is audited against
  the accepted history (what ingest does for every file), per submission;
- the batched submission audit: `--batch` pending copies audited in ONE
  `audit_batch` call (values/s) against the same copies audited one by one;
- the raw audit (every current value at once, before dbt) and the warehouse
  audit (all marts, after dbt);
- the raw gate (expectations.gate.run_raw_gate, Data Docs built as in the DAG):
  after a passed gate, the newest submissions holding `--new-share` of the
  rows are taken out of the watermark (what a new quarter brings: at nation
  scale 475k of 19M values, 2.5%) and the incremental gate runs; then the full
  gate. Reported as raw rows in the table / wall time (gx_raw_rows_per_s);

then appends `factor - 1` copies of the whole history (years shifted) and of
the marts (shifted alike: rebuilding them with dbt at that size is a dbt
benchmark, not this one) and measures again. GX import and checkpoint setup
are reported apart: they are paid once per process, not per run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _scratch_database() -> str:
    from core.warehouse import connect, fresh_database
    from ingest.landing import ensure_schema

    url = fresh_database("gxbench")
    with connect(url, autocommit=True) as conn:
        ensure_schema(conn)
    return url


def _measure_submissions(url: str, n: int) -> dict:
    from core.warehouse import connect
    from expectations import sampledata
    from expectations.submission import prepared_for
    from ingest.audit import run_submission_audit

    start = time.monotonic()
    prepared_for(url)  # setup, once per process
    setup = time.monotonic() - start
    times, rows = [], []
    with connect(url, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute(
            "select submission_id from landing.submissions where status = 'accepted' "
            "order by year desc, quarter desc, county_code limit %s", (n,)).fetchall()]
        for sid in ids:
            copy = sampledata.pending_copy(conn, sid)
            try:
                t = time.monotonic()
                outcome, _ = run_submission_audit(conn, copy)
                times.append(time.monotonic() - t)
                rows.append(outcome.rows_validated)
            finally:
                sampledata.discard(conn, copy)
    return {"submissions": len(times), "setup_s": round(setup, 2), "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3), "rows_per_submission": round(statistics.mean(rows), 1),
            "rows_per_s": round(sum(rows) / sum(times), 1)}


def _measure_batch(url: str, n: int, singles: int = 24) -> dict:
    """`n` pending copies of the newest accepted reports audited in ONE audit_batch call, against the first
    `singles` of them audited one by one (values/s of each; the findings must agree)."""
    from core.warehouse import connect
    from expectations import sampledata
    from expectations.submission import prepared_for
    from ingest.audit import audit_batch, audit_submission

    prepared_for(url)  # setup, once per process (as ingest: Data Docs built)
    with connect(url, autocommit=True) as conn:
        bases = [r[0] for r in conn.execute(
            "select submission_id from landing.submissions where status = 'accepted' "
            "and year < (select min(year) + 4 from landing.submissions)"  # the sample's own years: the enlarged
            " order by year desc, quarter desc, county_code, version desc limit %s", (n,)).fetchall()]
        copies = [sampledata.pending_copy(conn, bases[i % len(bases)]) for i in range(n)]
        try:
            count = "select count(*) from raw.report_values where submission_id = any(%s)"
            values = conn.execute(count, (copies,)).fetchone()[0]
            single_values = conn.execute(count, (copies[:singles],)).fetchone()[0]
            t = time.monotonic()
            batch = audit_batch(conn, copies)
            batch_s = time.monotonic() - t
            t = time.monotonic()
            single = {sid: audit_submission(conn, sid) for sid in copies[:singles]}
            single_s = time.monotonic() - t
        finally:
            sampledata.discard_many(conn, copies)
    same = all(sorted(map(repr, batch[s])) == sorted(map(repr, found)) for s, found in single.items())
    return {"submissions": n, "values": values, "batch_s": round(batch_s, 2),
            "batch_values_per_s": round(values / batch_s, 1), "one_by_one": len(single),
            "one_by_one_s": round(single_s, 2),
            "one_by_one_values_per_s": round(single_values / single_s, 1) if single_values else None,
            "speedup": round((single_s / single_values) / (batch_s / values), 1) if single_values else None,
            "same_findings": same}


def _measure_raw_gate(url: str, new_share: float, full_run: bool = True) -> dict:
    """The incremental raw gate after `new_share` of the rows arrived, and the full one (rows in table / s)."""
    from core.warehouse import connect
    from expectations.gate import QualityGateFailed, report_path, run_raw_gate

    def timed(**kw) -> dict:
        try:
            doc = run_raw_gate(url, **kw)
        except QualityGateFailed as exc:
            doc = json.loads(report_path("raw").read_text(encoding="utf-8"))
            return {"success": False, "error": str(exc)[:300], "seconds": doc["seconds"],
                    "rows_validated": doc["rows_validated"]}
        return {k: doc[k] for k in ("mode", "success", "new_submissions", "rows_validated", "raw_rows", "seconds",
                                    "rows_per_s")} | {"critical_failures": len(doc["critical_failures"])}

    baseline = timed()  # validates whatever no gate validated yet
    if not baseline.get("success"):
        # the enlarged copy breaks rules by construction (years shifted past 2100 and past the registry's
        # memberships): record its history as validated, as a passed gate would have, to time what comes next
        from expectations import state

        with connect(url, autocommit=True) as conn:
            state.advance_watermark(conn, state.unvalidated_accepted(conn), "bench-baseline")
    with connect(url, autocommit=True) as conn:
        # the newest accepted submissions holding about new_share of the rows leave the watermark
        conn.execute(
            "with sizes as (select s.submission_id, count(*) as n from landing.submissions as s "
            "join raw.report_values as v using (submission_id) where s.status = 'accepted' "
            "group by s.submission_id), ranked as (select z.submission_id, sum(z.n) over (order by s.year desc, "
            "s.quarter desc, s.submission_id desc) as running from sizes as z join landing.submissions as s "
            "using (submission_id)) delete from quality.raw_gate_validated as w using ranked as r "
            "where r.submission_id = w.submission_id and r.running <= %s * (select count(*) from raw.report_values)",
            (new_share,))
    incremental = timed()
    nothing_new = timed()
    full = timed(full=True) if full_run else {"success": None, "error": "not measured (--no-full)"}
    return {"baseline": baseline, "incremental": incremental, "nothing_new": nothing_new, "full": full}


def _measure_stage(stage: str, url: str) -> dict:
    from expectations.run import execute
    from expectations.stages import prepare_sql_stage

    t = time.monotonic()
    prepared = prepare_sql_stage(stage, url, docs=True)
    setup = time.monotonic() - t
    t = time.monotonic()
    outcome = execute(prepared, url)
    seconds = time.monotonic() - t
    prepared_plain = prepare_sql_stage(stage, url, docs=False)
    t = time.monotonic()
    execute(prepared_plain, url)
    plain = time.monotonic() - t
    return {"rows": outcome.rows_validated, "expectations": sum(len(s.expectations) for s in outcome.suites),
            "success": outcome.success, "critical_failures": len(outcome.failures("critical")),
            "setup_s": round(setup, 2), "seconds": round(seconds, 2), "seconds_without_docs": round(plain, 2),
            "rows_per_s": round(outcome.rows_validated / seconds, 1)}


def _dbt(url: str) -> float:
    from core.dbt import run_dbt

    t = time.monotonic()
    for command in (["seed"], ["run"]):
        result = run_dbt(command, url=url, quiet=True)
        if not result.success:
            raise SystemExit(f"dbt {command[0]} failed: {result.failures[:3]}")
    return round(time.monotonic() - t, 1)


def run_reused(batch: int, new_share: float, singles: int = 24, gate: bool = True, full: bool = True) -> dict:
    """The batch audit and the raw gate on the scratch database as a previous run left it (no load, no
    enlargement): e.g. a batch of nation size (`--batch 2800`) on the x100 copy."""
    from core.warehouse import conn_params, connect, warehouse_url, with_database

    base = warehouse_url()
    url = with_database(base, f"{conn_params(base).dbname}_gxbench")
    os.environ["WAREHOUSE_URL"] = url
    with connect(url) as conn:
        raw_rows = conn.execute("select count(*) from raw.report_values").fetchone()[0]
    report: dict = {"load_average": os.getloadavg()[0]}
    report["reused"] = r = {"raw_rows": raw_rows}
    r["batch_audit"] = _progress("batch_audit", _measure_batch(url, batch, singles))
    if gate:
        r["raw_gate"] = _progress("raw_gate", _measure_raw_gate(url, new_share, full))
    return report


def _progress(what: str, result: dict) -> dict:
    print(json.dumps({what: result}), file=sys.stderr, flush=True)
    return result


def run(factor: int = 100, submissions: int = 20, batch: int = 24, new_share: float = 0.025,
        warehouse: bool = True, sample: bool = True) -> dict:
    from core.warehouse import connect
    from expectations import sampledata
    from expectations.engine import import_gx
    from ingest.landing import submit
    from samplegen import generate

    t = time.monotonic()
    import_gx()
    report: dict = {"gx_import_s": round(time.monotonic() - t, 2), "load_average": os.getloadavg()[0]}
    url = _scratch_database()
    os.environ["WAREHOUSE_URL"] = url  # dbt and the stages read the scratch database
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("TWOTOWNS_VAR_DIR", str(Path(tmp) / "var"))
        for f in generate(Path(tmp) / "sample"):
            submit(f.path, write_feedback=False)
    dbt_s = _dbt(url) if warehouse else None
    for label, scale in [(lab, n) for lab, n in (("sample", 1), (f"x{factor}", factor)) if sample or n > 1]:
        if scale > 1:
            t = time.monotonic()
            with connect(url, autocommit=True) as conn:
                sampledata.enlarge(conn, factor)
                if warehouse:
                    sampledata.enlarge_marts(conn, factor)
            dbt_s = None
            report["enlarge_s"] = round(time.monotonic() - t, 1)
        with connect(url) as conn:
            raw_rows = conn.execute("select count(*) from raw.report_values").fetchone()[0]
        report[label] = {"raw_rows": raw_rows, "dbt_seed_and_run_s": dbt_s}
        report[label]["submission"] = _progress(f"{label} submission", _measure_submissions(url, submissions))
        report[label]["batch_audit"] = _progress(f"{label} batch_audit", _measure_batch(url, batch))
        report[label]["raw_gate"] = _progress(f"{label} raw_gate", _measure_raw_gate(url, new_share))
        report[label]["raw"] = _progress(f"{label} raw", _measure_stage("raw", url))
        if warehouse:
            report[label]["warehouse"] = _progress(f"{label} warehouse", _measure_stage("warehouse", url))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_gx")
    parser.add_argument("--factor", type=int, default=100)
    parser.add_argument("--submissions", type=int, default=20, help="submissions audited per size")
    parser.add_argument("--batch", type=int, default=24, help="pending submissions audited in one batch")
    parser.add_argument("--new-share", type=float, default=0.025, help="share of the rows new to the raw gate")
    parser.add_argument("--no-warehouse", action="store_true", help="skip dbt and the warehouse audit")
    parser.add_argument("--no-sample", action="store_true", help="measure the enlarged copy only")
    parser.add_argument("--reuse", action="store_true",
                        help="batch audit and raw gate only, on the scratch database a previous run left")
    parser.add_argument("--singles", type=int, default=24, help="--reuse: copies also audited one by one")
    parser.add_argument("--no-gate", action="store_true", help="--reuse: the batch audit only")
    parser.add_argument("--no-full", action="store_true", help="--reuse: not the full raw gate")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.reuse:
        report = run_reused(args.batch, args.new_share, args.singles, not args.no_gate, not args.no_full)
    else:
        report = run(args.factor, args.submissions, args.batch, args.new_share, not args.no_warehouse,
                     not args.no_sample)
    from core import config

    out = config.var_dir() / "quality" / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"GX import {report.get('gx_import_s')} s (once per process); load average {report['load_average']:.1f}")
    for label in [k for k in report if isinstance(report[k], dict)]:
        _print_size(label, report[label])
    print(f"\n(report: {out})")
    return 0


def _print_size(label: str, r: dict) -> None:
    print(f"\n{label}: {r['raw_rows']} raw rows")
    if "submission" in r:
        s = r["submission"]
        print(f"  submission audit: {s['submissions']} submissions of ~{s['rows_per_submission']} rows, median "
              f"{s['median_s']} s, max {s['max_s']} s, {s['rows_per_s']} rows/s (setup {s['setup_s']} s once)")
    b = r["batch_audit"]
    print(f"  batch audit: {b['submissions']} submissions, {b['values']} values in ONE call {b['batch_s']} s = "
          f"{b['batch_values_per_s']} values/s; {b['one_by_one']} of them one by one {b['one_by_one_s']} s = "
          f"{b['one_by_one_values_per_s']} values/s ({b['speedup']}x); same findings: {b['same_findings']}")
    for kind in ("incremental", "nothing_new", "full") if "raw_gate" in r else ():
        g = r["raw_gate"][kind]
        if not g.get("success"):
            print(f"  raw gate {kind}: FAILED in {g.get('seconds')} s: {g.get('error') or g.get('critical_failures')}")
            continue
        print(f"  raw gate {kind}: {g['new_submissions']} new submissions, {g['rows_validated']} rows validated, "
              f"{g['raw_rows']} rows in table, {g['seconds']} s = {g['rows_per_s']} raw rows/s")
    for stage in [s for s in ("raw", "warehouse") if s in r]:
        x = r[stage]
        failures = "" if x["success"] else f"; {x['critical_failures']} critical failures"
        print(f"  {stage} audit: {x['rows']} rows, {x['expectations']} expectations, {x['seconds']} s "
              f"({x['seconds_without_docs']} s without Data Docs) = {x['rows_per_s']} rows/s{failures}")


if __name__ == "__main__":
    raise SystemExit(main())
