"""The optional same-period-last-year (上年同期) columns (reporting-spec §3): layouts, units, value rules."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from ingest.parse import parse_report
from samplegen import prior_truth, truth

BASE = "330402_2016Q3.xlsx"  # 南湖区 2016Q3: no 上年同期 columns of its own
LZ1 = "LZ-1 特色小镇"
TOWN_ROWS = (4, 5, 6)  # CT-330402-01..03; row 7 is 合计
PRIOR_FAI = (120000.5, 60000, 50000.25)
# the sample's 2016Q3 FAI of CT-330402-01 (C4/C5 of the base file), in 万元 and as whole 万元 (4 decimals of 亿元)
FAI = Decimal(str(truth("330402", 2016, 3)[("LZ-1", "CT-330402-01", "fai")]))
FAI_03 = Decimal(str(truth("330402", 2016, 3)[("LZ-1", "CT-330402-03", "fai")]))
FAI_WHOLE = Decimal(str(round(float(FAI) / 10000, 4))) * 10000  # as the test below writes it in 亿元


def mutate(sample_dir: Path, tmp_path: Path, change, name: str = BASE) -> Path:
    wb = openpyxl.load_workbook(sample_dir / name)
    change(wb[LZ1])
    out = tmp_path / name
    wb.save(out)
    return out


def insert_column(after: int, header: str, values, total=None):
    """A column right after column `after` of LZ-1: its header in row 3, town values, the 合计 (sum by default)."""
    def change(ws):
        col = after + 1
        ws.insert_cols(col)
        ws.cell(3, col).value = header
        for r, v in zip(TOWN_ROWS, values, strict=True):
            ws.cell(r, col).value = v
        numbers = [v for v in values if isinstance(v, (int, float))]
        ws.cell(7, col).value = total if total is not None else round(sum(numbers), 4)
    return change


def prior_of(report, town: str = "CT-330402-01", indicator: str = "fai"):
    v = next(v for v in report.values if v.town_code == town and v.indicator == indicator)
    return v.value_prev_year, v.prev_year_cell, v.value, v.cell


@pytest.mark.parametrize("header", ["固定资产投资上年同期（万元）", "上年同期固定资产投资（万元）",
                                    "完成固定资产投资 去年同期\n(万元)", "固定资产投资（上年同期）（万元）",
                                    "上年同期数固定资产投资", "固定资产投资（万元）上年同期"])
def test_a_named_prior_column_is_the_prior_value_of_its_indicator(sample_dir, tmp_path, header):
    report = parse_report(mutate(sample_dir, tmp_path, insert_column(3, header, PRIOR_FAI)))
    assert report.status == "accepted", report.findings
    assert report.findings == []
    assert prior_of(report) == (Decimal("120000.5"), "D4", FAI, "C4")
    assert prior_of(report, "CT-330402-03") == (Decimal("50000.25"), "D6", FAI_03, "C6")
    # never a current value, never a value of its own
    assert len(report.values) == len(parse_report(sample_dir / BASE).values)
    assert all(v.value_prev_year is None for v in report.values if v.indicator != "fai")


def _group(sub_labels: tuple[str, str], group: str = "固定资产投资（万元）"):
    """固定资产投资 as a group cell over two sub-columns (本期 | 上年同期); the other headers merged vertically."""
    def change(ws):
        insert_column(3, None, PRIOR_FAI)(ws)
        ws.insert_rows(4)
        for col in range(1, ws.max_column + 1):
            if col not in (3, 4):
                ws.merge_cells(start_row=3, end_row=4, start_column=col, end_column=col)
        ws.cell(3, 3).value = group
        ws.cell(4, 3).value, ws.cell(4, 4).value = sub_labels
        ws.merge_cells("C3:D3")
    return change


@pytest.mark.parametrize("subs", [("本期", "上年同期"), ("本期数", "上年同期数"), ("本期", "去年同期"),
                                  ("本期", "上年同期（万元）")])
def test_a_prior_sub_column_under_the_indicators_group(sample_dir, tmp_path, subs):
    report = parse_report(mutate(sample_dir, tmp_path, _group(subs)))
    assert report.status == "accepted", report.findings
    assert report.findings == []
    assert prior_of(report) == (Decimal("120000.5"), "D5", FAI, "C5")


def test_a_prior_sub_column_takes_the_groups_unit(sample_dir, tmp_path):
    def change(ws):
        _group(("本期", "上年同期"), "固定资产投资（亿元）")(ws)
        for r in (5, 6, 7, 8):
            ws.cell(r, 3).value = round(ws.cell(r, 3).value / 10000, 4)  # FAI_WHOLE in C5
        for r, v in zip((5, 6, 7, 8), (12.0001, 6, 5, 23.0001), strict=True):
            ws.cell(r, 4).value = v
    report = parse_report(mutate(sample_dir, tmp_path, change))
    assert report.status == "accepted", report.findings
    assert prior_of(report) == (Decimal("120001"), "D5", FAI_WHOLE, "C5")


def test_a_named_prior_column_in_yi_yuan_converts_to_wan_yuan(sample_dir, tmp_path):
    report = parse_report(mutate(sample_dir, tmp_path,
                                 insert_column(3, "固定资产投资上年同期（亿元）", (12.3456, 6, 5.0001))))
    assert report.status == "accepted", report.findings
    assert prior_of(report)[:2] == (Decimal("123456"), "D4")
    assert prior_of(report)[2] == FAI  # the current column stays in 万元


def test_the_sample_yi_yuan_report_carries_its_prior_values_in_yi_yuan(sample_dir, expected):
    e = next(e for e in expected if e["county_code"] == "330482" and e["period"] == "2016Q2")
    wb = openpyxl.load_workbook(sample_dir / e["file"])
    assert wb[LZ1]["C3"].value == "固定资产投资（亿元）" and wb[LZ1]["D4"].value == "上年同期"
    yi = wb[LZ1]["D5"].value
    report = parse_report(sample_dir / e["file"])
    assert report.status == "accepted"
    got = {(v.form, v.town_code, v.indicator): v.value_prev_year for v in report.values if v.value_prev_year}
    assert got == {k: Decimal(str(v)) for k, v in prior_truth("330482", 2016, 2).items()}
    fai = next(v for v in report.values if v.form == "LZ-1" and v.indicator == "fai" and v.prev_year_cell == "D5")
    assert fai.value_prev_year == Decimal(str(yi)) * 10000


@pytest.mark.parametrize(("header", "value", "code"), [
    ("固定资产投资上年同期（万元）", "abc", "value.not_number"),
    ("固定资产投资上年同期（万元）", "#REF!", "value.not_number"),
    ("固定资产投资上年同期（万元）", -5, "value.negative"),
    ("新入驻企业上年同期（家）", 2.5, "value.not_integer"),
])
def test_the_value_rules_apply_to_prior_values(sample_dir, tmp_path, header, value, code):
    report = parse_report(mutate(sample_dir, tmp_path, insert_column(3, header, (value, 1, 2), total="")))
    assert report.status == "refused"
    f = next(f for f in report.findings if f.code == code)
    assert (f.sheet, f.cell, f.town_code, f.severity) == (LZ1, "D4", "CT-330402-01", "error")
    assert "上年同期" in f.message_zh


def test_a_prior_value_is_never_required(sample_dir, tmp_path):
    report = parse_report(mutate(sample_dir, tmp_path, insert_column(3, "固定资产投资上年同期（万元）",
                                                                     ("-", None, 50000))))
    assert report.status == "accepted", report.findings
    assert prior_of(report)[:2] == (None, None)
    assert prior_of(report, "CT-330402-03")[:2] == (Decimal("50000"), "D6")


def test_a_prior_value_without_a_current_value_is_not_kept(sample_dir, tmp_path):
    def change(ws):
        insert_column(10, "旅游接待人次上年同期（万人次）", (70, 80, 90))(ws)  # after 旅游接待人次 (J), optional
        ws["J4"] = "-"
        ws["J7"] = None
    report = parse_report(mutate(sample_dir, tmp_path, change))
    assert report.status == "accepted", report.findings
    visits = [v for v in report.values if v.indicator == "tourist_visits"]
    assert {v.town_code for v in visits} == {"CT-330402-02", "CT-330402-03"}
    assert {v.value_prev_year for v in visits} == {Decimal(80), Decimal(90)}


def test_prior_columns_have_their_own_total_and_parent_checks(sample_dir, tmp_path):
    report = parse_report(mutate(sample_dir, tmp_path,
                                 insert_column(3, "固定资产投资上年同期（万元）", PRIOR_FAI, total=1)))
    assert [(f.code, f.cell) for f in report.findings] == [("value.total", "D7")]

    def feature_above_fai(ws):
        insert_column(3, "固定资产投资上年同期（万元）", PRIOR_FAI)(ws)
        insert_column(5, "其中：特色产业投资上年同期（万元）", (130000, 1, 1))(ws)
    report = parse_report(mutate(sample_dir, tmp_path, feature_above_fai))
    assert [(f.code, f.cell) for f in report.findings] == [("value.parent", "F4")]
    assert "特色产业投资（上年同期）" in report.findings[0].message_zh


def test_a_prior_column_of_a_rate_is_an_unknown_header(sample_dir, tmp_path):
    wb = openpyxl.load_workbook(sample_dir / BASE)
    ws = wb["LZ-2 试点镇"]
    ws.insert_cols(5)
    ws["E3"] = "地区生产总值增速上年同期（%）"
    ws["E4"] = 8.1
    path = tmp_path / BASE
    wb.save(path)
    report = parse_report(path)
    assert report.status == "accepted"
    assert [(f.code, f.cell) for f in report.findings] == [("header.unknown", "E3")]
    assert all(v.value_prev_year is None for v in report.values)


def test_check_json_values_carry_the_prior_value(sample_dir, tmp_path):
    report = parse_report(mutate(sample_dir, tmp_path, insert_column(3, "上年同期固定资产投资（万元）", PRIOR_FAI)))
    values = report.to_dict()["values"]
    fai = next(v for v in values if v["town_code"] == "CT-330402-01" and v["indicator"] == "fai")
    assert fai["value_prev_year"] == 120000.5
    assert all("value_prev_year" in v for v in values)
    assert next(v for v in values if v["indicator"] == "tax_revenue")["value_prev_year"] is None
