"""Accounts, passwords (argon2id), login rate limiting and sessions.

A county account belongs to one county (several accounts per county); an office account reads every
county and changes nothing. There is no default password: `add` and `reset` generate a one-time
password (printed once) or take one from stdin.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core import registry

# login rate limiting: failures within the window, per account and per client address
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_LOGIN = 5
MAX_FAILURES_PER_CLIENT = 20
MIN_PASSWORD_LENGTH = 12
LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")

_hasher = PasswordHasher()  # argon2id, the library's defaults (RFC 9106 low-memory profile)
# verified against when the login does not exist, so that a wrong login costs what a wrong password does
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class Account:
    account_id: int
    login: str
    role: str
    county_code: str | None
    email: str | None
    disabled: bool

    @property
    def is_office(self) -> bool:
        return self.role == "office"

    def may_see(self, county_code: str | None) -> bool:
        """The office sees every county; a county account its own county only."""
        return self.is_office or (county_code is not None and county_code == self.county_code)


_COLUMNS = "account_id, login, role, county_code, email, disabled"


def generate_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, ~120 bits


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def add(conn, login: str, role: str, county_code: str | None, email: str | None, password: str) -> Account:
    if not LOGIN_PATTERN.match(login):
        raise AccountError("a login is 3-64 letters, digits or . _ @ -")
    if role not in ("county", "office"):
        raise AccountError("role: county or office")
    if role == "county" and county_code not in {c.code for c in registry.counties()}:
        raise AccountError(f"not a county of the registry: {county_code!r}")
    if role == "office":
        county_code = None
    _check_password(password)
    row = conn.execute(
        f"insert into portal.accounts (login, role, county_code, email, password_hash) values (%s, %s, %s, %s, %s) "
        f"on conflict (login) do nothing returning {_COLUMNS}",
        (login, role, county_code, email, _hasher.hash(password))).fetchone()
    if row is None:
        raise AccountError(f"the login {login!r} exists already (use reset)")
    return Account(*row)


def find(conn, login: str) -> Account | None:
    row = conn.execute(f"select {_COLUMNS} from portal.accounts where login = %s", (login,)).fetchone()
    return Account(*row) if row else None


def by_id(conn, account_id: int) -> Account | None:
    row = conn.execute(f"select {_COLUMNS} from portal.accounts where account_id = %s", (account_id,)).fetchone()
    return Account(*row) if row else None


def list_accounts(conn) -> list[Account]:
    return [Account(*r) for r in conn.execute(f"select {_COLUMNS} from portal.accounts order by login").fetchall()]


def set_disabled(conn, login: str, disabled: bool = True) -> None:
    """Disable (or enable) an account; its sessions end at once."""
    with conn.transaction():
        row = conn.execute("update portal.accounts set disabled = %s where login = %s returning account_id",
                           (disabled, login)).fetchone()
        if row is None:
            raise AccountError(f"no such login: {login!r}")
        conn.execute("delete from portal.sessions where account_id = %s", (row[0],))


def reset(conn, login: str, password: str) -> None:
    """A new password; the account's sessions end and its failed logins are forgotten."""
    _check_password(password)
    with conn.transaction():
        row = conn.execute("update portal.accounts set password_hash = %s, password_set_at = now() where login = %s "
                           "returning account_id", (_hasher.hash(password), login)).fetchone()
        if row is None:
            raise AccountError(f"no such login: {login!r}")
        conn.execute("delete from portal.sessions where account_id = %s", (row[0],))
        conn.execute("delete from portal.login_attempts where login = %s and not success", (login,))


def county_emails(conn, county_code: str) -> list[str]:
    """The county's registered addresses: those of its enabled accounts."""
    return [r[0] for r in conn.execute(
        "select distinct email from portal.accounts where county_code = %s and not disabled and email is not null "
        "and email <> '' order by 1", (county_code,)).fetchall()]


# ------------------------------------------------------------------ login

def throttled(conn, login: str, client: str) -> bool:
    """Too many failed logins lately for this login or from this client address."""
    since = datetime.now(UTC) - WINDOW
    by_login, by_client = conn.execute(
        "select count(*) filter (where login = %s), count(*) filter (where client = %s) "
        "from portal.login_attempts where not success and at > %s and (login = %s or client = %s)",
        (login, client, since, login, client)).fetchone()
    return by_login >= MAX_FAILURES_PER_LOGIN or by_client >= MAX_FAILURES_PER_CLIENT


def authenticate(conn, login: str, password: str, client: str) -> tuple[Account | None, str]:
    """(the account, "ok"), or (None, "throttled" | "invalid"). Every attempt is recorded."""
    login = login.strip()[:64]
    if throttled(conn, login, client):
        return None, "throttled"
    row = conn.execute(f"select {_COLUMNS}, password_hash from portal.accounts where login = %s",
                       (login,)).fetchone()
    try:
        ok = _hasher.verify(row[-1] if row else _DUMMY_HASH, password) and row is not None and not row[5]
    except (VerificationError, InvalidHashError):
        ok = False
    conn.execute("insert into portal.login_attempts (login, client, success) values (%s, %s, %s)",
                 (login, client, ok))
    if not ok:
        return None, "invalid"
    if _hasher.check_needs_rehash(row[-1]):
        conn.execute("update portal.accounts set password_hash = %s where account_id = %s",
                     (_hasher.hash(password), row[0]))
    return Account(*row[:-1]), "ok"


# ------------------------------------------------------------------ sessions

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn, account: Account, hours: int) -> str:
    """A new session; returns its token (the cookie value; only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    conn.execute("delete from portal.sessions where expires_at < now()")  # the expired ones of anybody
    conn.execute("delete from portal.login_attempts where at < now() - interval '90 days'")  # kept 90 days for audit
    conn.execute("insert into portal.sessions (token_hash, account_id, csrf_token, expires_at) values (%s, %s, %s, %s)",
                 (_token_hash(token), account.account_id, secrets.token_urlsafe(32),
                  datetime.now(UTC) + timedelta(hours=hours)))
    return token


def session(conn, token: str | None) -> tuple[Account, str] | None:
    """(account, CSRF token) of a live session of an enabled account, else None."""
    if not token:
        return None
    row = conn.execute(
        f"select {', '.join('a.' + c for c in _COLUMNS.split(', '))}, s.csrf_token from portal.sessions as s "
        "join portal.accounts as a using (account_id) "
        "where s.token_hash = %s and s.expires_at > now() and not a.disabled", (_token_hash(token),)).fetchone()
    return (Account(*row[:-1]), row[-1]) if row else None


def end_session(conn, token: str | None) -> None:
    if token:
        conn.execute("delete from portal.sessions where token_hash = %s", (_token_hash(token),))


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())
