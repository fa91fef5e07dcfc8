"""GX gates that scale: the batched submission audit and the incremental raw gate.

- audit_batch: ONE checkpoint run over many pending submissions gives each of them exactly the
  findings its own audit gives (a mix of clean and defective copies, two of the same report in one
  batch); when an expectation returns fewer rows than it found (GX's cap of 200), the batch is split
  so that a defect crowded out by other files is still found.
- the raw gate: validates the submissions accepted since the last passed gate (a watermark in
  `quality.raw_gate_validated`), advances it only on a pass, checks the same rows again after a
  failure, still catches what needs the whole table, and `--full` re-checks every row.
"""

from __future__ import annotations

import json
import math
from dataclasses import astuple

import pytest

from expectations import sampledata

pytestmark = pytest.mark.integration

A, B, C = ("330402", 2016, 3), ("330402", 2016, 2), ("330421", 2016, 4)
CT1 = "town_code = 'CT-330402-01'"


@pytest.fixture(scope="module")
def expected(expected_through_2016):
    """This module loads the reports of 2015-2016 only (tests/conftest.py: expected_through_2016)."""
    return expected_through_2016


@pytest.fixture(scope="module")
def loaded(warehouse, sample_dir, expected):
    from ingest.landing import submit

    for e in expected:
        assert submit(sample_dir / e["file"], write_feedback=False).status == e["expected_status"]
    return warehouse


def _copies(conn, recipes: list[tuple[tuple, list[str]]]) -> list[int]:
    """Pending copies of accepted reports, each with its defects injected (SQL, %(sid)s = the copy)."""
    sids = []
    for base, statements in recipes:
        sid = sampledata.pending_copy(conn, sampledata.submission_of(conn, *base))
        sids.append(sid)
        for statement in statements:
            conn.execute(statement, {"sid": sid})
    return sids


def _key(findings: list) -> list[tuple]:
    return sorted(astuple(f) for f in findings)


# --------------------------------------------------------------------------- batch audit

MIX = [
    (A, []),
    (A, []),  # a second copy of the same report in the same batch: neither sees the other
    (C, []),
    (A, [f"update raw.report_values set value = 1 where submission_id = %(sid)s and {CT1} "
         "and indicator = 'operating_revenue'"]),  # below the accepted previous quarter: ytd_previous_quarter
    (B, [f"update raw.report_values set value = value + 200000 where submission_id = %(sid)s and {CT1} "
         "and indicator = 'operating_revenue'"]),  # above the accepted 2016Q3: ytd_next_quarter
    (A, [f"update raw.report_values set value = 5000000 where submission_id = %(sid)s and {CT1} "
         "and indicator = 'employees'"]),  # implausible (a unit slip): warnings only
    (A, ["insert into raw.report_values (submission_id, county_code, year, quarter, form, town_code, indicator, "
         "value, source_file_sha256, source_sheet, source_cell) select submission_id, county_code, year, quarter, "
         "'LZ-2', town_code, indicator, value, source_file_sha256, 'LZ-2 试点镇', 'G9' from raw.report_values "
         f"where submission_id = %(sid)s and {CT1} and indicator = 'fai'"]),
    (C, ["update raw.report_values set value = value * 3 where submission_id = %(sid)s and indicator = 'tax_revenue' "
         "and form = 'LZ-1'"]),  # growth outliers: warnings only
]


def test_batch_audit_gives_each_submission_the_findings_of_its_own_audit(loaded, conn):
    from expectations.submission import audit_batch, audit_submission, report_path, run_batch_audit

    sids = _copies(conn, MIX)
    try:
        batch = run_batch_audit(conn, sids, docs=False)
        one_by_one = {sid: audit_submission(conn, sid) for sid in sids}
        again = audit_batch(conn, list(reversed(sids)))
        reports = {sid: json.loads(report_path(sid).read_text(encoding="utf-8")) for sid in sids}
    finally:
        for sid in sids:
            sampledata.discard(conn, sid)
    assert list(batch) == sids and list(again) == list(reversed(sids))
    assert len({o.run_id for o, _ in batch.values()}) == 1  # one checkpoint run for all of them
    assert all(o.batch_submissions == len(sids) for o, _ in batch.values())
    for sid in sids:
        assert _key(batch[sid][1]) == _key(one_by_one[sid]) == _key(again[sid]), sid
    errors = {sid: sorted({f.code for f in batch[sid][1] if f.severity == "error"}) for sid in sids}
    assert [errors[s] for s in sids] == [[], [], [], ["value.ytd_decrease"], ["value.ytd_decrease"], [],
                                         ["row.duplicate"], []]
    assert {f.code for f in batch[sids[5]][1]} == {"value.range"}  # (the growth of a stock is not checked)
    assert {f.code for f in batch[sids[-1]][1]} == {"value.growth_outlier"}
    assert [batch[s][0].success for s in sids] == [True, True, True, False, False, True, False, True]
    assert all(reports[s]["submission_id"] == s and reports[s]["rows_validated"] > 0 for s in sids)
    ytd = next(e for s in reports[sids[3]]["suites"] for e in s["expectations"] if e["check"] == "ytd_previous_quarter")
    assert ytd["unexpected_count"] == 1 and ytd["sample"][0]["submission_id"] == sids[3]


def test_a_defect_crowded_out_of_a_batch_by_other_files_is_still_found(loaded, conn):
    """Copies with every LZ-1 value implausible give many `range` rows (form LZ-1, sorted first); one more copy
    has a single implausible LZ-2 value. In one run GX returns the first 200 rows only: the LZ-2 one is not
    among them. The audit must notice (found > returned), split the batch, and warn that file."""
    from expectations import state
    from expectations.runner import execute
    from expectations.submission import (
        MAX_ROWS,
        _url_of,
        audit_batch,
        audit_submission,
        crowding,
        prepared_for,
    )

    crowd = "update raw.report_values set value = 99999999 where submission_id = %(sid)s and form = 'LZ-1'"
    lone = "update raw.report_values set value = 99999999 where submission_id = %(sid)s " \
           "and town_code = 'PT-330402101' and indicator = 'fiscal_revenue'"
    probe = _copies(conn, [(A, [crowd])])
    per_copy = len([f for f in audit_submission(conn, probe[0]) if f.code == "value.range"])
    sids = probe + _copies(conn, [(A, [crowd])] * (math.ceil((MAX_ROWS + 1) / per_copy) - 1) + [(A, [lone])])
    try:
        url = _url_of(conn)
        batch_id = state.open_batch(conn, sids)
        try:
            single_run = execute(prepared_for(url, False), url, batch_id=batch_id)
        finally:
            state.close_batch(conn, batch_id)
        found = audit_batch(conn, sids)
        one_by_one = {sid: audit_submission(conn, sid) for sid in sids}
    finally:
        for sid in sids:
            sampledata.discard(conn, sid)
    required = next(r for v in single_run._results for r in v.results
                    if r.expectation_config.meta["check"] == "range")
    returned = required.result["details"]["unexpected_rows"]
    assert required.result["observed_value"] == per_copy * (len(sids) - 1) + 1 > len(returned) == MAX_ROWS
    assert sids[-1] not in {row["submission_id"] for row in returned}  # crowded out of the single run
    assert crowding(single_run) > 1
    lone = [(f.code, f.town_code, f.indicator) for f in found[sids[-1]] if f.code == "value.range"]
    assert lone == [("value.range", "PT-330402101", "fiscal_revenue")]
    for sid in sids:
        assert _key(found[sid]) == _key(one_by_one[sid])
        assert len([f for f in found[sid] if f.code == "value.range"]) == (per_copy if sid != sids[-1] else 1)


def test_a_check_that_raises_in_a_batch_is_an_audit_error(loaded, conn, broken_submission_suite):
    from expectations import submission
    from expectations.runner import AuditError

    sids = _copies(conn, [(A, []), (C, [])])
    try:
        with pytest.raises(AuditError, match="broken on purpose"):
            submission.audit_batch(conn, sids)
    finally:
        for sid in sids:
            sampledata.discard(conn, sid)
    assert conn.execute("select count(*) from quality.audit_batches").fetchone()[0] == 0  # batch rows removed


# --------------------------------------------------------------------------- the incremental raw gate

def _validated(conn) -> set[int]:
    return {r[0] for r in conn.execute("select submission_id from quality.raw_gate_validated").fetchall()}


def _accepted(conn) -> set[int]:
    return {r[0] for r in conn.execute("select submission_id from landing.submissions where status = 'accepted'")}


def _accept(conn, sid: int) -> None:
    """Make a pending copy the newest accepted version of its county and period (what ingest's decision does)."""
    conn.execute("update landing.submissions as s set status = 'accepted', version = (select coalesce(max(version), 0) "
                 "+ 1 from landing.submissions as o where o.county_code = s.county_code and o.year = s.year "
                 "and o.quarter = s.quarter) where s.submission_id = %s", (sid,))


def _failed_checks(_exc) -> set[str]:
    """The critical checks the raw gate's report (written before it raised) names as failed."""
    from expectations.gate import report_path

    report = json.loads(report_path("raw").read_text(encoding="utf-8"))
    return {f"{s['name']}.{e['check']}" for s in report["suites"] for e in s["expectations"]
            if not e["success"] and e["skipped"] is None and e["severity"] == "critical"}


@pytest.fixture
def gate(loaded, conn):
    """The raw gate, passed once on the loaded sample (its watermark then holds every accepted submission)."""
    from expectations.gate import run_raw_gate

    first = run_raw_gate(docs=False)
    assert first["success"] and _validated(conn) >= _accepted(conn)
    return lambda **kw: run_raw_gate(docs=False, **kw)


def test_the_first_gate_validates_everything_and_the_next_only_what_is_new(gate, conn):
    doc = gate()
    assert doc["mode"] == "incremental" and doc["new_submissions"] == 0 and doc["success"]
    assert doc["rows_validated"] < doc["raw_rows"]  # the whole table is not read again row by row
    assert doc["raw_rows"] == conn.execute("select count(*) from raw.report_values").fetchone()[0]
    assert doc["rows_per_s"] > 0


def test_a_new_defective_submission_fails_the_gate_until_fixed_and_only_a_pass_advances(gate, conn):
    from expectations.gate import QualityGateFailed

    (sid,) = _copies(conn, [(A, ["update raw.report_values set source_cell = 'nowhere' where submission_id = %(sid)s "
                                 f"and {CT1} and indicator = 'fai'"])])
    try:
        _accept(conn, sid)
        for _attempt in range(2):  # a failed gate keeps the watermark: the same rows are checked again
            with pytest.raises(QualityGateFailed) as err:
                gate()
            assert _failed_checks(err.value) == {"raw_report_values.regex.source_cell"}
            assert sid not in _validated(conn)
        conn.execute("update raw.report_values set source_cell = 'C4' where submission_id = %s "
                     "and source_cell = 'nowhere'", (sid,))
        doc = gate()
        assert doc["success"] and doc["new_submissions"] == 1 and sid in _validated(conn)
        assert gate()["new_submissions"] == 0
    finally:
        sampledata.discard(conn, sid)


def test_a_new_correction_is_checked_against_the_accepted_history(gate, conn):
    """A new version of 2016Q2 above the accepted (already validated) 2016Q3 YTD: cross-period checks see it."""
    from expectations.gate import QualityGateFailed

    (sid,) = _copies(conn, [(B, [f"update raw.report_values set value = value + 200000 where submission_id = %(sid)s "
                                 f"and {CT1} and indicator = 'operating_revenue'"])])
    try:
        _accept(conn, sid)
        with pytest.raises(QualityGateFailed) as err:
            gate()
        assert _failed_checks(err.value) == {"submission_report_values.ytd_next_quarter"}
        assert sid not in _validated(conn)
    finally:
        sampledata.discard(conn, sid)
    assert gate()["success"]


def test_a_new_value_duplicating_a_validated_current_one_is_caught(gate, conn):
    """Uniqueness across submissions: a new LZ-2-only version reports a town that the current LZ-1 (of an
    older, validated submission) already reports for the same quarter and indicator."""
    from expectations.gate import QualityGateFailed

    base = sampledata.submission_of(conn, *A)
    sid = sampledata.pending_copy(conn, base, forms=["LZ-2"])
    conn.execute("insert into raw.report_values (submission_id, county_code, year, quarter, form, town_code, indicator, "
                 "value, source_file_sha256, source_sheet, source_cell) select %s, county_code, year, quarter, "
                 "'LZ-2', town_code, indicator, value, (select file_sha256 from landing.submissions "
                 "where submission_id = %s), 'LZ-2 试点镇', 'G9' from raw.report_values "
                 f"where submission_id = %s and {CT1} and indicator = 'fai'", (sid, sid, base))
    try:
        _accept(conn, sid)
        with pytest.raises(QualityGateFailed) as err:
            gate()
        assert "submission_report_values.current_unique" in _failed_checks(err.value)
    finally:
        sampledata.discard(conn, sid)


def test_whole_table_checks_run_on_every_gate(gate, conn):
    """What needs the whole table is checked even when nothing new was accepted: the unique index that keeps
    one value per submission, form, town and indicator, and one current version per county and period."""
    from expectations.gate import QualityGateFailed

    old = sampledata.submission_of(conn, *C)
    conn.execute("drop index raw.report_values_uq")
    conn.execute("insert into raw.report_values select * from raw.report_values where submission_id = %s "
                 "and indicator = 'fai' and form = 'LZ-1' limit 1", (old,))
    try:
        with pytest.raises(QualityGateFailed) as err:
            gate()
        assert _failed_checks(err.value) == {"raw_report_values.unique_index"}
    finally:
        conn.execute("delete from raw.report_values as v where v.submission_id = %s and v.ctid <> (select min(w.ctid) "
                     "from raw.report_values as w where w.submission_id = v.submission_id and w.form = v.form "
                     "and w.town_code is not distinct from v.town_code and w.indicator = v.indicator)", (old,))
        conn.execute("create unique index report_values_uq "  # as revision 0001 made it
                     "on raw.report_values (submission_id, form, coalesce(town_code, ''), indicator)")
    conn.execute("alter table landing.submissions drop constraint submissions_version_uq")
    (version,) = conn.execute("select version from landing.submissions where submission_id = %s", (old,)).fetchone()
    conn.execute("update landing.submissions set version = version + 1 where submission_id = %s", (old,))
    try:
        with pytest.raises(QualityGateFailed) as err:
            gate()
        assert _failed_checks(err.value) == {"raw_report_values.one_current_version"}
    finally:
        conn.execute("update landing.submissions set version = %s where submission_id = %s", (version, old))
        conn.execute("alter table landing.submissions add constraint submissions_version_uq "
                     "unique (county_code, year, quarter, version) deferrable initially deferred")
    assert gate()["success"]


def test_full_recheck_finds_what_the_incremental_gate_trusts(gate, conn, capsys):
    """Accepted rows never change: the incremental gate does not read a validated row again. If one was
    changed all the same, `python -m expectations raw --full` finds it."""
    from expectations.runner import main

    (ctid, cell) = conn.execute("select ctid, source_cell from raw.report_values limit 1").fetchone()
    conn.execute("update raw.report_values set source_cell = 'nowhere' where ctid = %s", (ctid,))
    try:
        assert gate()["success"]
        assert main(["raw", "--full", "--json", "--no-docs"]) == 1
        doc = json.loads(capsys.readouterr().out)  # the report of the failed gate
        assert doc["success"] is False
        failed = [(s["name"], e["check"]) for s in doc["suites"] for e in s["expectations"] if e["success"] is False]
        # (and the warning of the sample's one deliberate revision of a prior-year figure, samplegen/plan.py)
        assert failed == [("raw_report_values", "regex.source_cell"), ("submission_report_values", "prior_mismatch")]
    finally:
        conn.execute("update raw.report_values set source_cell = %s where source_cell = 'nowhere'", (cell,))
    assert main(["raw", "--full", "--json", "--no-docs"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mode"] == "full" and doc["success"] and doc["rows_validated"] >= doc["raw_rows"]


# --------------------------------------------------------------------------- registry snapshot

def test_the_registry_snapshot_is_copied_once_per_version_of_the_seeds(conn, tmp_path):
    """The suites' registry fragments read quality.registry_* under a version that is a hash of the seeds:
    the same seeds are copied once; an edited seed is a new version beside the old one."""
    import csv
    import shutil

    from core.config import seeds_dir
    from core.membership import effective_periods
    from expectations import fragments

    seeds = tmp_path / "seeds"
    shutil.copytree(seeds_dir(), seeds)
    first = fragments.ensure_registry(conn, seeds)
    loaded_at = "select loaded_at from quality.registry_versions where registry_version = %s"
    when = conn.execute(loaded_at, (first,)).fetchone()[0]
    assert fragments.ensure_registry(conn, seeds) == first
    assert conn.execute(loaded_at, (first,)).fetchone()[0] == when  # not copied again

    def count(name: str) -> int:  # in the version the seeds have now
        return conn.execute(f"select count(*) from {fragments.registry_fragments(seeds)[name]} as t").fetchone()[0]

    with open(seeds / "towns.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert count("towns") == len(rows)
    assert count("effective_memberships") == len(effective_periods(seeds))
    effective = conn.execute(f"select town_code, valid_from, valid_to from "
                             f"{fragments.registry_fragments(seeds)['effective_memberships']} as m "
                             "order by 1, 2").fetchall()
    assert effective == sorted((m.town_code, m.valid_from, m.valid_to) for m in effective_periods(seeds))

    with open(seeds / "towns.csv", "a", encoding="utf-8", newline="") as f:  # a town added to the registry
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writerow({**rows[-1], "town_code": rows[-1]["town_code"] + "9", "name_zh": "新增镇"})
    second = fragments.registry_version(seeds)
    assert second != first
    assert fragments.ensure_registry(conn, seeds) == second
    assert count("towns") == len(rows) + 1
    old = conn.execute("select count(*) from quality.registry_towns where registry_version = %s", (first,))
    assert old.fetchone()[0] == len(rows)  # a process still prepared on the old version reads it whole
