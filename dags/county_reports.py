"""County reports: every new file in the inbox is received, checked, landed and loaded.

The inbox is listed oldest first; its files are grouped by the county their title block names
and whole counties are packed into batches (at most 1,024; `ingest.inbox.plan_batches`), one
mapped task each, so different counties run in parallel on as many workers as there are. In a
batch a county's files are decided in receipt order (a corrected report is versioned after the
report it corrects; the cross-period checks see the previous quarter). A file that raised is held
(an internal error: archived, quarantined, the county told, the team alerted as ingest.internal_error);
one the infrastructure failed (database, disk) stays in the inbox and fails its batch's task after the
others were decided. Emits `raw_county_reports`
with the periods that changed in its extra; `warehouse_build` is scheduled on it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from core.assets import RAW_REPORTS
from ops.dag_defaults import task_defaults


@dag(
    schedule="*/10 * * * *",
    # no start_date: a new deployment waits for the next tick instead of running the last one at once
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retry_delay=timedelta(minutes=1)),
    tags=["twotowns", "ingest"],
    doc_md=__doc__,
)
def county_reports():
    @task(execution_timeout=timedelta(minutes=2))
    def list_inbox() -> list[str]:
        from ingest.inbox import pending_files

        return pending_files()

    @task(execution_timeout=timedelta(minutes=5))
    def batches(paths: list[str]) -> list[list[str]]:
        """Whole counties per batch, receipt order kept (reads only each file's title block)."""
        from ingest.inbox import plan_batches

        return plan_batches(list(paths))

    @task(map_index_template="{{ batch_label }}", execution_timeout=timedelta(minutes=60))
    def receive_batch(paths: list[str]) -> list[dict]:
        """Idempotent: the same bytes again are a duplicate; a file already taken is `gone`. A file held by an
        internal error alerts the team (`ingest.internal_error`)."""
        from airflow.sdk import get_current_context

        from ingest.inbox import batch_label, check_batch, receive_batch
        from ops.alerts import notify_internal_errors

        context = get_current_context()
        context["batch_label"] = batch_label(paths)  # names the mapped task in the UI
        results = receive_batch(paths)
        ti = context["ti"]
        notify_internal_errors(results, ti.dag_id, ti.run_id, ti.task_id)
        return check_batch(results)

    @task(outlets=[RAW_REPORTS])
    def announce(results: list[list[dict]], *, outlet_events=None) -> dict:
        """Emit the asset event (with the periods that changed) only if something was loaded."""
        from airflow.sdk.exceptions import AirflowSkipException

        results = [r for batch in results for r in batch]  # one pass over the mapped results
        accepted = [r for r in results if r.get("status") == "accepted"]
        summary = {
            "received": len(results),
            "accepted": len(accepted),
            "refused": sum(r.get("status") == "refused" for r in results),
            "duplicate": sum(r.get("status") == "duplicate" for r in results),
            "held": sum(r.get("status") == "held" for r in results),
            "periods": sorted({r["period"] for r in accepted if r.get("period")}),
            "counties": sorted({r["county_code"] for r in accepted if r.get("county_code")}),
        }
        if not accepted:
            raise AirflowSkipException(f"nothing new loaded: {summary}")
        outlet_events[RAW_REPORTS].extra = summary
        return summary

    announce(receive_batch.expand(paths=batches(list_inbox())))


county_reports()
