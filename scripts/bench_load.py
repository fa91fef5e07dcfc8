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

from ingest.landing import RAW_COLUMNS


def _fake_sha(i: int) -> str:
    return f"{i:064x}"


def _works(conn, reports: list, first: int) -> list:
    """The reports as the intake holds them after parsing (landing.Work), their files recorded."""
    from pathlib import Path

    from ingest.landing import Work

    now = datetime.now(UTC)
    works = [Work(Path(f"bench-{first + i}.xlsx"), f"bench-{first + i}.xlsx", now, sha=_fake_sha(first + i),
                  report=r, findings=list(r.findings)) for i, r in enumerate(reports)]
    with conn.cursor() as cur:
        cur.executemany("insert into landing.files (file_sha256, size_bytes, archive_path, first_received_at) "
                        "values (%s, 0, '-', %s)", [(w.sha, now) for w in works])
    return works


def landing_load(conn, reports: list) -> list:
    """The project's landing load of one wave: pending submissions with ONE COPY, then the decision."""
    from ingest.landing import decide_wave, load_wave

    works = _works(conn, reports, 1)
    t = time.perf_counter()
    load_wave(conn, works)
    decide_wave(conn, works)
    return works, time.perf_counter() - t


def bare_copy(conn, reports: list) -> None:
    conn.execute("create table bench_bare as select * from raw.report_values with no data")
    columns = ", ".join(RAW_COLUMNS)
    with conn.transaction(), conn.cursor() as cur, cur.copy(f"copy bench_bare ({columns}) from stdin") as copy:
        for i, r in enumerate(reports):
            p = r.period
            for v in r.values:
                copy.write_row((i + 1, r.county_code, p.year, p.quarter, v.form, v.town_code, v.indicator, v.value,
                                _fake_sha(i + 1), v.sheet, v.cell, v.value_prev_year, v.prev_year_cell))


def to_sql(url: str, reports: list) -> None:
    import pandas as pd
    import sqlalchemy

    from core.warehouse import sqlalchemy_url

    frame = pd.DataFrame([(i + 1, r.county_code, r.period.year, r.period.quarter, v.form, v.town_code, v.indicator,
                           v.value, _fake_sha(i + 1), v.sheet, v.cell, v.value_prev_year, v.prev_year_cell)
                          for i, r in enumerate(reports) for v in r.values], columns=list(RAW_COLUMNS))
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
            _, landing_s = landing_load(conn, reports)
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
    """The quarter's reports as pending submissions beside the history, audited in one call, then removed."""
    from core.warehouse import connect
    from expectations.fragments import ensure_registry
    from expectations.submission import prepared_for
    from ingest.audit import audit_batch
    from ingest.landing import forget_submission, load_wave

    prepared_for(url)  # the checkpoint is set up once per process (the intake pays it once per batch)
    with connect(url, autocommit=True) as conn:
        ensure_registry(conn)  # and the registry snapshot once per version of the seeds (not per audit)
        works = _works(conn, reports, 10**12)
        load_wave(conn, works)
        try:
            t = time.perf_counter()
            findings = audit_batch(conn, [w.sid for w in works])
            audit_s = time.perf_counter() - t
        finally:
            with conn.transaction():
                for w in works:
                    forget_submission(conn, w.sid)
                conn.execute("delete from landing.files where file_sha256 = any(%s)", ([w.sha for w in works],))
    return {"audit_submissions": len(works), "audit_values": sum(len(r.values) for r in reports),
            "audit_s": round(audit_s, 3), "audit_findings": sum(len(f) for f in findings.values())}
