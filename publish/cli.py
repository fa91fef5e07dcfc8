"""`python -m publish`: the nightly publication and (later) the bulletin.

    python -m publish run [--url URL] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys


def cmd_run(args) -> int:
    from core import config
    from core.warehouse import connect
    from publish.wap import publish

    url = args.url or config.publish_url()
    with connect() as conn:
        result = publish(url, conn)
    if args.json:
        print(json.dumps(result.__dict__, ensure_ascii=False, indent=2, default=str))
    else:
        state = "new version" if result.created else "unchanged"
        print(f"publication {result.version} ({state}) at {url}")
        for f in result.files:
            print(f"  {f['name']}: {f['rows']} rows, {f['bytes']} bytes, sha256 {f['sha256'][:12]}…")
        if result.missing_datasets:
            print(f"  not yet built: {', '.join(result.missing_datasets)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m publish")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="export the marts to a new publication version and switch LATEST to it")
    p.add_argument("--url", help="fsspec URL of the target (default: PUBLISH_URL or file://<project>/published)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
