"""The recipes of docs/architecture.md, each made in a copy of the seeds and seen flowing through: a new
indicator, a new form, a new policy number, a new dataset. They are edits of data (seeds) and of the one
place a rule lives, nothing else."""

from __future__ import annotations

import csv
import dataclasses
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from core.config import SEEDS_DIR

pytestmark = pytest.mark.integration


@pytest.fixture
def seeds(tmp_path, monkeypatch) -> Path:
    """A copy of the seeds that the registry, the parser and the suites read (TWOTOWNS_SEEDS_DIR)."""
    copy = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, copy)
    monkeypatch.setenv("TWOTOWNS_SEEDS_DIR", str(copy))
    return copy


def _append(path: Path, row: dict) -> None:
    with open(path, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    with open(path, "a", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow([row.get(h, "") for h in header])


def _set_policy(seeds: Path, parameter: str, value: str) -> None:
    path = seeds / "policy_parameters.csv"
    rows = list(csv.DictReader(open(path, encoding="utf-8", newline="")))
    assert any(r["parameter"] == parameter for r in rows)
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        out.writeheader()
        out.writerows({**r, "value": value} if r["parameter"] == parameter else r for r in rows)


@pytest.fixture(scope="module")
def history(warehouse, sample_dir):
    """County 330402's 2015 reports accepted (the sample's Q4 came late, under another name): the history a
    2016 report is judged against."""
    from ingest.landing import submit

    for path in sorted(sample_dir.glob("330402_2015Q*")):
        assert submit(path, write_feedback=False).status == "accepted"
    return warehouse


def _workbook_with_column(sample_dir: Path, tmp_path: Path, header: str, values: dict[str, float]) -> Path:
    """330402's 2016Q2 report with one more LZ-1 column (header, a value per town and their sum on 合计)."""
    wb = openpyxl.load_workbook(sample_dir / "330402_2016Q2.xlsx")
    ws = wb["LZ-1 特色小镇"]
    col = ws.max_column + 1
    for row in ws.iter_rows(min_row=1, max_row=ws.max_row):
        first, second = row[0].value, row[1].value
        if first == "代码":
            ws.cell(row[0].row, col, header)
        elif first in values:
            ws.cell(row[0].row, col, values[first])
        elif second == "合计":
            ws.cell(row[0].row, col, sum(values.values()))
    out = tmp_path / "330402_2016Q2.xlsx"
    wb.save(out)
    return out


def test_a_new_indicator_is_read_by_its_alias_and_checked_by_the_suites(history, conn, seeds, sample_dir, tmp_path):
    from expectations.fragments import resolve_params
    from ingest.audit import preview_findings
    from ingest.parse import parse_report

    _append(seeds / "indicators.csv", {
        "code": "green_area", "form": "LZ-1", "name_zh": "绿地面积", "header_aliases": "绿地面积|公园绿地面积",
        "unit": "公顷", "accepted_units": "公顷:1|亩:0.0666667", "kind": "stock", "required": "N",
        "value_type": "decimal", "plausible_max": "5000", "description_en": "Green area (hectares)"})
    path = _workbook_with_column(sample_dir, tmp_path, "绿地面积（公顷）", {"CT-330402-01": 12.5, "CT-330402-02": 9000})
    report = parse_report(path, seeds_dir=seeds)
    assert report.status == "accepted", [f.code for f in report.findings]
    values = {(v.town_code, v.indicator): v.value for v in report.values}
    assert values[("CT-330402-01", "green_area")] == Decimal("12.5")
    assert "green_area" in resolve_params({"$seeds": "indicators.town"}, seeds)
    ranged = [(f.town_code, f.indicator) for f in preview_findings(conn, report) if f.code == "value.range"]
    assert ranged == [("CT-330402-02", "green_area")]  # 9000 ha is above its plausible 5000


def test_a_new_policy_number_changes_the_check_that_reads_it(history, conn, seeds, sample_dir):
    from ingest.audit import preview_findings
    from ingest.parse import parse_report

    report = parse_report(sample_dir / "330402_2016Q1.xlsx", seeds_dir=seeds)
    growth = next(v for v in report.values if v.indicator == "gdp_growth")
    report.values[report.values.index(growth)] = dataclasses.replace(growth, value=Decimal(150))

    def outliers() -> list[str]:
        return [f.town_code for f in preview_findings(conn, report) if f.code == "value.growth_outlier"]

    assert outliers() == [growth.town_code]  # 150% is above the contract's +100%
    _set_policy(seeds, "growth_outlier_max_pct", "200")
    assert outliers() == []  # the same report, judged by the edited policy


def test_a_new_form_is_recognised_required_and_read(seeds, sample_dir, tmp_path):
    """A county form of its own (no programme): a report_forms row and its indicators. Every report must now
    carry it; a workbook with its sheet is read, the new values under the new form."""
    from expectations.fragments import resolve_params
    from ingest.parse import parse_report

    _append(seeds / "report_forms.csv", {"form": "LZ-9", "name_zh": "城镇化补充指标", "sheet_name": "LZ-9 城镇化补充",
                                         "title_zh": "嘉兴市城镇化补充指标季报", "sheet_keywords": "城镇化补充"})
    _append(seeds / "indicators.csv", {
        "code": "urban_rate", "form": "LZ-9", "name_zh": "城镇化率", "header_aliases": "城镇化率|常住人口城镇化率",
        "unit": "%", "accepted_units": "%:1", "kind": "rate_pct", "required": "Y", "value_type": "decimal",
        "plausible_min": "0", "plausible_max": "100", "description_en": "Urbanisation rate (percent)"})
    original = sample_dir / "330402_2016Q2.xlsx"
    missing = parse_report(original, seeds_dir=seeds)
    sheet_missing = [f for f in missing.findings if f.code == "sheet.missing"]
    assert missing.status == "refused" and len(sheet_missing) == 1 and "城镇化补充指标" in sheet_missing[0].message_zh

    wb = openpyxl.load_workbook(original)
    ws = wb.copy_worksheet(wb["LZ-0 县域指标"])
    ws.title = "LZ-9 城镇化补充"
    ws["A1"], ws["A2"] = "嘉兴市城镇化补充指标季报", "表号：LZ-9"
    ws["C3"], ws["D3"], ws["C4"], ws["D4"] = "城镇化率（%）", None, 65.2, None
    path = tmp_path / "330402_2016Q2.xlsx"
    wb.save(path)
    report = parse_report(path, seeds_dir=seeds)
    assert report.status == "accepted", [(f.code, f.sheet, f.cell) for f in report.findings]
    assert [(v.form, v.town_code, v.indicator, v.value) for v in report.values if v.form == "LZ-9"] == [
        ("LZ-9", None, "urban_rate", Decimal("65.2"))]
    assert "LZ-9" in report.forms and "LZ-9" in resolve_params({"$seeds": "forms"}, seeds)


def test_a_new_dataset_is_published_listed_and_audited(conn, tmp_path, monkeypatch):
    """A mart (here marts.current_submissions, the lineage mart, not published today) and its Dataset entry:
    the nightly publication writes it in every format, lists it in the manifest, and its audit passes."""
    import json

    from core import datasets
    from publish.wap import publish

    conn.execute("drop schema if exists marts cascade")
    conn.execute("create schema marts")
    conn.execute("create table marts.current_submissions (county_code text, year integer, quarter integer, "
                 "form text, version integer, file_sha256 text, received_at timestamptz)")
    conn.execute("insert into marts.current_submissions values ('330402', 2016, 3, 'LZ-0', 1, 'ab', "
                 "'2016-10-12 09:30+08'), ('330402', 2016, 3, 'LZ-1', 2, 'cd', '2016-10-14 10:00+08')")
    lineage = datasets.Dataset("current_submissions", "现行报送", ("county_code", "year", "quarter", "form"))
    monkeypatch.setattr(datasets, "DATASETS", (*datasets.DATASETS, lineage))

    result = publish((tmp_path / "pub").as_uri(), conn)
    vdir = tmp_path / "pub" / "v" / result.version
    manifest = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
    names = {f["name"] for f in manifest["files"]}
    assert {"current_submissions.csv", "current_submissions.parquet", "current_submissions.json"} <= names
    assert "current_submissions" not in manifest.get("missing_datasets", [])
    lines = (vdir / "current_submissions.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 3 and lines[1].startswith("330402,2016,3,LZ-0,1,ab")
