"""`python -m portal.bench`: the receipt latency of the check, upload to the page with the findings.

Serves the portal as its own process on a scratch database of the warehouse's server (dropped after),
logs in as a county clerk and uploads a typical report (a sample county's quarter, with one error, so
that the page lists findings) over HTTP: POST /upload, then GET of the check page it redirects to.
The floor, measured in the same run on the same file: the bare `ingest.parse.parse_report`. Median of
RUNS uploads after one warm-up. Prints `BENCH portal_check_seconds <s> s` and
`BENCH portal_parse_floor_seconds <s> s` (goal of issue 17: ≤ 2 s).
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5
PASSWORD = "bench-clerk-password-1"


def _cookies(response) -> dict[str, str]:
    return {c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0] for c in response.headers.get_list("set-cookie")}


def _header(cookies: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in(client, base: str) -> dict[str, str]:
    """A session (Secure cookies are not sent by httpx over http: the Cookie header is set by hand)."""
    page = client.get(f"{base}/login")
    r = client.post(f"{base}/login", data={"login": "bench", "password": PASSWORD, "csrf_token": _csrf(page.text)},
                    headers=_header(_cookies(page)))
    assert r.status_code == 303, r.text
    return _cookies(r)


def check_once(client, base: str, cookies: dict[str, str], name: str, data: bytes) -> float:
    token = _csrf(client.get(f"{base}/county/330424", headers=_header(cookies)).text)  # the page the clerk is on
    start = time.perf_counter()
    r = client.post(f"{base}/upload", data={"csrf_token": token}, headers=_header(cookies),
                    files=[("files", (name, data, "application/octet-stream"))])
    page = client.get(base + r.headers["location"], headers=_header(cookies))
    elapsed = time.perf_counter() - start
    assert page.status_code == 200 and "value.parent" in page.text, page.text[:500]
    return elapsed


def parse_floor(path: Path, name: str) -> float:
    from ingest.parse import parse_report

    times = []
    for _ in range(RUNS + 1):
        start = time.perf_counter()
        parse_report(path, name)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> int:
    import httpx

    from core.warehouse import drop_database, fresh_database
    from ingest.landing import ensure_schema
    from portal import accounts
    from portal.db import connection
    from portal.devserver import REFUSED_DEFECT, free_port, sample_report, start_server

    url = fresh_database("portal_bench")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "WAREHOUSE_URL": url, "TWOTOWNS_VAR_DIR": tmp, "TWOTOWNS_PORTAL_SECRET_KEY": "c" * 48,
               "TWOTOWNS_PORTAL_INTAKE": "inline"}
        os.environ.update({"WAREHOUSE_URL": url, "TWOTOWNS_VAR_DIR": tmp})
        name = "海盐县2016年一季度两镇季报.xlsx"
        data = sample_report("330424", 2016, 1, REFUSED_DEFECT)
        path = Path(tmp) / "report.xlsx"
        path.write_bytes(data)
        with connection() as conn:
            ensure_schema(conn)
            accounts.add(conn, "bench", "county", "330424", None, PASSWORD)
        port = free_port()
        proc = start_server(env, port, Path(tmp) / "server.log")
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(timeout=60, follow_redirects=False) as client:
                cookies = log_in(client, base)
                check_once(client, base, cookies, name, data)  # warm-up: imports, registry caches
                times = [check_once(client, base, cookies, name, data) for _ in range(RUNS)]
            floor = parse_floor(path, name)
        finally:
            proc.terminate()
            proc.wait(30)
            drop_database(url)
    check = statistics.median(times)
    print(f"portal check: {len(data):,} bytes, median of {RUNS}: {check:.3f} s (runs {', '.join(f'{t:.3f}' for t in times)}); "
          f"bare parse {floor:.3f} s; ratio {check / floor:.1f}")
    print(f"BENCH portal_check_seconds {check:.3f} s")
    print(f"BENCH portal_parse_floor_seconds {floor:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
