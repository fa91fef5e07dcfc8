"""Land the history of a scaled sample (2015Q1 up to the quarter before the inbox's) straight into the
warehouse, without files: landing.files, landing.submissions (accepted, version 1, on time) and
raw.report_values, through PostgreSQL COPY, with the exact columns ingest writes (ingest/landing.py
`_copy_values`, ingest/migrations).

    load_history(Path("data/nation"), conn_or_url)   # after python -m samplegen --scale nation --out ...

The values are those of samplegen.scalevalues (the same arrays the inbox files are written from), so
the inbox's reports pass the cross-period checks (YTD never decreasing, growth bounds, growth
mismatch, 上年同期) against this history exactly as the city sample's reports do against theirs.

A history "file" has a stable made-up sha256 (of its county and period), size 0 and archive_path
`samplegen-history:<scale>/<county>_<period>` (there are no bytes to reprocess). The rows are built
as text blocks with numpy (one block per form and quarter, no Python object per value) and written
with COPY in one transaction. Idempotent: a history already loaded is left as it is.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from samplegen.periods import CST
from samplegen.scale import SCALES, ScaledRegistry, build_registry
from samplegen.scalevalues import PERIODS, FormValues, build_values
from samplegen.workbook import sheet_names

SCALE_FILE = "scale.json"  # DIR/scale.json: which scale DIR holds (written by samplegen.scalefiles)
VALUE_COLUMNS = ("submission_id, county_code, year, quarter, form, town_code, indicator, value, "
                 "source_file_sha256, source_sheet, source_cell, value_prev_year, prev_year_source_cell")
SUBMISSION_COLUMNS = ("file_sha256, file_name, received_at, processed_at, county_code, year, quarter, forms, "
                      "status, version, deadline, late, errors, warnings, reporter, phone, report_date")
FIRST_DATA_ROW = 4  # the first data row of a form sheet (title, form line, header)


@dataclass(frozen=True)
class HistoryCounts:
    files: int
    submissions: int
    values: int
    loaded: bool  # False: the history was there already


def history_sha(scale: str, county: str, period: tuple[int, int]) -> str:
    return hashlib.sha256(f"twotowns-samplegen-history|{scale}|{county}|{period[0]}Q{period[1]}".encode()).hexdigest()


def _deadline(year: int, quarter: int) -> date:
    if quarter == 4:
        return date(year + 1, 1, 31)
    end = date(year, quarter * 3, 30 if quarter in (2, 3) else 31)
    return end + timedelta(days=20)


def _submission_rows(reg: ScaledRegistry, forms: dict[str, FormValues], periods: list[int]) -> list[tuple]:
    """One accepted submission per county and quarter, received on time (5-18 days after the quarter)."""
    rng = np.random.default_rng([20240913, 11, len(reg.counties)])
    days = rng.integers(5, 19, (len(reg.counties), len(PERIODS)))
    minutes = rng.integers(8 * 60 + 30, 17 * 60 + 30, (len(reg.counties), len(PERIODS)))
    has = {f: np.zeros((len(reg.counties), len(PERIODS)), dtype=bool) for f in ("LZ-1", "LZ-2")}
    for f in has:
        np.logical_or.at(has[f], forms[f].county_of, forms[f].member)
    rows = []
    for t in periods:
        year, quarter = PERIODS[t]
        end = _deadline(year, quarter) - timedelta(days=31 if quarter == 4 else 20)
        for c, county in enumerate(reg.counties):
            received = datetime(end.year, end.month, end.day, tzinfo=CST) + timedelta(
                days=int(days[c, t]), minutes=int(minutes[c, t]))
            form_list = ["LZ-0"] + [f for f in ("LZ-1", "LZ-2") if has[f][c, t]]
            rows.append((history_sha(reg.spec.name, county.code, (year, quarter)), f"{county.code}_{year}Q{quarter}.xlsx",
                         received, received, county.code, year, quarter, form_list, "accepted", 1,
                         _deadline(year, quarter), False, 0, 0, "统计员", f"0573-8{c:07d}",
                         (received - timedelta(days=1)).date()))
    return rows


def _field(array: np.ndarray) -> np.ndarray:
    return np.asarray(array).astype(np.bytes_)


def _join_rows(fields: list[np.ndarray | bytes], n: int) -> bytes:
    """Concatenate per-row byte fields (numpy 'S' arrays of length n, or one bytes for every row) into one
    block, vectorised: the fields side by side as a byte matrix, each cut at its length."""
    mats, masks = [], []
    for f in fields:
        arr = np.full(n, f, dtype=f"S{max(len(f), 1)}") if isinstance(f, bytes) else f
        width = arr.dtype.itemsize
        mats.append(arr.view(np.uint8).reshape(n, width))
        masks.append(np.arange(width) < np.strings.str_len(arr)[:, None])
    return np.concatenate(mats, axis=1)[np.concatenate(masks, axis=1)].tobytes()


def _value_text(raw: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """Canonical value text as ingest stores it: tenths -> '1234.5' or '1234' (integral), integers as they are."""
    whole = np.where(decimals == 1, raw // 10, raw)
    tenth = np.where(decimals == 1, raw % 10, 0)
    fraction = np.where(tenth > 0, np.strings.add(b".", _field(tenth)), b"")
    return np.strings.add(_field(whole), fraction)


def _column_letters(count: int) -> list[bytes]:
    letters = "CDEFGHIJKLMNOPQRSTUVWXYZ"
    return [letters[k].encode() for k in range(count)]


def value_block(fv: FormValues, t: int, sids: np.ndarray, shas: np.ndarray, county_codes: np.ndarray) -> bytes:
    """The COPY text of one form's values in period t: one row per member entity and indicator."""
    entities = np.flatnonzero(fv.member[:, t])
    if len(entities) == 0:
        return b""
    counties = fv.county_of[entities]  # grouped: town codes sort by county
    first = np.r_[True, counties[1:] != counties[:-1]]
    rank = np.arange(len(entities)) - np.maximum.accumulate(np.where(first, np.arange(len(entities)), 0))
    k = len(fv.indicators)
    e, i = np.repeat(entities, k), np.tile(np.arange(k), len(entities))
    decimals = np.array([d for _, d in fv.indicators])[i]
    year, quarter = PERIODS[t]
    town = b"\\N" if fv.form == "LZ-0" else fv.codes[e].astype(np.bytes_)
    fields = [_field(sids[fv.county_of[e]]), b"\t", county_codes[fv.county_of[e]],
              f"\t{year}\t{quarter}\t{fv.form}\t".encode(), town, b"\t",
              np.array([c.encode() for c, _ in fv.indicators])[i], b"\t", _value_text(fv.values[e, i, t], decimals),
              b"\t", shas[fv.county_of[e]], f"\t{sheet_names()[fv.form]}\t".encode(),
              np.array(_column_letters(k))[i], _field(np.repeat(rank, k) + FIRST_DATA_ROW), b"\t\\N\t\\N\n"]
    return _join_rows(fields, len(e))


def _scale_of(out_dir: Path) -> str:
    return json.loads((Path(out_dir) / SCALE_FILE).read_text(encoding="utf-8"))["scale"]


def _connect(conn_or_url):
    if isinstance(conn_or_url, str) or conn_or_url is None:
        from core.warehouse import connect

        return connect(conn_or_url, autocommit=True), True
    return conn_or_url, False


def load_history(out_dir: Path, conn_or_url=None, *, scale: str | None = None) -> HistoryCounts:
    """Land the history of the scaled sample in `out_dir` (its scale.json) into the warehouse at
    `conn_or_url` (a psycopg connection in autocommit mode, a URL, or None: WAREHOUSE_URL / the embedded
    one). All of 2015Q1 up to the quarter before the inbox's, in one transaction."""
    from ingest.landing import ensure_schema

    reg = build_registry(SCALES[scale or _scale_of(out_dir)])
    forms = build_values(reg)
    periods = list(range(len(PERIODS) - 1))
    conn, own = _connect(conn_or_url)
    try:
        ensure_schema(conn)
        subs = _submission_rows(reg, forms, periods)
        shas = [r[0] for r in subs]
        present = conn.execute("select count(*) from landing.submissions where file_sha256 = any(%s)",
                               (shas,)).fetchone()[0]
        if present:
            return HistoryCounts(len(subs), present, 0, False)
        with conn.transaction():
            with _foreign_keys_checked_at_the_end(conn):
                values = _copy_history(conn, reg, forms, periods, subs)
        conn.execute("analyze raw.report_values")
        conn.execute("analyze landing.submissions")
        return HistoryCounts(len(subs), len(subs), values, True)
    finally:
        if own:
            conn.close()


@contextmanager
def _foreign_keys_checked_at_the_end(conn):
    """Inside the load's transaction, when raw.report_values is empty (a fresh warehouse): its foreign keys are
    dropped and added back after the COPY, so they are validated by one join instead of a trigger per row (the
    largest cost of the COPY). Otherwise (a table in use) nothing changes. Either way all or nothing commits."""
    from psycopg import sql

    empty = conn.execute("select not exists (select 1 from raw.report_values)").fetchone()[0]
    keys = conn.execute(
        "select conname, pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = 'raw.report_values'::regclass and contype = 'f' order by conname").fetchall() if empty else []
    for name, _definition in keys:
        conn.execute(sql.SQL("alter table raw.report_values drop constraint {}").format(sql.Identifier(name)))
    yield
    for name, definition in keys:  # the catalogue's own definition text, not input
        conn.execute(sql.SQL("alter table raw.report_values add constraint {} {}").format(
            sql.Identifier(name), sql.SQL(definition)))


def _copy_history(conn, reg: ScaledRegistry, forms: dict[str, FormValues], periods: list[int],
                  subs: list[tuple]) -> int:
    with conn.cursor() as cur:
        with cur.copy("copy landing.files (file_sha256, size_bytes, archive_path, first_received_at) from stdin") as cp:
            for r in subs:
                cp.write_row((r[0], 0, f"samplegen-history:{reg.spec.name}/{r[1]}", r[2]))
        with cur.copy(f"copy landing.submissions ({SUBMISSION_COLUMNS}) from stdin") as cp:
            for r in subs:
                cp.write_row(r)
    ids = dict(conn.execute("select file_sha256, submission_id from landing.submissions where file_sha256 = any(%s)",
                            ([r[0] for r in subs],)).fetchall())
    n_counties = len(reg.counties)
    county_codes = np.array([c.code for c in reg.counties]).astype(np.bytes_)
    total = 0
    with conn.cursor() as cur, cur.copy(f"copy raw.report_values ({VALUE_COLUMNS}) from stdin") as cp:
        for j, t in enumerate(periods):
            block = subs[j * n_counties:(j + 1) * n_counties]
            shas = np.array([r[0] for r in block]).astype(np.bytes_)
            sids = np.array([ids[r[0]] for r in block], dtype=np.int64)
            for fv in forms.values():
                cp.write(value_block(fv, t, sids, shas, county_codes))
                total += int(fv.member[:, t].sum()) * len(fv.indicators)
    return total
