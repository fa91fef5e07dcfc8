"""`make bench-dbt-airflow`: the dbt project in Airflow, one `dbt build` task against Cosmos.

On the sample reports, in a scratch database on the warehouse server (dropped after):
the reports are landed, `dbt parse` writes the manifest, then both DAGs of
scripts/dbt_in_airflow/ are parsed (fresh process, best of three) and run with
`dag.test()` on the same warehouse state:

    one task (warm-up: creates every relation) -> Cosmos -> one task (measured)

Prints tasks, parse time and run time of each and the ratios; `--json` prints one object.
This is the measurement behind the choice in README.md, "dbt in Airflow". ~6-8 minutes.

`--render` only renders both DAGs from the manifest in DBT_TARGET_PATH and prints their
tasks and upstream tasks as JSON (tests/test_dags.py checks them against the manifest).
Cosmos comes from .venv/bench-libs (see scripts/dbt_in_airflow/__init__.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from scripts.dbt_in_airflow import DAG_DIR, use_cosmos

FILES = {"dbt_single_task": DAG_DIR / "dbt_single_task.py", "dbt_cosmos": DAG_DIR / "dbt_cosmos.py"}


def _land_samples(work: Path) -> int:
    """The sample reports, oldest receipt first (as the inbox takes them); how many were accepted."""
    from ingest.landing import submit
    from samplegen import generate

    files = sorted(generate(work / "sample"), key=lambda f: f.received_at)
    return sum(submit(f.path, write_feedback=False).status == "accepted" for f in files)


def _run(bag, dag_id: str, log) -> dict:
    dag = bag.get_dag(dag_id)
    start = time.perf_counter()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        run = dag.test()
    seconds = time.perf_counter() - start
    state = str(getattr(run.state, "value", run.state))
    if state != "success":
        raise SystemExit(f"{dag_id} ended {state}: see {log.name}")
    return {"tasks": len(dag.tasks), "run_s": round(seconds, 1)}


def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_DIR))
    if bag.import_errors:
        raise SystemExit(f"import errors: {bag.import_errors}")
    return bag


def render() -> dict[str, dict[str, dict]]:
    """Both DAGs as rendered: {dag_id: {task_id: {"operator": class name, "upstream": [task ids]}}}."""
    from core import airflow_env

    airflow_env.apply()
    bag = _dagbag()
    return {dag_id: {t.task_id: {"operator": type(t).__name__, "upstream": sorted(t.upstream_task_ids)}
                     for t in bag.get_dag(dag_id).tasks} for dag_id in FILES}


def measure(work: Path) -> dict:
    os.environ.update({
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_DIR),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "DBT_TARGET_PATH": str(work / "dbt_target"),
        "DBT_LOG_PATH": str(work / "dbt_logs"),
        "TWOTOWNS_VAR_DIR": str(work / "var"),
    })
    from core.warehouse import connect, drop_database, fresh_database

    url = fresh_database("bench_dbt_airflow")
    os.environ["WAREHOUSE_URL"] = url
    try:
        from core import airflow_env
        from core.dbt import dbt_env, run_dbt
        from ingest.landing import ensure_schema
        from ops.runs import prepare

        os.environ.update(dbt_env(url))
        with connect() as conn:
            ensure_schema(conn)
        reports = _land_samples(work)
        if not run_dbt(["parse"], quiet=True).success:  # the manifest Cosmos renders from
            raise SystemExit("dbt parse failed")
        parse = {dag_id: airflow_env.dag_file_parse(path) for dag_id, path in FILES.items()}

        airflow_env.apply()
        prepare()
        bag = _dagbag()
        logging.getLogger("cosmos").setLevel(logging.ERROR)  # one warning per asset URI otherwise
        log_path = work / "airflow-runs.log"
        with open(log_path, "w") as log:
            handler = logging.StreamHandler(log)
            logging.getLogger().addHandler(handler)
            try:
                warm = _run(bag, "dbt_single_task", log)
                cosmos = _run(bag, "dbt_cosmos", log)
                single = _run(bag, "dbt_single_task", log)
            finally:
                logging.getLogger().removeHandler(handler)
    finally:
        drop_database(url)
    result = {"reports": reports, "warm_up_run_s": warm["run_s"]}
    for name, r in (("dbt_single_task", single), ("dbt_cosmos", cosmos)):
        result[name] = {**r, "parse_s": round(parse[name]["seconds"], 3),
                        "imported_at_parse": [m for m in parse[name]["imported"] if m in ("cosmos", "dbt")]}
    result["run_ratio"] = round(cosmos["run_s"] / single["run_s"], 2)
    result["parse_ratio"] = round(parse["dbt_cosmos"]["seconds"] / parse["dbt_single_task"]["seconds"], 1)
    result["seconds_per_cosmos_task"] = round(cosmos["run_s"] / cosmos["tasks"], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--render", action="store_true", help="only render both DAGs; print their tasks as JSON")
    args = parser.parse_args(argv)
    use_cosmos()
    if args.render:
        print(json.dumps(render()))
        return 0
    with tempfile.TemporaryDirectory() as d:
        result = measure(Path(d))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"dbt in Airflow, {result['reports']} sample reports landed, same warehouse state, dag.test():")
    print(f"  {'':18} {'tasks':>5} {'parse s':>8} {'run s':>7}")
    for name in ("dbt_single_task", "dbt_cosmos"):
        r = result[name]
        print(f"  {name:18} {r['tasks']:5} {r['parse_s']:8.3f} {r['run_s']:7.1f}")
    print(f"  Cosmos / one task: run {result['run_ratio']}x, parse {result['parse_ratio']}x; "
          f"{result['seconds_per_cosmos_task']} s per Cosmos task (warm-up build {result['warm_up_run_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
