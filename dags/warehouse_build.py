"""Warehouse build: quality gate on raw, dbt build (models, data tests, unit tests), quality gate on the
marts, then the audited marts switched in for BI tools (write-audit-publish of the warehouse).

dbt writes the marts into schema marts_build; the marts gate audits them there; publish_marts
swaps them into schema marts, which BI tools and the publication read, in one transaction
(publish/marts.py). A failed gate leaves marts on the previous audited build.

Runs whenever county reports were loaded (the `raw_county_reports` asset); the periods
that changed travel in the asset events' extras (an asset-triggered run has no logical
date), or in the `periods` param of a run started by hand. Emits `marts` with them.
One `dbt build` task, not one task per model: see README, "dbt in Airflow".
A critical quality failure is not retried (the same data gives the same answer) and
alerts the team as `quality.critical`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import ExceptionRetryPolicy, Param, RetryAction, RetryRule, dag, task

from core.assets import MARTS, RAW_REPORTS
from ops.dag_defaults import task_defaults

QUALITY_GATE_IS_FINAL = ExceptionRetryPolicy(rules=[
    RetryRule(exception="expectations.gate.QualityGateFailed", action=RetryAction.FAIL,
              reason="a data problem: retrying gives the same answer"),
])
PERIODS = Param([], type="array", items={"type": "string", "pattern": r"^\d{4}Q[1-4]$"},
                description="periods this build is for, e.g. [\"2016Q3\"]; asset-triggered runs take them "
                            "from the asset events")


@dag(
    schedule=[RAW_REPORTS],
    catchup=False,
    max_active_runs=1,
    params={"periods": PERIODS,
            "full_refresh": Param(False, type="boolean", description="dbt build --full-refresh (ops rebuild)")},
    default_args=task_defaults(retries=1, retry_delay=timedelta(minutes=2), execution_timeout=timedelta(minutes=30)),
    tags=["twotowns", "quality", "dbt"],
    doc_md=__doc__,
)
def warehouse_build():
    @task(execution_timeout=timedelta(minutes=1))
    def periods(**context) -> list[str]:
        """The periods of this run: from the triggering asset events, else from the params ([] = all)."""
        from core.assets import periods_of_run

        return periods_of_run(context, RAW_REPORTS)

    @task(execution_timeout=timedelta(minutes=15), retry_policy=QUALITY_GATE_IS_FINAL)
    def audit_raw(periods: list[str], *, dag_run=None, params=None) -> dict:
        """The rows accepted since the last passed gate (a rebuild: every row again)."""
        from expectations.gate import run_gate
        from ops.alerts import notify_quality_warnings

        summary = run_gate("raw", full=bool(params.get("full_refresh")))
        notify_quality_warnings(summary, "warehouse_build", dag_run.run_id, periods)
        return summary

    @task(execution_timeout=timedelta(minutes=30))
    def dbt_build(params=None) -> dict:
        """dbt build: seeds, models, snapshots, data tests and unit tests, in DAG order, in one invocation."""
        from core.dbt import run_dbt_or_raise

        return run_dbt_or_raise(["build", "--full-refresh"] if params.get("full_refresh") else ["build"])

    @task(execution_timeout=timedelta(minutes=15), retry_policy=QUALITY_GATE_IS_FINAL)
    def audit_marts(periods: list[str], dbt: dict, *, dag_run=None) -> dict:
        """The marts of this build, in marts_build, before BI tools or the publication see them."""
        from expectations.gate import run_gate
        from ops.alerts import notify_quality_warnings

        summary = run_gate("warehouse")
        notify_quality_warnings(summary, "warehouse_build", dag_run.run_id, periods)
        return summary

    @task(outlets=[MARTS], execution_timeout=timedelta(minutes=5))
    def publish_marts(periods: list[str], audit: dict, *, outlet_events=None, dag_run=None) -> dict:
        """Switch the audited build into marts in one transaction (a re-run after success: nothing to do)."""
        from publish.marts import publish_marts as switch

        result = switch()
        outlet_events[MARTS].extra = {"periods": periods, "dbt_invocation_id": result.get("build_id"),
                                      "gx_run_id": result.get("gx_run_id") or audit.get("run_id"),
                                      "warehouse_build_run_id": dag_run.run_id}
        return result

    run_periods = periods()
    built = dbt_build()
    audit_raw(run_periods) >> built
    publish_marts(run_periods, audit_marts(run_periods, built))


warehouse_build()
