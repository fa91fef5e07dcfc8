"""The warehouse audit after dbt: clean marts pass everything; each defect class fails the right expectation.

The sample is loaded and the marts built with dbt once for the module; every
test injects one defect into the marts, runs the checkpoint of the suites the
defect concerns and restores the marts from a pristine copy.
"""

from __future__ import annotations

import pytest

from expectations.run import execute
from expectations.stages import prepare_sql_stage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MARTS = ("town_quarter_indicators", "investment_progress", "towns", "submissions", "pilot_targets",
         "assessment_components", "town_annual_assessment", "programme_kpis")


@pytest.fixture(scope="module")
def expected(expected_through_2016):
    """This module loads the reports of 2015-2016 only (tests/conftest.py: expected_through_2016)."""
    return expected_through_2016


@pytest.fixture(scope="module")
def built(warehouse, sample_dir, expected):
    from core.dbt import run_dbt
    from core.warehouse import connect
    from ingest.landing import submit

    for e in expected:
        submit(sample_dir / e["file"], write_feedback=False)
    for command in (["seed"], ["run"]):
        result = run_dbt(command, quiet=True)
        assert result.success, result.failures
    with connect(autocommit=True) as c:
        present = [t for t in MARTS if c.execute("select to_regclass(%s)", (f"marts_build.{t}",)).fetchone()[0]]
        c.execute("create schema pristine")
        for t in present:
            c.execute(f"create table pristine.{t} as select * from marts_build.{t}")  # names are constants
    return present


@pytest.fixture
def marts(built, conn):
    """The built marts; restored after the test."""
    yield built
    for t in built:
        conn.execute(f"delete from marts_build.{t}")
        conn.execute(f"insert into marts_build.{t} select * from pristine.{t}")


_prepared: dict[tuple, object] = {}


def _run(suites: list[str]):
    key = tuple(sorted(suites))
    if key not in _prepared:
        _prepared[key] = prepare_sql_stage("warehouse", suites=list(key), docs=False)
    return execute(_prepared[key])


def _failed(outcome, severities=("critical", "warning")) -> dict[str, str]:
    return {f"{s.name}.{e.check}": e.severity for s in outcome.suites for e in s.expectations
            if e.failed and e.severity in severities}


def test_clean_marts_pass_everything(built):
    from expectations.run import run_stage

    outcome = run_stage("warehouse")
    assert outcome.success and _failed(outcome) == {}, outcome.failures() + outcome.failures("warning")
    # the sample has late reports on purpose: reported as info, which blocks nothing
    assert _failed(outcome, ("info",)) == {"marts_submissions.late_reports": "info"}
    late = next(e for s in outcome.suites for e in s.expectations if e.check == "late_reports")
    assert late.unexpected_count == 3
    assert {s.name for s in outcome.suites if not s.skipped} == {f"marts_{t}" for t in built}
    assert outcome.docs_url.endswith("data_docs/warehouse/index.html")


TQI, IP, TOWNS, SUBS = ("marts_town_quarter_indicators", "marts_investment_progress", "marts_towns",
                        "marts_submissions")
PT, AC, TA, KPI = ("marts_pilot_targets", "marts_assessment_components", "marts_town_annual_assessment",
                   "marts_programme_kpis")
ONE = "ctid = (select ctid from marts_build.{t} where {w} order by {o} limit 1)"
# the only town ranked first in its tier (scores at full marks tie)
SOLE_FIRST = ("tier = 'provincial' and rank_in_tier = 1 and (select count(*) from marts_build.town_annual_assessment as b "
              "where b.year = town_annual_assessment.year and b.programme = town_annual_assessment.programme "
              "and b.tier = town_annual_assessment.tier and b.rank_in_tier = 1) = 1")


def one(table: str, where: str = "true", order: str = "1") -> str:
    return ONE.format(t=table, w=where, o=order)


CASES = {
    "negative KPI in the facts": (
        [TQI], ["update marts_build.town_quarter_indicators set value_ytd = -1 where "
                + one("town_quarter_indicators", "indicator = 'employees'")],
        {f"{TQI}.between.value_ytd": "critical", f"{TQI}.reconcile_raw": "critical"}),
    "YTD decrease": (
        [TQI], ["update marts_build.town_quarter_indicators as t set value_ytd = p.value_ytd - 1 "
                "from marts_build.town_quarter_indicators as p where p.town_code = t.town_code and p.indicator = t.indicator "
                "and p.year = t.year and p.quarter = 2 and t.quarter = 3 and t.year = 2016 "
                "and t.town_code = 'CT-330402-01' and t.indicator = 'tax_revenue'"],
        {f"{TQI}.ytd_non_decreasing": "critical", f"{TQI}.reconcile_raw": "critical"}),
    "duplicate fact": (
        [TQI], ["insert into marts_build.town_quarter_indicators select * from marts_build.town_quarter_indicators where "
                + one("town_quarter_indicators", "indicator = 'employees'")],
        {f"{TQI}.unique.year_quarter_town_code_indicator": "critical"}),
    "member town not reported": (
        [TQI], ["delete from marts_build.town_quarter_indicators where town_code = 'CT-330402-02' "
                "and year = 2016 and quarter = 3"],
        {f"{TQI}.member_reported": "critical", f"{TQI}.reconcile_raw": "critical"}),
    "growth outlier": (
        [TQI], ["update marts_build.town_quarter_indicators set growth_pct = 150 where "
                + one("town_quarter_indicators", "growth_pct is not null and indicator <> 'gdp'")],
        {f"{TQI}.between.growth_pct": "warning"}),
    "reported vs computed growth": (
        [TQI], ["update marts_build.town_quarter_indicators set reported_growth_pct = growth_pct + 10 where "
                + one("town_quarter_indicators", "indicator = 'gdp' and growth_pct is not null")],
        {f"{TQI}.growth_mismatch": "warning"}),
    "prior-year value not last year's report": (
        [TQI], ["update marts_build.town_quarter_indicators set value_ytd_prev_year = value_ytd_prev_year + 1 where "
                + one("town_quarter_indicators", "prev_year_source = 'last_year_report'")],
        {f"{TQI}.prev_year_source": "critical"}),
    "town not a member at quarter end": (
        [TQI], ["update marts_build.town_quarter_indicators set tier = null where " + one("town_quarter_indicators")],
        {f"{TQI}.not_null.tier": "warning"}),
    "status not the band of the pace": (
        [IP], ["update marts_build.investment_progress set status = 'amber' where "
               + one("investment_progress", "status = 'green'")],
        {f"{IP}.status_band": "critical"}),
    "ratio not fai / task": (
        [IP], ["update marts_build.investment_progress set progress_ratio = progress_ratio + 0.000001 where "
               + one("investment_progress", "status = 'green' and progress_ratio > expected_pace + 0.01")],
        {f"{IP}.ratio": "critical"}),
    "early warning without two red quarters": (
        [IP], ["update marts_build.investment_progress set early_warning = true where "
               + one("investment_progress", "status <> 'red'")],
        {f"{IP}.early_warning": "critical"}),
    "negative investment": (
        [IP], ["update marts_build.investment_progress set fai_ytd = -1 where "
               + one("investment_progress", "year = 2016")],
        {f"{IP}.between.fai_ytd": "critical", f"{IP}.ratio": "critical", f"{IP}.reconcile_fai": "critical"}),
    "status outside the contract": (
        [TOWNS], ["update marts_build.towns set status = 'closed' where " + one("towns")],
        {f"{TOWNS}.in_set.status": "critical"}),
    "membership missing from the towns": (
        [TOWNS], ["delete from marts_build.towns where " + one("towns", "status = 'active'")],
        {f"{TOWNS}.registry_memberships": "critical"}),
    "a county's report missing after the deadline": (
        [SUBS], ["delete from marts_build.submissions where county_code = '330411' and year = 2016 and quarter = 2"],
        {f"{SUBS}.completeness": "warning"}),
    "a county late too often": (
        [SUBS], ["update marts_build.submissions set received_at = (deadline + 3)::timestamp at time zone 'Asia/Shanghai', "
                 "late = true where county_code = '330421' and year = 2016 and quarter <= 3 and version = 1"],
        {f"{SUBS}.timeliness": "warning"}),
    "late flag against the deadline": (
        [SUBS], ["update marts_build.submissions set late = not late where "
                 + one("submissions", "status = 'accepted'")],
        {f"{SUBS}.late": "critical"}),
    "grade not the score's": (
        [TA], ["update marts_build.town_annual_assessment set grade = case when grade = '优秀' then '不合格' else '优秀' end "
               "where " + one("town_annual_assessment", "programme = 'pilot' and score is not null")],
        {f"{TA}.grade": "critical"}),
    "score above 100": (
        [TA, AC], ["update marts_build.town_annual_assessment set score = 100.5, grade = '优秀' where "
                   + one("town_annual_assessment", SOLE_FIRST)],
        {f"{TA}.between.score": "critical", f"{TA}.score_sum": "critical"}),
    "ranks out of order": (
        [TA], ["update marts_build.town_annual_assessment as a set rank_in_tier = (select max(b.rank_in_tier) "
               "from marts_build.town_annual_assessment as b where b.year = a.year and b.programme = a.programme "
               "and b.tier = a.tier) where " + one("town_annual_assessment", SOLE_FIRST)],
        {f"{TA}.rank_order": "critical"}),
    "a pending result with a score": (
        [TA], ["update marts_build.town_annual_assessment set pending = true where "
               + one("town_annual_assessment", "comparable and proposals = ''")],
        {f"{TA}.pending": "critical", f"{TA}.comparable": "critical"}),
    "a rank on a score that is not comparable": (
        [TA], ["update marts_build.town_annual_assessment set comparable = false where "
               + one("town_annual_assessment", "comparable and proposals = '' and programme = 'characteristic'",
                     "score")],
        {f"{TA}.rank_when_comparable": "critical", f"{TA}.comparable": "critical", f"{TA}.rank_order": "critical"}),
    "a yellow card proposed without a reason": (
        [TA], ["update marts_build.town_annual_assessment set proposals = 'yellow_card' where "
               + one("town_annual_assessment", "programme = 'pilot' and tier = 'municipal' and comparable "
                     "and proposals = ''", "score desc")],
        {f"{TA}.yellow_card": "critical"}),
    "a removal proposed without a second decided card": (
        [TA], ["update marts_build.town_annual_assessment set proposals = 'remove' where "
               + one("town_annual_assessment", "programme = 'pilot' and tier = 'municipal' and proposals = '' "
                     "and yellow_cards_in_round = 0")],
        {f"{TA}.remove": "critical"}),
    "a decided yellow card without a decision": (
        [TA], ["update marts_build.town_annual_assessment set yellow_card = true where "
               + one("town_annual_assessment", "programme = 'pilot' and not yellow_card and decision is null")],
        {f"{TA}.decided": "critical"}),
    "a removal without a decision": (
        [TA], ["update marts_build.town_annual_assessment set removed_next_year = true where "
               + one("town_annual_assessment", "programme = 'pilot' and decision is null")],
        {f"{TA}.decided": "critical"}),
    "an elimination without a decision": (
        [TA], ["update marts_build.town_annual_assessment set eliminated_next_year = true where "
               + one("town_annual_assessment", "'eliminate' = any(string_to_array(proposals, ',')) "
                     "and decision is distinct from 'eliminate'")],  # e.g. the one the city declined
        {f"{TA}.decided": "critical"}),
    "an elimination proposal dropped": (
        [TA], ["update marts_build.town_annual_assessment "
               "set proposals = array_to_string(array_remove(string_to_array(proposals, ','), 'eliminate'), ',') "
               "where " + one("town_annual_assessment", "'eliminate' = any(string_to_array(proposals, ','))")],
        {f"{TA}.eliminate": "critical"}),
    "proposals out of order": (
        [TA], ["update marts_build.town_annual_assessment set proposals = proposals || ',eliminate' where "
               + one("town_annual_assessment", "proposals <> '' and proposals not like '%eliminate%'")],
        {f"{TA}.proposal_codes": "critical", f"{TA}.eliminate": "critical"}),
    "downgrade warning without the downgrade risk proposal": (
        [TA], ["update marts_build.town_annual_assessment set downgrade_warning = not downgrade_warning where "
               + one("town_annual_assessment", "tier = 'provincial_creation'")],
        {f"{TA}.downgrade_risk": "critical"}),
    "a membership ended without a decision": (
        [TOWNS], ["update marts_build.towns set valid_to = '2016-12-31', status = 'eliminated' where "
                  + one("towns", "status = 'active' and valid_to is null and programme = 'characteristic' "
                                  "and valid_from < '2016-12-31'")],
        {f"{TOWNS}.registry_memberships": "critical", f"{TOWNS}.status_by_decision": "critical"}),
    "a decision not applied to the membership": (
        [TOWNS], ["update marts_build.towns set valid_to = registry_valid_to, status = 'active', ended_by = null, "
                  "decision_id = null where " + one("towns", "ended_by = 'decision'")],
        {f"{TOWNS}.decisions_applied": "critical"}),
    "a weight not as configured": (
        [AC], ["update marts_build.assessment_components set weight = weight + 1 where "
               + one("assessment_components", "scored and points >= weight / 2")],
        {f"{AC}.configured_weight": "critical", f"{AC}.points_formula": "critical"}),
    "a task marked default where the city assigned one": (
        [IP], ["update marts_build.investment_progress set annual_task_source = 'default' where "
               + one("investment_progress", "annual_task_source = 'assigned'")],
        {f"{IP}.annual_task": "critical"}),
    "points above the weight": (
        [AC, TA], ["update marts_build.assessment_components set points = weight + 1 where "
                   + one("assessment_components", "points is not null and actual is not null")],
        {f"{AC}.points_range": "critical", f"{AC}.points_formula": "critical", f"{TA}.score_sum": "critical"}),
    "met flag against the target": (
        [PT], ["update marts_build.pilot_targets set met_gdp_growth = not met_gdp_growth where "
               + one("pilot_targets", "met_gdp_growth is not null")],
        {f"{PT}.met_gdp_growth": "critical"}),
    "negative KPI": (
        [KPI], ["update marts_build.programme_kpis set value = -1, met = false, status = 'not_met' where "
                + one("programme_kpis", "comparison = 'at_least' and target > 0 and met is not null")],
        {f"{KPI}.between.value": "critical"}),
    "KPI met against the target": (
        [KPI], ["update marts_build.programme_kpis set met = not met, status = case when met then 'not_met' else 'met' end "
                "where " + one("programme_kpis", "met is not null")],
        {f"{KPI}.met": "critical"}),
    "KPI status against met": (
        [KPI], ["update marts_build.programme_kpis set status = 'on_track' where " + one("programme_kpis", "met is not null")],
        {f"{KPI}.status_met": "critical"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_defect_fails_the_right_expectation_with_the_right_severity(marts, conn, case):
    suites, statements, failed = CASES[case]
    missing = [s for s in suites if s.removeprefix("marts_") not in marts]
    if missing:
        pytest.skip(f"{missing} not built by dbt yet")
    for statement in statements:
        assert conn.execute(statement).rowcount > 0, statement
    outcome = _run(suites)
    assert _failed(outcome) == failed
    assert outcome.success == ("critical" not in failed.values())
