"""The submission audit: one GX checkpoint on a pending report's rows with the accepted history.

Each defect class is injected into a pending copy of an accepted sample report
(what ingest leaves for the audit); the checkpoint must fail on exactly the
expected expectations, with the expected severities, and turn them into the
contract's findings with sheet, cell, town and indicator. Clean data passes.
"""

from __future__ import annotations

import json
import shutil

import pytest

from expectations import sampledata
from expectations.submission import audit_submission, report_path, run_submission_audit
from samplegen import truth

pytestmark = pytest.mark.integration

HELD_BACK = "330483_2016Q4.xlsx"  # submitted through ingest with the audit, in a test below
A, B, C, D, E, F = ("330402", 2016, 3), ("330402", 2016, 2), ("330402", 2016, 4), ("330402", 2015, 4), \
    ("330402", 2016, 1), ("330402", 2015, 1)
CT1 = "town_code = 'CT-330402-01'"
# the sample's operating revenue of CT-330402-01 in 2016Q2 and 2016Q3, and the GDP growth PT-330402101 reports in 2016Q3
OPREV_Q2 = truth(*B)[("LZ-1", "CT-330402-01", "operating_revenue")]
OPREV_Q3 = truth(*A)[("LZ-1", "CT-330402-01", "operating_revenue")]
GDP_GROWTH = truth(*A)[("LZ-2", "PT-330402101", "gdp_growth")]


@pytest.fixture(scope="module")
def expected(expected_through_2016):
    """This module loads the reports of 2015-2016 only (tests/conftest.py: expected_through_2016)."""
    return expected_through_2016


@pytest.fixture(scope="module")
def loaded(warehouse, sample_dir, expected):
    from ingest.landing import submit

    for e in expected:
        if e["file"] != HELD_BACK:
            assert submit(sample_dir / e["file"], write_feedback=False).status == e["expected_status"]
    return warehouse


def _failed(outcome) -> dict[str, str]:
    return {e.check: e.severity for s in outcome.suites for e in s.expectations if e.failed}


# The cross-row and cross-period rules (the cell and structure rules are the parser's: tests/test_parse*.py).
# (base report, SQL injected into its pending copy (%(sid)s = the copy), failed checks -> severity,
#  first finding: (code, severity, sheet, cell, town_code, indicator) and a text its Chinese message holds)
CASES = {
    "clean copy": (A, [], {}, None, None),
    "YTD below the accepted previous quarter": (
        A, [f"update raw.report_values set value = {OPREV_Q2 - 0.1:.1f} where submission_id = %(sid)s and {CT1} "
            "and indicator = 'operating_revenue'"],
        {"ytd_previous_quarter": "critical"},
        ("value.ytd_decrease", "error", "LZ-1 特色小镇", "H4", "CT-330402-01", "operating_revenue"), str(OPREV_Q2)),
    "correction above the accepted next quarter": (
        B, [f"update raw.report_values set value = {OPREV_Q3 + 0.1:.1f} where submission_id = %(sid)s and {CT1} "
            "and indicator = 'operating_revenue'"],
        {"ytd_next_quarter": "critical"},
        ("value.ytd_decrease", "error", "LZ-1 特色小镇", "H4", "CT-330402-01", "operating_revenue"), "2016Q3"),
    "computed growth outlier": (
        C, [f"update raw.report_values set value = value * 2.5 where submission_id = %(sid)s and {CT1} "
            "and indicator = 'tax_revenue'"],
        {"growth_outlier_computed": "warning"},
        ("value.growth_outlier", "warning", "LZ-1 特色小镇", "G4", "CT-330402-01", "tax_revenue"), "172%"),
    "reported growth outlier": (
        F, ["update raw.report_values set value = 150 where submission_id = %(sid)s and indicator = 'gdp_growth' "
            "and town_code = 'PT-330402101'"],
        {"growth_outlier_reported": "warning"},
        ("value.growth_outlier", "warning", "LZ-2 试点镇", "D4", "PT-330402101", "gdp_growth"), "150%"),
    "reported vs computed growth": (
        A, ["update raw.report_values set value = value + 6 where submission_id = %(sid)s and indicator = 'gdp_growth' "
            "and town_code = 'PT-330402101'"],
        {"growth_mismatch": "warning"},
        ("value.growth_mismatch", "warning", "LZ-2 试点镇", "D4", "PT-330402101", "gdp_growth"),
        f"{GDP_GROWTH + 6:.1f}%"),
    "implausible value (unit slip)": (
        D, [f"update raw.report_values set value = 20000000 where submission_id = %(sid)s and {CT1} "
            "and indicator = 'fai'"],
        {"range": "warning"},
        ("value.range", "warning", "LZ-1 特色小镇", "C4", "CT-330402-01", "fai"), "10000000"),
    "town in two forms (current value not unique)": (
        A, ["insert into raw.report_values (submission_id, county_code, year, quarter, form, town_code, indicator, "
            "value, source_file_sha256, source_sheet, source_cell) select submission_id, county_code, year, quarter, "
            "'LZ-2', town_code, indicator, value, source_file_sha256, 'LZ-2 试点镇', 'G9' from raw.report_values "
            f"where submission_id = %(sid)s and {CT1} and indicator = 'fai'"],
        {"current_unique": "critical"},
        None, None),
    "last year's figure revised": (
        A, [f"update raw.report_values set value_prev_year = 1, prev_year_source_cell = 'J4' "
            f"where submission_id = %(sid)s and {CT1} and indicator = 'operating_revenue'"],
        {"prior_mismatch": "warning"},
        ("value.prior_mismatch", "warning", "LZ-1 特色小镇", "J4", "CT-330402-01", "operating_revenue"), "容差 1%"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_defect_fails_the_right_expectation_with_the_right_severity(loaded, conn, case):
    base, statements, failed, first, text = CASES[case]
    sid = sampledata.pending_copy(conn, sampledata.submission_of(conn, *base))
    try:
        for statement in statements:
            conn.execute(statement, {"sid": sid})
        outcome, findings = run_submission_audit(conn, sid, docs=False)  # docs: see the tests below
    finally:
        sampledata.discard(conn, sid)
    assert _failed(outcome) == failed
    assert outcome.success == ("critical" not in failed.values())
    severity = {"critical": "error", "warning": "warning"}
    assert {(f.code, f.severity) for f in findings} == {
        (next(e.finding_code for s in outcome.suites for e in s.expectations if e.check == c), severity[v])
        for c, v in failed.items()}
    if first:
        hit = next(f for f in findings if f.code == first[0])
        assert (hit.code, hit.severity, hit.sheet, hit.cell, hit.town_code, hit.indicator) == first
        assert text in hit.message_zh and hit.message_en
    assert json.loads(report_path(sid).read_text(encoding="utf-8"))["success"] == outcome.success


def test_the_prepared_checkpoint_is_reused_and_repeat_audits_agree(loaded, conn):
    """One checkpoint run per submission, the prepared checkpoint reused; speed is a benchmark number
    (python -m expectations.bench), not a timed assertion that fails on a busy machine."""
    sid = sampledata.pending_copy(conn, sampledata.submission_of(conn, *A))
    try:
        assert audit_submission(conn, sid) == []
        assert audit_submission(conn, sid) == []
    finally:
        sampledata.discard(conn, sid)


def test_submit_with_the_audit_accepts_a_clean_report(loaded, conn, sample_dir):
    from ingest.landing import submit

    result = submit(sample_dir / HELD_BACK, audit=audit_submission)
    assert result.status == "accepted" and result.version == 1
    assert [f.code for f in result.findings if f.severity == "error"] == []
    report = json.loads(report_path(result.submission_id).read_text(encoding="utf-8"))
    assert report["success"] and report["rows_validated"] == result.rows_loaded > 0
    assert report["docs_url"].startswith("file://")


def test_submit_with_the_audit_refuses_a_correction_that_breaks_the_next_quarter(loaded, conn, sample_dir, tmp_path):
    """A 2016Q2 correction above the accepted 2016Q3 YTD: the file-level checks cannot see it, the audit can.
    The report is refused with the finding in the county's feedback, and nothing of it becomes current."""
    import openpyxl

    from ingest.landing import submit

    path = tmp_path / "330402_2016Q2_更正.xlsx"
    shutil.copy(sample_dir / "330402_2016Q2.xlsx", path)
    book = openpyxl.load_workbook(path)
    sheet = next(ws for ws in book.worksheets if "特色小镇" in ws.title)
    above = round(OPREV_Q3 + 1000)  # operating revenue of CT-330402-01 above the accepted 2016Q3 (OPREV_Q3)
    delta = above - sheet["H4"].value
    sheet["H4"] = above
    total = next(r for r in range(5, sheet.max_row + 1) if str(sheet.cell(r, 2).value or "").strip() in ("合计", "总计"))
    sheet.cell(total, 8).value = sheet.cell(total, 8).value + delta  # keep the 合计 row right
    book.save(path)
    current = conn.execute("select count(*) from raw.report_values").fetchone()[0]

    result = submit(path, audit=audit_submission)

    assert result.status == "refused" and result.rows_loaded == 0
    errors = [f for f in result.findings if f.severity == "error"]
    assert [(f.code, f.sheet, f.cell, f.town_code, f.indicator) for f in errors] == [
        ("value.ytd_decrease", sheet.title, "H4", "CT-330402-01", "operating_revenue")]
    assert "2016Q3" in errors[0].message_zh and str(OPREV_Q3) in errors[0].message_zh
    feedback = json.loads(result.feedback_paths[0].read_text(encoding="utf-8"))
    assert "value.ytd_decrease" in json.dumps(feedback, ensure_ascii=False)
    assert conn.execute("select count(*) from raw.report_values").fetchone()[0] == current
    assert conn.execute("select status from landing.submissions where submission_id = %s",
                        (result.submission_id,)).fetchone()[0] == "refused"
    assert result.quarantine_path is not None and result.quarantine_path.exists()


def test_a_check_that_cannot_run_is_an_internal_error_not_a_finding(loaded, conn, broken_submission_suite):
    from expectations.runner import AuditError

    sid = sampledata.pending_copy(conn, sampledata.submission_of(conn, *A))
    try:
        with pytest.raises(AuditError, match="broken on purpose"):
            audit_submission(conn, sid)
    finally:
        sampledata.discard(conn, sid)


def test_new_findings_drops_what_the_file_checks_already_reported():
    from expectations.submission import new_findings
    from ingest.findings import finding

    known = finding("value.growth_outlier", sheet="S", cell="C4", town_code="T", indicator="fai", growth=120, name="x")
    again = finding("value.growth_outlier", sheet="S", cell="C4", town_code="T", indicator="fai", growth=120, name="x")
    other = finding("value.ytd_decrease", sheet="S", cell="C4", town_code="T", indicator="fai", value=1, previous=2)
    assert new_findings([known], [again, other]) == [other]
