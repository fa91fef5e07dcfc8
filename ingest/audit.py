"""The audit of a county's report as the county reads it: offending rows of the submission suites become findings.

expectations runs the cross-row and cross-period rules (a GX checkpoint for a submission's record,
`expectations.preview` for a file that is only being checked) and returns, per failed expectation, the
expectation and its offending rows. Here each row becomes a Finding with sheet, cell, town and indicator,
its message the reporting contract's for the expectation's `meta.finding_code` (ingest.findings) or the
expectation's own `meta.message_zh` / `message_en`, its severity from the expectation's: critical → error
(the report is refused), warning → warning, info → info.

    from ingest.audit import audit_batch, audit_submission, preview_findings
    findings = audit_batch(conn, [sid, ...])     # {submission_id: [Finding, ...]}
    submit(path, audit=audit_submission)         # the batch of one
    preview_findings(conn, report)               # a parsed report, nothing kept
"""

from __future__ import annotations

import re
from decimal import Decimal

from core import registry
from ingest.findings import CATALOGUE, Finding, _Default, finding

FINDING_SEVERITY = {"critical": "error", "warning": "warning", "info": "info"}
MAX_FINDINGS_PER_EXPECTATION = 200  # as many offending rows as GX returns of an expectation


def audit_batch(conn, submission_ids: list[int]) -> dict[int, list[Finding]]:
    """Findings of every given pending submission from one checkpoint run (split only when crowded, see
    expectations.submission): {submission_id: [Finding, ...]}, in the order given. Raises AuditError if a
    check raised."""
    return {sid: found for sid, (_outcome, found) in run_batch_audit(conn, submission_ids).items()}


def audit_submission(conn, submission_id: int) -> list[Finding]:
    """The `audit` callable of ingest.landing.submit: findings of the submission checkpoint (a batch of one)."""
    return run_batch_audit(conn, [submission_id])[int(submission_id)][1]


def run_submission_audit(conn, submission_id: int, *, docs: bool = True) -> tuple:
    """(outcome, findings) of one submission's audit. Raises AuditError if a check raised."""
    return run_batch_audit(conn, [submission_id], docs=docs)[int(submission_id)]


def run_batch_audit(conn, submission_ids: list[int], *, docs: bool = True,
                    suites: list[str] | None = None) -> dict[int, tuple]:
    """{submission_id: (its outcome, its findings)} for the given submissions; writes their reports."""
    from expectations.submission import run_batch_audit as run

    check_suites(suites)
    return {sid: (outcome, findings_of(failures)) for sid, (outcome, failures)
            in run(conn, submission_ids, docs=docs, suites=suites).items()}


def preview_findings(conn, report) -> list[Finding]:
    """The findings the submission audit would add to a parsed `report` (ingest.parse.Report) that is not
    loaded: the suites' own queries on its values in a transaction that is rolled back (expectations.preview).
    The accepted history is the warehouse's of `conn`."""
    from expectations.preview import PreviewValue, preview_rows
    from expectations.specs import load_suite_specs

    period = report.period
    values = [PreviewValue(report.county_code, period.year, period.quarter, v.form, v.town_code, v.indicator,
                           v.value, v.sheet, v.cell, v.value_prev_year, v.prev_year_cell) for v in report.values]
    specs = load_suite_specs("submission")
    check_suites(None, specs)
    return findings_of([(r.expectation, r.rows) for r in preview_rows(conn, values, specs) if r.rows])


def findings_of(failures: list[tuple[dict, list[dict]]]) -> list[Finding]:
    """One finding per offending row (at most MAX_FINDINGS_PER_EXPECTATION) of each failed expectation
    (`(expectation spec or GX config as a dict, rows)`) that carries a finding code."""
    out: list[Finding] = []
    for exp, rows in failures:
        meta = exp.get("meta") or {}
        if not meta.get("finding_code"):
            continue
        severity = FINDING_SEVERITY[exp["severity"]]
        out += [_finding(meta["finding_code"], severity, meta, row, exp.get("kwargs") or {})
                for row in rows[:MAX_FINDINGS_PER_EXPECTATION] or [{}]]
    return out


def check_finding_code(code: str, severity: str, *, has_messages: bool) -> str | None:
    """What is wrong with a submission expectation of `severity` whose findings have `code` (None: nothing):
    a code of the reporting contract keeps the contract's severity; another code needs its own messages
    (meta.message_zh and meta.message_en)."""
    if code in CATALOGUE:
        if CATALOGUE[code][0] != FINDING_SEVERITY[severity]:
            return f"{code} is a {CATALOGUE[code][0]} in the reporting contract, not {FINDING_SEVERITY[severity]}"
    elif not has_messages:
        return f"{code} is not a contract code: give meta.message_zh and meta.message_en"
    return None


def check_suites(names: list[str] | None = None, specs: list[dict] | None = None) -> None:
    """Every expectation of the submission suites maps to findings the county can read (ValueError if not)."""
    from expectations.specs import load_suite_specs

    for spec in specs if specs is not None else load_suite_specs("submission", names):
        for e in spec["expectations"]:
            meta = e.get("meta") or {}
            problem = ("no meta.finding_code" if not meta.get("finding_code") else check_finding_code(
                meta["finding_code"], e["severity"], has_messages=bool(meta.get("message_zh") and meta.get("message_en"))))
            if problem:
                raise ValueError(f"{spec['name']}.{meta.get('check')}: {problem}")


def _number(value: object) -> object:
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    return value


def _facts(row: dict, meta: dict, kwargs: dict) -> dict:
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
    town = registry.towns_by_code().get(row.get("town_code"))
    facts.setdefault("label", town.name_zh if town else (row.get("town_code") or ""))
    programme = registry.form_programmes().get(row.get("form") or "")
    facts.setdefault("programme_zh", registry.programme_names().get(programme, "") if programme else "")
    facts.setdefault("programme_en", programme or "")
    if row.get("other_cell"):
        digits = re.search(r"(\d+)$", str(row["other_cell"]))
        facts.setdefault("other_row", digits.group(1) if digits else "")
    return facts


def _finding(code: str, severity: str, meta: dict, row: dict, kwargs: dict) -> Finding:
    facts = _facts(row, meta, kwargs)
    where = {"sheet": row.get("source_sheet"), "cell": row.get("source_cell"),
             "town_code": row.get("town_code"), "indicator": row.get("indicator")}
    values = _Default({k: ("" if v is None else v) for k, v in facts.items()})
    if meta.get("message_zh") and meta.get("message_en"):
        zh, en = meta["message_zh"].format_map(values), meta["message_en"].format_map(values)
    elif code in CATALOGUE:
        base = finding(code, **where, **{k: v for k, v in facts.items() if k not in where})
        zh, en = base.message_zh, base.message_en
    else:  # check_suites refuses this; keep a readable message all the same
        zh = en = f"{code}: {row}"
    return Finding(severity, code, where["sheet"], where["cell"], where["town_code"], where["indicator"], zh, en)
