"""Alerts reach the team: by e-mail (a local SMTP server) and by webhook (a local HTTP server),
both on 127.0.0.1; a failed task and a critical quality failure in a real Airflow run
raise one alert each. No external address is ever contacted."""

from __future__ import annotations

import email
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ops import alerts
from ops.alerts import Alert, AlertDeliveryError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """aiosmtpd on 127.0.0.1: yields the list that receives each message."""
    from aiosmtpd.controller import Controller

    received: list[email.message.Message] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            msg = email.message_from_bytes(envelope.content)
            msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            received.append(msg)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, received
    finally:
        controller.stop()


@pytest.fixture
def webhook_server():
    """http.server on 127.0.0.1: yields (url, received bodies, settable status)."""
    received: list[dict] = []
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "content_type": self.headers["Content-Type"],
                             "json": json.loads(body)})
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/team", received, status
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sinks(monkeypatch, runtime_dirs, smtp_server, webhook_server):
    controller, mails = smtp_server
    url, posts, status = webhook_server
    monkeypatch.setenv("TWOTOWNS_ALERT_SMTP_URL", f"smtp://{controller.hostname}:{controller.port}")
    monkeypatch.setenv("TWOTOWNS_ALERT_EMAIL_TO", "data-team@example.org, oncall@example.org")
    monkeypatch.setenv("TWOTOWNS_ALERT_EMAIL_FROM", "pipeline@example.org")
    monkeypatch.setenv("TWOTOWNS_ALERT_WEBHOOK_URL", url)
    monkeypatch.setenv("TWOTOWNS_ALERT_TIMEOUT", "5")
    alerts.alerts_log_path().unlink(missing_ok=True)
    return mails, posts, status


def _records() -> list[dict]:
    path = alerts.alerts_log_path()
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_an_alert_goes_to_the_mailbox_the_webhook_and_the_local_record(sinks):
    mails, posts, _ = sinks
    alert = Alert(kind="deadline.missed", severity="warning", title="2016Q3: 1 missing", text="330421 嘉善县: missing",
                  periods=["2016Q3"])

    deliveries = alerts.send(alert)

    assert deliveries == {"webhook": "HTTP 200", "email": "sent to 2"}
    assert len(mails) == 1
    mail = mails[0]
    assert mail["Subject"] == "[twotowns warning] 2016Q3: 1 missing"
    assert mail["X-Envelope-To"] == "data-team@example.org, oncall@example.org"
    body = mail.get_payload()[0].get_payload(decode=True).decode("utf-8")
    assert "330421 嘉善县: missing" in body and "periods: 2016Q3" in body
    assert posts[0]["path"] == "/hooks/team" and posts[0]["content_type"].startswith("application/json")
    assert posts[0]["json"]["kind"] == "deadline.missed" and posts[0]["json"]["periods"] == ["2016Q3"]
    assert [r["deliveries"] for r in _records()] == [deliveries]


def test_the_text_format_suits_chat_robots(sinks, monkeypatch):
    _, posts, _ = sinks
    monkeypatch.setenv("TWOTOWNS_ALERT_WEBHOOK_FORMAT", "text")
    alerts.send(Alert(kind="task.failed", severity="error", title="x failed", text="boom"))
    assert posts[0]["json"]["msgtype"] == "text"
    assert posts[0]["json"]["text"]["content"].startswith("[twotowns error] x failed")


def test_a_failing_sink_does_not_stop_the_others_and_is_reported(sinks):
    mails, posts, status = sinks
    status["code"] = 500

    with pytest.raises(AlertDeliveryError, match="webhook: HTTPError"):
        alerts.send(Alert(kind="task.failed", severity="error", title="t failed", text="boom"))

    assert len(mails) == 1 and len(posts) == 1  # the mail still went out
    assert _records()[-1]["deliveries"]["webhook"].startswith("failed: HTTPError")


def test_quality_warnings_alert_the_team_without_failing_the_build(sinks):
    _, posts, status = sinks
    summary = {"stage": "warehouse", "run_id": "gx-1", "warnings": ["fct_town_quarter_indicators: tier null"]}
    assert alerts.notify_quality_warnings({"stage": "raw", "warnings": []}) is None  # nothing to say
    assert alerts.notify_quality_warnings(summary, "warehouse_build", "r1", ["2016Q3"]) == {
        "webhook": "HTTP 200", "email": "sent to 2"}
    assert posts[-1]["json"]["kind"] == "quality.warning" and posts[-1]["json"]["severity"] == "warning"
    status["code"] = 503
    assert alerts.notify_quality_warnings(summary) is None  # logged and recorded, not raised
    assert _records()[-1]["deliveries"]["webhook"].startswith("failed")


def test_no_sink_configured_still_records_the_alert(runtime_dirs, monkeypatch):
    for name in ("TWOTOWNS_ALERT_SMTP_URL", "TWOTOWNS_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    alerts.alerts_log_path().unlink(missing_ok=True)
    assert alerts.send(Alert(kind="task.failed", severity="error", title="t", text="x")) == {}
    assert _records()[-1]["title"] == "t"


def test_a_bad_setting_is_named():
    with pytest.raises(ValueError, match="severity"):
        Alert(kind="x", severity="urgent", title="t", text="x")
    with pytest.raises(ValueError, match="TWOTOWNS_ALERT_WEBHOOK_URL"):
        alerts.send_webhook(Alert(kind="x", severity="info", title="t", text="x"), "file:///etc/passwd")


PROBE_DAG = """
from datetime import datetime

from airflow.sdk import DAG, ExceptionRetryPolicy, RetryAction, RetryRule, task

from ops.alerts import on_task_failure

final = ExceptionRetryPolicy(rules=[RetryRule(exception="expectations.gate.QualityGateFailed",
                                              action=RetryAction.FAIL)])
with DAG("alert_probe", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         default_args={"on_failure_callback": on_task_failure}) as dag:
    @task(retries=3, retry_policy=final)
    def gate():
        from expectations.gate import QualityGateFailed

        raise QualityGateFailed("warehouse audit failed: fct_town_quarter_indicators.value not null")

    @task(retries=0)
    def plain():
        raise RuntimeError("disk full")

    gate()
    plain()
"""


@pytest.mark.integration
@pytest.mark.slow
def test_failed_tasks_in_an_airflow_run_alert_the_team(sinks, tmp_path):
    """A real dag.test() run: a critical quality failure is not retried and is raised as
    quality.critical; an ordinary failure as task.failed; both through on_failure_callback."""
    mails, posts, _ = sinks
    from ops.runs import prepare

    prepare()
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    (tmp_path / "alert_probe.py").write_text(PROBE_DAG)
    bag = DagBag(dag_folder=str(tmp_path))
    assert bag.import_errors == {}
    sync_bag_to_db(bag, "dags-folder", None)  # dag.test() runs serialized DAGs only

    run = bag.get_dag("alert_probe").test(run_conf={"periods": ["2016Q3"]})

    assert str(getattr(run.state, "value", run.state)) == "failed"
    by_task = {p["json"]["task_id"]: p["json"] for p in posts}
    assert set(by_task) == {"gate", "plain"}
    assert by_task["gate"]["kind"] == "quality.critical" and by_task["gate"]["severity"] == "critical"
    assert by_task["gate"]["try_number"] == 1  # not retried: the same data gives the same answer
    assert "fct_town_quarter_indicators" in by_task["gate"]["text"]
    assert by_task["plain"]["kind"] == "task.failed" and "disk full" in by_task["plain"]["text"]
    assert by_task["gate"]["periods"] == ["2016Q3"] and by_task["gate"]["dag_id"] == "alert_probe"
    assert sorted(m["Subject"] for m in mails) == ["[twotowns critical] alert_probe.gate: critical data-quality failure",
                                                   "[twotowns error] alert_probe.plain: task failed"]
