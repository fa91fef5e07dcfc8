"""A quality gate for the pipeline: run a stage, keep its report, block on critical failures.

    from expectations.gate import run_gate
    run_gate("raw")        # before dbt build (dags/warehouse_build.py)
    run_gate("warehouse")  # after dbt build, before anything is published

The report goes to `<var>/quality/<stage>.json` (what scripts/demo.py prints),
with a link to the stage's Data Docs; a critical failure raises
QualityGateFailed, whose message names the failed checks and the docs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core import config


class QualityGateFailed(RuntimeError):
    pass


def report_path(stage: str) -> Path:
    return config.var_dir() / "quality" / f"{stage}.json"


def write_report(outcome) -> Path:
    path = report_path(outcome.stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def summary(outcome, path: Path | None = None) -> dict:
    return {
        "stage": outcome.stage, "success": outcome.success, "run_id": outcome.run_id,
        "suites": len(outcome.suites), "expectations": sum(len(s.expectations) for s in outcome.suites),
        "rows_validated": outcome.rows_validated, "seconds": outcome.seconds,
        "critical_failures": outcome.failures("critical"), "warnings": outcome.failures("warning"),
        "info": outcome.failures("info"), "notes": outcome.notes,
        "docs_url": outcome.docs_url, "report": str(path) if path else None,
    }


def decide(outcome, what: str) -> dict:
    """Keep the outcome's report; raise QualityGateFailed (naming `what`, the failed checks, the
    report and the Data Docs) if a critical expectation failed; else return the summary."""
    path = write_report(outcome)
    doc = summary(outcome, path)
    if not outcome.success:
        raise QualityGateFailed(f"{what} failed: {'; '.join(doc['critical_failures'])} "
                                f"(report: {path}; Data Docs: {outcome.docs_url})")
    return doc


def run_gate(stage: str, url: str | None = None) -> dict:
    """Run the stage's suites; write the outcome to var/quality/<stage>.json; raise if a critical one failed."""
    from expectations.runner import run_stage

    return decide(run_stage(stage, url), f"{stage} audit")
