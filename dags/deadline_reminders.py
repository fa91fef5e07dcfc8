"""Deadline reminders, the day after each quarter's reporting deadline, 09:00 Asia/Shanghai.

Every county whose report for the quarter is missing, refused or incomplete gets a
reminder in its outbox; the status of all counties (on time, late, ...) is written to
`<var>/deadlines/<period>.json`; the team gets one alert. The period comes from the
`period` param, else it is the quarter whose deadline passed last before the run.
"""

from __future__ import annotations

from airflow.sdk import MultipleCronTriggerTimetable, Param, dag, task

from core.periods import day_after_deadline_crons
from ops.dag_defaults import task_defaults


@dag(
    schedule=MultipleCronTriggerTimetable(*day_after_deadline_crons(hour=9), timezone="Asia/Shanghai"),
    # no start_date: a new deployment waits for the next tick instead of running the last one at once
    catchup=False,
    max_active_runs=1,
    params={"period": Param(None, type=["null", "string"], pattern=r"^\d{4}Q[1-4]$",
                            description="e.g. 2016Q3; default: the quarter whose deadline passed last")},
    default_args=task_defaults(),
    tags=["twotowns", "ingest", "deadlines"],
    doc_md=__doc__,
)
def deadline_reminders():
    @task
    def remind_counties(params=None, logical_date=None, dag_run=None) -> dict:
        """Idempotent: the same period on the same day writes the same files (the alert is sent again)."""
        from ops.reminders import local_today, remind

        when = logical_date or getattr(dag_run, "run_after", None)
        return remind(params.get("period") if params else None, local_today(when))

    @task
    def email_reminders(summary: dict) -> list[str]:
        """The same reminders by email to each county's registered addresses (its portal accounts), through
        the SMTP connection `twotowns_smtp`; nothing is sent when that connection is not configured."""
        from portal.mail import send_reminders

        return send_reminders(summary)

    email_reminders(remind_counties())


deadline_reminders()
