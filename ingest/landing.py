"""Receive, land and load: what `python -m ingest submit FILE` does.

1. The file's bytes are kept forever in the content-addressed archive.
2. It is parsed and validated (file-level checks, then cross-period checks
   against the accepted history in the warehouse).
3. A report without file-level errors is loaded (COPY, one transaction) as a
   *pending* submission, which is never current; its rows are then audited in
   the database (`audit`, e.g. the GX submission audit); then ONE transaction
   makes it accepted (the newest accepted report of a (county, period) by
   receipt time is the current one) or refused (its values removed). A crash at
   any point leaves at most a pending submission, which is never visible as
   data and is started over when the same file comes again.
4. A refused file is copied to quarantine with its findings; every submission
   gets a feedback report in the county's outbox.

No SQL is ever built from file contents: values travel as parameters or COPY data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core import config
from ingest.current import missing_forms
from ingest.findings import ERROR, WARNING, Finding, count, finding
from ingest.history import history_findings
from ingest.parse import Report, parse_report

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
SCHEMA_SQL = Path(__file__).parent / "sql" / "warehouse.sql"
_ALLOWED_SUFFIXES = {".xlsx", ".xls", ".csv"}


@dataclass
class SubmitResult:
    submission_id: int
    status: str  # accepted | refused | duplicate (submission_id is then the original's)
    file_sha256: str
    file_name: str
    county_code: str | None
    period: str | None
    version: int | None
    rows_loaded: int
    findings: list[Finding] = field(default_factory=list)
    feedback_paths: list[Path] = field(default_factory=list)
    quarantine_path: Path | None = None
    missing_forms: list[str] = field(default_factory=list)  # the county's report is incomplete without these

    def to_dict(self) -> dict:
        return {
            "submission_id": self.submission_id, "status": self.status, "file_sha256": self.file_sha256,
            "file_name": self.file_name, "county_code": self.county_code, "period": self.period,
            "version": self.version, "rows_loaded": self.rows_loaded,
            "errors": count(self.findings, ERROR), "warnings": count(self.findings, WARNING),
            "findings": [f.to_dict() for f in self.findings],
            "feedback": [str(p) for p in self.feedback_paths],
            "quarantine": str(self.quarantine_path) if self.quarantine_path else None,
            "missing_forms": self.missing_forms,
        }


def safe_display_name(name: str) -> str:
    """A file name from outside, fit for display and storage as text (never as a path)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip() or "unnamed"
    return base[:200]


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if suffix in _ALLOWED_SUFFIXES else ".bin"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_copy(src: Path, dest: Path) -> None:
    """Copy so that `dest` either does not exist or holds all the bytes."""
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def archive(path: Path, file_name: str) -> tuple[str, Path]:
    """Keep the file's bytes under their content hash; return (sha256, archive path)."""
    sha = sha256_file(path)
    dest = config.archive_dir() / sha[:2] / f"{sha}{_suffix(file_name)}"
    _atomic_copy(path, dest)
    return sha, dest


def receipt_time(path: Path) -> datetime:
    """When the file arrived: its modification time in the inbox, never in the future."""
    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return min(mtime, datetime.now(UTC))


def ensure_schema(conn) -> None:
    conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))


def submit(path: Path, *, file_name: str | None = None, received_at: datetime | None = None,
           conn=None, write_feedback: bool = True, audit=None) -> SubmitResult:
    """Receive one file: archive it, validate it, and land/load it in one transaction."""
    from core.warehouse import connect

    path = Path(path)
    name = safe_display_name(file_name or path.name)
    received_at = received_at or receipt_time(path)
    sha, archived = archive(path, name)
    own = conn is None
    conn = conn or connect(autocommit=True)
    if not conn.autocommit:
        raise ValueError("submit() needs an autocommit connection: it manages its own transactions")
    try:
        ensure_schema(conn)
        result = _land(conn, archived, sha, name, received_at, audit)
    finally:
        if own:
            conn.close()
    if result.status == "refused":
        result.quarantine_path = _quarantine(archived, sha, name, result)
    if write_feedback:
        from ingest.feedback import write_feedback as _write

        result.feedback_paths = _write(result, received_at)
    return result


def _land(conn, archived: Path, sha: str, name: str, received_at: datetime, audit=None) -> SubmitResult:
    duplicate = _duplicate_of(conn, archived, sha, name, received_at)
    if duplicate is not None:
        return duplicate
    report = parse_report(archived, name)
    findings = list(report.findings)
    late = deadline = None
    if report.county_code and report.period:
        deadline = report.period.deadline
        late = received_at.astimezone(LOCAL_TZ).date() > deadline
        findings += history_findings(conn, report)  # all problems at once, not one round per fix
        if late:
            findings.append(finding("submission.late",
                                    received=received_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
                                    deadline=deadline.isoformat()))
    year = report.period.year if report.period else None
    quarter = report.period.quarter if report.period else None
    period = str(report.period) if report.period else None
    fields = (sha, name, received_at, report.county_code, year, quarter, report.forms, deadline, late, report.metadata)
    if any(f.severity == ERROR for f in findings):
        with conn.transaction():
            sid = _insert_submission(conn, *fields, status="refused")
            _record_findings(conn, sid, findings)
        return SubmitResult(sid, "refused", sha, name, report.county_code, period, None, 0, findings)

    # Phase 1: load the values as a pending submission (never current, whatever happens next).
    with conn.transaction():
        sid = _insert_submission(conn, *fields, status="pending")
        rows = _copy_values(conn, sid, sha, report)
    # Phase 2: audit the loaded rows in the database together with the accepted history.
    if audit is not None:
        from expectations.submission import new_findings

        findings += new_findings(findings, audit(conn, sid))  # what the file-level checks said stays said once
    # Phase 3: decide in one step: accepted (with its version) or refused (values removed).
    return _decide(conn, sid, report, findings, rows, SubmitResult(sid, "", sha, name, report.county_code, period,
                                                                    None, 0, findings))


def _duplicate_of(conn, archived: Path, sha: str, name: str, received_at: datetime) -> SubmitResult | None:
    """Record the file; if these bytes were received before, the no-op answer (else None)."""
    with conn.transaction():
        conn.execute(
            "insert into landing.files (file_sha256, size_bytes, archive_path, first_received_at) "
            "values (%s, %s, %s, %s) on conflict (file_sha256) do nothing",
            (sha, archived.stat().st_size, str(archived), received_at))
        first = conn.execute(
            "select submission_id, received_at, county_code, year, quarter, version, status "
            "from landing.submissions where file_sha256 = %s", (sha,)).fetchone()
        if first is not None and first[6] == "pending":
            # an earlier attempt died between loading and deciding: it was never current; start over
            forget_submission(conn, first[0])
            first = None
    if first is None:
        return None
    # Byte-identical to a file already received: a no-op. The county still gets an answer.
    dup = finding("submission.duplicate", first_received=first[1].astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"))
    period = f"{first[3]}Q{first[4]}" if first[3] else None
    return SubmitResult(first[0], "duplicate", sha, name, first[2], period, first[5], 0, [dup])


def _decide(conn, sid: int, report: Report, findings: list[Finding], rows: int, result: SubmitResult) -> SubmitResult:
    """One transaction: the loaded submission becomes accepted (with its version) or refused (values removed)."""
    status = "refused" if any(f.severity == ERROR for f in findings) else "accepted"
    year, quarter = report.period.year, report.period.quarter
    with conn.transaction():
        _record_findings(conn, sid, findings)
        if status == "accepted":
            # serialise versions of one (county, period); other periods load in parallel
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"{report.county_code}/{report.period}",))
            conn.execute(
                "update landing.submissions set status = 'accepted', version = ("
                "  select coalesce(max(version), 0) + 1 from landing.submissions "
                "  where county_code = %s and year = %s and quarter = %s) where submission_id = %s",
                (report.county_code, year, quarter, sid))
            result.version = _renumber_versions(conn, report.county_code, year, quarter, sid)
            result.missing_forms = missing_forms(conn, report.county_code, report.period)
            result.rows_loaded = rows
        else:
            conn.execute("delete from raw.report_values where submission_id = %s", (sid,))
            conn.execute("update landing.submissions set status = 'refused' where submission_id = %s", (sid,))
    result.status = status
    return result


def forget_submission(conn, sid: int) -> None:
    """Remove one submission's rows (values, findings, the submission) so that its file can be
    processed again. The file itself stays: its bytes in the archive, its row in `landing.files`.
    Call it inside the transaction that decides what replaces it."""
    for table in ("raw.report_values", "landing.findings", "landing.submissions"):
        conn.execute(f"delete from {table} where submission_id = %s", (sid,))  # table names are constants


def _insert_submission(conn, sha, name, received_at, county, year, quarter, forms, deadline, late,
                       metadata: dict, *, status: str) -> int:
    return conn.execute(
        "insert into landing.submissions (file_sha256, file_name, received_at, county_code, year, quarter, forms, "
        "status, deadline, late, reporter, phone, report_date) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning submission_id",
        (sha, name, received_at, county, year, quarter, forms, status, deadline, late,
         _short(metadata.get("reporter")), _short(metadata.get("phone")), metadata.get("report_date")),
    ).fetchone()[0]


def _record_findings(conn, sid: int, findings: list[Finding]) -> None:
    conn.execute("update landing.submissions set errors = %s, warnings = %s where submission_id = %s",
                 (count(findings, ERROR), count(findings, WARNING), sid))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into landing.findings (submission_id, finding_no, severity, code, sheet, cell, town_code, "
            "indicator, message_zh, message_en) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(sid, i, f.severity, f.code, f.sheet, f.cell, f.town_code, f.indicator, f.message_zh, f.message_en)
             for i, f in enumerate(findings, start=1)])


def _renumber_versions(conn, county: str, year: int, quarter: int, sid: int) -> int:
    """Versions follow receipt time, not processing order: a report received earlier but
    processed later (parallel or retried tasks) still gets the lower version. Returns sid's version."""
    conn.execute(
        "update landing.submissions as s set version = r.rn "
        "from (select submission_id, row_number() over (order by received_at, file_sha256) as rn "
        "      from landing.submissions where county_code = %s and year = %s and quarter = %s "
        "      and status = 'accepted') as r "
        "where s.submission_id = r.submission_id and s.version is distinct from r.rn",
        (county, year, quarter))
    return conn.execute("select version from landing.submissions where submission_id = %s", (sid,)).fetchone()[0]


def _short(value: object) -> str | None:
    return None if value is None else str(value)[:100]


def _copy_values(conn, sid: int, sha: str, report: Report) -> int:
    """One row per value; the county-reported 上年同期 (and its cell) rides on the current value's row."""
    columns = ("submission_id, county_code, year, quarter, form, town_code, indicator, value, "
               "source_file_sha256, source_sheet, source_cell, value_prev_year, prev_year_source_cell")
    with conn.cursor() as cur, cur.copy(f"copy raw.report_values ({columns}) from stdin") as copy:
        for v in report.values:
            copy.write_row((sid, report.county_code, report.period.year, report.period.quarter, v.form,
                            v.town_code, v.indicator, v.value, sha, v.sheet, v.cell, v.value_prev_year,
                            v.prev_year_cell))
    return len(report.values)


def _quarantine(archived: Path, sha: str, name: str, result: SubmitResult) -> Path:
    """Refused files are kept in quarantine with their findings (never deleted)."""
    dest = config.quarantine_dir() / f"{sha}{_suffix(name)}"
    _atomic_copy(archived, dest)
    findings_path = dest.with_suffix(dest.suffix + ".findings.json")
    tmp = findings_path.with_name("." + findings_path.name + ".tmp")
    tmp.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, findings_path)
    return dest
