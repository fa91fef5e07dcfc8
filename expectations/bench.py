"""Throughput of the GX audits: rows validated per second, on the sample and on an enlarged copy.

    python -m expectations.bench [--factor 100] [--submissions 20] [--json]

Works in a scratch database `<warehouse db>_gxbench` on the same server (dropped
and made again): loads the sample reports, builds the marts with dbt, and
measures

- the submission audit: a pending copy of an accepted report is audited against
  the accepted history (what ingest does for every file), per submission;
- the raw audit (every current value at once, before dbt) and the warehouse
  audit (all marts, after dbt);

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
    from expectations.submission import prepared_for, run_submission_audit

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


def _measure_stage(stage: str, url: str) -> dict:
    from expectations.runner import execute, prepare_sql_stage

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


def run(factor: int = 100, submissions: int = 20) -> dict:
    from core.warehouse import connect
    from expectations import sampledata
    from expectations.runner import _gx
    from ingest.landing import submit
    from samplegen import generate

    t = time.monotonic()
    _gx()
    report: dict = {"gx_import_s": round(time.monotonic() - t, 2), "load_average": os.getloadavg()[0]}
    url = _scratch_database()
    os.environ["WAREHOUSE_URL"] = url  # dbt and the stages read the scratch database
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("TWOTOWNS_VAR_DIR", str(Path(tmp) / "var"))
        for f in generate(Path(tmp) / "sample"):
            submit(f.path, write_feedback=False)
    dbt_s = _dbt(url)
    for label, scale in (("sample", 1), (f"x{factor}", factor)):
        if scale > 1:
            t = time.monotonic()
            with connect(url, autocommit=True) as conn:
                sampledata.enlarge(conn, factor)
                sampledata.enlarge_marts(conn, factor)
            dbt_s = None
            report["enlarge_s"] = round(time.monotonic() - t, 1)
        with connect(url) as conn:
            raw_rows = conn.execute("select count(*) from raw.report_values").fetchone()[0]
        report[label] = {
            "raw_rows": raw_rows, "dbt_seed_and_run_s": dbt_s,
            "submission": _measure_submissions(url, submissions),
            "raw": _measure_stage("raw", url),
            "warehouse": _measure_stage("warehouse", url),
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m expectations.bench")
    parser.add_argument("--factor", type=int, default=100)
    parser.add_argument("--submissions", type=int, default=20, help="submissions audited per size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = run(args.factor, args.submissions)
    from core import config

    out = config.var_dir() / "quality" / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"GX import {report['gx_import_s']} s (once per process); load average {report['load_average']:.1f}")
    for label in [k for k in report if isinstance(report[k], dict)]:
        r = report[label]
        s = r["submission"]
        dbt = f"dbt seed+run {r['dbt_seed_and_run_s']} s" if r["dbt_seed_and_run_s"] else "marts enlarged alike"
        print(f"\n{label}: {r['raw_rows']} raw rows ({dbt})")
        print(f"  submission audit: {s['submissions']} submissions of ~{s['rows_per_submission']} rows, median "
              f"{s['median_s']} s, max {s['max_s']} s, {s['rows_per_s']} rows/s (setup {s['setup_s']} s once)")
        for stage in ("raw", "warehouse"):
            x = r[stage]
            failures = "" if x["success"] else f"; {x['critical_failures']} critical failures"
            print(f"  {stage} audit: {x['rows']} rows, {x['expectations']} expectations, {x['seconds']} s "
                  f"({x['seconds_without_docs']} s without Data Docs) = {x['rows_per_s']} rows/s{failures}")
    print(f"\n(report: {out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
