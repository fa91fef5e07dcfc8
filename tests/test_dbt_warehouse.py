"""The dbt warehouse on the sample reports (real PostgreSQL): incremental facts, the annual
assessment against the independent recomputation of programme-rules v2 (tests/recompute_v2.py),
memberships ended by decisions only, policy as data, "as reported" history and documentation.

One module database is loaded in two steps: first every report up to 2016Q3 (without the
correction of the refused 330424 2016Q3), then the rest together with a corrected resend
of 330402 2016Q2, so that the second build is an incremental one.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from recompute_v2 import DATASETS, DEFAULT_POLICY, Expected, Policy, discrepancies, recompute

from core.config import SEEDS_DIR
from core.dbt import run_dbt, target_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CORRECTION = "330424_2016Q3_更正.xlsx"
RESENT = "330402_2016Q2.xlsx"  # sent again with a changed footer: a new version, same values
KEY = ("year", "quarter", "town_code", "indicator")


@pytest.fixture(scope="module")
def expected(expected_through_2016):
    """This module loads the reports of 2015-2016 only (tests/conftest.py: expected_through_2016)."""
    return expected_through_2016


def _rows(conn, sql, *params):
    cur = conn.execute(sql, params)
    cols = [d.name for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _facts(conn) -> dict[tuple, dict]:
    """town_quarter_indicators by key, with the row version (xmin) of each row."""
    rows = _rows(conn, "select xmin::text as row_version, * from marts_build.town_quarter_indicators")
    return {tuple(r[k] for k in KEY): r for r in rows}


def _build(args: list[str]) -> None:
    result = run_dbt(args)
    assert result.success, result.failures[:10]


@dataclass
class Loaded:
    before: dict[tuple, dict]  # facts after the first build
    after: dict[tuple, dict]  # facts after the incremental build
    county_by_town: dict[str, str]
    resent_at: datetime
    resent_original_at: datetime
    build_counts: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def loaded(warehouse, sample_dir, expected, tmp_path_factory) -> Loaded:
    from core.warehouse import connect
    from ingest.landing import submit

    first = [e for e in expected if e["period"] != "2016Q4" and e["file"] != CORRECTION]
    second = [e for e in expected if e not in first]
    for e in first:
        assert submit(sample_dir / e["file"], write_feedback=False).status == e["expected_status"], e["file"]
    _build(["seed"])
    _build(["run"])
    with connect(autocommit=True) as conn:
        before = _facts(conn)

    original = next(e for e in expected if e["file"] == RESENT)
    resent_original_at = datetime.fromisoformat(original["received_at"])
    resent_at = resent_original_at + timedelta(days=3)
    folder = tmp_path_factory.mktemp("resend")
    wb = openpyxl.load_workbook(sample_dir / RESENT)
    wb["LZ-0 县域指标"]["A7"] = "填报人：更正后重报"
    wb.save(folder / RESENT)
    assert submit(folder / RESENT, received_at=resent_at, write_feedback=False).version == 2
    for e in second:
        assert submit(sample_dir / e["file"], write_feedback=False).status == e["expected_status"], e["file"]

    result = run_dbt(["build"])
    assert result.success, result.failures[:10]
    with connect(autocommit=True) as conn:
        after = _facts(conn)
    towns = {r["town_code"]: r["county_code"] for r in _read_seed("towns")}
    return Loaded(before, after, towns, resent_at, resent_original_at, result.counts)


# ---------------------------------------------------------------- incremental facts


def test_build_on_the_sample_passes_every_test_and_unit_test(loaded):
    assert set(loaded.build_counts) <= {"success", "pass"}, loaded.build_counts
    results = json.loads((target_dir() / "run_results.json").read_text())["results"]
    assert sum(r["unique_id"].startswith("unit_test.") for r in results) >= 20


def test_incremental_build_rebuilt_only_the_affected_county_periods(loaded):
    affected = {(c, 2016, 4) for c in set(loaded.county_by_town.values())}
    affected |= {("330424", 2016, 3)}  # the correction of a refused report: a new current version
    affected |= {("330402", 2016, 2), ("330402", 2016, 3)}  # the resend, and the quarter after it (value_quarter)
    for key, row in loaded.after.items():
        partition = (row["county_code"], row["year"], row["quarter"])
        old = loaded.before.get(key)
        if partition in affected:
            assert old is None or old["row_version"] != row["row_version"], (key, "should have been rebuilt")
        else:
            assert old is not None and old["row_version"] == row["row_version"], (key, "rebuilt needlessly")
    resent = [r for r in loaded.after.values() if (r["county_code"], r["year"], r["quarter"]) == ("330402", 2016, 2)]
    assert resent and len({r["source_file_sha256"] for r in resent}) == 1
    assert resent[0]["source_file_sha256"] != loaded.before[tuple(resent[0][k] for k in KEY)]["source_file_sha256"]


def test_full_refresh_gives_the_same_facts(loaded, warehouse):
    from core.warehouse import connect

    _build(["run", "--full-refresh", "--select", "fct_town_quarter_indicators"])
    with connect(autocommit=True) as conn:
        refreshed = _facts(conn)

    def content(facts):
        return {k: {c: v for c, v in r.items() if c != "row_version"} for k, r in facts.items()}

    assert content(refreshed) == content(loaded.after)


# ---------------------------------------------------------------- the assessment, recomputed


def _read_seed(name: str) -> list[dict[str, str]]:
    with open(SEEDS_DIR / f"{name}.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _datasets(conn) -> dict[str, list[dict]]:
    """The five marts the recomputation reads (what the publication exports of them)."""
    return {name: _rows(conn, f"select * from marts_build.{name}") for name in DATASETS}  # names are constants


def _published(conn) -> dict[tuple, dict]:
    rows = _rows(conn, "select * from marts_build.town_annual_assessment")
    return {(r["year"], r["town_code"]): r for r in rows}


def _assert_assessment_matches(conn, policy: Policy = DEFAULT_POLICY) -> dict[tuple, Expected]:
    """marts_build.town_annual_assessment and marts_build.assessment_components against tests/recompute_v2.py."""
    expected = recompute(_datasets(conn), policy)
    problems = discrepancies(expected, list(_published(conn).values()))
    assert problems == [], "\n".join(problems)
    components = {(c["year"], c["town_code"], c["indicator"]): c for c in _rows(
        conn, "select year, town_code, indicator, weight, points, scored, status from marts_build.assessment_components")}
    mine = {(y, t, i): (e, c) for (y, t), e in expected.items() for i, c in e.components.items()}
    assert set(components) == set(mine), (sorted(set(components) - set(mine))[:10], sorted(set(mine) - set(components))[:10])
    for key, (e, c) in mine.items():
        got = components[key]
        assert got["weight"] == c.weight, (key, got)
        if e.pending:
            continue  # which components of a pending result carry points is not the rules' business
        assert (got["scored"], got["status"]) == (c.points is not None, "ok" if c.points is not None else "not_scored"), \
            (key, got)
        if c.points is not None:
            assert abs(got["points"] - c.points) <= Decimal("0.000001"), (key, got["points"], c.points)
    return expected


def test_assessment_follows_programme_rules_v2_town_by_town(loaded, conn):
    expected = _assert_assessment_matches(conn)
    published = _published(conn)
    assert {y for y, _ in published} == {2016}  # 2015 is the baseline: monitored, not assessed
    tasks = {(r["town_code"], int(r["year"])): Decimal(r["annual_task"]) for r in _read_seed("annual_tasks")}
    joiner = published[(2016, "CT-330402-03")]  # joined the municipal list on 2016-07-01
    assert joiner["member_quarters"] == 2 and joiner["annual_task"] == tasks[("CT-330402-03", 2016)]
    assert joiner["annual_task_source"] == "assigned"
    assert published[(2016, "CT-330483-02")]["tier"] == "provincial_creation"  # promoted on 2016-01-29
    assert not any(r["pending"] for r in published.values())  # every county's 2016Q4 report is in the sample
    # proposals are proposals: no membership ended by a computation
    proposed = {t for (y, t), e in expected.items() if {"eliminate", "remove"} & set(e.proposals)}
    decided = {r["town_code"] for r in _rows(conn, "select town_code from marts_build.decisions "
                                                   "where action in ('eliminate', 'remove')")}
    for town in proposed - decided:
        rows = _rows(conn, "select valid_to, registry_valid_to, status from marts_build.towns where town_code = %s", town)
        assert all(r["valid_to"] == r["registry_valid_to"] and r["status"] not in ("eliminated", "removed")
                   for r in rows), (town, rows)


ENDS = {"eliminate": "eliminated", "remove": "removed", "downgrade": "downgraded"}  # programme-rules §5


def test_only_decisions_end_memberships_in_towns(loaded, conn):
    towns = _rows(conn, "select * from marts_build.towns")
    decisions = _rows(conn, "select * from marts_build.decisions where action = any(%s)", sorted(ENDS))
    assert any(d["decision_id"] == "P-2016-01" for d in decisions)  # the province's downgrade of 平湖九龙山
    for d in decisions:
        last_day = d["effective_from"] - timedelta(days=1)
        ended = [t for t in towns if t["town_code"] == d["town_code"] and t["programme"] == d["programme"]
                 and t["valid_from"] <= last_day and t["valid_to"] == last_day]
        assert len(ended) == 1, (d, [t for t in towns if t["town_code"] == d["town_code"]])
        assert (ended[0]["status"], ended[0]["ended_by"], ended[0]["decision_id"]) == (
            ENDS[d["action"]], "decision", d["decision_id"]), ended[0]
    for t in towns:
        if t["ended_by"] != "decision":
            assert t["valid_to"] == t["registry_valid_to"] and t["status"] not in ENDS.values(), t
    downgraded = next(t for t in towns if (t["town_code"], t["tier"]) == ("CT-330482-01", "provincial_creation"))
    assert downgraded["valid_to"] == date(2017, 8, 1) and downgraded["registry_valid_to"] is None
    statuses = {t["status"] for t in towns}
    assert statuses <= {"active", "eliminated", "removed", "downgraded", "promoted"}


def test_programme_kpis_and_pilot_targets(loaded, conn):
    kpis = {(r["year"], r["kpi"]): r for r in _rows(conn, "select * from marts_build.programme_kpis")}
    fai = kpis[(2016, "provincial_creation_fai_total")]
    total = conn.execute(
        "select sum(value_ytd) from marts_build.town_quarter_indicators where year = 2016 and quarter = 4 "
        "and indicator = 'fai' and tier = 'provincial_creation'").fetchone()[0]
    about = Decimal("0.90")  # programme-rules §2: a 左右 (about) target is met at 90% of the number
    assert fai["value"] == total and fai["met"] == (total >= about * fai["target"])
    assert all(r["status"] in ("met", "on_track", "behind", "not_met", "not_yet_decided", "incomplete")
               for r in kpis.values())
    assert all(r["met"] is None for r in kpis.values() if r["year"] < r["target_year"])  # never not met early
    targets = {(r["year"], r["town_code"]): r for r in _rows(conn, "select * from marts_build.pilot_targets")}
    municipal = targets[(2016, "PT-330402101")]
    assert municipal["target_gdp_growth_pct"] == municipal["county_gdp_growth_pct"] + 2
    assert municipal["met_gdp_growth"] == (municipal["gdp_growth_pct"] >= municipal["target_gdp_growth_pct"])
    assert municipal["met_employment_share_change"] is None  # not a target of municipal pilots
    baseline = targets[(2015, "PT-330411101")]  # 2015: monitored, no policy covers it
    assert [k for k, v in baseline.items() if k.startswith(("met_", "target_")) and v is not None] == []


# ---------------------------------------------------------------- history and documentation


def test_as_reported_history_and_as_of_rebuild(loaded, conn):
    between = loaded.resent_original_at + timedelta(days=1)
    versions = conn.execute(
        "select distinct version from marts_build.fct_report_values_as_reported where county_code = '330402' "
        "and year = 2016 and quarter = 2 and known_from <= %s and (known_to is null or known_to > %s)",
        (between, between)).fetchall()
    assert versions == [(1,)]
    current = conn.execute(
        "select distinct version from marts_build.fct_report_values_as_reported where county_code = '330402' "
        "and year = 2016 and quarter = 2 and is_current").fetchall()
    assert current == [(2,)]
    day = between.date().isoformat()
    _build(["run", "--select", "int_submissions_current", "--vars", f"{{as_of_date: '{day}'}}"])
    as_of = conn.execute("select version, count(*) from intermediate.int_submissions_current "
                         "where county_code = '330402' and year = 2016 and quarter = 2 group by 1").fetchall()
    later = conn.execute("select count(*) from intermediate.int_submissions_current "
                         "where (year, quarter) = (2016, 4)").fetchone()[0]
    _build(["run", "--select", "int_submissions_current"])
    assert [v for v, _ in as_of] == [1] and later == 0


def test_every_model_and_column_is_documented(loaded):
    _build(["docs", "generate"])
    manifest = json.loads((target_dir() / "manifest.json").read_text())
    catalog = json.loads((target_dir() / "catalog.json").read_text())
    missing = []
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed", "snapshot"):
            continue
        if not node.get("description"):
            missing.append(uid)
        for column in catalog["nodes"][uid]["columns"]:
            if not (node["columns"].get(column) or {}).get("description"):
                missing.append(f"{uid}.{column}")
    assert missing == []


# ---------------------------------------------------------------- policy is data (last: it edits seeds)


def test_changing_a_weight_in_the_seeds_changes_the_scores_of_that_tier_only(loaded, conn):
    """No code change: a seed table is edited and the models downstream rebuilt."""
    before = _published(conn)
    conn.execute("update seeds.scoring_indicators set weight = 30 where programme = 'characteristic' "
                 "and tier = 'municipal' and indicator = 'investment_completion'")
    conn.execute("update seeds.scoring_indicators set weight = 20 where programme = 'characteristic' "
                 "and tier = 'municipal' and indicator = 'new_firms'")
    _build(["run", "--select", "scoring_indicators+"])
    policy = DEFAULT_POLICY.with_weights("characteristic", "municipal", investment_completion=30, new_firms=20)
    recomputed = _assert_assessment_matches(conn, policy)
    default = recompute(_datasets(conn))
    after = _published(conn)
    assert set(after) == set(before)
    changed = {k for k in after if after[k]["score"] != before[k]["score"]}
    should = {k for k, e in recomputed.items() if e.score != default[k].score}
    municipal = {k for k, r in before.items() if (r["programme"], r["tier"]) == ("characteristic", "municipal")}
    # exactly the scores of the tier whose weights changed (a town at full marks on both keeps its score)
    assert changed == should and changed and changed <= municipal

    _build(["seed", "--select", "scoring_indicators"])
    _build(["run", "--select", "scoring_indicators+"])
    assert {k: r["score"] for k, r in _published(conn).items()} == {k: r["score"] for k, r in before.items()}
    _assert_assessment_matches(conn)
