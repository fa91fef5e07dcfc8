"""The pipeline distributed: CeleryExecutor, two workers, Redis as the broker.

Everything runs on this machine, on loopback: Debian's redis-server on a free port
(started here), Airflow's metadata in its own PostgreSQL database on the warehouse's
server, an api-server (the execution API the workers' tasks talk to), a scheduler, a
dag-processor and two `airflow celery worker` processes with concurrency 1 each,
told apart by the host name they record on their task instances. One quarter's
reports go through county_reports; warehouse_build runs because the asset event
says so (with the quarter in its extra); the publication is started the way an
operator would (`python -m ops publish --trigger`). Every process is stopped at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from core import config
from core.warehouse import drop_database

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.distributed]

WORKERS = ("worker-a", "worker-b")
CYCLE_DAGS = ("county_reports", "warehouse_build", "nightly_publish")
QUARTER = "2015Q1"
TIMEOUT = 420  # seconds for the whole cycle once the stack is up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, procs: dict | None = None, poll: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for name, (proc, _) in (procs or {}).items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}) while waiting for {what}")
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _metadata_database(warehouse_url: str) -> str:
    """A fresh Airflow metadata database beside the test's own (so parallel test runs never share
    it); its SQLAlchemy URL."""
    from core.warehouse import fresh_database

    return fresh_database("airflow_meta", warehouse_url).replace("postgresql://", "postgresql+psycopg2://", 1)


def _query(meta_url: str, sql: str, params=()) -> list[tuple]:
    import psycopg

    parts = urlsplit(meta_url.replace("postgresql+psycopg2", "postgresql"))
    with psycopg.connect(urlunsplit(parts)) as conn:
        return conn.execute(sql, params).fetchall()


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@pytest.fixture
def stack(tmp_path, warehouse):
    """The distributed Airflow, up; yields (env, meta_url, processes); stops everything after."""
    redis = shutil.which("redis-server")
    if redis is None:
        pytest.fail("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    from cryptography.fernet import Fernet

    redis_port, api_port = _free_port(), _free_port()
    meta_url = _metadata_database(warehouse)
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(venv_bin), os.environ.get("PATH", "")]),
        "PYTHONPATH": str(config.PROJECT_DIR),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(config.PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "core.airflow_env.worker_hostname",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta_url.replace("postgresql+psycopg2", "postgresql"),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp_path / "airflow" / "logs"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "WAREHOUSE_URL": warehouse,
        "TWOTOWNS_VAR_DIR": str(tmp_path / "var"),
        "PUBLISH_URL": (tmp_path / "published").as_uri(),
        "DBT_TARGET_PATH": str(tmp_path / "dbt_target"),
        "DBT_LOG_PATH": str(tmp_path / "dbt_logs"),
    }
    env.pop("TWOTOWNS_WORKER_NAME", None)
    logs = tmp_path / "process-logs"
    logs.mkdir()
    procs: dict[str, tuple[subprocess.Popen, Path]] = {}

    def start(name: str, args: list[str], extra_env: dict | None = None):
        log = logs / f"{name}.log"
        procs[name] = (subprocess.Popen(args, env={**env, **(extra_env or {})}, stdout=open(log, "w"),
                                        stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True), log)

    started = time.monotonic()
    try:
        start("redis", [redis, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no",
                        "--dir", str(tmp_path)])
        migrate = subprocess.run([str(venv_bin / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True)
        assert migrate.returncode == 0, (migrate.stdout + migrate.stderr)[-3000:]
        airflow = str(venv_bin / "airflow")
        start("api-server", [airflow, "api-server", "--port", str(api_port), "--host", "127.0.0.1", "--workers", "1"])
        start("scheduler", [airflow, "scheduler", "--skip-serve-logs"])
        start("dag-processor", [airflow, "dag-processor"])
        for name in WORKERS:
            start(name, [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "1",
                         "--skip-serve-logs", "--without-gossip", "--without-mingle"],
                  {"TWOTOWNS_WORKER_NAME": name})
        # registered and serialized: what `dags unpause` and `dags trigger` read
        _wait(lambda: _query(meta_url, "select count(distinct d.dag_id) from dag d join serialized_dag s using (dag_id) "
                                       "where d.dag_id = any(%s)", (list(CYCLE_DAGS),))[0][0] == len(CYCLE_DAGS),
              240, "the dag-processor to register and serialize the DAGs", procs)
        _wait(lambda: _port_open(api_port), 120, "the api-server", procs)
        for name in WORKERS:
            _wait(lambda n=name: "ready" in (logs / f"{n}.log").read_text(errors="replace"), 120,
                  f"celery {name}", procs)
        print(f"\nstack up in {time.monotonic() - started:.0f} s", flush=True)
        yield env, meta_url, procs
    except BaseException:
        for name, (_, log) in procs.items():
            print(f"--- {name} ---\n{_tail(log)}")
        raise
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        drop_database(meta_url.replace("postgresql+psycopg2://", "postgresql://", 1))


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _airflow_cli(airflow: str, env: dict, args: list[str], done_already=lambda: False, attempts: int = 3) -> None:
    """An operator's CLI call against the running stack. Under load (the dag-processor writing the
    same rows, a slow start of the CLI) a call can fail once; it is tried again unless its effect
    (`done_already`) is there."""
    outputs = []
    for _ in range(attempts):
        if outputs and done_already():
            return
        done = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=180)
        if done.returncode == 0:
            return
        outputs.append((done.stdout + done.stderr)[-2000:])
        time.sleep(5)
    raise AssertionError(f"airflow {' '.join(args)} failed {attempts} times:\n" + "\n---\n".join(outputs))


def _runs(meta_url: str, dag_id: str) -> list[tuple]:
    return _query(meta_url, "select run_id, run_type, state, start_date, end_date from dag_run where dag_id = %s "
                            "order by id", (dag_id,))


def _finished(meta_url: str, dag_id: str, run_type: str | None = None):
    runs = [r for r in _runs(meta_url, dag_id) if run_type is None or r[1] == run_type]
    done = [r for r in runs if r[2] in ("success", "failed")]
    return done[-1] if done and len(done) == len(runs) else None


def test_one_quarter_runs_through_celery_on_two_workers(stack, sample_dir, expected):
    env, meta_url, procs = stack
    inbox = Path(env["TWOTOWNS_VAR_DIR"]) / "inbox"
    inbox.mkdir(parents=True)
    files = [e for e in expected if e["period"] == QUARTER]
    for e in files:
        shutil.copy2(sample_dir / e["file"], inbox / e["file"])

    start = time.monotonic()
    # no start_date: unpausing runs nothing by itself (the next tick is in the future)
    airflow = str(Path(sys.executable).parent / "airflow")
    _airflow_cli(airflow, env, ["dags", "unpause", "--treat-dag-id-as-regex", "--yes", f"^({'|'.join(CYCLE_DAGS)})$"])
    assert _query(meta_url, "select count(*) from dag where dag_id = any(%s) and not is_paused",
                  (list(CYCLE_DAGS),))[0][0] == len(CYCLE_DAGS)
    _airflow_cli(airflow, env, ["dags", "trigger", "county_reports"],
                 done_already=lambda: any(r[1] == "manual" for r in _runs(meta_url, "county_reports")))
    ingest = _wait(lambda: _finished(meta_url, "county_reports", "manual"), TIMEOUT, "county_reports", procs)
    assert ingest[2] == "success", _tail(procs["scheduler"][1])
    build = _wait(lambda: _finished(meta_url, "warehouse_build", "asset_triggered"), TIMEOUT,
                  "the asset-triggered warehouse_build", procs)
    assert build[2] == "success"
    # the operator's command, against the running scheduler
    cmd = subprocess.run([sys.executable, "-m", "ops", "publish", "--trigger", "--timeout", str(TIMEOUT), "--json"],
                         env=env, capture_output=True, text=True, cwd=config.PROJECT_DIR, timeout=TIMEOUT + 60)
    assert cmd.returncode == 0, cmd.stderr[-3000:]
    outcome = json.loads(cmd.stdout.strip().splitlines()[-1])[0]
    assert outcome["dag_id"] == "nightly_publish" and outcome["state"] == "success"
    publication = _finished(meta_url, "nightly_publish", "manual")
    assert publication[0] == outcome["run_id"] and publication[2] == "success"
    cycle = time.monotonic() - start

    # the quarter travelled in the asset event's extra, and on to the marts event
    extra = _query(meta_url, "select e.extra from asset_event e join asset a on a.id = e.asset_id "
                             "where a.name = 'raw_county_reports'")
    assert [x[0]["periods"] for x in extra] == [[QUARTER]]
    periods_xcom = _query(meta_url, "select value from xcom where dag_id = 'warehouse_build' and task_id = 'periods'")
    assert [json.loads(v[0]) if isinstance(v[0], str) else v[0] for v in periods_xcom] == [[QUARTER]]
    marts_extra = _query(meta_url, "select e.extra from asset_event e join asset a on a.id = e.asset_id "
                                   "where a.name = 'marts'")
    assert marts_extra[-1][0]["periods"] == [QUARTER]

    tis = _query(meta_url, "select dag_id, task_id, map_index, state, hostname from task_instance "
                           "where dag_id = any(%s)", (list(CYCLE_DAGS),))
    per_worker: dict[str, int] = {}
    for dag_id, task_id, map_index, state, hostname in tis:
        assert state in ("success", "skipped"), (dag_id, task_id, map_index, state)
        if state == "success":
            per_worker[hostname] = per_worker.get(hostname, 0) + 1
    assert set(per_worker) == set(WORKERS), per_worker
    # every file received by a mapped batch task (in whichever county_reports run found them: a scheduled
    # tick may come first), each exactly once
    batches = _query(meta_url, "select value from xcom where dag_id = 'county_reports' and "
                               "task_id = 'receive_batch' and map_index >= 0 and key = 'return_value'")
    received = [r["file_name"] for v in batches for r in (json.loads(v[0]) if isinstance(v[0], str) else v[0])
                if r["status"] in ("accepted", "refused")]
    assert sorted(received) == sorted(e["file"] for e in files)

    published = Path(env["PUBLISH_URL"].removeprefix("file://"))
    assert (published / "LATEST").read_text().strip()
    durations = {r[0].split("__")[0] + ":" + dag_id: round((r[4] - r[3]).total_seconds(), 1)
                 for dag_id in CYCLE_DAGS for r in _runs(meta_url, dag_id) if r[3] and r[4]}
    report = {"quarter": QUARTER, "files": len(files), "task_instances_per_worker": per_worker,
              "cycle_wall_seconds": round(cycle, 1), "run_seconds": durations}
    print("\ncelery cycle:", json.dumps(report), flush=True)
