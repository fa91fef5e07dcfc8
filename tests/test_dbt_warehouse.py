"""The dbt warehouse on the sample reports (real PostgreSQL): incremental facts, the annual
assessment against an independent recomputation of programme-rules.md, policy as data,
"as reported" history and documentation.

One module database is loaded in two steps: first every report up to 2016Q3 (without the
correction of the refused 330424 2016Q3), then the rest together with a corrected resend
of 330402 2016Q2, so that the second build is an incremental one.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import openpyxl
import pytest

from core.config import SEEDS_DIR
from core.dbt import run_dbt, target_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CORRECTION = "330424_2016Q3_更正.xlsx"
RESENT = "330402_2016Q2.xlsx"  # sent again with a changed footer: a new version, same values
KEY = ("year", "quarter", "town_code", "indicator")


def _rows(conn, sql, *params):
    cur = conn.execute(sql, params)
    cols = [d.name for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _facts(conn) -> dict[tuple, dict]:
    """town_quarter_indicators by key, with the row version (xmin) of each row."""
    rows = _rows(conn, "select xmin::text as row_version, * from marts.town_quarter_indicators")
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


@dataclass(frozen=True)
class Rules:
    """programme-rules.md section 4, in the rules' own units (shares and growth as fractions)."""

    characteristic: dict = field(default_factory=lambda: {
        "investment_completion": (40, 1.00, 0.50),
        "feature_share": (20, 0.70, 0.50),
        "tax_revenue_growth": (15, 0.10, 0.0),
        "operating_revenue_growth": (15, 0.10, 0.0),
        "new_firms": (10, 20, 0),
    })
    provincial_pilot: dict = field(default_factory=lambda: {
        "gdp_growth": (20, 10.0, 0.0),  # the reported rate, in percent
        "fiscal_revenue_growth": (20, 0.10, 0.0),
        "fai_growth": (20, 0.18, 0.0),
        "tertiary_share_change": (20, 0.01, -0.01),
        "employment_share_change": (20, 0.01, -0.01),
    })
    municipal_pilot: dict = field(default_factory=lambda: {
        "gdp_growth": (20, 2.0, 0.0),  # added to the county's growth
        "fiscal_revenue_growth": (20, 0.10, 0.0),
        "fai_growth": (20, 0.16, 0.0),
        "tertiary_share_change": (20, 0.01, -0.01),
        "builtup_concentration_change": (20, 0.01, -0.01),
    })
    municipal_characteristic: dict | None = None  # a different scheme for municipal characteristic towns
    grades: tuple = ((90, "优秀"), (75, "良好"), (60, "合格"), (0, "不合格"))
    min_completion: float = 1.00


def _recompute(conn, rules: Rules) -> dict[tuple, dict]:
    """Every town-year of 2015 and 2016 assessed from the published facts and the registry."""
    memberships = _read_seed("memberships")
    tier_target = {r["tier"]: float(r["fai_target_3y"]) for r in _read_seed("tiers") if r["fai_target_3y"]}
    facts = {(r["town_code"], r["year"], r["quarter"], r["indicator"]): r["value_ytd"] for r in _rows(
        conn, "select town_code, year, quarter, indicator, value_ytd::float from marts.town_quarter_indicators")}
    reporting_years = {(t, y) for t, y, _, _ in facts}
    county_growth = {(r["county_code"], r["year"]): r["value"] for r in _rows(
        conn, "select distinct on (v.county_code, v.year) v.county_code, v.year, v.value::float from raw.report_values v "
              "join landing.submissions s using (submission_id) where s.status = 'accepted' and v.quarter = 4 "
              "and v.indicator = 'county_gdp_growth' order by v.county_code, v.year, s.version desc")}
    county = {r["town_code"]: r["county_code"] for r in _read_seed("towns")}

    def covering(town, day):
        for m in memberships:
            end = date.fromisoformat(m["valid_to"]) if m["valid_to"] else date.max
            if m["town_code"] == town and date.fromisoformat(m["valid_from"]) <= day <= end:
                return m
        return None

    out: dict[tuple, dict] = {}
    for year in (2015, 2016):
        for town in sorted({m["town_code"] for m in memberships}):
            m4 = covering(town, date(year, 12, 31))
            if m4 is None:
                continue
            programme, tier = m4["programme"], m4["tier"]
            quarters = [m for q in (3, 6, 9, 12)
                        if (m := covering(town, date(year, q, 30 if q in (6, 9) else 31)))
                        and m["programme"] == programme]
            task = sum((float(m["plan_investment_3y"]) if m["plan_investment_3y"] else tier_target.get(m["tier"], 0))
                       / 3 / 4 for m in quarters)
            first_year = (town, year - 1) not in reporting_years

            def v(ind, y, town=town):
                return facts.get((town, y, 4, ind))

            def growth(ind, year=year):
                return v(ind, year) / v(ind, year - 1) - 1

            def share_change(num, den, year=year):
                return v(num, year) / v(den, year) - v(num, year - 1) / v(den, year - 1)

            if programme == "characteristic":
                scheme = (rules.municipal_characteristic or rules.characteristic) if tier == "municipal" \
                    else rules.characteristic
                actual = {
                    "investment_completion": v("fai", year) / task,
                    "feature_share": v("fai_feature", year) / v("fai", year),
                    "tax_revenue_growth": None if first_year else growth("tax_revenue"),
                    "operating_revenue_growth": None if first_year else growth("operating_revenue"),
                    "new_firms": v("new_firms", year),
                }
                targets = {k: (t, f) for k, (_, t, f) in scheme.items()}
            else:
                scheme = rules.provincial_pilot if tier == "provincial" else rules.municipal_pilot
                actual = {
                    "gdp_growth": v("gdp_growth", year),
                    "fiscal_revenue_growth": None if first_year else growth("fiscal_revenue"),
                    "fai_growth": None if first_year else growth("fai"),
                    "tertiary_share_change": None if first_year else share_change("tertiary_va", "gdp"),
                    "employment_share_change": None if first_year else share_change("employed_sec_ter", "employed"),
                    "builtup_concentration_change": None if first_year else share_change("builtup_pop",
                                                                                          "resident_pop"),
                }
                targets = {k: (t, f) for k, (_, t, f) in scheme.items()}
                if tier == "municipal":
                    base = county_growth[(county[town], year)]
                    targets["gdp_growth"] = (base + scheme["gdp_growth"][1], base + scheme["gdp_growth"][2])
            points = {}
            for ind, (weight, _, _) in scheme.items():
                target, floor = targets[ind]
                a = actual[ind]
                points[ind] = None if a is None else weight * min(max((a - floor) / (target - floor), 0), 1)
            scored = {k: p for k, p in points.items() if p is not None}
            score = sum(scored.values()) * 100 / sum(scheme[k][0] for k in scored)
            out[(year, town)] = {
                "programme": programme, "tier": tier, "valid_from": m4["valid_from"], "score": score,
                "grade": next(g for threshold, g in rules.grades if round(score, 6) >= threshold),
                "investment_completion": actual.get("investment_completion"), "points": points,
                "member_quarters": len(quarters), "task": task,
            }

    ended: set[tuple] = set()  # (town, membership valid_from) ended by an elimination or removal
    for year in (2015, 2016):
        for town in [t for (y, t), r in out.items() if y == year and (t, r["valid_from"]) in ended]:
            del out[(year, town)]  # no longer a member of that period: not assessed
        this_year = {t: r for (y, t), r in out.items() if y == year}
        for town, r in this_year.items():
            peers = [p for p in this_year.values() if (p["programme"], p["tier"]) == (r["programme"], r["tier"])]
            r["rank"] = 1 + sum(round(p["score"], 6) > round(r["score"], 6) for p in peers)
            lower = sum(round(p["score"], 6) < round(r["score"], 6) for p in peers)
            is_municipal_pilot = (r["programme"], r["tier"]) == ("pilot", "municipal")
            r["yellow_card"] = is_municipal_pilot and (lower < 2 or r["score"] < 60)
            r["cards_in_round"] = sum(o["yellow_card"] for (y, t), o in out.items()
                                      if t == town and y <= year and o["valid_from"] == r["valid_from"])
            r["removed"] = r["yellow_card"] and r["cards_in_round"] >= 2
            r["eliminated"] = (r["programme"], r["tier"]) == ("characteristic", "municipal") and (
                round(r["score"], 6) < 60 or r["investment_completion"] < rules.min_completion)
            r["downgrade_warning"] = r["programme"] == "characteristic" and r["tier"].startswith("provincial") \
                and round(r["score"], 6) < 60
            if r["removed"] or r["eliminated"]:
                ended.add((town, r["valid_from"]))
    return out


def _published(conn) -> dict[tuple, dict]:
    rows = _rows(conn, "select * from marts.town_annual_assessment")
    return {(r["year"], r["town_code"]): r for r in rows}


def _assert_assessment_matches(conn, rules: Rules) -> dict[tuple, dict]:
    expected = _recompute(conn, rules)
    published = _published(conn)
    assert set(published) == set(expected)
    for key, exp in expected.items():
        got = published[key]
        assert float(got["score"]) == pytest.approx(exp["score"], abs=1e-4), key
        assert got["grade"] == exp["grade"], key
        assert got["rank_in_tier"] == exp["rank"], key
        assert got["yellow_card"] == exp["yellow_card"], key
        assert got["yellow_cards_in_round"] == exp["cards_in_round"], key
        assert got["removed_next_year"] == exp["removed"], key
        assert got["eliminated_next_year"] == exp["eliminated"], key
        assert got["downgrade_warning"] == exp["downgrade_warning"], key
        assert got["member_quarters"] == exp["member_quarters"], key
        if exp["investment_completion"] is not None:
            assert float(got["investment_completion"]) == pytest.approx(exp["investment_completion"], abs=1e-5), key
    components = _rows(conn, "select year, town_code, indicator, points::float, scored from marts.assessment_components")
    assert len(components) == sum(len(e["points"]) for e in expected.values())
    for c in components:
        exp_points = expected[(c["year"], c["town_code"])]["points"][c["indicator"]]
        assert c["scored"] == (exp_points is not None), c
        if exp_points is not None:
            assert c["points"] == pytest.approx(exp_points, abs=1e-4), c
    return expected


def test_assessment_2015_and_2016_follows_the_rules_town_by_town(loaded, conn):
    expected = _assert_assessment_matches(conn, Rules())
    published = _published(conn)
    # what the sample is built to show
    eliminated_2016 = {t for (y, t), r in published.items() if y == 2016 and r["eliminated_next_year"]}
    assert {"CT-330411-02", "CT-330421-02"} <= eliminated_2016
    joiner = published[(2016, "CT-330402-03")]
    assert joiner["member_quarters"] == 2 and float(joiner["annual_task_prorated"]) == pytest.approx(50000)
    assert "2/4" in joiner["notes"] and joiner["rescaled"]
    assert published[(2015, "CT-330402-02")]["member_quarters"] == 1  # municipal batch 1 joined 2015-10-01
    assert published[(2015, "CT-330402-01")]["member_quarters"] == 3  # provincial list 1 joined 2015-06-01
    assert all(r["rescaled"] for (y, _), r in published.items() if y == 2015)  # no prior year in 2015
    assert sum(r["yellow_card"] for (y, _), r in published.items() if y == 2016) >= 2
    assert len(expected) == len(published)


def test_consequences_end_memberships_in_towns(loaded, conn):
    eliminated = {r["town_code"] for r in _rows(
        conn, "select town_code from marts.town_annual_assessment where eliminated_next_year and year = 2016")}
    towns = _rows(conn, "select * from marts.towns where town_code = any(%s)", sorted(eliminated))
    assert {t["town_code"] for t in towns} == eliminated
    for t in towns:
        assert (t["valid_to"], t["status"], t["ended_by"]) == (date(2016, 12, 31), "eliminated", "assessment"), t
    statuses = {r["status"] for r in _rows(conn, "select distinct status from marts.towns")}
    assert statuses <= {"active", "eliminated", "removed", "downgraded", "promoted"}
    round_one = _rows(conn, "select status from marts.towns where town_code = 'PT-330402101' "
                            "and valid_from = '2013-01-01'")
    assert round_one == [{"status": "active"}]  # continues in round 2


def test_programme_kpis_and_pilot_targets(loaded, conn):
    kpis = {(r["year"], r["kpi"]): r for r in _rows(conn, "select * from marts.programme_kpis")}
    new_towns = kpis[(2016, "new_provincial_creation_towns")]
    assert (float(new_towns["value"]), new_towns["met"]) == (3, True)
    fai = kpis[(2016, "provincial_creation_fai_total")]
    total = conn.execute(
        "select sum(value_ytd) from marts.town_quarter_indicators where year = 2016 and quarter = 4 "
        "and indicator = 'fai' and tier = 'provincial_creation'").fetchone()[0]
    assert fai["value"] == total and fai["met"] == (total >= 2_000_000)
    targets = {(r["year"], r["town_code"]): r for r in _rows(conn, "select * from marts.pilot_targets")}
    municipal = targets[(2016, "PT-330402101")]
    assert municipal["target_gdp_growth_pct"] == municipal["county_gdp_growth_pct"] + 2
    assert municipal["met_gdp_growth"] == (municipal["gdp_growth_pct"] >= municipal["target_gdp_growth_pct"])
    assert municipal["met_employment_share_change"] is None  # not a target of municipal pilots
    assert targets[(2015, "PT-330411101")]["met_fiscal_growth"] is None  # first year: no prior-year value


# ---------------------------------------------------------------- history and documentation


def test_as_reported_history_and_as_of_rebuild(loaded, conn):
    between = loaded.resent_original_at + timedelta(days=1)
    versions = conn.execute(
        "select distinct version from marts.fct_report_values_as_reported where county_code = '330402' "
        "and year = 2016 and quarter = 2 and known_from <= %s and (known_to is null or known_to > %s)",
        (between, between)).fetchall()
    assert versions == [(1,)]
    current = conn.execute(
        "select distinct version from marts.fct_report_values_as_reported where county_code = '330402' "
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


def test_changing_weights_and_thresholds_in_the_seeds_changes_the_results(loaded, conn):
    """No code change: the seed tables are edited and the models downstream rebuilt."""
    before = _published(conn)
    conn.execute("update seeds.scoring_indicators set weight = 30 where programme = 'characteristic' "
                 "and tier = 'municipal' and indicator = 'investment_completion'")
    conn.execute("update seeds.scoring_indicators set weight = 20 where programme = 'characteristic' "
                 "and tier = 'municipal' and indicator = 'new_firms'")
    conn.execute("update seeds.elimination_rules set min_investment_completion = 0.90")
    _build(["run", "--select", "scoring_indicators+", "elimination_rules+"])
    rules = Rules()
    rules = replace(rules, min_completion=0.90, municipal_characteristic={
        **rules.characteristic, "investment_completion": (30, 1.00, 0.50), "new_firms": (20, 20, 0)})
    _assert_assessment_matches(conn, rules)
    after = _published(conn)
    changed = {k for k in after if after[k]["score"] != before[k]["score"]}
    municipal = {k for k, r in before.items() if (r["programme"], r["tier"]) == ("characteristic", "municipal")}
    assert changed and changed <= municipal  # only the tier whose weights changed
    eliminated = {t for (y, t), r in after.items() if y == 2016 and r["eliminated_next_year"]}
    assert eliminated == {"CT-330411-02", "CT-330421-02"}  # the two towns under 90% of their task

    _build(["seed", "--select", "scoring_indicators", "elimination_rules"])
    _build(["run", "--select", "scoring_indicators+", "elimination_rules+"])
    assert {k: r["score"] for k, r in _published(conn).items()} == {k: r["score"] for k, r in before.items()}
