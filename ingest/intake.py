"""What an intake takes and gives: the `Incoming` file, the `Work` of one file on its way through a wave of
`ingest.landing.submit_batch`, and the `SubmitResult` the county and the caller get."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest.findings import ERROR, WARNING, Finding, count
from ingest.sheet.report import Report


@dataclass
class SubmitResult:
    submission_id: int | None  # None only for an error before the file was recorded
    status: str  # accepted | refused | duplicate (submission_id is then the original's) | error
    file_sha256: str
    file_name: str
    county_code: str | None
    period: str | None
    version: int | None
    rows_loaded: int
    findings: list[Finding] = field(default_factory=list)
    feedback_paths: list[Path] = field(default_factory=list)
    quarantine_path: Path | None = None
    missing_forms: list[str] = field(default_factory=list)  # the county's report is incomplete without these
    error: str | None = None  # status "error" (the file stays in the inbox) or "held": what went wrong
    exception: Exception | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {
            "submission_id": self.submission_id, "status": self.status, "file_sha256": self.file_sha256,
            "file_name": self.file_name, "county_code": self.county_code, "period": self.period,
            "version": self.version, "rows_loaded": self.rows_loaded,
            "errors": count(self.findings, ERROR), "warnings": count(self.findings, WARNING),
            "findings": [f.to_dict() for f in self.findings],
            "feedback": [str(p) for p in self.feedback_paths],
            "quarantine": str(self.quarantine_path) if self.quarantine_path else None,
            "missing_forms": self.missing_forms,
        } | ({"error": self.error} if self.status in ("error", "held") else {})


@dataclass(frozen=True)
class Incoming:
    """A file to receive: its bytes, the name to show (default: the path's), when it arrived
    (default: its modification time, `receipt_time`)."""

    path: Path
    file_name: str | None = None
    received_at: datetime | None = None
    replaces: int | None = None  # `ops reprocess`: the submission of these bytes its decision replaces
    channel: str = "submit"  # how it came (ingest.archive.CHANNELS); "replay": a file of the archive again


@dataclass
class Work:
    """One file on its way through a wave of `submit_batch`."""

    path: Path
    name: str
    received_at: datetime | None
    sha: str = ""
    archived: Path | None = None
    report: Report | None = None
    findings: list[Finding] = field(default_factory=list)
    sid: int | None = None
    rows: int = 0
    result: SubmitResult | None = None
    replaces: int | None = None
    channel: str = "submit"


def safe_display_name(name: str) -> str:
    """A file name from outside, fit for display and storage as text (never as a path)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip() or "unnamed"
    return base[:200]


def receipt_time(path: Path) -> datetime:
    """When the file arrived: its modification time in the inbox, never in the future."""
    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return min(mtime, datetime.now(UTC))
