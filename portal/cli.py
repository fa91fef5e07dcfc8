"""The portal's command line.

    python -m portal serve [--host 127.0.0.1] [--port 8000]
    python -m portal users add LOGIN --county 330424 [--email a@b] [--password-stdin]
    python -m portal users add LOGIN --office [--email a@b] [--password-stdin]
    python -m portal users disable LOGIN | enable LOGIN
    python -m portal users reset LOGIN [--password-stdin]
    python -m portal users list

No default password: `add` and `reset` print a generated one-time password, or read one from stdin.
Exit 0 done, 1 refused (e.g. the login exists), 2 usage or settings.
"""

from __future__ import annotations

import argparse
import sys

from portal import accounts


def _password(args) -> tuple[str, bool]:
    """(password, generated?)"""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return accounts.generate_password(), True


def cmd_serve(args) -> int:
    import uvicorn

    from portal.app import create_app
    from portal.settings import SettingsError, load

    try:
        settings = load()
    except SettingsError as exc:
        print(f"portal serve: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level,
                proxy_headers=True, server_header=False)
    return 0


def cmd_users(args) -> int:
    from portal.db import connection

    with connection() as conn:
        try:
            return _users(conn, args)
        except accounts.AccountError as exc:
            print(f"portal users {args.action}: {exc}", file=sys.stderr)
            return 1


def _users(conn, args) -> int:
    if args.action == "list":
        for a in accounts.list_accounts(conn):
            print(f"{a.login}\t{a.role}\t{a.county_code or '-'}\t{a.email or '-'}\t{'disabled' if a.disabled else 'active'}")
        return 0
    if args.action in ("disable", "enable"):
        accounts.set_disabled(conn, args.login, args.action == "disable")
        print(f"{args.login}: {args.action}d")
        return 0
    password, generated = _password(args)
    if args.action == "add":
        role = "office" if args.office else "county"
        if role == "county" and not args.county:
            print("portal users add: --county CODE or --office", file=sys.stderr)
            return 2
        accounts.add(conn, args.login, role, args.county, args.email, password)
    else:
        accounts.reset(conn, args.login, password)
    if generated:
        print(f"one-time password for {args.login}: {password}")
    else:
        print(f"{args.login}: password set")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal", description="The county portal.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the portal (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("users", help="manage accounts")
    users = p.add_subparsers(dest="action", required=True)
    for name in ("add", "reset"):
        u = users.add_parser(name)
        u.add_argument("login")
        u.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        if name == "add":
            u.add_argument("--county", help="the county code (a county account)")
            u.add_argument("--office", action="store_true", help="an office account (read-only, every county)")
            u.add_argument("--email", help="where receipts and reminders go")
    for name in ("disable", "enable"):
        users.add_parser(name).add_argument("login")
    users.add_parser("list")
    p.set_defaults(func=cmd_users)
    args = parser.parse_args(argv)
    return args.func(args)
