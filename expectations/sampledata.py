"""Copies of loaded sample data for the quality tests and the benchmark (never used by the pipeline).

- `pending_copy`: a new *pending* submission whose rows copy an accepted one's,
  exactly what ingest leaves for the submission audit; a test then injects
  one defect into the copy with plain SQL.
- `enlarge`: a scratch database with N copies of the sample history (years
  shifted by 2 per copy), for throughput measurements.
"""

from __future__ import annotations

import hashlib
import itertools

_counter = itertools.count(1)

_VALUE_COLUMNS = ("county_code, year, quarter, form, town_code, indicator, value, source_sheet, source_cell, "
                  "value_prev_year, prev_year_source_cell")


def submission_of(conn, county_code: str, year: int, quarter: int) -> int:
    """The current accepted submission of a county and period."""
    row = conn.execute("select submission_id from landing.submissions where status = 'accepted' and county_code = %s "
                       "and year = %s and quarter = %s order by version desc limit 1",
                       (county_code, year, quarter)).fetchone()
    if row is None:
        raise LookupError(f"no accepted submission of {county_code} {year}Q{quarter}")
    return row[0]


def pending_copy(conn, submission_id: int, *, forms: list[str] | None = None) -> int:
    """A pending submission (new fake file) with a copy of `submission_id`'s rows (of `forms` only, if given)."""
    sha = hashlib.sha256(f"pending-copy-{submission_id}-{next(_counter)}-{id(conn)}".encode()).hexdigest()
    with conn.transaction():
        conn.execute("insert into landing.files (file_sha256, size_bytes, archive_path, first_received_at) "
                     "values (%s, 0, 'test copy', now())", (sha,))
        new = conn.execute(
            "insert into landing.submissions (file_sha256, file_name, received_at, county_code, year, quarter, "
            "forms, status, deadline, late) "
            "select %s, 'copy of ' || file_name, now(), county_code, year, quarter, coalesce(%s, forms), 'pending', "
            "deadline, late from landing.submissions where submission_id = %s returning submission_id",
            (sha, forms, submission_id)).fetchone()[0]
        conn.execute(
            f"insert into raw.report_values (submission_id, source_file_sha256, {_VALUE_COLUMNS}) "
            f"select %s, %s, {_VALUE_COLUMNS} from raw.report_values where submission_id = %s "
            "and (%s::text[] is null or form = any(%s::text[]))",
            (new, sha, submission_id, forms, forms))
    return new


def discard(conn, submission_id: int) -> None:
    """Remove a pending copy completely."""
    with conn.transaction():
        sha = conn.execute("select file_sha256 from landing.submissions where submission_id = %s",
                           (submission_id,)).fetchone()[0]
        for table in ("raw.report_values", "landing.findings", "landing.submissions"):
            conn.execute(f"delete from {table} where submission_id = %s", (submission_id,))  # constant names
        conn.execute("delete from landing.files where file_sha256 = %s", (sha,))


def discard_many(conn, submission_ids: list[int]) -> None:
    """Remove many pending copies at once (the benchmark's batches)."""
    ids = [int(s) for s in submission_ids]
    with conn.transaction():
        shas = [r[0] for r in conn.execute("select file_sha256 from landing.submissions where submission_id = any(%s)",
                                           (ids,)).fetchall()]
        for table in ("raw.report_values", "landing.findings", "landing.submissions"):
            conn.execute(f"delete from {table} where submission_id = any(%s)", (ids,))  # constant names
        conn.execute("delete from landing.files where file_sha256 = any(%s)", (shas,))


def enlarge(conn, factor: int) -> int:
    """Append factor-1 copies of every submission and its rows, copy k shifted by 2k years; returns rows."""
    with conn.transaction():
        base = conn.execute("select min(year), max(year) from landing.submissions where year is not null").fetchone()
        span = base[1] - base[0] + 1
        for k in range(1, factor):
            shift = span * k
            conn.execute("create temporary table if not exists _map (old bigint, new bigint) on commit drop")
            conn.execute("truncate _map")
            conn.execute(
                "insert into landing.files (file_sha256, size_bytes, archive_path, first_received_at) "
                "select encode(sha256((f.file_sha256 || %s)::bytea), 'hex'), f.size_bytes, f.archive_path, "
                "f.first_received_at from landing.files as f join landing.submissions as s using (file_sha256) "
                "where s.year between %s and %s", (f"/{k}", base[0], base[1]))
            conn.execute(
                "with ins as (insert into landing.submissions (file_sha256, file_name, received_at, county_code, year, "
                "  quarter, forms, status, version, deadline, late, errors, warnings) "
                "  select encode(sha256((file_sha256 || %s)::bytea), 'hex'), file_name || %s, "
                "  received_at + make_interval(years => %s), county_code, year + %s, quarter, forms, status, version, "
                "  deadline + make_interval(years => %s), late, errors, warnings "
                "  from landing.submissions where year between %s and %s order by submission_id "
                "  returning submission_id, file_sha256) "
                "insert into _map select s.submission_id, ins.submission_id from ins join landing.submissions s "
                "on encode(sha256((s.file_sha256 || %s)::bytea), 'hex') = ins.file_sha256",
                (f"/{k}", f" #{k}", shift, shift, shift, base[0], base[1], f"/{k}"))
            conn.execute(
                f"insert into raw.report_values (submission_id, source_file_sha256, {_VALUE_COLUMNS}) "
                "select m.new, encode(sha256((v.source_file_sha256 || %s)::bytea), 'hex'), v.county_code, "
                "v.year + %s, v.quarter, v.form, v.town_code, v.indicator, v.value, v.source_sheet, v.source_cell, "
                "v.value_prev_year, v.prev_year_source_cell "
                "from raw.report_values v join _map m on m.old = v.submission_id",
                (f"/{k}", shift))
    conn.execute("analyze raw.report_values")
    conn.execute("analyze landing.submissions")
    return conn.execute("select count(*) from raw.report_values").fetchone()[0]


def enlarge_marts(conn, factor: int) -> int:
    """Append factor-1 copies of every mart row that has a year, shifted like `enlarge` shifts the history
    (lineage hashes and dates follow), so that the warehouse audit can be measured on a large warehouse
    without rebuilding it; returns the rows of the marts. The marts of the build (marts_build), which the
    warehouse audit reads (core.marts)."""
    from psycopg import sql

    from core.marts import BUILD

    schema = sql.Identifier(BUILD)

    with conn.transaction():
        base = conn.execute(sql.SQL("select min(year), max(year) from {}.submissions").format(schema)).fetchone()
        span = base[1] - base[0] + 1
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.columns where table_schema = %s and column_name = 'year' "
            "order by 1", (BUILD,)).fetchall()]
        for table in tables:
            columns = [r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
                "order by ordinal_position", (BUILD, table)).fetchall()]
            shift = sql.SQL("({} * k)").format(sql.Literal(span))
            exprs = []
            for c in columns:
                col = sql.Identifier(c)
                if c == "year":
                    exprs.append(sql.SQL("{} + {}").format(col, shift))
                elif c in ("file_sha256", "source_file_sha256"):
                    exprs.append(sql.SQL("encode(sha256(({} || '/' || k)::bytea), 'hex')").format(col))
                elif c in ("received_at", "deadline"):
                    exprs.append(sql.SQL("({} + make_interval(years => {}))::{}").format(
                        col, shift, sql.SQL("date" if c == "deadline" else "timestamptz")))
                else:
                    exprs.append(col)
            conn.execute(sql.SQL("insert into {s}.{t} ({cols}) select {exprs} from {s}.{t} "
                                 "cross join generate_series(1, {n}) as k where {year} between {lo} and {hi}").format(
                s=schema, t=sql.Identifier(table), cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
                exprs=sql.SQL(", ").join(exprs), n=sql.Literal(factor - 1), year=sql.Identifier("year"),
                lo=sql.Literal(base[0]), hi=sql.Literal(base[1])))
    total = 0
    for (table,) in conn.execute("select table_name from information_schema.tables where table_schema = %s",
                                 (BUILD,)).fetchall():
        conn.execute(sql.SQL("analyze {}.{}").format(schema, sql.Identifier(table)))
        total += conn.execute(sql.SQL("select count(*) from {}.{}").format(schema, sql.Identifier(table))).fetchone()[0]
    return total
