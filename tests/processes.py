"""Real processes for the fault matrix and the concurrency tests: started with a fault point
(core.faults), waited for at a point or a condition, killed with their whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg

from core.faults import FAULT_AT, FAULT_DIR
from core.warehouse import connect


def start(args: list[str], fault: str | None, fault_dir: Path, *, env: dict | None = None,
          preexec_fn=None) -> subprocess.Popen:
    """`python -m <args>` in a session of its own (killed as a group), stopping at `fault` if given."""
    environment = {**os.environ, **(env or {})}
    if fault:
        environment.update({FAULT_AT: fault, FAULT_DIR: str(fault_dir)})
    fault_dir.mkdir(parents=True, exist_ok=True)
    stem = fault_dir / f"{args[0]}.{time.monotonic_ns()}"
    # output to files, not pipes: a chatty process (dbt) would block on a full pipe nobody reads
    with open(f"{stem}.out", "w") as out, open(f"{stem}.err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", *args], env=environment, stdout=out, stderr=err,
                                text=True, start_new_session=True, preexec_fn=preexec_fn)
    proc.output = (Path(f"{stem}.out"), Path(f"{stem}.err"))
    return proc


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[str, str]:
    """Wait for the process; its stdout and stderr."""
    proc.wait(timeout=timeout)
    return tuple(p.read_text(errors="replace") for p in proc.output)


def wait_for(proc: subprocess.Popen, reached, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not reached():
        if proc.poll() is not None:
            out, err = finish(proc)
            raise AssertionError(f"{proc.args} ended ({proc.returncode}) before {what}:\n{out[-2000:]}\n{err[-4000:]}")
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.05)


def stopped_at(args: list[str], fault: str, fault_dir: Path, **kwargs) -> subprocess.Popen:
    proc = start(args, fault, fault_dir, **kwargs)
    wait_for(proc, (fault_dir / f"{fault}.reached").exists, f"fault point {fault}")
    return proc


def sigkill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def backends_gone(url: str | None = None, timeout: float = 180) -> None:
    """Wait until no other session of the database is busy (a killed client's statement runs to its end,
    then PostgreSQL sees the connection gone and rolls its transaction back)."""
    deadline = time.monotonic() + timeout
    with connect(url, autocommit=True) as conn:
        while conn.execute("select count(*) from pg_stat_activity where datname = current_database() "
                           "and pid <> pg_backend_pid() and backend_type = 'client backend' "
                           "and state is distinct from 'idle'").fetchone()[0]:
            assert time.monotonic() < deadline, "a killed client's session is still busy"
            time.sleep(0.2)


DBT_POINT = "dbt.town_quarter_indicators"


@contextmanager
def dbt_build_held_at_town_facts(url: str | None, fault_dir: Path):
    """`python -m core.dbt build` in a process of its own, held at the fault point dbt.town_quarter_indicators
    (dbt_project/macros/fault_point.sql: town_quarter_indicators written in its open transaction, the
    models before it committed, those after it not built) while the block runs; the build goes on when it
    ends (or, killed meanwhile, its session sees the client gone and rolls back)."""
    key = f"twotowns fault point {DBT_POINT}"
    holder = connect(url, autocommit=True)
    holder.execute("select pg_advisory_lock(hashtext(%s))", (key,))
    try:
        proc = start(["core.dbt", "build"], DBT_POINT, fault_dir, env={"WAREHOUSE_URL": url} if url else None)
        wait_for(proc, lambda: holder.execute(
            "select exists (select 1 from pg_stat_activity where pid <> pg_backend_pid() and wait_event_type = "
            "'Lock' and query like %s)", (f"%{key}%",)).fetchone()[0], f"dbt at {DBT_POINT}")
        yield proc
    finally:
        try:
            holder.execute("select pg_advisory_unlock(hashtext(%s))", (key,))
            holder.close()
        except psycopg.Error:  # the server was stopped under it
            pass
