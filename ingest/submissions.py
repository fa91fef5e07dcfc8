"""The landing tables, written: a received file and its submissions (`landing.files`, `landing.submissions`),
their findings (`landing.findings`) and values (`raw.report_values`, by COPY), the versions of a
(county, period), and the removal of a submission. Each function runs inside the caller's transaction.

No SQL is ever built from file contents: values travel as parameters or COPY data.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.dbt import BUILD_LOCK
from ingest.findings import ERROR, WARNING, Finding, count
from ingest.intake import Work
from ingest.sheet.report import Report

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

INSERT_SUBMISSION = (
    "insert into landing.submissions (file_sha256, file_name, received_at, county_code, year, quarter, forms, "
    "status, deadline, late, reporter, phone, report_date) "
    "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning submission_id")
RAW_COLUMNS = ("submission_id", "county_code", "year", "quarter", "form", "town_code", "indicator", "value",
               "source_file_sha256", "source_sheet", "source_cell", "value_prev_year", "prev_year_source_cell")
COPY_RAW = f"copy raw.report_values ({', '.join(RAW_COLUMNS)}) from stdin"


def after_builds(conn) -> None:
    """Every decision (accepted, refused at once or after its audit, a replaced version forgotten) waits, in
    its transaction, for a dbt invocation that is reading landing (core.dbt.BUILD_LOCK): a build sees the
    decisions committed before it started, never one made while it runs."""
    conn.execute("select pg_advisory_xact_lock_shared(hashtext(%s))", (BUILD_LOCK,))


def record_file(conn, archived: Path, sha: str, received_at: datetime) -> tuple | None:
    """Record the file (once); the first decided submission of these bytes (submission_id, received_at,
    county_code, year, quarter, version, status), or None. A pending submission of them is removed: an
    earlier attempt died between loading and deciding, it was never current, and the file starts over."""
    conn.execute(
        "insert into landing.files (file_sha256, size_bytes, archive_path, first_received_at) "
        "values (%s, %s, %s, %s) on conflict (file_sha256) do nothing",
        (sha, archived.stat().st_size, str(archived), received_at))
    first = None
    for row in conn.execute(
            "select submission_id, received_at, county_code, year, quarter, version, status "
            "from landing.submissions where file_sha256 = %s order by submission_id", (sha,)).fetchall():
        if row[6] == "pending":
            # an earlier attempt died between loading and deciding: it was never current; start over
            forget_submission(conn, row[0])
        else:
            first = row
    return first


def forget_submission(conn, sid: int) -> None:
    """Remove one submission's rows (values, findings, the submission) so that its file can be
    processed again. The file itself stays: its bytes in the archive, its row in `landing.files`.
    Call it inside the transaction that decides what replaces it."""
    for table in ("raw.report_values", "landing.findings", "landing.submissions"):
        conn.execute(f"delete from {table} where submission_id = %s", (sid,))  # table names are constants


def forget_replaced(conn, works: list[Work]) -> None:
    """The submissions the works' decisions replace (`ops reprocess`), removed in the deciding transaction:
    the old version is current until the new decision commits."""
    for w in works:
        if w.replaces is not None:
            forget_submission(conn, w.replaces)


def submission_params(w: Work, status: str) -> tuple:
    """The INSERT_SUBMISSION parameters of a work: its file, county, period, forms, lateness, footer."""
    r = w.report
    deadline = r.period.deadline if r.county_code and r.period else None
    late = None if deadline is None else w.received_at.astimezone(LOCAL_TZ).date() > deadline
    return (w.sha, w.name, w.received_at, r.county_code, r.period.year if r.period else None,
            r.period.quarter if r.period else None, r.forms, status, deadline, late,
            _short(r.metadata.get("reporter")), _short(r.metadata.get("phone")), r.metadata.get("report_date"))


def insert_submission(conn, w: Work, *, status: str) -> int:
    """One submission row; its submission_id."""
    return conn.execute(INSERT_SUBMISSION, submission_params(w, status)).fetchone()[0]


def insert_submissions(conn, works: list[Work], *, status: str) -> list[int]:
    """The submission rows of many works in one multi-row statement; their submission_ids, in order."""
    with conn.cursor() as cur:
        cur.executemany(INSERT_SUBMISSION, [submission_params(w, status) for w in works], returning=True)
        sids = []
        while True:
            sids.append(cur.fetchone()[0])
            if not cur.nextset():
                break
    return sids


def _short(value: object) -> str | None:
    return None if value is None else str(value)[:100]


def record_findings(conn, sid: int, findings: list[Finding]) -> None:
    """One submission's finding counts and findings."""
    conn.execute("update landing.submissions set errors = %s, warnings = %s where submission_id = %s",
                 (count(findings, ERROR), count(findings, WARNING), sid))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into landing.findings (submission_id, finding_no, severity, code, sheet, cell, town_code, "
            "indicator, message_zh, message_en) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(sid, i, f.severity, f.code, f.sheet, f.cell, f.town_code, f.indicator, f.message_zh, f.message_en)
             for i, f in enumerate(findings, start=1)])


def record_findings_of(conn, works: list[Work]) -> None:
    """Finding counts and findings of many submissions: one statement and one COPY."""
    with conn.cursor() as cur:
        cur.executemany("update landing.submissions set errors = %s, warnings = %s where submission_id = %s",
                        [(count(w.findings, ERROR), count(w.findings, WARNING), w.sid) for w in works])
        with cur.copy("copy landing.findings (submission_id, finding_no, severity, code, sheet, cell, town_code, "
                      "indicator, message_zh, message_en) from stdin") as copy:
            for w in works:
                for i, f in enumerate(w.findings, start=1):
                    copy.write_row((w.sid, i, f.severity, f.code, f.sheet, f.cell, f.town_code, f.indicator,
                                    f.message_zh, f.message_en))


def copy_rows(conn, loads: list[tuple[int, str, Report]]) -> None:
    """The values of (submission_id, file sha256, report)s in one COPY, in RAW_COLUMNS order; the
    county-reported 上年同期 (and its cell) rides on the current value's row."""
    with conn.cursor() as cur, cur.copy(COPY_RAW) as copy:
        for sid, sha, report in loads:
            county, year, quarter = report.county_code, report.period.year, report.period.quarter
            for v in report.values:
                copy.write_row((sid, county, year, quarter, v.form, v.town_code, v.indicator, v.value, sha,
                                v.sheet, v.cell, v.value_prev_year, v.prev_year_cell))


def refuse(conn, sids: list[int]) -> None:
    """Audited submissions refused: their values removed."""
    conn.execute("delete from raw.report_values where submission_id = any(%s)", (sids,))
    conn.execute("update landing.submissions set status = 'refused' where submission_id = any(%s)", (sids,))


def accept(conn, accepted: list[Work]) -> tuple[dict[int, int], dict[tuple, set[str]]]:
    """Accept the submissions and renumber the versions of their (county, period)s by receipt time;
    returns {submission_id: version} and the forms now present per (county, year, quarter)."""
    keys = sorted({(w.report.county_code, w.report.period.year, w.report.period.quarter) for w in accepted})
    counties, years, quarters = (list(k) for k in zip(*keys, strict=True))
    # serialise versions of one (county, period); the locks are taken in a fixed order (no deadlock)
    conn.execute("select pg_advisory_xact_lock(hashtext(k)) from unnest(%s::text[]) as k order by k",
                 ([f"{c}/{y}Q{q}" for c, y, q in keys],))
    sids = [w.sid for w in accepted]
    conn.execute("update landing.submissions set status = 'accepted', version = 1 where submission_id = any(%s)",
                 (sids,))  # provisional: the unique version constraint is checked at commit
    conn.execute(
        "update landing.submissions as s set version = r.rn "
        "from (select submission_id, row_number() over (partition by county_code, year, quarter "
        "                                               order by received_at, file_sha256) as rn "
        "      from landing.submissions "
        "      where status = 'accepted' and (county_code, year, quarter) in "
        "            (select * from unnest(%s::text[], %s::smallint[], %s::smallint[]))) as r "
        "where s.submission_id = r.submission_id and s.version is distinct from r.rn",
        (counties, years, quarters))
    versions = dict(conn.execute("select submission_id, version from landing.submissions "
                                 "where submission_id = any(%s)", (sids,)).fetchall())
    present = {(c, y, q): set(forms) for c, y, q, forms in conn.execute(
        "select s.county_code, s.year, s.quarter, array_agg(distinct f.form) "
        "from landing.submissions as s cross join lateral unnest(s.forms) as f(form) "
        "where s.status = 'accepted' and (s.county_code, s.year, s.quarter) in "
        "      (select * from unnest(%s::text[], %s::smallint[], %s::smallint[])) "
        "group by 1, 2, 3", (counties, years, quarters)).fetchall()}
    return versions, present
