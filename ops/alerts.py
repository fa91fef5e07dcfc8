"""Alerts to the data engineering team: a failed task, a critical data-quality failure,
counties that missed a reporting deadline.

Every alert is appended to `<var>/alerts/alerts.jsonl` (the local record, always) and
sent to each sink that is configured, read from the environment when an alert is sent:

| variable | meaning |
|---|---|
| `TWOTOWNS_ALERT_WEBHOOK_URL` | http(s) URL; the alert is POSTed as JSON |
| `TWOTOWNS_ALERT_WEBHOOK_FORMAT` | `json` (default: the whole alert), `text` (WeCom/DingTalk robots: |
|   | `{"msgtype": "text", "text": {"content": ...}}`) or `slack` (`{"text": ...}`) |
| `TWOTOWNS_ALERT_SMTP_URL` | `smtp://[user[:password]@]host[:port]` (`?starttls=true` to upgrade), or `smtps://...` |
| `TWOTOWNS_ALERT_EMAIL_TO` | comma-separated recipients (required with the SMTP URL) |
| `TWOTOWNS_ALERT_EMAIL_FROM` | sender (default `twotowns-pipeline@localhost`) |
| `TWOTOWNS_ALERT_TIMEOUT` | seconds per delivery attempt (default 10) |

A sink that fails does not stop the others; `send` raises `AlertDeliveryError` after
trying them all, so that a failed delivery shows in the task log and is not silently lost.

Imported by the DAG files (the callbacks): stdlib only at module level.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class Alert:
    kind: str  # task.failed | quality.critical | quality.warning | dbt.failed | deadline.missed | ...
    severity: str  # critical | error | warning | info
    title: str
    text: str
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None
    periods: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    log_url: str | None = None
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert severity must be one of {SEVERITIES}, not {self.severity!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def subject(self) -> str:
        return f"[twotowns {self.severity}] {self.title}"

    def body(self) -> str:
        lines = [self.title, "", self.text, ""]
        where = {"dag": self.dag_id, "run": self.run_id, "task": self.task_id,
                 "map_index": self.map_index if self.map_index not in (None, -1) else None,
                 "try": self.try_number, "periods": ", ".join(self.periods) or None, "log": self.log_url}
        lines += [f"{k}: {v}" for k, v in where.items() if v is not None]
        if self.details:
            lines += ["", json.dumps(self.details, ensure_ascii=False, indent=2, default=str)]
        return "\n".join(lines) + "\n"


class AlertDeliveryError(RuntimeError):
    pass


# --------------------------------------------------------------------------- sinks

def _timeout() -> float:
    return float(os.environ.get("TWOTOWNS_ALERT_TIMEOUT") or 10)


def alerts_log_path() -> Path:
    from core import config

    return config.var_dir() / "alerts" / "alerts.jsonl"


def _record(alert: Alert, deliveries: dict[str, str]) -> Path:
    path = alerts_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({**alert.to_dict(), "deliveries": deliveries}, ensure_ascii=False, default=str)
    with open(path, "a", encoding="utf-8") as f:  # one write of one line: lines of parallel tasks do not mix
        f.write(line + "\n")
    return path


def webhook_payload(alert: Alert, fmt: str) -> dict:
    if fmt == "json":
        return alert.to_dict()
    if fmt == "text":
        return {"msgtype": "text", "text": {"content": f"{alert.subject()}\n{alert.body()}"}}
    if fmt == "slack":
        return {"text": f"*{alert.subject()}*\n{alert.body()}"}
    raise ValueError(f"TWOTOWNS_ALERT_WEBHOOK_FORMAT must be json, text or slack, not {fmt!r}")


def send_webhook(alert: Alert, url: str, fmt: str = "json") -> str:
    import urllib.request

    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"TWOTOWNS_ALERT_WEBHOOK_URL must be an http(s) URL, not {url!r}")
    data = json.dumps(webhook_payload(alert, fmt), ensure_ascii=False, default=str).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "twotowns-alerts"})
    with urllib.request.urlopen(request, timeout=_timeout()) as response:  # noqa: S310 (scheme checked above)
        return f"HTTP {response.status}"


def send_email(alert: Alert, smtp_url: str, to: list[str], sender: str) -> str:
    import smtplib
    from email.message import EmailMessage

    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"TWOTOWNS_ALERT_SMTP_URL must be smtp:// or smtps://, not {parts.scheme}://")
    if not to:
        raise ValueError("TWOTOWNS_ALERT_EMAIL_TO is empty: to whom should the alert go?")
    query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    msg = EmailMessage()
    msg["Subject"] = alert.subject()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content(alert.body())
    msg.add_attachment(json.dumps(alert.to_dict(), ensure_ascii=False, indent=2, default=str).encode("utf-8"),
                       maintype="application", subtype="json", filename="alert.json")
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=_timeout())
    else:
        client = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=_timeout())
    with client:
        if parts.scheme == "smtp" and query.get("starttls") in ("1", "true", "yes"):
            client.starttls()
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(msg)
    return f"sent to {len(to)}"


def configured_sinks() -> dict[str, dict]:
    """The sinks configured in the environment (names and settings, without secrets in names)."""
    sinks: dict[str, dict] = {}
    url = os.environ.get("TWOTOWNS_ALERT_WEBHOOK_URL")
    if url:
        sinks["webhook"] = {"url": url, "fmt": os.environ.get("TWOTOWNS_ALERT_WEBHOOK_FORMAT") or "json"}
    smtp = os.environ.get("TWOTOWNS_ALERT_SMTP_URL")
    if smtp:
        to = [a.strip() for a in (os.environ.get("TWOTOWNS_ALERT_EMAIL_TO") or "").split(",") if a.strip()]
        sinks["email"] = {"smtp_url": smtp, "to": to,
                          "sender": os.environ.get("TWOTOWNS_ALERT_EMAIL_FROM") or "twotowns-pipeline@localhost"}
    return sinks


def send(alert: Alert) -> dict[str, str]:
    """Deliver the alert to every configured sink and record it; raise if a sink failed."""
    deliveries: dict[str, str] = {}
    errors: list[str] = []
    for name, settings in configured_sinks().items():
        try:
            deliveries[name] = send_webhook(alert, **settings) if name == "webhook" else send_email(alert, **settings)
        except Exception as exc:  # every sink is tried; the failures are raised together below
            deliveries[name] = f"failed: {type(exc).__name__}: {exc}"
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    path = _record(alert, deliveries)
    log.warning("alert %s (%s): %s -> %s; recorded in %s", alert.kind, alert.severity, alert.title, deliveries, path)
    if errors:
        raise AlertDeliveryError(f"alert {alert.title!r} not delivered to: " + "; ".join(errors))
    return deliveries


# --------------------------------------------------------------------------- Airflow callbacks

# Exceptions recognised by name, so that the callback module imports neither GX nor dbt.
_KINDS = {
    "QualityGateFailed": ("quality.critical", "critical", "critical data-quality failure"),
    "DbtFailed": ("dbt.failed", "error", "dbt build failed"),
    "AirflowTaskTimeout": ("task.timeout", "error", "task timed out"),
}


def alert_from_context(context) -> Alert:
    """An alert describing the failed task of an Airflow callback context."""
    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    kind, severity, what = _KINDS.get(type(exc).__name__, ("task.failed", "error", "task failed"))
    dag_id = getattr(ti, "dag_id", None)
    task_id = getattr(ti, "task_id", None)
    params = context.get("params") or {}
    periods = [str(p) for p in (params.get("periods") or ([params["period"]] if params.get("period") else []))]
    message = f"{type(exc).__name__}: {exc}" if exc is not None else "no exception recorded"
    try:
        log_url = getattr(ti, "log_url", None)
    except Exception:  # the log URL needs the api-server's base URL configured; an alert goes out without it
        log_url = None
    return Alert(
        kind=kind, severity=severity, title=f"{dag_id}.{task_id}: {what}", text=message[:4000],
        dag_id=dag_id, run_id=getattr(ti, "run_id", None) or context.get("run_id"), task_id=task_id,
        map_index=getattr(ti, "map_index", None), try_number=getattr(ti, "try_number", None),
        periods=periods, log_url=log_url, details={"exception_type": type(exc).__name__ if exc else None},
    )


def on_task_failure(context) -> None:
    """`on_failure_callback` of every task: a failed task (after its retries) alerts the team;
    a critical quality gate failure is raised as `quality.critical`."""
    send(alert_from_context(context))


def quality_warnings_alert(summary: dict, dag_id: str | None = None, run_id: str | None = None,
                           periods: list[str] | None = None) -> Alert | None:
    """A warning-level alert for a quality gate that passed with non-critical failures, or None."""
    warnings = summary.get("warnings") or []
    if not warnings:
        return None
    return Alert(kind="quality.warning", severity="warning",
                 title=f"{summary.get('stage')} audit: {len(warnings)} warning expectation(s) not met",
                 text="\n".join(str(w) for w in warnings[:50]), dag_id=dag_id, run_id=run_id,
                 periods=list(periods or []), details={"gx_run_id": summary.get("run_id")})


def notify_quality_warnings(summary: dict, dag_id: str | None = None, run_id: str | None = None,
                            periods: list[str] | None = None) -> dict[str, str] | None:
    """Send the warning-level alert of a gate that passed with warnings. A sink that is down does not
    fail the build that passed its gate: the failed delivery is logged and kept in the alerts record."""
    return _send_unless_none(quality_warnings_alert(summary, dag_id, run_id, periods),
                             "the gate passed, the build goes on")


def _send_unless_none(alert: Alert | None, why_it_goes_on: str) -> dict[str, str] | None:
    """Send an alert that does not stop the task: a sink that is down is logged (and kept in the record)."""
    if alert is None:
        return None
    try:
        return send(alert)
    except AlertDeliveryError as exc:
        log.error("%s alert not delivered (%s): %s", alert.kind, why_it_goes_on, exc)
        return None


def internal_errors_alert(results: list[dict], dag_id: str | None = None, run_id: str | None = None,
                          task_id: str | None = None) -> Alert | None:
    """An `ingest.internal_error` alert for the files an intake held (status "held"), or None."""
    held = [r for r in results if r.get("status") == "held"]
    if not held:
        return None
    lines = [f"{r.get('file_name')} (sha256 {str(r.get('file_sha256'))[:12]}…, county {r.get('county_code') or '?'}, "
             f"period {r.get('period') or '?'}): {r.get('error')}" for r in held]
    return Alert(kind="ingest.internal_error", severity="error",
                 title=f"intake: {len(held)} file(s) held by an internal error",
                 text="Each file is archived, kept in quarantine and its county told that the report is held, not "
                      "refused. The traceback is in the task log. Fix the defect, then: python -m ops reprocess "
                      "--held\n\n" + "\n".join(lines[:50]),
                 dag_id=dag_id, run_id=run_id, task_id=task_id,
                 periods=sorted({r["period"] for r in held if r.get("period")}),
                 details={"held": [{k: r.get(k) for k in ("file_name", "file_sha256", "county_code", "period",
                                                          "error")} for r in held]})


def notify_internal_errors(results: list[dict], dag_id: str | None = None, run_id: str | None = None,
                           task_id: str | None = None) -> dict[str, str] | None:
    """Send the `ingest.internal_error` alert of held files. A sink that is down does not fail the intake
    (the other files were decided): the failed delivery is logged and kept in the alerts record."""
    return _send_unless_none(internal_errors_alert(results, dag_id, run_id, task_id), "the files are held")
