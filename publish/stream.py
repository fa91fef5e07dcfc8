"""Streaming export: each mart is read in chunks through a server-side cursor, in the dataset's total
order, and written incrementally to CSV, Parquet, JSON and a sheet of the workbook. Memory holds one
chunk (and the open writers), whatever the row count.

A large dataset is published partitioned in CSV and Parquet (publication.md: "where a dataset outgrows
a form ... it is published partitioned"): one file per year, and per province (the first two digits of
county_code) when PUBLISH_PARTITION_BY_PROVINCE says so, Hive-style:
`<dataset>/year=2024/part.csv`, `<dataset>/year=2024/province=33/part.parquet`. JSON and the
workbook hold a dataset only up to their row limits; datasets.json and the manifest say which forms
were skipped and why. A dataset under every threshold is written exactly as before (NAME.csv,
NAME.parquet, NAME.json, a sheet): the same bytes as the whole-table exporters of publish.export.

Settings (environment, read by Limits.from_env() when a publication starts):

    PUBLISH_PARTITION_ROWS        1,000,000  above: one file per partition (datasets with year / county_code)
    PUBLISH_PARTITION_BY_PROVINCE false      also one file per province (first two digits of county_code)
    PUBLISH_JSON_MAX_ROWS           200,000  above: no NAME.json (at nation scale a 286 k-row JSON of records
                                             was 236 MB and cost 100 s to write: not a file anyone opens)
    PUBLISH_SHEET_MAX_ROWS        1,048,574  above: no sheet (Excel's 1,048,576 rows less the two header rows)
    PUBLISH_WORKBOOK_MAX_ROWS     2,000,000  rows of all sheets: a dataset that would pass it gets no sheet
    PUBLISH_WORKBOOK_MEMORY_ROWS    200,000  above (rows of all sheets): the workbook is streamed (write-only)
    PUBLISH_ROW_GROUP_ROWS          131,072  rows per fetched chunk and per Parquet row group

Bytes are deterministic: a fixed row order, fixed row groups (chunks never cross a partition, so every
row group of a file is full but its last), zstd with the library's default level, no timestamps.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from psycopg import sql

from core.datasets import PARTITION_KEYS, Dataset, count_rows
from core.faults import point
from publish.export import Column, _arrow_type, _json_value

SHEET_MAX_DATA_ROWS = 1_048_576 - 2  # Excel's rows per sheet, less the label and name rows
DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # a null partition value, as Hive and Arrow name it
SAFE_SEGMENT = re.compile(r"^[0-9A-Za-z_-]+$")


def _env_bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Limits:
    partition_rows: int = 1_000_000
    by_province: bool = False
    json_max_rows: int = 200_000
    sheet_max_rows: int = SHEET_MAX_DATA_ROWS
    workbook_max_rows: int = 2_000_000
    workbook_memory_rows: int = 200_000
    row_group_rows: int = 131_072

    @classmethod
    def from_env(cls, **overrides) -> Limits:
        """The limits the environment sets (defaults above), with `overrides` on top."""
        env = os.environ.get
        values = {
            "partition_rows": int(env("PUBLISH_PARTITION_ROWS", cls.partition_rows)),
            "by_province": _env_bool("PUBLISH_PARTITION_BY_PROVINCE"),
            "json_max_rows": int(env("PUBLISH_JSON_MAX_ROWS", cls.json_max_rows)),
            "sheet_max_rows": int(env("PUBLISH_SHEET_MAX_ROWS", cls.sheet_max_rows)),
            "workbook_max_rows": int(env("PUBLISH_WORKBOOK_MAX_ROWS", cls.workbook_max_rows)),
            "workbook_memory_rows": int(env("PUBLISH_WORKBOOK_MEMORY_ROWS", cls.workbook_memory_rows)),
            "row_group_rows": int(env("PUBLISH_ROW_GROUP_ROWS", cls.row_group_rows)),
        }
        values.update(overrides)
        limits = cls(**values)
        if not 0 <= limits.sheet_max_rows <= SHEET_MAX_DATA_ROWS:
            raise ValueError(f"sheet_max_rows must be between 0 and {SHEET_MAX_DATA_ROWS}")
        if limits.row_group_rows < 1:
            raise ValueError("row_group_rows must be at least 1")
        return limits


@dataclass
class Plan:
    """How one dataset is published: its columns, rows, partition keys, and the forms it skips."""
    dataset: Dataset
    columns: list[Column]
    rows: int
    partition_by: tuple[str, ...] = ()
    skipped: dict[str, dict] = field(default_factory=dict)  # form -> reason

    @property
    def default_layout(self) -> bool:
        return not self.partition_by and not self.skipped


def columns_of(conn, name: str) -> list[Column]:
    """The columns of marts.<name> in table order, with their types."""
    rows = conn.execute(
        "select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns "
        "where table_schema = 'marts' and table_name = %s order by ordinal_position", (name,)).fetchall()
    return [Column(*r) for r in rows]


def _skip(form: str, rows: int, limit: int) -> dict:
    if form == "json":
        zh = f"共 {rows:,} 行，超过 JSON 文件上限 {limit:,} 行：请使用 CSV 或 Parquet 文件。"
        en = f"{rows:,} rows, above the JSON limit of {limit:,} rows: use the CSV or Parquet files."
        return {"reason": "rows_above_json_limit", "rows": rows, "limit": limit, "note_zh": zh, "note_en": en}
    if form == "workbook_total":
        zh = f"共 {rows:,} 行，加入后工作簿将超过 {limit:,} 行的总上限：请使用 CSV 或 Parquet 文件。"
        en = f"{rows:,} rows: with them the workbook would pass its limit of {limit:,} rows in all sheets; " \
             "use the CSV or Parquet files."
        return {"reason": "workbook_total_limit", "rows": rows, "limit": limit, "note_zh": zh, "note_en": en}
    zh = (f"共 {rows:,} 行，超过工作表上限 {limit:,} 行（Excel 每个工作表最多 1,048,576 行，含两行表头）："
          "请使用 CSV 或 Parquet 文件。")
    en = (f"{rows:,} rows, above the sheet limit of {limit:,} rows (Excel holds 1,048,576 rows per sheet, "
          "two of them headers): use the CSV or Parquet files.")
    return {"reason": "rows_above_sheet_limit", "rows": rows, "limit": limit, "note_zh": zh, "note_en": en}


def plan_dataset(conn, dataset: Dataset, limits: Limits) -> Plan:
    """Count the rows and decide the layout: partitions, and the forms the dataset outgrows."""
    columns = columns_of(conn, dataset.name)
    rows = count_rows(conn, dataset.name)
    names = {c.name for c in columns}
    keys: tuple[str, ...] = ()
    if rows > limits.partition_rows:
        keys = tuple(k for k in ("year", "province") if PARTITION_KEYS[k]["column"] in names
                     and (k != "province" or limits.by_province))
    skipped = {}
    if rows > limits.json_max_rows:
        skipped["json"] = _skip("json", rows, limits.json_max_rows)
    if rows > limits.sheet_max_rows:
        skipped["workbook"] = _skip("workbook", rows, limits.sheet_max_rows)
    return Plan(dataset, columns, rows, keys, skipped)


# ----------------------------------------------------------------------------- partitions

def _order(dataset: Dataset, partition_by: tuple[str, ...]) -> sql.Composable:
    """The partition keys first, then the dataset's total order: each partition's rows stay in that order."""
    terms = []
    for key in partition_by:
        column = sql.Identifier(PARTITION_KEYS[key]["column"])
        terms.append(sql.SQL("left({}, 2)").format(column) if key == "province" else column)
    return sql.SQL(", ").join(terms + [sql.Identifier(c) for c in dataset.order_by])


def partition_key_of(plan: Plan):
    """A function giving the partition key of one row, in the order of plan.partition_by."""
    names = [c.name for c in plan.columns]
    where = [(names.index(PARTITION_KEYS[k]["column"]), k == "province") for k in plan.partition_by]

    def key(row: tuple) -> tuple:
        return tuple(None if row[i] is None else (str(row[i])[:2] if province else row[i]) for i, province in where)
    return key


def partition_path(partition_by: tuple[str, ...], key: tuple) -> str:
    """`year=2024/province=33`: a path made of key values that are checked to be plain codes."""
    parts = []
    for name, value in zip(partition_by, key, strict=True):
        text = DEFAULT_PARTITION if value is None else str(value)
        if not SAFE_SEGMENT.match(text):
            raise ValueError(f"partition value {text!r} of {name} is not a plain code: refusing it as a path")
        parts.append(f"{name}={text}")
    return "/".join(parts)


def chunks(conn, plan: Plan, size: int) -> Iterator[tuple[tuple, list[tuple]]]:
    """(partition key, rows): the mart in the dataset's order through a server-side cursor, `size` rows
    at most per chunk, never across partitions (so row groups are the same however the rows arrive)."""
    query = sql.SQL("select * from {}.{} order by {}").format(
        sql.Identifier("marts"), sql.Identifier(plan.dataset.name), _order(plan.dataset, plan.partition_by))
    key_of = partition_key_of(plan)
    pending_key, pending = None, []
    with conn.transaction(), conn.cursor(name=f"publish_{plan.dataset.name}") as cur:
        cur.execute(query)
        while batch := cur.fetchmany(size):
            for key, group in groupby(batch, key_of):
                if pending and key != pending_key:
                    yield pending_key, pending
                    pending = []
                pending_key = key
                pending.extend(group)
                while len(pending) >= size:
                    yield key, pending[:size]
                    pending = pending[size:]
    if pending:
        yield pending_key, pending


# ----------------------------------------------------------------------------- writers

class CsvWriter:
    """NAME.csv as publish.export.to_csv writes it (BOM, formula-like text escaped), row by row."""

    def __init__(self, path: Path, columns: list[Column]):
        self.file = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()
        self.file.write("\ufeff")  # BOM: Excel opens UTF-8 correctly
        self.writer = csv.writer(self.file, lineterminator="\n")
        self.writer.writerow([c.name for c in columns])
        self.columns, self.rows = columns, 0

    def write(self, rows: list[tuple]) -> None:
        formats = [_csv_format(c) for c in self.columns]
        self.writer.writerows([f(v) for f, v in zip(formats, row)] for row in rows)  # noqa: B905 - same length
        self.rows += len(rows)

    def close(self) -> None:
        self.file.close()


def _csv_format(column: Column):
    """The text of one column's values, as publish.export.csv_cell gives it: a direct path for the
    value type the column's SQL type gives, csv_cell (looked up now: the module's escaping rule)
    for anything else, text included."""
    from decimal import Decimal

    from publish import export

    cell, kind = export.csv_cell, column.pg_type
    if kind in ("integer", "bigint", "smallint"):
        return lambda v: str(v) if type(v) is int else cell(v)
    if kind == "numeric":
        return lambda v: export._decimal_text(v) if type(v) is Decimal else cell(v)
    if kind == "boolean":
        return lambda v: ("true" if v else "false") if type(v) is bool else cell(v)
    if kind in ("double precision", "real"):
        return lambda v: repr(v) if type(v) is float else cell(v)
    return cell


class JsonWriter:
    """NAME.json (records) as publish.export.to_json writes it, row by row."""

    def __init__(self, path: Path, columns: list[Column]):
        self.file = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()
        self.names = [c.name for c in columns]
        self.file.write("[")
        self.rows = 0

    def write(self, rows: list[tuple]) -> None:
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        text = ",".join(dumps({n: _json_value(v) for n, v in zip(self.names, row, strict=True)}) for row in rows)
        if text:
            self.file.write(("," if self.rows else "") + text)
        self.rows += len(rows)

    def close(self) -> None:
        self.file.write("]\n")
        self.file.close()


class ParquetWriter:
    """NAME.parquet with an explicit schema from the column types: one row group per chunk."""

    def __init__(self, path: Path, columns: list[Column]):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.schema = pa.schema([pa.field(c.name, _arrow_type(c)) for c in columns])
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd", write_statistics=True)
        self.rows = 0

    def write(self, rows: list[tuple]) -> None:
        import pyarrow as pa

        arrays = []
        for i, f in enumerate(self.schema):
            values = [row[i] for row in rows]
            if pa.types.is_floating(f.type):
                values = [None if v is None else float(v) for v in values]
            elif pa.types.is_string(f.type):
                values = [None if v is None else str(v) for v in values]
            arrays.append(pa.array(values, type=f.type))
        self.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def write_table(self, table) -> None:
        """One row group of the table's rows (an Arrow table of the writer's schema)."""
        self.writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.rows += table.num_rows

    def close(self) -> None:
        if not self.rows:  # an empty dataset: one empty row group, as pyarrow.parquet.write_table writes it
            import pyarrow as pa

            self.writer.write_table(pa.Table.from_pylist([], schema=self.schema))
        self.writer.close()


class WorkbookWriter:
    """The one workbook, a sheet per dataset (Chinese labels in row 1, column names in row 2), as
    publish.export.to_workbook builds it. Up to `memory_rows` rows in all it is built in memory (the
    same bytes as to_workbook); above, in openpyxl's write-only mode, which streams each sheet to a
    temporary file and writes the zip entry by entry."""

    def __init__(self, path: Path, streaming: bool):
        from openpyxl import Workbook

        self.path, self.streaming = path, streaming
        self.wb = Workbook(write_only=streaming)
        if not streaming:
            self.wb.remove(self.wb.active)
        self.ws, self.row, self.rows = None, 0, 0

    def sheet(self, name: str, header_zh: list[str], header: list[str]) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        self.ws = self.wb.create_sheet(name[:31])
        if self.streaming:
            self.ws.freeze_panes = "A3"  # a write-only sheet writes its views before its first row
            bold = []
            for text in header_zh:
                cell = WriteOnlyCell(self.ws, value=text)
                cell.font = Font(bold=True)
                bold.append(cell)
            self.ws.append(bold)
            self.ws.append(header)
            return
        self.ws.append(header_zh)
        self.ws.append(header)
        for cell in self.ws[1]:
            cell.font = Font(bold=True)
        self.ws.freeze_panes = "A3"
        self.row = 2

    def write(self, rows: list[tuple]) -> None:
        from openpyxl.cell import WriteOnlyCell

        from publish.export import _xlsx_value

        for row in rows:
            values = [_xlsx_value(v) for v in row]
            formula_like = [j for j, v in enumerate(values) if isinstance(v, str) and v.startswith("=")]
            if self.streaming:
                for j in formula_like:
                    values[j] = WriteOnlyCell(self.ws, value=values[j])
                    values[j].data_type = "s"  # text that looks like a formula stays text
                self.ws.append(values)
                continue
            self.ws.append(values)
            self.row += 1
            for j in formula_like:
                self.ws.cell(row=self.row, column=j + 1).data_type = "s"
        self.rows += len(rows)

    def close(self) -> None:
        from publish.export import WORKBOOK_STAMP

        self.wb.properties.creator = "嘉兴市两镇数据平台"
        self.wb.properties.created = self.wb.properties.modified = WORKBOOK_STAMP
        if not self.streaming:
            from core.xlsx import workbook_bytes

            self.path.write_bytes(workbook_bytes(self.wb, WORKBOOK_STAMP))
            return
        _save_streaming(self.wb, self.path, WORKBOOK_STAMP)


def _save_streaming(wb, path: Path, stamp) -> None:
    """Save a (write-only) workbook with every zip entry dated `stamp`, entry by entry through files
    (core.xlsx.workbook_bytes does the same in memory)."""
    import shutil
    import zipfile

    from openpyxl.writer.excel import ExcelWriter

    raw = path.with_name(path.name + ".raw")
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).write_data()
    date_time = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            with source.open(info) as src, target.open(entry, "w", force_zip64=info.file_size > 2**31) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    raw.unlink()


# ----------------------------------------------------------------------------- a version's files

def file_entry(staging: Path, name: str, dataset: str, rows: int, partition: dict | None = None) -> dict:
    """The manifest entry of a written file: bytes and sha256 read back in blocks."""
    import hashlib

    digest, size = hashlib.sha256(), 0
    with open(staging / name, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    entry = {"name": name, "dataset": dataset, "bytes": size, "sha256": digest.hexdigest(), "rows": rows}
    if partition is not None:
        entry["partition"] = partition
    return entry


@dataclass
class _Part:
    key: tuple
    prefix: str  # "towns" or "town_quarter_indicators/year=2016/part"
    csv: CsvWriter
    parquet: ParquetWriter


def _open_part(staging: Path, plan: Plan, key: tuple) -> _Part:
    prefix = _part_prefix(plan, key)
    (staging / prefix).parent.mkdir(parents=True, exist_ok=True)
    return _Part(key, prefix, CsvWriter(staging / f"{prefix}.csv", plan.columns),
                 ParquetWriter(staging / f"{prefix}.parquet", plan.columns))


def _close_part(staging: Path, plan: Plan, part: _Part, csv_files: list, parquet_files: list) -> None:
    part.csv.close()
    part.parquet.close()
    partition = dict(zip(plan.partition_by, part.key, strict=True)) if plan.partition_by else None
    name = plan.dataset.name
    csv_files.append(file_entry(staging, f"{part.prefix}.csv", name, part.csv.rows, partition))
    parquet_files.append(file_entry(staging, f"{part.prefix}.parquet", name, part.parquet.rows, partition))


def _part_prefix(plan: Plan, key: tuple) -> str:
    name = plan.dataset.name
    return f"{name}/{partition_path(plan.partition_by, key)}/part" if plan.partition_by else name


def _bulk_parquet(staging: Path, plan: Plan, key: tuple, rows: int, row_group_rows: int) -> tuple[dict, dict]:
    """One partition's Parquet from its CSV (publish.bulk); the manifest entries of both files."""
    from publish import bulk

    prefix = _part_prefix(plan, key)
    parquet = ParquetWriter(staging / f"{prefix}.parquet", plan.columns)
    bulk.csv_to_parquet(staging / f"{prefix}.csv", parquet, plan.columns, row_group_rows)
    parquet.close()
    if parquet.rows != rows:
        raise RuntimeError(f"{prefix}.csv holds {parquet.rows} rows, marts.{plan.dataset.name} {rows}: "
                           "the mart changed while it was published")
    partition = dict(zip(plan.partition_by, key, strict=True)) if plan.partition_by else None
    name = plan.dataset.name
    return (file_entry(staging, f"{prefix}.csv", name, rows, partition),
            file_entry(staging, f"{prefix}.parquet", name, rows, partition))


def _bulk_parts(conn, staging: Path, plan: Plan, parts: list[tuple[tuple, int]], row_group_rows: int,
                csv_files: list, parquet_files: list) -> None:
    """Each partition's CSV by COPY, then its Parquet in a worker thread (Arrow leaves the GIL), so that
    PostgreSQL formats the next partition meanwhile; the entries are gathered in partition order."""
    from concurrent.futures import ThreadPoolExecutor

    from publish import bulk

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet") as pool:
        futures = []
        for key, rows in parts:
            prefix = _part_prefix(plan, key)
            (staging / prefix).parent.mkdir(parents=True, exist_ok=True)
            bulk.copy_csv(conn, bulk.copy_query(plan, key), staging / f"{prefix}.csv")
            futures.append(pool.submit(_bulk_parquet, staging, plan, key, rows, row_group_rows))
        for future in futures:
            csv_entry, parquet_entry = future.result()
            csv_files.append(csv_entry)
            parquet_files.append(parquet_entry)


def write_dataset(conn, plan: Plan, staging: Path, limits: Limits, workbook: WorkbookWriter | None) -> list[dict]:
    """One mart into its files (CSV and Parquet per partition, JSON, a sheet); their manifest entries.
    CSV and Parquet take the bulk path (publish.bulk) where it gives the same bytes; JSON and the sheet,
    and CSV and Parquet otherwise, are streamed row by row."""
    from publish.bulk import bulk_partitions
    from publish.columns import label

    name = plan.dataset.name
    json_out = None if "json" in plan.skipped else JsonWriter(staging / f"{name}.json", plan.columns)
    sheet = workbook if workbook is not None and "workbook" not in plan.skipped else None
    if sheet is not None:
        sheet.sheet(name, [label(c.name, name)["label_zh"] for c in plan.columns], [c.name for c in plan.columns])
    csv_files, parquet_files = [], []
    parts = bulk_partitions(conn, plan)
    if parts is not None:
        _bulk_parts(conn, staging, plan, parts, limits.row_group_rows, csv_files, parquet_files)
    part = None if plan.partition_by or parts is not None else _open_part(staging, plan, ())
    row_by_row = parts is None or json_out is not None or sheet is not None
    for key, rows in chunks(conn, plan, limits.row_group_rows) if row_by_row else ():
        if parts is not None:
            _write_rows(rows, json_out, sheet)
            continue
        if part is None or part.key != key:
            if part is not None:
                _close_part(staging, plan, part, csv_files, parquet_files)
            part = _open_part(staging, plan, key)
        part.csv.write(rows)
        part.parquet.write(rows)
        _write_rows(rows, json_out, sheet)
    if part is not None:
        _close_part(staging, plan, part, csv_files, parquet_files)
    files = csv_files + parquet_files
    if json_out is not None:
        json_out.close()
        files.append(file_entry(staging, f"{name}.json", name, json_out.rows))
    return files


def _write_rows(rows: list[tuple], json_out: JsonWriter | None, sheet: WorkbookWriter | None) -> None:
    if json_out is not None:
        json_out.write(rows)
    if sheet is not None:
        sheet.write(rows)


def _form(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def catalogue_entry(plan: Plan, files: list[dict]) -> dict:
    """The dataset's entry in datasets.json: labels and units of its columns; where a dataset is not
    in the four default forms (NAME.csv, NAME.parquet, NAME.json, a sheet), its files and skipped forms."""
    from publish.columns import label

    name = plan.dataset.name
    entry = {"label_zh": plan.dataset.label_zh, "rows": plan.rows,
             "columns": [{"name": c.name, "type": c.pg_type, **label(c.name, name)} for c in plan.columns]}
    if plan.default_layout:
        return entry
    if plan.partition_by:
        entry["partitioned_by"] = [{"key": k, **PARTITION_KEYS[k]} for k in plan.partition_by]
    entry["files"] = [{"form": _form(f["name"]), **{k: v for k, v in f.items() if k != "dataset"}} for f in files]
    if "workbook" not in plan.skipped:
        entry["files"].append({"form": "xlsx", "name": "两镇数据.xlsx", "sheet": name[:31], "rows": plan.rows})
    entry["skipped_forms"] = plan.skipped
    return entry


def write_files(conn, datasets: list[Dataset], staging: Path, limits: Limits) -> tuple[list[dict], dict]:
    """Every file of a version except the manifest, written into `staging`: (manifest file entries in
    the order csv, parquet, json per dataset, then the workbook and datasets.json; skipped forms)."""
    from publish.export import WORKBOOK_NAME

    plans = [plan_dataset(conn, d, limits) for d in datasets]
    in_workbook = 0
    for p in plans:  # in dataset order: the sheets that fit in the workbook's total
        if "workbook" not in p.skipped and in_workbook + p.rows > limits.workbook_max_rows:
            p.skipped["workbook"] = _skip("workbook_total", p.rows, limits.workbook_max_rows)
        elif "workbook" not in p.skipped:
            in_workbook += p.rows
    sheet_rows = [p.rows for p in plans if "workbook" not in p.skipped]
    workbook = WorkbookWriter(staging / WORKBOOK_NAME, streaming=sum(sheet_rows) > limits.workbook_memory_rows) \
        if sheet_rows else None
    files, catalogue = [], {}
    for plan in plans:
        entries = write_dataset(conn, plan, staging, limits, workbook)
        files += entries
        catalogue[plan.dataset.name] = catalogue_entry(plan, entries)
        point("publish.write")
    if workbook is not None:
        workbook.close()
        files.append(file_entry(staging, WORKBOOK_NAME, "*", workbook.rows))
    (staging / "datasets.json").write_bytes(json.dumps(catalogue, ensure_ascii=False, indent=2).encode("utf-8")
                                            + b"\n")
    files.append(file_entry(staging, "datasets.json", "*", 0))
    return files, {p.dataset.name: p.skipped for p in plans if p.skipped}
