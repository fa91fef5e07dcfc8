"""The DAGs: they import cleanly, and the whole pipeline runs through Airflow (dag.test) on the samples."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import airflow_env, config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_IDS = {"county_reports", "warehouse_build", "nightly_publish", "quarterly_bulletin"}


@pytest.fixture(scope="module")
def airflow(runtime_dirs):
    """Airflow configured for this test run (SQLite metadata in the runtime folder), migrated."""
    airflow_env.apply()
    env = {**__import__("os").environ}
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(config.PROJECT_DIR / "dags"))


def test_dagbag_has_every_dag_and_no_import_errors(airflow):
    assert airflow.import_errors == {}
    assert set(airflow.dag_ids) == DAG_IDS
    for dag_id in DAG_IDS:
        dag = airflow.get_dag(dag_id)
        assert dag.catchup is False and dag.max_active_runs == 1
        assert all(t.retries >= 1 and t.execution_timeout for t in dag.tasks), dag_id


def test_dag_files_parse_fast():
    """Nothing heavy at import time: each DAG file parses in well under a second (measured in a fresh process)."""
    code = ("import time, runpy, sys; t = time.perf_counter(); runpy.run_path(sys.argv[1]); "
            "print(time.perf_counter() - t)")
    env = {**__import__("os").environ, **airflow_env.airflow_env()}
    # import airflow.sdk once first so that only the DAG file itself is timed
    for path in sorted((config.PROJECT_DIR / "dags").glob("*.py")):
        out = subprocess.run([sys.executable, "-c", "import airflow.sdk; " + code, str(path)], env=env,
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        assert float(out) < 1.0, (path.name, out)


def test_the_whole_pipeline_runs_through_airflow(airflow, warehouse, sample_dir, expected):
    inbox = config.inbox_dir()
    inbox.mkdir(parents=True, exist_ok=True)
    for e in expected:
        shutil.copy2(sample_dir / e["file"], inbox / e["file"])

    timings = {}
    for dag_id in ("county_reports", "warehouse_build", "nightly_publish", "quarterly_bulletin"):
        start = time.monotonic()
        run = airflow.get_dag(dag_id).test()
        timings[dag_id] = time.monotonic() - start
        assert str(getattr(run.state, "value", run.state)) == "success", dag_id
    print("DAG wall times (s):", {k: round(v, 1) for k, v in timings.items()})

    from core.warehouse import connect

    with connect() as conn:
        statuses = dict(conn.execute("select status, count(*) from landing.submissions group by 1").fetchall())
        assert statuses == {"accepted": sum(e["expected_status"] == "accepted" for e in expected),
                            "refused": sum(e["expected_status"] == "refused" for e in expected)}
        assert conn.execute("select count(*) from marts.town_quarter_indicators").fetchone()[0] > 1000
        progress = conn.execute("select count(*), count(*) filter (where status = 'red') "
                                "from marts.investment_progress").fetchone()
        assert progress[0] > 0
    assert list(inbox.iterdir()) == []  # every file received and taken out of the inbox

    from core.dbt import target_dir

    run_results = json.loads((target_dir() / "run_results.json").read_text())
    assert run_results["args"]["which"] == "build"
    assert {r["status"] for r in run_results["results"]} <= {"success", "pass"}
    assert sum(r["unique_id"].startswith("unit_test.") for r in run_results["results"]) >= 1

    for stage in ("raw", "warehouse"):
        assert json.loads((config.var_dir() / "quality" / f"{stage}.json").read_text())["success"]

    published = Path(config.publish_url().removeprefix("file://"))
    version = (published / "LATEST").read_text().strip()
    manifest = json.loads((published / "v" / version / "manifest.json").read_text())
    assert manifest["version"] == version
    for f in manifest["files"]:
        data = (published / "v" / version / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
    assert {f["dataset"] for f in manifest["files"]} >= {"town_quarter_indicators", "investment_progress"}
    assert len(manifest["submissions"]) == 56
    assert (published / "bulletin" / "2016Q4.html").exists()

    # the same files again: nothing changes, no new publication version
    for e in expected:
        shutil.copy2(sample_dir / e["file"], inbox / e["file"])
    for dag_id in ("county_reports", "nightly_publish"):
        run = airflow.get_dag(dag_id).test()
        assert str(getattr(run.state, "value", run.state)) == "success", dag_id
    assert (published / "LATEST").read_text().strip() == version
    assert len(list((published / "v").iterdir())) == 1
