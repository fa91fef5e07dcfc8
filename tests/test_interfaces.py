"""The stable command-line interfaces of shared/architecture.md, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

FINDING_KEYS = {"severity", "code", "sheet", "cell", "town_code", "indicator", "message_zh", "message_en"}


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_check_json_of_an_accepted_report(sample_dir, tmp_path):
    env = {"TWOTOWNS_VAR_DIR": str(tmp_path / "var")}
    proc = run("ingest", "check", str(sample_dir / "330402_2016Q3.xlsx"), "--json", "--no-history", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"status", "county_code", "period", "findings", "values"}
    assert (doc["status"], doc["county_code"], doc["period"]) == ("accepted", "330402", "2016Q3")
    assert all(set(f) == FINDING_KEYS for f in doc["findings"])
    assert [f["code"] for f in doc["findings"]] == ["check.history_skipped"]
    assert doc["values"] and all(set(v) == {"form", "town_code", "indicator", "value", "value_prev_year"}
                                 for v in doc["values"])
    fai = next(v for v in doc["values"] if v["town_code"] == "CT-330402-01" and v["indicator"] == "fai")
    assert fai["form"] == "LZ-1" and isinstance(fai["value"], float)
    assert all(v["value_prev_year"] is None for v in doc["values"])  # 南湖区 writes no 上年同期 columns
    assert not (tmp_path / "var").exists()  # check writes nothing


def test_check_json_values_carry_the_reported_prior_year_value(sample_dir):
    from samplegen import prior_truth

    proc = run("ingest", "check", str(sample_dir / "330481_2016Q3.xlsx"), "--json", "--no-history")
    assert proc.returncode == 0, proc.stderr
    values = json.loads(proc.stdout)["values"]
    got = {(v["form"], v["town_code"], v["indicator"]): v["value_prev_year"] for v in values
           if v["value_prev_year"] is not None}
    assert got == pytest.approx(prior_truth("330481", 2016, 3))
    assert isinstance(got[("LZ-1", "CT-330481-01", "fai")], float)


def test_check_json_of_a_refused_report_names_cells(sample_dir):
    proc = run("ingest", "check", str(sample_dir / "330424_2016Q3.xlsx"), "--json", "--no-history")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["status"] == "refused" and doc["values"] == []
    assert {(f["code"], f["sheet"], f["cell"]) for f in doc["findings"] if f["severity"] == "error"} == {
        ("value.parent", "LZ-1 特色小镇", "D5"), ("value.required", "LZ-2 试点镇", "F5")}


@pytest.mark.parametrize("args", [("ingest",), ("ingest", "check"), ("ingest", "check", "/no/such/file.xlsx"),
                                  ("ingest", "frobnicate", "x")])
def test_usage_errors_exit_2(args):
    assert run(*args).returncode == 2


def test_check_human_output_lists_findings(sample_dir):
    proc = run("ingest", "check", str(sample_dir / "330424_2016Q3.xlsx"), "--no-history")
    assert proc.returncode == 1
    assert "value.parent" in proc.stdout and "D5" in proc.stdout


@pytest.mark.integration
def test_submit_and_list(warehouse, sample_dir):
    proc = run("ingest", "submit", str(sample_dir / "330402_2015Q2.xlsx"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "accepted"
    listing = json.loads(run("ingest", "list", "--county", "330402", "--json").stdout)
    assert [(r["year"], r["quarter"], r["status"], r["version"]) for r in listing] == [(2015, 2, "accepted", 1)]
    # with the warehouse, check runs the cross-period checks (no "skipped" note)
    proc = run("ingest", "check", str(sample_dir / "330402_2015Q3.xlsx"), "--json")
    assert "check.history_skipped" not in {f["code"] for f in json.loads(proc.stdout)["findings"]}
