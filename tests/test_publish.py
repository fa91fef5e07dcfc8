"""Write-audit-publish: four forms per dataset, versions, idempotency, atomicity, retention, S3, CSV safety."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from publish import wap
from publish.columns import COLUMNS
from publish.export import WORKBOOK_NAME, csv_cell
from publish.wap import AuditError, prune, publish, read_latest, versions

pytestmark = pytest.mark.integration


@pytest.fixture
def marts(conn):
    """Two small mart tables in the module's own database (what dbt would have built)."""
    conn.execute("drop schema if exists marts cascade")
    conn.execute("create schema marts")
    conn.execute("create table marts.towns (town_code text, valid_from date, name_zh text, status text, "
                 "valid_to date)")
    conn.execute("insert into marts.towns values ('CT-1', '2015-06-01', '=HYPERLINK(\"x\")', 'active', null), "
                 "('CT-2', '2016-01-01', '南湖基金小镇', 'active', '2016-12-31')")
    conn.execute("create table marts.submissions (county_code text, year integer, quarter integer, version integer, "
                 "received_at timestamptz, late boolean, file_sha256 text, errors integer)")
    conn.execute("insert into marts.submissions values ('330402', 2016, 3, 1, '2016-10-12 09:30+08', false, "
                 "'ab', 0), ('330402', 2016, 3, null, '2016-10-11 09:30+08', false, 'cd', 2)")
    conn.execute("create table marts.investment_progress (year integer, quarter integer, town_code text, "
                 "fai_ytd numeric(20, 6), progress_ratio numeric(20, 6), early_warning boolean)")
    conn.execute("insert into marts.investment_progress values (2016, 3, 'CT-1', 123456.7, 0.812345, false), "
                 "(2016, 3, 'CT-2', null, null, true)")
    return conn


@pytest.mark.parametrize(("value", "text"), [("=1+1", "'=1+1"), ("+86", "'+86"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
                                             ("南湖", "南湖"), (True, "true"), (None, "")])
def test_csv_cells_escape_formula_like_text(value, text):
    assert csv_cell(value) == text


def test_publish_writes_every_dataset_in_four_forms_and_switches_latest(marts, tmp_path):
    import openpyxl
    import pyarrow.parquet as pq

    url = (tmp_path / "pub").as_uri()
    result = publish(url, marts)
    assert result.created
    root = tmp_path / "pub"
    vdir = root / "v" / result.version
    assert (root / "LATEST").read_text().strip() == result.version
    assert (root / "latest").resolve() == vdir.resolve()
    manifest = json.loads((vdir / "manifest.json").read_text())
    names = {f["name"] for f in manifest["files"]}
    for ds in ("towns", "submissions", "investment_progress"):
        assert {f"{ds}.csv", f"{ds}.parquet", f"{ds}.json"} <= names
    assert {WORKBOOK_NAME, "datasets.json"} <= names
    for f in manifest["files"]:
        data = (vdir / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
    towns = (vdir / "towns.csv").read_bytes()
    assert towns.startswith("\ufeff".encode()) and "'=HYPERLINK" in towns.decode("utf-8-sig")
    # parquet keeps types; json keeps values; the workbook keeps formula-like text as text
    progress = pq.read_table(vdir / "investment_progress.parquet")
    assert str(progress.schema.field("fai_ytd").type) == "decimal128(20, 6)"
    assert progress.column("fai_ytd").to_pylist()[0] == Decimal("123456.700000")
    records = json.loads((vdir / "investment_progress.json").read_text())
    assert records[0] == {"year": 2016, "quarter": 3, "town_code": "CT-1", "fai_ytd": 123456.7,
                          "progress_ratio": 0.812345, "early_warning": False}
    wb = openpyxl.load_workbook(io.BytesIO((vdir / WORKBOOK_NAME).read_bytes()))
    assert set(wb.sheetnames) == {"towns", "submissions", "investment_progress"}
    assert wb["towns"]["C3"].value == '=HYPERLINK("x")' and wb["towns"]["C3"].data_type == "s"
    assert wb["towns"]["A1"].value == "小镇/试点镇代码" and wb["towns"]["A2"].value == "town_code"
    catalogue = json.loads((vdir / "datasets.json").read_text())
    assert catalogue["investment_progress"]["columns"][3] == {
        "name": "fai_ytd", "type": "numeric", "label_zh": "固定资产投资累计", "unit": "万元"}
    assert manifest["missing_datasets"]  # the marts not built here are listed, not silently absent


def test_every_published_column_has_a_chinese_label(marts, tmp_path):
    publish((tmp_path / "pub").as_uri(), marts)
    version = (tmp_path / "pub" / "LATEST").read_text().strip()
    catalogue = json.loads((tmp_path / "pub" / "v" / version / "datasets.json").read_text())
    unlabelled = [(ds, c["name"]) for ds, d in catalogue.items() for c in d["columns"] if c["name"] not in COLUMNS]
    assert unlabelled == []


def test_publishing_unchanged_data_makes_no_new_version_and_same_bytes(marts, tmp_path):
    url = (tmp_path / "pub").as_uri()
    first = publish(url, marts, now=datetime(2026, 11, 1, tzinfo=UTC))
    again = publish(url, marts, now=datetime(2026, 11, 2, tzinfo=UTC))
    assert not again.created and again.version == first.version
    assert len(list((tmp_path / "pub" / "v").iterdir())) == 1
    # an independent export of the same marts is byte-identical, file by file
    other = publish((tmp_path / "other").as_uri(), marts, now=datetime(2026, 11, 5, tzinfo=UTC))
    assert [(f["name"], f["sha256"]) for f in other.files] == [(f["name"], f["sha256"]) for f in first.files]
    marts.execute("update marts.towns set status = 'eliminated' where town_code = 'CT-2'")
    third = publish(url, marts, now=datetime(2026, 11, 3, tzinfo=UTC))
    assert third.created and third.version != first.version
    assert read_latest(url)["version"] == third.version


def test_a_failed_audit_leaves_the_previous_latest(marts, tmp_path, monkeypatch):
    url = (tmp_path / "pub").as_uri()
    first = publish(url, marts)
    marts.execute("insert into marts.towns values ('CT-3', '2016-07-01', '新镇', 'active', null)")

    def failing_audit(*args, **kwargs):
        raise AuditError("row counts differ")

    with pytest.raises(AuditError):
        publish(url, marts, audits=[failing_audit])
    assert (Path(tmp_path / "pub") / "LATEST").read_text().strip() == first.version
    assert (tmp_path / "pub" / "latest").resolve().name == first.version
    assert read_latest(url)["version"] == first.version
    monkeypatch.setattr(wap, "audit", failing_audit)
    with pytest.raises(AuditError):
        publish(url, marts)
    assert read_latest(url)["version"] == first.version


def test_retention_keeps_the_newest_versions_and_never_latest(marts, tmp_path):
    url = (tmp_path / "pub").as_uri()
    made = []
    for day in range(1, 6):
        marts.execute("update marts.towns set name_zh = %s where town_code = 'CT-2'", (f"镇{day}",))
        made.append(publish(url, marts, now=datetime(2026, 11, day, tzinfo=UTC)).version)
    (tmp_path / "pub" / "v" / "20261101T000000Z-deadbeef").mkdir()  # an incomplete folder of a failed run
    deleted = prune(url, keep=2)
    assert versions(url) == made[-2:]
    assert set(deleted) == set(made[:3]) | {"20261101T000000Z-deadbeef"}
    # LATEST is kept even when it is not among the newest (after a manual rollback)
    (tmp_path / "pub" / "LATEST").write_text(made[-2] + "\n")
    prune(url, keep=1)
    assert made[-2] in versions(url)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3_server(monkeypatch):
    """moto's S3-compatible server on loopback (a test double for the object store)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("FSSPEC_S3_KEY", "test")
    monkeypatch.setenv("FSSPEC_S3_SECRET", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import fsspec

    fsspec.config.set_conf_env(fsspec.config.conf)
    fs = fsspec.filesystem("s3", endpoint_url=endpoint, key="test", secret="test", skip_instance_cache=True)
    fs.mkdir("publication")
    yield endpoint
    proc.terminate()
    proc.wait(timeout=10)
    fsspec.config.conf.pop("s3", None)


def test_publish_to_an_s3_object_store(marts, s3_server):
    import fsspec

    url = "s3://publication/twotowns"
    first = publish(url, marts)
    again = publish(url, marts)
    assert first.created and not again.created
    fs = fsspec.filesystem("s3", endpoint_url=s3_server, key="test", secret="test", skip_instance_cache=True)
    assert fs.cat_file("publication/twotowns/LATEST").decode().strip() == first.version
    manifest = json.loads(fs.cat_file(f"publication/twotowns/v/{first.version}/manifest.json"))
    for f in manifest["files"]:
        assert hashlib.sha256(fs.cat_file(f"publication/twotowns/v/{first.version}/{f['name']}")).hexdigest() \
            == f["sha256"]
    assert read_latest(url)["version"] == first.version
