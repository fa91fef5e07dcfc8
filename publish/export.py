"""Exporters: a mart table to CSV, Parquet, JSON and a sheet of the workbook, deterministically
(the same rows always give the same bytes: stable order, no timestamps inside the files).

The cell rules (csv_cell, _json_value, _arrow_type, _xlsx_value) are the publication's; the
whole-table functions (fetch, to_csv, to_parquet, to_json, to_workbook) hold a table in memory and
are the reference the streaming writers of publish.stream, which publish.wap uses, are tested
against (same bytes under the limits)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from psycopg import sql

from core.datasets import Dataset

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
WORKBOOK_NAME = "两镇数据.xlsx"
# fixed timestamp inside the workbook's zip entries and properties (content, not time, decides bytes)
WORKBOOK_STAMP = datetime(2016, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # e.g. text, integer, numeric, boolean, date, timestamp with time zone
    precision: int | None = None
    scale: int | None = None


@dataclass(frozen=True)
class Table:
    dataset: Dataset
    columns: list[Column]
    rows: list[tuple]


@dataclass(frozen=True)
class Export:
    dataset: str  # dataset name, or "*" for files that hold every dataset
    file_name: str
    data: bytes
    rows: int


def fetch(conn, dataset: Dataset) -> Table:
    """All rows of marts.<dataset> in the dataset's total order, with the column types."""
    types = {name: (dtype, prec, scale) for name, dtype, prec, scale in conn.execute(
        "select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns "
        "where table_schema = 'marts' and table_name = %s", (dataset.name,)).fetchall()}
    query = sql.SQL("select * from {}.{} order by {}").format(
        sql.Identifier("marts"), sql.Identifier(dataset.name),
        sql.SQL(", ").join(sql.Identifier(c) for c in dataset.order_by))
    with conn.cursor() as cur:
        cur.execute(query)
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
    return Table(dataset, [Column(n, *types[n]) for n in names], rows)


# ----------------------------------------------------------------------------- CSV

def csv_cell(value: object) -> str:
    """One value as CSV text: booleans true/false, ISO dates, plain decimals, formulas escaped."""
    if type(value) is str:  # the most frequent value first (a publication formats millions)
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)  # a number, never escaped (publication.md), -3 as much as -3.2
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text  # CSV injection: spreadsheets must not evaluate published text
    return text


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value.tzinfo else value.isoformat()


def to_csv(table: Table) -> Export:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.name for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(v) for v in row])
    data = "\ufeff".encode() + buf.getvalue().encode("utf-8")  # BOM: Excel opens UTF-8 correctly
    return Export(table.dataset.name, f"{table.dataset.name}.csv", data, len(table.rows))


# ----------------------------------------------------------------------------- JSON

def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_json(table: Table) -> Export:
    names = [c.name for c in table.columns]
    records = [{n: _json_value(v) for n, v in zip(names, row, strict=True)} for row in table.rows]
    data = json.dumps(records, ensure_ascii=False, indent=None, separators=(",", ":")).encode("utf-8") + b"\n"
    return Export(table.dataset.name, f"{table.dataset.name}.json", data, len(table.rows))


# ----------------------------------------------------------------------------- Parquet

def _arrow_type(col: Column):
    import pyarrow as pa

    t = col.pg_type
    if t in ("integer", "smallint"):
        return pa.int32()
    if t == "bigint":
        return pa.int64()
    if t == "numeric":
        if col.precision and col.scale is not None and col.precision <= 38:
            return pa.decimal128(col.precision, col.scale)
        return pa.float64()
    if t in ("double precision", "real"):
        return pa.float64()
    if t == "boolean":
        return pa.bool_()
    if t == "date":
        return pa.date32()
    if t == "timestamp with time zone":
        return pa.timestamp("us", tz="UTC")
    if t == "timestamp without time zone":
        return pa.timestamp("us")
    return pa.string()


def to_parquet(table: Table) -> Export:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [pa.field(c.name, _arrow_type(c)) for c in table.columns]
    arrays = []
    for i, field in enumerate(fields):
        values = [row[i] for row in table.rows]
        if pa.types.is_floating(field.type):
            values = [None if v is None else float(v) for v in values]
        elif pa.types.is_string(field.type):
            values = [None if v is None else str(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    arrow = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    buf = io.BytesIO()
    pq.write_table(arrow, buf, compression="zstd", write_statistics=True)
    return Export(table.dataset.name, f"{table.dataset.name}.parquet", buf.getvalue(), len(table.rows))


# ----------------------------------------------------------------------------- the workbook

def to_workbook(tables: list[Table], labels: dict[str, dict[str, dict]]) -> Export:
    """One workbook, a sheet per dataset: Chinese labels in row 1, column names in row 2."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from core.xlsx import workbook_bytes

    wb = Workbook()
    wb.remove(wb.active)
    for table in tables:
        ws = wb.create_sheet(table.dataset.name[:31])
        cols = labels.get(table.dataset.name, {})
        ws.append([cols.get(c.name, {}).get("label_zh", c.name) for c in table.columns])
        ws.append([c.name for c in table.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for number, row in enumerate(table.rows, start=3):
            values = [_xlsx_value(v) for v in row]
            ws.append(values)
            for j, value in enumerate(values, start=1):
                if isinstance(value, str) and value.startswith("="):
                    ws.cell(row=number, column=j).data_type = "s"  # text that looks like a formula stays text
        ws.freeze_panes = "A3"
    wb.properties.creator = "嘉兴市两镇数据平台"
    wb.properties.created = wb.properties.modified = WORKBOOK_STAMP
    data = workbook_bytes(wb, WORKBOOK_STAMP)
    return Export("*", WORKBOOK_NAME, data, sum(len(t.rows) for t in tables))


def _xlsx_value(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return _iso(value)  # Excel has no time zones: ISO text in UTC
    return value
