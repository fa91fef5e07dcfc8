"""The dbt project as one task, as in dags/warehouse_build.py (without the GX gates around it)."""

from __future__ import annotations

from airflow.sdk import dag, task


@dag(schedule=None, catchup=False, tags=["bench"])
def dbt_single_task():
    @task
    def dbt_build() -> dict:
        from core.dbt import run_dbt_or_raise

        return run_dbt_or_raise(["build"])

    dbt_build()


dbt_single_task()
