"""Write-audit-publish on a file target: versions, idempotency, atomicity, CSV safety."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publish import wap
from publish.export import csv_cell
from publish.wap import AuditError, publish, read_latest

pytestmark = pytest.mark.integration


@pytest.fixture
def marts(conn):
    """Two small mart tables in the module's own database (what dbt would have built)."""
    conn.execute("drop schema if exists marts cascade")
    conn.execute("create schema marts")
    conn.execute("create table marts.towns (town_code text, valid_from date, name_zh text, status text)")
    conn.execute("insert into marts.towns values ('CT-1', '2015-06-01', '=HYPERLINK(\"x\")', 'active'), "
                 "('CT-2', '2016-01-01', '南湖基金小镇', 'active')")
    conn.execute("create table marts.submissions (county_code text, year int, quarter int, version int, late boolean)")
    conn.execute("insert into marts.submissions values ('330402', 2016, 3, 1, false)")
    return conn


@pytest.mark.parametrize(("value", "text"), [("=1+1", "'=1+1"), ("+86", "'+86"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
                                             ("南湖", "南湖"), (True, "true"), (None, "")])
def test_csv_cells_escape_formula_like_text(value, text):
    assert csv_cell(value) == text


def test_publish_writes_a_complete_version_and_switches_latest(marts, tmp_path):
    url = (tmp_path / "pub").as_uri()
    result = publish(url, marts)
    assert result.created
    root = tmp_path / "pub"
    assert (root / "LATEST").read_text().strip() == result.version
    manifest = json.loads((root / "v" / result.version / "manifest.json").read_text())
    for f in manifest["files"]:
        data = (root / "v" / result.version / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
    towns = (root / "v" / result.version / "towns.csv").read_bytes()
    assert towns.startswith("\ufeff".encode())
    assert "'=HYPERLINK" in towns.decode("utf-8-sig")
    assert {f["rows"] for f in manifest["files"] if f["dataset"] == "towns"} == {2}


def test_publishing_unchanged_data_makes_no_new_version_and_same_bytes(marts, tmp_path):
    url = (tmp_path / "pub").as_uri()
    first = publish(url, marts, now=datetime(2026, 11, 1, tzinfo=UTC))
    again = publish(url, marts, now=datetime(2026, 11, 2, tzinfo=UTC))
    assert not again.created and again.version == first.version
    assert len(list((tmp_path / "pub" / "v").iterdir())) == 1
    marts.execute("update marts.towns set status = 'eliminated' where town_code = 'CT-2'")
    third = publish(url, marts, now=datetime(2026, 11, 3, tzinfo=UTC))
    assert third.created and third.version != first.version
    assert read_latest(url)["version"] == third.version


def test_a_failed_audit_leaves_the_previous_latest(marts, tmp_path, monkeypatch):
    url = (tmp_path / "pub").as_uri()
    first = publish(url, marts)
    marts.execute("insert into marts.towns values ('CT-3', '2016-07-01', '新镇', 'active')")

    def failing_audit(*args, **kwargs):
        raise AuditError("row counts differ")

    monkeypatch.setattr(wap, "audit", failing_audit)
    with pytest.raises(AuditError):
        publish(url, marts)
    assert (Path(tmp_path / "pub") / "LATEST").read_text().strip() == first.version
    assert read_latest(url)["version"] == first.version
