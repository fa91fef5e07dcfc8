"""The warehouse connection: `WAREHOUSE_URL` if set, else an embedded PostgreSQL.

The embedded server uses the PostgreSQL binaries shipped by the `pgserver`
package, keeps its data under `<project>/.warehouse/` (git-ignored), listens on
127.0.0.1 only and requires a password (random, generated at first start, kept
in a 0600 file). It survives the process that started it, so the demo, the
tests, dbt and Airflow tasks all share one server; `make warehouse-down` stops it.

PostgreSQL refuses to run as root; when we are root the server runs as the
unprivileged system user `pgserver` (created on demand, as pgserver does).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from core.config import PROJECT_DIR

DATABASE = "twotowns"
OWNER_ROLE = "twotowns"
SYSTEM_USER = "pgserver"


def embedded_dir() -> Path:
    return Path(os.environ.get("TWOTOWNS_WAREHOUSE_DIR", PROJECT_DIR / ".warehouse"))


@dataclass(frozen=True)
class ConnParams:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    def libpq(self) -> dict[str, str | int]:
        return {"host": self.host, "port": self.port, "user": self.user,
                "password": self.password, "dbname": self.dbname}


def warehouse_url() -> str:
    """The warehouse URL (postgresql://...), starting the embedded server if needed."""
    url = os.environ.get("WAREHOUSE_URL")
    if url:
        return url
    return ensure_embedded()


def conn_params(url: str | None = None) -> ConnParams:
    parts = urlsplit(url or warehouse_url())
    if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError("WAREHOUSE_URL must be a postgresql:// URL")
    return ConnParams(
        host=parts.hostname or "localhost",
        port=parts.port or 5432,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        dbname=(parts.path or "/").lstrip("/") or "postgres",
    )


def sqlalchemy_url(url: str | None = None) -> str:
    """The same URL with the psycopg 3 driver named, for SQLAlchemy and GX."""
    url = url or warehouse_url()
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if "+" not in scheme else url


def connect(url: str | None = None, **kwargs):
    """A psycopg 3 connection to the warehouse."""
    import psycopg

    return psycopg.connect(**conn_params(url).libpq(), **kwargs)


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


def fresh_database(suffix: str, base_url: str | None = None) -> str:
    """An empty database `<name>_<suffix>` on the warehouse's server (dropped first if it
    exists): for tests, benchmarks and scratch builds. Returns its URL."""
    from psycopg import sql

    base = base_url or warehouse_url()
    dbname = f"{conn_params(base).dbname}_{suffix}"
    with connect(with_database(base, "postgres"), autocommit=True) as conn:
        _drop(conn, dbname)
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    return with_database(base, dbname)


def _drop(conn, dbname: str) -> None:
    """DROP DATABASE, closing its connections. WITH (FORCE) refuses when a superuser's process is in it (an
    autovacuum worker analysing a table just loaded): then our own connections are closed and a plain DROP,
    which stops autovacuum workers itself, is retried while anything else is still leaving."""
    import psycopg
    from psycopg import sql

    try:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname)))
        return
    except psycopg.errors.InsufficientPrivilege:
        pass
    for _ in range(60):
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                     "where datname = %s and usename = current_user and pid <> pg_backend_pid()", (dbname,))
        try:
            conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(dbname)))
            return
        except psycopg.errors.ObjectInUse:
            time.sleep(1)
    conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(dbname)))  # the error, if any


def drop_database(url: str) -> None:
    """Drop a database made by fresh_database(), and the BI reader role dbt made for it."""
    from psycopg import sql

    dbname = conn_params(url).dbname
    with connect(with_database(url, "postgres"), autocommit=True) as conn:
        _drop(conn, dbname)
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(f"{dbname}_bi_reader")))


# --------------------------------------------------------------------------- embedded server

def _pgserver():
    """Import pgserver quietly (it warns about XDG_RUNTIME_DIR at import)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
        import pgserver.utils
    return pgserver


@functools.cache
def _bin_dir() -> Path:
    """The folder of pgserver's PostgreSQL programs, as its `pg_config --bindir` says (pgserver's public
    command functions: one per program it ships)."""
    return Path(_pgserver().pg_config(["--bindir"]).strip())


def _bin(name: str) -> Path:
    return _bin_dir() / name


def client_binary(name: str) -> str:
    """A PostgreSQL client program (pg_dump, pg_restore): pgserver's, of the embedded server's version,
    else the one on PATH."""
    import shutil

    try:
        path = _bin(name)
        if path.exists():
            return str(path)
    except (ImportError, OSError, subprocess.CalledProcessError):
        pass
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found (pgserver's binaries or PATH)")
    return found


class EmbeddedServerError(RuntimeError):
    pass


def _run_as_pg(args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    user = SYSTEM_USER if os.geteuid() == 0 else None
    result = subprocess.run(args, capture_output=True, text=True, user=user)
    if check and result.returncode != 0:
        raise EmbeddedServerError(
            f"{Path(args[0]).name} failed (exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
    return result


def _prepare_root_permissions(pgdata: Path) -> None:
    """As root: make the binaries and the data folder usable by the `pgserver` user."""
    import stat

    pgserver = _pgserver()
    POSTGRES_BIN_PATH = _bin_dir()
    ensure_folder_permissions = pgserver.utils.ensure_folder_permissions
    ensure_prefix_permissions = pgserver.utils.ensure_prefix_permissions
    entry = pgserver.utils.ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


@contextlib.contextmanager
def _lock(home: Path):
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _is_running(pgdata: Path) -> bool:
    if not (pgdata / "postmaster.pid").exists():
        return False
    return _run_as_pg([str(_bin("pg_ctl")), "-D", str(pgdata), "status"], check=False).returncode == 0


def _init_cluster(home: Path, pgdata: Path) -> None:
    pgdata.mkdir(parents=True, exist_ok=True)
    pgdata.chmod(0o700)
    if os.geteuid() == 0:
        _prepare_root_permissions(pgdata)
    superuser_pw = secrets.token_urlsafe(24)
    _write_secret(home / "superuser.password", superuser_pw)
    # initdb reads the password from a file the server user can read; remove it at once.
    pwfile = home / "initdb.pwfile"
    _write_secret(pwfile, superuser_pw + "\n")
    if os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    try:
        _run_as_pg([str(_bin("initdb")), "-D", str(pgdata), "-U", "postgres",
                    "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8",
                    "--locale=C.UTF-8", "--no-sync"])
    finally:
        pwfile.unlink(missing_ok=True)
    with open(pgdata / "postgresql.conf", "a") as conf:
        conf.write("\n# two-towns embedded warehouse\n"
                   "listen_addresses = '127.0.0.1'\n"
                   "unix_socket_directories = ''\n"
                   "fsync = on\n"
                   "max_connections = 100\n"
                   "timezone = 'UTC'\n")


# Settings of an analytical warehouse on one machine, given at every start (so an existing cluster gets them
# too). PostgreSQL's defaults are sized for a small OLTP server: with work_mem 4 MB the full-refresh joins of
# int_report_values_yoy over 11 M values (nation scale, issue 13) spill to disk in batches (333 s); with room
# for the hash tables in memory they do not. 256 MB x hash_mem_multiplier 4 bounds one hash node at 1 GB per
# process (dbt runs 2 threads, each query up to 2 parallel workers); small queries never take it.
# max_wal_size keeps a bulk load or a full refresh from checkpointing every few seconds.
SERVER_SETTINGS = {
    # the test session keeps a prepared GX checkpoint (its engine's pooled connections) per database and seeds
    # version, and each DAG run its own sessions: 100 was reached in a full `make test`
    "max_connections": "300",
    "shared_buffers": "1GB",
    "work_mem": "256MB",
    "hash_mem_multiplier": "4",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    "effective_cache_size": "12GB",
    # a single-node warehouse whose tables dbt rebuilds: a table created and filled in one transaction
    # (every dbt model) is written once, not a second time into the WAL (no replica reads it here). The
    # 10.9 M rows of fct_town_quarter_indicators at nation scale: 40.8 s -> 24.3 s
    "wal_level": "minimal",
    "max_wal_senders": "0",
}


def _start(home: Path, pgdata: Path) -> int:
    port_file = home / "port"
    port = int(port_file.read_text()) if port_file.exists() else 0
    if not port or _port_open(port):
        port = _free_port()
    port_file.write_text(str(port))
    log = pgdata / "server.log"
    options = " ".join([f"-p {port}", *(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())])
    _run_as_pg([str(_bin("pg_ctl")), "-D", str(pgdata), "-w", "-t", "60", "-l", str(log),
                "-o", options, "start"])
    return port


def _bootstrap_database(home: Path, port: int) -> str:
    """Create the owner role and database once; return the owner's URL."""
    import psycopg

    url_file = home / "url"
    if url_file.exists():
        return url_file.read_text().strip()
    superuser_pw = (home / "superuser.password").read_text().strip()
    owner_pw = secrets.token_urlsafe(24)
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", password=superuser_pw,
                         dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (OWNER_ROLE,)).fetchone()
        if not exists:
            # CREATEROLE: the project creates its own least-privilege roles; CREATEDB: tests
            # and scratch builds get databases of their own.
            conn.execute(f'create role "{OWNER_ROLE}" login createrole createdb')
        # A password is a literal in DDL; it never comes from outside (generated above).
        conn.execute(f"alter role \"{OWNER_ROLE}\" password '{owner_pw}'")
        if not conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone():
            conn.execute(f'create database "{DATABASE}" owner "{OWNER_ROLE}" encoding \'UTF8\'')
    url = f"postgresql://{OWNER_ROLE}:{quote(owner_pw, safe='')}@127.0.0.1:{{port}}/{DATABASE}"
    _write_secret(url_file, url)
    return url


def ensure_embedded() -> str:
    """Start (initialising on first use) the embedded server; return its URL."""
    home = embedded_dir()
    pgdata = home / "pgdata"
    with _lock(home):
        if not (pgdata / "PG_VERSION").exists():
            _init_cluster(home, pgdata)
        if not _is_running(pgdata):
            _start(home, pgdata)
        port = int((home / "port").read_text())
        template = _bootstrap_database(home, port)
    return template.replace("{port}", str(port))


def stop_embedded(mode: str = "fast") -> bool:
    """Stop the embedded server if it runs; True if it was running. `mode` is pg_ctl's: "fast" (roll back
    the sessions, checkpoint), or "immediate" (a crash: the next start recovers from the WAL)."""
    if mode not in ("smart", "fast", "immediate"):
        raise ValueError(f"pg_ctl stop mode {mode!r}")
    home = embedded_dir()
    pgdata = home / "pgdata"
    with _lock(home):
        if not (pgdata / "postmaster.pid").exists():
            return False
        # asked to stop whenever a postmaster.pid is there (a `pg_ctl status` beforehand was seen to answer
        # "not running" for a running server under load: the stop was then skipped, the server kept running)
        stopped = _run_as_pg([str(_bin("pg_ctl")), "-D", str(pgdata), "-w", "-m", mode, "stop"], check=False)
        if stopped.returncode != 0:
            if _is_running(pgdata):
                raise EmbeddedServerError(f"pg_ctl stop failed (exit {stopped.returncode}): "
                                          f"{stopped.stderr.strip() or stopped.stdout.strip()}")
            return False
        for _ in range(50):
            if not _is_running(pgdata):
                break
            time.sleep(0.1)
    return True


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m core.warehouse",
                                     description="Start or stop the embedded warehouse.")
    parser.add_argument("action", choices=["up", "down", "url", "status"])
    args = parser.parse_args(argv)
    if args.action == "up":
        url = warehouse_url()
        p = conn_params(url)
        print(f"warehouse up: postgresql://{p.user}@{p.host}:{p.port}/{p.dbname}")
    elif args.action == "down":
        print("warehouse stopped" if stop_embedded() else "warehouse was not running")
    elif args.action == "url":
        print(warehouse_url())
    else:
        running = _is_running(embedded_dir() / "pgdata")
        print("running" if running else "stopped")
        return 0 if running else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
