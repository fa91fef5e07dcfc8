"""The inbox: files waiting to be received, in arrival order."""

from __future__ import annotations

from pathlib import Path

from core import config

ACCEPTED_SUFFIXES = {".xlsx", ".xls", ".csv"}


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


def receive(path: str) -> dict:
    """Submit one inbox file, then remove it from the inbox (its bytes are in the archive).
    Idempotent: a file already gone (a retried task) is reported as such."""
    from ingest.landing import submit

    p = Path(path)
    if not p.exists():
        return {"file_name": p.name, "status": "gone"}
    from expectations.submission import audit_submission

    result = submit(p, audit=audit_submission)  # the GX submission audit decides with the file-level checks
    p.unlink(missing_ok=True)
    summary = result.to_dict()
    summary.pop("findings")
    return summary
