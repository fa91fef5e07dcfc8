"""dbt at scale: full refresh against "one more quarter", on the city sample and on an enlarged warehouse.

    python scripts/bench_dbt_scale.py load                    # scratch db <db>_dbtcity: the city sample ingested
    python scripts/bench_dbt_scale.py enlarge --factor 650 [--db dbtscale]   # <db>_dbtscale: 650 x the counties
    python scripts/bench_dbt_scale.py measure --db dbtcity|dbtscale [--json]

Until the scaled generator (`samplegen --scale province|nation`) lands, the large warehouse is
the city sample with its COUNTIES copied: copy k gives every county the new 6-digit code
county_code + 1000·k and every town the code with that county code substituted (CT-330421-01 ->
CT-331421-01), keeping years (shifting years would stretch the quarter spine). The registry seeds
(counties, towns, memberships, annual_tasks, decisions) get the same copies in a temporary copy
of the dbt project, which `measure` builds (the real project and its seeds are never touched).

`measure` holds back the last quarter's submissions (moved to schema bench), builds with
`--full-refresh`, puts the quarter back, builds incrementally (`dbt build`, what the pipeline runs
after a new quarter), then builds with `--full-refresh` again on the same data; it prints raw rows,
the seconds of each build, values/s of the full refresh, the ratio incremental / full and the
slowest nodes of each build (run_results.json execution_time).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from core.config import DBT_PROJECT_DIR

_VALUE_COLUMNS = ("county_code, year, quarter, form, town_code, indicator, value, source_sheet, source_cell, "
                  "value_prev_year, prev_year_source_cell")
_REGISTRY = {"counties.csv": ("county_code",), "towns.csv": ("town_code", "county_code", "admin_code"),
             "memberships.csv": ("town_code",), "annual_tasks.csv": ("town_code",),
             "decisions.csv": ("town_code", "decision_id")}


def _url(name: str) -> str:
    from core.warehouse import conn_params, warehouse_url, with_database

    base = warehouse_url()
    return with_database(base, f"{conn_params(base).dbname}_{name}")


def load() -> str:
    """The city sample, generated and submitted file by file, in a fresh scratch database."""
    from core.warehouse import connect, fresh_database
    from ingest.landing import ensure_schema, submit
    from samplegen import generate

    url = fresh_database("dbtcity")
    with connect(url, autocommit=True) as conn:
        ensure_schema(conn)
    os.environ["WAREHOUSE_URL"] = url
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TWOTOWNS_VAR_DIR"] = str(Path(tmp) / "var")
        for f in generate(Path(tmp) / "sample"):
            submit(f.path, write_feedback=False)
    return url


def enlarge(factor: int, name: str = "dbtscale") -> str:
    """<db>_<name>: a copy of <db>_dbtcity with factor-1 more copies of every county's history."""
    from psycopg import sql

    from core.warehouse import conn_params, connect, with_database

    url, city = _url(name), _url("dbtcity")
    with connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(conn_params(url).dbname)))
        conn.execute(sql.SQL("create database {} template {}").format(
            sql.Identifier(conn_params(url).dbname), sql.Identifier(conn_params(city).dbname)))
    with connect(url, autocommit=True) as conn, conn.transaction():
        # one set-based pass per table: copy k of submission s gets the file hash sha256(hash || '/k')
        conn.execute(
            "create temporary table _src as select s.submission_id as old, k, "
            "encode(sha256((s.file_sha256 || '/' || k)::bytea), 'hex') as new_sha "
            "from landing.submissions as s cross join generate_series(1, %s - 1) as k", (factor,))
        conn.execute(
            "insert into landing.files (file_sha256, size_bytes, archive_path, first_received_at) "
            "select _src.new_sha, f.size_bytes, f.archive_path, f.first_received_at from _src "
            "join landing.submissions as s on s.submission_id = _src.old join landing.files as f using (file_sha256)")
        conn.execute(
            "insert into landing.submissions (file_sha256, file_name, received_at, county_code, year, quarter, forms, "
            "  status, version, deadline, late, errors, warnings) "
            "select _src.new_sha, s.file_name || ' #' || _src.k, s.received_at, "
            "  (s.county_code::integer + 1000 * _src.k)::text, s.year, s.quarter, s.forms, s.status, s.version, "
            "  s.deadline, s.late, s.errors, s.warnings "
            "from _src join landing.submissions as s on s.submission_id = _src.old order by _src.k, _src.old")
        conn.execute("create temporary table _map as select _src.old, _src.k, s.submission_id as new from _src "
                     "join landing.submissions as s on s.file_sha256 = _src.new_sha")
        conn.execute(
            f"insert into raw.report_values (submission_id, source_file_sha256, {_VALUE_COLUMNS}) "
            "select m.new, encode(sha256((v.source_file_sha256 || '/' || m.k)::bytea), 'hex'), "
            "(v.county_code::integer + 1000 * m.k)::text, v.year, v.quarter, v.form, "
            "replace(v.town_code, v.county_code, (v.county_code::integer + 1000 * m.k)::text), v.indicator, v.value, "
            "v.source_sheet, v.source_cell, v.value_prev_year, v.prev_year_source_cell "
            "from raw.report_values v join _map m on m.old = v.submission_id order by m.k, m.new")
    with connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze raw.report_values")
        conn.execute("vacuum analyze landing.submissions")
    return url


def scaled_project(factor: int, dest: Path, source: Path = DBT_PROJECT_DIR) -> Path:
    """A copy of the dbt project `source` whose registry seeds carry the same county copies as `enlarge`."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    with (source / "seeds" / "towns.csv").open(encoding="utf-8", newline="") as fh:
        county_of = {r["town_code"]: r["county_code"] for r in csv.DictReader(fh)}
    for name, columns in _REGISTRY.items():
        path = dest / "seeds" / name
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            fields, rows = reader.fieldnames, list(reader)
        out = list(rows)
        for k in range(1, factor):
            for row in rows:
                new = dict(row)
                county = row.get("county_code") or county_of[row["town_code"]]
                shifted = str(int(county) + 1000 * k)
                for c in columns:
                    if c == "decision_id":
                        new[c] = f"{row[c]}-{k}"
                    elif new.get(c):
                        new[c] = new[c].replace(county, shifted)
                out.append(new)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(out)
    return dest


def _dbt(project: Path, url: str, args: list[str], label: str) -> dict:
    from dbt.cli.main import dbtRunner

    from core.dbt import dbt_env

    env = dbt_env(url)
    env.update({"DBT_PROJECT_DIR": str(project), "DBT_PROFILES_DIR": str(project)})
    os.environ.update(env)
    target = project.resolve() / f"target-{label}"
    t = time.monotonic()
    res = dbtRunner().invoke(["--quiet", *args, "--project-dir", str(project), "--profiles-dir", str(project),
                              "--target-path", str(target)])
    seconds = time.monotonic() - t
    results = json.loads((target / "run_results.json").read_text())["results"]
    failed = [r["unique_id"] for r in results if r["status"] not in ("success", "pass")]
    slow = sorted(results, key=lambda r: -r["execution_time"])[:12]
    by_type: dict[str, float] = {}
    for r in results:
        kind = r["unique_id"].split(".", 1)[0]
        by_type[kind] = round(by_type.get(kind, 0) + r["execution_time"], 1)
    return {"seconds": round(seconds, 1), "success": bool(res.success), "failed": failed[:10],
            "nodes": len(results), "node_seconds_by_type": by_type,
            "slowest": [(r["unique_id"].split(".", 2)[-1], round(r["execution_time"], 1)) for r in slow]}


def measure(db: str, factor: int, source: Path = DBT_PROJECT_DIR) -> dict:
    from core.warehouse import connect

    url = _url(db)
    with connect(url, autocommit=True) as conn:
        year, quarter = conn.execute("select year, quarter from landing.submissions where status = 'accepted' "
                                     "order by year desc, quarter desc limit 1").fetchone()
        raw_rows = conn.execute("select count(*) from raw.report_values").fetchone()[0]
        conn.execute("create schema if not exists bench")
        conn.execute("drop table if exists bench.held_submissions, bench.held_values, bench.held_findings")
        with conn.transaction():
            conn.execute("create table bench.held_submissions as select * from landing.submissions "
                         "where year = %s and quarter = %s", (year, quarter))
            conn.execute("create table bench.held_values as select v.* from raw.report_values v "
                         "join bench.held_submissions s using (submission_id)")
            conn.execute("create table bench.held_findings as select f.* from landing.findings f "
                         "join bench.held_submissions s using (submission_id)")
            conn.execute("delete from raw.report_values v using bench.held_submissions s "
                         "where v.submission_id = s.submission_id")
            conn.execute("delete from landing.findings f using bench.held_submissions s "
                         "where f.submission_id = s.submission_id")
            conn.execute("delete from landing.submissions where submission_id in "
                         "(select submission_id from bench.held_submissions)")
        held = conn.execute("select count(*) from bench.held_values").fetchone()[0]
    report: dict = {"db": db, "raw_rows": raw_rows, "held_back": f"{year}Q{quarter}", "held_rows": held}
    with tempfile.TemporaryDirectory() as tmp:
        project = scaled_project(factor, Path(tmp) / "dbt_project", source)
        report["full_refresh_before"] = _dbt(project, url, ["build", "--full-refresh"], "full1")
        with connect(url, autocommit=True) as conn, conn.transaction():
            conn.execute("insert into landing.submissions overriding system value select * from bench.held_submissions")
            conn.execute("insert into raw.report_values select * from bench.held_values")
            conn.execute("insert into landing.findings select * from bench.held_findings")
            conn.execute("drop schema bench cascade")
        with connect(url, autocommit=True) as conn:
            conn.execute("analyze raw.report_values")
            conn.execute("analyze landing.submissions")
        report["incremental"] = _dbt(project, url, ["build"], "incr")
        report["full_refresh"] = _dbt(project, url, ["build", "--full-refresh"], "full2")
    report["values_per_s_full_refresh"] = round(raw_rows / report["full_refresh"]["seconds"])
    report["ratio_incremental_to_full"] = round(report["incremental"]["seconds"] / report["full_refresh"]["seconds"], 3)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_dbt_scale.py")
    parser.add_argument("command", choices=["load", "enlarge", "measure"])
    parser.add_argument("--factor", type=int, default=100)
    parser.add_argument("--db", default="dbtscale")
    parser.add_argument("--project", type=Path, default=DBT_PROJECT_DIR,
                        help="the dbt project to measure (default: this checkout's dbt_project)")
    args = parser.parse_args(argv)
    if args.command == "load":
        print(load())
    elif args.command == "enlarge":
        print(enlarge(args.factor, args.db))
    else:
        factor = 1 if args.db == "dbtcity" else args.factor
        print(json.dumps(measure(args.db, factor, args.project), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
