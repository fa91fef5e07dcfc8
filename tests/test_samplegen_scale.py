"""The scaled sample generator (issue 13): registry rules, determinism, the 2024Q4 files against
expected.json, and the history landed by COPY against which a real submission is accepted.

Most tests use the internal `small` scale (18 counties, every file variant and rule); determinism and
the registry rules are also checked at the province scale (90 counties, ~1,000 towns).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from samplegen.scale import SCALES, build_registry
from samplegen.scalefiles import EXPECTED_FILE, FIXED_ROLES, PERIOD, write_scaled_sample
from samplegen.scalevalues import PERIODS, build_values, member_mask, period_index


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small")
    write_scaled_sample(out, "small")
    return out


def _expected(out: Path) -> list[dict]:
    return json.loads((out / EXPECTED_FILE).read_text(encoding="utf-8"))


def _rows(seeds: Path, name: str) -> list[dict[str, str]]:
    with open(seeds / f"{name}.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_province_generation_is_deterministic_to_the_byte(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_scaled_sample(first, "province")
    write_scaled_sample(second, "province")
    assert _digest(first) == _digest(second)
    mtimes = {p.name: p.stat().st_mtime for p in (first / "inbox").iterdir()}
    assert mtimes == {p.name: p.stat().st_mtime for p in (second / "inbox").iterdir()}
    summary = json.loads((first / "scale.json").read_text(encoding="utf-8"))
    assert summary["counties"] == 90 and 900 <= sum(summary["members"].values()) <= 1200


@pytest.mark.parametrize("scale", ["small", "province", "nation"])
def test_the_scaled_registry_obeys_the_registry_rules(scale, tmp_path):
    reg = build_registry(SCALES[scale])
    from samplegen.scale import write_seeds

    seeds = tmp_path / "seeds"
    write_seeds(reg, seeds)
    counties = _rows(seeds, "counties")
    codes = [c["county_code"] for c in counties]
    assert len(codes) == len(set(codes)) and all(len(c) == 6 and c.isdigit() for c in codes)
    names = [c["name_zh"] for c in counties]
    # no county's name or short name is found in another county's name (the parser finds counties by name)
    for c in counties:
        assert [n for n in names if c["short_name"] in n] == [c["name_zh"]]
    towns = _rows(seeds, "towns")
    assert len({t["town_code"] for t in towns}) == len(towns)
    for t in towns:
        assert t["county_code"] in codes
        prefix = "CT-" if t["unit_kind"] == "characteristic" else "PT-"
        assert t["town_code"].startswith(prefix + t["county_code"])
    memberships = _rows(seeds, "memberships")
    assert len({(m["town_code"], m["valid_from"]) for m in memberships}) == len(memberships)
    for m in memberships:
        assert not m["valid_to"] or m["valid_to"] >= m["valid_from"]
        assert (m["plan_investment_3y"] != "") == (m["programme"] == "characteristic")
    joins = Counter(m["valid_from"][:4] for m in memberships if m["programme"] == "characteristic")
    assert {"2015", "2016", "2017", "2019", "2021", "2023"} <= set(joins)  # batches over the years
    decisions = _rows(seeds, "decisions")
    assert {"eliminate", "remove", "yellow_card"} <= {d["action"] for d in decisions}
    listed = {(m["town_code"], m["list_name"]) for m in memberships}
    assert all((d["town_code"], d["list_name"]) in listed for d in decisions)
    ended = {d["town_code"] for d in decisions if d["action"] in ("eliminate", "remove")}
    last_start = {}
    for m in memberships:
        last_start[m["town_code"]] = max(last_start.get(m["town_code"], ""), m["valid_from"])
    for d in decisions:  # an eliminated or removed town never comes back on a later list
        if d["town_code"] in ended:
            assert last_start[d["town_code"]] < d["effective_from"], d
    assert _rows(seeds, "annual_tasks")
    # the city's policy, continued past the plan period (2018) to the scaled world's last year, else unchanged
    city = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
    for name in ("policy_parameters", "assessment_grades", "yellow_card_rules", "city_targets"):
        continued = [{**r, "valid_to_year": "2024" if r["valid_to_year"] == "2018" else r["valid_to_year"]}
                     for r in _rows(city, name)]
        assert _rows(seeds, name) == continued, name
    assert any(r["valid_to_year"] == "2016" for r in _rows(seeds, "city_targets"))  # a one-year target stays so


def test_who_reports_is_the_membership_macro(small):
    """The generator's member mask (what the history and the 2024Q4 files hold) is the dbt macro members_on."""
    from core.membership import memberships_on

    reg = build_registry(SCALES["small"])
    for programme in ("characteristic", "pilot"):
        towns, member, _ = member_mask(reg, programme)
        for year, quarter in PERIODS:
            from core.periods import Period

            day = Period(year, quarter).end
            macro = {m.town_code for m in memberships_on(day, small / "seeds") if m.programme == programme}
            mask = {towns[i] for i in np.flatnonzero(member[:, period_index(year, quarter)])}
            assert mask == macro, (programme, year, quarter)


def test_values_obey_the_checks_of_the_pipeline():
    reg = build_registry(SCALES["province"])
    forms = build_values(reg)
    for fv in forms.values():
        codes = [c for c, _ in fv.indicators]
        v = fv.values.astype(float)
        assert (v >= 0).all()
        by_year = v.reshape(len(v), len(codes), -1, 4)
        for k, code in enumerate(codes):
            if code in ("fai", "fai_feature", "fai_private", "new_firms", "tax_revenue", "operating_revenue",
                        "tourist_visits", "talent_new", "gdp", "tertiary_va", "fiscal_revenue", "county_gdp"):
                assert (np.diff(by_year[:, k], axis=2) >= 0).all(), code  # YTD never decreases within a year
                ratio = v[:, k, 4:] / v[:, k, :-4]
                assert ((ratio > 0.5) & (ratio < 2.0)).all(), code  # growth inside -50%..+100%
        for child, parent in (("fai_feature", "fai"), ("fai_private", "fai"), ("tertiary_va", "gdp"),
                              ("builtup_pop", "resident_pop"), ("employed_sec_ter", "employed")):
            if child in codes:
                assert (v[:, codes.index(child)] <= v[:, codes.index(parent)]).all(), child
        for rate, base in (("gdp_growth", "gdp"), ("county_gdp_growth", "county_gdp")):
            if rate in codes:
                nominal = (v[:, codes.index(base), 4:] / v[:, codes.index(base), :-4] - 1) * 100
                assert (abs(nominal - v[:, codes.index(rate), 4:] / 10) <= 5).all(), rate


def test_the_2024q4_files_parse_as_expected_json_says(small):
    from ingest.parse import parse_report

    expected = _expected(small)
    variants = {e["variant"].split("+")[0] for e in expected}
    assert set(FIXED_ROLES) | {"former_member"} <= variants
    assert {e["format"] for e in expected} == {"xlsx", "xls", "csv", "csv_bom", "csv_gbk", "csv_tab"}
    assert sorted(expected, key=lambda e: (e["received_at"], e["file"])) == expected
    for e in expected:
        assert e["period"] == PERIOD.code
        report = parse_report(small / "inbox" / e["file"], seeds_dir=small / "seeds")
        codes = sorted({f.code for f in report.findings})
        assert report.status == e["expected_status"], (e["file"], codes)
        assert codes == sorted(set(e["expected_codes"]) - {"submission.late", "value.prior_mismatch"}), e["file"]
        if report.status == "accepted":
            assert report.county_code == e["county_code"] and str(report.period) == PERIOD.code
    refused = [e for e in expected if e["expected_status"] == "refused"]
    assert {c for e in refused for c in e["expected_codes"]} >= {"value.parent", "value.required", "file.unreadable",
                                                                  "meta.period", "row.town_not_member"}
    for bad in refused:  # every bad file is followed by a good report of the same county
        later = [e for e in expected if e["county_code"] == bad["county_code"] and e["received_at"] > bad["received_at"]]
        assert later and all(e["expected_status"] == "accepted" for e in later)
    assert any(e["file"].endswith("_更正.xlsx") for e in expected)


def test_parsed_values_are_the_generated_values(small):
    from ingest.parse import parse_report

    reg = build_registry(SCALES["small"])
    forms = build_values(reg)
    t = period_index(2024, 4)
    checked = 0
    for e in _expected(small):
        if e["expected_status"] != "accepted" or "yi_yuan" in e["variant"]:
            continue
        report = parse_report(small / "inbox" / e["file"], seeds_dir=small / "seeds")
        for v in report.values:
            fv = forms[v.form]
            entity = int(np.flatnonzero(fv.codes == (v.town_code or report.county_code))[0])
            assert float(v.value) == fv.value(entity, v.indicator, t), (e["file"], v)
            checked += 1
    assert checked > 1000


def test_history_lands_by_copy_and_a_2024q4_report_is_accepted_against_it(small, runtime_dirs, monkeypatch):
    from core.warehouse import connect, drop_database
    from ingest.audit import audit_submission
    from ingest.landing import submit
    from samplegen.bulk import load_history
    from tests.conftest import create_database

    monkeypatch.setenv("TWOTOWNS_SEEDS_DIR", str(small / "seeds"))
    url = create_database("test_samplegen_scale")
    try:
        counts = load_history(small, url)
        reg = build_registry(SCALES["small"])
        forms = build_values(reg)
        history = range(period_index(2024, 3) + 1)
        values = sum(int(fv.member[:, t].sum()) * len(fv.indicators) for fv in forms.values() for t in history)
        assert counts.loaded and counts.submissions == len(reg.counties) * len(history) and counts.values == values
        assert not load_history(small, url).loaded  # idempotent
        with connect(url, autocommit=True) as conn:
            assert conn.execute("select count(*) from raw.report_values").fetchone()[0] == values
            assert conn.execute("select count(*) from pg_constraint where contype = 'f' "  # put back after the COPY
                                "and conrelid = 'raw.report_values'::regclass").fetchone()[0] == 1
            assert conn.execute("select count(*) from landing.submissions where status = 'accepted' and version = 1 "
                                "and not late").fetchone()[0] == counts.submissions
            for e in _expected(small):
                # with the submission audit: the cross-period findings (a revised prior year) are its rules
                result = submit(small / "inbox" / e["file"], conn=conn, write_feedback=False, audit=audit_submission)
                assert result.status == e["expected_status"], e["file"]
                assert sorted({f.code for f in result.findings}) == sorted(set(e["expected_codes"])), e["file"]
            current = conn.execute("select count(distinct county_code) from landing.submissions "
                                   "where status = 'accepted' and year = 2024 and quarter = 4").fetchone()[0]
            assert current == len(reg.counties)
    finally:
        drop_database(url)


def test_the_cli_keeps_the_city_sample_and_writes_a_scaled_one(tmp_path, capsys):
    from samplegen.__main__ import main

    assert main(["--scale", "small", "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "seeds" / "towns.csv").is_file() and (tmp_path / "s" / EXPECTED_FILE).is_file()
    with pytest.raises(SystemExit):
        main(["--scale", "city", "--load-history", "--out", str(tmp_path / "c")])


def test_dbt_reads_a_seeds_folder_outside_the_project_through_a_mirror_inside_it(tmp_path, monkeypatch):
    """dbt writes a seed's run output at target/run/<project>/<seed path>: the path it gets is never absolute;
    the mirror follows the folder (changed and removed files) and the folder itself is never written."""
    from core.config import DBT_PROJECT_DIR
    from core.dbt import dbt_env, seed_path

    monkeypatch.delenv("TWOTOWNS_SEEDS_DIR", raising=False)
    assert seed_path() == "seeds"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "towns.csv").write_text("town_code\nA\n", encoding="utf-8")
    (seeds / "old.csv").write_text("x\n1\n", encoding="utf-8")
    monkeypatch.setenv("TWOTOWNS_SEEDS_DIR", str(seeds))
    relative = seed_path()
    assert not Path(relative).is_absolute() and relative.startswith(".seeds/")
    mirror = DBT_PROJECT_DIR / relative
    assert (mirror / "towns.csv").read_text(encoding="utf-8") == "town_code\nA\n"
    (seeds / "towns.csv").write_text("town_code\nB\n", encoding="utf-8")
    (seeds / "old.csv").unlink()
    assert seed_path() == relative and sorted(p.name for p in mirror.iterdir()) == ["towns.csv"]
    assert (mirror / "towns.csv").read_text(encoding="utf-8") == "town_code\nB\n"
    assert dbt_env("postgresql://u:p@localhost:5432/db")["TWOTOWNS_DBT_SEED_PATH"] == relative
