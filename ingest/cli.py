"""`python -m ingest`: check, submit and list county reports.

    python -m ingest check FILE [--json] [--no-history]   exit 0 accepted, 1 refused, 2 usage, 3 internal error
    python -m ingest submit FILE [--json] [--received-at ISO]   the same; 3: an internal error, the file is held
    python -m ingest list [--county CODE] [--period 2016Q3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.findings import ERROR, WARNING, count, finding

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2, as argparse does, with our prog name
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _history_connection():
    """A warehouse connection for the audit's preview (the cross-period checks, run in a transaction that is
    rolled back: nothing of the file is kept), or None if there is none."""
    from core.warehouse import connect, embedded_dir

    if not os.environ.get("WAREHOUSE_URL") and not (embedded_dir() / "url").exists():
        return None
    try:
        conn = connect(connect_timeout=5)
    except Exception:
        return None
    return conn


def _print_findings(findings, out=sys.stdout) -> None:
    for f in findings:
        where = " ".join(x for x in (f.sheet, f.cell, f.town_code, f.indicator) if x)
        print(f"  [{f.severity}] {f.code} {where}: {f.message_zh} / {f.message_en}", file=out)


def cmd_check(args) -> int:
    from ingest.parse import parse_report

    path = Path(args.file)
    if not path.is_file():
        print(f"ingest check: no such file: {path}", file=sys.stderr)
        return 2
    try:
        report = parse_report(path)
    except Exception as exc:  # a defect of the parser, not a problem of the file: never a refusal
        traceback.print_exc()
        print(f"ingest check: internal error reading {path.name} ({type(exc).__name__}); not a problem of the "
              "file: the data team must fix the parser", file=sys.stderr)
        return 3
    if report.county_code and report.period:
        conn = None if args.no_history else _history_connection()
        if conn is None:
            report.findings.append(finding("check.history_skipped"))
        else:
            from ingest.audit import preview_findings

            with conn:
                report.findings += preview_findings(conn, report)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(f"{path.name}: {report.status} county={report.county_code} period={report.period} "
              f"values={len(report.values) if report.status == 'accepted' else 0} errors={count(report.findings, ERROR)} "
              f"warnings={count(report.findings, WARNING)}")
        _print_findings(report.findings)
    return 0 if report.status == "accepted" else 1


def cmd_submit(args) -> int:
    from ingest.landing import submit

    path = Path(args.file)
    if not path.is_file():
        print(f"ingest submit: no such file: {path}", file=sys.stderr)
        return 2
    received = datetime.fromisoformat(args.received_at) if args.received_at else None
    if received is not None and received.tzinfo is None:
        print("ingest submit: --received-at needs a time zone, e.g. 2016-10-12T09:30:00+08:00", file=sys.stderr)
        return 2
    from ingest.audit import audit_submission

    result = submit(path, received_at=received, audit=None if args.no_audit else audit_submission)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(f"{result.file_name}: {result.status} submission={result.submission_id} county={result.county_code} "
              f"period={result.period} version={result.version} rows={result.rows_loaded}")
        _print_findings(result.findings)
        for p in result.feedback_paths:
            print(f"  feedback: {p}")
    if result.status == "held":
        print(f"ingest submit: internal error, the file is held ({result.error}); python -m ops reprocess --held "
              "takes it again once fixed", file=sys.stderr)
        return 3
    return 1 if result.status == "refused" else 0


def cmd_list(args) -> int:
    from core.warehouse import connect
    from ingest.landing import ensure_schema

    sql = ("select submission_id, county_code, year, quarter, version, status, errors, warnings, late, "
           "received_at, file_name, file_sha256 from landing.submissions where true")
    params: list = []
    if args.county:
        sql += " and county_code = %s"
        params.append(args.county)
    if args.period:
        from core.periods import find_period

        p = find_period(args.period)
        if p is None:
            print(f"ingest list: not a period: {args.period}", file=sys.stderr)
            return 2
        sql += " and year = %s and quarter = %s"
        params += [p.year, p.quarter]
    sql += " order by county_code, year, quarter, received_at, submission_id"
    from core.periods import Period
    from ingest.current import missing_forms

    with connect() as conn:
        ensure_schema(conn)
        rows = conn.execute(sql, params).fetchall()
        keys = ["submission_id", "county_code", "year", "quarter", "version", "status", "errors", "warnings", "late",
                "received_at", "file_name", "file_sha256"]
        records = [dict(zip(keys, r, strict=True)) for r in rows]
        missing: dict[tuple, list[str]] = {}
        for r in records:
            key = (r["county_code"], r["year"], r["quarter"])
            if r["county_code"] and r["year"] and key not in missing:
                missing[key] = missing_forms(conn, r["county_code"], Period(r["year"], r["quarter"]))
        for r in records:
            r["report_missing_forms"] = missing.get((r["county_code"], r["year"], r["quarter"]))
    if args.json:
        print(json.dumps(records, ensure_ascii=False, indent=2, default=str))
        return 0
    print(f"{'id':>5} {'county':6} {'period':7} {'ver':>3} {'status':8} {'err':>3} {'warn':>4} {'late':5} "
          f"{'report':10} received_at             file")
    for r in records:
        period = f"{r['year']}Q{r['quarter']}" if r["year"] else "-"
        print(f"{r['submission_id']:>5} {r['county_code'] or '-':6} {period:7} {r['version'] or '-':>3} "
              f"{r['status']:8} {r['errors']:>3} {r['warnings']:>4} {str(r['late'] or False):5} "
              f"{_completeness(r['report_missing_forms']):10} "
              f"{r['received_at'].astimezone(LOCAL_TZ):%Y-%m-%d %H:%M %z} {r['file_name']}")
    return 0


def _completeness(missing: list[str] | None) -> str:
    if missing is None:
        return "-"
    return "complete" if not missing else "no " + "+".join(m.removeprefix("LZ-") for m in missing)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m ingest", description="Quarterly county reports: check, submit, list.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("check", help="parse and validate one file without writing anything")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-history", action="store_true", help="skip the cross-period checks")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("submit", help="receive, validate, land and load one file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--received-at", help="receipt time (ISO 8601 with zone); default: the file's mtime")
    p.add_argument("--no-audit", action="store_true", help="skip the GX submission audit (not for production)")
    p.set_defaults(func=cmd_submit)
    p = sub.add_parser("list", help="list submissions and their status")
    p.add_argument("--county")
    p.add_argument("--period")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    args = parser.parse_args(argv)
    return args.func(args)
