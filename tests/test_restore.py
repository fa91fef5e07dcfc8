"""The archive is the source of truth: after the warehouse is lost, `python -m ops restore --from-archive`
rebuilds landing, raw, the warehouse and the publication from it alone (real DAG runs, dag.test).

A small fixture, not the whole demo: two counties' 2016 reports (a refused report and its correction among
them) and a byte-identical resend under another name, through the inbox and every DAG; then the database is
dropped, the outboxes and quarantine deleted, and the archive replayed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from core import config
from core.warehouse import connect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COUNTIES = ("330402", "330424")
RESEND = "330402_2016Q1_重发.xlsx"


def _state(conn) -> dict:
    """Every submission, version and finding, by the file's bytes (identities aside)."""
    submissions = conn.execute(
        "select file_sha256, file_name, received_at, county_code, year, quarter, forms, status, version, deadline, "
        "late, errors, warnings, reporter, phone, report_date from landing.submissions order by 1").fetchall()
    findings = conn.execute(
        "select s.file_sha256, f.finding_no, f.severity, f.code, f.sheet, f.cell, f.town_code, f.indicator, "
        "f.message_zh, f.message_en from landing.findings f join landing.submissions s using (submission_id) "
        "order by 1, 2").fetchall()
    values = conn.execute("select count(*), sum(value), md5(string_agg(source_file_sha256 || source_sheet || "
                          "source_cell || coalesce(value::text, ''), '|' order by source_file_sha256, source_sheet, "
                          "source_cell)) from raw.report_values").fetchone()
    files = conn.execute("select file_sha256, size_bytes, first_received_at from landing.files order by 1").fetchall()
    return {"submissions": submissions, "findings": findings, "values": values, "files": files}


def _feedback() -> dict:
    """Every receipt a county got, by its path in the outboxes (the submission's identity aside)."""
    out = {}
    for path in sorted(config.outbox_dir().rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc.pop("submission_id", None)
        out[str(path.relative_to(config.outbox_dir()))] = doc
    return out


def _latest() -> dict:
    published = Path(config.publish_url().removeprefix("file://"))
    version = (published / "LATEST").read_text().strip()
    return json.loads((published / "v" / version / "manifest.json").read_text())


@pytest.fixture(scope="module", autouse=True)
def own_folders(runtime_dirs, tmp_path_factory):
    """An archive, outboxes and publication target of this module's own: the restore replays the whole
    archive, and the other modules' files are not this warehouse's."""
    root = tmp_path_factory.mktemp("restore")
    previous = {k: os.environ.get(k) for k in ("TWOTOWNS_VAR_DIR", "PUBLISH_URL")}
    os.environ.update(TWOTOWNS_VAR_DIR=str(root / "var"), PUBLISH_URL=(root / "published").as_uri())
    yield root
    for key, value in previous.items():
        os.environ.pop(key) if value is None else os.environ.update({key: value})


def test_a_lost_warehouse_is_restored_from_the_archive_alone(warehouse, runtime_dirs, sample_dir, expected):
    from psycopg import sql

    from core.warehouse import conn_params, with_database
    from ops import cli

    inbox = config.inbox_dir()
    inbox.mkdir(parents=True, exist_ok=True)
    files = [e for e in expected if e["county_code"] in COUNTIES and e["period"].startswith("2016")]
    for e in files:
        shutil.copy2(sample_dir / e["file"], inbox / e["file"])
    shutil.copy2(sample_dir / "330402_2016Q1.xlsx", inbox / RESEND)
    later = max((inbox / e["file"]).stat().st_mtime for e in files) + 60
    os.utime(inbox / RESEND, (later, later))  # received last: a duplicate of the first

    assert cli.run_plan([("county_reports", {}), ("warehouse_build", {}), ("nightly_publish", {})],
                        mode="test", as_json=False) == 0
    with connect() as conn:
        before = _state(conn)
    feedback = _feedback()
    latest = _latest()
    assert {s[7] for s in before["submissions"]} == {"accepted", "refused"}
    assert any(doc["status"] == "duplicate" for doc in feedback.values())
    assert len(feedback) == len(files) + 1

    # the warehouse is lost: the database dropped and made again, empty; the outboxes and quarantine too
    dbname = conn_params(warehouse).dbname
    with connect(with_database(warehouse, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(dbname)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    shutil.rmtree(config.outbox_dir())
    shutil.rmtree(config.quarantine_dir())

    start = time.monotonic()
    assert cli.main(["restore", "--from-archive"]) == 0
    print(f"\nrestore from the archive ({len(files) + 1} receipts, rebuild, publish): "
          f"{time.monotonic() - start:.1f} s")

    with connect() as conn:
        assert _state(conn) == before
        assert conn.execute("select count(*) from landing.held_files").fetchone() == (0,)
    assert _feedback() == feedback
    assert sorted(p.name for p in config.quarantine_dir().iterdir())  # the refused report kept again
    after = _latest()
    assert after["version"] == latest["version"]  # the same content: no new version
    assert after["content_sha256"] == latest["content_sha256"]

    # and into a fresh publication target: the content hash LATEST had before, from the restored marts
    from publish.wap import publish

    with connect() as conn:
        again = publish((runtime_dirs / "published_again").as_uri(), conn)
    manifest = json.loads((runtime_dirs / "published_again" / "v" / again.version / "manifest.json").read_text())
    assert manifest["content_sha256"] == latest["content_sha256"]


def test_restore_refuses_a_warehouse_that_holds_submissions(warehouse, runtime_dirs):
    from ops.restore import RestoreRefused, restore_from_archive

    with pytest.raises(RestoreRefused, match="empty"):
        restore_from_archive()


def test_backup_and_restore_give_back_the_warehouse_and_the_archive(warehouse, runtime_dirs, tmp_path, capsys):
    """`make backup` / `make restore`: pg_dump (custom format) and the archive, checked against their
    checksums and put back: the submissions, the published marts (and the BI role's grants), the files."""
    from ingest.landing import forget_submission
    from ops import cli

    with connect() as conn:
        before = _state(conn)
        published = conn.execute("select count(*) from marts.submissions").fetchone()[0]
    archived = sorted(p for p in config.archive_dir().rglob("*.xlsx"))
    assert before["submissions"] and published and archived

    assert cli.main(["backup", "--to", str(tmp_path / "backup"), "--json"]) == 0
    made = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert made["archive"]["files"] == len(list(config.archive_dir().rglob("*.*")))

    with connect(autocommit=True) as conn:  # damage: a submission forgotten, a mart dropped, a file lost
        with conn.transaction():
            forget_submission(conn, conn.execute("select min(submission_id) from landing.submissions").fetchone()[0])
        conn.execute("drop table marts.submissions")
    archived[0].unlink()

    assert cli.main(["restore", "--from-backup", str(tmp_path / "backup")]) == 0
    with connect() as conn:
        assert _state(conn) == before
        assert conn.execute("select count(*) from marts.submissions").fetchone()[0] == published
        assert conn.execute("select has_table_privilege(%s, 'marts.submissions', 'select')",
                            (f"{conn.info.dbname}_bi_reader",)).fetchone() == (True,)
    assert archived[0].exists()

    (tmp_path / "backup" / "archive.tar").write_bytes(b"not the archive")
    with pytest.raises(ValueError, match="checksum"):
        cli.main(["restore", "--from-backup", str(tmp_path / "backup")])
