"""Alerts to the data engineering team: a failed task, a critical data-quality failure,
counties that missed a reporting deadline.

Every alert is appended to `<var>/alerts/alerts.jsonl` (the local record, always) and
delivered through Airflow's providers to each sink that is configured (docs/alerts.md):

| sink | configured by | delivered by |
|---|---|---|
| `email` | `TWOTOWNS_ALERT_EMAIL_TO` (recipients), connection `twotowns_smtp` | `SmtpHook` (smtp provider) |
| `webhook` | connection `twotowns_apprise` (Apprise URLs: WeCom, DingTalk, Slack, json://) | Apprise |

The settings of before keep working while the connection is not defined anywhere Airflow
looks (env `AIRFLOW_CONN_*`, secrets backend, metadata database): `TWOTOWNS_ALERT_SMTP_URL`
stands in for `twotowns_smtp`, `TWOTOWNS_ALERT_WEBHOOK_URL` (+ `_FORMAT`) for an Apprise URL,
`TWOTOWNS_ALERT_TIMEOUT` sets their timeouts. The connection wins when both are set.

A sink that fails does not stop the others; `send` raises `AlertDeliveryError` after
trying them all, so that a failed delivery shows in the task log and is not silently lost.

Imported by the DAG files (the callbacks): stdlib only at module level; the providers are
imported when an alert is sent.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "error", "warning", "info")
SMTP_CONN_ID = "twotowns_smtp"  # THE SMTP configuration of the product: the county portal sends through it too
APPRISE_CONN_ID = "twotowns_apprise"
DEFAULT_SENDER = "twotowns-pipeline@localhost"


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


# --------------------------------------------------------------------------- settings

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


def _connection(conn_id: str):
    """The Airflow connection `conn_id` wherever Airflow finds it (env, secrets backend, metadata
    database, the supervisor of a running task), or None when it is defined nowhere."""
    from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def smtp_connection_from_url(smtp_url: str):
    """`TWOTOWNS_ALERT_SMTP_URL` (`smtp://[user[:password]@]host[:port][?starttls=true]`, `smtps://...`)
    as the `twotowns_smtp` connection it stands for. Other query keys pass through as connection
    extras (e.g. `ssl_context=none` for a self-signed server)."""
    from airflow.providers.common.compat.sdk import Connection

    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"TWOTOWNS_ALERT_SMTP_URL must be smtp:// or smtps://, not {parts.scheme}://")
    query = dict(parse_qsl(parts.query))
    starttls = str(query.pop("starttls", "")).lower() in ("1", "true", "yes")
    ssl = parts.scheme == "smtps"
    extra = {"disable_ssl": not ssl, "disable_tls": ssl or not starttls, "timeout": max(1, round(_timeout())),
             "retry_limit": 0, **query}  # retry_limit 0: one attempt, as the hand-written transport made
    return Connection(conn_id=SMTP_CONN_ID, conn_type="smtp", host=parts.hostname, port=parts.port or (465 if ssl else 25),
                      login=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None, extra=json.dumps(extra))


def apprise_url_from_webhook(url: str, fmt: str = "json") -> str:
    """`TWOTOWNS_ALERT_WEBHOOK_URL` and `_FORMAT` as the Apprise URL that delivers the same way:
    `json` → `json(s)://` (the alert in Apprise's JSON envelope, the whole alert as alert.json);
    `text` → a WeCom or DingTalk robot; `slack` → a Slack incoming webhook."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"TWOTOWNS_ALERT_WEBHOOK_URL must be an http(s) URL, not {url!r}")
    query = dict(parse_qsl(parts.query))
    timeouts = {"cto": _timeout(), "rto": _timeout()}
    robot = (fmt, parts.hostname)
    if fmt == "json":
        scheme = "jsons" if parts.scheme == "https" else "json"
        params = {**{f"-{k}": v for k, v in query.items()}, **timeouts}  # "-k": a query parameter of the POST
        return f"{scheme}://{parts.netloc}{parts.path or '/'}?{urlencode(params)}"
    if robot == ("text", "qyapi.weixin.qq.com") and query.get("key"):
        return f"wecombot://{query['key']}/?{urlencode(timeouts)}"
    if robot == ("text", "oapi.dingtalk.com") and query.get("access_token"):
        return f"dingtalk://{query['access_token']}/?{urlencode(timeouts)}"
    if robot == ("slack", "hooks.slack.com") and parts.path.startswith("/services/"):
        return f"slack://{parts.path.removeprefix('/services/').strip('/')}/?{urlencode(timeouts)}"
    if fmt in ("text", "slack"):
        raise ValueError(f"TWOTOWNS_ALERT_WEBHOOK_FORMAT={fmt} is for a WeCom or DingTalk robot or a Slack webhook, "
                         f"not {parts.hostname}: write the service's Apprise URL in the connection "
                         f"{APPRISE_CONN_ID} (docs/alerts.md)")
    raise ValueError(f"TWOTOWNS_ALERT_WEBHOOK_FORMAT must be json, text or slack, not {fmt!r}")


def _email_settings() -> dict | None:
    """E-mail settings, or None: the recipients turn e-mail alerts on (the connection alone serves
    the county portal too); the old SMTP URL alone still does, to name the missing recipients."""
    smtp_url = os.environ.get("TWOTOWNS_ALERT_SMTP_URL")
    to = [a.strip() for a in (os.environ.get("TWOTOWNS_ALERT_EMAIL_TO") or "").split(",") if a.strip()]
    if not (to or smtp_url):
        return None
    connection = _connection(SMTP_CONN_ID)
    if connection is None and smtp_url:
        connection = smtp_connection_from_url(smtp_url)
    elif smtp_url:
        log.warning("TWOTOWNS_ALERT_SMTP_URL is ignored: the connection %s is defined", SMTP_CONN_ID)
    return {"connection": connection, "to": to, "sender": os.environ.get("TWOTOWNS_ALERT_EMAIL_FROM")}


def _apprise_settings() -> dict | None:
    """Webhook settings, or None: the `twotowns_apprise` connection, else the old webhook URL."""
    connection = _connection(APPRISE_CONN_ID)
    url = os.environ.get("TWOTOWNS_ALERT_WEBHOOK_URL")
    if connection is not None:
        if url:
            log.warning("TWOTOWNS_ALERT_WEBHOOK_URL is ignored: the connection %s is defined", APPRISE_CONN_ID)
        return {"connection": connection}
    if url:
        return {"urls": [apprise_url_from_webhook(url, os.environ.get("TWOTOWNS_ALERT_WEBHOOK_FORMAT") or "json")]}
    return None


def configured_sinks() -> dict[str, dict]:
    """The sinks configured, with their settings (the connection or what stands in for it)."""
    return {name: settings for name, (find, _) in _SINKS.items() if (settings := find()) is not None}


# --------------------------------------------------------------------------- delivery

_APPRISE_TYPES = {"critical": "failure", "error": "failure", "warning": "warning", "info": "info"}


def send_webhook(alert: Alert, connection=None, urls: list[str] | None = None) -> str:
    """Deliver through Apprise to the services of the `twotowns_apprise` connection (read by the
    provider's AppriseHook) or to `urls`. Title: the subject; body: the text; the whole alert as
    alert.json where the service takes attachments (json://, mailto://)."""
    import apprise
    from airflow.providers.apprise.hooks.apprise import AppriseHook
    from apprise.attachment.memory import AttachMemory

    notifier = apprise.Apprise()
    wanted = list(urls or [])
    if connection is not None:
        hook = AppriseHook(APPRISE_CONN_ID)
        config = hook.get_config_from_conn(conn=connection)
        wanted += [c.get("path") for c in (config if isinstance(config, list) else [config])]
        hook.set_config_from_conn(conn=connection, apprise_obj=notifier)
    for url in urls or []:
        notifier.add(url)
    not_understood = (f"Apprise understands {len(notifier)} of the {len(wanted)} URL(s) configured (connection "
                      f"{APPRISE_CONN_ID} or TWOTOWNS_ALERT_WEBHOOK_URL)") if len(notifier) < len(wanted) else ""
    if not len(notifier):  # Apprise skips a URL it does not understand, silently
        raise ValueError(not_understood or f"the connection {APPRISE_CONN_ID} names no service")
    attachment = apprise.AppriseAttachment()
    attachment.add(AttachMemory(content=_alert_json(alert), name="alert.json", mimetype="application/json"))
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as problems:
        # AppriseHook.notify drops Apprise's answer: the Apprise object it builds is called here to keep it
        delivered = notifier.notify(title=alert.subject(), body=alert.body(), attach=attachment,
                                    notify_type=apprise.NotifyType(_APPRISE_TYPES[alert.severity]))
    if not delivered or not_understood:
        raise AlertDeliveryError(" ".join([not_understood, *problems.getvalue().split()]).strip()
                                 or "Apprise reported a failure")
    return f"sent to {len(notifier)}"


def _alert_json(alert: Alert) -> str:
    return json.dumps(alert.to_dict(), ensure_ascii=False, indent=2, default=str)


def send_email(alert: Alert, connection, to: list[str], sender: str | None = None) -> str:
    """Deliver through the smtp provider's SmtpHook on `connection` (the `twotowns_smtp` connection
    or what stands in for it): the text as the body, the whole alert as alert.json."""
    import html
    import tempfile

    if not to:
        raise ValueError("TWOTOWNS_ALERT_EMAIL_TO is empty: to whom should the alert go?")
    if connection is None:
        raise ValueError(f"no SMTP connection: define {SMTP_CONN_ID} (AIRFLOW_CONN_TWOTOWNS_SMTP, docs/alerts.md)")
    with tempfile.TemporaryDirectory(prefix="twotowns-alert-") as tmp, _smtp_hook(connection) as hook:
        attachment = Path(tmp) / "alert.json"
        attachment.write_text(_alert_json(alert), encoding="utf-8")
        hook.send_email_smtp(to=to, from_email=sender or hook.from_email or DEFAULT_SENDER, subject=alert.subject(),
                             html_content=f"<pre>{html.escape(alert.body())}</pre>", files=[str(attachment)])
    return f"sent to {len(to)}"


def _smtp_hook(connection):
    """SmtpHook on the given connection: the one Airflow found, or the one the old URL stands for
    (which Airflow cannot find, hence the hook is handed it)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    class _Hook(SmtpHook):
        def get_connection(self, conn_id):  # noqa: ARG002 (the connection is already known)
            return connection

    return _Hook(smtp_conn_id=SMTP_CONN_ID)


# name -> (its settings or None when not configured, its delivery)
_SINKS = {"webhook": (_apprise_settings, send_webhook), "email": (_email_settings, send_email)}


def send(alert: Alert) -> dict[str, str]:
    """Deliver the alert to every configured sink and record it; raise if a sink failed. A setting
    that cannot be read (a bad old URL, a connection lookup that fails) is that sink's failure."""
    deliveries: dict[str, str] = {}
    errors: list[str] = []
    for name, (find, deliver) in _SINKS.items():
        try:
            settings = find()
            if settings is not None:
                deliveries[name] = deliver(alert, **settings)
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
