"""County reports: every new file in the inbox is received, checked, landed and loaded.

One mapped task per file; the files are taken oldest first, one at a time, so a
corrected report is always versioned after the report it corrects.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from core.assets import RAW_REPORTS


@dag(
    schedule="*/10 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "execution_timeout": timedelta(minutes=10)},
    tags=["twotowns", "ingest"],
    doc_md=__doc__,
)
def county_reports():
    @task
    def list_inbox() -> list[str]:
        from ingest.inbox import pending_files

        return pending_files()

    @task(max_active_tis_per_dag=1)
    def receive_file(path: str) -> dict:
        from ingest.inbox import receive

        return receive(path)

    @task(outlets=[RAW_REPORTS])
    def announce(results: list[dict], *, outlet_events=None) -> dict:
        """Emit the asset event (with the periods that changed) only if something was loaded."""
        from airflow.sdk.exceptions import AirflowSkipException

        accepted = [r for r in results if r.get("status") == "accepted"]
        summary = {
            "received": len(results),
            "accepted": len(accepted),
            "refused": sum(r.get("status") == "refused" for r in results),
            "duplicate": sum(r.get("status") == "duplicate" for r in results),
            "periods": sorted({r["period"] for r in accepted if r.get("period")}),
        }
        if not accepted:
            raise AirflowSkipException(f"nothing new loaded: {summary}")
        outlet_events[RAW_REPORTS].extra = summary
        return summary

    announce(receive_file.expand(path=list_inbox()))


county_reports()
