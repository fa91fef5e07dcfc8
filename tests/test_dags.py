"""The DAGs: they import cleanly and fast, they are wired by assets, and the whole pipeline runs
through Airflow (dag.test) on the samples, one quarter's cycle timed; the operator's commands
(`python -m ops`) run the same DAGs and change nothing when nothing changed."""

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

DAG_IDS = {"county_reports", "warehouse_build", "nightly_publish", "quarterly_bulletin", "deadline_reminders"}
LAST = "2016Q4"  # the quarter whose cycle is timed


@pytest.fixture(scope="module")
def expected(expected_through_2016):
    """This module loads the reports of 2015-2016 only (tests/conftest.py: expected_through_2016)."""
    return expected_through_2016


@pytest.fixture(scope="module")
def airflow(runtime_dirs):
    """Airflow configured for this test run (SQLite metadata in the runtime folder), migrated."""
    from ops.runs import dagbag, prepare

    prepare()
    return dagbag()


def _state(run) -> str:
    return str(getattr(run.state, "value", run.state))


def test_dagbag_has_every_dag_and_no_import_errors(airflow):
    assert airflow.import_errors == {}
    assert set(airflow.dag_ids) == DAG_IDS
    for dag_id in DAG_IDS:
        dag = airflow.get_dag(dag_id)
        assert dag.catchup is False and dag.max_active_runs == 1
        for t in dag.tasks:
            assert t.retries >= 1 and t.execution_timeout, (dag_id, t.task_id)
            assert t.on_failure_callback, (dag_id, t.task_id)


def test_assets_connect_ingest_to_the_warehouse_to_the_publication(airflow):
    from core.assets import MARTS, PUBLICATION, RAW_REPORTS

    def outlets(dag_id):
        return {a.name for t in airflow.get_dag(dag_id).tasks for a in t.outlets}

    def inlets(dag_id):
        return {a.name for t in airflow.get_dag(dag_id).tasks for a in t.inlets}

    assert outlets("county_reports") == {RAW_REPORTS.name}
    assert [a.name for a in airflow.get_dag("warehouse_build").timetable.asset_condition.objects] == [RAW_REPORTS.name]
    assert outlets("warehouse_build") == {MARTS.name}
    assert inlets("nightly_publish") == {MARTS.name} and outlets("nightly_publish") == {PUBLICATION.name}
    assert inlets("quarterly_bulletin") == {PUBLICATION.name}
    receive = airflow.get_dag("county_reports").get_task("receive_batch")
    # batches of whole counties run side by side; the order inside a county is kept within its batch
    assert receive.max_active_tis_per_dag is None and receive.pool == "default_pool"


HEAVY = ("great_expectations", "dbt", "cosmos", "pandas", "pyarrow", "psycopg", "openpyxl", "python_calamine",
         "xlrd", "fsspec", "s3fs")


def test_dag_files_parse_fast():
    """Nothing heavy at import time: a DAG file, parsed in a fresh process after `import airflow.sdk`
    (what the dag-processor has loaded already), imports none of the heavy libraries (they are
    imported inside the tasks) and parses in well under a second. Best of three; the times are printed."""
    times = {}
    for path in sorted((config.PROJECT_DIR / "dags").glob("*.py")):
        parsed = airflow_env.dag_file_parse(path)
        heavy = sorted(set(parsed["imported"]) & set(HEAVY))
        assert not heavy, f"{path.name} imports {heavy} at parse time"
        times[path.name] = parsed["seconds"]
    print("\nDAG file parse times (s):", {k: round(v, 3) for k, v in times.items()})
    assert all(t < 1.0 for t in times.values()), times


def test_the_cosmos_alternative_renders_every_dbt_node(airflow, warehouse):
    """The comparison behind "one dbt build task" (make bench-dbt-airflow) stays runnable: Cosmos
    renders the project from the manifest, one build task (with its tests and unit tests) per
    model, seed and snapshot, wired as dbt's graph; the single-task DAG is one task. Rendered in
    a process of its own: Cosmos is only on the comparison's path, never on the platform's."""
    from core.dbt import run_dbt, target_dir

    assert run_dbt(["parse"], quiet=True).success
    manifest = json.loads((target_dir() / "manifest.json").read_text())
    nodes = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] in ("model", "seed", "snapshot")}
    done = subprocess.run([sys.executable, "-m", "scripts.bench_dbt_airflow", "--render"], capture_output=True,
                          text=True, cwd=config.PROJECT_DIR, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rendered = json.loads(done.stdout.strip().splitlines()[-1])

    def task_id(node: dict) -> str:
        return f"dbt.{node['name']}_{node['resource_type']}_build"

    assert list(rendered["dbt_single_task"]) == ["dbt_build"]
    cosmos = rendered["dbt_cosmos"]
    assert set(cosmos) == {task_id(n) for n in nodes.values()}
    for node in nodes.values():
        task = cosmos[task_id(node)]
        assert task["operator"] == "DbtBuildLocalOperator"
        parents = {task_id(nodes[p]) for p in node.get("depends_on", {}).get("nodes", []) if p in nodes}
        assert parents <= set(task["upstream"]), (node["name"], parents - set(task["upstream"]))
    import importlib.util

    assert importlib.util.find_spec("cosmos") is None  # not in the platform's environment


def _xcom(run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id,
                                                 key="return_value")).scalars().first()
        return XComModel.deserialize_value(row)


def _copy(files, sample_dir, inbox):
    inbox.mkdir(parents=True, exist_ok=True)
    for e in files:
        shutil.copy2(sample_dir / e["file"], inbox / e["file"])


def test_the_whole_pipeline_runs_through_airflow(airflow, warehouse, sample_dir, expected):
    inbox = config.inbox_dir()
    # the history first: every quarter before the last one
    _copy([e for e in expected if e["period"] != LAST], sample_dir, inbox)
    run = airflow.get_dag("county_reports").test()
    assert _state(run) == "success"

    # one quarter's cycle, timed: the last quarter's reports arrive; ingest -> quality -> dbt -> publish
    _copy([e for e in expected if e["period"] == LAST], sample_dir, inbox)
    timings = {}
    start = time.monotonic()
    run = airflow.get_dag("county_reports").test()
    timings["county_reports"] = time.monotonic() - start
    assert _state(run) == "success"
    announced = _xcom(run, "announce")  # what the asset event's extra carries
    assert announced["periods"] == [LAST]
    for dag_id, conf in (("warehouse_build", {"periods": announced["periods"]}), ("nightly_publish", None),
                         ("quarterly_bulletin", {"period": LAST})):
        t = time.monotonic()
        run = airflow.get_dag(dag_id).test(run_conf=conf)
        timings[dag_id] = time.monotonic() - t
        assert _state(run) == "success", dag_id
    timings["cycle"] = time.monotonic() - start
    print(f"\none quarter's cycle ({LAST}) through Airflow, wall time (s):",
          {k: round(v, 1) for k, v in timings.items()})

    from core.warehouse import connect

    with connect() as conn:
        statuses = dict(conn.execute("select status, count(*) from landing.submissions group by 1").fetchall())
        assert statuses == {"accepted": sum(e["expected_status"] == "accepted" for e in expected),
                            "refused": sum(e["expected_status"] == "refused" for e in expected)}
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
    assert len(manifest["submissions"]) == 56
    assert (published / "bulletin" / f"{LAST}.html").exists()

    # the reminders after the deadline: every county reported 2016Q4 on time
    run = airflow.get_dag("deadline_reminders").test(run_conf={"period": LAST})
    assert _state(run) == "success"
    status = json.loads((config.var_dir() / "deadlines" / f"{LAST}.json").read_text())
    assert set(status["by_status"]) == {"on_time"}

    # the same files again: nothing changes, no new publication version
    _copy(expected, sample_dir, inbox)
    for dag_id in ("county_reports", "nightly_publish"):
        run = airflow.get_dag(dag_id).test()
        assert _state(run) == "success", dag_id
    assert (published / "LATEST").read_text().strip() == version
    assert len(list((published / "v").iterdir())) == 1


def test_operations_commands_run_the_dags_and_change_nothing_when_nothing_changed(airflow, warehouse, capsys):
    """`python -m ops backfill` (each quarter's bulletin) and `publish`, through dag.test, after the
    pipeline above: the same warehouse gives the same publication, no new version."""
    from ops.cli import main

    published = Path(config.publish_url().removeprefix("file://"))
    version = (published / "LATEST").read_text().strip()
    q3 = published / "bulletin" / "2016Q3.html"
    q3.unlink(missing_ok=True)

    start = time.monotonic()
    assert main(["backfill", "--from", "2016Q3", "--to", LAST, "--json"]) == 0
    outcomes = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [(o["dag_id"], o["state"], o["conf"]) for o in outcomes] == [
        ("quarterly_bulletin", "success", {"period": "2016Q3"}), ("quarterly_bulletin", "success", {"period": LAST})]
    assert q3.exists()
    assert main(["publish"]) == 0
    print(f"\nops backfill + publish: {time.monotonic() - start:.1f} s")
    assert (published / "LATEST").read_text().strip() == version
    assert len(list((published / "v").iterdir())) == 1
