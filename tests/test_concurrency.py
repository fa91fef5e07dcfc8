"""Concurrency with real processes (README "Faults and recovery"): what happens is a function of the
inputs, never of who was first.

- Two corrected versions of one county-quarter received at the same instant: both are accepted, and the
  versions of the (county, period) are numbered by (received_at, file_sha256) under the period's
  advisory lock, so the later-numbered, current one is the same whichever decision commits first.
- A publication while dbt builds: it reads `marts` (the audited set BI reads), never `marts_build`
  where dbt writes: its content is the same as before the build started.
- A report decided while dbt builds: the decision waits for the build (core.dbt.BUILD_LOCK), so a build
  holds exactly the decisions committed before it started, and the next build the rest.
(The switch against a publication run: tests/test_dbt_bi_role.py.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import openpyxl
import pytest
from processes import dbt_build_held_at_town_facts, finish, start, stopped_at, wait_for

from core.warehouse import connect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INSTANT = "2017-01-12T10:00:00+08:00"


def _corrected(sample_dir: Path, name: str, tmp_path: Path, label: str, delta: int) -> Path:
    """The report with one town's value changed by `delta` (a correction: same county and quarter)."""
    wb = openpyxl.load_workbook(sample_dir / name)
    ws = next(ws for ws in wb.worksheets if ws.title.startswith("LZ-1"))
    cell = next(c for row in ws.iter_rows() for c in row if isinstance(c.value, (int, float)) and c.value > 100)
    cell.value += delta
    wb["LZ-0 县域指标"]["A7"] = f"填报人：{label}"  # distinct bytes per correction
    path = tmp_path / label / name
    path.parent.mkdir(parents=True)
    wb.save(path)
    return path


def _versions(county: str, year: int, quarter: int) -> list[tuple[int, str, str]]:
    with connect() as conn:
        return conn.execute("select version, file_sha256, received_at::text from landing.submissions "
                            "where county_code = %s and year = %s and quarter = %s and status = 'accepted' "
                            "order by version", (county, year, quarter)).fetchall()


@pytest.mark.parametrize(("name", "first"), [("330402_2016Q1.xlsx", "a"), ("330421_2016Q1.xlsx", "b")])
def test_two_corrections_received_at_the_same_instant(warehouse, sample_dir, tmp_path, name, first):
    """One correction is held between its load and its decision while the other is decided; then it goes
    on. Whichever order, the versions follow (received_at, sha256) and the current one is the same."""
    from ingest.landing import submit

    assert submit(sample_dir / name, write_feedback=False).status == "accepted"
    a, b = (_corrected(sample_dir, name, tmp_path, label, delta) for label, delta in (("a", 7), ("b", 11)))
    held, free = (a, b) if first == "b" else (b, a)  # `first` is decided first
    held_proc = stopped_at(["ingest", "submit", str(held), "--received-at", INSTANT], "receive.loaded", tmp_path)
    free_proc = start(["ingest", "submit", str(free), "--received-at", INSTANT], None, tmp_path)
    out, err = finish(free_proc, 300)
    assert free_proc.returncode == 0, err[-3000:]
    (tmp_path / "receive.loaded.resume").touch()
    out, err = finish(held_proc, 300)
    assert held_proc.returncode == 0, err[-3000:]

    county, period = name.split("_")[0], name.split("_")[1][:6]
    versions = _versions(county, int(period[:4]), int(period[5]))
    assert [v for v, _, _ in versions] == [1, 2, 3]
    corrections = versions[1:]
    assert len({received for _, _, received in corrections}) == 1  # one instant
    shas = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b))
    assert [sha for _, sha, _ in corrections] == shas  # at one instant, by sha256: the current one is shas[-1]


def test_a_publication_during_a_build_publishes_what_bi_reads(warehouse, sample_dir, tmp_path, publish_built_marts):
    from core.dbt import run_dbt
    from ingest.landing import submit
    from publish.wap import publish, read_latest

    for path in sorted(sample_dir.glob("330482_2016Q[12].xlsx")):
        assert submit(path, write_feedback=False).status == "accepted"
    assert run_dbt(["seed"]).success and run_dbt(["run"]).success
    publish_built_marts()
    before = tmp_path / "before"
    with connect() as conn:
        publish(before.as_uri(), conn)
    assert submit(sample_dir / "330482_2016Q3.xlsx", write_feedback=False).status == "accepted"

    during = tmp_path / "during"
    with dbt_build_held_at_town_facts(None, tmp_path) as build:  # marts_build half-written meanwhile
        run = start(["publish", "run", "--url", during.as_uri(), "--json"], None, tmp_path)
        out, err = finish(run, 600)
        assert run.returncode == 0, err[-3000:]
        assert build.poll() is None
    out, err = finish(build, 600)
    assert build.returncode == 0, out[-3000:]
    assert read_latest(during.as_uri())["content_sha256"] == read_latest(before.as_uri())["content_sha256"]


def test_a_submission_decided_during_a_build_waits_for_it(warehouse, sample_dir, tmp_path, publish_built_marts):
    """A decision takes the build lock shared (core.dbt.BUILD_LOCK), a build holds it: a report decided
    while dbt builds waits, so that build (models before and after it alike) has none of it, passes its
    gate, even the full one, and the next build has all of it, equal to a full refresh."""
    from core.dbt import run_dbt
    from expectations.gate import run_gate
    from ingest.landing import submit
    from publish.marts import publish_marts

    for path in sorted(sample_dir.glob("330424_2016Q[12].xlsx")):
        assert submit(path, write_feedback=False).status == "accepted"
    assert run_dbt(["seed"]).success and run_dbt(["run"]).success
    publish_built_marts()
    report = sample_dir / "330424_2016Q3_更正.xlsx"  # (the first Q3 of the sample is refused)
    sha = hashlib.sha256(report.read_bytes()).hexdigest()

    def known(schema: str) -> tuple[int, int]:
        with connect() as conn:
            return conn.execute(
                f"select (select count(*) from {schema}.submissions where file_sha256 = %s), "
                f"(select count(*) from {schema}.town_quarter_indicators where source_file_sha256 = %s)",
                (sha, sha)).fetchone()

    with dbt_build_held_at_town_facts(None, tmp_path) as build:
        proc = start(["ingest", "submit", str(report)], None, tmp_path)
        with connect(autocommit=True) as conn:
            waiting = ("select exists (select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like "
                       "'%pg_advisory_xact_lock_shared(hashtext($1))%')")  # the ingest's; dbt's names its point
            wait_for(proc, lambda: conn.execute(waiting).fetchone()[0], "the decision waiting for the build")
            assert conn.execute("select count(*) from landing.submissions where file_sha256 = %s and "
                                "status = 'pending'", (sha,)).fetchone()[0] == 1  # loaded, its decision waits
    finish(build, 600)
    assert build.returncode == 0
    out, err = finish(proc, 300)
    assert proc.returncode == 0, err[-3000:]
    assert known("marts_build") == (0, 0)  # the build has none of it
    run_gate("warehouse", full=True)  # and agrees with what it read
    assert publish_marts()["switched"]
    assert run_dbt(["run"]).success  # the next build, which the decision's asset event starts
    publish_built_marts()
    submitted, values = known("marts")
    assert submitted == 1 and values > 0
