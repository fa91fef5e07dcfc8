"""Submitting a checked preview: through the same intake as every other file.

The files are written atomically into the inbox under generated names that carry what the parser
may read from a name (county, period, form: checked in the preview, never the county's own file
name): `portal-<county>-<period>[-<form>]-<id>.<ext>`. Then, by `TWOTOWNS_PORTAL_INTAKE`:

- `inbox` (default): the `county_reports` DAG takes them on its next run (every 10 minutes);
- `airflow`: the same, and a `county_reports` run is triggered at once through Airflow's REST API v2
  (`TWOTOWNS_PORTAL_AIRFLOW_URL`, `..._USER`, `..._PASSWORD`); if that fails the schedule takes them;
- `inline` (`make portal`, the tests): a worker thread of the portal calls what the DAG's task calls,
  `ingest.inbox.receive_batch`, at once.

The upload is recorded in `portal.uploads` (who, when, which bytes); the receipt page follows the
decision of those bytes in `landing.submissions`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from core import config
from portal.check import clear, new_id, stored_path, submittable
from portal.status import decided_before

log = logging.getLogger(__name__)
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portal-intake")  # one intake at a time
_lock = threading.Lock()


def inbox_name(item: dict) -> str:
    form = f"-{item['forms'][0]}" if item["suffix"] == ".csv" and len(item["forms"]) == 1 else ""
    return f"portal-{item['county_code']}-{item['period']}{form}-{secrets.token_hex(4)}{item['suffix']}"


def _into_inbox(source: Path, name: str) -> Path:
    """Atomically: a hidden temporary file in the inbox (the DAG lists no dot files), then renamed."""
    inbox = config.inbox_dir()
    inbox.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=inbox, prefix=".portal-")
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, inbox / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return inbox / name


def submit_preview(conn, preview: dict, account, mode: str, settings=None) -> str:
    """Record the upload, put its files into the inbox and start the intake; returns the upload id."""
    if not submittable(preview):
        raise ValueError("this preview cannot be submitted")
    upload_id = new_id()
    items = preview["files"]
    with conn.transaction():
        row = conn.execute("update portal.previews set upload_id = %s where preview_id = %s and upload_id is null "
                           "returning preview_id", (upload_id, preview["preview_id"])).fetchone()
        if row is None:
            raise ValueError("this preview was submitted already")
        files = [{"name": i["name"], "sha256": i["sha256"], "inbox_name": inbox_name(i), "forms": i["forms"],
                  "duplicate_of": decided_before(conn, i["sha256"])} for i in items]
        conn.execute(
            "insert into portal.uploads (upload_id, preview_id, account_id, county_code, period, files, intake) "
            "values (%s, %s, %s, %s, %s, %s, %s)",
            (upload_id, preview["preview_id"], account.account_id, items[0]["county_code"], items[0]["period"],
             json.dumps(files, ensure_ascii=False), mode))
    paths = [str(_into_inbox(stored_path(preview["preview_id"], i), f["inbox_name"])) for i, f in zip(items, files,
                                                                                                      strict=True)]
    clear(preview["preview_id"], items)
    if mode == "inline":
        _worker.submit(_receive, paths)
    elif mode == "airflow":
        note = trigger_county_reports(settings)
        if note:
            conn.execute("update portal.uploads set intake_note = %s where upload_id = %s", (note, upload_id))
    return upload_id


def _receive(paths: list[str]) -> None:
    from ingest.inbox import receive_batch

    try:
        with _lock:
            receive_batch(paths)
    except Exception:  # the files stay in the inbox: county_reports (or `ingest submit`) takes them
        log.exception("portal intake: receiving %s failed; the files stay in the inbox", paths)


def drain(timeout: float | None = None) -> None:
    """Wait for the intake work queued so far (tests, the benchmark)."""
    _worker.submit(lambda: None).result(timeout)


def trigger_county_reports(settings) -> str | None:
    """Trigger `county_reports` through Airflow's REST API v2 (a JWT from /auth/token); None when done,
    else what went wrong (the scheduled run takes the files then)."""
    import httpx

    if not settings or not settings.airflow_url:
        return "no TWOTOWNS_PORTAL_AIRFLOW_URL: the scheduled county_reports run takes the files"
    base = settings.airflow_url.rstrip("/")
    try:
        with httpx.Client(timeout=10) as client:
            token = client.post(f"{base}/auth/token", json={"username": settings.airflow_user,
                                                            "password": settings.airflow_password})
            token.raise_for_status()
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            run = client.post(f"{base}/api/v2/dags/county_reports/dagRuns", headers=headers,
                              json={"logical_date": None, "note": "triggered by the county portal",
                                    "dag_run_id": f"portal__{datetime.now(UTC):%Y%m%dT%H%M%S}_{secrets.token_hex(3)}"})
            run.raise_for_status()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        log.warning("portal: triggering county_reports failed (%s); the schedule takes the files", exc)
        return f"trigger failed: {type(exc).__name__}"
    return None
