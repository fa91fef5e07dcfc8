"""The preview: parse and check uploaded files without keeping anything in the platform.

What `python -m ingest check` does (ingest.parse.parse_report, then ingest.audit.preview_findings: the
submission suites' own queries against the accepted history, rolled back), plus what only the portal
knows: the file must be the account's county's report. The bytes wait under a generated name in the
portal's previews folder (removed after a day) so that the county can download the annotated copy or
submit the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core import registry
from ingest.findings import ERROR, WARNING, Finding, count, finding
from ingest.landing import safe_display_name
from portal.settings import previews_dir

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
SUFFIXES = (".xlsx", ".xls", ".csv")
KEEP_SECONDS = 24 * 3600
log = logging.getLogger(__name__)


@dataclass
class Upload:
    """One file as it came: the name to show and where its bytes wait (a spooled temporary file)."""

    name: str
    file: object  # a binary file object positioned anywhere


def new_id() -> str:
    return secrets.token_urlsafe(16)


def _stored(preview_id: str, n: int, suffix: str) -> Path:
    return previews_dir() / f"{preview_id}-{n}{suffix}"


def stored_path(preview_id: str, item: dict) -> Path:
    return _stored(preview_id, item["n"], item["suffix"])


def _wrong_county(county: str, account_county: str) -> Finding:
    names = {c.code: c.name_zh for c in registry.counties()}
    f = finding("meta.county", detail=f"本账号只能报送{names.get(account_county, account_county)}的报表，"
                                      f"该文件的填报单位为{names.get(county, county)}")
    return Finding(f.severity, "portal.county", f.sheet, f.cell, f.town_code, f.indicator, f.message_zh,
                   f"This account reports for {account_county} only; the file is the report of {county}.")


def _received_before(conn, path: Path) -> list[Finding]:
    """The same bytes were decided before: submitting them again changes nothing (submission.duplicate)."""
    from ingest.archive import sha256_file

    row = conn.execute("select min(received_at) from landing.submissions where file_sha256 = %s "
                       "and status in ('accepted', 'refused')", (sha256_file(path),)).fetchone()
    if row[0] is None:
        return []
    return [finding("submission.duplicate", first_received=row[0].astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"))]


def check_file(path: Path, name: str, account_county: str | None, conn) -> dict:
    """Parse and check one stored file; the preview item (findings as dicts)."""
    from ingest.audit import preview_findings
    from ingest.parse import parse_report

    report = parse_report(path, name)
    findings = list(report.findings)
    if report.county_code and account_county and report.county_code != account_county:
        findings.append(_wrong_county(report.county_code, account_county))
    elif report.county_code and report.period:
        findings += preview_findings(conn, report) + _received_before(conn, path)
        today = datetime.now(LOCAL_TZ)
        if today.date() > report.period.deadline:
            findings.append(finding("submission.late", received=today.strftime("%Y-%m-%d %H:%M"),
                                    deadline=report.period.deadline.isoformat()))
    return {"county_code": report.county_code, "period": str(report.period) if report.period else None,
            "forms": list(report.forms), "status": "refused" if count(findings, ERROR) else "accepted",
            "errors": count(findings, ERROR), "warnings": count(findings, WARNING),
            "findings": [f.to_dict() for f in findings]}


def _store(upload: Upload, target: Path) -> tuple[str, int]:
    """Copy the upload to its generated name; (sha256, bytes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    upload.file.seek(0)
    with open(target, "xb") as out:
        for chunk in iter(lambda: upload.file.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def _internal_error() -> dict:
    zh = "检查时平台发生内部错误，这不是报表的问题；数据团队会修复，请稍后重试。"
    en = "The platform failed while checking the file; this is not a problem of the report. Please try again later."
    return {"county_code": None, "period": None, "forms": [], "status": "error", "errors": 0, "warnings": 0,
            "findings": [{"severity": "info", "code": "check.internal_error", "sheet": None, "cell": None,
                          "town_code": None, "indicator": None, "message_zh": zh, "message_en": en}]}


def _unsupported(n: int, name: str) -> dict:
    f = finding("file.unreadable", detail="只接受 .xlsx、.xls 或 .csv 文件")
    return {"n": n, "name": name, "suffix": None, "sha256": None, "size": 0, "county_code": None, "period": None,
            "forms": [], "status": "refused", "errors": 1, "warnings": 0,
            "findings": [{**f.to_dict(), "message_en": "Only .xlsx, .xls and .csv files are accepted."}]}


def create_preview(conn, account, uploads: list[Upload]) -> str:
    """Store and check the uploaded files; record the preview; return its id."""
    prune()
    preview_id = new_id()
    items = []
    for n, upload in enumerate(uploads, start=1):
        name = safe_display_name(upload.name)
        suffix = Path(name).suffix.lower()
        if suffix not in SUFFIXES:
            items.append(_unsupported(n, name))
            continue
        path = _stored(preview_id, n, suffix)
        sha, size = _store(upload, path)
        try:
            checked = check_file(path, name, account.county_code, conn)
        except Exception:  # a defect of the parser, never a verdict on the file (as ingest holds such a file)
            log.exception("portal: checking %s raised", name)
            checked = _internal_error()
        items.append({"n": n, "name": name, "suffix": suffix, "sha256": sha, "size": size, **checked})
    counties = {i["county_code"] for i in items if i["county_code"]}
    county = account.county_code or (counties.pop() if len(counties) == 1 else None)
    conn.execute("insert into portal.previews (preview_id, account_id, county_code, files) values (%s, %s, %s, %s)",
                 (preview_id, account.account_id, county, json.dumps(items, ensure_ascii=False)))
    return preview_id


def load_preview(conn, preview_id: str, account) -> dict | None:
    """The preview if this account made it (a preview is its author's alone), else None."""
    row = conn.execute("select preview_id, account_id, county_code, created_at, files, upload_id "
                       "from portal.previews where preview_id = %s", (preview_id,)).fetchone()
    if row is None or row[1] != account.account_id:
        return None
    return {"preview_id": row[0], "county_code": row[2], "created_at": row[3], "files": row[4], "upload_id": row[5]}


def submittable(preview: dict) -> bool:
    """Every file checked without errors, of one county and one period, not submitted yet."""
    files = preview["files"]
    return (bool(files) and preview["upload_id"] is None and all(f["status"] == "accepted" for f in files)
            and len({(f["county_code"], f["period"]) for f in files}) == 1
            and all(stored_path(preview["preview_id"], f).exists() for f in files))


def prune(now: float | None = None) -> None:
    """Previews are kept a day, then their bytes go (a submitted file is in the archive)."""
    folder = previews_dir()
    if not folder.is_dir():
        return
    limit = (now or time.time()) - KEEP_SECONDS
    for p in folder.iterdir():
        if p.is_file() and p.stat().st_mtime < limit:
            p.unlink(missing_ok=True)


def clear(preview_id: str, items: list[dict]) -> None:
    for item in items:
        if item.get("suffix"):
            stored_path(preview_id, item).unlink(missing_ok=True)


