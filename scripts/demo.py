"""`make demo`: the whole pipeline on the sample reports, through Airflow itself.

1. generate the sample reports (deterministic) and drop them into the inbox
   (keeping their simulated receipt times);
2. run the DAGs with `dag.test()` (SQLite metadata under .airflow/):
   county_reports → warehouse_build → nightly_publish → quarterly_bulletin of every
   sample quarter (each shows the members of its quarter), and deadline_reminders for
   the last sample quarter;
3. print what happened.

Re-running it is safe: the same files are recognised as duplicates, the warehouse
stays as it is and the publication is not versioned again.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from core import airflow_env, config


def dag_plan(periods: list[str]) -> list[tuple[str, dict | None]]:
    """(dag_id, run conf) in order: the bulletin of every sample quarter; the reminders for the last one,
    whose deadline has long passed."""
    return ([("county_reports", None), ("warehouse_build", None), ("nightly_publish", None)]
            + [("quarterly_bulletin", {"period": p}) for p in periods]
            + [("deadline_reminders", {"period": periods[-1]})])


def stage_samples() -> tuple[list[Path], list[str]]:
    """The sample reports into the inbox; returns them and the sample's quarters, oldest first."""
    from samplegen import generate

    sample = config.sample_dir()
    files = generate(sample)
    inbox = config.inbox_dir()
    inbox.mkdir(parents=True, exist_ok=True)
    staged = []
    for f in files:
        dest = inbox / f.file
        shutil.copy2(sample / f.file, dest)  # keeps the mtime: the simulated receipt time
        staged.append(dest)
    return staged, sorted({str(f.period) for f in files}, key=lambda p: (int(p[:4]), int(p[-1])))


def run_dags(log_path: Path, runs: list[tuple[str, dict | None]]) -> dict[str, tuple[str, float]]:
    """Each run in order with `ops.runs.run_test` (dag.test, as the operations commands run them); Airflow's
    own log goes to `log_path`. Per DAG: the worst state (success only if every run of it succeeded) and the
    total time."""
    import contextlib
    import logging

    from ops.runs import RunFailed, dagbag, run_test

    try:
        dagbag()  # parsed once, import errors reported before the log is redirected
    except RunFailed as e:
        raise SystemExit(str(e)) from None
    states: dict[str, tuple[str, float]] = {}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        handler = logging.StreamHandler(log)
        logging.getLogger().addHandler(handler)
        try:
            for dag_id, conf in runs:
                outcome = run_test(dag_id, conf)
                before_state, before_secs = states.get(dag_id, ("success", 0.0))
                states[dag_id] = (outcome.state if before_state == "success" else before_state,
                                  before_secs + outcome.seconds)
        finally:
            logging.getLogger().removeHandler(handler)
    return states


def summary(states: dict[str, tuple[str, float]], log_path: Path, last_period: str) -> bool:
    ok = all(state == "success" for state, _ in states.values())
    print("\n=== Airflow runs (dag.test) ===")
    for dag_id, (state, secs) in states.items():
        print(f"  {dag_id:20} {state:8} {secs:6.1f} s")
    print(f"  (Airflow log: {log_path})")
    print_submissions()
    print_dbt_results()
    print_quality_gates()
    print_assessment()
    ok = print_publication() and ok
    print_deadline(last_period)
    print(f"\nfeedback and reminders to counties: {config.outbox_dir()}")
    print("demo " + ("OK" if ok else "FAILED"))
    return ok


def print_submissions() -> None:
    from core.warehouse import connect

    with connect() as conn:
        rows = conn.execute(
            "select county_code, year, quarter, "
            "count(*) filter (where status = 'accepted'), count(*) filter (where status = 'refused'), "
            "bool_or(late) filter (where status = 'accepted'), sum(warnings) filter (where status = 'accepted') "
            "from landing.submissions group by 1, 2, 3 order by 2, 3, 1").fetchall()
        loaded = conn.execute("select count(*) from raw.report_values").fetchone()[0]
        current = conn.execute(
            "select count(*) from raw.report_values v join landing.current_submission_forms c "
            "on v.submission_id = c.submission_id and v.form = c.form").fetchone()[0]
        refused = conn.execute(
            "select s.file_name, s.county_code, s.year, s.quarter, f.code, f.sheet, f.cell "
            "from landing.submissions s join landing.findings f using (submission_id) "
            "where s.status = 'refused' and f.severity = 'error' order by s.submission_id, f.finding_no").fetchall()
    print("\n=== Submissions (accepted/refused per county and quarter) ===")
    periods = sorted({(y, q) for _, y, q, *_ in rows})
    counties = sorted({c for c, *_ in rows if c})
    grid = {(c, y, q): (a, r, late, w) for c, y, q, a, r, late, w in rows}
    print("  county  " + " ".join(f"{y}Q{q}" for y, q in periods))
    for c in counties:
        cells = []
        for y, q in periods:
            a, r, late, w = grid.get((c, y, q), (0, 0, False, 0))
            mark = f"{a}/{r}" + ("L" if late else " ") + ("W" if w else " ")
            cells.append(f"{mark:6}")
        print(f"  {c}  " + " ".join(cells))
    print("  (a/r = accepted/refused versions, L = late, W = warnings)")
    total_a = sum(a for a, *_ in grid.values())
    total_r = sum(r for _, r, *_ in grid.values())
    print(f"  {total_a} accepted, {total_r} refused; {loaded} values loaded, {current} in current versions")
    for name, c, y, q, code, sheet, cell in refused:
        print(f"  refused {name} ({c} {y}Q{q}): {code} at {sheet}!{cell}")


def print_dbt_results() -> None:
    from core.dbt import target_dir

    run_results = target_dir() / "run_results.json"
    if not run_results.exists():
        return
    kinds: dict[str, dict[str, int]] = {}
    for r in json.loads(run_results.read_text())["results"]:
        kind = r["unique_id"].split(".", 1)[0]
        kinds.setdefault(kind, {}).setdefault(r["status"], 0)
        kinds[kind][r["status"]] += 1
    print("\n=== dbt build ===")
    for kind, counts in sorted(kinds.items()):
        print(f"  {kind:10} " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


def print_quality_gates() -> None:
    print("\n=== Great Expectations ===")
    for stage in ("raw", "warehouse"):
        path = config.var_dir() / "quality" / f"{stage}.json"
        if not path.exists():
            continue
        doc = json.loads(path.read_text())
        n = sum(len(s["expectations"]) for s in doc["suites"])
        failed = [e for s in doc["suites"] for e in s["expectations"] if not e["success"]]
        by_severity = ", ".join(f"{sum(e['severity'] == sev for e in failed)} {sev}"
                                for sev in ("critical", "warning", "info") if any(e["severity"] == sev for e in failed))
        print(f"  {stage:10} {'PASS' if doc['success'] else 'FAIL'}: {len(doc['suites'])} suites, "
              f"{n} expectations, {len(failed)} not met" + (f" ({by_severity})" if failed else ""))
        for e in failed:
            print(f"    {e['severity']:8} {e.get('description') or e['type']}: {e.get('unexpected_count')}")


ASSESSMENT_BY_YEAR = """
    with reported as (
        select year, count(distinct town_code) as members
        from marts.town_quarter_indicators where quarter = 4 group by year
    ),
    assessed as (
        select year, count(*) as assessed, count(*) filter (where comparable) as comparable,
            count(*) filter (where pending) as pending
        from marts.town_annual_assessment group by year
    ),
    proposed as (
        select year, string_agg(code || ' ' || n, ', ' order by code) as proposals
        from (select year, code, count(*) as n
              from marts.town_annual_assessment, unnest(string_to_array(nullif(proposals, ''), ',')) as code
              group by 1, 2) x
        group by year
    ),
    decided as (
        select year, string_agg(action || ' ' || n, ', ' order by action) as decisions
        from (select assessment_year as year, action, count(*) as n from marts.decisions
              where assessment_year is not null group by 1, 2) x
        group by year
    )
    select reported.year, reported.members, coalesce(assessed.assessed, 0), coalesce(assessed.comparable, 0),
        coalesce(assessed.pending, 0), coalesce(proposed.proposals, ''), coalesce(decided.decisions, '')
    from reported
    left join assessed using (year)
    left join proposed using (year)
    left join decided using (year)
    order by reported.year
"""


def print_assessment() -> None:
    """Per year: towns reporting at Q4, how many were assessed, the proposals and the decisions recorded."""
    from core.warehouse import connect

    with connect() as conn:
        if not conn.execute("select to_regclass('marts.town_annual_assessment') is not null").fetchone()[0]:
            return
        rows = conn.execute(ASSESSMENT_BY_YEAR).fetchall()
    print("\n=== Annual assessment: proposals (建议) and decisions (决定) ===")
    for year, members, assessed, comparable, pending, proposals, decisions in rows:
        if not assessed:
            print(f"  {year}: {members} towns reported at Q4; baseline year, monitored, not assessed")
            continue
        print(f"  {year}: {members} towns reported at Q4; {assessed} assessed ({comparable} comparable, "
              f"{pending} pending)")
        print(f"        proposals: {proposals or 'none'}")
        print(f"        decisions: {decisions or 'none recorded'}")


def print_publication() -> bool:
    from publish.wap import read_latest

    url = config.publish_url()
    manifest = read_latest(url)
    print("\n=== Publication ===")
    if not manifest:
        print("  nothing published")
        return False
    print(f"  LATEST = {manifest['version']}  ({url}/v/{manifest['version']})")
    for f in manifest["files"]:
        print(f"  {f['name']:32} {f['rows']:6} rows {f['bytes']:9} bytes")
    bulletins = sorted((Path(url.removeprefix("file://")) / "bulletin").glob("*.html")) if url.startswith(
        "file://") else []
    for b in bulletins:
        print(f"  bulletin: {b}")
    return True


def print_deadline(period: str) -> None:
    from ops.reminders import status_report_path

    status = status_report_path(period)
    if status.exists():
        report = json.loads(status.read_text(encoding="utf-8"))
        print(f"\n=== Deadline {report['period']} ({report['deadline']}) ===")
        for state, counties in sorted(report["by_status"].items()):
            print(f"  {state:12} {', '.join(counties)}")
        print(f"  (status report: {status})")


def main() -> int:
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # the full log goes to a file
    airflow_env.apply()
    from core.warehouse import connect, warehouse_url
    from ingest.landing import ensure_schema
    from ops.runs import prepare

    print(f"warehouse: {warehouse_url().split('@')[-1]}")
    with connect() as conn:
        ensure_schema(conn)
    staged, periods = stage_samples()
    print(f"sample reports: {len(staged)} files ({periods[0]}–{periods[-1]}) into {config.inbox_dir()}")
    prepare()  # the Airflow metadata database migrated once (ops.runs)
    log_path = config.var_dir() / "logs" / "demo-airflow.log"
    started = time.monotonic()
    states = run_dags(log_path, dag_plan(periods))
    ok = summary(states, log_path, periods[-1])
    print(f"demo wall time (DAG runs): {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
