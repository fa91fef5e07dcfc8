"""Warehouse build: quality gate on raw, dbt build (models and tests), quality gate on the marts.

Runs whenever county reports were loaded (the raw_county_reports asset).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from core.assets import MARTS, RAW_REPORTS


@dag(
    schedule=[RAW_REPORTS],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2), "execution_timeout": timedelta(minutes=30)},
    tags=["twotowns", "quality", "dbt"],
    doc_md=__doc__,
)
def warehouse_build():
    @task
    def audit_raw() -> dict:
        from expectations.gate import run_gate

        return run_gate("raw")

    @task
    def dbt_build() -> dict:
        from core.dbt import run_dbt_or_raise

        return run_dbt_or_raise(["build"])

    @task(outlets=[MARTS])
    def audit_marts() -> dict:
        from expectations.gate import run_gate

        return run_gate("warehouse")

    audit_raw() >> dbt_build() >> audit_marts()


warehouse_build()
