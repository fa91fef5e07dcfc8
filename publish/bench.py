"""Publication at scale: an enlarged marts in a scratch database, published by `python -m publish run`
in a child process whose wall time and peak RSS are measured; then the GX publication audit of that
version (`python -m expectations run --stage publication`), measured the same way.

    python -m publish.bench [--rows 5000000] [--by-province] [--no-audit] [--keep] [--json]

`bench_publish()` is what scripts/bench.py calls. `build_enlarged_marts()` makes the marts (also used by
tests/test_publish_scale.py): generate_series rows shaped like the published datasets, deterministic
(every value a function of the row's position), so that the same arguments give the same bytes.
Nothing here is a test: numbers depend on the machine; the tests check layout and bytes instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

YEARS = (2015, 2024)
INDICATORS = 12  # indicators reported per town and quarter, as many as the reporting catalogue
TOWNS_PER_COUNTY = 14

MARTS_DDL = """
drop schema if exists marts cascade;
create schema marts;
create table marts.town_quarter_indicators (
    year integer, quarter integer, county_code text, town_code text, programme text, tier text,
    indicator text, unit text, value_ytd numeric(20, 6), value_ytd_prev_year numeric(20, 6),
    growth_pct numeric(20, 6), reported_growth_pct numeric(20, 6), source_file_sha256 text,
    source_sheet text, source_cell text);
create table marts.towns (town_code text, county_code text, name_zh text, programme text, tier text,
    list_name text, valid_from date, valid_to date, status text);
create table marts.submissions (county_code text, year integer, quarter integer, version integer,
    received_at timestamptz, deadline date, late boolean, status text, errors integer, warnings integer,
    file_sha256 text);
"""

# town t (0-based) lies in county t / TOWNS_PER_COUNTY; county k in province 11 + k % provinces
TOWNS_SQL = """
insert into marts.towns
select 'CT-' || c.code || '-' || lpad((t %% %(per)s::int + 1)::text, 3, '0'), c.code,
       case when t = 1 then '=HYPERLINK("http://example.com")' else '小镇' || t end,
       case when t %% 3 = 0 then 'pilot' else 'characteristic' end,
       (array['provincial_creation', 'provincial_cultivation', 'municipal', 'county'])[t %% 4 + 1],
       '第' || (t %% 3 + 1) || '批', date '2015-01-01' + (t %% 365), null, 'active'
from generate_series(0, %(towns)s::int - 1) as t,
     lateral (select lpad((11 + (t / %(per)s::int) %% %(provinces)s::int)::text, 2, '0')
                     || lpad(((t / %(per)s::int) / %(provinces)s::int + 1)::text, 4, '0') as code) as c
"""

VALUES_SQL = """
insert into marts.town_quarter_indicators
select y, q, w.county_code, w.town_code, w.programme, w.tier, 'ind_' || lpad(i::text, 2, '0'),
       case when i %% 4 = 0 then '人' else '万元' end,
       ((h.n %% 10000000) / 100.0)::numeric(20, 6),
       case when y > %(first)s::int then ((h.n %% 9000000) / 100.0)::numeric(20, 6) end,
       ((h.n %% 4001) / 100.0 - 20)::numeric(20, 6), null,
       md5(w.county_code || y || q), 'LZ-1 特色小镇', 'C' || (i + 4)
from marts.towns as w, generate_series(%(first)s::int, %(last)s::int) as y, generate_series(1, 4) as q,
     generate_series(1, %(indicators)s::int) as i,
     lateral (select abs(hashtext(w.town_code || y || q || i))::bigint as n) as h
"""

SUBMISSIONS_SQL = """
insert into marts.submissions
select c.county_code, y, q, 1, make_timestamptz(y, q * 3, 28, 9, 0, 0, 'Asia/Shanghai'),
       make_date(y + (q = 4)::int, q * 3 %% 12 + 1, 10), false, 'accepted', 0, 0, md5(c.county_code || y || q)
from (select distinct county_code from marts.towns) as c, generate_series(%(first)s::int, %(last)s::int) as y,
     generate_series(1, 4) as q
"""


def build_enlarged_marts(conn, *, towns: int, provinces: int = 3, years: tuple[int, int] = YEARS,
                         indicators: int = INDICATORS) -> dict[str, int]:
    """marts.towns, marts.town_quarter_indicators (towns x years x 4 quarters x indicators rows) and
    marts.submissions in the database of `conn` (replacing its schema marts); rows per table."""
    params = {"towns": towns, "per": TOWNS_PER_COUNTY, "provinces": provinces, "first": years[0],
              "last": years[1], "indicators": indicators}
    with conn.transaction():
        conn.execute(MARTS_DDL)
        for statement in (TOWNS_SQL, VALUES_SQL, SUBMISSIONS_SQL):
            conn.execute(statement, params)
    conn.execute("analyze marts.town_quarter_indicators")
    from core.datasets import count_rows

    return {t: count_rows(conn, t) for t in ("towns", "town_quarter_indicators", "submissions")}


def _run_child(args: list[str], env: dict) -> dict:
    """Run a child Python module; its wall time, CPU time (user + system: less sensitive than wall time
    to a shared machine; PostgreSQL's own work is not in it) and peak RSS (the children's ru_maxrss)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB on Linux; the largest child so far
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(peak_kb / 1024),
            "stdout": proc.stdout,
            "returncode": proc.returncode}


def bench_publish(rows: int = 5_000_000, *, by_province: bool = False, audit: bool = True, keep: bool = False,
                  provinces: int = 3) -> dict:
    """Publish an enlarged marts of about `rows` indicator rows with `python -m publish run`: rows/s,
    peak RSS, files and bytes; then (audit=True) the GX publication audit of it. The scratch database
    (`<warehouse>_bench_publish`) and the target folder are removed unless keep=True."""
    from core.warehouse import connect, drop_database, fresh_database

    towns = max(1, math.ceil(rows / ((YEARS[1] - YEARS[0] + 1) * 4 * INDICATORS)))
    url = fresh_database("bench_publish")
    target = Path(tempfile.mkdtemp(prefix="twotowns-bench-publish-"))
    try:
        with connect(url, autocommit=True) as conn:
            start = time.perf_counter()
            counts = build_enlarged_marts(conn, towns=towns, provinces=provinces)
            build_seconds = round(time.perf_counter() - start, 1)
        env = {**os.environ, "WAREHOUSE_URL": url, "PUBLISH_URL": target.as_uri(),
               "PUBLISH_PARTITION_BY_PROVINCE": "true" if by_province else "false"}
        run = _run_child(["publish", "run", "--json"], env)
        result = json.loads(run.pop("stdout"))
        total = sum(counts.values())
        out = {"marts_rows": counts, "build_seconds": build_seconds, "publish": {
            **run, "rows_per_s": round(total / run["seconds"]),
            "rows_per_cpu_s": round(total / max(run["cpu_seconds"], 0.01)), "files": len(result["files"]),
            "bytes": sum(f["bytes"] for f in result["files"]),
            "partitions": sum(1 for f in result["files"] if f.get("partition"))}}
        if audit:
            check = _run_child(["expectations", "run", "--stage", "publication", "--json"], env)
            doc = json.loads(check.pop("stdout") or "{}")
            out["gx_audit"] = {**check, "success": doc.get("success"), "suites": len(doc.get("suites") or [])}
        return out
    finally:
        if not keep:
            drop_database(url)
            import shutil

            shutil.rmtree(target, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m publish.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="indicator rows of the enlarged marts")
    parser.add_argument("--provinces", type=int, default=3)
    parser.add_argument("--by-province", action="store_true", help="partition by province too")
    parser.add_argument("--no-audit", action="store_true", help="skip the GX publication audit")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and the target folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = bench_publish(args.rows, by_province=args.by_province, audit=not args.no_audit, keep=args.keep,
                        provinces=args.provinces)
    print(json.dumps(out, ensure_ascii=False, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
