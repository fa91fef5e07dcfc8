"""Great Expectations: suites loaded whole and checked, custom expectations, the raw stage, CLI and gate.

Defect classes per checkpoint: test_expectations_submission.py (submission audit),
test_expectations_warehouse.py and test_expectations_assessment.py (warehouse
audit), test_expectations_publication.py (publication audit).
"""

from __future__ import annotations

import json

import pytest

from expectations.runner import SuiteError, build_suite, load_suite_specs, run_stage

STAGE_SUITES = {
    "submission": {"submission_report_values"},
    "raw": {"raw_report_values", "submission_report_values"},
    "warehouse": {"marts_town_quarter_indicators", "marts_investment_progress", "marts_towns", "marts_submissions",
                  "marts_pilot_targets", "marts_assessment_components", "marts_town_annual_assessment",
                  "marts_programme_kpis"},
    "publication": {"publication_files", "publication_csv"},
}

# What the issue asks each checkpoint to cover, by the expectations' names (meta.check).
COVERAGE = {
    "raw_report_values": {"columns", "type.value", "not_null.value", "in_set.indicator", "catalogue_form_indicator",
                          "values_belong_to_submissions"},
    # the cross-row and cross-period rules only: the cell and structure rules are the parser's (ingest/parse.py)
    "submission_report_values": {"range", "ytd_previous_quarter", "ytd_next_quarter", "growth_outlier_computed",
                                 "growth_outlier_reported", "growth_mismatch", "current_unique", "prior_mismatch"},
    "marts_town_quarter_indicators": {"columns", "ytd_non_decreasing", "member_reported", "reconcile_raw",
                                      "growth_mismatch", "between.growth_pct"},
    "marts_investment_progress": {"between.fai_ytd", "ratio", "status_band", "early_warning"},
    "marts_submissions": {"completeness", "timeliness", "late", "versions"},  # deadline: a dbt test (the seed's)
    "marts_town_annual_assessment": {"between.score", "grade", "rank_order", "pending", "comparable", "yellow_card",
                                     "remove", "eliminate", "downgrade_risk", "excellent_candidate", "decided",
                                     "score_sum"},
    "marts_assessment_components": {"points_range", "points_formula"},
    "marts_programme_kpis": {"between.value", "met"},
    "publication_files": {"equal.sha256_manifest_sha256", "equal.manifest_rows_marts_rows",
                          "equal.file_rows_marts_rows", "in_set.present"},
    "publication_csv": {"no_formulas"},
}


@pytest.fixture(scope="module")
def expected(expected_through_2016):
    """This module loads the reports of 2015-2016 only (tests/conftest.py: expected_through_2016)."""
    return expected_through_2016


def _checks(spec: dict) -> set[str]:
    return {e["meta"]["check"] for e in spec["expectations"]}


def _gx():
    from expectations.runner import _gx

    return _gx()


# --------------------------------------------------------------------------- suites, loaded and checked whole

def test_every_suite_loads_whole_in_every_mode():
    gx = _gx()
    specs = load_suite_specs()
    assert {s["name"] for s in specs} == set().union(*STAGE_SUITES.values())
    for spec in specs:
        partitions = "(select county_code, year, quarter from quality.p)" if spec["meta"].get("audit_by_partition") \
            else None  # the relation of the partitions a suite audited by partition reads (runner.audited_partitions)
        for whole in (False, True):
            assert len(build_suite(gx, spec, whole=whole, partitions=partitions).expectations) \
                == len(spec["expectations"]) > 0


@pytest.mark.parametrize("stage", sorted(STAGE_SUITES))
def test_each_stage_runs_its_suites(stage):
    assert {s["name"] for s in load_suite_specs(stage)} == STAGE_SUITES[stage]


def test_the_suites_cover_what_the_issue_lists_with_severities():
    specs = {s["name"]: s for s in load_suite_specs()}
    for name, checks in COVERAGE.items():
        assert checks <= _checks(specs[name]), (name, checks - _checks(specs[name]))
    severities = {e["severity"] for s in specs.values() for e in s["expectations"]}
    assert severities == {"critical", "warning", "info"}


def _leaves(obj):
    if isinstance(obj, dict):
        if set(obj) in ({"$policy"}, {"$seeds"}):
            return
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, list):
        yield obj
        for v in obj:
            yield from _leaves(v)
    else:
        yield obj


def test_no_suite_repeats_a_seed_list_or_a_policy_number():
    """The suites name registry lists ({"$seeds": ...}) and policy numbers ({"$policy": ...}); they never copy
    them, so a seed edit reaches every check (and the parameters resolve to what the seeds say)."""
    from core import seeds
    from expectations.fragments import SEED_LISTS, resolve_params

    lists = {name: sorted(resolve_params({"$seeds": name})) for name in SEED_LISTS}
    # the outlier bounds (0 and 100 are also the bounds of scores and weights: not policy there)
    policy = {float(r["value"]) for r in seeds.rows("policy_parameters.csv")
              if r["parameter"].startswith(("growth_", "share_change_"))} - {0.0, 100.0}
    for stage in ("raw", "submission", "warehouse"):
        for spec in load_suite_specs(stage):
            for e in spec["expectations"]:
                for leaf in _leaves(e["kwargs"]):
                    where = (spec["name"], e["meta"]["check"])
                    if isinstance(leaf, list) and leaf and all(isinstance(x, str) for x in leaf):
                        assert sorted(leaf) not in lists.values(), where
                    if isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
                        assert float(leaf) not in policy, where
    assert resolve_params({"$policy": "growth_outlier_min_pct"}) == -50
    assert resolve_params({"$seeds": "indicators.rates"}) == ["county_gdp_growth", "gdp_growth"]


def test_a_malformed_expectation_is_not_silently_dropped():
    spec = {"name": "broken", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}, "severity": "critical"},
        {"type": "expect_column_values_to_be_purple", "kwargs": {"column": "x"}, "severity": "critical"},
    ]}
    with pytest.raises(Exception) as err:
        build_suite(_gx(), spec)
    assert isinstance(err.value, SuiteError) or "purple" in str(err.value)


def _write_suite(tmp_path, monkeypatch, expectation: dict, stage: str = "warehouse", **meta) -> None:
    from expectations import runner

    exp = {"severity": "critical", "meta": {"check": "c"}, **expectation}
    spec = {"name": "s", "meta": {"stage": stage, "table": "marts.t", **meta}, "expectations": [exp]}
    (tmp_path / "s.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setattr(runner, "SUITES_DIR", tmp_path)


QUERY_OK = "select * from {batch} where x < 0"


@pytest.mark.parametrize(("expectation", "stage", "problem"), [
    ({"type": "expect_column_to_exist", "kwargs": {"column": "a"}, "severity": None}, "warehouse", "severity"),
    ({"type": "expect_column_to_exist", "kwargs": {"column": "a"}, "meta": {}}, "warehouse", "meta.check"),
    ({"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": "select * from @@nope@@ as n "
                                                        "join {batch} as b on true"}}, "warehouse", "fragments"),
    ({"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": "select * from {batch} as b"}},
     "warehouse", "no JOIN"),
    ({"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": "select * from {batch} "
                                                        "join marts.x as x on true"}}, "warehouse", "alias"),
    ({"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": "select * from {batch} where a = :x"}},
     "warehouse", "bind parameter"),
    ({"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": "select * from {batch} as b "
                                                        "join @@audit_partitions@@ as p on p.year = b.year"}},
     "warehouse", "audit_by_partition"),
    ({"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": QUERY_OK}}, "submission",
     "finding_code"),
    ({"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": QUERY_OK}, "severity": "warning",
      "meta": {"check": "c", "finding_code": "value.parent"}}, "submission", "reporting contract"),
    ({"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": QUERY_OK},
      "meta": {"check": "c", "finding_code": "value.brand_new"}}, "submission", "message_zh"),
])
def test_the_loader_refuses_what_would_run_wrong(tmp_path, monkeypatch, expectation, stage, problem):
    _write_suite(tmp_path, monkeypatch, expectation, stage=stage)
    with pytest.raises(SuiteError, match=problem):
        load_suite_specs()


def test_fragment_literals_are_escaped_for_sql_gx_and_sqlalchemy():
    from expectations.fragments import expand, literal, registry_version

    assert literal("O'Brien {x}: y") == "'O''Brien {{x}}\\: y'"
    assert literal(None) == "null" and literal(True) == "true"
    query = expand("select * from {batch} as b join @@towns@@ as t on t.town_code = b.town_code "
                   "where b.indicator in @@flow_indicators@@")
    assert "{batch}" in query and "@@" not in query and "'gdp'" in query
    # the registry is read from its snapshot in the warehouse, of the seeds' version (a hash: hex digits only)
    version = registry_version()
    assert f"quality.registry_towns where registry_version = '{version}'" in query
    assert set(version) <= set("0123456789abcdef")


# --------------------------------------------------------------------------- custom expectations

def _pandas_validate(df, expectation):
    gx = _gx()
    from expectations.runner import new_context

    context = new_context(gx, None)
    batch = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")
    return batch.get_batch(batch_parameters={"dataframe": df}).validate(expectation,
                                                                        result_format={"result_format": "COMPLETE"})


def test_whole_numbers_expectation_flags_fractional_counts():
    import pandas as pd

    from expectations.custom import ExpectColumnValuesToBeWholeNumbers

    df = pd.DataFrame({"n": [1, 2.0, 3.5, None, 7]})
    result = _pandas_validate(df, ExpectColumnValuesToBeWholeNumbers(column="n"))
    assert not result.success and result.result["unexpected_list"] == [3.5]
    assert _pandas_validate(pd.DataFrame({"n": [0, 12, None]}), ExpectColumnValuesToBeWholeNumbers(column="n")).success


def test_formula_expectation_flags_unescaped_formulas_and_passes_numbers_and_escaped_text():
    import pandas as pd

    from expectations.custom import ExpectTableCellsToNotLookLikeFormulas, looks_like_formula

    assert [looks_like_formula(t) for t in ("=1+1", "+86", "-x", "@SUM(A1)", "\tx", "-3.2", "-12", "'=1+1", "a=b")] == [
        True, True, True, True, True, False, False, False, False]
    df = pd.DataFrame({"name": ["'=HYPERLINK(1)", "=HYPERLINK(1)", "ok"], "growth": ["-3.2", "-1e-05", "4"]})
    result = _pandas_validate(df, ExpectTableCellsToNotLookLikeFormulas())
    assert not result.success
    assert result.result["details"]["cells"] == [{"line": 3, "column": "name", "text": "=HYPERLINK(1)"}]
    assert _pandas_validate(df.iloc[[0, 2]], ExpectTableCellsToNotLookLikeFormulas()).success


# --------------------------------------------------------------------------- the raw stage, CLI and gate (PostgreSQL)

@pytest.fixture(scope="module")
def loaded(warehouse, sample_dir, expected):
    """The whole sample, loaded as the county_reports DAG would (without the GX audit)."""
    from ingest.landing import submit

    statuses = {e["file"]: submit(sample_dir / e["file"], write_feedback=False).status for e in expected}
    assert statuses == {e["file"]: e["expected_status"] for e in expected}
    return warehouse


# the sample's one deliberate revision of a prior-year figure (+8%, samplegen/plan.py): a warning of every raw run
SAMPLE_REVISION = {"submission_report_values.prior_mismatch": "warning"}


def _failed(outcome) -> dict[str, str]:
    return {f"{s.name}.{e.check}": e.severity for s in outcome.suites for e in s.expectations if e.failed}


@pytest.mark.integration
def test_warehouse_suites_whose_tables_do_not_exist_yet_are_skipped_with_a_note(loaded):
    outcome = run_stage("warehouse", docs=False)
    assert outcome.success and all(s.skipped for s in outcome.suites)
    assert len(outcome.notes) == len(STAGE_SUITES["warehouse"])
    assert "marts_build.town_annual_assessment does not exist" in " ".join(outcome.notes)  # the build audited


@pytest.mark.integration
def test_raw_stage_passes_on_the_clean_sample_with_every_submission_check_on_all_current_values(loaded, conn):
    outcome = run_stage("raw")
    assert outcome.success and _failed(outcome) == SAMPLE_REVISION, (
        outcome.failures() + outcome.failures("warning"))
    rows = conn.execute("select count(*) from raw.report_values").fetchone()[0]
    by_suite = {s.name: s.rows for s in outcome.suites}
    assert by_suite["raw_report_values"] == rows and 0 < by_suite["submission_report_values"] <= rows
    assert outcome.docs_url.endswith("data_docs/raw/index.html")
    assert all(s.docs_url and s.docs_url.endswith(".html") for s in outcome.suites)


@pytest.mark.integration
def test_raw_audit_blocks_an_indicator_outside_the_catalogue(loaded, conn):
    (ctid,) = conn.execute("select ctid from raw.report_values where indicator = 'talent_new' limit 1").fetchone()
    conn.execute("update raw.report_values set indicator = 'bogus' where ctid = %s", (ctid,))
    try:
        dirty = run_stage("raw", docs=False)
    finally:
        conn.execute("update raw.report_values set indicator = 'talent_new' where indicator = 'bogus'")
    assert not dirty.success
    assert _failed(dirty) == {"raw_report_values.in_set.indicator": "critical",
                              "raw_report_values.catalogue_form_indicator": "critical", **SAMPLE_REVISION}


@pytest.mark.integration
def test_raw_stage_sees_a_ytd_decrease_in_the_accepted_history(loaded, conn):
    """Cross-period checks run on all current values before dbt build, not only per submission."""
    from expectations.sampledata import submission_of

    q2, q3 = submission_of(conn, "330421", 2016, 2), submission_of(conn, "330421", 2016, 3)
    key = "form = 'LZ-2' and indicator = 'fiscal_revenue' and town_code = 'PT-330421111'"
    (before,) = conn.execute(f"select value from raw.report_values where submission_id = %s and {key}", (q3,)).fetchone()
    conn.execute(f"update raw.report_values set value = (select value - 1 from raw.report_values "
                 f"where submission_id = %s and {key}) where submission_id = %s and {key}", (q2, q3))
    try:
        dirty = run_stage("raw", docs=False)
    finally:
        conn.execute(f"update raw.report_values set value = %s where submission_id = %s and {key}", (before, q3))
    assert not dirty.success
    assert _failed(dirty) == {"submission_report_values.ytd_previous_quarter": "critical",
                              "submission_report_values.ytd_next_quarter": "critical", **SAMPLE_REVISION}
    ytd = next(e for s in dirty.suites for e in s.expectations if e.check == "ytd_previous_quarter")
    assert ytd.unexpected_count == 1 and ytd.sample == []  # SUMMARY on whole-data runs: counts, no row dumps


@pytest.mark.integration
def test_cli_json_reports_each_suite_and_expectation(loaded, capsys):
    from expectations.runner import main

    assert main(["run", "--stage", "raw", "--json", "--no-docs"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["success"] is True and doc["stage"] == "raw"
    suite = next(s for s in doc["suites"] if s["name"] == "raw_report_values")
    exp = next(e for e in suite["expectations"] if e["check"] == "not_null.value")
    assert {"type", "column", "success", "unexpected_count", "severity"} <= set(exp)
    assert (exp["type"], exp["column"], exp["success"], exp["unexpected_count"]) == (
        "expect_column_values_to_not_be_null", "value", True, 0)


@pytest.mark.integration
def test_gate_keeps_a_report_linking_the_data_docs_and_blocks_on_critical_failures(loaded, conn):
    from expectations.gate import QualityGateFailed, report_path, run_gate

    doc = run_gate("raw")
    assert doc["success"] and doc["critical_failures"] == [] and doc["rows_validated"] > 0
    report = json.loads(report_path("raw").read_text(encoding="utf-8"))
    assert report["docs_url"] == doc["docs_url"] and report["docs_url"].startswith("file://")
    ctid, cell = conn.execute("select ctid, source_cell from raw.report_values limit 1").fetchone()
    conn.execute("update raw.report_values set source_cell = 'nowhere' where ctid = %s", (ctid,))
    try:  # a row changed after a passed gate: only the full re-check reads it again (test_expectations_scale.py)
        with pytest.raises(QualityGateFailed, match=r"regex\.source_cell.*Data Docs: file://"):
            run_gate("raw", full=True)
    finally:
        conn.execute("update raw.report_values set source_cell = %s where source_cell = 'nowhere'", (cell,))
    assert json.loads(report_path("raw").read_text(encoding="utf-8"))["success"] is False


def test_the_entry_points_do_not_import_gx_until_they_run():
    """Ingest and the DAG files import these at parse time: GX (seconds to import) must wait for a run."""
    import subprocess
    import sys

    code = ("import sys, expectations.gate, expectations.submission, expectations.publication, expectations.runner; "
            "print('great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_a_bare_verdict_of_a_query_check_counts_the_rows_without_fetching_them():
    """expectations/custom.py: GX's unexpected_rows_expectation ran its query twice (a count, then the rows)
    even for BOOLEAN_ONLY, which never reports the rows (45 s each at nation scale for the reconciliation)."""
    _gx()
    from great_expectations.expectations.registry import get_expectation_impl

    from expectations.custom import ROWS_METRIC, UnexpectedRowsExpectation

    assert get_expectation_impl("unexpected_rows_expectation") is UnexpectedRowsExpectation
    check = UnexpectedRowsExpectation(unexpected_rows_query="select * from {batch} where x < 0")
    bare = check.get_validation_dependencies(runtime_configuration={"result_format": "BOOLEAN_ONLY"})
    detail = check.get_validation_dependencies(runtime_configuration={"result_format": "SUMMARY"})
    assert set(bare.metric_configurations) == {"unexpected_rows_query.row_count"}
    assert set(detail.metric_configurations) == {"unexpected_rows_query.row_count", ROWS_METRIC}
    assert check._validate({"unexpected_rows_query.row_count": 0}) == {"success": True}
    assert check._validate({"unexpected_rows_query.row_count": 2}) == {"success": False}
