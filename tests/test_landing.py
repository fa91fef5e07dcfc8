"""Submitting files to the warehouse: landing, versions, duplicates, quarantine, atomicity (real PostgreSQL)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest

from core import config
from ingest import landing
from ingest.audit import audit_submission  # the cross-row and cross-period rules are the audit's
from ingest.landing import submit

pytestmark = pytest.mark.integration

CLEAN = "330402_2016Q2.xlsx"
REFUSED, CORRECTED = "330424_2016Q3.xlsx", "330424_2016Q3_更正.xlsx"


@pytest.fixture(scope="module")
def expected(expected_through_2016):
    """This module loads the reports of 2015-2016 only (tests/conftest.py: expected_through_2016)."""
    return expected_through_2016


def _count(conn, sql, *params):
    return conn.execute(sql, params).fetchone()[0]


def test_accepted_report_is_archived_landed_and_loaded_with_lineage(warehouse, conn, sample_dir):
    result = submit(sample_dir / CLEAN)
    assert result.status == "accepted" and result.version == 1
    assert result.rows_loaded == _count(conn, "select count(*) from raw.report_values where submission_id = %s",
                                        result.submission_id) > 0
    archived = config.archive_dir() / result.file_sha256[:2] / f"{result.file_sha256}.xlsx"
    assert archived.read_bytes() == (sample_dir / CLEAN).read_bytes()
    row = conn.execute("select source_file_sha256, source_sheet, source_cell, value from raw.report_values "
                       "where submission_id = %s and town_code = 'CT-330402-01' and indicator = 'fai'",
                       (result.submission_id,)).fetchone()
    assert row[0] == result.file_sha256 and row[1] == "LZ-1 特色小镇" and row[2] == "C4"
    received = conn.execute("select received_at from landing.submissions where submission_id = %s",
                            (result.submission_id,)).fetchone()[0]
    assert received == datetime.fromtimestamp(os.stat(sample_dir / CLEAN).st_mtime, UTC)
    feedback = json.loads(result.feedback_paths[0].read_text(encoding="utf-8"))
    assert feedback["status_zh"] == "已接收" and feedback["county_code"] == "330402"
    assert "已接收" in result.feedback_paths[1].read_text(encoding="utf-8")


def test_byte_identical_resubmission_is_a_no_op(warehouse, conn, sample_dir):
    before = (_count(conn, "select count(*) from landing.submissions"),
              _count(conn, "select count(*) from raw.report_values"))
    result = submit(sample_dir / CLEAN)
    assert result.status == "duplicate"
    assert [f.code for f in result.findings] == ["submission.duplicate"]
    assert (_count(conn, "select count(*) from landing.submissions"),
            _count(conn, "select count(*) from raw.report_values")) == before


def test_refused_report_is_quarantined_and_nothing_of_it_loaded(warehouse, conn, sample_dir):
    result = submit(sample_dir / REFUSED)
    assert result.status == "refused" and result.version is None
    assert _count(conn, "select count(*) from raw.report_values where submission_id = %s", result.submission_id) == 0
    assert result.quarantine_path.read_bytes() == (sample_dir / REFUSED).read_bytes()
    codes = {r[0] for r in conn.execute("select code from landing.findings where submission_id = %s",
                                        (result.submission_id,))}
    assert codes == {"value.parent", "value.required"}
    cells = {r[0] for r in conn.execute("select cell from landing.findings where submission_id = %s",
                                        (result.submission_id,))}
    assert None not in cells
    assert "退回" in result.feedback_paths[1].read_text(encoding="utf-8")


def test_corrected_report_becomes_the_current_version(warehouse, conn, sample_dir):
    result = submit(sample_dir / CORRECTED)
    assert result.status == "accepted" and result.version == 1  # the refused one has no version
    # a second correction of the same period (different bytes) becomes version 2
    wb = openpyxl.load_workbook(sample_dir / CORRECTED)
    wb["LZ-0 县域指标"]["A7"] = "填报人：王芳"
    second = sample_dir.parent / "330424_2016Q3_更正2.xlsx"
    wb.save(second)
    result2 = submit(second)
    assert result2.status == "accepted" and result2.version == 2
    versions = conn.execute("select version from landing.submissions where county_code = '330424' "
                            "and year = 2016 and quarter = 3 and status = 'accepted' order by version").fetchall()
    assert [v[0] for v in versions] == [1, 2]


def test_versions_follow_receipt_time_not_processing_order(warehouse, conn, sample_dir, tmp_path):
    early = tmp_path / "330482_2016Q1.xlsx"
    late = tmp_path / "330482_2016Q1_更正.xlsx"
    wb = openpyxl.load_workbook(sample_dir / "330482_2016Q1.xlsx")
    wb.save(early)
    wb["LZ-0 县域指标"]["A7"] = "填报人：更正"
    wb.save(late)
    later = submit(late, received_at=datetime(2016, 4, 15, 9, tzinfo=UTC))  # processed first
    earlier = submit(early, received_at=datetime(2016, 4, 10, 9, tzinfo=UTC))
    assert later.version == 1 and earlier.version == 1  # each was version 1 when it was processed...
    versions = dict(conn.execute("select file_sha256, version from landing.submissions where county_code = '330482' "
                                 "and year = 2016 and quarter = 1").fetchall())
    assert versions == {earlier.file_sha256: 1, later.file_sha256: 2}  # ...now they follow receipt time


def test_late_report_is_accepted_and_marked_late(warehouse, conn, sample_dir, expected):
    late = next(e for e in expected if e["expected_codes"] == ["submission.late"])
    result = submit(sample_dir / late["file"])
    assert result.status == "accepted"
    assert "submission.late" in {f.code for f in result.findings}
    assert _count(conn, "select late from landing.submissions where submission_id = %s", result.submission_id)


def test_ytd_decrease_against_the_accepted_previous_quarter_refuses(warehouse, conn, sample_dir, tmp_path):
    q2 = submit(sample_dir / "330411_2016Q2.xlsx")
    assert q2.status == "accepted"
    wb = openpyxl.load_workbook(sample_dir / "330411_2016Q3.xlsx")
    ws = wb["LZ-1 特色小镇"]
    ws["C4"] = 1.0  # fai YTD far below the accepted Q2 value
    ws["D4"] = 0.5
    ws["E4"] = 0.4
    total_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 2).value == "合计")
    for col in (3, 4, 5):
        ws.cell(total_row, col).value = None  # no total to disagree: only the YTD check speaks
    path = tmp_path / "330411_2016Q3.xlsx"
    wb.save(path)
    result = submit(path, audit=audit_submission)
    assert result.status == "refused"
    assert ("LZ-1 特色小镇", "C4") in [(f.sheet, f.cell) for f in result.findings if f.code == "value.ytd_decrease"]


def test_a_failure_midway_leaves_no_partial_submission(warehouse, conn, sample_dir, monkeypatch):
    before = (_count(conn, "select count(*) from landing.submissions"),
              _count(conn, "select count(*) from raw.report_values"))
    real_copy = landing._copy_values

    def copy_then_die(c, sid, sha, report):
        real_copy(c, sid, sha, report)  # every value is written...
        raise KeyboardInterrupt("killed")  # ...and the process dies before the commit

    monkeypatch.setattr(landing, "_copy_values", copy_then_die)
    with pytest.raises(KeyboardInterrupt):
        submit(sample_dir / "330402_2016Q4.xlsx")
    assert (_count(conn, "select count(*) from landing.submissions"),
            _count(conn, "select count(*) from raw.report_values")) == before
    monkeypatch.setattr(landing, "_copy_values", real_copy)
    assert submit(sample_dir / "330402_2016Q4.xlsx").status == "accepted"


def _accepted_state(conn):
    return conn.execute(
        "select count(*), coalesce(sum(n), 0) from landing.submissions s "
        "left join lateral (select count(*) as n from raw.report_values v where v.submission_id = s.submission_id) v "
        "on true where s.status = 'accepted'").fetchone()


def test_a_death_after_loading_leaves_only_a_pending_submission_which_a_resend_replaces(
        warehouse, conn, sample_dir):
    before = _accepted_state(conn)

    def audit_then_die(c, sid):
        raise KeyboardInterrupt("killed during the audit")

    with pytest.raises(KeyboardInterrupt):
        submit(sample_dir / "330421_2016Q4.xlsx", audit=audit_then_die)
    assert _accepted_state(conn) == before  # nothing became current
    assert _count(conn, "select count(*) from landing.submissions where status = 'pending'") == 1
    result = submit(sample_dir / "330421_2016Q4.xlsx")
    assert result.status == "accepted"
    assert _count(conn, "select count(*) from landing.submissions where status = 'pending'") == 0
    assert _accepted_state(conn)[0] == before[0] + 1


def test_an_audit_error_refuses_the_loaded_submission_and_removes_its_values(warehouse, conn, sample_dir):
    from ingest.findings import finding

    def audit(c, sid):
        n = c.execute("select count(*) from raw.report_values where submission_id = %s", (sid,)).fetchone()[0]
        assert n > 0  # the audit sees the loaded rows
        return [finding("value.growth_outlier", sheet="LZ-1 特色小镇", cell="C4", growth=250, name="固定资产投资"),
                finding("value.ytd_decrease", sheet="LZ-1 特色小镇", cell="C5", value=1, previous=2,
                        name="固定资产投资")]

    result = submit(sample_dir / "330483_2016Q4.xlsx", audit=audit)
    assert result.status == "refused" and result.rows_loaded == 0
    assert _count(conn, "select count(*) from raw.report_values where submission_id = %s", result.submission_id) == 0
    assert _count(conn, "select errors from landing.submissions where submission_id = %s", result.submission_id) == 1
    assert result.quarantine_path.exists()


_KILLABLE_SUBMIT = r"""
import sys, time
from pathlib import Path
from ingest import landing

phase = sys.argv[2]
real_copy = landing._copy_values

def copy_then_wait(conn, sid, sha, report):
    n = real_copy(conn, sid, sha, report)
    if phase == "copy":
        print("COPIED", flush=True)
        time.sleep(60)  # inside the open transaction: killed here
    return n

def audit_wait(conn, sid):
    print("AUDITING", flush=True)
    time.sleep(60)  # loaded as pending, deciding: killed here
    return []

landing._copy_values = copy_then_wait
landing.submit(Path(sys.argv[1]), audit=audit_wait if phase == "audit" else None)
"""


@pytest.mark.parametrize(("phase", "marker"), [("copy", "COPIED"), ("audit", "AUDITING")])
def test_sigkill_midway_never_makes_a_partial_submission_visible(warehouse, conn, sample_dir, tmp_path, phase,
                                                                 marker):
    import signal
    import subprocess
    import sys

    import openpyxl

    wb = openpyxl.load_workbook(sample_dir / "330481_2016Q4.xlsx")
    wb["LZ-0 县域指标"]["A7"] = f"填报人：{phase}"  # distinct bytes per case
    path = tmp_path / "330481_2016Q4.xlsx"
    wb.save(path)
    before = _accepted_state(conn)
    proc = subprocess.Popen([sys.executable, "-c", _KILLABLE_SUBMIT, str(path), phase], stdout=subprocess.PIPE,
                            text=True, env={**os.environ})
    try:
        assert proc.stdout.readline().strip() == marker
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert _accepted_state(conn) == before
    pending = _count(conn, "select count(*) from landing.submissions where status = 'pending'")
    assert pending == (1 if phase == "audit" else 0)
    assert submit(path).status == "accepted"  # the county's resend (or a retry) goes through
    assert _count(conn, "select count(*) from landing.submissions where status = 'pending'") == 0


def test_growth_outlier_and_growth_mismatch_against_last_year_are_warnings(warehouse, conn, sample_dir, tmp_path):
    assert submit(sample_dir / "330483_2015Q2.xlsx").status == "accepted"
    wb = openpyxl.load_workbook(sample_dir / "330483_2016Q2.xlsx")
    ws = wb["LZ-2 试点镇"]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "PT-330483107")  # 崇福镇
    headers = {ws.cell(3, c).value.split("（")[0]: c for c in range(1, ws.max_column + 1) if ws.cell(3, c).value}
    ws.cell(row, headers["地区生产总值增速"]).value = 40.0  # reported growth far from the values' growth
    fiscal = headers["财政总收入"]
    ws.cell(row, fiscal).value = ws.cell(row, fiscal).value * 3  # +200% on last year
    total = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 2).value == "合计")
    ws.cell(total, fiscal).value = None
    path = tmp_path / "330483_2016Q2.xlsx"
    wb.save(path)
    result = submit(path, audit=audit_submission)
    assert result.status == "accepted"
    warned = {(f.code, f.indicator, f.town_code) for f in result.findings if f.severity == "warning"}
    assert ("value.growth_outlier", "fiscal_revenue", "PT-330483107") in warned
    assert ("value.growth_mismatch", "gdp_growth", "PT-330483107") in warned


# ----------------------------------------------------------------------------- 上年同期 (same period last year)

REVISED = "330481_2016Q3.xlsx"  # 海宁市 writes 上年同期 columns; CT-330481-01's fai one revises 2015Q3 by +8%


def _prior_mismatches(findings):
    return [(f.sheet, f.cell, f.town_code, f.indicator, f.severity) for f in findings
            if f.code == "value.prior_mismatch"]


def test_prior_year_values_are_loaded_with_their_cells_and_a_revision_is_a_warning(warehouse, conn, sample_dir,
                                                                                     expected):
    assert submit(sample_dir / "330481_2015Q3.xlsx").status == "accepted"
    assert next(e for e in expected if e["file"] == REVISED)["expected_codes"] == ["value.prior_mismatch"]
    result = submit(sample_dir / REVISED, audit=audit_submission)
    assert result.status == "accepted"
    assert _prior_mismatches(result.findings) == [("LZ-1 特色小镇", "D4", "CT-330481-01", "fai", "warning")]
    f = next(f for f in result.findings if f.code == "value.prior_mismatch")
    accepted = conn.execute("select value from raw.report_values v join landing.submissions s using (submission_id) "
                            "where s.county_code = '330481' and s.year = 2015 and s.quarter = 3 "
                            "and v.town_code = 'CT-330481-01' and v.indicator = 'fai'").fetchone()[0]
    assert str(accepted) in f.message_zh and "修订" in f.message_zh and "revision" in f.message_en
    row = conn.execute("select value, value_prev_year, source_sheet, source_cell, prev_year_source_cell "
                       "from raw.report_values where submission_id = %s and town_code = 'CT-330481-01' "
                       "and indicator = 'fai'", (result.submission_id,)).fetchone()
    assert row[1] == pytest.approx(accepted * Decimal("1.08"), abs=Decimal("0.1"))
    assert row[2:] == ("LZ-1 特色小镇", "C4", "D4")
    lz2 = conn.execute("select source_cell, prev_year_source_cell from raw.report_values where submission_id = %s "
                       "and town_code = 'PT-330481101' and indicator = 'fiscal_revenue'",
                       (result.submission_id,)).fetchone()
    assert lz2 == ("F4", "G4")
    # indicators without a 上年同期 column: null
    assert _count(conn, "select count(*) from raw.report_values where submission_id = %s and indicator = 'employees' "
                        "and value_prev_year is null and prev_year_source_cell is null", result.submission_id) == 2


@pytest.mark.parametrize(("ratio", "warned"), [(Decimal("1.009"), False), (Decimal("0.991"), False),
                                               (Decimal("1.011"), True), (Decimal("0.985"), True)])
def test_prior_mismatch_over_the_seed_tolerance_only(warehouse, conn, sample_dir, tmp_path, ratio, warned):
    accepted = conn.execute("select value from raw.report_values v join landing.submissions s using (submission_id) "
                            "where s.county_code = '330481' and s.year = 2015 and s.quarter = 3 and s.status = "
                            "'accepted' and v.town_code = 'CT-330481-01' and v.indicator = 'fai'").fetchone()[0]
    wb = openpyxl.load_workbook(sample_dir / REVISED)
    ws = wb["LZ-1 特色小镇"]
    reported = float(round(accepted * ratio, 1))
    ws["D6"] = round(ws["D6"].value - ws["D4"].value + reported, 1)  # the 合计 row stays right
    ws["D4"] = reported
    path = tmp_path / f"330481_2016Q3_{ratio}.xlsx"
    wb.save(path)
    result = submit(path, audit=audit_submission)
    assert result.status == "accepted"
    assert _prior_mismatches(result.findings) == ([("LZ-1 特色小镇", "D4", "CT-330481-01", "fai", "warning")]
                                                  if warned else [])


def test_the_prior_mismatch_tolerance_is_read_from_the_policy_seed(warehouse, conn, sample_dir, tmp_path, monkeypatch):
    """The revision check is the submission suite's (prior_mismatch) and reads its tolerance from the seed: the
    audit's preview of the same report with the tolerance raised to 10% finds no revision of +8%."""
    import shutil

    from ingest.audit import preview_findings
    from ingest.parse import parse_report

    report = parse_report(sample_dir / REVISED)
    assert len(_prior_mismatches(preview_findings(conn, report))) == 1
    seeds = tmp_path / "seeds"
    shutil.copytree(config.SEEDS_DIR, seeds)
    text = (seeds / "policy_parameters.csv").read_text(encoding="utf-8")
    (seeds / "policy_parameters.csv").write_text(
        text.replace("prior_mismatch_tolerance,0.01,", "prior_mismatch_tolerance,0.10,"), encoding="utf-8")
    monkeypatch.setenv("TWOTOWNS_SEEDS_DIR", str(seeds))
    assert _prior_mismatches(preview_findings(conn, report)) == []  # +8% is within 10%
