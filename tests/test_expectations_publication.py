"""The publication audit: the files of a written version, read back, before LATEST moves.

Small marts are made by hand (no dbt needed); publish.wap writes a version; each
defect is then injected into the files (or the marts) and the checkpoint must
fail on the right expectation. With the audit as a gate of publish(), a blocked
version is never published.
"""

from __future__ import annotations

import json

import pytest

from expectations.publication import audit_publication, publication_gate

pytestmark = pytest.mark.integration

FORMULA_NAME = '=HYPERLINK("http://example.com","点我")'


@pytest.fixture(scope="module")
def small_marts(warehouse):
    from core.warehouse import connect

    with connect(warehouse, autocommit=True) as c:
        c.execute("create schema marts")
        c.execute("create table marts.towns (town_code text not null, county_code text not null, name_zh text not null, "
                  "programme text not null, tier text not null, list_name text, valid_from date not null, "
                  "valid_to date, status text not null)")
        c.execute("insert into marts.towns values "
                  "('CT-330402-01', '330402', '南湖基金小镇', 'characteristic', 'provincial_creation', '省级第一批创建名单', "
                  "'2015-06-01', null, 'active'), "
                  "('CT-330402-02', '330402', %s, 'characteristic', 'municipal', '市级第一批', '2015-10-01', "
                  "'2016-12-31', 'eliminated')", (FORMULA_NAME,))
        c.execute("create table marts.town_quarter_indicators (year integer, quarter integer, county_code text, "
                  "town_code text, programme text, tier text, indicator text, unit text, value_ytd numeric(20, 6), "
                  "value_ytd_prev_year numeric(20, 6), growth_pct numeric(20, 6), reported_growth_pct numeric(20, 6), "
                  "source_file_sha256 text, source_sheet text, source_cell text)")
        c.execute("insert into marts.town_quarter_indicators values "
                  "(2016, 1, '330402', 'CT-330402-01', 'characteristic', 'provincial_creation', 'fai', '万元', "
                  "96.8, 100, -3.2, null, repeat('a', 64), 'LZ-1 特色小镇', 'C4'), "
                  "(2016, 1, '330402', 'CT-330402-01', 'characteristic', 'provincial_creation', 'tax_revenue', '万元', "
                  "12.5, 10, 25, null, repeat('a', 64), 'LZ-1 特色小镇', 'G4')")
    return warehouse


@pytest.fixture
def version(small_marts, conn, tmp_path):
    """A freshly written and published version: (version folder URL, its manifest)."""
    from publish.wap import publish

    url = (tmp_path / "published").as_uri()
    result = publish(url, conn)
    vdir = f"{url}/v/{result.version}"
    return vdir, json.loads((tmp_path / "published" / "v" / result.version / "manifest.json").read_text())


def _path(vdir: str, name: str):
    from pathlib import Path
    from urllib.parse import urlsplit

    return Path(urlsplit(vdir).path) / name


def _rewrite(vdir: str, manifest: dict, name: str, data: bytes) -> None:
    """Replace a file and make the manifest agree with it (so that only the content is at fault)."""
    import hashlib

    _path(vdir, name).write_bytes(data)
    entry = next(f for f in manifest["files"] if f["name"] == name)
    entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def _failed(outcome) -> dict[str, str]:
    return {f"{s.name}.{e.check}": e.severity for s in outcome.suites for e in s.expectations if e.failed}


def test_a_clean_version_passes_and_its_formula_text_is_escaped(version, conn):
    vdir, manifest = version
    outcome = audit_publication(vdir, manifest, conn)
    assert outcome.success and _failed(outcome) == {}
    assert {s.name for s in outcome.suites} == {"publication_files", "publication_csv[towns.csv]",
                                                "publication_csv[town_quarter_indicators.csv]"}
    assert "'" + FORMULA_NAME.replace('"', '""') in _path(vdir, "towns.csv").read_text(encoding="utf-8-sig")
    assert ",-3.2" in _path(vdir, "town_quarter_indicators.csv").read_text(encoding="utf-8-sig")  # a number, as is
    assert outcome.docs_url.endswith("data_docs/publication/index.html")


def test_bytes_that_differ_from_the_manifest_fail_the_checksums(version, conn):
    vdir, manifest = version
    path = _path(vdir, "towns.parquet")
    path.write_bytes(path.read_bytes() + b"\0")
    assert _failed(audit_publication(vdir, manifest, conn, docs=False)) == {
        "publication_files.equal.sha256_manifest_sha256": "critical",
        "publication_files.equal.bytes_manifest_bytes": "critical"}


def test_row_counts_that_differ_from_the_marts_fail(version, conn):
    vdir, manifest = version
    conn.execute("insert into marts.towns select * from marts.towns where town_code = 'CT-330402-01'")
    try:
        outcome = audit_publication(vdir, manifest, conn, docs=False)
    finally:
        conn.execute("delete from marts.towns where ctid = (select max(ctid) from marts.towns)")
    assert _failed(outcome) == {"publication_files.equal.manifest_rows_marts_rows": "critical",
                                "publication_files.equal.file_rows_marts_rows": "critical"}


def test_formula_like_text_unescaped_fails(version, conn):
    vdir, manifest = version
    data = _path(vdir, "towns.csv").read_bytes().replace(b'"\'=HYPERLINK', b'"=HYPERLINK')
    _rewrite(vdir, manifest, "towns.csv", data)
    outcome = audit_publication(vdir, manifest, conn, docs=False)
    assert _failed(outcome) == {"publication_csv[towns.csv].no_formulas": "critical"}
    cells = next(e for s in outcome.suites for e in s.expectations if e.check == "no_formulas" and e.failed).sample
    assert cells == [{"line": 3, "column": "name_zh", "text": FORMULA_NAME}]


def test_a_missing_file_or_a_wrong_header_fails(version, conn):
    vdir, manifest = version
    _path(vdir, "town_quarter_indicators.json").unlink()
    data = _path(vdir, "towns.csv").read_bytes().replace(b"name_zh", b"name", 1)
    _rewrite(vdir, manifest, "towns.csv", data)
    assert _failed(audit_publication(vdir, manifest, conn, docs=False)) == {
        "publication_files.in_set.present": "critical", "publication_files.in_set.header_matches_marts": "critical"}


def test_a_csv_without_bom_is_a_warning_only(version, conn):
    vdir, manifest = version
    _rewrite(vdir, manifest, "towns.csv", _path(vdir, "towns.csv").read_bytes().removeprefix(b"\xef\xbb\xbf"))
    outcome = audit_publication(vdir, manifest, conn, docs=False)
    assert outcome.success and _failed(outcome) == {"publication_files.in_set.utf8_bom": "warning"}


def test_nothing_blocked_is_ever_published(small_marts, conn, tmp_path, monkeypatch):
    """publish.wap runs the GX audit as a gate before LATEST moves: a blocked version stays unpublished."""
    from psycopg import sql

    from expectations.gate import QualityGateFailed, report_path
    from publish import bulk, export
    from publish.wap import publish, read_latest

    url = (tmp_path / "published").as_uri()
    good = publish(url, conn, audits=[publication_gate])
    assert read_latest(url)["version"] == good.version
    assert json.loads(report_path("publication").read_text(encoding="utf-8"))["success"] is True

    conn.execute("update marts.towns set list_name = '市级第一批（更正）' where town_code = 'CT-330402-02'")
    # an exporter that forgets to escape, on the row-by-row path and on the bulk (COPY) path
    monkeypatch.setattr(export, "csv_cell", lambda v: "" if v is None else str(v))
    monkeypatch.setattr(bulk, "cell_sql", lambda column: sql.SQL("{}::text").format(sql.Identifier(column.name)))
    try:
        with pytest.raises(QualityGateFailed, match="no_formulas"):
            publish(url, conn, audits=[publication_gate])
    finally:
        conn.execute("update marts.towns set list_name = '市级第一批' where town_code = 'CT-330402-02'")
    assert read_latest(url)["version"] == good.version
    assert (tmp_path / "published" / "LATEST").read_text().strip() == good.version
    assert json.loads(report_path("publication").read_text(encoding="utf-8"))["success"] is False
