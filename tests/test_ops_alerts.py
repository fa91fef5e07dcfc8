"""Alerts reach the team: by e-mail (a local SMTP server) and by webhook (a local HTTP server),
both on 127.0.0.1; a failed task and a critical quality failure in a real Airflow run
raise one alert each. No external address is ever contacted."""

from __future__ import annotations

import base64
import email
import json
import socket
import threading
from email.header import decode_header, make_header
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
    """http.server on 127.0.0.1: yields (url, received bodies, settable status); answers "ok"."""
    received: list[dict] = []
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "content_type": self.headers["Content-Type"],
                             "json": json.loads(body)})
            self.send_response(status["code"])
            self.end_headers()
            self.wfile.write(b"ok")  # what Slack's incoming webhooks answer (Apprise checks it)

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


def _attached(post: dict) -> dict:
    """The whole alert, as Apprise's json:// envelope carries it (attachment alert.json)."""
    [attachment] = post["json"]["attachments"]
    assert attachment["filename"] == "alert.json" and attachment["mimetype"] == "application/json"
    return json.loads(base64.b64decode(attachment["base64"]))


def _mail_parts(mail: email.message.Message) -> tuple[str, dict]:
    """The body (HTML) and the attached alert.json of a mail."""
    body, attachment = mail.get_payload()
    assert attachment.get_filename() == "alert.json"
    return body.get_payload(decode=True).decode("utf-8"), json.loads(attachment.get_payload(decode=True))


def test_an_alert_goes_to_the_mailbox_the_webhook_and_the_local_record(sinks):
    """With the settings of before (TWOTOWNS_ALERT_SMTP_URL, _WEBHOOK_URL): delivered by the providers."""
    mails, posts, _ = sinks
    alert = Alert(kind="deadline.missed", severity="warning", title="2016Q3: 1 missing", text="330421 嘉善县: missing",
                  periods=["2016Q3"])

    deliveries = alerts.send(alert)

    assert deliveries == {"webhook": "sent to 1", "email": "sent to 2"}
    assert len(mails) == 1
    mail = mails[0]
    assert mail["Subject"] == "[twotowns warning] 2016Q3: 1 missing" and mail["From"] == "pipeline@example.org"
    assert mail["X-Envelope-To"] == "data-team@example.org, oncall@example.org"
    body, attached = _mail_parts(mail)
    assert "330421 嘉善县: missing" in body and "periods: 2016Q3" in body
    assert attached == alert.to_dict()
    assert posts[0]["path"] == "/hooks/team" and posts[0]["content_type"].startswith("application/json")
    assert posts[0]["json"]["title"] == "[twotowns warning] 2016Q3: 1 missing"
    assert posts[0]["json"]["type"] == "warning" and "330421 嘉善县: missing" in posts[0]["json"]["message"]
    assert _attached(posts[0]) == alert.to_dict()
    assert [r["deliveries"] for r in _records()] == [deliveries]


def test_the_connections_are_the_configuration_and_win_over_the_old_settings(sinks, smtp_server, webhook_server,
                                                                             monkeypatch):
    """twotowns_smtp and twotowns_apprise (here from AIRFLOW_CONN_*) are used, the old URLs ignored
    (they point at a closed port); the sender comes from the connection; a Chinese subject is encoded."""
    mails, posts, _ = sinks
    controller, _ = smtp_server
    url, _, _ = webhook_server
    closed = _free_port()
    monkeypatch.setenv("TWOTOWNS_ALERT_SMTP_URL", f"smtp://127.0.0.1:{closed}")
    monkeypatch.setenv("TWOTOWNS_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{closed}/old")
    monkeypatch.delenv("TWOTOWNS_ALERT_EMAIL_FROM")
    monkeypatch.setenv("AIRFLOW_CONN_TWOTOWNS_SMTP", json.dumps({
        "conn_type": "smtp", "host": controller.hostname, "port": controller.port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "alerts@county.example.org",
                  "timeout": 5, "retry_limit": 0}}))
    monkeypatch.setenv("AIRFLOW_CONN_TWOTOWNS_APPRISE", json.dumps({
        "conn_type": "apprise", "extra": {"config": [{"path": url.replace("http://", "json://") + "?-via=conn"}]}}))

    deliveries = alerts.send(Alert(kind="task.failed", severity="critical", title="嘉善县 2016Q3 审核失败",
                                   text="boom"))

    assert deliveries == {"webhook": "sent to 1", "email": "sent to 2"}
    assert str(make_header(decode_header(mails[0]["Subject"]))) == "[twotowns critical] 嘉善县 2016Q3 审核失败"
    assert mails[0]["From"] == "alerts@county.example.org"
    assert posts[0]["path"] == "/hooks/team?via=conn" and posts[0]["json"]["type"] == "failure"


@pytest.mark.parametrize(("robot_url", "plugin", "attribute", "fmt"), [
    ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY", "wecombot.NotifyWeComBot", "notify_url", "text"),
    ("https://oapi.dingtalk.com/robot/send?access_token=TOKEN", "dingtalk.NotifyDingTalk", "notify_url", "text"),
    ("https://hooks.slack.com/services/T0/B0/C0", "slack.NotifySlack", "webhook_url", "slack"),
])
def test_the_old_robot_formats_reach_their_robots_through_apprise(sinks, webhook_server, monkeypatch, robot_url,
                                                                   plugin, attribute, fmt):
    """WeCom/DingTalk robots (`text`) and Slack (`slack`) keep their payloads; the robot's address in
    Apprise is pointed at the local server (no external address is contacted)."""
    import importlib

    _, posts, _ = sinks
    url, _, _ = webhook_server
    module, cls = plugin.rsplit(".", 1)
    robot = getattr(importlib.import_module(f"apprise.plugins.{module}"), cls)
    local = url + ("?key={key}" if "wecom" in module else "?access_token={token}" if "ding" in module else "")
    monkeypatch.setattr(robot, attribute, local)
    monkeypatch.setenv("TWOTOWNS_ALERT_WEBHOOK_URL", robot_url)
    monkeypatch.setenv("TWOTOWNS_ALERT_WEBHOOK_FORMAT", fmt)

    alerts.send(Alert(kind="task.failed", severity="error", title="x failed", text="boom"))

    [post] = posts
    if fmt == "text":
        assert post["json"]["msgtype"] == "text"
        assert post["json"]["text"]["content"].startswith("[twotowns error] x failed")
        assert post["path"].endswith(robot_url.rsplit("=", 1)[1])
    else:
        assert post["path"] == "/hooks/team/T0/B0/C0" and "[twotowns error] x failed" in json.dumps(post["json"])


def test_a_failing_sink_does_not_stop_the_others_and_is_reported(sinks):
    mails, posts, status = sinks
    status["code"] = 500

    with pytest.raises(AlertDeliveryError, match="webhook: AlertDeliveryError: .*error=500"):
        alerts.send(Alert(kind="task.failed", severity="error", title="t failed", text="boom"))

    assert len(mails) == 1 and len(posts) == 1  # the mail still went out
    assert _records()[-1]["deliveries"]["webhook"].startswith("failed: AlertDeliveryError")


def test_a_mail_server_that_is_down_is_reported_and_the_webhook_still_goes(sinks, monkeypatch):
    _, posts, _ = sinks
    monkeypatch.setenv("TWOTOWNS_ALERT_SMTP_URL", f"smtp://127.0.0.1:{_free_port()}")

    with pytest.raises(AlertDeliveryError, match="email: ConnectionRefusedError"):
        alerts.send(Alert(kind="task.failed", severity="error", title="t failed", text="boom"))

    assert len(posts) == 1 and _records()[-1]["deliveries"]["webhook"] == "sent to 1"


def test_a_bad_webhook_setting_fails_that_sink_only(sinks, monkeypatch):
    mails, _, _ = sinks
    monkeypatch.setenv("TWOTOWNS_ALERT_WEBHOOK_URL", "file:///etc/passwd")

    with pytest.raises(AlertDeliveryError, match="webhook: ValueError: TWOTOWNS_ALERT_WEBHOOK_URL must be an http"):
        alerts.send(Alert(kind="task.failed", severity="error", title="t failed", text="boom"))

    assert len(mails) == 1 and _records()[-1]["deliveries"]["email"] == "sent to 2"


def test_an_apprise_url_that_apprise_does_not_understand_is_named(sinks, webhook_server, monkeypatch):
    _, posts, _ = sinks
    url, _, _ = webhook_server
    monkeypatch.setenv("AIRFLOW_CONN_TWOTOWNS_APPRISE", json.dumps({"conn_type": "apprise", "extra": {"config": [
        {"path": url.replace("http://", "json://")}, {"path": "nosuchservice://x"}]}}))

    with pytest.raises(AlertDeliveryError, match="Apprise understands 1 of the 2 URL"):
        alerts.send(Alert(kind="task.failed", severity="error", title="t failed", text="boom"))

    assert len(posts) == 1 and _records()[-1]["deliveries"]["email"] == "sent to 2"  # the one understood got it


def test_quality_warnings_alert_the_team_without_failing_the_build(sinks):
    _, posts, status = sinks
    summary = {"stage": "warehouse", "run_id": "gx-1", "warnings": ["fct_town_quarter_indicators: tier null"]}
    assert alerts.notify_quality_warnings({"stage": "raw", "warnings": []}) is None  # nothing to say
    assert alerts.notify_quality_warnings(summary, "warehouse_build", "r1", ["2016Q3"]) == {
        "webhook": "sent to 1", "email": "sent to 2"}
    sent = _attached(posts[-1])
    assert sent["kind"] == "quality.warning" and sent["severity"] == "warning"
    status["code"] = 503
    assert alerts.notify_quality_warnings(summary) is None  # logged and recorded, not raised
    assert _records()[-1]["deliveries"]["webhook"].startswith("failed")


def test_no_sink_configured_still_records_the_alert(runtime_dirs, monkeypatch):
    for name in ("TWOTOWNS_ALERT_SMTP_URL", "TWOTOWNS_ALERT_WEBHOOK_URL", "TWOTOWNS_ALERT_EMAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    alerts.alerts_log_path().unlink(missing_ok=True)
    assert alerts.send(Alert(kind="task.failed", severity="error", title="t", text="x")) == {}
    assert _records()[-1]["title"] == "t"


def test_recipients_without_a_mail_server_are_named(runtime_dirs, monkeypatch):
    for name in ("TWOTOWNS_ALERT_SMTP_URL", "TWOTOWNS_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWOTOWNS_ALERT_EMAIL_TO", "data-team@example.org")
    with pytest.raises(AlertDeliveryError, match="define twotowns_smtp"):
        alerts.send(Alert(kind="task.failed", severity="error", title="t", text="x"))
    assert _records()[-1]["deliveries"]["email"].startswith("failed: ValueError")


def test_a_bad_setting_is_named():
    with pytest.raises(ValueError, match="severity"):
        Alert(kind="x", severity="urgent", title="t", text="x")
    with pytest.raises(ValueError, match="TWOTOWNS_ALERT_WEBHOOK_URL"):
        alerts.apprise_url_from_webhook("file:///etc/passwd")
    with pytest.raises(ValueError, match="twotowns_apprise"):
        alerts.apprise_url_from_webhook("https://chat.example.org/hook", "text")
    with pytest.raises(ValueError, match="json, text or slack"):
        alerts.apprise_url_from_webhook("https://chat.example.org/hook", "xml")
    with pytest.raises(ValueError, match="TWOTOWNS_ALERT_SMTP_URL"):
        alerts.smtp_connection_from_url("http://mail.example.org")


def test_the_old_smtp_url_stands_for_a_connection(monkeypatch):
    monkeypatch.setenv("TWOTOWNS_ALERT_TIMEOUT", "7")
    tls = alerts.smtp_connection_from_url("smtps://u%40x.org:p%2Fw@mail.example.org?ssl_context=none")
    assert (tls.conn_id, tls.conn_type, tls.host, tls.port, tls.login, tls.password) == (
        "twotowns_smtp", "smtp", "mail.example.org", 465, "u@x.org", "p/w")
    assert tls.extra_dejson == {"disable_ssl": False, "disable_tls": True, "timeout": 7, "retry_limit": 0,
                                "ssl_context": "none"}
    plain = alerts.smtp_connection_from_url("smtp://mail.example.org:587?starttls=true")
    assert (plain.port, plain.login, plain.extra_dejson["disable_ssl"], plain.extra_dejson["disable_tls"]) == (
        587, None, True, False)
    assert alerts.apprise_url_from_webhook("https://hooks.example.org/in?token=abc") == (
        "jsons://hooks.example.org/in?-token=abc&cto=7.0&rto=7.0")


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
    by_task = {alert["task_id"]: alert for alert in map(_attached, posts)}
    assert set(by_task) == {"gate", "plain"}
    assert by_task["gate"]["kind"] == "quality.critical" and by_task["gate"]["severity"] == "critical"
    assert by_task["gate"]["try_number"] == 1  # not retried: the same data gives the same answer
    assert "fct_town_quarter_indicators" in by_task["gate"]["text"]
    assert by_task["plain"]["kind"] == "task.failed" and "disk full" in by_task["plain"]["text"]
    assert by_task["gate"]["periods"] == ["2016Q3"] and by_task["gate"]["dag_id"] == "alert_probe"
    assert sorted(m["Subject"] for m in mails) == ["[twotowns critical] alert_probe.gate: critical data-quality failure",
                                                   "[twotowns error] alert_probe.plain: task failed"]
