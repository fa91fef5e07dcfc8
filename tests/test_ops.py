"""Operations: deadline reminders, reprocessing a county's report, the `python -m ops` commands."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import date, datetime

import pytest

from core.periods import Period
from ops import cli, reminders

# --------------------------------------------------------------------------- periods and plans


@pytest.mark.parametrize(("today", "due"), [
    (date(2016, 10, 20), "2016Q2"),  # the deadline day itself still belongs to the counties
    (date(2016, 10, 21), "2016Q3"),
    (date(2017, 1, 31), "2016Q3"),
    (date(2017, 2, 1), "2016Q4"),  # Q4: 31 January
    (date(2016, 4, 21), "2016Q1"),
])
def test_the_due_period_is_the_last_one_whose_deadline_has_passed(today, due):
    assert str(reminders.due_period(today)) == due


def test_quarters_of_a_range_cross_the_year():
    assert cli.quarters("2015Q3", "2016Q2") == ["2015Q3", "2015Q4", "2016Q1", "2016Q2"]
    assert cli.quarters("2016年三季度", "2016-Q3") == ["2016Q3"]
    with pytest.raises(ValueError, match="before"):
        cli.quarters("2016Q2", "2016Q1")


def test_each_command_stands_for_dag_runs_with_the_quarter_in_their_params():
    parse = cli.build_parser().parse_args
    assert cli.plan(parse(["backfill", "--from", "2016Q3", "--to", "2016Q4"])) == [
        ("quarterly_bulletin", {"period": "2016Q3"}), ("quarterly_bulletin", {"period": "2016Q4"})]
    assert cli.plan(parse(["backfill", "--from", "2016Q4", "--to", "2017Q1", "--rebuild"])) == [
        ("warehouse_build", {"periods": ["2016Q4", "2017Q1"]}), ("nightly_publish", {}),
        ("quarterly_bulletin", {"period": "2016Q4"}), ("quarterly_bulletin", {"period": "2017Q1"})]
    assert cli.plan(parse(["rebuild"])) == [("warehouse_build", {"full_refresh": True})]
    assert cli.plan(parse(["publish"])) == [("nightly_publish", {})]
    assert cli.plan(parse(["remind", "--period", "2016Q3"])) == [("deadline_reminders", {"period": "2016Q3"})]
    assert cli.plan(parse(["reprocess", "--county", "330421", "--period", "2016Q3"])) == [
        ("warehouse_build", {"periods": ["2016Q3"]}), ("nightly_publish", {})]
    assert cli.plan(parse(["reprocess", "--county", "330421", "--period", "2016Q3", "--no-build"])) == []


def test_usage_errors_exit_2(capsys):
    assert cli.main(["backfill", "--from", "2016Q5", "--to", "2016Q4"]) == 2
    assert "not a reporting period" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["rebuild", "--bogus"])
    assert exc.value.code == 2


def test_rebuild_runs_dbt_with_full_refresh(monkeypatch, runtime_dirs):
    """The warehouse_build DAG's dbt task passes the full_refresh param on to dbt."""
    import runpy

    from core import airflow_env, config

    airflow_env.apply()  # before Airflow is first imported: its settings are read once per process

    calls = []
    monkeypatch.setattr("core.dbt.run_dbt_or_raise", lambda args: calls.append(args) or {})
    dag = runpy.run_path(str(config.PROJECT_DIR / "dags" / "warehouse_build.py"))["warehouse_build"]()
    dbt_task = dag.get_task("dbt_build")
    dbt_task.python_callable(params={"full_refresh": True})
    dbt_task.python_callable(params={"full_refresh": False})
    assert calls == [["build", "--full-refresh"], ["build"]]


# --------------------------------------------------------------------------- deadline status


class _Rows:
    def __init__(self, rows):
        self.rows = rows

    def execute(self, sql, params):
        return self

    def fetchall(self):
        return self.rows


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T10:00:00+08:00")


def test_each_county_is_on_time_late_incomplete_refused_or_missing():
    p = Period(2016, 1)  # every sample county has member towns of both programmes: LZ-0, LZ-1, LZ-2
    all_forms = ["LZ-0", "LZ-1", "LZ-2"]
    rows = [
        ("330402", "accepted", False, all_forms, _at("2016-04-10")),
        ("330411", "refused", False, all_forms, _at("2016-04-12")),
        ("330411", "accepted", True, all_forms, _at("2016-04-25")),  # the correction came late
        ("330421", "accepted", False, ["LZ-0"], _at("2016-04-15")),  # CSV files: one form so far
        ("330421", "accepted", False, ["LZ-1"], _at("2016-04-16")),
        ("330424", "refused", False, all_forms, _at("2016-04-15")),
    ]
    status = {s.county_code: s for s in reminders.deadline_status(_Rows(rows), p)}
    required = set(status["330402"].required_forms)
    assert status["330402"].status == "on_time"
    assert status["330411"].status == "late" and status["330411"].late_forms == sorted(required)
    assert status["330424"].status == "refused" and status["330424"].refused == 1
    assert status["330483"].status == "missing" and status["330483"].missing_forms == sorted(required)
    if "LZ-2" in required:
        assert status["330421"].status == "incomplete" and status["330421"].missing_forms == ["LZ-2"]
    assert [s.needs_reminder for s in status.values()].count(True) == sum(
        s.status in ("incomplete", "refused", "missing") for s in status.values())


def test_reminders_name_the_members_and_chase_new_ones():
    """The member list follows the one membership definition: 2016Q1 brings the second provincial batch
    (秀洲光伏, from 2016-01-29) and round 2 of the municipal pilots; a town that moved from the municipal to
    the provincial list (乌镇互联网) keeps reporting LZ-1; the downgraded 平湖九龙山 stays a member (cultivation)."""
    members, joined, left = reminders.county_members("330411", Period(2016, 1))
    assert {(m["form"], m["town_code"]) for m in joined} == {("LZ-1", "CT-330411-01"), ("LZ-2", "PT-330411104")}
    assert left == [] and {m["town_code"] for m in joined} <= {m["town_code"] for m in members}
    _, joined, left = reminders.county_members("330483", Period(2016, 1))
    assert {m["town_code"] for m in joined} == {"PT-330483100"} and left == []
    members, joined, left = reminders.county_members("330482", Period(2017, 3))
    assert "CT-330482-01" in {m["town_code"] for m in members} and joined == left == []
    html = reminders._render_html({**asdict(reminders.CountyStatus(
        "330411", "秀洲区", "2016Q1", "2016-04-20", "missing", "未报送", ["LZ-0", "LZ-1", "LZ-2"], ["LZ-0"],
        members=members, joined=[{"form": "LZ-1", "town_code": "CT-330411-01", "name_zh": "秀洲光伏小镇"}])),
        "as_of": "2016-04-21"})
    assert "本期新增成员" in html and "秀洲光伏小镇（CT-330411-01）" in html


@pytest.mark.integration
def test_reminders_reach_the_outboxes_of_late_counties_and_the_team_is_alerted(warehouse, runtime_dirs, sample_dir,
                                                                               expected, monkeypatch):
    from core import config
    from ingest.landing import submit
    from ops import alerts

    for name in ("TWOTOWNS_ALERT_SMTP_URL", "TWOTOWNS_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    alerts.alerts_log_path().unlink(missing_ok=True)
    # 2016Q1 from every county but 330402; 330411's report came late. 2016Q3: only 330424's refused report.
    files = [e for e in expected if e["period"] == "2016Q1" and e["county_code"] != "330402"]
    files += [e for e in expected if e["period"] == "2016Q3" and e["expected_status"] == "refused"]
    for e in files:
        result = submit(sample_dir / e["file"], received_at=datetime.fromisoformat(e["received_at"]))
        assert result.status == e["expected_status"], e["file"]

    summary = reminders.remind("2016Q1", date(2016, 4, 21))

    assert summary["by_status"]["missing"] == ["330402"]
    assert summary["by_status"]["late"] == ["330411"]
    assert summary["reminders"] == ["330402"] and summary["alerted"]
    reminder = json.loads((config.outbox_dir() / "330402" / "reminder-2016Q1.json").read_text(encoding="utf-8"))
    assert reminder["status"] == "missing" and reminder["deadline"] == "2016-04-20"
    html = (config.outbox_dir() / "330402" / "reminder-2016Q1.html").read_text(encoding="utf-8")
    assert "南湖区" in html and "未报送" in html and "2016-04-20" in html
    report = json.loads(reminders.status_report_path("2016Q1").read_text(encoding="utf-8"))
    assert {c["county_code"]: c["status"] for c in report["counties"]}["330411"] == "late"
    alert = json.loads(alerts.alerts_log_path().read_text(encoding="utf-8").splitlines()[-1])
    assert alert["kind"] == "deadline.missed" and "330402" in alert["text"] and "330411" in alert["text"]

    # idempotent: the same day again writes the same bytes
    before = {p: p.read_bytes() for p in (config.outbox_dir() / "330402").glob("reminder-*")}
    reminders.remind("2016Q1", date(2016, 4, 21))
    assert before == {p: p.read_bytes() for p in (config.outbox_dir() / "330402").glob("reminder-*")}

    q3 = reminders.remind("2016Q3", date(2016, 10, 21), alert=False)
    assert q3["by_status"]["refused"] == ["330424"] and "330424" in q3["reminders"]

    with pytest.raises(ValueError, match="has not passed"):
        reminders.remind("2016Q4", date(2017, 1, 31))


@pytest.mark.integration
def test_reprocess_loads_a_report_again_with_its_receipt_time_and_version(warehouse, runtime_dirs, sample_dir,
                                                                          expected):
    from core.warehouse import connect
    from ingest.landing import submit
    from ops.reprocess import plan_path, reprocess

    files = [e for e in expected if e["county_code"] == "330424" and e["period"] == "2016Q3"]
    assert [e["expected_status"] for e in files] == ["refused", "accepted"]  # a refused report and its correction
    for e in files:
        submit(sample_dir / e["file"], received_at=datetime.fromisoformat(e["received_at"]))
    query = ("select file_name, status, version, received_at, errors from landing.submissions "
             "where county_code = '330424' and year = 2016 and quarter = 3 order by received_at")
    values = "select count(*), sum(value) from raw.report_values where county_code = '330424'"
    with connect() as conn:
        before, values_before = conn.execute(query).fetchall(), conn.execute(values).fetchone()

    outcome = reprocess("330424", "2016Q3")

    assert [(f["before"], f["after"]) for f in outcome["files"]] == [("refused", "refused"), ("accepted", "accepted")]
    with connect() as conn:
        assert conn.execute(query).fetchall() == before
        assert conn.execute(values).fetchone() == values_before
    assert not plan_path("330424", "2016Q3").exists()

    # the command: reload only, no build
    assert cli.main(["reprocess", "--county", "330424", "--period", "2016Q3", "--no-build"]) == 0
    assert cli.main(["reprocess", "--county", "330402", "--period", "2016Q3", "--no-build"]) == 1  # nothing received
    assert cli.main(["reprocess", "--held", "--county", "330402", "--no-build"]) == 2  # one or the other
    assert cli.main(["reprocess", "--held", "--no-build"]) == 0  # nothing held: nothing to do


_REPROCESS_UNTIL_KILLED = r"""
import sys, time
import ingest.audit as audit
from ops.reprocess import reprocess

def audit_then_wait(conn, sid):
    print("AUDITING", sid, flush=True)
    time.sleep(120)  # the new version loaded as pending, not decided: killed here

audit.audit_submission = audit_then_wait
reprocess(sys.argv[1], sys.argv[2])
"""


@pytest.mark.integration
def test_reprocess_keeps_the_old_version_current_until_the_new_decision_commits(warehouse, runtime_dirs):
    """While a file is processed again its old version stays current (its values too) beside the new pending
    one; killed there, nothing changed for readers; the same command again finishes the job (its plan file),
    and the state equals the one before, submission ids aside."""
    import signal
    import subprocess
    import sys

    from core.warehouse import connect
    from ops.reprocess import plan_path, reprocess

    state = ("select s.file_name, s.status, s.version, s.received_at, s.errors, s.warnings, count(v.value), "
             "sum(v.value) from landing.submissions s left join raw.report_values v using (submission_id) "
             "where s.county_code = '330424' and s.year = 2016 and s.quarter = 3 and s.status <> 'pending' "
             "group by 1, 2, 3, 4, 5, 6 order by s.received_at")
    with connect() as conn:
        before = conn.execute(state).fetchall()
    assert [r[1] for r in before] == ["refused", "accepted"]  # from the test above

    proc = subprocess.Popen([sys.executable, "-c", _REPROCESS_UNTIL_KILLED, "330424", "2016Q3"],
                            stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        line = proc.stdout.readline().split()
        assert line[0] == "AUDITING", line
        with connect() as conn:
            assert conn.execute(state).fetchall() == before  # the old version is current, with its values
            pending = conn.execute("select count(*), sum(n) from (select (select count(*) from raw.report_values v "
                                   "where v.submission_id = s.submission_id) as n from landing.submissions s "
                                   "where s.status = 'pending') as p").fetchone()
            assert pending[0] == 1 and pending[1] == before[1][6]  # the new one loaded beside it
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    with connect() as conn:
        assert conn.execute(state).fetchall() == before
    assert plan_path("330424", "2016Q3").exists()

    outcome = reprocess("330424", "2016Q3")  # the same command again: finishes from its plan
    assert [(f["before"], f["after"]) for f in outcome["files"]] == [("refused", "refused"), ("accepted", "accepted")]
    with connect() as conn:
        assert conn.execute(state).fetchall() == before
        assert conn.execute("select count(*) from landing.submissions where status = 'pending'").fetchone() == (0,)
    assert not plan_path("330424", "2016Q3").exists()


@pytest.mark.integration
@pytest.mark.slow
def test_the_ui_runs_locally_with_airflow_standalone(tmp_path, warehouse):
    """`python -m ops ui` (make airflow-standalone): the api-server answers on loopback, then stops on Ctrl-C."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from core import config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update({"AIRFLOW_HOME": str(tmp_path / "airflow"), "TWOTOWNS_VAR_DIR": str(tmp_path / "var")})
    log = tmp_path / "standalone.log"
    proc = subprocess.Popen([sys.executable, "-m", "ops", "ui", "--port", str(port)], env=env, cwd=config.PROJECT_DIR,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    health = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as r:
                    health = json.loads(r.read())
                if health["scheduler"]["status"] == "healthy" and health["dag_processor"]["status"] == "healthy":
                    break
            except OSError:
                pass
            time.sleep(2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
    finally:
        # Ctrl-C, as an operator would; then the whole process group, whatever is left of it
        for sig, grace in ((signal.SIGINT, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            if sig != signal.SIGINT:
                break
    assert health and health["metadatabase"]["status"] == "healthy", log.read_text()[-3000:]
    assert health["scheduler"]["status"] == "healthy", log.read_text()[-3000:]
    assert (tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated").exists()
