"""County reports: every new file in the inbox is received, checked, landed and loaded.

One mapped task per file; the files are taken oldest first, one at a time, so a
corrected report is always versioned after the report it corrects and the
cross-period checks see the previous quarter. Emits `raw_county_reports` with the
periods that changed in its extra; `warehouse_build` is scheduled on it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from core.assets import RAW_REPORTS
from ops.alerts import on_task_failure


@dag(
    schedule="*/10 * * * *",
    # no start_date: a new deployment waits for the next tick instead of running the last one at once
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "execution_timeout": timedelta(minutes=10),
                  "on_failure_callback": on_task_failure},
    tags=["twotowns", "ingest"],
    doc_md=__doc__,
)
def county_reports():
    @task(execution_timeout=timedelta(minutes=2))
    def list_inbox() -> list[str]:
        from ingest.inbox import pending_files

        return pending_files()

    @task(max_active_tis_per_dag=1, map_index_template="{{ file_name }}")
    def receive_file(path: str) -> dict:
        """Idempotent: the same bytes again are a duplicate; a file already taken is `gone`."""
        from pathlib import Path

        from airflow.sdk import get_current_context

        from ingest.inbox import receive

        get_current_context()["file_name"] = Path(path).name  # names the mapped task in the UI

        return receive(path)

    @task(outlets=[RAW_REPORTS])
    def announce(results: list[dict], *, outlet_events=None) -> dict:
        """Emit the asset event (with the periods that changed) only if something was loaded."""
        from airflow.sdk.exceptions import AirflowSkipException

        results = list(results)  # one pass over the mapped results
        accepted = [r for r in results if r.get("status") == "accepted"]
        summary = {
            "received": len(results),
            "accepted": len(accepted),
            "refused": sum(r.get("status") == "refused" for r in results),
            "duplicate": sum(r.get("status") == "duplicate" for r in results),
            "periods": sorted({r["period"] for r in accepted if r.get("period")}),
            "counties": sorted({r["county_code"] for r in accepted if r.get("county_code")}),
        }
        if not accepted:
            raise AirflowSkipException(f"nothing new loaded: {summary}")
        outlet_events[RAW_REPORTS].extra = summary
        return summary

    announce(receive_file.expand(path=list_inbox()))


county_reports()
