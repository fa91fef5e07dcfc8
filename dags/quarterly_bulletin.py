"""Quarterly bulletin, the day after each quarter's reporting deadline
(21 April, 21 July, 21 October; 1 February for Q4), 06:00 Asia/Shanghai.

The period comes from the `period` param (a backfill: `python -m ops backfill`), else it
is the quarter whose deadline has just passed (from the run's logical date).
Reads the latest publication (`publication` inlet); rewriting a bulletin is idempotent.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import MultipleCronTriggerTimetable, Param, dag, task

from core.assets import PUBLICATION
from core.periods import day_after_deadline_crons
from ops.dag_defaults import task_defaults


@dag(
    schedule=MultipleCronTriggerTimetable(*day_after_deadline_crons(hour=6), timezone="Asia/Shanghai"),
    # no start_date: a new deployment waits for the next tick instead of running the last one at once
    catchup=False,
    max_active_runs=1,
    params={"period": Param(None, type=["null", "string"], pattern=r"^\d{4}Q[1-4]$",
                            description="e.g. 2016Q4; default: the quarter whose deadline has just passed")},
    default_args=task_defaults(retries=1, execution_timeout=timedelta(minutes=20)),
    tags=["twotowns", "publish"],
    doc_md=__doc__,
)
def quarterly_bulletin():
    @task(inlets=[PUBLICATION])
    def render(params=None, logical_date=None) -> dict:
        from publish.bulletin import render_bulletin_for

        return render_bulletin_for(params.get("period") if params else None, logical_date)

    render()


quarterly_bulletin()
