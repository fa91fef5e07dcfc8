"""The submission audit: one GX checkpoint on a pending report's rows, with the accepted history.

ingest.landing.submit() loads a report that passed the file-level checks as a
*pending* submission and then calls `audit(conn, submission_id)`:

    from expectations.submission import audit_submission
    submit(path, audit=audit_submission)

The checkpoint validates the submission's rows in raw.report_values (a batch
chosen by the batch parameter `submission_id`, never by text built from the
file) with the `submission` suites; their queries join the current accepted
values (per county, period and form) so that cross-period rules (YTD, growth,
uniqueness of what becomes current) see the history. Each failed expectation
becomes findings from its `meta` (`finding_code`, optional message templates),
one per offending row with sheet, cell, town and indicator where there is one:
critical → error (the report is refused), warning → warning, info → info.

An expectation that cannot be evaluated (it raised) is an internal problem,
not the county's: `AuditError` is raised, the submission stays pending (never
current) and is started over when the file comes again (or the task retries).

The prepared checkpoint is kept per process and warehouse, so a run costs one
checkpoint execution (about 0.3 s on the sample), not a GX setup.
"""

from __future__ import annotations

import json
import os
import re
import threading
from decimal import Decimal
from pathlib import Path

from expectations.runner import AuditError, Prepared, RunOutcome, unexpected_rows

FINDING_SEVERITY = {"critical": "error", "warning": "warning", "info": "info"}
MAX_FINDINGS_PER_EXPECTATION = 200  # GX returns at most 200 unexpected rows of a query
_PROGRAMME = {"LZ-1": ("特色小镇", "characteristic"), "LZ-2": ("小城市培育试点镇", "pilot")}

_prepared: dict[tuple[str, str], Prepared] = {}
_lock = threading.Lock()


def _url_of(conn) -> str:
    """The URL of the database `conn` is connected to (GX opens its own connection to the same one)."""
    from urllib.parse import quote

    info = conn.info
    auth = quote(info.user or "", safe="")
    if info.password:
        auth += ":" + quote(info.password, safe="")
    return f"postgresql://{auth}@{info.host}:{info.port}/{info.dbname}"


def prepared_for(url: str, docs: bool = True) -> Prepared:
    """The submission checkpoint for this warehouse, built once per process."""
    from expectations.runner import docs_root, prepare_sql_stage

    key = (url, str(docs_root()) if docs else "")
    with _lock:
        if key not in _prepared:
            _prepared[key] = prepare_sql_stage("submission", url, per_submission=True, docs=docs)
        return _prepared[key]


def run_submission_audit(conn, submission_id: int, *, docs: bool = True) -> tuple[RunOutcome, list]:
    """Run the checkpoint on one submission: (outcome, findings). Raises AuditError if a check raised."""
    from expectations.runner import execute

    sid = int(submission_id)  # a validated integer: the batch parameter, never text from the file
    url = _url_of(conn)
    outcome = execute(prepared_for(url, docs), url, submission_id=sid)
    raised = [f"{s.name}: {e.type} ({e.description}): {e.exception}"
              for s in outcome.suites for e in s.expectations if e.exception]
    _write_report(outcome)
    if raised:
        raise AuditError(f"submission {sid}: the audit could not evaluate " + "; ".join(raised)
                         + (f" (Data Docs: {outcome.docs_url})" if outcome.docs_url else ""))
    return outcome, findings_of(outcome)


def audit_submission(conn, submission_id: int) -> list:
    """The `audit` callable of ingest.landing.submit: findings of the GX submission checkpoint."""
    return run_submission_audit(conn, submission_id)[1]


def new_findings(existing: list, audited: list) -> list:
    """Audit findings that the file-level checks did not already report (same code, sheet and cell)."""
    seen = {(f.code, f.sheet, f.cell, f.town_code) for f in existing}
    return [f for f in audited if (f.code, f.sheet, f.cell, f.town_code) not in seen]


def report_path(submission_id: int) -> Path:
    from core import config

    return config.var_dir() / "quality" / "submission" / f"{int(submission_id)}.json"


def _write_report(outcome: RunOutcome) -> None:
    path = report_path(outcome.submission_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- results -> findings

def _number(value: object) -> object:
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    return value


def _facts(row: dict, meta: dict, kwargs: dict) -> dict:
    from ingest import registry

    facts = {k: _number(v) for k, v in row.items()}
    for alias, source in (meta.get("facts") or {}).items():
        facts[alias] = facts.get(source)
    if "min_value" in kwargs:
        facts.setdefault("min", _number(kwargs["min_value"]))
    if "max_value" in kwargs:
        facts.setdefault("max", _number(kwargs["max_value"]))
    names = {i.code: i.name_zh for i in registry.indicators()}
    if row.get("indicator"):
        facts.setdefault("name", names.get(row["indicator"], row["indicator"]))
    if row.get("parent_indicator"):
        facts.setdefault("parent_name", names.get(row["parent_indicator"], row["parent_indicator"]))
    town = next((t for t in registry.towns() if t.code == row.get("town_code")), None)
    facts.setdefault("label", town.name_zh if town else (row.get("town_code") or ""))
    zh, en = _PROGRAMME.get(row.get("form") or "", ("", ""))
    facts.setdefault("programme_zh", zh)
    facts.setdefault("programme_en", en)
    if row.get("other_cell"):
        digits = re.search(r"(\d+)$", str(row["other_cell"]))
        facts.setdefault("other_row", digits.group(1) if digits else "")
    return facts


def _finding(code: str, severity: str, meta: dict, row: dict, kwargs: dict):
    from ingest.findings import CATALOGUE, Finding, _Default, finding

    facts = _facts(row, meta, kwargs)
    where = {"sheet": row.get("source_sheet"), "cell": row.get("source_cell"),
             "town_code": row.get("town_code"), "indicator": row.get("indicator")}
    values = _Default({k: ("" if v is None else v) for k, v in facts.items()})
    if meta.get("message_zh") and meta.get("message_en"):
        zh, en = meta["message_zh"].format_map(values), meta["message_en"].format_map(values)
    elif code in CATALOGUE:
        base = finding(code, **where, **{k: v for k, v in facts.items() if k not in where})
        zh, en = base.message_zh, base.message_en
    else:  # the suite loader refuses this; keep a readable message all the same
        zh = en = f"{code}: {row}"
    return Finding(severity, code, where["sheet"], where["cell"], where["town_code"], where["indicator"], zh, en)


def findings_of(outcome: RunOutcome) -> list:
    """One finding per offending row of every failed expectation that carries a finding code."""
    out = []
    for vres in getattr(outcome, "_results", []):
        for r in vres.results:
            cfg = r.expectation_config
            meta = cfg.meta or {}
            if r.success or not meta.get("finding_code"):
                continue
            severity = FINDING_SEVERITY[getattr(cfg.severity, "value", cfg.severity)]
            rows = unexpected_rows(r)[:MAX_FINDINGS_PER_EXPECTATION] or [{}]
            out += [_finding(meta["finding_code"], severity, meta, row, cfg.kwargs) for row in rows]
    return out
