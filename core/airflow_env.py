"""Environment for running Airflow locally: SQLite metadata and logs under the project.

    eval "$(python -m core.airflow_env)"     # the same settings in a shell
"""

from __future__ import annotations

import os
from pathlib import Path

from core.config import PROJECT_DIR


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", PROJECT_DIR / ".airflow"))


def airflow_env(home: Path | None = None) -> dict[str, str]:
    home = home or airflow_home()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "twotowns",
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_DIR), os.environ.get("PYTHONPATH", "")) if p),
    }


def apply(home: Path | None = None) -> dict[str, str]:
    """Set the variables in this process (before airflow is imported) and return them."""
    env = airflow_env(home)
    for key, value in env.items():
        os.environ.setdefault(key, value)
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return env


_PARSE = """
import json, runpy, sys, time
import airflow.sdk
before = set(sys.modules)
t = time.perf_counter()
runpy.run_path(sys.argv[1])
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "imported": sorted({m.split(".")[0] for m in set(sys.modules) - before})}))
"""


def dag_file_parse(path: Path, rounds: int = 3) -> dict:
    """How long a DAG file takes to parse, as the dag-processor sees it: in a fresh process that
    has imported `airflow.sdk` already. Best of `rounds`; also the top-level packages the file
    imported (beyond what `airflow.sdk` had loaded). {"seconds": s, "imported": [...]}"""
    import json
    import subprocess
    import sys

    env = {**os.environ, **airflow_env()}
    runs = [json.loads(subprocess.run([sys.executable, "-c", _PARSE, str(path)], env=env, check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1])
            for _ in range(rounds)]
    return {"seconds": min(r["seconds"] for r in runs), "imported": runs[0]["imported"]}


def worker_hostname() -> str:
    """`[core] hostname_callable`: the name a task instance records as its host.

    `TWOTOWNS_WORKER_NAME` when set (several Celery workers on one machine, as in the
    distributed test), else the fully qualified host name (Airflow's default; in the
    compose stack every worker container has its own)."""
    import socket

    return os.environ.get("TWOTOWNS_WORKER_NAME") or socket.getfqdn()


def main() -> int:
    """Print `export` lines for a shell: eval "$(python -m core.airflow_env)"."""
    import shlex

    for key, value in airflow_env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
