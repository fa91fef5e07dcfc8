"""What the pages show: the decision on an upload, a county's submissions per quarter, the overview.

Read from the platform's own tables (landing.submissions, landing.findings, landing.held_files), so a
report that came by the inbox or `ingest submit` shows the same as one uploaded here.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core import config, registry
from core.periods import Period
from ingest.feedback import STATUS_ZH

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_SUBMISSION = ("submission_id, status, county_code, year, quarter, version, errors, warnings, coalesce(late, false), "
               "received_at, file_name, file_sha256")
_KEYS = ("submission_id", "status", "county_code", "year", "quarter", "version", "errors", "warnings", "late",
         "received_at", "file_name", "file_sha256")


def county_name(code: str | None) -> str | None:
    return {c.code: c.name_zh for c in registry.counties()}.get(code)


def current_period(today: date | None = None) -> Period:
    """The quarter being reported: the one that ended last."""
    today = today or datetime.now(LOCAL_TZ).date()
    return Period(today.year, (today.month - 1) // 3 + 1).previous()


def findings_of(conn, submission_id: int) -> list[dict]:
    rows = conn.execute("select severity, code, sheet, cell, town_code, indicator, message_zh, message_en "
                        "from landing.findings where submission_id = %s order by finding_no", (submission_id,))
    return [dict(zip(("severity", "code", "sheet", "cell", "town_code", "indicator", "message_zh", "message_en"), r,
                     strict=True)) for r in rows.fetchall()]


def submission(conn, submission_id: int) -> dict | None:
    row = conn.execute(f"select {_SUBMISSION} from landing.submissions where submission_id = %s",
                       (submission_id,)).fetchone()
    return dict(zip(_KEYS, row, strict=True)) if row else None


def _shown_status(sub: dict) -> str:
    if sub["status"] == "accepted" and sub["warnings"]:
        return "accepted_with_warnings"
    return sub["status"]


def decision(conn, sha256: str, duplicate: bool = False) -> dict:
    """Where the bytes of an upload stand: {"state": "waiting"} until the pipeline decided, then the
    submission's status, version and findings (`duplicate`: the bytes had been decided before the upload,
    shown with that decision; held: the incident)."""
    rows = [dict(zip(_KEYS, r, strict=True)) for r in conn.execute(
        f"select {_SUBMISSION} from landing.submissions where file_sha256 = %s and status <> 'pending' "
        "order by submission_id", (sha256,)).fetchall()]
    if rows:
        sub = rows[0]
        status = "duplicate" if duplicate else _shown_status(sub)
        return {**_plain(sub), "state": "decided", "status": status, "status_zh": STATUS_ZH[status],
                "findings": findings_of(conn, sub["submission_id"])}
    held = conn.execute("select error from landing.held_files where file_sha256 = %s", (sha256,)).fetchone()
    if held:
        return {"state": "decided", "status": "held", "status_zh": STATUS_ZH["held"], "findings": []}
    return {"state": "waiting"}


def _plain(sub: dict) -> dict:
    out = dict(sub)
    out["received_at"] = sub["received_at"].astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
    out["period"] = f"{sub['year']}Q{sub['quarter']}" if sub["year"] else None
    return out


def decided_before(conn, sha256: str) -> int | None:
    """The submission that decided these bytes already, if any (a new receipt of them is a duplicate)."""
    row = conn.execute("select min(submission_id) from landing.submissions where file_sha256 = %s "
                       "and status in ('accepted', 'refused')", (sha256,)).fetchone()
    return row[0]


def upload(conn, upload_id: str) -> dict | None:
    row = conn.execute("select upload_id, account_id, county_code, period, submitted_at, files, intake, intake_note, "
                       "notified_at from portal.uploads where upload_id = %s", (upload_id,)).fetchone()
    if row is None:
        return None
    keys = ("upload_id", "account_id", "county_code", "period", "submitted_at", "files", "intake", "intake_note",
            "notified_at")
    return dict(zip(keys, row, strict=True))


def upload_state(conn, up: dict) -> dict:
    """The upload with each file's decision; `decided` once every file is."""
    files = [{**f, **decision(conn, f["sha256"], f.get("duplicate_of") is not None)} for f in up["files"]]
    missing = None
    if up["period"] and all(f["state"] == "decided" for f in files):
        from core.periods import find_period
        from ingest.current import missing_forms

        missing = missing_forms(conn, up["county_code"], find_period(up["period"]))
    return {**up, "files": files, "decided": all(f["state"] == "decided" for f in files), "missing_forms": missing,
            "submitted_local": up["submitted_at"].astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")}


def portal_names(conn, county_code: str) -> dict[str, str]:
    """sha256 -> the name the county gave the file, for its uploads through the portal."""
    names: dict[str, str] = {}
    for (files,) in conn.execute("select files from portal.uploads where county_code = %s", (county_code,)):
        for f in files:
            names.setdefault(f["sha256"], f["name"])
    return names


def county_submissions(conn, county_code: str) -> dict[str, list[dict]]:
    """Every submission of the county, newest quarter first: {period: [submission, ...]} (receipt order)."""
    names = portal_names(conn, county_code)
    out: dict[str, list[dict]] = {}
    for r in conn.execute(f"select {_SUBMISSION} from landing.submissions where county_code = %s "
                          "order by year desc, quarter desc, received_at, submission_id", (county_code,)).fetchall():
        sub = _plain(dict(zip(_KEYS, r, strict=True)))
        sub["shown_name"] = names.get(sub["file_sha256"], sub["file_name"])
        sub["shown_status"] = _shown_status(sub)
        sub["status_zh"] = STATUS_ZH.get(sub["shown_status"], "待定")
        out.setdefault(sub["period"], []).append(sub)
    return out


def county_uploads(conn, county_code: str) -> list[dict]:
    rows = conn.execute("select upload_id, period, submitted_at, files from portal.uploads where county_code = %s "
                        "order by submitted_at desc limit 50", (county_code,)).fetchall()
    return [{"upload_id": r[0], "period": r[1], "submitted_at": r[2].astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
             "names": [f["name"] for f in r[3]]} for r in rows]


def deadline(conn, period: Period, county_code: str | None = None) -> list[dict]:
    """ops.reminders.deadline_status as dicts (one county, or all), with the days left to the deadline."""
    from ops.reminders import deadline_status

    today = datetime.now(LOCAL_TZ).date()
    out = []
    for s in deadline_status(conn, period):
        if county_code is None or s.county_code == county_code:
            out.append({**asdict(s), "days_left": (period.deadline - today).days})
    return out


def reminder(county_code: str, period: Period) -> dict | None:
    """The reminder the county was sent for the period (ops.reminders writes it into its outbox)."""
    path = config.outbox_dir() / county_code / f"reminder-{period}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
