"""The platform on a scaled registry (issue 13): dbt seeds read from another folder without touching it, the
warehouse builds on the `small` scaled world (18 counties, 2015-2024) with its history landed by COPY, and the
benchmark's pieces that are not timing (the floor reader, the verdicts, the BENCH lines) are right.
No timing is asserted anywhere: speed is `make bench`'s business."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    from samplegen.scalefiles import write_scaled_sample

    out = tmp_path_factory.mktemp("small")
    write_scaled_sample(out, "small")
    return out


def test_the_warehouse_builds_on_a_scaled_registry_and_leaves_its_seed_folder_untouched(
        small, runtime_dirs, monkeypatch):
    from core.dbt import run_dbt
    from core.warehouse import connect, drop_database
    from samplegen.bulk import load_history
    from tests.conftest import create_database

    monkeypatch.setenv("TWOTOWNS_SEEDS_DIR", str(small / "seeds"))
    before = _digest(small / "seeds")
    url = create_database("test_scale_platform")
    try:
        counts = load_history(small, url)
        result = run_dbt(["build"], url=url, quiet=True)
        assert result.success, result.failures[:5]
        assert _digest(small / "seeds") == before  # dbt wrote nothing into the seed folder
        with connect(url) as conn:
            counties = conn.execute("select count(*) from seeds.counties").fetchone()[0]
            facts = conn.execute("select count(*), max(year) from marts_build.town_quarter_indicators").fetchone()
            assessed = conn.execute("select count(distinct year) from marts_build.town_annual_assessment "
                                    "where score is not null").fetchone()[0]
        assert counties == 18 and counts.values > 0
        assert facts[0] > 0 and facts[1] == 2024  # the history to 2024Q3
        assert assessed >= 8  # 2016-2023: the policy continued past the plan period in the scaled seeds
    finally:
        drop_database(url)


def test_the_floor_reader_reads_every_cell(sample_dir, tmp_path):
    from python_calamine import CalamineWorkbook

    from samplegen.formats import to_csv_forms
    from scripts.bench import bare_read

    book = sorted(sample_dir.glob("*.xlsx"))[0]
    wb = CalamineWorkbook.from_path(str(book))
    cells = sum(len(r) for n in wb.sheet_names for r in wb.get_sheet_by_name(n).to_python())
    assert bare_read(book) == cells > 0
    for csv_file in to_csv_forms(book, tmp_path, encoding="gbk"):
        text = csv_file.read_bytes().decode("gb18030")
        assert bare_read(csv_file) >= len(text.splitlines())  # every row, at least one cell each


def test_the_report_prints_one_bench_line_per_figure_with_its_verdict(tmp_path, capsys):
    from scripts.bench import FIGURES, Bench, print_report, verdict

    b = Bench("city", tmp_path, figures={name: 1.0 for name in FIGURES})
    print_report(b)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("BENCH ")]
    assert [line.split()[1] for line in lines] == list(FIGURES)
    assert all(re.fullmatch(r"BENCH \w+ [0-9.e+-]+ \S+", line) for line in lines)
    assert verdict("load_vs_copy_ratio", 1.4).startswith("met") and verdict("load_vs_copy_ratio", 1.6).startswith(
        "MISSED")
    assert verdict("publish_rows_per_s", 250_000).startswith("met") and verdict("quarter_cycle_seconds", 9) == "report"
