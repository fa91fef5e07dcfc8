"""`python -m ops registry check` (ops/registry_check.py) on the sample warehouse (real PostgreSQL).

The sample is submitted and built once (`dbt build`); each test checks a temporary copy of the seed
files, changed the way a reviewed commit would change them, against that warehouse.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from core.config import PROJECT_DIR, SEEDS_DIR
from ops import registry_check
from ops.registry_check import check

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DECISION = ["decision_id", "decided_on", "effective_from", "town_code", "programme", "action", "list_name",
            "assessment_year", "answers_proposal", "reason_code", "document_no", "decided_by", "source", "note"]
TODAY = date(2025, 6, 30)


@pytest.fixture(scope="module")
def built(warehouse, sample_dir, expected, publish_built_marts) -> str:
    """The sample, submitted and built: the warehouse the registry change is checked against (every
    year: the registry's decisions answer the proposals of 2016-2018)."""
    from core.dbt import run_dbt
    from ingest.landing import submit

    for e in expected:
        assert submit(sample_dir / e["file"], write_feedback=False).status == e["expected_status"], e["file"]
    result = run_dbt(["build"])
    assert result.success, result.failures[:10]
    publish_built_marts()
    return warehouse


@pytest.fixture
def seeds(tmp_path) -> Path:
    """A copy of the project's seed files, to change."""
    return Path(shutil.copytree(SEEDS_DIR, tmp_path / "seeds"))


def append(seeds: Path, table: str, row: dict | list) -> int:
    """Append one row to `<table>.csv` (a dict: by the header's column names); returns its line number."""
    path = seeds / f"{table}.csv"
    text = path.read_text(encoding="utf-8")
    with open(path, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    cells = [row.get(c, "") for c in header] if isinstance(row, dict) else row
    with open(path, "a", encoding="utf-8", newline="") as f:
        if not text.endswith("\n"):
            f.write("\n")
        csv.writer(f, lineterminator="\n").writerow(cells)
    return len(path.read_text(encoding="utf-8").splitlines())


def decision(**values) -> dict:
    base = {"decided_by": "city", "source": "illustrative", "programme": "characteristic"}
    return {**base, **{k: str(v) for k, v in values.items()}}


def query(url: str, sql: str, *params) -> list[dict]:
    from core.warehouse import connect

    with connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def eliminate_candidate(url: str) -> dict:
    """A municipal characteristic town of 2016 the city has decided nothing on in any year (the
    registry answers every proposal of the sample, so the elimination added is a qualitative one)."""
    rows = query(url, "select a.town_code, a.name_zh, a.list_name from marts.town_annual_assessment as a "
                      "where a.year = 2016 and a.programme = 'characteristic' and a.tier = 'municipal' "
                      "and a.decision is null and not exists (select 1 from marts.decisions as d "
                      "where d.town_code = a.town_code) order by a.town_code")
    assert rows, "every municipal town of 2016 has a decision"
    return rows[0]


def errors(report) -> set[str]:
    return {f.code for f in report.findings if f.severity == "error"}


# --------------------------------------------------------------------------- the membership definition

def test_the_before_state_renders_the_one_macro_for_postgresql():
    text = registry_check.members_on_postgres()
    assert "seeds.memberships" in text and "seeds.decisions" in text and "seeds.decision_actions" in text
    assert "unnest(%(days)s::date[])" in text and "ends_membership" in text


def test_the_warehouse_and_the_seed_files_agree_on_membership(built):
    """Before (PostgreSQL over schema seeds) and after (SQLite over the CSV files) evaluate the same
    macro: on the unchanged registry they agree on every quarter end."""
    from core.warehouse import connect

    days = registry_check.quarter_ends(2010, 2019)
    after = registry_check.read_seeds(SEEDS_DIR)
    with connect(built, autocommit=True) as conn:
        before = registry_check.read_warehouse(conn)
        old = registry_check.member_sets(before, days)
    new = registry_check.member_sets(after, days)
    assert old == new
    assert ("CT-330482-01", "characteristic", "provincial_creation", "省级第二批创建名单") in old[date(2017, 6, 30)]
    assert ("CT-330482-01", "characteristic", "provincial_creation", "省级第二批创建名单") not in old[date(2017, 9, 30)]


# --------------------------------------------------------------------------- (a) unchanged, (b) an elimination

def test_an_unchanged_registry_has_no_findings_and_no_impact(built, seeds):
    report = check(seeds, built, today=TODAY)
    assert report.findings == [] and report.changes == [] and report.notes == []
    assert report.before_missing == [] and report.marts_missing == []
    assert all(items == [] for items in report.impact.values()), report.impact
    assert "Impact: none" in report.to_text()


def test_an_elimination_stops_reporting_from_the_next_quarter_and_changes_the_published_year(built, seeds):
    town = eliminate_candidate(built)
    code, name = town["town_code"], town["name_zh"]
    line = append(seeds, "decisions", decision(
        decision_id="C-2016-93", decided_on="2017-01-01", effective_from="2017-01-01", town_code=code,
        action="eliminate", list_name=town["list_name"], assessment_year=2016, answers_proposal="",
        reason_code="qualitative", document_no="嘉两镇办〔2017〕93号"))
    report = check(seeds, built, today=TODAY)
    assert report.errors == 0 and report.warnings == 0, report.findings
    assert report.changes == [f"decisions.csv C-2016-93 (line {line}): added"]
    [stop] = report.impact["reporting"]
    assert stop["text"] == f"{code} {name} stops reporting LZ-1 from 2017Q1 (decision C-2016-93 eliminate)"
    assert (stop["change"], stop["from_quarter"], stop["to_quarter"]) == ("stops", "2017Q1", None)
    [year] = report.impact["town_years"]
    assert (year["year"], year["town_code"], year["published_row"]) == (2016, code, True)
    assert year["changes"]["eliminated_next_year"] == [False, True]
    assert year["changes"]["decision"] == [None, "eliminate"]
    [row] = report.impact["towns"]
    assert row["before"]["valid_to"] is None and row["before"]["status"] == "active"
    assert row["after"] == {"valid_to": date(2016, 12, 31), "status": "eliminated", "ended_by": "decision",
                            "decision_id": "C-2016-93"}
    kpis = {(k["kpi"], k["year"]) for k in report.impact["kpis"]}
    assert kpis == {("municipal_characteristic_towns", 2017), ("municipal_characteristic_towns", 2018)}
    assert [d["decision_id"] for d in report.impact["decisions"]] == ["C-2016-93"]
    payload = json.loads(report.to_json())
    assert payload["errors"] == 0 and payload["impact"]["reporting"][0]["from_quarter"] == "2017Q1"


# --------------------------------------------------------------------------- (c) each error once

def _unknown_town(seeds, url):
    return append(seeds, "memberships", {"town_code": "CT-330499-01", "programme": "characteristic", "tier": "municipal",
                                         "list_name": "市级第二批", "valid_from": "2016-07-01", "event": "join"})


def _overlap(seeds, url):
    return append(seeds, "memberships", {"town_code": "CT-330421-02", "programme": "characteristic", "tier": "municipal",
                                         "list_name": "市级第二批", "valid_from": "2016-07-01", "event": "join"})


def _unanswered_proposal(seeds, url):
    [town] = query(url, "select town_code, list_name from marts.town_annual_assessment where year = 2016 "
                        "and programme = 'characteristic' and tier = 'municipal' "
                        "and not 'excellent_candidate' = any(string_to_array(proposals, ',')) order by town_code limit 1")
    return append(seeds, "decisions", decision(
        decision_id="C-2016-99", decided_on="2017-02-01", effective_from="2017-02-01", town_code=town["town_code"],
        action="award_excellent", list_name=town["list_name"], assessment_year=2016,
        answers_proposal="excellent_candidate"))


def _effective_before_decided(seeds, url):
    return append(seeds, "decisions", decision(
        decision_id="P-2016-09", decided_on="2017-08-02", effective_from="2017-08-01", town_code="CT-330421-01",
        action="warning", list_name="省级第一批创建名单", assessment_year=2016, decided_by="province"))


def _not_member(seeds, url):
    return append(seeds, "decisions", decision(
        decision_id="C-2016-97", decided_on="2017-03-01", effective_from="2017-03-01", town_code="PT-330402101",
        programme="pilot", action="yellow_card", list_name="市级第一轮(2013-2015)", assessment_year=2016))


def _duplicate_id(seeds, url):
    return append(seeds, "decisions", decision(
        decision_id="P-2016-02", decided_on="2017-08-02", effective_from="2017-08-02", town_code="CT-330421-01",
        action="warning", list_name="省级第一批创建名单", assessment_year=2016, decided_by="province"))


def _unknown_action(seeds, url):
    return append(seeds, "decisions", decision(
        decision_id="C-2016-98", decided_on="2017-03-01", effective_from="2017-03-01", town_code="CT-330402-02",
        action="promote", list_name="市级第一批", assessment_year=2016))


@pytest.mark.parametrize(("change", "code", "file", "town"), [
    (_unknown_town, "registry.unknown_town", "memberships.csv", "CT-330499-01"),
    (_overlap, "registry.overlap", "memberships.csv", "CT-330421-02"),
    (_unanswered_proposal, "decision.unanswered_proposal", "decisions.csv", None),
    (_effective_before_decided, "decision.effective_before_decided", "decisions.csv", "CT-330421-01"),
    (_not_member, "decision.not_member", "decisions.csv", "PT-330402101"),
    (_duplicate_id, "decision.duplicate_id", "decisions.csv", "CT-330421-01"),
    (_unknown_action, "decision.unknown_action", "decisions.csv", "CT-330402-02"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else None)
def test_each_error_is_found_on_its_line(built, seeds, change, code, file, town):
    line = change(seeds, built)
    report = check(seeds, built, today=TODAY)
    assert errors(report) == {code}, report.findings
    [finding] = [f for f in report.findings if f.code == code]
    assert (finding.file, finding.line) == (file, line)
    assert town is None or finding.town_code == town
    assert finding.message_zh and finding.message_en


def test_an_overlap_names_both_rows_and_the_first_day(built, seeds):
    line = _overlap(seeds, built)
    [finding] = check(seeds, built, today=TODAY).findings
    assert "2016-07-01" in finding.message_en and "line 13" in finding.message_en and f"line {line}" in finding.message_en


def test_a_decision_that_ends_the_overlap_ends_the_finding(built, seeds):
    """Overlap is judged after decisions have ended what they end. (CT-330402-03, a member of 市级第二批
    from 2016-07-01 with no decision of its own, is also listed in 市级第一批 from 2016-10-01; a decision
    ends its 市级第二批 membership on 2016-09-30.)"""
    append(seeds, "memberships", {"town_code": "CT-330402-03", "programme": "characteristic", "tier": "municipal",
                                  "list_name": "市级第一批", "valid_from": "2016-10-01", "event": "join"})
    assert errors(check(seeds, built, today=TODAY)) == {"registry.overlap"}
    append(seeds, "decisions", decision(
        decision_id="C-2016-95", decided_on="2016-09-30", effective_from="2016-10-01", town_code="CT-330402-03",
        action="eliminate", list_name="市级第二批"))
    report = check(seeds, built, today=TODAY)
    assert errors(report) == set(), report.findings


def test_unreadable_rows_stop_the_membership_checks(built, seeds):
    line = append(seeds, "decisions", decision(decision_id="C-2016-96", decided_on="2017-0101", effective_from="2017-01-01",
                                               town_code="CT-330402-02", action="eliminate", list_name="市级第一批"))
    report = check(seeds, built, today=TODAY)
    [finding] = report.findings
    assert (finding.code, finding.line) == ("registry.invalid_value", line) and "2017-0101" in finding.message_en
    assert report.notes and all(items == [] for items in report.impact.values())


def test_an_empty_warehouse_is_taken_as_empty_and_said_so(runtime_dirs, seeds):
    from core.warehouse import drop_database
    from tests.conftest import create_database

    line = append(seeds, "decisions", decision(
        decision_id="C-2016-93", decided_on="2017-01-01", effective_from="2017-01-01", town_code="CT-330402-03",
        action="eliminate", list_name="市级第二批", assessment_year=2016, answers_proposal="eliminate"))
    url = create_database("test_ops_registry_empty")
    try:
        report = check(seeds, url, today=TODAY)
    finally:
        drop_database(url)
    assert len(report.before_missing) == 5 and report.notes
    assert report.marts_missing == ["marts.town_annual_assessment", "marts.programme_kpis"]
    assert errors(report) == set()
    # every decision answering a proposal (the registry's and the one added) is left unchecked, with a warning
    assert {f.code for f in report.findings} == {"decision.proposal_unchecked"}
    assert line in {f.line for f in report.findings}
    starts = {r["town_code"] for r in report.impact["reporting"] if r["change"] == "starts"}
    assert {"CT-330402-01", "PT-330411101"} <= starts


# --------------------------------------------------------------------------- the command

def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops", "registry", *args], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=300)


def test_the_command_exits_0_1_or_2(built, seeds, tmp_path):
    ok = _run("check", "--seeds", str(seeds))
    assert ok.returncode == 0, ok.stderr
    assert "Findings: 0 error(s)" in ok.stdout and "Impact: none" in ok.stdout
    _not_member(seeds, built)
    bad = _run("check", "--seeds", str(seeds), "--json")
    assert bad.returncode == 1, bad.stderr
    payload = json.loads(bad.stdout)
    assert payload["errors"] == 1 and payload["findings"][0]["code"] == "decision.not_member"
    from core.warehouse import conn_params

    assert "impact" in payload and conn_params(built).password not in bad.stdout + bad.stderr
    missing = _run("check", "--seeds", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "nowhere" in missing.stderr
    assert _run().returncode == 2  # no subcommand


# ------------------------------------------------- the whole plan period (issue 12, "done when")


def test_the_plan_period_2015_to_2018_is_published_and_agrees_with_the_rules(built, tmp_path):
    """The sample of 2015Q1-2018Q4 built and published: every assessed year (2016-2018) agrees town by town
    with the independent recomputation of programme-rules v2; towns shows every membership change with the
    decision or list event behind it; decisions and round_summary are published; the KPIs of 2018 carry
    their final status; a 2017 report still listing a town eliminated for 2016 was refused
    (row.town_not_member) and its correction accepted."""
    from recompute_v2 import discrepancies, latest_version_folder, load_publication, read_dataset, recompute

    from core.warehouse import connect
    from publish.wap import publish

    url = (tmp_path / "published").as_uri()
    with connect(built) as conn:
        publish(url, conn)
    folder = latest_version_folder(url)
    datasets = load_publication(folder)
    assessment = read_dataset(folder, "town_annual_assessment")
    assert {int(r["year"]) for r in assessment} == {2016, 2017, 2018}
    assert discrepancies(recompute(datasets), assessment) == []

    towns = read_dataset(folder, "towns")
    ended = {r["town_code"]: r for r in towns if r["ended_by"] == "decision"}
    decisions = {r["decision_id"]: r for r in read_dataset(folder, "decisions")}
    assert ended and all(r["decision_id"] in decisions for r in ended.values())
    assert {r["status"] for r in ended.values()} >= {"eliminated", "downgraded"}
    assert any(r["event"] == "promote" and r["list_name"] == "省级第三批创建名单" for r in towns)
    assert read_dataset(folder, "round_summary")

    kpis = [r for r in read_dataset(folder, "programme_kpis") if int(r["year"]) == 2018]
    assert kpis and all(r["status"] in ("met", "not_met", "not_yet_decided", "incomplete") for r in kpis), kpis

    refused = query(built, "select s.file_name from landing.submissions s join landing.findings f using "
                           "(submission_id) where s.status = 'refused' and s.year = 2017 and f.code = "
                           "'row.town_not_member'")
    assert refused, "a 2017 report listing a town eliminated for 2016 is refused"
    county = query(built, "select county_code, quarter from landing.submissions where file_name = %s",
                   refused[0]["file_name"])[0]
    accepted = query(built, "select count(*) as n from landing.submissions where county_code = %s and year = 2017 "
                            "and quarter = %s and status = 'accepted'", county["county_code"], county["quarter"])
    assert accepted[0]["n"] >= 1


# ------------------------------------------------- a decision recorded after publication (python -m ops registry apply)


def test_a_decision_after_publication_changes_what_it_touches_and_nothing_else(built, runtime_dirs,
                                                                               publish_built_marts):
    """After the 2018 results were published the city records a qualitative elimination (不符合特色小镇内涵,
    effective 2019-03-01) of a municipal town it had decided nothing on: the rebuild and the next publication
    change that town's rows of towns, town_annual_assessment, decisions and round_summary, and nothing else
    (publish diff)."""
    from core import config
    from core.dbt import run_dbt
    from core.warehouse import connect
    from publish.diff import diff_versions
    from publish.wap import publish

    url = config.publish_url()
    with connect(built) as conn:
        first = publish(url, conn)
    town = query(built, "select a.town_code, a.list_name from marts.town_annual_assessment a where a.year = 2018 "
                        "and a.programme = 'characteristic' and a.tier = 'municipal' and not exists (select 1 "
                        "from marts.decisions d where d.town_code = a.town_code) order by a.town_code limit 1")[0]
    # what `dbt seed` does with the merged decisions.csv, done in the table so the repository stays as it is
    with connect(built, autocommit=True) as conn:
        conn.execute(
            "insert into seeds.decisions (decision_id, decided_on, effective_from, town_code, programme, action, "
            "list_name, assessment_year, answers_proposal, reason_code, document_no, decided_by, source, note) "
            "values ('C-2018-90', '2019-02-20', '2019-03-01', %s, 'characteristic', 'eliminate', %s, 2018, "
            "null, 'qualitative', '嘉两镇办〔2019〕90号', 'city', 'illustrative', '不符合特色小镇内涵')",
            (town["town_code"], town["list_name"]))
    result = run_dbt(["build", "--exclude", "resource_type:seed"])  # a whole build: only a whole one is published
    assert result.success, result.failures[:10]
    publish_built_marts()
    with connect(built) as conn:
        second = publish(url, conn)
    assert second.created and second.version != first.version
    diff = diff_versions(url, first.version, second.version)["datasets"]
    assert set(diff) == {"towns", "town_annual_assessment", "decisions", "round_summary"}, set(diff)
    for name, d in diff.items():
        touched = [c["key"] for c in d["changed"]] + d["added"] + d["removed"]
        assert touched and all(k.get("town_code", town["town_code"]) == town["town_code"] for k in touched), (name, d)
    assessment = diff["town_annual_assessment"]["changed"][0]["columns"]
    assert assessment["eliminated_next_year"] == [False, True] and assessment["decision"] == [None, "eliminate"]
    period = diff["towns"]["changed"][0]["columns"]
    assert period["valid_to"] == [None, "2019-02-28"] and period["status"][1] == "eliminated"
    assert diff["decisions"]["added"] == [{"decision_id": "C-2018-90"}]


def test_registry_apply_checks_then_rebuilds_and_publishes():
    from ops import cli

    args = cli.build_parser().parse_args(["registry", "apply"])
    assert cli.plan(args) == [("warehouse_build", {}), ("nightly_publish", {})]
