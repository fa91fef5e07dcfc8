"""`make bench`: throughput numbers, side by side, on the sample reports.

- parse: every sample report as .xlsx, .xls and CSV forms, several rounds;
  data rows/s and values/s per format;
- load: the landing load step (submission row + COPY + decision, one
  transaction per report) against a bare COPY of the same rows, in one run,
  in a scratch database on the warehouse server (dropped afterwards).

Numbers depend on the machine; the ratios are what to compare between runs.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROUNDS = 5


def _rows(report) -> int:
    return len({(v.form, v.town_code) for v in report.values})


def bench_parse(sample: Path, expected: list[dict], work: Path) -> dict[str, dict]:
    from ingest.parse import parse_report
    from samplegen.formats import to_csv_forms, to_xls

    files: dict[str, list[Path]] = {"xlsx": [], "xls": [], "csv": []}
    for e in expected:
        src = sample / e["file"]
        files["xlsx"].append(src)
        files["xls"].append(to_xls(src, work / (src.stem + ".xls")))
        files["csv"].extend(to_csv_forms(src, work / "csv", encoding="gbk"))
    results = {}
    for fmt, paths in files.items():
        times, rows, values = [], 0, 0
        for _ in range(ROUNDS):
            start = time.perf_counter()
            reports = [parse_report(p) for p in paths]
            times.append(time.perf_counter() - start)
            rows = sum(_rows(r) for r in reports)
            values = sum(len(r.values) for r in reports)
        best = min(times)
        results[fmt] = {"files": len(paths), "rows": rows, "values": values, "best_s": best,
                        "median_s": statistics.median(times), "rows_per_s": rows / best,
                        "values_per_s": values / best}
    return results


def bench_load(sample: Path, expected: list[dict]) -> dict:
    from core.warehouse import connect, drop_database, fresh_database
    from ingest.landing import _copy_values, _insert_submission, _renumber_versions, ensure_schema
    from ingest.parse import parse_report

    url = fresh_database("bench")
    try:
        reports = [(e, parse_report(sample / e["file"])) for e in expected if e["expected_status"] == "accepted"]
        with connect(url, autocommit=True) as conn:
            ensure_schema(conn)
            sha = "0" * 64
            conn.execute("insert into landing.files values (%s, 0, '-', now())", (sha,))
            # landing load step, one transaction per report
            start = time.perf_counter()
            for i, (_, r) in enumerate(reports):
                fake_sha = f"{i:064x}"
                conn.execute("insert into landing.files values (%s, 0, '-', now()) on conflict do nothing",
                             (fake_sha,))
                with conn.transaction():
                    sid = _insert_submission(conn, fake_sha, "bench", datetime.now(UTC),
                                             r.county_code, r.period.year, r.period.quarter, r.forms, None, None,
                                             {}, status="pending")
                    _copy_values(conn, sid, fake_sha, r)
                    conn.execute("update landing.submissions set status = 'accepted', version = 1 "
                                 "where submission_id = %s", (sid,))
                    _renumber_versions(conn, r.county_code, r.period.year, r.period.quarter, sid)
            ours = time.perf_counter() - start
            n = sum(len(r.values) for _, r in reports)
            # bare COPY of the same rows into a table of the same shape, one COPY per report
            conn.execute("create table raw.bench_bare (like raw.report_values)")
            start = time.perf_counter()
            for _, r in reports:
                with conn.transaction(), conn.cursor() as cur, cur.copy(
                        "copy raw.bench_bare (submission_id, county_code, year, quarter, form, town_code, "
                        "indicator, value, source_file_sha256, source_sheet, source_cell) from stdin") as copy:
                    for v in r.values:
                        copy.write_row((1, r.county_code, r.period.year, r.period.quarter, v.form, v.town_code,
                                        v.indicator, v.value, sha, v.sheet, v.cell))
            bare = time.perf_counter() - start
    finally:
        drop_database(url)
    return {"reports": len(reports), "values": n, "landing_s": ours, "bare_copy_s": bare,
            "landing_values_per_s": n / ours, "bare_values_per_s": n / bare, "ratio": ours / bare}


def main() -> int:
    import json

    from samplegen import EXPECTED_FILE, generate

    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        sample = work / "sample"
        generate(sample)
        expected = json.loads((sample / EXPECTED_FILE).read_text(encoding="utf-8"))
        parse = bench_parse(sample, expected, work)
        load = bench_load(sample, expected)
    print(f"parse throughput (best of {ROUNDS} rounds, all sample reports):")
    for fmt, r in parse.items():
        print(f"  {fmt:5} {r['files']:3} files {r['rows']:5} rows {r['values']:6} values  "
              f"{r['best_s']:6.3f} s  {r['rows_per_s']:8.0f} rows/s  {r['values_per_s']:8.0f} values/s")
    xlsx = parse["xlsx"]["rows_per_s"]
    print("  relative to xlsx: " + ", ".join(f"{f} {r['rows_per_s'] / xlsx:.2f}x" for f, r in parse.items()))
    print(f"load ({load['reports']} reports, {load['values']} values, one transaction per report):")
    print(f"  landing load step  {load['landing_s']:6.3f} s  {load['landing_values_per_s']:8.0f} values/s")
    print(f"  bare COPY          {load['bare_copy_s']:6.3f} s  {load['bare_values_per_s']:8.0f} values/s")
    print(f"  landing / bare = {load['ratio']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
