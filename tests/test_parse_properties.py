"""Property-based tests: whatever a county sends, the parser answers with findings and never crashes."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.findings import CATALOGUE
from ingest.parse import parse_report
from ingest.values import parse_value

BASE = "330402_2016Q3.xlsx"
# HYPOTHESIS_EXAMPLES=1000 for a longer search than CI's
SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

printable = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
cell_values = st.one_of(
    st.none(), st.integers(min_value=-10**12, max_value=10**12), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=64), printable,
    st.sampled_from(["#REF!", "#DIV/0!", "1,234.5", "１２３．４", "-", "—", "/", "无", "12%", " 7 ", "合计",
                     "注：", "CT-330402-01", "PT-330402101", "=SUM(A1:A3)", "1e400", "0x10", "--5"]),
)


def _answer_is_well_formed(report) -> None:
    assert report.status in ("accepted", "refused")
    for f in report.findings:
        assert f.code in CATALOGUE and f.severity in ("error", "warning", "info")
        assert f.message_zh and f.message_en
    doc = report.to_dict()
    if report.status == "refused":
        assert doc["values"] == []
        assert any(f.severity == "error" for f in report.findings)


_BASE: list[bytes] = []


@pytest.fixture(autouse=True)
def _base(sample_dir):
    if not _BASE:
        _BASE.append((sample_dir / BASE).read_bytes())


def base_bytes() -> bytes:
    """The clean sample workbook (not a fixture argument, so failures do not print its bytes)."""
    return _BASE[0]


@SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(["LZ-0 县域指标", "LZ-1 特色小镇", "LZ-2 试点镇"]),
                                st.integers(1, 12), st.integers(1, 14), cell_values), min_size=1, max_size=8))
def test_random_cell_values_anywhere_never_crash_the_parser(edits):
    from openpyxl.cell.cell import MergedCell

    wb = openpyxl.load_workbook(io.BytesIO(base_bytes()))
    for sheet, row, col, value in edits:
        cell = wb[sheet].cell(row, col)
        if not isinstance(cell, MergedCell):  # the title's merged range cannot be written into
            cell.value = value
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / BASE
        wb.save(path)
        _answer_is_well_formed(parse_report(path))


@SETTINGS
@given(ops=st.lists(st.tuples(st.sampled_from(["delete_rows", "delete_cols", "insert_rows", "insert_cols",
                                               "remove_sheet", "rename_sheet"]),
                              st.integers(0, 3), st.integers(1, 12)), min_size=1, max_size=5))
def test_random_structural_changes_never_crash_the_parser(ops):
    wb = openpyxl.load_workbook(io.BytesIO(base_bytes()))
    for op, sheet_no, index in ops:
        sheets = wb.worksheets
        if not sheets:
            break
        ws = sheets[sheet_no % len(sheets)]
        if op == "remove_sheet":
            if len(sheets) > 1:
                wb.remove(ws)
        elif op == "rename_sheet":
            ws.title = f"Sheet{index}"
        else:
            getattr(ws, op)(index)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / BASE
        wb.save(path)
        _answer_is_well_formed(parse_report(path))


@SETTINGS
@given(cut=st.integers(0, 10_000), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=5),
       suffix=st.sampled_from([".xlsx", ".xls", ".csv", ".txt", ""]))
@example(cut=9773, flips=[(387514, 0)], suffix=".xlsx")  # a corrupt deflate stream (zlib.error) in the archive
def test_mangled_bytes_never_crash_the_parser(cut, flips, suffix):
    data = bytearray(base_bytes()[:cut])
    for pos, byte in flips:
        if data:
            data[pos % len(data)] = byte
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"330402_2016Q3{suffix}"
        path.write_bytes(bytes(data))
        report = parse_report(path)
        _answer_is_well_formed(report)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(printable, st.floats(), st.integers(), st.booleans(), st.none()),
       fmt=st.sampled_from(["General", "0.0%", "0.00", '0.0"%"', "@"]), rate=st.booleans())
def test_parse_value_always_answers(raw, fmt, rate):
    parsed = parse_value(raw, fmt, rate=rate)
    assert (parsed.value is None) or (parsed.error is None)


GROUP = "330482_2016Q1.xlsx"  # 本期 | 上年同期 under merged group cells: a two-row header


@SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(["LZ-1 特色小镇", "LZ-2 试点镇"]), st.integers(2, 8),
                                st.integers(1, 16), cell_values), min_size=1, max_size=8))
def test_random_edits_of_a_two_row_header_with_prior_columns_never_crash(sample_dir, edits):
    from openpyxl.cell.cell import MergedCell

    wb = openpyxl.load_workbook(sample_dir / GROUP)
    for sheet, row, col, value in edits:
        cell = wb[sheet].cell(row, col)
        if not isinstance(cell, MergedCell):
            cell.value = value
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / GROUP
        wb.save(path)
        _answer_is_well_formed(parse_report(path))
