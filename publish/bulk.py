"""The bulk path of a dataset's CSV and Parquet files: PostgreSQL formats the CSV (COPY ... TO STDOUT,
streamed in blocks into the file) and Arrow reads that file back into the Parquet row groups, so no
Python code runs per row or per cell. The bytes are those of the row-by-row writers of publish.stream
(and so of publish.export.to_csv / to_parquet): each column is selected through a SQL expression that
gives csv_cell's text, and PostgreSQL's CSV quoting equals the csv module's (QUOTE_MINIMAL, "\\n")
for every value this path accepts.

A dataset takes the row-by-row path instead when the bulk path could not give the same bytes:
- a database not in UTF-8; a column of a type without an exact SQL rendering here (double precision
  and real: PostgreSQL's shortest float text is not Python's repr; arrays, json, intervals ...); a
  single column (the csv module writes an empty lone field as "");
- a text value that is empty (PostgreSQL quotes it, the csv module does not), holds a carriage return
  (PostgreSQL quotes it, the csv module of Python 3.11 does not), or starts with ' and a formula
  character (the Parquet reading of the CSV could not tell it from an escaped formula).
One scan per dataset (with the partition counts) finds out.
"""

from __future__ import annotations

from pathlib import Path

from psycopg import sql

from publish.export import FORMULA_PREFIXES, Column, _arrow_type

TEXT_TYPES = ("text", "character varying")
BULK_TYPES = (*TEXT_TYPES, "integer", "bigint", "smallint", "numeric", "boolean", "date",
              "timestamp with time zone", "timestamp without time zone")
COPY_BLOCK_BYTES = 1 << 20  # what PostgreSQL sends is gathered into writes of about this size
ARROW_BLOCK_BYTES = 16 << 20  # the CSV read back in blocks of this size


def _prefix_codes() -> sql.Composable:
    """The code points of the formula characters: ascii(text) is much cheaper than left(text, 1)."""
    return sql.SQL(", ").join(sql.Literal(ord(p)) for p in FORMULA_PREFIXES)


def _timestamp_text(value: sql.Composable, utc: bool) -> sql.Composable:
    """ISO text as publish.export._iso gives it: T between date and time, microseconds only when not
    zero, Z for an instant (in UTC)."""
    if utc:
        value = sql.SQL("({} at time zone 'UTC')").format(value)
    return sql.SQL("to_char({v}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || case when date_trunc('second', {v}) = {v} "
                   "then '' else to_char({v}, '.US') end{z}").format(v=value, z=sql.SQL(" || 'Z'" if utc else ""))


def cell_sql(column: Column) -> sql.Composable:
    """The SQL text of one column's values that publish.export.csv_cell gives (NULL for an empty cell)."""
    c, kind = sql.Identifier(column.name), column.pg_type
    if kind in TEXT_TYPES:
        return sql.SQL("case when ascii({c}) in ({p}) then '''' || {c} else nullif({c}, '') end").format(
            c=c, p=_prefix_codes())
    if kind == "numeric":  # an integral value without its zeros (Decimal.normalize), others as stored
        return sql.SQL("case when {c} = trunc({c}) then trim_scale({c})::text else {c}::text end").format(c=c)
    if kind == "boolean":
        return sql.SQL("case when {c} then 'true' when not {c} then 'false' end").format(c=c)
    if kind == "date":
        return sql.SQL("to_char({}, 'YYYY-MM-DD')").format(c)
    if kind.startswith("timestamp"):
        return _timestamp_text(c, kind == "timestamp with time zone")
    if kind in ("integer", "bigint", "smallint"):
        return sql.SQL("{}::text").format(c)
    raise ValueError(f"no bulk rendering of {kind} ({column.name})")


def _unsafe_text(columns: list[Column]) -> sql.Composable:
    """True for a row holding a text value the bulk path would not render as the csv module does."""
    terms = [sql.SQL("({c} = '' or strpos({c}, {cr}) > 0 or (ascii({c}) = {q} and ascii(substr({c}, 2)) in ({p})))")
             .format(c=sql.Identifier(c.name), cr=sql.Literal("\r"), q=sql.Literal(ord("'")),
                     p=_prefix_codes())
             for c in columns if c.pg_type in TEXT_TYPES]
    return sql.SQL(" or ").join(terms) if terms else sql.SQL("false")


def bulk_partitions(conn, plan) -> list[tuple[tuple, int]] | None:
    """[(partition key, rows)] in the order of the row-by-row stream (one entry, key (), when not
    partitioned), or None when the dataset must take the row-by-row path (see the module's doc)."""
    if len(plan.columns) < 2 or any(c.pg_type not in BULK_TYPES for c in plan.columns):
        return None
    if conn.info.parameter_status("server_encoding") != "UTF8":  # ascii() gives code points in UTF-8 only
        return None
    from core.datasets import key_sql as _key_sql

    keys = _key_sql(plan.partition_by)
    table = sql.SQL("{}.{}").format(sql.Identifier("marts"), sql.Identifier(plan.dataset.name))
    counts = sql.SQL("count(*), count(*) filter (where {})").format(_unsafe_text(plan.columns))
    if keys:
        positions = sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(keys)))
        query = sql.SQL("select {k}, {n} from {t} group by {p} order by {p}").format(
            k=sql.SQL(", ").join(keys), n=counts, t=table, p=positions)
    else:
        query = sql.SQL("select {n} from {t}").format(n=counts, t=table)
    rows = conn.execute(query).fetchall()
    if any(r[-1] for r in rows):
        return None
    return [(tuple(r[:-2]), r[-2]) for r in rows]


def copy_query(plan, key: tuple) -> sql.Composable:
    """COPY of one partition (the whole table for key ()) as CSV with a header, in the dataset's order."""
    from core.datasets import key_sql as _key_sql

    where = [sql.SQL("{} is null").format(k) if v is None else sql.SQL("{} = {}").format(k, sql.Literal(v))
             for k, v in zip(_key_sql(plan.partition_by), key, strict=True)]
    select = sql.SQL("select {cells} from {s}.{t}{where} order by {order}").format(
        cells=sql.SQL(", ").join(sql.SQL("{} as {}").format(cell_sql(c), sql.Identifier(c.name))
                                 for c in plan.columns),
        s=sql.Identifier("marts"), t=sql.Identifier(plan.dataset.name),
        where=sql.SQL(" where ") + sql.SQL(" and ").join(where) if where else sql.SQL(""),
        order=sql.SQL(", ").join(sql.Identifier(c) for c in plan.dataset.order_by))
    return sql.SQL("copy ({}) to stdout with (format csv, header true)").format(select)


def copy_csv(conn, query: sql.Composable, path: Path) -> None:
    """The COPY's output into `path` after a UTF-8 BOM, block by block (bytes as PostgreSQL sends them:
    the connection's encoding must be UTF-8)."""
    if conn.info.encoding != "utf-8":
        raise RuntimeError(f"the bulk CSV path needs a UTF-8 client encoding, not {conn.info.encoding}")
    with open(path, "wb") as f, conn.cursor() as cur, cur.copy(query) as copy:
        f.write("\ufeff".encode())
        pending, size = [], 0
        for block in copy:
            pending.append(bytes(block))
            size += len(block)
            if size >= COPY_BLOCK_BYTES:
                f.write(b"".join(pending))
                pending, size = [], 0
        f.write(b"".join(pending))


def _unescape(batch, columns: list[Column]):
    """The stored text back from csv_cell's: a formula's leading ' removed (values that could not be
    told from an escaped formula took the row-by-row path)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pattern = "^'[" + "".join("\\-" if p == "-" else p for p in FORMULA_PREFIXES) + "]"
    arrays = []
    for column, array in zip(columns, batch.columns, strict=True):
        if column.pg_type in TEXT_TYPES:
            array = pc.if_else(pc.match_substring_regex(array, pattern), pc.utf8_slice_codeunits(array, 1), array)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def csv_batches(path: Path, columns: list[Column]):
    """The published CSV read back as Arrow record batches of the Parquet schema's types and values."""
    import pyarrow.csv as pcsv

    convert = pcsv.ConvertOptions(column_types={c.name: _arrow_type(c) for c in columns}, null_values=[""],
                                  strings_can_be_null=True, true_values=["true"], false_values=["false"])
    with pcsv.open_csv(str(path), read_options=pcsv.ReadOptions(block_size=ARROW_BLOCK_BYTES),
                       convert_options=convert) as reader:
        for batch in reader:
            if batch.num_rows:
                yield _unescape(batch, columns)


def csv_to_parquet(path: Path, writer, columns: list[Column], row_group_rows: int) -> None:
    """Row groups of exactly `row_group_rows` rows (the last one fewer), each from contiguous arrays as
    the row-by-row writer builds them, so that the pages and bytes are the same."""
    import pyarrow as pa

    pending, rows = [], 0
    for batch in csv_batches(path, columns):
        pending.append(batch.cast(writer.schema) if batch.schema != writer.schema else batch)
        rows += batch.num_rows
        while rows >= row_group_rows:
            table = pa.Table.from_batches(pending, schema=writer.schema)
            writer.write_table(table.slice(0, row_group_rows).combine_chunks())
            rest = table.slice(row_group_rows)
            pending, rows = rest.combine_chunks().to_batches(), rest.num_rows
    if rows:
        writer.write_table(pa.Table.from_batches(pending, schema=writer.schema).combine_chunks())
