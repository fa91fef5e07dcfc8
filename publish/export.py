"""Exporters: one mart table to bytes, deterministically (same rows → same bytes)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from psycopg import sql

from publish.datasets import Dataset

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CsvExport:
    dataset: str
    file_name: str
    columns: list[str]
    data: bytes
    rows: int


def fetch(conn, dataset: Dataset) -> tuple[list[str], list[tuple]]:
    """All rows of marts.<dataset> in the dataset's total order."""
    query = sql.SQL("select * from {}.{} order by {}").format(
        sql.Identifier("marts"), sql.Identifier(dataset.name),
        sql.SQL(", ").join(sql.Identifier(c) for c in dataset.order_by))
    with conn.cursor() as cur:
        cur.execute(query)
        columns = [d.name for d in cur.description]
        return columns, cur.fetchall()


def csv_cell(value: object) -> str:
    """One value as CSV text: booleans true/false, ISO dates, plain decimals, formulas escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
        return text
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text  # CSV injection: spreadsheets must not evaluate published text
    return text


def export_csv(conn, dataset: Dataset) -> CsvExport:
    columns, rows = fetch(conn, dataset)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    data = "\ufeff".encode() + buf.getvalue().encode("utf-8")  # BOM: Excel opens UTF-8 correctly
    return CsvExport(dataset.name, f"{dataset.name}.csv", columns, data, len(rows))
