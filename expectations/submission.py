"""The submission audit: ONE GX checkpoint on the rows of a batch of pending reports, with the accepted history.

ingest loads reports that passed the file-level checks as *pending* submissions
and then asks for their audit, a wave at a time or one by one, through
ingest.audit, which turns what this module returns into findings for the county:

    run_batch_audit(conn, [sid, ...])   # {submission_id: (its outcome, its failures)}

The submissions are registered in `quality.audit_batches` under a new batch id
(bound values; expectations/state.py) and the checkpoint validates their rows
in raw.report_values, chosen by the batch parameter `audit_batch_id`, with the
`submission` suites. Every query selects `submission_id` and reads the history
through `@@context@@` keyed by `audit_sid` (expectations/fragments.py): each
submission is judged against the accepted history only, never against another
pending submission of the batch, so a batch gives each submission exactly the
failures its audit alone gives: per failed expectation, the expectation and its
offending rows (each names its submission). This module knows nothing of findings.

GX returns at most 200 offending rows per expectation (MAX_ROWS). When an
expectation of a batch found more than it returned (or failed without rows
that name their submission), the batch result is not trustworthy for every
submission: a bad file could look clean because others crowded its rows out.
The batch is then split (into about twice as many parts as the overflow
needs, then in halves) and each part audited again, down to single
submissions, whose result is what their own audit gives (at most 200 findings
per expectation). No verdict is taken from a crowded run.

An expectation that cannot be evaluated (it raised) is an internal problem,
not the county's: `AuditError` is raised for the whole call, the submissions
stay pending (never current) and are started over when their files come again
(or the task retries).

Reports: one per submission, `var/quality/submission/<id>.json` (its
expectations and counts only, with the batch id, its size and the batch's
Data Docs page). The prepared checkpoint is kept per process and warehouse, so
a call costs one checkpoint execution (plus one per split), not a GX setup.
"""

from __future__ import annotations

import copy
import json
import math
import threading
from dataclasses import replace
from pathlib import Path

from core.files import write_atomic
from expectations.outcome import AuditError, RunOutcome, suite_success
from expectations.results import unexpected_rows
from expectations.stages import Prepared

MAX_ROWS = 200  # GX returns at most 200 unexpected rows of an expectation (great_expectations.constants)
Failure = tuple[dict, list[dict]]  # (the expectation: type, kwargs, meta, severity; its offending rows)

_prepared: dict[tuple, Prepared] = {}
_lock = threading.Lock()


def _url_of(conn) -> str:
    """The URL of the database `conn` is connected to (GX opens its own connection to the same one)."""
    from urllib.parse import quote

    info = conn.info
    auth = quote(info.user or "", safe="")
    if info.password:
        auth += ":" + quote(info.password, safe="")
    return f"postgresql://{auth}@{info.host}:{info.port}/{info.dbname}"


def prepared_for(url: str, docs: bool = True, suites: list[str] | None = None) -> Prepared:
    """The submission checkpoint for this warehouse, built once per process and registry version."""
    from expectations.engine import docs_root
    from expectations.fragments import registry_version
    from expectations.stages import prepare_sql_stage

    key = (url, str(docs_root()) if docs else "", tuple(suites or ()), registry_version())
    with _lock:
        if key not in _prepared:
            _prepared[key] = prepare_sql_stage("submission", url, per_submission=True, suites=suites, docs=docs)
        return _prepared[key]


def run_batch_audit(conn, submission_ids: list[int], *, docs: bool = True,
                    suites: list[str] | None = None) -> dict[int, tuple[RunOutcome, list[Failure]]]:
    """{submission_id: (its outcome, its failures)} for the given submissions (split only when crowded, see
    module doc); writes their reports. Raises AuditError if a check raised."""
    from core.warehouse import connect

    order = list(dict.fromkeys(int(s) for s in submission_ids))  # validated integers, never text from a file
    if not order:
        return {}
    url = _url_of(conn)
    prepared = prepared_for(url, docs, suites)
    out: dict[int, tuple[RunOutcome, list]] = {}
    with connect(url, autocommit=True) as own:  # the batch must be committed: GX reads it over its own connection
        counts = dict(own.execute("select submission_id, count(*) from raw.report_values "
                                  "where submission_id = any(%s) group by submission_id", (order,)).fetchall())
        _audit_parts(own, prepared, url, sorted(order), counts, out)
    for sid in order:
        _write_report(out[sid][0])
    return {sid: out[sid] for sid in order}


def _audit_parts(conn, prepared: Prepared, url: str, ids: list[int], counts: dict, out: dict) -> None:
    """Audit `ids` in one run; if the run is crowded, audit its parts instead (recursively)."""
    from expectations import state
    from expectations.run import execute

    batch_id = state.open_batch(conn, ids)
    try:
        outcome = execute(prepared, url, batch_id=batch_id)
    finally:
        state.close_batch(conn, batch_id)
    raised = [f"{s.name}: {e.type} ({e.description}): {e.exception}"
              for s in outcome.suites for e in s.expectations if e.exception]
    if raised:
        raise AuditError(f"submissions {ids[:10]}{'...' if len(ids) > 10 else ''}: the audit could not evaluate "
                         + "; ".join(raised) + (f" (Data Docs: {outcome.docs_url})" if outcome.docs_url else ""))
    overflow = crowding(outcome) if len(ids) > 1 else 0.0
    if overflow:
        n = min(len(ids), max(2, math.ceil(2 * overflow)))
        size = math.ceil(len(ids) / n)
        for i in range(0, len(ids), size):
            _audit_parts(conn, prepared, url, ids[i:i + size], counts, out)
        return
    outcome.batch_submissions = len(ids)
    for sid in ids:
        out[sid] = split_outcome(outcome, sid, counts.get(sid, 0), single=len(ids) == 1)


def crowding(outcome: RunOutcome) -> float:
    """0 if every failed expectation of a batch run returned all its offending rows, each naming its
    submission; else how many times over MAX_ROWS the worst one was (at least 1)."""
    worst = 0.0
    for vres in outcome.results:
        for r in vres.results:
            if r.success:
                continue
            rows = unexpected_rows(r)
            count = _unexpected_count(r)
            if not rows or any("submission_id" not in row for row in rows) or (count or 0) > len(rows):
                worst = max(worst, 1.0, (count or 0) / MAX_ROWS)
    return worst


def _unexpected_count(r) -> int | None:
    res = r.result or {}
    count = res.get("unexpected_count")
    if count is None and r.expectation_config.type == "unexpected_rows_expectation":
        count = res.get("observed_value")
    return count if isinstance(count, int) else None


def report_path(submission_id: int) -> Path:
    from core import config

    return config.var_dir() / "quality" / "submission" / f"{int(submission_id)}.json"


def _write_report(outcome: RunOutcome) -> None:
    write_atomic(report_path(outcome.submission_id), json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2,
                                                                default=str))


def _rows_of(r, sid: int | None) -> list[dict]:
    rows = unexpected_rows(r)
    return rows if sid is None else [row for row in rows if row.get("submission_id") == sid]


def failures_of(results: list, sid: int | None = None) -> list[Failure]:
    """The failed expectations of GX validation results with their offending rows, of submission `sid` only
    (None: the run held one submission); an expectation failed without rows gives one empty row."""
    out: list[Failure] = []
    for vres in results:
        for r in vres.results:
            if r.success:
                continue
            rows = _rows_of(r, sid)
            if sid is not None and not rows:
                continue
            cfg = r.expectation_config
            out.append(({"type": cfg.type, "kwargs": dict(cfg.kwargs), "meta": dict(cfg.meta or {}),
                         "severity": getattr(cfg.severity, "value", cfg.severity)}, rows or [{}]))
    return out


def split_outcome(outcome: RunOutcome, sid: int, rows: int, *, single: bool) -> tuple[RunOutcome, list[Failure]]:
    """What an uncrowded batch run says about one of its submissions: (its outcome, its failures).
    Each offending row names its submission (`submission_id`); counts and samples are its own."""
    from expectations.results import SAMPLE_ROWS, jsonable

    results = outcome.results
    by_check = {(v.suite_name, (r.expectation_config.meta or {}).get("check")): r for v in results for r in v.results}
    suites = []
    for suite in outcome.suites:
        exps = []
        for e in suite.expectations:
            r = by_check.get((suite.name, e.check))
            if r is not None and not single:
                mine = _rows_of(r, sid)
                e = copy.copy(e)
                e.success = r.success or not mine
                e.unexpected_count = len(mine)
                if e.type == "unexpected_rows_expectation":
                    e.observed_value = len(mine)
                e.sample = jsonable(mine[:SAMPLE_ROWS]) if not e.success else []
            exps.append(e)
        suites.append(replace(suite, expectations=exps, success=suite_success(exps),
                              rows=rows if suite.rows is not None else None))
    mine = RunOutcome(outcome.stage, all(s.success for s in suites), suites, outcome.run_id, outcome.docs_url,
                      outcome.seconds, rows, sid, list(outcome.notes), outcome.batch_id, outcome.batch_submissions)
    mine.results = results if single else []
    return mine, failures_of(results, None if single else sid)

