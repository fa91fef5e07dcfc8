"""Email to a county's registered addresses: the receipt of a submission once decided, and reminders.

Sent through Airflow's SMTP provider hook with the connection `twotowns_smtp` (env
AIRFLOW_CONN_TWOTOWNS_SMTP, e.g. `smtp://user:pass@mail.example:587?from_email=portal%40example.org`;
`disable_tls=true` / `disable_ssl=true` in the query for a plain local relay). The hook reads an env
connection outside a task too (BaseHook.get_connection falls back to the secrets backends, the
environment first). Without that variable nothing is sent (and nothing fails): the pages remain.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)


def configured() -> bool:
    """Whether the product's SMTP connection is configured (ops.alerts.smtp_connection: the connection
    twotowns_smtp, or the older TWOTOWNS_ALERT_SMTP_URL it stands for)."""
    from ops.alerts import smtp_connection

    return smtp_connection() is not None


@cache
def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)


def send(to: list[str], subject: str, html: str) -> bool:
    """One message through the hook; False when no connection is configured or nobody to send to."""
    from ops.alerts import smtp_connection, smtp_hook

    connection = smtp_connection() if to else None
    if connection is None:
        return False
    with smtp_hook(connection) as hook:
        hook.send_email_smtp(to=to, subject=subject, html_content=html)
    return True


def receipt_email(state: dict, county_name: str | None, link: str | None) -> tuple[str, str]:
    statuses = "、".join(sorted({f.get("status_zh", "") for f in state["files"]}))
    subject = f"两镇季报报送回执 {county_name or state['county_code']} {state['period'] or ''}：{statuses}"
    html = _environment().get_template("email_receipt.html.j2").render(state=state, county_name=county_name, link=link)
    return subject, html


def reminder_email(doc: dict) -> tuple[str, str]:
    subject = f"两镇季报报送提醒 {doc['county_name']} {doc['period']}：{doc['status_zh']}"
    return subject, _environment().get_template("email_reminder.html.j2").render(doc=doc)


def notify_decided(conn, base_url: str | None = None) -> list[str]:
    """Email the receipt of every upload decided and not yet notified; each claimed once (several portal
    processes may run this). Returns the upload ids notified."""
    from portal import accounts, status

    done = []
    for (upload_id,) in conn.execute("select upload_id from portal.uploads where notified_at is null "
                                     "order by submitted_at").fetchall():
        state = status.upload_state(conn, status.upload(conn, upload_id))
        if not state["decided"]:
            continue
        claimed = conn.execute("update portal.uploads set notified_at = now() where upload_id = %s "
                               "and notified_at is null returning upload_id", (upload_id,)).fetchone()
        if not claimed:
            continue
        link = f"{base_url.rstrip('/')}/receipts/{upload_id}" if base_url else None
        subject, html = receipt_email(state, status.county_name(state["county_code"]), link)
        try:
            send(accounts.county_emails(conn, state["county_code"]), subject, html)
        except Exception:
            conn.execute("update portal.uploads set notified_at = null where upload_id = %s", (upload_id,))
            raise
        done.append(upload_id)
    return done


def send_reminders(summary: dict) -> list[str]:
    """Email the reminders `ops.reminders.remind` wrote (its summary) to each county's addresses."""
    import json

    from core import config
    from portal import accounts
    from portal.db import connection

    sent: list[str] = []
    if not configured():
        return sent
    with connection() as conn:
        for county in summary.get("reminders", []):
            path = config.outbox_dir() / county / f"reminder-{summary['period']}.json"
            doc = json.loads(path.read_text(encoding="utf-8"))
            subject, html = reminder_email(doc)
            if send(accounts.county_emails(conn, county), subject, html):
                sent.append(county)
    return sent
