"""Publication at any size: partitions, skipped forms, byte-identical re-runs, the audit of partitions.

An enlarged marts (publish.bench.build_enlarged_marts: generate_series rows shaped like the datasets) is
built in this module's own database, small enough for a test, and published with low limits, so that
`town_quarter_indicators` (3,600 rows) is partitioned by year and province while `towns` and
`submissions` keep the four default forms. Memory and throughput are measured by publish.bench, not here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publish.bench import build_enlarged_marts
from publish.export import WORKBOOK_NAME
from publish.stream import Limits, partition_path
from publish.wap import AuditError, audit, publish, read_latest

pytestmark = pytest.mark.integration

TQI = "town_quarter_indicators"
LIMITS = Limits(partition_rows=1000, by_province=True, json_max_rows=2000, sheet_max_rows=3000,
                workbook_memory_rows=200_000, row_group_rows=500)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def big_marts(warehouse):
    from core.warehouse import connect

    with connect(warehouse, autocommit=True) as c:
        counts = build_enlarged_marts(c, towns=60, provinces=3, years=(2015, 2017), indicators=5)
    assert counts == {"towns": 60, TQI: 3600, "submissions": 60}
    return warehouse


@pytest.fixture
def version(big_marts, conn, tmp_path):
    """A published version of the enlarged marts: (its folder, its manifest)."""
    result = publish((tmp_path / "pub").as_uri(), conn, now=NOW, limits=LIMITS)
    vdir = tmp_path / "pub" / "v" / result.version
    return vdir, json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))


def _csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def test_a_large_dataset_is_partitioned_by_year_and_province(version, conn):
    import pyarrow.parquet as pq

    vdir, manifest = version
    parts = [f for f in manifest["files"] if f["dataset"] == TQI]
    counts = dict(((y, p), n) for y, p, n in conn.execute(
        "select year, left(county_code, 2), count(*) from marts.town_quarter_indicators group by 1, 2").fetchall())
    assert len(counts) == 9  # 3 years x 3 provinces
    expected = {f"{TQI}/year={y}/province={p}/part.{ext}": n for (y, p), n in counts.items() for ext in ("csv", "parquet")}
    assert {f["name"]: f["rows"] for f in parts} == expected  # no NAME.csv, no NAME.json for it
    for f in parts:
        path = vdir / f["name"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"] and path.stat().st_size == f["bytes"]
        match = re.fullmatch(rf"{TQI}/year=(\d{{4}})/province=(\d\d)/part\.(csv|parquet)", f["name"])
        assert f["partition"] == {"year": int(match[1]), "province": match[2]}
        if f["name"].endswith(".parquet"):
            meta = pq.ParquetFile(path).metadata
            assert meta.num_rows == f["rows"] and meta.num_row_groups == -(-f["rows"] // LIMITS.row_group_rows)
            assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups - 1)] == \
                [LIMITS.row_group_rows] * (meta.num_row_groups - 1)
        else:
            rows = _csv_rows(path)
            year, province = f["partition"]["year"], f["partition"]["province"]
            assert {(r[0], r[2][:2]) for r in rows[1:]} == {(str(year), province)}
            keys = [(int(r[1]), r[3], r[6]) for r in rows[1:]]
            assert keys == sorted(keys)  # each partition in the dataset's order: quarter, town_code, indicator
    # the small datasets keep their four forms
    names = {f["name"] for f in manifest["files"]}
    assert {"towns.csv", "towns.parquet", "towns.json", "submissions.json", WORKBOOK_NAME} <= names


def test_datasets_json_and_the_manifest_say_where_the_files_are_and_what_was_skipped(version):
    import openpyxl

    vdir, manifest = version
    catalogue = json.loads((vdir / "datasets.json").read_text(encoding="utf-8"))
    entry = catalogue[TQI]
    assert entry["rows"] == 3600 and [k["key"] for k in entry["partitioned_by"]] == ["year", "province"]
    assert entry["partitioned_by"][1]["column"] == "county_code"
    by_name = {f["name"]: f for f in manifest["files"]}
    assert {f["form"] for f in entry["files"]} == {"csv", "parquet"}
    for f in entry["files"]:
        assert {k: f[k] for k in ("rows", "bytes", "sha256", "partition")} == \
            {k: by_name[f["name"]][k] for k in ("rows", "bytes", "sha256", "partition")}
    skipped = entry["skipped_forms"]
    assert skipped["json"]["reason"] == "rows_above_json_limit" and skipped["json"]["limit"] == 2000
    assert skipped["workbook"]["reason"] == "rows_above_sheet_limit" and skipped["workbook"]["rows"] == 3600
    assert "JSON" in skipped["json"]["note_zh"] and "1,048,576" in skipped["workbook"]["note_zh"]
    assert manifest["skipped_forms"] == {TQI: skipped}
    # a dataset in its four default forms is described as before: labels only
    assert set(catalogue["towns"]) == {"label_zh", "rows", "columns"}
    wb = openpyxl.load_workbook(vdir / WORKBOOK_NAME, read_only=True)
    assert wb.sheetnames == ["towns", "submissions"]


def test_json_alone_is_skipped_when_only_it_is_over_its_limit(big_marts, conn, tmp_path):
    limits = Limits(partition_rows=10_000, json_max_rows=100, sheet_max_rows=3600)
    result = publish((tmp_path / "pub").as_uri(), conn, now=NOW, limits=limits)
    names = {f["name"] for f in result.files}
    assert {f"{TQI}.csv", f"{TQI}.parquet", "towns.json", "submissions.json"} <= names
    assert f"{TQI}.json" not in names
    catalogue = json.loads((tmp_path / "pub" / "v" / result.version / "datasets.json").read_text(encoding="utf-8"))
    assert set(catalogue[TQI]["skipped_forms"]) == {"json"} and "partitioned_by" not in catalogue[TQI]
    assert {"form": "xlsx", "name": WORKBOOK_NAME, "sheet": TQI, "rows": 3600} in catalogue[TQI]["files"]


def test_partitions_hold_exactly_the_rows_of_the_whole_file(big_marts, conn, tmp_path, version):
    """Partitioned or not, the same rows in the same order and the same cells: partitions concatenated
    (header dropped) are the whole dataset's CSV."""
    vdir, manifest = version
    whole = publish((tmp_path / "whole").as_uri(), conn, now=NOW, limits=Limits(partition_rows=10_000))
    whole_rows = _csv_rows(tmp_path / "whole" / "v" / whole.version / f"{TQI}.csv")
    parts = [f["name"] for f in manifest["files"] if f["dataset"] == TQI and f["name"].endswith(".csv")]
    joined = [row for name in parts for row in _csv_rows(vdir / name)[1:]]
    by_year_province = sorted(whole_rows[1:], key=lambda r: (int(r[0]), r[2][:2]))  # stable: order kept
    assert joined == by_year_province and len(joined) == 3600


def test_a_rerun_gives_byte_identical_files(big_marts, conn, tmp_path, version):
    vdir, manifest = version
    url = (tmp_path / "pub").as_uri()
    again = publish(url, conn, now=datetime(2026, 12, 2, tzinfo=UTC), limits=LIMITS)
    assert not again.created and again.version == manifest["version"]
    other = publish((tmp_path / "other").as_uri(), conn, now=datetime(2026, 12, 3, tzinfo=UTC), limits=LIMITS)
    assert [(f["name"], f["sha256"]) for f in other.files] == [(f["name"], f["sha256"]) for f in manifest["files"]]
    assert other.version.split("-")[1] == manifest["version"].split("-")[1]  # same content hash
    assert not list((tmp_path / "pub" / "v").glob(".staging-*"))  # nothing left of the staging folder


def test_the_streamed_workbook_holds_the_same_cells(big_marts, conn, tmp_path):
    """Above PUBLISH_WORKBOOK_MEMORY_ROWS the workbook is written in write-only mode: same sheets and
    cells, formula-like text stays text, panes frozen under the two header rows."""
    import openpyxl

    books = {}
    for memory_rows in (100_000, 0):
        limits = Limits(partition_rows=1000, sheet_max_rows=3000, workbook_memory_rows=memory_rows)
        result = publish((tmp_path / f"m{memory_rows}").as_uri(), conn, now=NOW, limits=limits)
        path = tmp_path / f"m{memory_rows}" / "v" / result.version / WORKBOOK_NAME
        books[memory_rows] = openpyxl.load_workbook(path)
    memory, streamed = books[100_000], books[0]
    assert memory.sheetnames == streamed.sheetnames == ["towns", "submissions"]
    for name in memory.sheetnames:
        assert [[c.value for c in r] for r in memory[name].iter_rows()] == \
            [[c.value for c in r] for r in streamed[name].iter_rows()]
    assert streamed["towns"]["C4"].value.startswith("=HYPERLINK") and streamed["towns"]["C4"].data_type == "s"
    assert streamed["towns"].freeze_panes == "A3" and streamed["towns"]["A1"].font.b


def test_the_audit_refuses_a_damaged_partition(version, conn):
    vdir, manifest = version
    name = f"{TQI}/year=2016/province=12/part.parquet"
    (vdir / name).write_bytes((vdir / name).read_bytes()[:-1] + b"\0")
    with pytest.raises(AuditError, match="year=2016/province=12/part.parquet: bytes or checksum"):
        audit(str(vdir.parents[1].as_uri()), manifest["version"], conn)


def test_the_audit_refuses_a_partition_missing_rows(version, conn):
    """A partition file and its manifest entry agree, but the partition of the marts has more rows."""
    from expectations.publication import audit_publication

    vdir, manifest = version
    name = f"{TQI}/year=2017/province=11/part.csv"
    lines = (vdir / name).read_bytes().split(b"\n")
    data = b"\n".join(lines[:-2] + [b""])  # the last row gone
    (vdir / name).write_bytes(data)
    entry = next(f for f in manifest["files"] if f["name"] == name)
    entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), rows=entry["rows"] - 1)
    (vdir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(AuditError, match=r"year=2017/province=11/part.csv: \d+ rows, marts.town_quarter_indicators "
                                         r"partition \{'year': 2017, 'province': '11'\} has \d+"):
        audit(vdir.parents[1].as_uri(), manifest["version"], conn)
    outcome = audit_publication(vdir.as_uri(), manifest, conn, docs=False)
    failed = {f"{s.name}.{e.check}" for s in outcome.suites for e in s.expectations if e.failed}
    assert failed == {"publication_files.equal.manifest_rows_marts_rows", "publication_files.equal.file_rows_marts_rows"}
    assert not outcome.success


def test_gx_reads_a_large_csv_in_segments_and_finds_a_formula_at_its_line(version, conn, monkeypatch):
    from expectations.publication import audit_publication

    vdir, manifest = version
    monkeypatch.setenv("PUBLISH_AUDIT_SEGMENT_ROWS", "150")
    clean = audit_publication(vdir.as_uri(), manifest, conn, docs=False)
    assert clean.success
    name = f"{TQI}/year=2015/province=11/part.csv"
    rows = next(f["rows"] for f in manifest["files"] if f["name"] == name)
    segments = [s for s in clean.suites if s.table == name]
    assert len(segments) == -(-rows // 150) and sum(s.rows for s in segments) == rows
    assert segments[1].name == f"publication_csv[{name} lines 152-301]"
    # an exporter that forgot to escape: a formula on line 200 of the file (the second segment)
    lines = (vdir / name).read_bytes().split(b"\n")
    lines[199] = lines[199].replace(b",LZ-1 ", b",=cmd|' /C calc'!A0 LZ-1 ", 1)
    data = b"\n".join(lines)
    (vdir / name).write_bytes(data)
    entry = next(f for f in manifest["files"] if f["name"] == name)
    entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    outcome = audit_publication(vdir.as_uri(), manifest, conn, docs=False)
    failed = [(s.name, e) for s in outcome.suites for e in s.expectations if e.failed]
    assert [n for n, _ in failed] == [f"publication_csv[{name} lines 152-301]"]
    assert failed[0][1].sample == [{"line": 200, "column": "source_sheet", "text": "=cmd|' /C calc'!A0 LZ-1 特色小镇"}]


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PUBLISH_PARTITION_ROWS", "10")
    monkeypatch.setenv("PUBLISH_PARTITION_BY_PROVINCE", "true")
    monkeypatch.setenv("PUBLISH_SHEET_MAX_ROWS", "5")
    limits = Limits.from_env(json_max_rows=7)
    assert (limits.partition_rows, limits.by_province, limits.sheet_max_rows, limits.json_max_rows) == (10, True, 5, 7)
    monkeypatch.setenv("PUBLISH_SHEET_MAX_ROWS", "2000000")
    with pytest.raises(ValueError, match="sheet_max_rows"):
        Limits.from_env()


def test_a_partition_path_is_made_of_plain_codes_only():
    assert partition_path(("year", "province"), (2024, "33")) == "year=2024/province=33"
    assert partition_path(("year",), (None,)) == "year=__HIVE_DEFAULT_PARTITION__"
    with pytest.raises(ValueError, match="not a plain code"):
        partition_path(("year", "province"), (2024, ".."))


def test_streamed_files_are_the_bytes_of_the_whole_table_exporters(big_marts, conn, tmp_path):
    """Under the limits, the streaming writers give the bytes publish.export gives for the whole table
    (the city sample's publication stays what it was)."""
    from core.datasets import DATASETS
    from publish.columns import label
    from publish.export import fetch, to_csv, to_json, to_parquet, to_workbook

    limits = Limits(partition_rows=10_000, json_max_rows=10_000, sheet_max_rows=10_000, row_group_rows=10_000)
    result = publish((tmp_path / "pub").as_uri(), conn, now=NOW, limits=limits)
    sha = {f["name"]: f["sha256"] for f in result.files}
    tables = [fetch(conn, d) for d in DATASETS if d.name in ("towns", TQI, "submissions")]
    for table in tables:
        for export in (to_csv(table), to_parquet(table), to_json(table)):
            assert sha[export.file_name] == hashlib.sha256(export.data).hexdigest(), export.file_name
    labels = {t.dataset.name: {c.name: label(c.name, t.dataset.name) for c in t.columns} for t in tables}
    assert sha[WORKBOOK_NAME] == hashlib.sha256(to_workbook(tables, labels).data).hexdigest()
    assert read_latest((tmp_path / "pub").as_uri())["version"] == result.version


def test_numbers_are_never_escaped_and_text_always_is():
    from publish.export import csv_cell

    assert [csv_cell(v) for v in (-3, 7, -3.5, "-x", "=1", "南湖")] == ["-3", "7", "-3.5", "'-x", "'=1", "南湖"]


def test_diff_compares_a_partitioned_dataset_partition_by_partition(big_marts, conn, tmp_path):
    from publish.diff import diff_versions

    url = (tmp_path / "pub").as_uri()
    first = publish(url, conn, now=NOW, limits=LIMITS)
    conn.execute("update marts.town_quarter_indicators set value_ytd = value_ytd + 1 "
                 "where year = 2016 and quarter = 2 and town_code = 'CT-120001-003' and indicator = 'ind_02'")
    try:
        second = publish(url, conn, now=datetime(2026, 12, 2, tzinfo=UTC), limits=LIMITS)
    finally:
        conn.execute("update marts.town_quarter_indicators set value_ytd = value_ytd - 1 "
                     "where year = 2016 and quarter = 2 and town_code = 'CT-120001-003' and indicator = 'ind_02'")
    changed = [f["name"] for f in second.files if f["sha256"] != next(
        (g["sha256"] for g in first.files if g["name"] == f["name"]), None)]
    # one partition changed (and datasets.json, which lists its checksums); the workbook does not hold it
    assert sorted(changed) == ["datasets.json", f"{TQI}/year=2016/province=12/part.csv",
                               f"{TQI}/year=2016/province=12/part.parquet"]
    diff = diff_versions(url)["datasets"]
    assert list(diff) == [TQI] and not diff[TQI]["added"] and not diff[TQI]["removed"]
    [change] = diff[TQI]["changed"]
    assert change["key"] == {"year": 2016, "quarter": 2, "town_code": "CT-120001-003", "indicator": "ind_02"}
    assert list(change["columns"]) == ["value_ytd"]


def test_a_sheet_that_would_pass_the_workbook_total_is_left_out_with_its_reason(big_marts, conn, tmp_path):
    limits = Limits(partition_rows=10_000, workbook_max_rows=3_700)
    result = publish((tmp_path / "pub").as_uri(), conn, now=NOW, limits=limits)
    catalogue = json.loads((tmp_path / "pub" / "v" / result.version / "datasets.json").read_text(encoding="utf-8"))
    # towns (60) and town_quarter_indicators (3,600) fit in 3,700 rows (3,660); submissions (60) would not
    reason = catalogue["submissions"]["skipped_forms"]["workbook"]
    assert reason["reason"] == "workbook_total_limit" and reason["limit"] == 3_700 and reason["rows"] == 60
    assert "skipped_forms" not in catalogue[TQI] and "skipped_forms" not in catalogue["towns"]
    assert {"submissions.csv", "submissions.json"} <= {f["name"] for f in result.files}


def test_gx_holds_at_most_a_segment_of_rows_at_once(version, conn, monkeypatch):
    """Small partitions are not gathered into the one checkpoint (whose batches GX keeps) past the
    segment budget: beyond it, each file is validated alone; every CSV is validated exactly once."""
    from expectations.publication import _split_for_gx, audit_publication

    vdir, manifest = version
    monkeypatch.setenv("PUBLISH_AUDIT_SEGMENT_ROWS", "600")
    outcome = audit_publication(vdir.as_uri(), manifest, conn, docs=False)
    assert outcome.success
    csv_files = {f["name"]: f["rows"] for f in manifest["files"] if f["name"].endswith(".csv")}
    csv_suites = [s for s in outcome.suites if s.name.startswith("publication_csv[")]
    assert sorted(s.table for s in csv_suites) == sorted(csv_files)
    assert sum(s.rows for s in csv_suites) == sum(csv_files.values())
    segments = {name: [f"{i}.csv"] for i, name in enumerate(sorted(csv_files))}
    whole, alone = _split_for_gx(segments, [{"file": n, "file_rows": r} for n, r in csv_files.items()])
    assert sum(csv_files[n] for n in whole) <= 600 < sum(csv_files[n] for n in whole) + min(
        csv_files[n] for n in alone)
    assert set(whole) | set(alone) == set(csv_files) and not set(whole) & set(alone)


TRICKY_DDL = """
drop table if exists marts.tricky_values;
create table marts.tricky_values (id integer, big bigint, small smallint, amount numeric(20, 6),
    wide numeric(38, 10), free numeric, flag boolean, day date, at timestamptz, local_at timestamp, label text,
    code varchar(20));
insert into marts.tricky_values values
 (1, -9223372036854775808, -32768, -3.000000, 12345678901234567890123456.7890123456, -0.5, true, '2016-02-29',
  '2016-10-12 09:30:00+08', '2016-10-12 09:30:00', '=SUM(A1)', '+86'),
 (2, 9223372036854775807, 32767, 1.500000, 0.0000000001, 100000000000000000000000000000, false, '0999-01-01',
  '2016-10-12 09:30:00.5+08', '2016-10-12 09:30:00.000001', '-x', '@x'),
 (3, 0, 0, 0, 0, 0.000000000000000000001, null, null, null, null, e'\\tstarts with a tab', null),
 (4, null, null, null, null, null, true, '2024-12-31', '1999-12-31 23:59:59.999999-05', '1999-12-31 23:59:59.999999',
  'say "hi", then
leave', '南湖基金小镇'),
 (5, -7, 3, -123456789.123456, -1.0000000000, 0.1, false, '2015-01-01', '2015-01-01 00:00+00', '2015-01-01 00:00',
  e'\\\\.', ' space '),
 (6, 42, 1, 100.000000, 10.5000000000, 1.50, true, '2015-06-30', '2015-06-30 12:00:00.123+08', '2015-06-30 12:00',
  'it''s', '-3');
"""


@pytest.mark.parametrize(("extra", "bulk"), [
    ("", True),  # every value the bulk path renders itself
    ("insert into marts.tricky_values (id, label) values (7, '')", False),  # PostgreSQL would quote ""
    ("insert into marts.tricky_values (id, label) values (7, e'\\rreturn')", False),  # and quote a CR
    ("insert into marts.tricky_values (id, label) values (7, e'a\\rb')", False),
    ("insert into marts.tricky_values (id, code) values (7, '''=x')", False),  # ' + formula: ambiguous
    ("alter table marts.tricky_values add column ratio double precision", False),  # repr is not float8out
])
def test_copy_formatted_files_are_the_bytes_of_csv_cell_and_the_arrow_writer(big_marts, conn, tmp_path, monkeypatch,
                                                                               extra, bulk):
    """The COPY-formatted CSV and its Parquet, written by publish.stream for a table of every tricky
    value, are the bytes of publish.export.to_csv (csv_cell, the csv module) and to_parquet; values the
    bulk path would render differently send the dataset down the row-by-row path, with the same bytes."""
    import pyarrow.parquet as pq

    from core.datasets import Dataset
    from publish import bulk as bulk_path
    from publish.export import fetch, to_csv, to_parquet
    from publish.stream import plan_dataset, write_dataset

    conn.execute(TRICKY_DDL)
    if extra:
        conn.execute(extra)
    try:
        dataset = Dataset("tricky_values", "测试", ("id",))
        table = fetch(conn, dataset)
        plan = plan_dataset(conn, dataset, Limits())
        assert (bulk_path.bulk_partitions(conn, plan) is not None) == bulk
        (tmp_path / "one").mkdir()
        files = write_dataset(conn, plan, tmp_path / "one", Limits(), None)
        assert {f["name"]: f["rows"] for f in files} == {f"tricky_values.{e}": len(table.rows)
                                                         for e in ("csv", "parquet", "json")}
        for export in (to_csv(table), to_parquet(table)):  # one row group: the bytes of to_parquet
            assert (tmp_path / "one" / export.file_name).read_bytes() == export.data, export.file_name
        # row groups of 4 rows out of CSV blocks of a few rows each: the same values
        monkeypatch.setattr(bulk_path, "ARROW_BLOCK_BYTES", 200)
        (tmp_path / "four").mkdir()
        write_dataset(conn, plan, tmp_path / "four", Limits(row_group_rows=4), None)
        parquet = pq.ParquetFile(tmp_path / "four" / "tricky_values.parquet")
        assert parquet.read().equals(pq.read_table(io.BytesIO(to_parquet(table).data)))
        sizes = [parquet.metadata.row_group(i).num_rows for i in range(parquet.metadata.num_row_groups)]
        assert sizes == [4, len(table.rows) - 4]
    finally:
        conn.execute("drop table marts.tricky_values")
