"""The parser against the sample reports and against defects injected into them by code."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from ingest.parse import parse_report
from samplegen import prior_truth, truth

BASE = "330402_2016Q3.xlsx"  # 南湖区: three characteristic towns and one pilot town in 2016Q3
LZ0, LZ1, LZ2 = "LZ-0 县域指标", "LZ-1 特色小镇", "LZ-2 试点镇"


def test_every_sample_report_gets_its_expected_answer(sample_dir, expected):
    for e in expected:
        report = parse_report(sample_dir / e["file"])
        codes = sorted({f.code for f in report.findings})
        assert report.status == e["expected_status"], (e["file"], report.findings)
        # lateness is decided at receipt, and a revised 上年同期 against the accepted history: not by the parser
        assert codes == sorted(set(e["expected_codes"]) - {"submission.late", "value.prior_mismatch"}), e["file"]
        assert report.county_code == e["county_code"] and str(report.period) == e["period"]


def test_accepted_values_equal_what_the_generator_wrote(sample_dir, expected):
    for e in expected:
        if e["expected_status"] != "accepted":
            continue
        report = parse_report(sample_dir / e["file"])
        year, quarter = int(e["period"][:4]), int(e["period"][-1])
        want = {k: Decimal(str(v)) for k, v in truth(e["county_code"], year, quarter).items() if v is not None}
        got = {(v.form, v.town_code, v.indicator): v.value for v in report.values}
        assert got == want, e["file"]
        want_prior = {k: Decimal(str(v)) for k, v in prior_truth(e["county_code"], year, quarter).items()}
        got_prior = {(v.form, v.town_code, v.indicator): v.value_prev_year for v in report.values
                     if v.value_prev_year is not None}
        assert got_prior == want_prior, e["file"]


def test_values_carry_sheet_and_cell(sample_dir):
    report = parse_report(sample_dir / BASE)
    fai = next(v for v in report.values if v.town_code == "CT-330402-01" and v.indicator == "fai")
    assert (fai.sheet, fai.cell) == (LZ1, "C4")
    gdp = next(v for v in report.values if v.form == "LZ-0" and v.indicator == "county_gdp")
    assert gdp.town_code is None and gdp.cell == "C4"


# ----------------------------------------------------------------------------- injected defects

def mutate(sample_dir: Path, tmp_path: Path, change, name: str = BASE) -> Path:
    wb = openpyxl.load_workbook(sample_dir / BASE)
    change(wb)
    out = tmp_path / name
    wb.save(out)
    return out


def codes_at(report, code):
    return [(f.sheet, f.cell) for f in report.findings if f.code == code]


def setter(sheet: str, cell: str, value):
    def change(wb):
        wb[sheet][cell] = value
    return change


@pytest.mark.parametrize(("sheet", "cell", "value", "code"), [
    (LZ1, "C4", "abc", "value.not_number"),
    (LZ1, "C4", "#DIV/0!", "value.not_number"),
    (LZ1, "C4", "-", "value.required"),
    (LZ1, "G4", -5, "value.negative"),
    (LZ1, "F4", 2.5, "value.not_integer"),
    (LZ1, "D4", 99999999, "value.parent"),
    (LZ2, "I4", 99999999, "value.parent"),
    (LZ1, "C7", 1, "value.total"),
    (LZ1, "A4", "CT-330421-01", "row.town_unknown"),
    (LZ1, "A4", "PT-330402101", "row.town_not_member"),
    (LZ1, "A5", "CT-330402-01", "row.duplicate"),
])
def test_each_value_and_row_error_names_its_cell(sample_dir, tmp_path, sheet, cell, value, code):
    report = parse_report(mutate(sample_dir, tmp_path, setter(sheet, cell, value)))
    assert report.status == "refused"
    assert (sheet, cell) in codes_at(report, code), report.findings
    assert report.to_dict()["values"] == []
    f = next(f for f in report.findings if f.code == code)
    assert f.message_zh and f.message_en and f.severity == "error"


def test_a_missing_member_row_is_an_error(sample_dir, tmp_path):
    def drop_row(wb):
        wb[LZ1].delete_rows(6)  # CT-330402-03
    report = parse_report(mutate(sample_dir, tmp_path, drop_row))
    assert [f.town_code for f in report.findings if f.code == "row.member_missing"] == ["CT-330402-03"]


def test_a_row_with_only_its_name_is_identified_with_a_warning(sample_dir, tmp_path):
    report = parse_report(mutate(sample_dir, tmp_path, setter(LZ1, "A5", None)))
    assert report.status == "accepted"
    assert [f.town_code for f in report.findings if f.code == "row.identity"] == ["CT-330402-02"]


def test_unknown_header_is_a_warning_and_missing_required_header_an_error(sample_dir, tmp_path):
    report = parse_report(mutate(sample_dir, tmp_path, setter(LZ1, "M3", "备注")))
    assert report.status == "accepted" and (LZ1, "M3") in codes_at(report, "header.unknown")
    report = parse_report(mutate(sample_dir, tmp_path, setter(LZ1, "G3", "税金（万元）")))
    assert report.status == "refused"
    assert any(f.indicator == "tax_revenue" for f in report.findings if f.code == "header.required")


def test_unaccepted_unit_is_an_error_at_the_header(sample_dir, tmp_path):
    report = parse_report(mutate(sample_dir, tmp_path, setter(LZ1, "C3", "固定资产投资（千元）")))
    assert (LZ1, "C3") in codes_at(report, "header.unit")


def test_units_in_a_unit_row_under_the_header(sample_dir, tmp_path):
    def unit_row(wb):
        ws = wb[LZ1]
        ws.insert_rows(4)
        for col in range(3, 13):
            header = ws.cell(3, col).value
            name, unit = header.rstrip("）").split("（")
            ws.cell(3, col).value = name
            ws.cell(4, col).value = "亿元" if unit == "万元" and col == 3 else unit
        ws.cell(4, 1).value = "单位"
        for r in range(5, 9):  # C: fai now in 亿元
            if ws.cell(r, 3).value is not None:
                ws.cell(r, 3).value = ws.cell(r, 3).value / 10000
    clean = parse_report(mutate(sample_dir, tmp_path, lambda wb: None, name="clean.xlsx"))
    report = parse_report(mutate(sample_dir, tmp_path, unit_row))
    assert report.status == "accepted", report.findings
    assert {(v.town_code, v.indicator): v.value for v in report.values} == pytest.approx(
        {(v.town_code, v.indicator): v.value for v in clean.values})


def _two_row_header(group_label: str, first_sub: str):
    """固定资产投资 and its two sub-items under one merged group cell; other headers merged vertically."""
    def change(wb):
        ws = wb[LZ1]
        ws.insert_rows(4)
        for col in range(1, 13):
            if col not in (3, 4, 5):
                ws.cell(4, col).value = None
                ws.merge_cells(start_row=3, end_row=4, start_column=col, end_column=col)
        ws.cell(4, 3).value = first_sub
        ws.cell(4, 4).value = "其中：特色产业投资"
        ws.cell(4, 5).value = "其中：民间投资"
        ws.cell(3, 3).value = group_label
        ws.cell(3, 4).value = ws.cell(3, 5).value = None
        ws.merge_cells("C3:E3")
    return change


@pytest.mark.parametrize(("group", "first"), [("固定资产投资（万元）", "小计"), ("投资情况（万元）", "固定资产投资")])
def test_two_row_header_with_a_merged_group_cell(sample_dir, tmp_path, group, first):
    clean = parse_report(sample_dir / BASE)
    report = parse_report(mutate(sample_dir, tmp_path, _two_row_header(group, first)))
    assert report.status == "accepted", report.findings
    assert {(v.town_code, v.indicator): v.value for v in report.values} == {
        (v.town_code, v.indicator): v.value for v in clean.values}
    fai = next(v for v in report.values if v.town_code == "CT-330402-01" and v.indicator == "fai")
    assert fai.cell == "C5"  # one row lower: the header has two rows


def test_missing_sheet_and_missing_form_sheet(sample_dir, tmp_path):
    report = parse_report(mutate(sample_dir, tmp_path, lambda wb: wb.remove(wb[LZ0])))
    assert [f.code for f in report.findings] == ["sheet.missing"]
    report = parse_report(mutate(sample_dir, tmp_path, lambda wb: wb.remove(wb[LZ2])))
    assert "sheet.missing" in {f.code for f in report.findings}


@pytest.mark.parametrize(("name", "code"), [("330421_2016Q3.xlsx", "meta.county"),
                                            ("330402_2016Q2.xlsx", "meta.period"),
                                            ("嘉善县2016年三季度两镇季报.xlsx", "meta.county")])
def test_file_name_must_agree_with_the_title_block(sample_dir, tmp_path, name, code):
    report = parse_report(mutate(sample_dir, tmp_path, lambda wb: None, name=name))
    assert [f.code for f in report.findings] == [code]


@pytest.mark.parametrize("text", ["填报单位：南湖区发改局", "填报单位：南湖", "填报单位：330402"])
def test_county_by_department_short_name_or_code(sample_dir, tmp_path, text):
    def change(wb):
        for ws in wb.worksheets[1:]:
            ws["C2"] = text
    report = parse_report(mutate(sample_dir, tmp_path, change, name="report.xlsx"))
    assert report.status == "accepted" and report.county_code == "330402"


@pytest.mark.parametrize(("text", "ok"), [("报告期：2016年第三季度", True), ("报告期：2016-Q3", True),
                                          ("报告期：2016年1-8月", False), ("报告期：2099年1-9月", False)])
def test_period_spellings_in_the_title_block(sample_dir, tmp_path, text, ok):
    def change(wb):
        for ws in wb.worksheets[1:]:
            ws.cell(2, ws.max_column).value = text
    report = parse_report(mutate(sample_dir, tmp_path, change, name="report.xlsx"))
    assert (report.status == "accepted") is ok
    if not ok:
        assert [f.code for f in report.findings] == ["meta.period"]


@pytest.mark.parametrize(("name", "data"), [("r.xlsx", b"not a workbook"), ("r.xls", b"PK\x03\x04zip"),
                                            ("r.pdf", b"%PDF-1.4"), ("r.xlsx", b"")])
def test_unreadable_files_are_refused_not_crashed(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    report = parse_report(path)
    assert [f.code for f in report.findings] == ["file.unreadable"]


def test_macro_workbook_is_refused(sample_dir, tmp_path):
    import zipfile

    path = tmp_path / "macro.xlsx"
    shutil.copy(sample_dir / BASE, path)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("xl/vbaProject.bin", b"\x00")
    assert [f.code for f in parse_report(path).findings] == ["file.unreadable"]


def test_county_missing_everywhere_is_an_error(sample_dir, tmp_path):
    def change(wb):
        for ws in wb.worksheets[1:]:
            ws["C2"] = None
    report = parse_report(mutate(sample_dir, tmp_path, change, name="report.xlsx"))
    assert [f.code for f in report.findings] == ["meta.county"]


def test_county_from_the_file_name_when_the_title_block_has_none(sample_dir, tmp_path):
    def change(wb):
        for ws in wb.worksheets[1:]:
            ws["C2"] = None
    report = parse_report(mutate(sample_dir, tmp_path, change, name="南湖区2016年三季度两镇季报.xlsx"))
    assert report.status == "accepted" and report.county_code == "330402"


def test_files_over_the_size_limit_are_refused_unread(tmp_path):
    path = tmp_path / "330402_2016Q3.xlsx"
    with open(path, "wb") as f:
        f.truncate(20 * 1024 * 1024 + 1)  # sparse: no 20 MB written
    report = parse_report(path)
    assert [f.code for f in report.findings] == ["file.unreadable"]
    assert "20 MB" in report.findings[0].message_en


def test_sheets_over_the_row_limit_are_refused(sample_dir, tmp_path):
    path = tmp_path / "330402_2016Q3_LZ-1.csv"
    lines = ["表号：LZ-1,,填报单位：南湖区,,报告期：2016年1-9月", "代码,名称,固定资产投资（万元）"]
    lines += [f"CT-330402-01,南湖基金小镇,{i}" for i in range(10_001)]
    path.write_text("\n".join(lines), encoding="utf-8")
    report = parse_report(path)
    assert [f.code for f in report.findings] == ["file.unreadable"]
    assert "10000" in report.findings[0].message_en


def test_an_encrypted_workbook_is_refused(tmp_path):
    path = tmp_path / "330402_2016Q3.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)  # encrypted OOXML is an OLE container
    report = parse_report(path)
    assert [f.code for f in report.findings] == ["file.unreadable"]
    assert "encrypted" in report.findings[0].message_en
