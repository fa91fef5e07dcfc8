"""Incremental builds give exactly what a full refresh gives (real PostgreSQL, real dbt).

The warehouse is built the way production builds it, one change at a time, and after
each incremental `dbt build` every mart and every incremental intermediate table is
compared row for row (EXCEPT ALL both ways) with a `--full-refresh` build of the same
data:

1. reports up to 2016Q2 (full build), then the rest of 2015-2016 (new quarters, the
   correction of a refused report): incremental build;
2. a corrected resend of 330402 2016Q2 whose value differs: a new version supersedes
   the current one (its quarter, the next quarter and the same quarter of 2017 are
   rebuilt, nothing else);
3. that newer version is forgotten (what `ops reprocess` does before it loads again):
   the older version is current again, which a watermark on submission ids would miss.

The incremental models record what they were built from (macros/incremental_partitions.sql);
the test also checks which partitions each step rebuilt.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import openpyxl
import pytest

from core.dbt import run_dbt

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RESENT = "330402_2016Q2.xlsx"
INCREMENTAL = ["int_report_values_current", "int_report_values_yoy", "int_report_values_quarterly",
               "fct_report_values_as_reported", "town_quarter_indicators"]


@pytest.fixture(scope="module")
def expected(expected_through_2016):
    """This module loads the reports of 2015-2016 only (tests/conftest.py: expected_through_2016)."""
    return expected_through_2016


def _build(args: list[str]) -> None:
    result = run_dbt(args, quiet=True)
    assert result.success, result.failures[:10]
    assert set(result.counts) <= {"success", "pass"}, result.counts


def _tables(conn) -> list[str]:
    """Every table the build makes in marts and intermediate (schema-qualified, quoted)."""
    rows = conn.execute(
        "select format('%I.%I', table_schema, table_name) from information_schema.tables "
        "where table_schema in ('marts_build', 'intermediate') and table_type = 'BASE TABLE' order by 1").fetchall()
    return [r[0] for r in rows]


def _rebuilt(conn, table: str) -> set[tuple]:
    return set(conn.execute(
        f'select county_code, year, quarter from incremental_state."{table}__rebuilt"').fetchall())  # constant


def _compare_with_full_refresh(conn) -> dict[str, int]:
    """Copy what the incremental build made, build with --full-refresh, compare both ways."""
    tables = _tables(conn)
    assert len(tables) >= 25, tables
    conn.execute("drop schema if exists incremental_copy cascade")
    conn.execute("create schema incremental_copy")
    for i, table in enumerate(tables):  # names come from the catalogue, not from input
        conn.execute(f"create table incremental_copy.t{i} as select * from {table}")
    _build(["run", "--full-refresh"])
    differences, sizes = {}, {}
    for i, table in enumerate(tables):
        only_incremental = conn.execute(
            f"select count(*) from (select * from incremental_copy.t{i} except all select * from {table}) d").fetchone()[0]
        only_full = conn.execute(
            f"select count(*) from (select * from {table} except all select * from incremental_copy.t{i}) d").fetchone()[0]
        sizes[table] = conn.execute(f"select count(*) from {table}").fetchone()[0]
        if only_incremental or only_full:
            differences[table] = (only_incremental, only_full)
    conn.execute("drop schema incremental_copy cascade")
    assert differences == {}, differences
    return sizes


@pytest.fixture(scope="module")
def steps(warehouse, sample_dir, expected, tmp_path_factory):
    from core.warehouse import connect
    from ingest.landing import forget_submission, submit

    first = [e for e in expected if e["period"] <= "2016Q2"]
    for e in first:
        assert submit(sample_dir / e["file"], write_feedback=False).status == e["expected_status"], e["file"]
    _build(["build"])
    out: dict = {}
    with connect(autocommit=True) as conn:
        # 1. the next two quarters of reports (and the correction of a refused one)
        for e in expected:
            if e not in first:
                assert submit(sample_dir / e["file"], write_feedback=False).status == e["expected_status"], e["file"]
        _build(["build"])
        out["step1_rebuilt"] = _rebuilt(conn, "marts_build__town_quarter_indicators")
        out["step1_sizes"] = _compare_with_full_refresh(conn)

        # 2. a corrected resend of 330402 2016Q2 with one town value changed
        original = next(e for e in expected if e["file"] == RESENT)
        sid, sheet, cell, value = conn.execute(
            "select v.submission_id, v.source_sheet, v.source_cell, v.value from raw.report_values v "
            "join intermediate.int_submissions_current c using (submission_id, form) "
            "where v.county_code = '330402' and v.year = 2016 and v.quarter = 2 and v.form = 'LZ-1' "
            "and v.indicator = 'fai' and v.town_code is not null order by v.town_code limit 1").fetchone()
        wb = openpyxl.load_workbook(sample_dir / RESENT)
        old_cell = wb[sheet][cell].value
        wb[sheet][cell].value = old_cell - 1  # one 万元 less, in the file's own unit
        folder = tmp_path_factory.mktemp("resend")
        wb.save(folder / RESENT)
        received = datetime.fromisoformat(original["received_at"]) + timedelta(days=5)
        result = submit(folder / RESENT, received_at=received, write_feedback=False)
        assert result.status == "accepted", result.findings
        out["corrected_sid"], out["original_sid"], out["old_value"] = result.submission_id, sid, value
        _build(["build"])
        out["step2_rebuilt"] = {t: _rebuilt(conn, f"{s}__{t}") for s, t in (
            ("intermediate", "int_report_values_current"), ("intermediate", "int_report_values_yoy"),
            ("intermediate", "int_report_values_quarterly"), ("marts_build", "fct_report_values_as_reported"),
            ("marts_build", "town_quarter_indicators"))}
        out["step2_value"] = conn.execute(
            "select t.value_ytd, t.source_file_sha256 from marts_build.town_quarter_indicators t "
            "join raw.report_values v on v.source_file_sha256 = t.source_file_sha256 "
            "and v.source_cell = t.source_cell and v.source_sheet = t.source_sheet "
            "where v.submission_id = %s and v.source_sheet = %s and v.source_cell = %s",
            (result.submission_id, sheet, cell)).fetchone()
        _compare_with_full_refresh(conn)

        # 3. forget the newer version: the older one is current again
        with conn.transaction():
            forget_submission(conn, result.submission_id)
        _build(["build"])
        out["step3_rebuilt"] = _rebuilt(conn, "marts_build__town_quarter_indicators")
        out["step3_current"] = conn.execute(
            "select distinct submission_id from intermediate.int_report_values_current "
            "where county_code = '330402' and year = 2016 and quarter = 2").fetchall()
        _compare_with_full_refresh(conn)
    return out


def test_new_quarters_build_incrementally_like_a_full_refresh(steps):
    assert steps["step1_sizes"]["marts_build.town_quarter_indicators"] > 1000
    quarters = {(y, q) for _, y, q in steps["step1_rebuilt"]}
    assert quarters >= {(2016, 3), (2016, 4)}, quarters
    assert (2015, 1) not in quarters  # nothing of 2015 changed


def test_a_superseding_version_rebuilds_its_quarter_and_the_quarters_that_read_it(steps):
    rebuilt = steps["step2_rebuilt"]
    own = {("330402", 2016, 2)}
    assert rebuilt["int_report_values_current"] == own
    assert rebuilt["fct_report_values_as_reported"] == own
    assert rebuilt["int_report_values_yoy"] == own | {("330402", 2017, 2)}
    assert rebuilt["int_report_values_quarterly"] == own | {("330402", 2016, 3)}
    assert rebuilt["town_quarter_indicators"] == own | {("330402", 2017, 2), ("330402", 2016, 3)}
    value, _ = steps["step2_value"]
    assert value < steps["old_value"]  # the corrected value is published


def test_forgetting_the_newer_version_makes_the_older_current_again(steps):
    assert steps["step3_current"] == [(steps["original_sid"],)]
    assert steps["step3_rebuilt"] == {("330402", 2016, 2), ("330402", 2017, 2), ("330402", 2016, 3)}
