"""The load and audit stages of `make bench`, on the quarter's parsed reports.

- `compare`: the landing load of the reports (pending submissions + COPY + the accept decision, as the intake
  does it) against a bare COPY of the same rows into a table of the same shape without indexes or constraints
  (the floor), and against pandas `DataFrame.to_sql` with its default method (the common peer), each into an
  empty table of a scratch database `<warehouse>_benchload` (dropped afterwards).
- `audit_pending`: the quarter's reports loaded as pending submissions into the bench warehouse (which holds the
  history), then the GX submission audit over all of them in one call; the pending rows are removed afterwards.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

RAW_COLUMNS = ("submission_id", "county_code", "year", "quarter", "form", "town_code", "indicator", "value",
               "source_file_sha256", "source_sheet", "source_cell", "value_prev_year", "prev_year_source_cell")


def _rows(sid: int, sha: str, report) -> list[tuple]:
    p = report.period
    return [(sid, report.county_code, p.year, p.quarter, v.form, v.town_code, v.indicator, v.value, sha, v.sheet,
             v.cell, v.value_prev_year, v.prev_year_cell) for v in report.values]


def _fake_sha(i: int) -> str:
    return f"{i:064x}"


def landing_load(conn, reports: list) -> list[int]:
    """The project's landing load: the reports as pending submissions (COPY), then accepted with versions."""
    from ingest.landing import load_pending, decide_batch

    sids = load_pending(conn, [(_fake_sha(i + 1), f"bench-{i}.xlsx", datetime.now(UTC), r)
                               for i, r in enumerate(reports)])
    decide_batch(conn, [(sid, r, []) for sid, r in zip(sids, reports, strict=True)])
    return sids


def bare_copy(conn, reports: list) -> None:
    conn.execute("create table bench_bare as select * from raw.report_values with no data")
    columns = ", ".join(RAW_COLUMNS)
    with conn.transaction(), conn.cursor() as cur, cur.copy(f"copy bench_bare ({columns}) from stdin") as copy:
        for i, r in enumerate(reports):
            for row in _rows(i + 1, _fake_sha(i + 1), r):
                copy.write_row(row)


def to_sql(url: str, reports: list) -> None:
    import pandas as pd
    import sqlalchemy

    from core.warehouse import sqlalchemy_url

    frame = pd.DataFrame([row for i, r in enumerate(reports) for row in _rows(i + 1, _fake_sha(i + 1), r)],
                         columns=list(RAW_COLUMNS))
    engine = sqlalchemy.create_engine(sqlalchemy_url(url))
    try:
        frame.to_sql("bench_to_sql", engine, index=False)
    finally:
        engine.dispose()


def compare(reports: list) -> dict:
    from core.warehouse import connect, drop_database, fresh_database
    from ingest.landing import ensure_schema

    url = fresh_database("benchload")
    try:
        with connect(url, autocommit=True) as conn:
            ensure_schema(conn)
            t = time.perf_counter()
            landing_load(conn, reports)
            landing_s = time.perf_counter() - t
            t = time.perf_counter()
            bare_copy(conn, reports)
            bare_s = time.perf_counter() - t
        t = time.perf_counter()
        to_sql(url, reports)
        to_sql_s = time.perf_counter() - t
    finally:
        drop_database(url)
    values = sum(len(r.values) for r in reports)
    return {"load_reports": len(reports), "load_values": values, "landing_s": round(landing_s, 3),
            "bare_copy_s": round(bare_s, 3), "to_sql_s": round(to_sql_s, 3)}


def audit_pending(url: str, reports: list) -> dict:
    from core.warehouse import connect
    from expectations.submission import audit_batch, prepared_for
    from ingest.landing import forget_submission, load_pending

    prepared_for(url)  # the checkpoint is set up once per process (the intake pays it once per batch)
    with connect(url, autocommit=True) as conn:
        base = conn.execute("select coalesce(max(submission_id), 0) from landing.submissions").fetchone()[0]
        sids = load_pending(conn, [(_fake_sha(10**9 + base + i), f"bench-audit-{i}.xlsx", datetime.now(UTC), r)
                                   for i, r in enumerate(reports)])
        try:
            t = time.perf_counter()
            findings = audit_batch(conn, sids)
            audit_s = time.perf_counter() - t
        finally:
            with conn.transaction():
                for sid in sids:
                    forget_submission(conn, sid)
                conn.execute("delete from landing.files where file_sha256 like '0000%' and size_bytes = 0")
    return {"audit_submissions": len(sids), "audit_values": sum(len(r.values) for r in reports),
            "audit_s": round(audit_s, 3), "audit_findings": sum(len(f) for f in findings.values())}
