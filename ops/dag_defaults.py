"""The `default_args` every DAG's tasks share: retried, bounded in time, the team alerted when a task fails
for good (`ops.alerts.on_task_failure`). A DAG passes only what differs. Cheap to import: the DAG files
import it at parse time."""

from __future__ import annotations

from datetime import timedelta

from ops.alerts import on_task_failure


def task_defaults(*, retries: int = 2, retry_delay: timedelta = timedelta(minutes=5),
                  execution_timeout: timedelta = timedelta(minutes=10)) -> dict:
    return {"retries": retries, "retry_delay": retry_delay, "execution_timeout": execution_timeout,
            "on_failure_callback": on_task_failure}
