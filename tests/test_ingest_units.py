"""Unit tests of the small ingest modules: periods, values, headers, text."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.periods import Period, PeriodError, find_period
from ingest.headers import match_header, unit_factor
from ingest.values import parse_value


@pytest.mark.parametrize("text", ["2016年1-9月", "2016年1—9月", "2016年1～9月", "2016年第三季度", "2016年三季度",
                                  "2016年9月", "2016Q3", "2016-Q3", "报告期：2016年1-9月", "２０１６年１－９月"])
def test_every_contract_period_spelling_reads_as_2016q3(text):
    assert find_period(text) == Period(2016, 3)


def test_a_month_that_is_not_a_quarter_end_is_an_error():
    with pytest.raises(PeriodError):
        find_period("2016年1-5月")


def test_no_period_is_none():
    assert find_period("嘉兴市特色小镇建设情况季报") is None


def test_deadlines_are_the_20th_day_after_quarter_end_and_31_january_for_q4():
    assert Period(2016, 1).deadline == date(2016, 4, 20)
    assert Period(2016, 3).deadline == date(2016, 10, 20)
    assert Period(2016, 4).deadline == date(2017, 1, 31)
    assert Period(2016, 1).previous() == Period(2015, 4)


@pytest.mark.parametrize(("raw", "fmt", "rate", "expected"), [
    (1234.5, "General", False, Decimal("1234.5")),
    ("1,234.5", "General", False, Decimal("1234.5")),
    ("１２３．４", "General", False, Decimal("123.4")),
    ("  42 ", "General", False, Decimal("42")),
    ("8.5%", "General", True, Decimal("8.5")),
    (0.123, "0.0%", True, Decimal("12.3")),
    (0, "General", False, Decimal("0")),
    (-3.2, "General", True, Decimal("-3.2")),
])
def test_numbers_in_every_spelling(raw, fmt, rate, expected):
    parsed = parse_value(raw, fmt, rate=rate)
    assert parsed.error is None
    assert parsed.value == expected


@pytest.mark.parametrize("raw", [None, "", "-", "—", "－", "/", "无"])
def test_not_reported_markers_are_null(raw):
    parsed = parse_value(raw)
    assert parsed.value is None and parsed.error is None


@pytest.mark.parametrize(("raw", "error"), [("#DIV/0!", "excel_error"), ("#REF!", "excel_error"),
                                            ("abc", "not_number"), ("12万", "not_number"), ("5%", "not_number")])
def test_text_and_excel_errors_are_errors(raw, error):
    assert parse_value(raw).error == error


@pytest.mark.parametrize(("text", "code", "unit"), [
    ("固定资产投资（万元）", "fai", "万元"),
    ("固定资产投资\n(亿元)", "fai", "亿元"),
    ("其中：特色产业投资（万元）", "fai_feature", "万元"),
    ("#特色产业投资(万元)", "fai_feature", "万元"),
    ("其中:民间投资", "fai_private", None),
    ("固定资产投资（不含住宅和商业综合体）", "fai", None),
    ("固定资产投资（不含住宅和商业综合体）（万元）", "fai", "万元"),
    ("新入驻企业数（家）", "new_firms", "家"),
])
def test_header_aliases_and_units_match_the_catalogue(text, code, unit):
    m = match_header(text, "LZ-1")
    assert m.kind == "indicator"
    assert m.indicator.code == code
    assert m.unit == unit


def test_yi_yuan_header_converts_to_wan_yuan():
    m = match_header("固定资产投资（亿元）", "LZ-2")
    assert unit_factor(m.indicator, m.unit) == 10000
    assert unit_factor(m.indicator, "千元") is None


def test_code_and_name_columns_and_unknown_headers():
    assert match_header("代码", "LZ-1").kind == "code"
    assert match_header("名 称", "LZ-1").kind == "name"
    assert match_header("备注", "LZ-1").kind == "unknown"
    # the same alias resolves per form: 地区生产总值 is county_gdp on LZ-0 and gdp on LZ-2
    assert match_header("地区生产总值（万元）", "LZ-0").indicator.code == "county_gdp"
    assert match_header("地区生产总值（万元）", "LZ-2").indicator.code == "gdp"


@pytest.mark.parametrize(("text", "form", "code", "unit"), [
    ("固定资产投资上年同期（万元）", "LZ-1", "fai", "万元"),
    ("上年同期固定资产投资(亿元)", "LZ-2", "fai", "亿元"),
    ("其中：特色产业投资上年同期", "LZ-1", "fai_feature", None),
    ("完成固定资产投资 去年同期", "LZ-1", "fai", None),
    ("上年同期数 财政收入（万元）", "LZ-2", "fiscal_revenue", "万元"),
    ("税收收入（上年同期）（万元）", "LZ-1", "tax_revenue", "万元"),
    ("从业人员上年同期（人）", "LZ-1", "employees", "人"),  # a stock has one too
])
def test_named_prior_year_headers(text, form, code, unit):
    m = match_header(text, form)
    assert (m.kind, m.indicator.code, m.unit, m.prior) == ("indicator", code, unit, True)
    assert match_header(text.replace("上年同期数", "").replace("上年同期", "").replace("去年同期", "")
                        .replace("（）", ""), form).prior is False


@pytest.mark.parametrize("text", ["上年同期", "上年同期（万元）", "地区生产总值增速上年同期", "上年同期固定资产投资上年同期",
                                  "上年固定资产投资"])
def test_headers_that_are_no_named_prior_column(text):
    assert match_header(text, "LZ-2").kind == "unknown"


def _find_county_by_scanning(text: str) -> set[str]:
    """The definition find_county implements: every county whose code, name or short name is in the text."""
    from core import registry
    from core.text import normalize

    s = normalize(text)
    return {c.code for c in registry.counties() if c.code in s or c.name_zh in s or c.short_name in s}


def test_find_county_finds_what_scanning_every_county_finds():
    from core import registry
    from ingest.parse import find_county

    counties = registry.counties()
    texts = ["", "填报单位：", "嘉兴市统计局", "填报单位：（盖章）", "２０１６年"]
    for c in counties:
        texts += [c.code, f"填报单位：{c.name_zh}发改局", f"（{c.short_name}）", f"{c.code}{c.name_zh}"]
    texts += [f"{a.name_zh}、{b.short_name}" for a, b in zip(counties, counties[1:], strict=False)]  # two counties named
    for text in texts:
        assert find_county(text) == _find_county_by_scanning(text), text
    assert len(find_county(f"{counties[0].name_zh}和{counties[1].name_zh}")) == 2
