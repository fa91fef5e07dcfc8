"""The county portal in process (FastAPI's TestClient over https, the real warehouse database of the module,
the inline intake: the same receive_batch the DAG's task calls): accounts, sessions, CSRF, rate limiting,
upload caps, the check and the annotated workbook, submitting, the receipt, cross-county access on every
URL, the form template and email through Airflow's SMTP hook to a local SMTP server."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PASSWORDS = {"haiyan": "haiyan-secret-pw-1", "jiashan": "jiashan-secret-pw-2", "office": "office-secret-pw-3"}
GOOD_NAME, BAD_NAME = "海盐县2016年一季度两镇季报.xlsx", "海盐县2016年一季度两镇季报(初稿).xlsx"


@pytest.fixture(scope="module")
def app(warehouse, runtime_dirs):
    import os

    os.environ["TWOTOWNS_PORTAL_SECRET_KEY"] = "k" * 48
    os.environ["TWOTOWNS_PORTAL_INTAKE"] = "inline"
    os.environ["TWOTOWNS_PORTAL_MAX_UPLOAD_BYTES"] = str(2 * 1024 * 1024)
    from portal import accounts
    from portal.app import create_app
    from portal.db import connection
    from portal.settings import load

    with connection() as conn:
        accounts.add(conn, "haiyan", "county", "330424", "clerk@haiyan.example", PASSWORDS["haiyan"])
        accounts.add(conn, "jiashan", "county", "330421", None, PASSWORDS["jiashan"])
        accounts.add(conn, "office", "office", None, None, PASSWORDS["office"])
    return create_app(load())


def client_for(app, login: str | None):
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    if login:
        r = log_in(client, login, PASSWORDS[login])
        assert r.status_code == 303, r.text
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in(client, login: str, password: str):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"login": login, "password": password, "csrf_token": token})


@pytest.fixture(scope="module")
def haiyan(app):
    return client_for(app, "haiyan")


@pytest.fixture(scope="module")
def jiashan(app):
    return client_for(app, "jiashan")


@pytest.fixture(scope="module")
def office(app):
    return client_for(app, "office")


@pytest.fixture(scope="module")
def reports():
    from portal.devserver import REFUSED_DEFECT, sample_report

    return {"bad": sample_report("330424", 2016, 1, REFUSED_DEFECT), "good": sample_report("330424", 2016, 1),
            "jiashan": sample_report("330421", 2016, 1)}


def upload(client, files: list[tuple[str, bytes]]):
    token = csrf_of(client.get(_home(client)).text)
    return client.post("/upload", data={"csrf_token": token},
                       files=[("files", (name, data, "application/octet-stream")) for name, data in files])


def _home(client) -> str:
    return client.get("/").headers["location"]


@pytest.fixture(scope="module")
def flow(haiyan, reports):
    """haiyan checks a refused report, then checks and submits the correction; the intake decides it."""
    from portal import intake

    bad = upload(haiyan, [(BAD_NAME, reports["bad"])])
    assert bad.status_code == 303
    good = upload(haiyan, [(GOOD_NAME, reports["good"])])
    good_page = haiyan.get(good.headers["location"]).text
    submitted = haiyan.post(good.headers["location"] + "/submit", data={"csrf_token": csrf_of(good_page)})
    assert submitted.status_code == 303, submitted.text
    intake.drain(timeout=300)
    return {"bad_preview": bad.headers["location"], "good_preview": good.headers["location"],
            "receipt": submitted.headers["location"]}


def test_a_refused_report_shows_each_finding_cell_and_cannot_be_submitted(haiyan, flow):
    page = haiyan.get(flow["bad_preview"])
    assert page.status_code == 200
    assert "不通过" in page.text and "value.parent" in page.text
    assert re.search(r'<td class="cell">D5</td>', page.text)
    assert 'id="submit"' not in page.text
    refused = haiyan.post(flow["bad_preview"] + "/submit", data={"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 409


def test_the_annotated_workbook_marks_and_comments_the_offending_cell(haiyan, flow):
    from openpyxl import load_workbook

    r = haiyan.get(flow["bad_preview"] + "/files/1/annotated.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content))
    cell = wb["LZ-1 特色小镇"]["D5"]
    assert cell.comment is not None and "value" not in cell.comment.text[:2] and "大于" in cell.comment.text
    assert cell.fill.start_color.rgb == "FFF4B4B4"
    assert wb.sheetnames[0] == "问题清单" and wb["问题清单"]["C2"].value == "D5"


def test_a_preview_keeps_nothing_in_the_platform(flow, conn):
    from portal import status

    decided = conn.execute("select count(*) from landing.submissions where file_name like %s",
                           ("%初稿%",)).fetchone()[0]
    assert decided == 0
    assert status.county_submissions(conn, "330424")["2016Q1"][0]["shown_name"] == GOOD_NAME


def test_the_submitted_correction_is_received_through_the_intake_and_accepted(haiyan, flow, conn):
    page = haiyan.get(flow["receipt"]).text
    assert "已接收" in page and "第 1 版" in page and "正在入库" not in page
    row = conn.execute("select status, version, file_name from landing.submissions where county_code = '330424' "
                       "and year = 2016 and quarter = 1").fetchone()
    assert row[0] == "accepted" and row[1] == 1 and row[2].startswith("portal-330424-2016Q1-")
    status_json = haiyan.get(flow["receipt"] + "/status.json").json()
    assert status_json["decided"] is True and status_json["files"][0]["status"] in ("accepted", "accepted_with_warnings")
    county = haiyan.get("/county/330424?period=2016Q1").text
    assert GOOD_NAME in county and "已接收" in county


def test_a_second_submission_of_the_same_preview_is_refused(haiyan, flow):
    page = haiyan.get(flow["good_preview"]).text
    assert 'id="submit"' not in page
    again = haiyan.post(flow["good_preview"] + "/submit", data={"csrf_token": csrf_of(haiyan.get("/county/330424").text)})
    assert again.status_code == 409


def _submission_id(conn) -> int:
    return conn.execute("select submission_id from landing.submissions where county_code = '330424'").fetchone()[0]


def test_another_county_gets_404_on_every_url_of_the_first(jiashan, flow, conn):
    sid = _submission_id(conn)
    urls = [flow["receipt"], flow["receipt"] + "/status.json", f"/submissions/{sid}", flow["bad_preview"],
            flow["bad_preview"] + "/files/1/annotated.xlsx", flow["good_preview"], "/county/330424",
            "/county/330424?period=2016Q1", "/county/330424/form/2016Q1.xlsx", "/office"]
    for url in urls:
        r = jiashan.get(url)
        assert r.status_code == 404, url
        assert "海盐" not in r.text and GOOD_NAME not in r.text, url
    token = csrf_of(jiashan.get("/county/330421").text)
    assert jiashan.post(flow["bad_preview"] + "/submit", data={"csrf_token": token}).status_code == 404


def test_logged_out_requests_go_to_the_login_page(app, flow):
    anonymous = client_for(app, None)
    for url in (flow["receipt"], "/county/330424", "/office", "/county/330424/form/2016Q1.xlsx", flow["bad_preview"]):
        r = anonymous.get(url)
        assert r.status_code == 303 and r.headers["location"] == "/login", url


def test_the_office_reads_every_county_and_cannot_upload(office, flow, conn, reports):
    assert office.get(flow["receipt"]).status_code == 200
    page = office.get("/office?period=2016Q1").text
    assert "海盐县" in page and "嘉善县" in page and f"/submissions/{_submission_id(conn)}" in page
    assert office.get("/county/330424?period=2016Q1").status_code == 200
    assert office.get(flow["good_preview"]).status_code == 404  # a preview is its author's alone
    token = csrf_of(page)
    r = office.post("/upload", data={"csrf_token": token}, files=[("files", ("x.xlsx", reports["good"]))])
    assert r.status_code == 403


def test_a_report_of_another_county_is_refused_for_this_account(jiashan, reports):
    r = upload(jiashan, [("海盐县2016年一季度.xlsx", reports["good"])])
    page = jiashan.get(r.headers["location"]).text
    assert "portal.county" in page and "本账号只能报送嘉善县的报表" in page and 'id="submit"' not in page


def test_every_form_needs_the_csrf_token(haiyan, reports):
    assert haiyan.post("/upload", files=[("files", ("a.xlsx", reports["good"]))]).status_code == 403
    assert haiyan.post("/upload", data={"csrf_token": "forged"},
                       files=[("files", ("a.xlsx", reports["good"]))]).status_code == 403
    assert haiyan.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    login_page = client_for(haiyan.app, None)
    r = login_page.post("/login", data={"login": "haiyan", "password": PASSWORDS["haiyan"], "csrf_token": "x"})
    assert r.status_code == 403


def test_an_upload_over_the_cap_is_refused_before_it_is_read(haiyan):
    token = csrf_of(haiyan.get("/county/330424").text)
    big = b"0" * (2 * 1024 * 1024 + 1)
    r = haiyan.post("/upload", data={"csrf_token": token}, files=[("files", ("big.csv", big))])
    assert r.status_code == 413

    def chunks():  # no Content-Length: the stream is cut at the cap
        yield b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.csv\"\r\n\r\n"
        for _ in range(40):
            yield b"0" * 65536
    r = haiyan.post("/upload", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413


def test_an_unsupported_file_type_is_refused_and_never_stored(haiyan, runtime_dirs):
    from portal.settings import previews_dir

    before = set(previews_dir().iterdir())
    r = upload(haiyan, [("../../etc/passwd", b"root:x:0:0")])
    page = haiyan.get(r.headers["location"]).text
    assert "file.unreadable" in page and "passwd" in page
    assert set(previews_dir().iterdir()) == before


def test_pages_carry_the_security_headers_and_no_inline_script(haiyan, flow):
    for url in ("/login", "/county/330424", flow["receipt"], flow["bad_preview"]):
        r = haiyan.get(url)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert not re.search(r"<script(?![^>]*\bsrc=)", r.text) and " style=" not in r.text and "<style" not in r.text


def test_the_session_cookie_is_secure_httponly_samesite(app):
    client = client_for(app, None)
    r = log_in(client, "jiashan", PASSWORDS["jiashan"])
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-twotowns_session=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie


def test_logins_are_rate_limited_per_account_and_per_client(app, conn):
    from portal import accounts

    client = client_for(app, None)
    for _ in range(accounts.MAX_FAILURES_PER_LOGIN):
        assert log_in(client, "jiashan", "wrong-password-xx").status_code == 401
    assert log_in(client, "jiashan", PASSWORDS["jiashan"]).status_code == 429  # even the right password
    conn.execute("delete from portal.login_attempts")
    with conn.cursor() as cur:  # the earlier failures of this client, as earlier requests recorded them
        cur.executemany("insert into portal.login_attempts (login, client, success) values (%s, 'testclient', false)",
                        [(f"nobody{i}",) for i in range(accounts.MAX_FAILURES_PER_CLIENT - 1)])
    assert log_in(client, "nobody", "wrong-password-xx").status_code == 401  # the last one allowed
    assert log_in(client, "office", PASSWORDS["office"]).status_code == 429  # this client, any account
    assert accounts.throttled(conn, "office", "another-client") is False
    conn.execute("delete from portal.login_attempts")
    assert log_in(client, "office", PASSWORDS["office"]).status_code == 303


def test_users_cli_generates_one_time_passwords_and_disables(app, conn, capsys, monkeypatch):
    import sys

    from portal import accounts
    from portal.cli import main

    assert main(["users", "add", "pinghu", "--county", "330482", "--email", "a@pinghu.example"]) == 0
    password = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    assert len(password) >= 20 and accounts.authenticate(conn, "pinghu", password, "cli")[1] == "ok"
    assert conn.execute("select password_hash from portal.accounts where login = 'pinghu'").fetchone()[0].startswith(
        "$argon2id$")
    assert main(["users", "add", "pinghu", "--county", "330482"]) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["users", "reset", "pinghu", "--password-stdin"]) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-new-long-password\n"))
    assert main(["users", "reset", "pinghu", "--password-stdin"]) == 0
    assert accounts.authenticate(conn, "pinghu", password, "cli")[1] == "invalid"
    assert main(["users", "disable", "pinghu"]) == 0
    assert accounts.authenticate(conn, "pinghu", "a-new-long-password", "cli")[1] == "invalid"
    assert main(["users", "add", "nocounty"]) == 2


def test_a_disabled_account_loses_its_session_at_once(app, conn):
    from portal import accounts

    accounts.add(conn, "tongxiang", "county", "330483", None, "tongxiang-secret-1")
    client = client_for(app, None)
    assert log_in(client, "tongxiang", "tongxiang-secret-1").status_code == 303
    assert client.get("/county/330483").status_code == 200
    accounts.set_disabled(conn, "tongxiang")
    assert client.get("/county/330483").status_code == 303


def test_the_form_template_has_the_members_of_the_quarter(haiyan):
    from openpyxl import load_workbook

    from core import registry
    from core.periods import Period

    r = haiyan.get("/county/330424/form/2016Q1.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    rows = {ws.cell(row=i, column=1).value for ws in wb.worksheets for i in range(4, ws.max_row + 1)}
    members = {t.code for programme in ("characteristic", "pilot")
               for t in registry.members("330424", programme, Period(2016, 1).end)}
    assert members and members <= rows
    assert "填报单位：海盐县" in [c.value for c in wb["LZ-1 特色小镇"][2]]


def test_healthz_answers_when_the_warehouse_does(app):
    assert client_for(app, None).get("/healthz").text == "ok"


def test_the_receipt_and_a_reminder_go_by_email_through_the_smtp_hook(flow, conn, monkeypatch):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    from portal import mail
    from portal.devserver import free_port

    received = []

    class Keep(Message):
        def handle_message(self, message):
            received.append(message)

    port = free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("AIRFLOW_CONN_TWOTOWNS_SMTP",
                           f"smtp://127.0.0.1:{port}?disable_tls=true&disable_ssl=true&from_email=portal%40example.org")
        notified = mail.notify_decided(conn, "https://portal.example")
        assert len(notified) == 1 and mail.notify_decided(conn) == []  # each receipt once
        from ops.reminders import remind

        summary = remind("2016Q2", alert=False)
        assert "330424" in summary["reminders"]
        assert "330424" in mail.send_reminders(summary)
    finally:
        controller.stop()
    to = [m["To"] for m in received]
    assert to == ["clerk@haiyan.example", "clerk@haiyan.example"]
    from email.header import decode_header, make_header

    subjects = [str(make_header(decode_header(m["Subject"]))) for m in received]
    assert any("回执" in s for s in subjects) and any("提醒" in s for s in subjects)


@pytest.fixture(scope="module")
def csv_forms(tmp_path_factory):
    """嘉善县 2016Q2 as one CSV per form (samplegen.formats), the way a county's system exports it."""
    from portal.devserver import sample_report
    from samplegen.formats import to_csv_forms

    folder = tmp_path_factory.mktemp("csv")
    workbook = folder / "330421_2016Q2.xlsx"
    workbook.write_bytes(sample_report("330421", 2016, 2))
    return to_csv_forms(workbook, folder / "forms")


def test_csv_forms_at_once_wait_in_the_inbox_until_the_dag_task_takes_them(app, csv_forms, conn):
    """The default intake (`inbox`): the receipt says 正在入库 until county_reports' task, receive_batch, ran."""
    from dataclasses import replace

    from ingest.inbox import pending_files, receive_batch
    from portal.app import create_app

    inbox_app = create_app(replace(app.state.settings, intake="inbox"))
    client = client_for(inbox_app, "jiashan")
    r = upload(client, [(p.name, p.read_bytes()) for p in csv_forms])
    page = client.get(r.headers["location"]).text
    assert page.count('data-status="accepted"') == 3 and 'id="submit"' in page
    receipt = client.post(r.headers["location"] + "/submit", data={"csrf_token": csrf_of(page)}).headers["location"]
    waiting = client.get(receipt).text
    assert waiting.count("已检查，正在入库") == 3 and '<script src="/static/receipt.js"' in waiting
    assert client.get(receipt + "/status.json").json()["decided"] is False
    names = sorted(Path(p).name for p in pending_files())
    assert [n.split("-", 3)[:3] for n in names] == [["portal", "330421", "2016Q2"]] * 3
    assert sorted(re.search(r"LZ-\d", n).group(0) for n in names) == ["LZ-0", "LZ-1", "LZ-2"]
    receive_batch(pending_files())  # what the DAG's task does
    decided = client.get(receipt).text
    assert client.get(receipt + "/status.json").json()["decided"] is True, client.get(receipt + "/status.json").json()
    assert "正在入库" not in decided and decided.count('class="status accepted') == 3 and "尚不完整" not in decided
    assert "receipt.js" not in decided
    assert conn.execute("select count(*) from landing.submissions where county_code = '330421' and year = 2016 "
                        "and quarter = 2 and status = 'accepted'").fetchone()[0] == 3


@pytest.mark.parametrize("kind", ["csv", "xls"])
def test_a_refused_csv_or_xls_comes_back_as_a_marked_xlsx(haiyan, tmp_path, kind):
    from openpyxl import load_workbook

    from portal.devserver import REFUSED_DEFECT, sample_report
    from samplegen.formats import to_csv_forms, to_xls

    workbook = tmp_path / "330424_2016Q1.xlsx"
    workbook.write_bytes(sample_report("330424", 2016, 1, REFUSED_DEFECT))
    if kind == "csv":
        sent = next(p for p in to_csv_forms(workbook, tmp_path / "forms") if p.name.endswith("LZ-1.csv"))
    else:
        sent = to_xls(workbook, tmp_path / "330424_2016Q1.xls")
    r = upload(haiyan, [(sent.name, sent.read_bytes())])
    page = haiyan.get(r.headers["location"]).text
    sheet, cell = re.search(r"<td>([^<]*)</td>\s*<td class=\"cell\">([A-Z]+\d+)</td>", page).groups()
    marked = load_workbook(io.BytesIO(haiyan.get(r.headers["location"] + "/files/1/annotated.xlsx").content))
    assert marked[sheet[:31]][cell].comment is not None and "大于" in marked[sheet[:31]][cell].comment.text


def test_the_office_links_the_published_bulletin_served_without_script(office, haiyan, runtime_dirs):
    from core import config

    folder = Path(config.publish_url().removeprefix("file://")) / "bulletin"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "2016Q1.html").write_text("<html><style>h1{}</style><h1>2016Q1 简报</h1></html>", encoding="utf-8")
    assert 'href="/bulletin/2016Q1"' in office.get("/office?period=2016Q1").text
    r = office.get("/bulletin/2016Q1")
    assert r.status_code == 200 and "2016Q1 简报" in r.text
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': no script at all
    assert haiyan.get("/bulletin/2016Q1").status_code == 200  # the bulletin is public
    assert office.get("/bulletin/2015Q2").status_code == 404


def test_no_secret_key_no_server_and_the_sample_accounts_are_made_once(app, conn, monkeypatch, capsys):
    import stat

    from portal import accounts
    from portal.cli import main
    from portal.devserver import ensure_sample_accounts, secret_key_file

    monkeypatch.delenv("TWOTOWNS_PORTAL_SECRET_KEY")
    monkeypatch.delenv("TWOTOWNS_PORTAL_SECRET_KEY_FILE", raising=False)
    assert main(["serve", "--port", "1"]) == 2 and "secret key" in capsys.readouterr().err
    key = secret_key_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) >= 32
    spec = (("sample-county", "county", "330402"), ("sample-office", "office", None))
    created = ensure_sample_accounts(conn, spec)
    assert set(created) == {"sample-county", "sample-office"}
    assert accounts.authenticate(conn, "sample-county", created["sample-county"], "make")[1] == "ok"
    assert ensure_sample_accounts(conn, spec) == {}


def test_the_same_bytes_again_are_announced_and_receipted_as_a_duplicate(haiyan, flow, reports, conn):
    from portal import intake

    r = upload(haiyan, [("再报一次.xlsx", reports["good"])])
    page = haiyan.get(r.headers["location"]).text
    assert "submission.duplicate" in page and 'id="submit"' in page
    receipt = haiyan.post(r.headers["location"] + "/submit", data={"csrf_token": csrf_of(page)}).headers["location"]
    intake.drain(timeout=300)
    decided = haiyan.get(receipt).text
    assert "重复报送" in decided and "第 1 版" in decided
    assert conn.execute("select count(*) from landing.submissions where county_code = '330424' and year = 2016 "
                        "and quarter = 1").fetchone()[0] == 1
