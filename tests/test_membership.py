"""ONE membership definition: the dbt macro members_on, evaluated by ingest in SQLite over the seeds.

Who must report (row.member_missing, sheet.missing) and who may (row.town_not_member) follow the
registry's lists less those a recorded decision has ended (programme-rules §1)."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from core import registry
from core.config import SEEDS_DIR
from core.membership import members_on_sql, memberships_on
from core.periods import Period
from ingest.current import required_forms
from ingest.parse import parse_report
from samplegen import PERIODS, load_sample

BASE = "330402_2016Q3.xlsx"  # 南湖区: CT-330402-01..03 (LZ-1 rows 4-6, 合计 row 7) and PT-330402101 (LZ-2)
LZ1, LZ2 = "LZ-1 特色小镇", "LZ-2 试点镇"
Q3 = date(2016, 9, 30)


def seeds_with_decisions(tmp_path: Path, *decisions: dict[str, str]) -> Path:
    """A copy of the project's seeds with extra rows in the decisions register."""
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    path = seeds / "decisions.csv"
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    rows += [{k: d.get(k, "") for k in fields} for d in decisions]
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return seeds


def decision(town: str, programme: str, action: str, list_name: str, effective: str) -> dict[str, str]:
    return {"decision_id": f"T-{town}-{action}", "decided_on": effective, "effective_from": effective,
            "town_code": town, "programme": programme, "action": action, "list_name": list_name,
            "assessment_year": "2015", "decided_by": "city", "source": "test"}


ELIMINATE = decision("CT-330402-02", "characteristic", "eliminate", "市级第一批", "2016-07-01")
REMOVE = decision("PT-330402101", "pilot", "remove", "市级第二轮(2016-2018)", "2016-07-01")


def codes(report) -> set[str]:
    return {f.code for f in report.findings}


# ----------------------------------------------------------------------------- the macro, on the real seeds

def test_the_macro_is_rendered_for_sqlite_with_a_bound_day():
    sql = members_on_sql()
    assert "{{" not in sql and "{%" not in sql
    assert "(select :day as day) as days" in sql
    assert "decision_actions.ends_membership" in sql  # the rule is the macro's, not a copy


def test_a_downgrade_decision_ends_the_creation_list_membership():
    before = registry.membership_on("CT-330482-01", date(2017, 8, 1))
    assert (before.tier, before.list_name) == ("provincial_creation", "省级第二批创建名单")
    for day in (date(2017, 8, 2), date(2017, 9, 30)):
        rows = [m for m in memberships_on(day) if m.town_code == "CT-330482-01"]
        assert [(m.tier, m.event) for m in rows] == [("provincial_cultivation", "downgrade")], day
    # still a member of the characteristic programme, in its cultivation tier: it must report
    assert "CT-330482-01" in {t.code for t in registry.members("330482", "characteristic", date(2017, 9, 30))}
    assert registry.membership_on("CT-330482-01", date(2017, 9, 30), "characteristic").tier == \
        "provincial_cultivation"


def test_a_decision_that_ends_nothing_changes_nothing():
    # P-2016-02: a provincial 警告 (warning) for CT-330402-01, effective 2017-08-02
    assert registry.membership_on("CT-330402-01", date(2017, 9, 30)).tier == "provincial_creation"


def test_the_second_provincial_batch_starts_on_29_january_2016():
    assert registry.membership_on("CT-330483-02", date(2016, 1, 28)).tier == "municipal"
    assert registry.membership_on("CT-330483-02", date(2016, 1, 29)).tier == "provincial_creation"
    assert registry.membership_on("CT-330411-01", date(2016, 1, 28)) is None
    assert registry.membership_on("CT-330411-01", Period(2016, 1).end).tier == "provincial_creation"


def test_the_sample_generator_and_ingest_agree_on_members_at_every_quarter_end():
    sample = load_sample()
    for county in sample.registry.counties:
        for period in PERIODS:
            for programme in ("characteristic", "pilot"):
                generated = [t.code for t in sample.registry.members(county.code, programme, period)]
                ingested = [t.code for t in registry.members(county.code, programme, Period(period.year,
                                                                                             period.quarter).end)]
                assert generated == ingested, (county.code, period, programme)


# ----------------------------------------------------------------------------- decisions in a copy of the seeds

def test_an_eliminated_town_is_no_member_from_the_decisions_effective_day(tmp_path):
    seeds = seeds_with_decisions(tmp_path, ELIMINATE)
    assert registry.membership_on("CT-330402-02", date(2016, 6, 30), seeds_dir=seeds).list_name == "市级第一批"
    assert registry.membership_on("CT-330402-02", date(2016, 7, 1), seeds_dir=seeds) is None
    assert [t.code for t in registry.members("330402", "characteristic", Q3, seeds)] == ["CT-330402-01",
                                                                                         "CT-330402-03"]
    assert "CT-330402-02" in {t.code for t in registry.members("330402", "characteristic", Q3)}  # real seeds


def test_a_report_listing_an_eliminated_town_is_refused_and_one_omitting_it_accepted(sample_dir, tmp_path):
    seeds = seeds_with_decisions(tmp_path, ELIMINATE)
    listed = parse_report(sample_dir / BASE, seeds_dir=seeds)
    assert listed.status == "refused"
    assert [(f.sheet, f.cell, f.town_code) for f in listed.findings if f.code == "row.town_not_member"] == [
        (LZ1, "A5", "CT-330402-02")]

    wb = openpyxl.load_workbook(sample_dir / BASE)
    ws = wb[LZ1]
    ws.delete_rows(5)  # CT-330402-02
    for col in range(3, ws.max_column + 1):
        ws.cell(6, col).value = None  # the 合计 row, now row 6: not restated
    omitted = tmp_path / BASE
    wb.save(omitted)
    report = parse_report(omitted, seeds_dir=seeds)
    assert report.status == "accepted", report.findings
    assert "CT-330402-02" not in {v.town_code for v in report.values}
    # under the registry alone (no decision) the same file lacks a member row
    assert "row.member_missing" in codes(parse_report(omitted))


def test_a_county_whose_only_pilot_town_was_removed_need_not_send_lz2(sample_dir, tmp_path):
    seeds = seeds_with_decisions(tmp_path, REMOVE)
    assert required_forms("330402", Period(2016, 3), seeds) == {"LZ-0", "LZ-1"}
    assert required_forms("330402", Period(2016, 3)) == {"LZ-0", "LZ-1", "LZ-2"}
    wb = openpyxl.load_workbook(sample_dir / BASE)
    wb.remove(wb[LZ2])
    path = tmp_path / BASE
    wb.save(path)
    assert parse_report(path, seeds_dir=seeds).status == "accepted"
    assert "sheet.missing" in codes(parse_report(path))  # the real seeds: the pilot town must report
    report = parse_report(sample_dir / BASE, seeds_dir=seeds)
    assert [(f.sheet, f.town_code) for f in report.findings if f.code == "row.town_not_member"] == [
        (LZ2, "PT-330402101")]


@pytest.mark.parametrize("day", [date(2016, 7, 1), date(2016, 9, 30)])
def test_a_decision_ends_only_the_membership_of_its_list(tmp_path, day):
    # a decision naming the town's OTHER (earlier) list leaves its current list untouched
    seeds = seeds_with_decisions(tmp_path, decision("PT-330402101", "pilot", "remove", "市级第一轮(2013-2015)",
                                                    "2016-07-01"))
    assert registry.membership_on("PT-330402101", day, seeds_dir=seeds).list_name == "市级第二轮(2016-2018)"


def test_effective_periods_agree_with_the_macro_on_every_quarter_end():
    """The periods the GX checks read (the registry's, ended by the recorded decisions) hold exactly the
    memberships the macro finds on each quarter end from 2013 to 2019."""
    from datetime import date

    from core.membership import effective_periods, memberships_on

    periods = effective_periods()
    ends = {(m.town_code, m.list_name): m.valid_to for m in periods}
    assert ends[("CT-330482-01", "省级第二批创建名单")] == date(2017, 8, 1)  # the province's downgrade
    assert ends[("CT-330421-02", "市级第一批")] == date(2017, 2, 28)  # the city's elimination
    for year in range(2013, 2020):
        for month, day in ((3, 31), (6, 30), (9, 30), (12, 31)):
            on = date(year, month, day)
            covering = {(m.town_code, m.programme, m.list_name) for m in periods
                        if m.valid_from <= on and (m.valid_to is None or on <= m.valid_to)}
            assert covering == {(m.town_code, m.programme, m.list_name) for m in memberships_on(on)}, on
