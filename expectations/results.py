"""GX validation results as outcomes (expectations/outcome.py): counts, samples, exceptions."""

from __future__ import annotations

import json

from expectations.outcome import ExpectationOutcome

SAMPLE_ROWS = 20


def _column_of(kwargs: dict) -> str | None:
    if kwargs.get("column"):
        return kwargs["column"]
    if kwargs.get("column_A"):
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if kwargs.get("column_list"):
        return ",".join(kwargs["column_list"])
    return None


def _exception_of(r) -> str | None:
    info = r.exception_info or {}
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for c in candidates:
        if c.get("raised_exception") or (c.get("exception_message") and c is not info):
            return str(c.get("exception_message") or "raised")[:500]
    return None


def jsonable(value: object) -> object:
    try:
        json.dumps(value)
        return value
    except TypeError:
        if isinstance(value, dict):
            return {str(k): jsonable(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [jsonable(v) for v in value]
        return str(value)


def unexpected_rows(r) -> list[dict]:
    """The unexpected rows of a result (query rows, index rows, or plain values)."""
    res = r.result or {}
    details = res.get("details") or {}
    if "unexpected_rows" in details:
        rows = details["unexpected_rows"]
        return rows if isinstance(rows, list) else []
    if "cells" in details:
        return details["cells"]
    if res.get("unexpected_index_list"):
        return list(res["unexpected_index_list"])
    if res.get("partial_unexpected_index_list"):
        return list(res["partial_unexpected_index_list"])
    values = res.get("unexpected_list") or res.get("partial_unexpected_list") or []
    return [{"value": v} for v in values]


def expectation_outcome(r) -> ExpectationOutcome:
    cfg = r.expectation_config
    res = r.result or {}
    severity = getattr(cfg.severity, "value", cfg.severity) or "critical"
    count = res.get("unexpected_count")
    if count is None and cfg.type == "unexpected_rows_expectation":
        count = res.get("observed_value")
    if count is None and r.success and not res and _counts_rows(cfg):
        count = 0  # a one-scan pass (BOOLEAN_ONLY) passed it: no row was unexpected ("mostly" is never used)
    return ExpectationOutcome(
        check=(cfg.meta or {}).get("check") or cfg.type, type=cfg.type, column=_column_of(cfg.kwargs),
        severity=str(severity), success=bool(r.success),
        unexpected_count=count, observed_value=jsonable(res.get("observed_value")),
        description=cfg.description, finding_code=(cfg.meta or {}).get("finding_code"),
        exception=_exception_of(r), sample=jsonable(unexpected_rows(r)[:SAMPLE_ROWS]) if not r.success else [],
    )


def _counts_rows(cfg) -> bool:
    """An expectation whose verdict is a count of unexpected rows (column-map, multicolumn, query checks)."""
    return "mostly" not in (cfg.kwargs or {}) and (
        cfg.type.startswith(("expect_column_values_", "expect_compound_columns_", "expect_multicolumn_",
                             "expect_column_pair_values_", "expect_select_column_values_"))
        or cfg.type == "unexpected_rows_expectation")


def skipped_expectation(exp: dict, note: str) -> ExpectationOutcome:
    kwargs = exp.get("kwargs") or {}
    return ExpectationOutcome(check=exp["meta"]["check"], type=exp["type"], column=_column_of(kwargs),
                              severity=exp["severity"], success=True,
                              unexpected_count=None, description=exp.get("description"),
                              finding_code=(exp.get("meta") or {}).get("finding_code"), skipped=note)
