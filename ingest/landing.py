"""Receive, land and load: what `python -m ingest submit FILE` does.

1. The file's bytes are kept forever in the content-addressed archive.
2. It is parsed and validated (the cell and structure rules of the file; a
   file refused for them also gets the cross-period findings, from a preview
   of the audit).
3. A report without file-level errors is loaded (COPY, one transaction) as a
   *pending* submission, which is never current; its rows are then audited in
   the database (`audit`, e.g. the GX submission audit); then ONE transaction
   makes it accepted (the newest accepted report of a (county, period) by
   receipt time is the current one) or refused (its values removed). A crash at
   any point leaves at most a pending submission, which is never visible as
   data and is started over when the same file comes again.
4. A refused file is copied to quarantine with its findings; every submission
   gets a feedback report in the county's outbox.

`submit_batch(files)` does this for many files at once, paying the per-batch costs once (one
connection, the schema check, the prepared GX checkpoint) and taking them in *waves*
(`waves`): wave k is the k-th file of every county of the batch, so a county's files are decided
one after the other in receipt order while different counties go side by side. Per wave: archive
and duplicate check per file; parse and file-level checks per file; load each file
without errors as a pending submission; ONE audit call over all the wave's pending submissions;
then each submission decided in its own transaction; quarantine and feedback per file. A file whose
handling raises is an internal error, never a verdict on the report, and the others go on: it is
*held* (`_hold`: landing.held_files, kept in quarantine, the county told its report is held, not
refused; the team alerted by the caller; `ops reprocess --held` takes it again), or, when the
infrastructure failed (the database connection, the disk), an "error" result that stays in the inbox
to be tried again (a pending submission is never current). `submit(path)` is the batch of one and
raises such an error, as it always did.

The phases are read top to bottom in `_run_wave`; the landing tables are written by `ingest.submissions`,
and the records of an intake (`Incoming`, `Work`, `SubmitResult`) are `ingest.intake`'s.
No SQL is ever built from file contents: values travel as parameters or COPY data.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from core import config
from core.faults import point
from core.files import write_atomic
from ingest import submissions as sql
from ingest.archive import atomic_copy, record_receipt, suffix
from ingest.archive import keep as archive  # (tests replace it to fail the disk)
from ingest.current import required_forms
from ingest.findings import ERROR, Finding, finding
from ingest.intake import Incoming, SubmitResult, Work, receipt_time, safe_display_name
from ingest.parse import Report, parse_report
from ingest.submissions import LOCAL_TZ, RAW_COLUMNS, forget_submission

__all__ = ["LOCAL_TZ", "RAW_COLUMNS", "Incoming", "SubmitResult", "Work", "decide_wave", "ensure_schema",
           "forget_submission", "load_wave", "receipt_time", "safe_display_name", "submit", "submit_batch",
           "waves"]

log = logging.getLogger(__name__)


def ensure_schema(conn) -> None:
    """The landing and raw schemas at the newest revision (ingest/schema.py: a version read, or the
    migrations once)."""
    from ingest.schema import ensure

    ensure(conn)


def submit(path: Path, *, file_name: str | None = None, received_at: datetime | None = None,
           conn=None, write_feedback: bool = True, audit=None, replaces: int | None = None,
           channel: str = "submit") -> SubmitResult:
    """Receive one file: archive it, validate it, and land/load it (the batch of one).

    `audit(conn, submission_id) -> list[Finding]` audits one pending submission (e.g.
    ingest.audit.audit_submission). `replaces` (`ops reprocess`): the decided submission of
    the same bytes that the new decision replaces; `channel` "replay" for a file of the archive processed
    again (no new receipt). An infrastructure error is raised, as it always was; an internal error holds
    the file (status "held")."""
    per_batch = None if audit is None else (lambda c, sids: {sid: audit(c, sid) for sid in sids})
    [result] = submit_batch([Incoming(Path(path), file_name, received_at, replaces, channel)], conn=conn,
                            write_feedback=write_feedback, audit=per_batch)
    if result.status == "error":
        raise result.exception
    return result


def submit_batch(files: Sequence[Incoming | Path | str], *, conn=None, write_feedback: bool = True,
                 audit=None) -> list[SubmitResult]:
    """Receive many files with one connection and one schema check, in waves (see `waves`): one
    result per file, in the order given (which should be receipt order).

    `audit(conn, submission_ids) -> {submission_id: [Finding]}` audits all pending submissions of a
    wave at once. A file whose handling raised an Exception is "held", or "error" when the infrastructure
    failed (see module doc; message in `error`, the exception in `exception`); the others go on.
    BaseException (a kill) propagates."""
    from core.warehouse import connect

    items = [f if isinstance(f, Incoming) else Incoming(Path(f)) for f in files]
    works = [Work(Path(it.path), safe_display_name(it.file_name or Path(it.path).name), it.received_at,
                  replaces=it.replaces, channel=it.channel) for it in items]
    own = conn is None
    conn = conn or connect(autocommit=True)
    try:
        if not conn.autocommit:
            raise ValueError("submit() needs an autocommit connection: it manages its own transactions")
        ensure_schema(conn)
        for wave in waves(works, _county_of if len(works) > 1 else lambda w: None):
            _run_wave(conn, wave, audit, write_feedback)
    finally:
        if own:
            conn.close()
    return [w.result for w in works]


def waves(items: list, county_of) -> list[list]:
    """Wave k holds the k-th item of every county (in the order given): a county's files are
    handled one after the other (a correction after the report it corrects, Q3 after Q2, so the
    cross-period checks see the earlier quarter), different counties side by side. Items of no
    known county (None) are one group: one per wave (they might even be the same bytes)."""
    groups: dict[str | None, list] = {}
    for item in items:
        groups.setdefault(county_of(item), []).append(item)
    depth = max((len(g) for g in groups.values()), default=0)
    return [[g[k] for g in groups.values() if k < len(g)] for k in range(depth)]


def _county_of(work: Work) -> str | None:
    from ingest.parse import sniff_county

    return sniff_county(work.path, work.name)


# ----------------------------------------------------------------------------- one wave, phase by phase

def _run_wave(conn, wave: list[Work], audit, write_feedback: bool) -> None:
    """The phases of one wave, in order; each file's problems stay its own (see `_each`)."""
    live = _each(wave, lambda w: _receive(conn, w))  # archive, receipt, duplicate
    live = _each(live, lambda w: _validate(conn, w))  # parse, lateness; refused at once
    live = load_wave(conn, live)  # pending submissions, never current
    if audit is not None and live:
        live = _audit_wave(conn, live, audit)  # the database audit (the GX submission suite)
    decide_wave(conn, live)  # accepted (a new version) or refused
    _hold_failures(conn, wave)  # an internal error is an incident, not a verdict
    _release_held(conn, wave)
    _answer_wave(wave, write_feedback)  # quarantine and feedback


def _receive(conn, w: Work) -> None:
    """Archive the bytes and the receipt; a byte-identical file received before is decided here (duplicate).
    A replay of the archive (reprocess, restore) adds no receipt: it is not an arrival."""
    w.received_at = w.received_at or receipt_time(w.path)
    w.sha, w.archived = archive(w.path, w.name)
    if w.channel != "replay":
        record_receipt(w.archived, w.name, w.received_at, w.channel)
    w.result = _duplicate_of(conn, w.archived, w.sha, w.name, w.received_at, replacing=w.replaces is not None)


def _duplicate_of(conn, archived: Path, sha: str, name: str, received_at: datetime, *,
                  replacing: bool = False) -> SubmitResult | None:
    """Record the file; if these bytes were received and decided before, the no-op answer (else None).
    `replacing` (`ops reprocess`): the file is processed again whatever it was decided before."""
    with conn.transaction():
        first = sql.record_file(conn, archived, sha, received_at)
    if first is None or replacing:
        return None
    # Byte-identical to a file already received: a no-op. The county still gets an answer.
    dup = finding("submission.duplicate", first_received=first[1].astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"))
    period = f"{first[3]}Q{first[4]}" if first[3] else None
    return SubmitResult(first[0], "duplicate", sha, name, first[2], period, first[5], 0, [dup])


def _validate(conn, w: Work) -> None:
    """Parse, file-level and lateness checks; a file with errors is recorded refused at once, with what the
    audit would add (its preview: every problem in one answer, not one round per fix)."""
    from ingest.audit import preview_findings

    report = w.report = parse_report(w.archived, w.name)
    w.findings = list(report.findings)
    if report.county_code and report.period:
        w.findings += _lateness(w)
        if any(f.severity == ERROR for f in w.findings):
            w.findings += preview_findings(conn, report)
    if any(f.severity == ERROR for f in w.findings):
        _refuse_at_once(conn, w)


def _lateness(w: Work) -> list[Finding]:
    """A report received (local time) after its period's deadline is late (a warning)."""
    received = w.received_at.astimezone(LOCAL_TZ)
    if received.date() > w.report.period.deadline:
        return [finding("submission.late", received=received.strftime("%Y-%m-%d %H:%M"),
                        deadline=w.report.period.deadline.isoformat())]
    return []


def _refuse_at_once(conn, w: Work) -> None:
    """A file with file-level errors: recorded refused with its findings, without loading a value."""
    with conn.transaction():
        sql.after_builds(conn)
        sql.forget_replaced(conn, [w])
        sid = sql.insert_submission(conn, w, status="refused")
        sql.record_findings(conn, sid, w.findings)
    w.sid = sid
    w.result = SubmitResult(sid, "refused", w.sha, w.name, w.report.county_code, _period(w.report), None, 0,
                            w.findings)


def load_wave(conn, works: list[Work]) -> list[Work]:
    """The wave's reports as pending submissions in ONE transaction: one multi-row insert of the
    submissions and ONE COPY of every value, the speed of a bare COPY. Pending submissions are never
    current, so loading them together changes nothing anyone can see. If that fails, file by file,
    so that only the file at fault is an error. Returns the works still undecided."""
    if len(works) > 1:
        try:
            with conn.transaction():
                sids = sql.insert_submissions(conn, works, status="pending")
                for w, sid in zip(works, sids, strict=True):
                    w.sid = sid
                sql.copy_rows(conn, [(w.sid, w.sha, w.report) for w in works])
            for w in works:
                w.rows = len(w.report.values)
            return works
        except Exception:
            log.warning("intake: loading the wave at once failed; loading its files one by one", exc_info=True)
            for w in works:
                w.sid = None
    return _each(works, lambda w: _load_pending(conn, w))


def _load_pending(conn, w: Work) -> None:
    """Load the values as a pending submission (never current, whatever happens next)."""
    with conn.transaction():
        sid = sql.insert_submission(conn, w, status="pending")
        w.rows = _copy_values(conn, sid, w.sha, w.report)
    w.sid = sid


def _copy_values(conn, sid: int, sha: str, report: Report) -> int:
    """One row per value (tests replace it to die in the middle of a load)."""
    sql.copy_rows(conn, [(sid, sha, report)])
    return len(report.values)


def _audit_wave(conn, live: list[Work], audit) -> list[Work]:
    """ONE audit call over the wave's pending submissions; if it raises, each submission is audited
    alone so that only the one at fault is an error (it stays pending, never current)."""
    point("receive.loaded")
    try:
        found = audit(conn, [w.sid for w in live])
    except Exception as exc:
        if len(live) == 1:
            log.exception("intake: the audit of %s failed: %s", live[0].name, exc)
            live[0].result = _error_result(live[0], exc)
            return []
        log.warning("intake: the audit of submissions %s raised; auditing them one by one",
                    [w.sid for w in live], exc_info=True)
        found = {}
        _each(live, lambda w: found.update(audit(conn, [w.sid])))
    for w in live:
        if w.result is None:  # the audit's rules are not the file-level checks': nothing is said twice
            w.findings += list(found.get(w.sid, []))
    return [w for w in live if w.result is None]


def decide_wave(conn, works: list[Work]) -> None:
    """Every audited submission of the wave accepted (versions by receipt time) or refused (values
    removed), in ONE transaction of set-based statements. If that fails, file by file (each in its own
    transaction), so that only the file at fault is an error."""
    if len(works) > 1:
        try:
            with conn.transaction():
                results = _decide_set(conn, works)
            for w, result in zip(works, results, strict=True):
                w.result = result
            return
        except Exception:
            log.warning("intake: deciding the wave at once failed; deciding its files one by one", exc_info=True)
    _each(works, lambda w: _decide_work(conn, w))


def _decide_work(conn, w: Work) -> None:
    """One submission decided alone, in its own transaction (the fallback of `decide_wave`)."""
    with conn.transaction():
        [w.result] = _decide_set(conn, [w])


def _decide_set(conn, works: list[Work]) -> list[SubmitResult]:
    """The decisions of `works` inside the caller's transaction; their results, in order."""
    sql.after_builds(conn)
    sql.forget_replaced(conn, works)
    refused = [w for w in works if any(f.severity == ERROR for f in w.findings)]
    accepted = [w for w in works if not any(f.severity == ERROR for f in w.findings)]
    accepted_ids = {w.sid for w in accepted}
    sql.record_findings_of(conn, works)
    if refused:
        sql.refuse(conn, [w.sid for w in refused])
    versions, present = sql.accept(conn, accepted) if accepted else ({}, {})
    results = []
    for w in works:
        r = w.report
        result = SubmitResult(w.sid, "refused", w.sha, w.name, r.county_code, _period(r), None, 0, w.findings)
        if w.sid in accepted_ids:
            key = (r.county_code, r.period.year, r.period.quarter)
            result.status, result.version, result.rows_loaded = "accepted", versions[w.sid], w.rows
            result.missing_forms = sorted(required_forms(r.county_code, r.period) - present.get(key, set()))
        results.append(result)
    return results


def _hold_failures(conn, wave: list[Work]) -> None:
    """Every file whose handling raised an internal error (not the infrastructure's) is held."""
    for w in wave:
        if w.result is not None and w.result.status == "error" and _holdable(w):
            _each([w], lambda w: _hold(conn, w), keep_result=True)


def _holdable(w: Work) -> bool:
    """An error is held (an incident) unless it is the infrastructure's (the database connection, the
    disk): those leave the file in the inbox to be tried again as it is. Held needs the archived bytes."""
    import psycopg

    exc = w.result.exception
    return w.archived is not None and not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | OSError)


def _hold(conn, w: Work) -> None:
    """An internal error is an incident, not a verdict on the report: the file is held (landing.held_files;
    a pending submission of it removed, a version it replaces left current), kept in quarantine, and the
    county told that its report is held. `python -m ops reprocess --held` takes it again."""
    error = w.result.error
    with conn.transaction():
        if w.sid is not None:
            forget_submission(conn, w.sid)
        conn.execute(
            "insert into landing.held_files (file_sha256, file_name, received_at, error) values (%s, %s, %s, %s) "
            "on conflict (file_sha256) do update set file_name = excluded.file_name, "
            "received_at = excluded.received_at, error = excluded.error, held_at = now()",
            (w.sha, w.name, w.received_at, error))
    report = w.report
    # the county the receipt goes to: the parsed title block, else what the sniffer reads of it
    county = report.county_code if report and report.county_code else _county_of(w)
    held = finding("submission.held", detail=type(w.result.exception).__name__)
    w.result = SubmitResult(None, "held", w.sha, w.name, county, _period(report) if report else None, None, 0,
                            [held], error=error, exception=w.result.exception)


def _release_held(conn, wave: list[Work]) -> None:
    """A held file processed again (ops reprocess --held) and decided is no longer held."""
    decided = [w.sha for w in wave if w.result is not None and w.result.status not in ("error", "held")]
    if decided:
        conn.execute("delete from landing.held_files where file_sha256 = any(%s)", (decided,))


def _answer_wave(wave: list[Work], write_feedback: bool) -> None:
    """Every file with an answer (not an infrastructure error, which stays in the inbox) is answered."""
    for w in wave:
        if w.result is not None and w.result.status != "error":
            _each([w], lambda w: _answer(w, write_feedback), keep_result=True)


def _answer(w: Work, write_feedback: bool) -> None:
    """Quarantine a refused file; every decided file gets its feedback in the county's outbox."""
    result = w.result
    if result.status in ("refused", "held"):
        result.quarantine_path = _quarantine(w.archived, w.sha, w.name, result)
    if write_feedback:
        from ingest.feedback import write_feedback as _write

        result.feedback_paths = _write(result, w.received_at)


def _quarantine(archived: Path, sha: str, name: str, result: SubmitResult) -> Path:
    """Refused files are kept in quarantine with their findings (never deleted)."""
    dest = config.quarantine_dir() / f"{sha}{suffix(name)}"
    atomic_copy(archived, dest)
    findings_path = dest.with_suffix(dest.suffix + ".findings.json")
    write_atomic(findings_path, json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    return dest


# ----------------------------------------------------------------------------- a file's problems, its own

def _each(works: list[Work], step, *, keep_result: bool = False) -> list[Work]:
    """Run `step` on each work not decided yet; an Exception makes that file's result an error
    (logged) and never stops the others. Returns the works still undecided."""
    for w in works:
        if w.result is not None and not keep_result:
            continue
        try:
            step(w)
        except Exception as exc:
            log.exception("intake: %s failed: %s", w.name, exc)
            w.result = _error_result(w, exc)
    return [w for w in works if w.result is None]


def _error_result(w: Work, exc: Exception) -> SubmitResult:
    report = w.report
    return SubmitResult(w.sid, "error", w.sha, w.name, report.county_code if report else None,
                        str(report.period) if report and report.period else None, None, 0,
                        error=f"{type(exc).__name__}: {exc}", exception=exc)


def _period(report: Report) -> str | None:
    return str(report.period) if report.period else None
