"""`python -m publish`: the nightly publication and (later) the bulletin.

    python -m publish run [--url URL] [--json] [--partition-rows N] [--by-province]
    python -m publish bulletin [2016Q3] [--url URL] [--no-pdf]
    python -m publish diff [OLD [NEW]] [--url URL] [--json]   # what changed between two versions
    python -m publish marts [--json]   # switch the audited build of the marts in for BI tools (publish/marts.py)
"""

from __future__ import annotations

import argparse
import json
import sys


def cmd_run(args) -> int:
    from core import config
    from core.warehouse import connect
    from publish.stream import Limits
    from publish.wap import publish, read_latest

    url = args.url or config.publish_url()
    overrides = {"partition_rows": args.partition_rows} if args.partition_rows is not None else {}
    if args.by_province:
        overrides["by_province"] = True
    try:
        with connect() as conn:
            result = publish(url, conn, limits=Limits.from_env(**overrides))
    except OSError as exc:  # the target's disk or quota (the database's errors are not OSError)
        print(f"publish run: the publication could not be written, nothing was published ({exc})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.__dict__, ensure_ascii=False, indent=2, default=str))
    else:
        state = "new version" if result.created else "unchanged"
        print(f"publication {result.version} ({state}) at {url}")
        for f in result.files:
            print(f"  {f['name']}: {f['rows']} rows, {f['bytes']} bytes, sha256 {f['sha256'][:12]}…")
        for name, forms in (read_latest(url) or {}).get("skipped_forms", {}).items():
            for form, why in forms.items():
                print(f"  {name}: no {form} ({why['note_zh']} {why['note_en']})")
        if result.missing_datasets:
            print(f"  not yet built: {', '.join(result.missing_datasets)}")
    return 0


def cmd_bulletin(args) -> int:
    from publish.bulletin import render_bulletin_for

    result = render_bulletin_for(args.period, url=args.url, pdf=not args.no_pdf)
    if result["period"] is None:
        print("no period with accepted reports whose deadline has passed", file=sys.stderr)
        return 1
    for path in result["written"]:
        print(f"bulletin written: {path}")
    if result.get("unchanged"):
        print(f"bulletin unchanged: {result['unchanged']}")
    return 0


def cmd_diff(args) -> int:
    from core import config
    from publish.diff import describe, diff_versions

    try:
        result = diff_versions(args.url or config.publish_url(), args.old, args.new)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, default=str) if args.json else "\n".join(describe(result)))
    return 0


def cmd_marts(args) -> int:
    from publish.marts import MartsNotAudited, publish_marts

    try:
        result = publish_marts()
    except MartsNotAudited as e:
        print(e, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    elif result["switched"]:
        print(f"marts: build {result['build_id']} published (audit {result['gx_run_id']}; was "
              f"{result['previous_build_id']}) in {result['seconds']} s, {result['wal_bytes']} bytes of WAL")
    else:
        print(f"marts: {result['reason']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m publish")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="export the marts to a new publication version and switch LATEST to it")
    p.add_argument("--url", help="fsspec URL of the target (default: PUBLISH_URL or file://<project>/published)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--partition-rows", type=int, help="partition datasets above this many rows "
                   "(default: PUBLISH_PARTITION_ROWS or 1,000,000)")
    p.add_argument("--by-province", action="store_true", help="partition by province (first two digits of "
                   "county_code) too (default: PUBLISH_PARTITION_BY_PROVINCE)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("marts", help="switch the audited build of the marts (marts_build) in as marts, "
                       "where BI tools read")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_marts)
    p = sub.add_parser("bulletin", help="render the quarterly bulletin (HTML, and PDF where Chromium is installed)")
    p.add_argument("period", nargs="?", help="e.g. 2016Q3; default: the newest quarter whose deadline has passed")
    p.add_argument("--url", help="publication target (default: PUBLISH_URL)")
    p.add_argument("--no-pdf", action="store_true")
    p.set_defaults(func=cmd_bulletin)
    p = sub.add_parser("diff", help="what changed between two publication versions (default: previous vs LATEST)")
    p.add_argument("old", nargs="?", help="version (default: the one before LATEST)")
    p.add_argument("new", nargs="?", help="version (default: LATEST)")
    p.add_argument("--url", help="publication target (default: PUBLISH_URL)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_diff)
    args = parser.parse_args(argv)
    if getattr(args, "period", None):
        from core.periods import find_period

        if find_period(args.period) is None:
            parser.error(f"not a period: {args.period}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
