"""`python -m ops`: the operator's commands. Each one runs DAGs, so that what an operator
does is recorded in Airflow like any scheduled run.

    python -m ops backfill --from 2015Q1 --to 2016Q4 [--rebuild]   # each quarter's bulletin (first rebuild, publish)
    python -m ops reprocess --county 330421 --period 2016Q3   # validate and load that report again, rebuild, publish
    python -m ops reprocess --held                     # every file held by an internal error, again
    python -m ops migrate                              # the landing and raw schemas to the newest revision
    python -m ops restore --from-archive               # after the warehouse was lost: replay the archive, rebuild
    python -m ops backup [--to DIR]                    # pg_dump of the warehouse and the archive (make backup)
    python -m ops restore --from-backup DIR            # the warehouse and archive from a backup (make restore)
    python -m ops rebuild                              # the warehouse from raw (dbt build --full-refresh + gates)
    python -m ops publish                              # publish again (unchanged content: no new version)
    python -m ops remind [--period 2016Q3]             # deadline status, reminders to counties, alert to the team
    python -m ops ui [--port 8080]                     # the Airflow UI locally (airflow standalone)
    python -m ops registry check [--seeds DIR] [--json]   # a registry change against the warehouse (no DAG)
    python -m ops registry apply                       # after the merge: check, rebuild, publish, show what changed

By default a command runs the DAGs here and now with `dag.test()` (local Airflow,
SQLite metadata); with `--trigger` it creates the runs for a running scheduler
(the compose stack: `docker compose exec airflow-worker python -m ops rebuild --trigger`).
Exit 0 when every run succeeded, 1 when one did not, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict

from ops.reminders import parse_period


def quarters(first: str, last: str) -> list[str]:
    """Every quarter from `first` to `last`, both included."""
    a, b = parse_period(first), parse_period(last)
    if b < a:
        raise ValueError(f"--to {b} is before --from {a}")
    out = []
    while a <= b:
        out.append(str(a))
        a = type(a)(a.year + (a.quarter == 4), a.quarter % 4 + 1)
    return out


def plan(args) -> list[tuple[str, dict]]:
    """The DAG runs (dag_id, conf) a command stands for, in order."""
    if args.command == "backfill":
        periods = quarters(args.first, args.last)
        runs = [("warehouse_build", {"periods": periods}), ("nightly_publish", {})] if args.rebuild else []
        return runs + [("quarterly_bulletin", {"period": p}) for p in periods]
    if args.command == "reprocess":
        if args.no_build:
            return []
        if args.held:  # their periods are known only once they are read
            return [("warehouse_build", {}), ("nightly_publish", {})]
        period = str(parse_period(args.period))
        return [("warehouse_build", {"periods": [period]}), ("nightly_publish", {})]
    if args.command == "rebuild":
        return [("warehouse_build", {"full_refresh": True})]
    if args.command == "publish":
        return [("nightly_publish", {})]
    if args.command == "remind":
        return [("deadline_reminders", {"period": str(parse_period(args.period))} if args.period else {})]
    if args.command == "restore":  # --from-archive (--from-backup runs no DAG)
        return [("warehouse_build", {"full_refresh": True}), ("nightly_publish", {})]
    if args.command == "registry" and args.registry_command == "apply":
        # dbt build reloads the seeds and rebuilds what depends on them (incremental facts only where a
        # town's tier at quarter end changed); the publication makes a new version only if content changed
        return [("warehouse_build", {}), ("nightly_publish", {})]
    raise ValueError(args.command)


def run_plan(runs: list[tuple[str, dict]], *, mode: str, as_json: bool, timeout: float = 3600) -> int:
    import contextlib

    from ops.runs import run

    outcomes = []
    ok = True
    for dag_id, conf in runs:
        # with --json, stdout carries the JSON alone (Airflow logs to stdout too)
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            outcome = run(dag_id, conf, mode=mode, timeout=timeout)
        outcomes.append(outcome)
        if not as_json:
            print(f"{outcome.dag_id:20} {outcome.state:8} {outcome.seconds:7.1f} s  run={outcome.run_id}  "
                  f"conf={json.dumps(conf, ensure_ascii=False)}", flush=True)
        if outcome.state != "success":
            ok = False
            break
    if as_json:
        print(json.dumps([asdict(o) for o in outcomes], ensure_ascii=False))  # one line
    return 0 if ok else 1


def cmd_ui(args) -> int:
    """`airflow standalone` with the project's local settings (the UI on 127.0.0.1:<port>)."""
    from core import airflow_env
    from ops.runs import _airflow_bin, _env

    airflow_env.apply()
    env = {**_env(), "AIRFLOW__API__PORT": str(args.port), "AIRFLOW__API__HOST": args.host}
    print(f"Airflow UI: http://{args.host}:{args.port}  (admin password: printed below, and kept in "
          f"{airflow_env.airflow_home()}/simple_auth_manager_passwords.json.generated)", flush=True)
    os.execve(_airflow_bin(), [_airflow_bin(), "standalone"], env)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m ops", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def runs_parser(name: str, help_: str):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--trigger", action="store_true",
                       help="create the runs for a running scheduler instead of running them here (dag.test); "
                            "each run is waited for before the next one is created")
        p.add_argument("--timeout", type=float, default=3600, help="seconds to wait for each triggered run")
        p.add_argument("--json", action="store_true", help="print the outcome as JSON")
        return p

    p = runs_parser("backfill", "the bulletin of each quarter of a range (with --rebuild: rebuild and publish first)")
    p.add_argument("--from", dest="first", required=True, help="first quarter, e.g. 2015Q1")
    p.add_argument("--to", dest="last", required=True, help="last quarter, e.g. 2016Q4")
    p.add_argument("--rebuild", action="store_true",
                   help="first run warehouse_build (with these periods) and nightly_publish, e.g. after loading "
                        "historic reports outside the inbox")
    p = runs_parser("reprocess", "validate and load one county's report (or every held file) again from the "
                                 "archive, then rebuild")
    p.add_argument("--county", help="county code, e.g. 330421")
    p.add_argument("--period", help="e.g. 2016Q3")
    p.add_argument("--held", action="store_true", help="every file held by an internal error (landing.held_files)")
    p.add_argument("--no-build", action="store_true", help="only reload; leave the warehouse build to its schedule")
    runs_parser("rebuild", "rebuild the warehouse: dbt build --full-refresh between the quality gates")
    runs_parser("publish", "publish the marts again (unchanged content: no new version)")
    p = runs_parser("remind", "deadline status, reminders to the counties, one alert to the team")
    p.add_argument("--period", help="e.g. 2016Q3; default: the quarter whose deadline passed last")
    p = runs_parser("restore", "rebuild landing, raw, the warehouse and the publication from the archive "
                               "alone, into an empty warehouse")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-archive", action="store_true",
                        help="replay every receipt of the archive (ingest/archive.py), then rebuild and publish")
    source.add_argument("--from-backup", metavar="DIR", help="a folder made by `python -m ops backup`")
    p = sub.add_parser("backup", help="pg_dump of the warehouse and the archive into a new folder")
    p.add_argument("--to", metavar="DIR", help="the backup folder (default: <var>/backups/<UTC time>)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("migrate", help="upgrade the landing and raw schemas to the newest revision (Alembic)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("ui", help="the Airflow UI locally (airflow standalone)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="127.0.0.1")
    p = sub.add_parser("registry", help="the registry seeds (decisions, lists, tasks, towns)")
    registry = p.add_subparsers(dest="registry_command", required=True, parser_class=_Parser)
    p = registry.add_parser("check", help="check a changed registry against the warehouse and say what it will do "
                                          "(exit 0 no errors, 1 errors, 2 could not check)")
    p.add_argument("--seeds", metavar="DIR", help="the seed CSV files to check (default: dbt_project/seeds)")
    p.add_argument("--json", action="store_true", help="print one JSON object: findings, changes and impact")
    p = registry.add_parser("apply", help="a merged registry change: check it (stop on errors), rebuild the "
                                          "warehouse, publish, and print what changed in the publication")
    p.add_argument("--trigger", action="store_true", help="create the runs for a running scheduler instead")
    p.add_argument("--timeout", type=float, default=3600, help="seconds to wait for each triggered run")
    return parser


def cmd_registry_apply(args) -> int:
    """Check the registry as merged; if it holds no error, rebuild and publish, then show the difference."""
    from core import config
    from ops import registry_check
    from publish.diff import describe, diff_versions
    from publish.wap import read_latest

    report = registry_check.check()
    print(report.to_text())
    if report.errors:
        print("python -m ops registry apply: the registry has errors; nothing was rebuilt", file=sys.stderr)
        return 1
    url = config.publish_url()
    before = (read_latest(url) or {}).get("version")
    status = run_plan(plan(args), mode="trigger" if args.trigger else "test", as_json=False, timeout=args.timeout)
    after = (read_latest(url) or {}).get("version")
    if status == 0 and before and after and after != before:
        print("\n".join(describe(diff_versions(url, before, after))))
    elif status == 0:
        print("publication unchanged" if before == after else f"first publication {after}")
    return status


def cmd_migrate(args) -> int:
    from ingest.schema import migrate

    before, after = migrate()
    print(json.dumps({"before": before, "after": after}) if args.json else
          f"landing and raw schemas: {before or 'none'} -> {after}")
    return 0


def cmd_backup(args) -> int:
    from ops.backup import backup

    outcome = backup(args.to)
    print(json.dumps(outcome) if args.json else f"backup {outcome['folder']}: warehouse "
          f"{outcome['warehouse_dump']['bytes']} bytes, archive {outcome['archive']['files']} files, "
          f"{outcome['seconds']} s")
    return 0


def cmd_restore_backup(args) -> int:
    from ops.backup import restore_backup

    outcome = restore_backup(args.from_backup)
    print(json.dumps(outcome) if args.json else f"restored {outcome['database']} from {outcome['folder']} "
          f"({outcome['archive_files_added']} archived files put back) in {outcome['seconds']} s")
    return 0


def replay_archive(args) -> int | None:
    """`restore --from-archive` before its DAG runs: the archive replayed; an exit code if that failed."""
    from ops.restore import RestoreRefused, restore_from_archive

    try:
        outcome = restore_from_archive()
    except RestoreRefused as exc:
        print(f"python -m ops restore: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(outcome, ensure_ascii=False) if args.json else
          f"restored {outcome['receipts']} receipts of {outcome['files']} files in {outcome['seconds']} s: "
          f"{outcome['statuses']}" + (f"; without a receipt: {len(outcome['without_receipt'])}"
                                      if outcome["without_receipt"] else ""))
    if outcome["errors"]:
        print("python -m ops restore: not restored: " + "; ".join(outcome["errors"]), file=sys.stderr)
        return 1
    return None


def reload_files(args, runs: list) -> int | None:
    """`reprocess` before its DAG runs: the files loaded again; an exit code if there was nothing to load."""
    from ops.reprocess import reprocess, reprocess_held

    try:
        outcome = reprocess_held() if args.held else reprocess(args.county, args.period)
    except LookupError as exc:
        print(f"python -m ops reprocess: {exc}", file=sys.stderr)
        return 1
    if args.json and not runs:
        print(json.dumps(outcome, ensure_ascii=False, indent=2))
    elif not args.json:
        for f in outcome["files"]:
            print(f"reloaded {f['file_name']}: {f['before']} -> {f['after']} (version {f['version']}, "
                  f"{f['rows_loaded']} rows, {f['errors']} errors)" + (f": {f['error']}" if f.get("error") else ""))
    return None


# commands that run no DAG
_DIRECT = {"ui": cmd_ui, "migrate": cmd_migrate, "backup": cmd_backup}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    if args.command in _DIRECT:
        return _DIRECT[args.command](args)
    if args.command == "registry":
        if args.registry_command == "apply":
            return cmd_registry_apply(args)
        from ops import registry_check

        return registry_check.main(args)
    if args.command == "restore" and args.from_backup:
        return cmd_restore_backup(args)
    if args.command == "reprocess" and args.held == bool(args.county or args.period):
        print("python -m ops reprocess: give --county and --period, or --held", file=sys.stderr)
        return 2
    try:
        runs = plan(args)
    except ValueError as exc:
        print(f"python -m ops {args.command}: {exc}", file=sys.stderr)
        return 2
    failed = (replay_archive(args) if args.command == "restore"
              else reload_files(args, runs) if args.command == "reprocess" else None)
    if failed is not None:
        return failed
    return run_plan(runs, mode="trigger" if args.trigger else "test", as_json=args.json, timeout=args.timeout)
