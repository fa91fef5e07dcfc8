"""Feedback to the county office: JSON for machines, an HTML page (Chinese first) for people."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core import config, registry
from core.files import write_atomic
from ingest.findings import ERROR, WARNING, count

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
STATUS_ZH = {"accepted": "已接收", "accepted_with_warnings": "已接收但有警告", "refused": "退回",
             "duplicate": "重复报送（未产生新版本）", "held": "暂缓处理（系统内部错误，非报表问题）"}
SEVERITY_ZH = {"error": "错误", "warning": "警告", "info": "提示"}


def feedback_status(result) -> str:
    if result.status == "refused":
        return "refused"
    if result.status in ("duplicate", "held"):
        return result.status
    return "accepted_with_warnings" if count(result.findings, WARNING) else "accepted"


@functools.cache
def _environment():
    """One environment per process: the template is compiled once, not per file."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                              autoescape=True, keep_trailing_newline=True)


def write_feedback(result, received_at: datetime) -> list[Path]:
    """Write `<outbox>/<county>/<stem>.json` and `.html`; return both paths."""
    county = result.county_code or "unidentified"
    folder = config.outbox_dir() / county
    folder.mkdir(parents=True, exist_ok=True)
    local = received_at.astimezone(LOCAL_TZ)
    stem = f"{local:%Y%m%dT%H%M%S}-{result.file_sha256[:12]}-{result.status}"
    status = feedback_status(result)
    names = {c.code: c.name_zh for c in registry.counties()}
    doc = {
        "status": status,
        "status_zh": STATUS_ZH[status],
        "county_code": result.county_code,
        "county_name": names.get(result.county_code),
        "period": result.period,
        "file_name": result.file_name,
        "file_sha256": result.file_sha256,
        "received_at": local.isoformat(),
        "submission_id": result.submission_id,
        "version": result.version,
        "rows_loaded": result.rows_loaded,
        "errors": count(result.findings, ERROR),
        "warnings": count(result.findings, WARNING),
        "findings": [f.to_dict() for f in result.findings],
        "missing_forms": result.missing_forms,
    }
    json_path = folder / f"{stem}.json"
    html_path = folder / f"{stem}.html"
    write_atomic(json_path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    towns = registry.towns_by_code()  # only the towns the findings name (a registry may hold 40,000)
    town_names = {f.town_code: towns[f.town_code].name_zh for f in result.findings if f.town_code in towns}
    indicator_names = {i.code: i.name_zh for i in registry.indicators()}
    html = _environment().get_template("feedback.html.j2").render(
        doc=doc, severity_zh=SEVERITY_ZH, town_names=town_names, indicator_names=indicator_names)
    write_atomic(html_path, html)
    return [json_path, html_path]
