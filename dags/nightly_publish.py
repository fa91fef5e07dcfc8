"""Nightly publication at 02:00 Asia/Shanghai: write the datasets, audit them, switch LATEST.

Publishes the marts of the last successful `warehouse_build` (read as the `marts`
inlet: its event carries the periods that changed). Unchanged data makes no new
version and no `publication` event; a new version emits `publication` with the
version and the periods in its extra.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, dag, task

from core.assets import MARTS, PUBLICATION
from ops.dag_defaults import task_defaults


@dag(
    schedule=CronTriggerTimetable("0 2 * * *", timezone="Asia/Shanghai"),
    # no start_date: a new deployment waits for the next tick instead of running the last one at once
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(execution_timeout=timedelta(minutes=30)),
    tags=["twotowns", "publish"],
    doc_md=__doc__,
)
def nightly_publish():
    @task(inlets=[MARTS], execution_timeout=timedelta(minutes=1))
    def latest_marts(*, inlet_events=None) -> dict:
        """What the marts are as of now: the extra of the latest `marts` event (none: built outside Airflow)."""
        from core.assets import periods_from_events

        events = list(inlet_events[MARTS])
        last = events[-1] if events else None
        return {"marts_event_at": last.timestamp.isoformat() if last else None,
                "periods": periods_from_events(events[-1:]),
                "dbt_invocation_id": (last.extra or {}).get("dbt_invocation_id") if last else None}

    @task
    def publish_datasets(marts: dict) -> dict:
        """Write, audit, publish; idempotent: unchanged content leaves LATEST as it is."""
        from publish.wap import publish_to_target

        return {**publish_to_target(), "periods": marts["periods"]}

    @task(outlets=[PUBLICATION], execution_timeout=timedelta(minutes=1))
    def announce(result: dict, *, outlet_events=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        if not result.get("created"):
            raise AirflowSkipException(f"content unchanged: LATEST stays {result.get('version')}")
        outlet_events[PUBLICATION].extra = {"version": result.get("version"), "url": result.get("url"),
                                            "periods": result.get("periods", [])}
        return result

    announce(publish_datasets(latest_marts()))


nightly_publish()
