"""Quarterly bulletin, the day after each quarter's reporting deadline
(21 April, 21 July, 21 October; 1 February for Q4), 06:00 Asia/Shanghai.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import MultipleCronTriggerTimetable, Param, dag, task


@dag(
    schedule=MultipleCronTriggerTimetable("0 6 21 4,7,10 *", "0 6 1 2 *", timezone="Asia/Shanghai"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params={"period": Param(None, type=["null", "string"], description="e.g. 2016Q4; default: the quarter "
                                                                        "whose deadline has just passed")},
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(minutes=20)},
    tags=["twotowns", "publish"],
    doc_md=__doc__,
)
def quarterly_bulletin():
    @task
    def render(params=None, logical_date=None) -> dict:
        from publish.bulletin import render_bulletin_for

        return render_bulletin_for(params.get("period") if params else None, logical_date)

    render()


quarterly_bulletin()
