"""Reprocess one county's report for one period, or every held file: each file is validated and
loaded again from the archive (e.g. after a fix of the parser or of the registry), with its original
name and receipt time, oldest first.

Nothing a county sent is lost, and nothing disappears meanwhile: the bytes stay in the archive and in
`landing.files`; each file's new submission is loaded and audited beside its old one, which stays
current until the transaction that decides the new one replaces it (ingest.landing, `replaces`;
versions follow the receipt times, as always). The list of files is written to
`<var>/reprocess/<county>-<period>.json` (or `held.json`) before anything changes, so that a run that
died half-way is finished by running the same command again.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from core import config
from core.files import write_atomic
from ops.reminders import parse_period

PLAN_SQL = """
select s.file_sha256, s.file_name, s.received_at, f.archive_path, s.status, s.version
from landing.submissions as s join landing.files as f using (file_sha256)
where s.county_code = %s and s.year = %s and s.quarter = %s and s.status <> 'pending'
order by s.received_at, s.submission_id
"""


def plan_path(county_code: str, period) -> Path:
    return config.var_dir() / "reprocess" / f"{county_code}-{period}.json"


def _archived_file(item: dict) -> Path:
    path = Path(item["archive_path"])
    if path.exists():
        return path
    # the archive moved (another machine, another mount): it is content-addressed
    candidates = sorted((config.archive_dir() / item["file_sha256"][:2]).glob(item["file_sha256"] + ".*"))
    if not candidates:
        raise FileNotFoundError(f"{item['file_name']}: archived bytes {item['file_sha256']} not found "
                                f"at {path} nor under {config.archive_dir()}")
    return candidates[0]


HELD_SQL = """
select h.file_sha256, h.file_name, h.received_at, f.archive_path,
    coalesce(s.status, 'held') as status, s.version
from landing.held_files as h
join landing.files as f using (file_sha256)
left join landing.submissions as s on s.file_sha256 = h.file_sha256 and s.status <> 'pending'
order by h.received_at, h.file_sha256
"""


def _plan(path: Path, query: str, params: tuple) -> list[dict] | None:
    """The files to reprocess: those of a run that died half-way (its plan file), else the query's."""
    from core.warehouse import connect
    from ingest.landing import ensure_schema

    if path.exists():  # a previous run died half-way: finish it
        return json.loads(path.read_text(encoding="utf-8"))
    with connect() as conn:
        ensure_schema(conn)
        rows = conn.execute(query, params).fetchall()
    if not rows:
        return None
    items = [{"file_sha256": sha, "file_name": name, "received_at": received.isoformat(), "archive_path": ap,
              "status_before": status, "version_before": version}
             for sha, name, received, ap, status, version in rows]
    write_atomic(path, json.dumps(items, ensure_ascii=False, indent=2))
    return items


def _run(items: list[dict], path: Path) -> list[dict]:
    """Each file again, its new decision replacing its old one in one transaction."""
    from core.warehouse import connect
    from ingest.audit import audit_submission
    from ingest.landing import submit

    outcomes = []
    with connect(autocommit=True) as conn:
        for item in items:
            archived = _archived_file(item)
            row = conn.execute("select submission_id from landing.submissions "
                               "where file_sha256 = %s and status <> 'pending'", (item["file_sha256"],)).fetchone()
            result = submit(archived, file_name=item["file_name"],
                            received_at=datetime.fromisoformat(item["received_at"]), conn=conn,
                            audit=audit_submission, replaces=row[0] if row else None,  # the inbox's decision
                            channel="replay")
            outcomes.append({"file_name": item["file_name"], "file_sha256": item["file_sha256"],
                             "before": item["status_before"], "after": result.status,
                             "version": result.version, "rows_loaded": result.rows_loaded,
                             "errors": sum(f.severity == "error" for f in result.findings),
                             **({"error": result.error} if result.status == "held" else {})})
    path.unlink(missing_ok=True)
    return outcomes


def reprocess(county_code: str, period_text: str) -> dict:
    """Validate and load again every file of (county, period); return what became of each."""
    period = parse_period(period_text)
    path = plan_path(county_code, period)
    items = _plan(path, PLAN_SQL, (county_code, period.year, period.quarter))
    if items is None:
        raise LookupError(f"no report of county {county_code} for {period} was ever received: nothing to "
                          "reprocess (a new file goes through the inbox)")
    return {"county_code": county_code, "period": str(period), "files": _run(items, path)}


def reprocess_held() -> dict:
    """Every file held by an internal error (landing.held_files), oldest first; return what became of each
    (a file held again stays held, with its new error)."""
    path = config.var_dir() / "reprocess" / "held.json"
    items = _plan(path, HELD_SQL, ())
    return {"held": True, "files": _run(items, path) if items else []}
