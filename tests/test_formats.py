"""Every file format of the contract: .xlsx, .xls, CSV (UTF-8 with/without BOM, GBK; comma or tab),
and a county report assembled from one CSV file per form."""

from __future__ import annotations

import pytest

from ingest.parse import parse_report
from samplegen.formats import to_csv_forms, to_xls

BASE = "330402_2016Q3.xlsx"


def _values(report):
    return {(v.form, v.town_code, v.indicator): v.value for v in report.values}


@pytest.fixture(scope="module")
def xlsx_values(sample_dir):
    return _values(parse_report(sample_dir / BASE))


def test_xls_reads_exactly_as_xlsx(sample_dir, tmp_path, xlsx_values):
    report = parse_report(to_xls(sample_dir / BASE, tmp_path / "330402_2016Q3.xls"))
    assert report.status == "accepted" and report.findings == []
    assert _values(report) == xlsx_values


@pytest.mark.parametrize(("encoding", "bom", "delimiter"), [("utf-8", False, ","), ("utf-8", True, ","),
                                                            ("gbk", False, ","), ("gb18030", False, "\t")])
def test_csv_forms_read_exactly_as_the_workbook(sample_dir, tmp_path, xlsx_values, encoding, bom, delimiter):
    merged = {}
    for path in to_csv_forms(sample_dir / BASE, tmp_path, encoding=encoding, bom=bom, delimiter=delimiter):
        report = parse_report(path)
        assert report.status == "accepted", report.findings
        assert len(report.forms) == 1 and report.forms[0] in path.name
        merged.update(_values(report))
    assert merged == xlsx_values


def test_percentage_formatted_rate_cells_read_as_percent(sample_dir, tmp_path):
    import openpyxl

    wb = openpyxl.load_workbook(sample_dir / BASE)
    ws = wb["LZ-2 试点镇"]
    rate = ws["D4"].value
    ws["D4"] = rate / 100
    ws["D4"].number_format = "0.0%"
    path = tmp_path / BASE
    wb.save(path)
    report = parse_report(path)
    assert report.status == "accepted"
    value = next(v.value for v in report.values if v.indicator == "gdp_growth")
    assert float(value) == pytest.approx(rate)


def test_formula_cells_are_read_as_their_cached_values(sample_dir, tmp_path):
    """The 合计 row of county offices is often =SUM(...); its cached value is what counts."""
    import zipfile

    # openpyxl cannot write cached values; rewrite the sheet XML of the total row as a formula with a cache
    src = sample_dir / BASE
    path = tmp_path / BASE
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet3.xml":  # LZ-1 特色小镇
                text = data.decode()
                start = text.index('<c r="C7"')
                end = text.index("</c>", start) + 4
                cell = text[start:end]
                attrs = cell[: cell.index(">")].replace(' t="n"', "")
                # a stale cache that disagrees with the rows: only a reader of cached values sees it
                text = text[:start] + f"{attrs}><f>SUM(C4:C6)</f><v>1</v></c>" + text[end:]
                data = text.encode()
            zout.writestr(item, data)
    report = parse_report(path)
    assert [(f.code, f.cell) for f in report.findings] == [("value.total", "C7")]


@pytest.mark.integration
def test_a_report_assembled_from_csv_forms_is_incomplete_until_every_form_arrived(warehouse, conn, sample_dir,
                                                                                   tmp_path):
    from ingest.landing import submit

    paths = {p.name.split("_")[-1].removesuffix(".csv"): p
             for p in to_csv_forms(sample_dir / "330402_2016Q2.xlsx", tmp_path, encoding="gbk")}
    first = submit(paths["LZ-1"])
    assert first.status == "accepted" and first.missing_forms == ["LZ-0", "LZ-2"]
    second = submit(paths["LZ-0"])
    assert second.missing_forms == ["LZ-2"]
    last = submit(paths["LZ-2"])
    assert last.missing_forms == []
    # all three are current: each for its own form

    rows = conn.execute("select form, submission_id from landing.current_submission_forms c "
                        "where county_code = '330402' and year = 2016 and quarter = 2 order by form").fetchall()
    assert rows == [("LZ-0", second.submission_id), ("LZ-1", first.submission_id), ("LZ-2", last.submission_id)]


def _with_prior(report):
    return {(v.form, v.town_code, v.indicator): (v.value, v.value_prev_year, v.cell, v.prev_year_cell)
            for v in report.values}


@pytest.mark.parametrize("name", ["330482_2016Q1.xlsx", "330481_2016Q1.xlsx"])  # 本期|上年同期 group; named columns
def test_prior_year_columns_read_the_same_in_xls_and_csv(sample_dir, tmp_path, name):
    want = _with_prior(parse_report(sample_dir / name))
    assert any(prior is not None for _, prior, _, _ in want.values())
    xls = parse_report(to_xls(sample_dir / name, tmp_path / name.replace(".xlsx", ".xls")))
    assert xls.status == "accepted" and xls.findings == []
    assert _with_prior(xls) == want
    merged = {}
    for path in to_csv_forms(sample_dir / name, tmp_path, encoding="gbk"):
        report = parse_report(path)
        assert report.status == "accepted", report.findings
        merged.update(_with_prior(report))
    assert merged == want
