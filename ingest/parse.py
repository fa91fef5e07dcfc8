"""Parse and validate one county report file against the reporting contract.

`parse_report(path)` never raises on bad input: whatever the file holds, the
answer is a `Report` with findings (and, when there is no error, the values in
canonical units, each with its sheet and cell).

This module is the table of contents of a parse; each part of a sheet is read by
its own module in `ingest.sheet` (forms, title block, columns, towns, rows,
totals, footer).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from core import registry
from ingest.findings import Finding, finding
from ingest.reader import Unreadable, read_file
from ingest.sheet.columns import find_header, read_columns
from ingest.sheet.forms import FormSheet, check_sheets_present, form_labels, form_sheets, no_form_sheet
from ingest.sheet.report import Context, Report, Value
from ingest.sheet.rows import check_parents, emit_values, read_rows
from ingest.sheet.title import find_county, labelled, resolve_county, resolve_period, sniff_county, title_texts
from ingest.sheet.totals import check_total
from ingest.sheet.towns import check_members

__all__ = ["form_labels", "Report", "Value", "find_county", "parse_report", "sniff_county"]


class _Parser:
    """One parse of one file (tests replace `run` to make the parser fail on purpose)."""

    def __init__(self, path: Path, file_name: str, today: date, seeds_dir: Path):
        self.path = path
        self.ctx = Context(Report(file_name=file_name), today, seeds_dir)
        self.report = self.ctx.report

    def run(self) -> Report:
        """The file's sheets, the forms among them, the title block (county and period), then each form."""
        ctx, name = self.ctx, self.report.file_name
        try:
            sheets = read_file(self.path, name)
        except Unreadable as exc:
            self.report.findings.append(_unreadable(exc))
            return self.report
        is_csv = Path(name).suffix.lower() == ".csv"
        found = form_sheets(sheets, name, is_csv, ctx.seeds_dir)
        _locate_parts(found)
        if not found:
            no_form_sheet(ctx)
            return self.report
        resolve_county(ctx, found)
        resolve_period(ctx, found)
        if self.report.county_code is None or self.report.period is None:
            return self.report
        check_sheets_present(ctx, found, is_csv)
        for form in sorted(found):
            _parse_form(ctx, found[form])
        self.report.forms = sorted(found)
        return self.report


def _unreadable(exc: Unreadable) -> Finding:
    """The file cannot be read; the English message carries the English reason."""
    f = finding("file.unreadable", detail=exc.zh)
    return Finding(f.severity, f.code, None, None, None, None, f.message_zh,
                   f"The file cannot be read: {exc.en}. Save it as .xlsx (or .xls / .csv) and send it again.")


def _locate_parts(found: dict[str, FormSheet]) -> None:
    """Each form sheet's header row and the title-block texts above it (填报单位, 报告期)."""
    for fs in found.values():
        fs.header_row = find_header(fs.sheet, fs.form)
        texts = title_texts(fs.sheet, fs.header_row if fs.header_row is not None else 8)
        fs.county_texts = labelled(texts, "填报单位")
        fs.period_texts = labelled(texts, "报告期") or texts


def _parse_form(ctx: Context, fs: FormSheet) -> None:
    """One form sheet: its columns, its rows, the checks across rows (members, parents, the 合计 row),
    and its values."""
    columns = read_columns(ctx, fs)
    if columns is None:
        return
    header, factors, data_start = columns
    rows = read_rows(ctx, fs, data_start, header, factors)
    check_members(ctx, fs, rows.index)
    check_parents(ctx, fs.sheet.name, fs.form, rows.values)
    if rows.total_row is not None and not registry.is_county_form(fs.form, ctx.seeds_dir):
        check_total(ctx, fs.sheet, rows.total_row, header.columns, factors, rows.values)
    emit_values(ctx, fs, rows)


def parse_report(path: Path, file_name: str | None = None, today: date | None = None, *,
                 seeds_dir: Path | None = None) -> Report:
    """Parse and validate one file. Never raises on bad content: every problem of the file is a finding.
    An exception is a defect of the parser, not of the file, and propagates: the ingest holds the file as
    an incident (ingest.landing) instead of refusing the county's report for it.

    `seeds_dir` holds the registry seeds (counties, towns, indicators and the membership seeds
    memberships, decisions, decision_actions that decide which towns must and may report);
    default: `core.config.seeds_dir()` (TWOTOWNS_SEEDS_DIR, else the project's dbt seeds)."""
    today = today or datetime.now().date()
    return _Parser(Path(path), file_name or Path(path).name, today, registry.folder(seeds_dir)).run()
