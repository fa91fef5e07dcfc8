"""Run the DAGs on an operator's behalf, two ways:

- `test` (local, the default): in this process with `dag.test()`, against the Airflow
  of `core.airflow_env` (SQLite metadata under AIRFLOW_HOME), as `make demo` does;
  returns when the run is over, with its state.
- `trigger` (a running Airflow: `airflow standalone`, the compose stack): create the
  run with `airflow dags trigger` and let the scheduler and its workers run it;
  `wait=True` polls the metadata database until the run is over.

Params travel as the run's conf, validated against each DAG's params.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from core import airflow_env, config


@dataclass
class RunOutcome:
    dag_id: str
    run_id: str | None
    state: str
    seconds: float
    conf: dict


class RunFailed(RuntimeError):
    pass


def _airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def _env() -> dict[str, str]:
    env = {**airflow_env.airflow_env(), **os.environ}  # explicit settings (tests, compose) win over the defaults
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def migrate_metadata_db() -> None:
    """`airflow db migrate`, unless the local SQLite database exists already (migrating is idempotent, but slow)."""
    airflow_env.apply()
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if url.startswith("sqlite:///") and Path(url.removeprefix("sqlite:///")).exists():
        return
    subprocess.run([_airflow_bin(), "db", "migrate"], env=_env(), check=True, stdout=subprocess.DEVNULL)


def prepare() -> None:
    """Settings applied, metadata database migrated, and this process's Airflow using both."""
    migrate_metadata_db()
    _check_settings()


def _check_settings() -> None:
    """Airflow reads its settings once per process, at its first import: make sure that was after ours."""
    from airflow import settings

    wanted = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    actual = settings.SQL_ALCHEMY_CONN
    if wanted and actual and actual != wanted:
        import re

        def hide(url: str) -> str:
            return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)

        raise RunFailed(f"Airflow in this process uses {hide(actual)}, not {hide(wanted)}: it was imported "
                        "before core.airflow_env.apply() (apply it first)")


_BAG: list = []


def dagbag():
    """The project's DAGs, parsed once per process."""
    if not _BAG:
        airflow_env.apply()
        from airflow.dag_processing.dagbag import DagBag

        _check_settings()
        bag = DagBag(dag_folder=str(config.PROJECT_DIR / "dags"))
        if bag.import_errors:
            raise RunFailed(f"DAG import errors: {bag.import_errors}")
        _BAG.append(bag)
    return _BAG[0]


def run_test(dag_id: str, conf: dict | None = None, **kwargs) -> RunOutcome:
    """One run of `dag_id` in this process (dag.test); kwargs go to dag.test (e.g. logical_date)."""
    prepare()
    dag = dagbag().get_dag(dag_id)
    if dag is None:
        raise RunFailed(f"no such DAG: {dag_id}")
    start = time.monotonic()
    run = dag.test(run_conf=conf or None, **kwargs)
    state = str(getattr(run.state, "value", run.state))
    return RunOutcome(dag_id, run.run_id, state, time.monotonic() - start, conf or {})


def trigger(dag_id: str, conf: dict | None = None, *, wait: bool = False, timeout: float = 3600,
            poll: float = 2.0) -> RunOutcome:
    """Create a run for the scheduler (`airflow dags trigger`); with `wait`, poll until it is over."""
    start = time.monotonic()
    out = subprocess.run([_airflow_bin(), "dags", "trigger", dag_id, "--conf", json.dumps(conf or {}),
                          "--output", "json"], env=_env(), check=True, capture_output=True, text=True).stdout
    # the CLI logs to stdout too: the JSON is the line that is a list of objects
    rows = next((json.loads(line) for line in reversed(out.splitlines()) if line.startswith("[{")), [])
    if not rows:
        raise RunFailed(f"airflow dags trigger {dag_id}: no run created:\n{out[-2000:]}")
    run_id = rows[0].get("dag_run_id") or rows[0].get("run_id")
    state = "queued"
    if wait:
        state = wait_for_run(dag_id, run_id, timeout=timeout, poll=poll)
    return RunOutcome(dag_id, run_id, state, time.monotonic() - start, conf or {})


def run_state(dag_id: str, run_id: str) -> str | None:
    airflow_env.apply()
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.run_id == run_id).one_or_none()
        return str(getattr(run.state, "value", run.state)) if run else None


def wait_for_run(dag_id: str, run_id: str, *, timeout: float = 3600, poll: float = 2.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        state = run_state(dag_id, run_id)
        if state in ("success", "failed"):
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dag_id} {run_id} still {state} after {timeout:.0f} s")
        time.sleep(poll)


def run(dag_id: str, conf: dict | None = None, *, mode: str = "test", wait: bool = True,
        timeout: float = 3600) -> RunOutcome:
    if mode == "test":
        return run_test(dag_id, conf)
    if mode == "trigger":
        return trigger(dag_id, conf, wait=wait, timeout=timeout)
    raise ValueError(f"mode must be test or trigger, not {mode!r}")
