"""Two ways of running the dbt project in Airflow, side by side, for `make bench-dbt-airflow`.

Not in `dags/`: the scheduler never parses these files. `dbt_single_task.py` is what
`warehouse_build` does (one `dbt build` task); `dbt_cosmos.py` renders the same project
with astronomer-cosmos (one task per node). See scripts/bench_dbt_airflow.py.

Cosmos is not installed in the platform's environment (its plugin and cluster policy
would load in every Airflow process): `make install` puts it in `.venv/bench-libs`
(requirements-bench.txt), and `use_cosmos()` puts that on the path of this process
and of the processes it starts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.config import PROJECT_DIR

BENCH_LIBS = PROJECT_DIR / ".venv" / "bench-libs"
DAG_DIR = Path(__file__).parent


def use_cosmos() -> None:
    """Make Cosmos importable here and in child processes; before Airflow is imported."""
    if not (BENCH_LIBS / "cosmos").is_dir():
        raise SystemExit(f"Cosmos is not installed in {BENCH_LIBS}: run `make install` (requirements-bench.txt)")
    if str(BENCH_LIBS) not in sys.path:
        sys.path.append(str(BENCH_LIBS))  # after the venv: Cosmos' dependencies come from requirements.txt
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(BENCH_LIBS) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([*paths, str(PROJECT_DIR), str(BENCH_LIBS)])
