"""Steps of `make bench` that run in a process of their own, so that their peak memory is theirs alone.

    python -m scripts.bench_steps intake    # county_reports over the inbox, under Airflow (dag.test)
    python -m scripts.bench_steps publish   # python -m publish run

Prints one JSON line: seconds (the step alone, not the interpreter start), peak_rss_mb, and what the step did.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def intake() -> dict:
    from ops.runs import run_test

    start = time.perf_counter()
    outcome = run_test("county_reports")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "state": outcome.state}


def publish() -> dict:
    from core import config
    from core.warehouse import connect
    from publish.wap import publish as publish_version

    start = time.perf_counter()
    with connect() as conn:
        result = publish_version(config.publish_url(), conn)
    seconds = time.perf_counter() - start
    rows = sum(f.get("rows") or 0 for f in result.files)
    return {"seconds": seconds, "version": result.version, "created": result.created, "rows": rows,
            "files": len(result.files)}


def main(argv: list[str]) -> int:
    steps = {"intake": intake, "publish": publish}
    if len(argv) != 1 or argv[0] not in steps:
        print(f"usage: python -m scripts.bench_steps {{{'|'.join(steps)}}}", file=sys.stderr)
        return 2
    out = steps[argv[0]]()
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
