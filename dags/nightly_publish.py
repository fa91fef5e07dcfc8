"""Nightly publication at 02:00 Asia/Shanghai: write the datasets, audit them, switch LATEST.

Unchanged data makes no new version.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, dag, task


@dag(
    schedule=CronTriggerTimetable("0 2 * * *", timezone="Asia/Shanghai"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(minutes=30)},
    tags=["twotowns", "publish"],
    doc_md=__doc__,
)
def nightly_publish():
    @task
    def publish_datasets() -> dict:
        from publish.wap import publish_to_target

        return publish_to_target()

    publish_datasets()


nightly_publish()
