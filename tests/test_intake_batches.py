"""Intake that scales out: inbox files packed into batches of whole counties, each batch received in
waves (the k-th file of every county side by side), one file's trouble never holding back the others;
and the county_reports DAG over the city sample through these batches (real PostgreSQL, GX, Airflow)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from core import config
from ingest.inbox import MAX_MAP_LENGTH, plan_batches, receive_batch
from ingest.landing import Incoming, submit_batch
from ingest.parse import sniff_county

# ----------------------------------------------------------------------------- batches (no database)


def _touch(folder: Path, name: str, mtime: int, data: bytes = b"x") -> str:
    path = folder / name
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return str(path)


def _county_by_stem(path: str) -> str:
    """Synthetic counties for packing at nation scale: file i belongs to county i % 2800."""
    return f"C{int(Path(path).stem.split('_')[0]) % 2800:04d}"


def _assert_whole_counties_in_order(batches: list[list[str]], paths: list[str], county_of) -> None:
    flat = [p for b in batches for p in b]
    assert sorted(flat) == sorted(paths)  # every file exactly once
    home: dict[str, int] = {}
    for i, batch in enumerate(batches):
        for p in batch:
            assert home.setdefault(county_of(p), i) == i, f"county {county_of(p)} split over two batches"
        assert batch == sorted(batch, key=paths.index)  # receipt order kept inside a batch
    per_county = {}
    for p in flat:
        per_county.setdefault(county_of(p), []).append(p)
    for files in per_county.values():
        assert files == sorted(files, key=paths.index)


def test_3000_files_of_2800_counties_make_at_most_1024_batches_of_whole_counties(tmp_path):
    paths = [_touch(tmp_path, f"{i}_r.csv", 1_000 + i) for i in range(3000)]
    batches = plan_batches(paths, batch_files=1, county_of=_county_by_stem)
    assert 1 < len(batches) <= MAX_MAP_LENGTH
    _assert_whole_counties_in_order(batches, paths, _county_by_stem)
    assert plan_batches(paths, batch_files=1, county_of=_county_by_stem) == batches  # deterministic


def test_batch_size_packs_whole_counties_and_a_big_county_is_never_split(tmp_path):
    paths = [_touch(tmp_path, f"{i}_r.csv", 1_000 + i) for i in range(300)]

    def county(p: str) -> str:  # county A has 120 files, the others 10 each
        i = int(Path(p).stem.split("_")[0])
        return "A" if i < 120 else f"B{i // 10}"

    batches = plan_batches(paths, batch_files=50, max_batches=MAX_MAP_LENGTH, county_of=county)
    _assert_whole_counties_in_order(batches, paths, county)
    assert [len(b) for b in batches] == [120, 50, 50, 50, 30]


def test_unreadable_files_are_alone_and_still_at_most_1024_batches(tmp_path):
    """3,000 files whose county cannot be read (not even a spreadsheet): one batch each while that
    stays under the limit, else packed; never more than 1,024 mapped tasks."""
    few = [_touch(tmp_path, f"{i}_junk.pdf", 1_000 + i) for i in range(5)]
    assert plan_batches(few) == [[p] for p in few]
    many = [_touch(tmp_path, f"{i}_junk.txt", 2_000 + i) for i in range(3000)]
    batches = plan_batches(many)
    assert len(batches) <= MAX_MAP_LENGTH
    assert [p for b in batches for p in b] == many


def test_the_county_comes_from_the_title_block_not_the_file_name(tmp_path, sample_dir):
    """A 南湖区 report saved under a 嘉善县 file name is grouped with 南湖区; an unreadable file alone."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = [("330402_2016Q1.xlsx", "330402_2016Q1.xlsx", 100), ("330421_2016Q1.xlsx", "330421_2016Q1.xlsx", 200),
             ("330402_2016Q2.xlsx", "330421_2016Q2.xlsx", 300), ("330402_2016Q3.xlsx", "330402_2016Q3.xlsx", 400)]
    for source, name, mtime in files:
        shutil.copy2(sample_dir / source, inbox / name)
        os.utime(inbox / name, (mtime, mtime))
    _touch(inbox, "330402_2016Q4.xlsx", 500, b"not a workbook")
    assert sniff_county(inbox / "330421_2016Q2.xlsx") == "330402"
    assert sniff_county(inbox / "330402_2016Q4.xlsx") is None
    from ingest.inbox import pending_files

    batches = plan_batches(pending_files(inbox), batch_files=3)
    names = [[Path(p).name for p in b] for b in batches]
    assert names == [["330402_2016Q1.xlsx", "330421_2016Q2.xlsx", "330402_2016Q3.xlsx"],
                     ["330421_2016Q1.xlsx"], ["330402_2016Q4.xlsx"]]


# ----------------------------------------------------------------------------- waves (real PostgreSQL and GX)


def _variant(source: Path, dest: Path, reporter: str) -> Path:
    """The same report with other bytes (another reporter in the LZ-0 footer)."""
    wb = openpyxl.load_workbook(source)
    wb["LZ-0 县域指标"]["A7"] = f"填报人：{reporter}"
    wb.save(dest)
    return dest


def _at(day: int) -> datetime:
    return datetime(2016, 4, day, 9, tzinfo=UTC)


def _versions(conn, county: str, year: int, quarter: int) -> dict[str, tuple[str, int | None]]:
    rows = conn.execute("select file_name, status, version from landing.submissions where county_code = %s "
                        "and year = %s and quarter = %s", (county, year, quarter)).fetchall()
    return {name: (status, version) for name, status, version in rows}


def test_a_correction_in_the_same_batch_is_versioned_after_the_original(warehouse, conn, sample_dir, tmp_path):
    from ingest.audit import audit_batch

    original = tmp_path / "330411_2016Q1.xlsx"
    shutil.copy2(sample_dir / "330411_2016Q1.xlsx", original)
    correction = _variant(original, tmp_path / "330411_2016Q1_更正.xlsx", "更正")
    other = tmp_path / "330482_2016Q1.xlsx"
    shutil.copy2(sample_dir / "330482_2016Q1.xlsx", other)
    results = submit_batch([Incoming(original, received_at=_at(10)), Incoming(other, received_at=_at(11)),
                            Incoming(correction, received_at=_at(12))], audit=audit_batch)
    assert [(r.file_name, r.status, r.version) for r in results] == [
        ("330411_2016Q1.xlsx", "accepted", 1), ("330482_2016Q1.xlsx", "accepted", 1),
        ("330411_2016Q1_更正.xlsx", "accepted", 2)]
    assert _versions(conn, "330411", 2016, 1) == {"330411_2016Q1.xlsx": ("accepted", 1),
                                                  "330411_2016Q1_更正.xlsx": ("accepted", 2)}
    assert all(r.feedback_paths and r.feedback_paths[0].exists() for r in results)


def test_q2_and_q3_of_one_county_in_one_batch_are_decided_in_order(warehouse, conn, sample_dir, tmp_path):
    """Q3 is checked against the Q2 of the same batch: accepted as sent; refused when its
    year-to-date investment falls below the Q2 just accepted (the cross-period check saw it)."""
    from ingest.audit import audit_batch

    q2, q3 = tmp_path / "330483_2016Q2.xlsx", tmp_path / "330483_2016Q3.xlsx"
    shutil.copy2(sample_dir / q2.name, q2)
    shutil.copy2(sample_dir / q3.name, q3)
    results = submit_batch([Incoming(q2, received_at=_at(20)), Incoming(q3, received_at=_at(21))],
                           audit=audit_batch)
    assert [(r.period, r.status, r.version) for r in results] == [("2016Q2", "accepted", 1),
                                                                   ("2016Q3", "accepted", 1)]

    q2b = _variant(sample_dir / "330402_2016Q2.xlsx", tmp_path / "330402_2016Q2.xlsx", "二季度")
    wb = openpyxl.load_workbook(sample_dir / "330402_2016Q3.xlsx")
    ws = wb["LZ-1 特色小镇"]
    ws["C4"], ws["D4"], ws["E4"] = 1.0, 0.5, 0.4  # fai YTD far below Q2's
    total = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 2).value == "合计")
    for col in (3, 4, 5):
        ws.cell(total, col).value = None
    q3b = tmp_path / "330402_2016Q3.xlsx"
    wb.save(q3b)
    results = submit_batch([q2b, q3b], audit=audit_batch)
    assert [r.status for r in results] == ["accepted", "refused"]
    assert ("LZ-1 特色小镇", "C4") in [(f.sheet, f.cell) for f in results[1].findings
                                     if f.code == "value.ytd_decrease"]


def test_a_bad_file_is_refused_alone_with_its_findings(warehouse, conn, sample_dir, tmp_path):
    from ingest.audit import audit_batch

    names = ["330424_2016Q3.xlsx", "330421_2016Q1.xlsx", "330481_2016Q1.xlsx"]  # the first is refused
    for n in names:
        shutil.copy2(sample_dir / n, tmp_path / n)
    results = submit_batch([tmp_path / n for n in names], audit=audit_batch)
    assert [r.status for r in results] == ["refused", "accepted", "accepted"]
    refused = results[0]
    assert {f.code for f in refused.findings} == {"value.parent", "value.required"}
    assert refused.quarantine_path.read_bytes() == (sample_dir / names[0]).read_bytes()
    codes = {r[0] for r in conn.execute("select code from landing.findings where submission_id = %s",
                                        (refused.submission_id,))}
    assert codes == {"value.parent", "value.required"}
    assert not conn.execute("select 1 from raw.report_values where submission_id = %s",
                            (refused.submission_id,)).fetchone()
    for r in results[1:]:
        assert r.rows_loaded > 0 and not [f for f in r.findings if f.severity == "error"]


def test_an_audit_that_raises_for_one_submission_holds_that_one_only(warehouse, conn, sample_dir, tmp_path):
    """The wave's one audit call raises: each submission is audited alone; only the one at fault is held
    (an internal error: its pending submission removed, never current); the others are decided."""
    from ingest.audit import audit_batch

    names = ["330402_2015Q1.xlsx", "330411_2015Q1.xlsx", "330421_2015Q1.xlsx"]
    for n in names:
        shutil.copy2(sample_dir / n, tmp_path / n)
    calls = []

    def audit(c, sids):
        calls.append(list(sids))
        bad = c.execute("select submission_id from landing.submissions where submission_id = any(%s) "
                        "and county_code = '330411'", (list(sids),)).fetchall()
        if bad:
            raise RuntimeError(f"audit could not evaluate submission {bad[0][0]}")
        return audit_batch(c, sids)

    results = submit_batch([tmp_path / n for n in names], audit=audit)
    assert [r.status for r in results] == ["accepted", "held", "accepted"]
    assert "RuntimeError: audit could not evaluate" in results[1].error
    assert len(calls) == 4 and len(calls[0]) == 3  # one call for the wave, then one per submission
    assert _versions(conn, "330411", 2015, 1) == {}  # nothing of it pending or current
    assert conn.execute("select file_name from landing.held_files where file_sha256 = %s",
                        (results[1].file_sha256,)).fetchone() == (names[1],)
    assert submit_batch([tmp_path / names[1]], audit=audit_batch)[0].status == "accepted"  # taken again
    assert conn.execute("select count(*) from landing.held_files").fetchone() == (0,)


_BOOM = "330421_2016Q2.xlsx"


def _boom_trigger(conn):
    from psycopg import sql

    conn.execute(sql.SQL("create or replace function landing.test_boom() returns trigger language plpgsql as $$ "
                         "begin if new.status = 'accepted' and new.file_name = {} then "
                         "raise exception 'accepting % refused by the test trigger', new.file_name; end if; "
                         "return new; end $$").format(sql.Literal(_BOOM)))
    conn.execute("create trigger test_boom before update on landing.submissions for each row "
                 "execute function landing.test_boom()")


def test_an_internal_error_in_one_file_holds_it_alerts_and_the_others_are_decided(warehouse, conn, sample_dir):
    """A defect raises while one file is decided (a real trigger): that file is held, not refused: taken
    out of the inbox, kept in quarantine, never pending or current, its county told it is held; the
    others are decided; the batch does not fail; the team gets ingest.internal_error. Once the defect
    is gone, `ops reprocess --held` decides it with its original receipt time."""
    from ingest.inbox import check_batch
    from ops import alerts
    from ops.reprocess import reprocess_held

    inbox = config.inbox_dir()
    inbox.mkdir(parents=True, exist_ok=True)
    names = ["330402_2016Q3.xlsx", _BOOM, "330482_2016Q2.xlsx"]
    for n in names:
        shutil.copy2(sample_dir / n, inbox / n)
    received = datetime.fromtimestamp((inbox / _BOOM).stat().st_mtime, UTC)
    _boom_trigger(conn)
    try:
        results = receive_batch([str(inbox / n) for n in names])
    finally:
        conn.execute("drop trigger test_boom on landing.submissions")
        conn.execute("drop function landing.test_boom()")
    assert [r["status"] for r in results] == ["accepted", "held", "accepted"]
    assert "refused by the test trigger" in results[1]["error"]
    assert check_batch(results) == results  # a held file does not fail the batch
    assert list(inbox.iterdir()) == []
    assert _versions(conn, "330421", 2016, 2) == {}
    quarantined = Path(results[1]["quarantine"])
    assert quarantined.read_bytes() == (sample_dir / _BOOM).read_bytes()
    [receipt] = [Path(p) for p in results[1]["feedback"] if p.endswith(".json")]
    doc = json.loads(receipt.read_text(encoding="utf-8"))
    assert receipt.parent.name == "330421" and doc["status"] == "held" and doc["errors"] == 0
    assert "不是报表内容的问题" in doc["findings"][0]["message_zh"]

    sent = alerts.notify_internal_errors(results, "county_reports", "r1", "receive_batch")
    assert sent == {}  # no sink configured here: the alert is recorded
    record = json.loads(alerts.alerts_log_path().read_text(encoding="utf-8").splitlines()[-1])
    assert record["kind"] == "ingest.internal_error" and _BOOM in record["text"]

    outcome = reprocess_held()
    assert [(f["file_name"], f["before"], f["after"]) for f in outcome["files"]] == [(_BOOM, "held", "accepted")]
    assert _versions(conn, "330421", 2016, 2) == {_BOOM: ("accepted", 1)}
    assert conn.execute("select received_at from landing.submissions where file_name = %s", (_BOOM,)
                        ).fetchone() == (received,)
    assert conn.execute("select count(*) from landing.held_files").fetchone() == (0,)


def test_a_disk_failure_leaves_the_file_in_the_inbox_to_be_tried_again(warehouse, conn, sample_dir, monkeypatch):
    """The infrastructure failing (no space left on the archive) is not held: the file stays in the inbox,
    the batch task fails after the others were decided (Airflow retries and alerts), the next run takes it."""
    import errno

    from ingest import landing
    from ingest.inbox import IntakeError, check_batch

    inbox = config.inbox_dir()
    inbox.mkdir(parents=True, exist_ok=True)
    name = "330483_2016Q3.xlsx"
    names = ["330411_2016Q3.xlsx", name]
    for n in names:  # bytes of their own: never received before in this module
        wb = openpyxl.load_workbook(sample_dir / n)
        wb["LZ-0 县域指标"]["A7"] = "填报人：磁盘已满测试"
        wb.save(inbox / n)
    real_archive = landing.archive

    def archive(path, file_name):
        if file_name == name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_archive(path, file_name)

    monkeypatch.setattr(landing, "archive", archive)
    results = receive_batch([str(inbox / n) for n in names])
    assert [r["status"] for r in results] == ["accepted", "error"]
    assert sorted(p.name for p in inbox.iterdir()) == [name]
    with pytest.raises(IntakeError, match=name):
        check_batch(results)
    monkeypatch.setattr(landing, "archive", real_archive)
    assert [r["status"] for r in check_batch(receive_batch([str(inbox / name)]))] == ["accepted"]
    assert list(inbox.iterdir()) == []


# ----------------------------------------------------------------------------- the DAG (Airflow dag.test)


@pytest.fixture(scope="module")
def airflow(runtime_dirs):
    from ops.runs import dagbag, prepare

    prepare()
    return dagbag()


def _expected_versions(expected: list[dict]) -> dict[str, int | None]:
    """Accepted reports of a (county, period) are versioned 1, 2, ... by receipt time."""
    ranks: dict[tuple[str, str], int] = {}
    out: dict[str, int | None] = {}
    for e in sorted(expected, key=lambda e: datetime.fromisoformat(e["received_at"])):
        if e["expected_status"] == "accepted":
            key = (e["county_code"], e["period"])
            ranks[key] = ranks.get(key, 0) + 1
        out[e["file"]] = ranks[(e["county_code"], e["period"])] if e["expected_status"] == "accepted" else None
    return out


@pytest.mark.slow
def test_county_reports_over_the_city_sample_gives_the_same_submissions(airflow, runtime_dirs, sample_dir,
                                                                          expected, monkeypatch):
    """Every file of the city sample (2015Q1-2018Q4) through dag.test in batches of whole counties:
    each file's status, version and finding codes as the sample plans them (what the one-file-at-a-
    time DAG gave), on a database of its own."""
    from core.warehouse import connect
    from tests.conftest import create_database

    monkeypatch.setenv("TWOTOWNS_INTAKE_BATCH_FILES", "50")  # several mapped batches (the default takes all)

    url = create_database("test_intake_dag")
    previous, os.environ["WAREHOUSE_URL"] = os.environ.get("WAREHOUSE_URL"), url
    inbox = config.inbox_dir()
    try:
        inbox.mkdir(parents=True, exist_ok=True)
        for old in inbox.glob("*"):
            old.unlink()
        for e in expected:
            shutil.copy2(sample_dir / e["file"], inbox / e["file"])
        run = airflow.get_dag("county_reports").test()
        assert str(getattr(run.state, "value", run.state)) == "success"
        with connect(url) as c:
            rows = c.execute("select s.file_name, s.status, s.version, array_remove(array_agg(distinct f.code), "
                             "null) from landing.submissions s left join landing.findings f using (submission_id) "
                             "group by 1, 2, 3").fetchall()
    finally:
        os.environ.pop("WAREHOUSE_URL") if previous is None else os.environ.update(WAREHOUSE_URL=previous)
    versions = _expected_versions(expected)
    got = {name: (status, version, sorted(codes)) for name, status, version, codes in rows}
    assert got == {e["file"]: (e["expected_status"], versions[e["file"]], sorted(e["expected_codes"]))
                   for e in expected}
    assert list(inbox.iterdir()) == []
    batches = _mapped_batches(run)
    assert 1 < batches <= MAX_MAP_LENGTH


def _mapped_batches(run) -> int:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(TaskInstance).filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id,
                                                  TaskInstance.task_id == "receive_batch",
                                                  TaskInstance.map_index >= 0).count()


def test_a_parser_defect_under_the_dag_holds_the_file_and_alerts_the_team(airflow, runtime_dirs, sample_dir,
                                                                          monkeypatch):
    """county_reports with a parser that raises on one file (a defect, raised on purpose): the run succeeds,
    the other file is accepted, the broken one is held, and the team gets `ingest.internal_error`."""
    from core.warehouse import connect
    from ingest import parse
    from ops.alerts import alerts_log_path
    from tests.conftest import create_database

    broken = "330411_2017Q1.xlsx"
    real_run = parse._Parser.run

    def run(self):
        if self.report.file_name == broken:
            raise KeyError("a defect of the parser, raised on purpose")
        return real_run(self)

    monkeypatch.setattr(parse._Parser, "run", run)
    url = create_database("test_intake_held")
    previous, os.environ["WAREHOUSE_URL"] = os.environ.get("WAREHOUSE_URL"), url
    inbox = config.inbox_dir()
    log = alerts_log_path()
    seen = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
    try:
        inbox.mkdir(parents=True, exist_ok=True)
        for old in inbox.glob("*"):
            old.unlink()
        for name in ("330402_2017Q1.xlsx", broken):
            shutil.copy2(sample_dir / name, inbox / name)
        run_ = airflow.get_dag("county_reports").test()
        assert str(getattr(run_.state, "value", run_.state)) == "success"
        with connect(url) as c:
            statuses = dict(c.execute("select file_name, status from landing.submissions").fetchall())
            held = c.execute("select file_name, error from landing.held_files").fetchall()
    finally:
        os.environ.pop("WAREHOUSE_URL") if previous is None else os.environ.update(WAREHOUSE_URL=previous)
    assert statuses == {"330402_2017Q1.xlsx": "accepted"}
    assert held == [(broken, "KeyError: 'a defect of the parser, raised on purpose'")]
    assert list(inbox.iterdir()) == []
    new = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()[seen:]]
    assert [a["kind"] for a in new] == ["ingest.internal_error"]
    assert new[0]["dag_id"] == "county_reports" and broken in new[0]["text"]
