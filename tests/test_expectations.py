"""Great Expectations suites: loaded whole, run in PostgreSQL, critical failures block."""

from __future__ import annotations

import json

import pytest

from expectations.runner import SuiteError, build_suite, load_suite_specs, run_stage

pytestmark = pytest.mark.integration


def test_every_suite_loads_whole():
    from expectations.runner import _gx

    gx = _gx()
    specs = load_suite_specs()
    assert {s["meta"]["stage"] for s in specs} == {"raw", "warehouse"}
    for spec in specs:
        assert len(build_suite(gx, spec).expectations) == len(spec["expectations"]) > 0


def test_a_malformed_expectation_is_not_silently_dropped():
    from expectations.runner import _gx

    spec = {"name": "broken", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}, "meta": {"severity": "critical"}},
        {"type": "expect_column_values_to_be_purple", "kwargs": {"column": "x"}, "meta": {"severity": "critical"}},
    ]}
    with pytest.raises(Exception) as err:
        build_suite(_gx(), spec)
    assert isinstance(err.value, SuiteError) or "purple" in str(err.value)


def test_every_expectation_declares_a_severity(tmp_path, monkeypatch):
    from expectations import runner

    (tmp_path / "s.json").write_text(json.dumps({"name": "s", "meta": {"stage": "raw", "table": "raw.t"},
                                                 "expectations": [{"type": "expect_column_to_exist",
                                                                   "kwargs": {"column": "a"}}]}))
    monkeypatch.setattr(runner, "SUITES_DIR", tmp_path)
    with pytest.raises(SuiteError):
        load_suite_specs()


def test_raw_audit_passes_on_clean_data_and_blocks_an_unknown_indicator(warehouse, conn, sample_dir):
    from ingest.landing import submit

    assert submit(sample_dir / "330402_2016Q3.xlsx").status == "accepted"
    clean = run_stage("raw")
    assert clean.success, clean.failures()
    conn.execute("update raw.report_values set indicator = 'bogus' "
                 "where ctid = (select ctid from raw.report_values limit 1)")
    dirty = run_stage("raw")
    assert not dirty.success
    failed = [(e.type, e.column, e.severity, e.unexpected_count)
              for s in dirty.suites for e in s.expectations if not e.success]
    assert failed == [("expect_column_values_to_be_in_set", "indicator", "critical", 1)]
