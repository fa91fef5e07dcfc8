"""The inbox: files waiting to be received, in arrival order, and the batches that receive them.

`county_reports` lists the inbox (`pending_files`), groups the files by the county their title
block names and packs whole counties into batches (`plan_batches`), one mapped task each
(`receive_batch`): different counties run in parallel, the files of one county always in one
batch, in receipt order.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

from core import config

ACCEPTED_SUFFIXES = {".xlsx", ".xls", ".csv"}
MAX_MAP_LENGTH = 1024  # Airflow's [core] max_map_length default: a run never maps more tasks

log = logging.getLogger(__name__)


class IntakeError(RuntimeError):
    """Some files of a batch could not be handled (the database or the disk failed); they stay in the inbox."""


def pending_files(inbox: Path | None = None) -> list[str]:
    """Every regular file in the inbox (any type: wrong types are refused, not ignored),
    oldest first, so that a correction is received after the report it corrects."""
    inbox = inbox or config.inbox_dir()
    if not inbox.is_dir():
        return []
    # symlinks are not files a county sent (and could point anywhere): never followed
    files = [p for p in inbox.iterdir() if p.is_file() and not p.is_symlink() and not p.name.startswith(".")]
    files.sort(key=lambda p: (p.stat().st_mtime, p.name))
    return [str(p) for p in files]


def plan_batches(paths: list[str], *, batch_files: int | None = None, max_batches: int | None = None,
                 county_of: Callable[[str], str | None] | None = None) -> list[list[str]]:
    """Whole counties packed into batches of at most `batch_files` files (config.intake_batch_files;
    a county with more files is a batch of its own), at most `max_batches` batches
    (config.intake_max_batches, never above MAX_MAP_LENGTH: the size is doubled until they fit).

    `paths` come in receipt order (`pending_files`); every batch keeps that order, so each county's
    files stay in it. The county is read from the title block (`ingest.parse.sniff_county`, never
    from the file name); a file whose county cannot be read is a batch of its own (while batches
    remain under the limit). Deterministic: the same inbox gives the same batches."""
    if not paths:
        return []
    from ingest.parse import sniff_county

    county_of = county_of or sniff_county
    limit = batch_files or config.intake_batch_files()
    most = min(max_batches or config.intake_max_batches(), MAX_MAP_LENGTH)
    groups = _county_groups(paths, county_of)
    alone = True
    size = max(limit, math.ceil(len(paths) / most))
    while len(batches := _pack(groups, size, alone)) > most:
        if alone:
            alone = False  # too many unreadable files to give each its own task: pack them too
        else:
            size *= 2
    receipt = {p: i for i, p in enumerate(paths)}
    return [sorted(b, key=receipt.__getitem__) for b in batches]  # the inbox's order inside a batch


def _county_groups(paths: list[str], county_of) -> list[tuple[bool, list[str]]]:
    """(is of an unknown county, files) per county, in the order of each county's first file."""
    groups: dict[object, list[str]] = {}
    for i, p in enumerate(paths):
        county = county_of(p)
        groups.setdefault(county if county is not None else ("unknown", i), []).append(p)
    return [(isinstance(key, tuple), files) for key, files in groups.items()]


def _pack(groups: list[tuple[bool, list[str]]], size: int, alone: bool) -> list[list[str]]:
    """Next-fit packing of whole groups; an unknown county's file alone when `alone`."""
    batches: list[list[str]] = []
    current: list[str] = []
    for unknown, files in groups:
        if current and (len(current) + len(files) > size or (alone and unknown)):
            batches.append(current)
            current = []
        current = current + files
        if alone and unknown:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


def batch_label(paths: list[str]) -> str:
    """How a batch is named in the Airflow UI: its first file and how many follow."""
    first = Path(paths[0]).name if paths else "empty"
    return first if len(paths) <= 1 else f"{first} (+{len(paths) - 1})"


def receive(path: str) -> dict:
    """Submit one inbox file, then remove it from the inbox (its bytes are in the archive).
    Idempotent: a file already gone (a retried task) is reported as such."""
    return receive_batch([path])[0]


def receive_batch(paths: list[str]) -> list[dict]:
    """Submit inbox files as one batch (`ingest.landing.submit_batch`, waves per county, the
    submission audit once per wave), then remove each decided file from the inbox. One summary per
    path, in order: a file already gone (a retried task) is `gone`; a file held by an internal error is
    `held` (taken out of the inbox: it is archived and quarantined, see ingest.landing); a file the
    infrastructure failed is `error` (with the message), stays in the inbox and is tried again on the
    next run. Never raises for one file's error: see `check_batch`."""
    from ingest.landing import Incoming, submit_batch

    present = [Path(p) for p in paths if Path(p).exists()]
    incoming = [Incoming(p, channel="inbox") for p in present]
    results = iter(submit_batch(incoming, audit=submission_audit()) if present else [])
    out = []
    for p in map(Path, paths):
        if p not in present:
            out.append({"file_name": p.name, "status": "gone"})
            continue
        result = next(results)
        if result.status == "error":
            log.error("intake: %s stays in the inbox: %s", p.name, result.error)
        else:
            p.unlink(missing_ok=True)
        summary = result.to_dict()
        summary.pop("findings")
        out.append(summary)
    return out


def check_batch(results: list[dict]) -> list[dict]:
    """The results, or IntakeError (after every other file was decided) if a file was an error:
    the task fails so that Airflow retries it and alerts. Known gap: a retry reports the files the
    failed try decided as `gone`, so their periods are missing from that run's asset event (as a
    failed per-file task's were before); the next accepted report announces the warehouse anew."""
    errors = [f"{r['file_name']}: {r.get('error')}" for r in results if r.get("status") == "error"]
    if errors:
        raise IntakeError(f"{len(errors)} of {len(results)} files could not be handled and stay in the inbox: "
                          + "; ".join(errors))
    return results


def submission_audit():
    """The submission audit over a wave: `audit(conn, submission_ids) -> {id: [Finding]}`, one GX
    checkpoint run over all of them (`ingest.audit.audit_batch`)."""
    from ingest.audit import audit_batch

    return audit_batch
