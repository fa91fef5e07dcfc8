"""The published annual assessment against an independent recomputation of programme-rules v2.

tests/recompute_v2.py recomputes, from the rules text and its default policy numbers (constants
there, not the project's seeds), what `town_annual_assessment` must say for every town and assessed
year, from the published `towns`, `town_quarter_indicators`, `investment_progress`, `pilot_targets`
and `decisions`. The first tests check the recomputation itself on small hand-made inputs (so that
the oracle can be trusted); the last ones load the sample, run `dbt build`, publish a version as
`python -m publish run` does, and compare the version's CSV files town by town.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from recompute_v2 import (
    DATASETS,
    DEFAULT_POLICY,
    FIELDS,
    assessed_years,
    discrepancies,
    latest_version_folder,
    load_publication,
    read_dataset,
    recompute,
)

D = Decimal
COUNTY_GROWTH = D(7)


# ------------------------------------------------------------------ hand-made publications


@pytest.fixture(scope="module")
def expected(expected_through_2016):
    """This module loads the reports of 2015-2016 only (tests/conftest.py: expected_through_2016)."""
    return expected_through_2016


def _towns(*rows) -> list[dict]:
    return [{"town_code": code, "programme": programme, "tier": tier, "list_name": list_name,
             "valid_from": valid_from, "valid_to": valid_to}
            for code, programme, tier, list_name, valid_from, valid_to in rows]


def _fact(code, year, indicator, value, prev=None, quarter=4) -> dict:
    return {"town_code": code, "year": str(year), "quarter": str(quarter), "indicator": indicator,
            "value_ytd": "" if value is None else str(value), "value_ytd_prev_year": "" if prev is None else str(prev)}


class Pub:
    """A tiny publication: the five datasets as lists of CSV-like dicts."""

    def __init__(self):
        self.data = {name: [] for name in DATASETS}

    def member(self, code, programme, tier, list_name="L", valid_from="2015-01-01", valid_to=""):
        self.data["towns"] += _towns((code, programme, tier, list_name, valid_from, valid_to))
        return self

    def characteristic(self, code, year=2016, *, completion="1", share="0.7", growth="0.1", firms=20, task=100000,
                       prior=True, drop=()):
        """A characteristic town's Q4 values giving these actual values."""
        fai = D(completion) * task
        values = {"fai": (fai, D(1000)), "fai_feature": (D(share) * fai, None),
                  "tax_revenue": (1000 * (1 + D(growth)), D(1000)),
                  "operating_revenue": (1000 * (1 + D(growth)), D(1000)), "new_firms": (firms, None)}
        for indicator, (value, prev) in values.items():
            if indicator not in drop:
                self.data["town_quarter_indicators"].append(_fact(code, year, indicator, value, prev if prior else None))
        if "fai" not in drop:
            self.data["investment_progress"].append({"town_code": code, "year": str(year), "quarter": "4",
                                                     "fai_ytd": str(fai), "annual_task": str(task)})
        return self

    def pilot(self, code, year=2016, score=100, *, tier="municipal", prior=True, county_growth=COUNTY_GROWTH, drop=()):
        """A pilot town whose five indicators each score the same share: the total is `score`."""
        f = D(str(score)) / 100
        extra = "builtup" if tier == "municipal" else "employment"
        values = {
            "gdp_growth": ((COUNTY_GROWTH if tier == "municipal" else 0) + (2 if tier == "municipal" else 10) * f, None),
            "fiscal_revenue": (1000 * (1 + D("0.10") * f), 1000),
            "fai": (1000 * (1 + (D("0.16") if tier == "municipal" else D("0.18")) * f), 1000),
            "gdp": (1000, 1000), "tertiary_va": (490 + 20 * f, 500),
        }
        if extra == "builtup":
            values |= {"resident_pop": (1000, 1000), "builtup_pop": (490 + 20 * f, 500)}
        else:
            values |= {"employed": (1000, 1000), "employed_sec_ter": (490 + 20 * f, 500)}
        for indicator, (value, prev) in values.items():
            if indicator not in drop:
                self.data["town_quarter_indicators"].append(_fact(code, year, indicator, value, prev if prior else None))
        self.data["pilot_targets"].append({"town_code": code, "year": str(year), "tier": tier,
                                           "county_gdp_growth_pct": "" if county_growth is None else str(county_growth)})
        return self

    def decision(self, code, action, year, list_name="L"):
        self.data["decisions"].append({"town_code": code, "action": action, "assessment_year": str(year),
                                       "list_name": list_name})
        return self

    def municipal_pilots(self, scores: dict[str, float], year=2016, list_name="L"):
        for code, score in scores.items():
            self.member(code, "pilot", "municipal", list_name).pilot(code, year, score)
        return self


def _cards(out, year=2016):
    return {t: e.card_tie for (y, t), e in out.items() if y == year and "yellow_card" in e.proposals}


# ------------------------------------------------------------------ the recomputation on hand-made inputs


def test_scores_ranks_grades_and_excellent_candidates():
    pub = Pub()
    for code, firms in (("A", 10), ("B", 8), ("C", 8), ("D", 6)):  # 95, 94, 94, 93
        pub.member(code, "characteristic", "provincial_creation").characteristic(code, firms=firms)
    pub.member("E", "characteristic", "provincial_creation").characteristic(
        "E", completion="0.75", share="0.6", growth="0.05", firms=10)  # 20 + 10 + 7.5 + 7.5 + 5 = 50
    out = recompute(pub.data)
    assert {t: (e.score, e.grade, e.rank_in_tier) for (_, t), e in out.items()} == {
        "A": (D("95.000000"), "优秀", 1), "B": (D("94.000000"), "优秀", 2), "C": (D("94.000000"), "优秀", 2),
        "D": (D("93.000000"), "优秀", 4), "E": (D("50.000000"), "不合格", 5)}
    assert {t: e.proposals for (_, t), e in out.items()} == {
        "A": ("excellent_candidate",), "B": ("excellent_candidate",), "C": ("excellent_candidate",), "D": (),
        "E": ("downgrade_risk",)}
    assert all(e.comparable and not e.pending and not e.rescaled for e in out.values())
    assert out[(2016, "E")].downgrade_warning and not out[(2016, "A")].downgrade_warning


def test_task_completion_is_compared_unrounded_and_grades_use_the_6_decimal_score():
    pub = Pub()
    pub.member("M1", "characteristic", "municipal").characteristic("M1", completion="0.9999999")
    pub.member("M2", "characteristic", "municipal").characteristic("M2", completion="1", share="0.5", growth="0",
                                                                   firms=0)  # 40: 不合格
    pub.member("M3", "characteristic", "municipal").characteristic("M3", completion="1.2")
    # 39.999992 + 2 × 15 × 0.666666917 = 59.99999951 rounds to 60.000000: 合格, not 不合格
    pub.member("M4", "characteristic", "municipal").characteristic("M4", completion="0.9999999", share="0.5",
                                                                   growth="0.0666666917", firms=0)
    out = recompute(pub.data)
    m1, m2, m3, m4 = (out[(2016, t)] for t in ("M1", "M2", "M3", "M4"))
    assert m1.score == D("99.999992") and m1.grade == "优秀" and m1.proposals == ("eliminate", "excellent_candidate")
    assert m2.grade == "不合格" and m2.proposals == ("eliminate",)
    assert m3.proposals == ("excellent_candidate",) and m3.investment_completion == D("1.2")
    assert m4.score == D("60.000000") and m4.grade == "合格" and "eliminate" in m4.proposals  # completion < 1


def test_no_prior_year_value_rescales_and_may_make_a_score_not_comparable():
    pub = Pub()
    pub.member("C1", "characteristic", "municipal").characteristic("C1", completion="0.75", prior=False)
    pub.member("P1", "pilot", "provincial").pilot("P1", score=30, tier="provincial", prior=False)
    pub.member("P2", "pilot", "provincial").pilot("P2", score=30, tier="provincial")
    out = recompute(pub.data)
    c1, p1, p2 = out[(2016, "C1")], out[(2016, "P1")], out[(2016, "P2")]
    # completion 20 + share 20 + firms 10 out of 70 scored weights
    assert c1.score == D("71.428571") and c1.rescaled and c1.comparable and c1.scored_weight == 70
    assert {k for k, c in c1.components.items() if c.points is None} == {"tax_revenue_growth",
                                                                          "operating_revenue_growth"}
    assert c1.proposals == ("eliminate",)  # comparable; completion 0.75 < 1.00
    # a pilot town with only its GDP growth scored: 20% of the weights, published but not comparable
    assert p1.score == D("30.000000") and p1.grade == "不合格" and not p1.comparable and not p1.pending
    assert p1.rank_in_tier is None and p2.rank_in_tier == 1 and p1.proposals == ()


def test_a_prior_year_value_of_zero_is_not_scored_and_never_pending():
    pub = Pub().member("C1", "characteristic", "county").characteristic("C1", completion="0.75")
    for f in pub.data["town_quarter_indicators"]:
        if f["indicator"] == "tax_revenue":
            f["value_ytd_prev_year"] = "0"
    e = recompute(pub.data)[(2016, "C1")]
    assert not e.pending and e.components["tax_revenue_growth"].points is None and e.scored_weight == 85
    assert e.score == D("76.470588")  # (20 + 20 + 15 + 10) * 100 / 85


def test_yellow_cards_tie_at_the_cut_off():
    out = recompute(Pub().municipal_pilots({"A": 40, "B": 50, "C": 50, "D": 70, "E": 80, "F": 90}).data)
    assert _cards(out) == {"A": False, "B": True, "C": True}  # 3 proposals > 2: card_tie at the cut-off
    out = recompute(Pub().municipal_pilots({"A": 40, "B": 50, "C": 70, "D": 80}).data)
    assert _cards(out) == {"A": False, "B": False}
    out = recompute(Pub().municipal_pilots({"A": 40, "B": 40, "C": 70, "D": 80}).data)
    assert _cards(out) == {"A": False, "B": False}  # a tie within the N lowest is no card_tie
    assert all(not e.card_tie for e in out.values() if "yellow_card" not in e.proposals)


def test_a_yellow_card_needs_a_score_below_the_median():
    out = recompute(Pub().municipal_pilots({"A": 50, "B": 50, "C": 50, "D": 70}).data)
    assert _cards(out) == {}  # at the cut-off, but not below the median (50)
    out = recompute(Pub().municipal_pilots({"A": 50, "B": 60, "C": 70, "D": 80, "E": 90}).data)
    assert _cards(out) == {"A": False, "B": False}  # median 70


def test_no_yellow_card_in_a_group_of_fewer_than_four_comparable_scores():
    pub = Pub().municipal_pilots({"A": 10, "B": 20, "C": 90})
    pub.member("N", "pilot", "municipal").pilot("N", score=5, prior=False)  # not comparable
    pub.member("P", "pilot", "municipal").pilot("P", score=5, drop=("fai",))  # pending
    out = recompute(pub.data)
    assert _cards(out) == {}
    assert out[(2016, "N")].score == D("5.000000") and not out[(2016, "N")].comparable
    # the group is the round (list_name): two rounds of three are two groups too small
    out = recompute(Pub().municipal_pilots({"A": 10, "B": 20, "C": 90}, list_name="R1")
                    .municipal_pilots({"D": 10, "E": 20, "F": 90}, list_name="R2").data)
    assert _cards(out) == {}
    # provincial pilots get no yellow cards
    pub = Pub()
    for code, score in {"A": 10, "B": 20, "C": 80, "D": 90}.items():
        pub.member(code, "pilot", "provincial").pilot(code, score=score, tier="provincial")
    assert _cards(recompute(pub.data)) == {}


def test_pending_means_no_score_rank_or_proposal_but_decisions_stay():
    pub = Pub().municipal_pilots({"A": 10, "B": 20, "C": 80, "D": 90})
    pub.member("P1", "pilot", "municipal").pilot("P1", score=5, county_growth=None)  # county growth missing
    pub.member("P2", "pilot", "municipal").pilot("P2", score=5, drop=("builtup_pop",))
    pub.member("C1", "characteristic", "municipal").characteristic("C1", completion="0.2", drop=("new_firms",))
    pub.decision("P2", "yellow_card", 2016)
    out = recompute(pub.data)
    for code, missing in (("P1", ["county_gdp_growth"]), ("P2", ["builtup_pop"]), ("C1", ["new_firms"])):
        e = out[(2016, code)]
        assert e.pending and e.missing == missing
        assert (e.score, e.grade, e.rank_in_tier, e.comparable, e.proposals, e.card_tie) == (None, None, None, False,
                                                                                           (), False)
    assert out[(2016, "P2")].yellow_card and out[(2016, "P2")].yellow_cards_in_round == 1
    assert _cards(out) == {"A": False, "B": False}  # the group counts the four comparable scores only


def test_remove_on_the_town_year_of_the_second_decided_card_in_the_round():
    pub = Pub()
    pub.member("A", "pilot", "municipal", "R2")
    pub.member("B", "pilot", "municipal", "R2")
    pub.member("C", "pilot", "municipal", "R1", valid_to="2016-12-31")
    pub.member("C", "pilot", "municipal", "R2", valid_from="2017-01-01")
    for year in (2016, 2017):
        pub.pilot("A", year, 95).pilot("C", year, 95)
        pub.pilot("B", year, 95, drop=("fai",) if year == 2017 else ())
        pub.decision("A", "yellow_card", year, "R2").decision("B", "yellow_card", year, "R2")
    pub.decision("A", "remove", 2017, "R2")
    pub.decision("C", "yellow_card", 2016, "R1").decision("C", "yellow_card", 2017, "R2")
    out = recompute(pub.data, years=[2016, 2017])
    a16, a17 = out[(2016, "A")], out[(2017, "A")]
    # a group of one, a good score: the proposal rests on the decided cards alone
    assert a16.proposals == () and a17.proposals == ("remove",)
    assert (a16.yellow_card, a16.yellow_cards_in_round, a16.removed_next_year) == (True, 1, False)
    assert (a17.yellow_card, a17.yellow_cards_in_round, a17.removed_next_year) == (True, 2, True)
    assert out[(2017, "B")].pending and out[(2017, "B")].proposals == ()  # not while pending
    assert out[(2017, "C")].proposals == () and out[(2017, "C")].yellow_cards_in_round == 1  # cards of two rounds
    assert not any(e.eliminated_next_year for e in out.values())


def test_decided_booleans_only_where_a_decision_is_recorded():
    pub = Pub().member("M", "characteristic", "municipal").characteristic("M", completion="0.5")
    out = recompute(pub.data)
    assert out[(2016, "M")].proposals == ("eliminate",) and not out[(2016, "M")].eliminated_next_year
    pub.decision("M", "eliminate", 2016).decision("M", "no_action", 2015)
    out = recompute(pub.data)
    assert out[(2016, "M")].eliminated_next_year and not out[(2016, "M")].yellow_card


def test_assessed_years_and_members_on_31_december():
    pub = Pub()
    pub.member("J", "characteristic", "municipal", valid_from="2016-07-01")  # joined mid-year: assessed
    pub.member("G", "characteristic", "municipal", valid_to="2016-12-30")  # ended by a decision: not assessed
    pub.member("P", "characteristic", "municipal", "市级", valid_to="2016-01-28")
    pub.member("P", "characteristic", "provincial_creation", "省级", valid_from="2016-01-29")
    for code in "JGP":
        pub.characteristic(code, 2015).characteristic(code, 2016)
    assert assessed_years(pub.data) == [2016]  # 2015 is the baseline
    out = recompute(pub.data)
    assert set(out) == {(2016, "J"), (2016, "P")}
    assert (out[(2016, "P")].tier, out[(2016, "P")].list_name) == ("provincial_creation", "省级")
    pub.data["town_quarter_indicators"] = [f for f in pub.data["town_quarter_indicators"] if f["year"] != "2016"
                                           or f["quarter"] != "4"]
    assert assessed_years(pub.data) == []  # no Q4 values yet: no assessment


def test_a_weight_override_changes_the_scores_of_that_tier_only():
    pub = Pub()
    for tier in ("municipal", "provincial_creation"):
        pub.member(tier, "characteristic", tier).characteristic(tier, completion="0.75", firms=5)
    policy = DEFAULT_POLICY.with_weights("characteristic", "municipal", investment_completion=30, new_firms=20)
    before, after = recompute(pub.data), recompute(pub.data, policy)
    assert before[(2016, "municipal")].score == D("72.500000")  # 20 + 20 + 15 + 15 + 2.5
    assert after[(2016, "municipal")].score == D("70.000000")  # 15 + 20 + 15 + 15 + 5
    assert after[(2016, "provincial_creation")].score == before[(2016, "provincial_creation")].score
    assert DEFAULT_POLICY.schemes[("characteristic", "municipal")]["investment_completion"][0] == 40


def test_reading_a_version_folder_and_reporting_discrepancies(tmp_path):
    pub = Pub().municipal_pilots({"A": 40, "B": 50, "C": 70, "D": 80})
    for name, rows in pub.data.items():
        columns = sorted({k for r in rows for k in r}) or ["town_code"]
        lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in rows]
        (tmp_path / f"{name}.csv").write_bytes("\ufeff".encode() + ("\n".join(lines) + "\n").encode())
    data = load_publication(tmp_path)
    assert data["pilot_targets"][0]["town_code"] == "A"  # the BOM is not part of the first column's name
    out = recompute(data)
    published = [{"year": "2016", "town_code": t, "score": f"{e.score:f}", "grade": e.grade, "comparable": "true",
                  "pending": "false", "rank_in_tier": str(e.rank_in_tier), "proposals": ",".join(e.proposals),
                  "card_tie": "false", "yellow_card": "false", "removed_next_year": "false",
                  "eliminated_next_year": "false", "yellow_cards_in_round": "0", "downgrade_warning": "false",
                  "investment_completion": ""} for (_, t), e in out.items()]
    assert discrepancies(out, published) == []
    published[0]["score"], published[1]["proposals"] = "40.000001", ""
    published.append(dict(published[0], town_code="Z"))
    assert discrepancies(out, published) == [
        "2016 Z: published, not assessed by the rules",
        "2016 A (pilot/municipal): score: recomputed 40.000000 vs published 40.000001",
        "2016 B (pilot/municipal): proposals: recomputed ['yellow_card'] vs published []"]
    (tmp_path / "pub" / "v" / "20260101T000000Z-abcdef12").mkdir(parents=True)
    (tmp_path / "pub" / "LATEST").write_text("20260101T000000Z-abcdef12\n")
    assert latest_version_folder((tmp_path / "pub").as_uri()) == tmp_path / "pub" / "v" / "20260101T000000Z-abcdef12"


def test_formula_like_text_is_unescaped(tmp_path):
    (tmp_path / "towns.csv").write_text("\ufefftown_code,list_name\nX,'-dash\nY,'plain\n", encoding="utf-8")
    assert [r["list_name"] for r in read_dataset(tmp_path, "towns")] == ["-dash", "'plain"]


# ------------------------------------------------------------------ the sample, built and published


@pytest.fixture(scope="module")
def version_folder(warehouse, sample_dir, expected, tmp_path_factory, publish_built_marts):
    """The sample submitted, `dbt build`, a publication made as `python -m publish run` does."""
    from core import config
    from core.dbt import run_dbt
    from core.warehouse import connect
    from ingest.landing import submit
    from publish.wap import publish

    for e in expected:
        assert submit(sample_dir / e["file"], write_feedback=False).status == e["expected_status"], e["file"]
    result = run_dbt(["build"])
    assert result.success, result.failures[:10]
    publish_built_marts()
    previous = os.environ.get("PUBLISH_URL")
    os.environ["PUBLISH_URL"] = (tmp_path_factory.mktemp("assessment_v2") / "published").as_uri()
    try:
        url = config.publish_url()
        with connect() as conn:
            publish(url, conn)
        yield latest_version_folder(url)
    finally:
        if previous is None:
            os.environ.pop("PUBLISH_URL", None)
        else:
            os.environ["PUBLISH_URL"] = previous


@pytest.mark.integration
@pytest.mark.slow
def test_published_assessment_agrees_with_the_rules_town_by_town(version_folder):
    expected = recompute(load_publication(version_folder))
    published = read_dataset(version_folder, "town_annual_assessment")
    assert expected, "nothing to assess: no assessed year with Q4 values in the publication"
    problems = discrepancies(expected, published)
    assert problems == [], f"{len(problems)} discrepancies ({', '.join(FIELDS)}):\n" + "\n".join(problems)


@pytest.mark.integration
@pytest.mark.slow
def test_published_assessment_has_the_contract_columns_and_no_baseline_year(version_folder):
    published = read_dataset(version_folder, "town_annual_assessment")
    contract = {"year", "town_code", "county_code", "name_zh", "programme", "tier", "list_name", "member_quarters",
                "score", "grade", "rank_in_tier", "comparable", "pending", "awaited_counties",
                "investment_completion", "annual_task", "annual_task_source", "scorable_weight", "rescaled",
                "proposals", "card_tie", "proposal_reasons_zh", "proposal_reasons_en", "decision", "decision_zh",
                "decided_on", "document_no", "decided_by", "decision_notes", "yellow_card", "yellow_cards_in_round",
                "removed_next_year", "eliminated_next_year", "downgrade_warning", "notes", "notes_en",
                "n_ranked_in_tier"}
    assert published and contract <= set(published[0]), sorted(contract - set(published[0]))
    assert min(int(r["year"]) for r in published) >= 2016  # 2015 is the baseline: monitored, not assessed
    for r in published:
        n_proposals = len([c for c in r["proposals"].split(",") if c])
        n_reasons = len([x for x in (r["proposal_reasons_en"] or "").split("; ") if x])
        assert n_reasons == n_proposals, (r["year"], r["town_code"], r["proposals"], r["proposal_reasons_en"])
