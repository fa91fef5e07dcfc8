"""A quality gate for the pipeline: run a stage, keep its report, block on critical failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core import config


class QualityGateFailed(RuntimeError):
    pass


def report_path(stage: str) -> Path:
    return config.var_dir() / "quality" / f"{stage}.json"


def run_gate(stage: str) -> dict:
    """Run the stage's suites; write the outcome to var/quality/<stage>.json; raise if a critical one failed."""
    from expectations.runner import run_stage

    outcome = run_stage(stage)
    doc = outcome.to_dict()
    path = report_path(stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    summary = {
        "stage": stage, "success": outcome.success, "run_id": outcome.run_id, "suites": len(outcome.suites),
        "expectations": sum(len(s.expectations) for s in outcome.suites),
        "critical_failures": outcome.failures("critical"), "warnings": outcome.failures("warning"),
    }
    if not outcome.success:
        raise QualityGateFailed(f"{stage} audit failed: {'; '.join(summary['critical_failures'])}")
    return summary
