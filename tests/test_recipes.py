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
    """2015 accepted for county 330402: the history a 2016 report is judged against."""
    from ingest.landing import submit

    for quarter in (1, 2, 3, 4):
        assert submit(sample_dir / f"330402_2015Q{quarter}.xlsx", write_feedback=False).status == "accepted"
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
