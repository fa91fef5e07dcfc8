"""The same sample report in the other formats counties send: .xls (old Excel / WPS)
and one CSV per form (UTF-8 with or without BOM, GBK; comma or tab)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl

_FORM = re.compile(r"LZ-[012]")


def _sheets(xlsx: Path | openpyxl.Workbook):
    wb = xlsx if isinstance(xlsx, openpyxl.Workbook) else openpyxl.load_workbook(xlsx)
    return [(ws.title, [list(r) for r in ws.iter_rows(values_only=True)]) for ws in wb.worksheets]


def to_xls(xlsx: Path | openpyxl.Workbook, out: Path) -> Path:
    """Write the workbook (a file, or one in memory) as Excel 97-2003 (.xls), the format WPS and old Excel save."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    for title, rows in _sheets(xlsx):
        ws = book.add_sheet(title)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    ws.write(r, c, value)
    book.save(str(out))
    return out


def to_csv_forms(xlsx: Path | openpyxl.Workbook, out_dir: Path, *, encoding: str = "utf-8", delimiter: str = ",",
                 bom: bool = False, stem: str | None = None) -> list[Path]:
    """One CSV per form sheet, named `<stem>_<form>.csv` (stem: the file's, or given for a workbook in
    memory); the title block stays in the first lines."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for title, rows in _sheets(xlsx):
        m = _FORM.search(title)
        if not m:
            continue
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
        for row in rows:
            writer.writerow(["" if v is None else _text(v) for v in row])
        data = buf.getvalue().encode(encoding)
        if bom and encoding.lower().replace("-", "") == "utf8":
            data = b"\xef\xbb\xbf" + data
        path = out_dir / f"{stem or Path(xlsx).stem}_{m.group(0)}.csv"
        path.write_bytes(data)
        paths.append(path)
    return paths


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
