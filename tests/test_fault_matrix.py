"""The fault matrix (README "Faults and recovery"): real processes stopped at named points, then killed
(SIGKILL), or what they talk to killed (PostgreSQL by `pg_ctl stop -m immediate`, the moto S3 server), or a
write limit (RLIMIT_FSIZE). After each fault, by query and by reading the publication:

- nothing half-done is visible (BI's marts, LATEST, current submissions are as before);
- running the same command again completes;
- the state equals a clean run (marts = a full refresh of the same inputs; the publication's content hash =
  a publication of the same marts to an empty target);
- nothing a county sent is lost (the archive keeps the file, a resend is accepted).

Fault points are core.faults.point (inert unless TWOTOWNS_FAULT_AT names one). dbt is killed when
PostgreSQL shows it writing town_quarter_indicators. (SIGKILL during receive: tests/test_landing.py,
testsigkill_midway_never_makes_a_partial_submission_visible; during reprocess: tests/test_ops.py.)
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import backends_gone, dbt_build_held_at_town_facts, finish, sigkill, start, stopped_at, wait_for

from core.dbt import run_dbt
from core.warehouse import connect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MARTS = ("towns", "town_quarter_indicators", "investment_progress", "pilot_targets", "assessment_components",
         "town_annual_assessment", "programme_kpis", "submissions")


def _dbt(*args: str, url: str | None = None) -> None:
    result = run_dbt(list(args), url)
    assert result.success, result.failures[:10]


def _marts(url: str | None = None, schema: str = "marts") -> dict:
    """Each mart of `schema` as (rows, md5 of its rows in a total order), and the schema's stamp."""
    with connect(url) as conn:
        seen = {t: conn.execute(f"select count(*), md5(coalesce(string_agg(r::text, '|' order by r::text), '')) "
                                f"from {schema}.{t} as r").fetchone() for t in MARTS}  # our own names
        seen["_stamp"] = conn.execute("select obj_description(%s::regnamespace, 'pg_namespace')",
                                      (schema,)).fetchone()[0]
    return seen


def _equal_a_full_refresh(url: str | None = None) -> None:
    """The published marts equal what `dbt build --full-refresh` of the same inputs writes into marts_build."""
    _dbt("build", "--full-refresh", url=url)
    published, rebuilt = _marts(url), _marts(url, "marts_build")
    published.pop("_stamp"), rebuilt.pop("_stamp")
    assert published == rebuilt


def _audit_and_switch(url: str | None = None) -> dict:
    from expectations.gate import run_gate
    from publish.marts import publish_marts

    run_gate("warehouse", url)
    return publish_marts(url)


@pytest.fixture(scope="module")
def site(warehouse, sample_dir, tmp_path_factory, publish_built_marts):
    """One county's 2016 Q1-Q3 accepted, built, audited and switched in; its Q4 waits (the new quarter)."""
    from ingest.landing import submit

    for path in sorted(sample_dir.glob("330402_2016Q[123].xlsx")):
        assert submit(path, write_feedback=False).status == "accepted"
    _dbt("seed")
    _dbt("run")
    publish_built_marts()
    return warehouse


# ----------------------------------------------------------------------------- the warehouse

def test_sigkill_during_dbt_build(site, sample_dir, tmp_path):
    """BI keeps reading the audited marts; the next build, audit and switch give a full refresh's marts."""
    from ingest.landing import submit
    from publish.marts import publish_marts

    before = _marts()
    assert submit(sample_dir / "330402_2016Q4.xlsx", write_feedback=False).status == "accepted"
    with dbt_build_held_at_town_facts(None, tmp_path) as build:
        sigkill(build)
    backends_gone()
    assert _marts() == before
    assert publish_marts()["switched"] is False  # nothing new to switch in: the killed build never finished

    _dbt("build")
    assert _audit_and_switch()["switched"]
    assert _marts() != before
    _equal_a_full_refresh()


def test_sigkill_during_the_warehouse_switch(site, tmp_path):
    """The switch is one transaction: killed inside it, BI reads the marts of before; run again, it switches."""
    from core import marts as core_marts

    _dbt("run")
    from expectations.gate import run_gate

    build = run_gate("warehouse")["build_id"]
    before = _marts()
    proc = stopped_at(["publish", "marts"], "marts.switch", tmp_path)
    sigkill(proc)
    backends_gone()
    assert _marts() == before
    with connect() as conn:
        assert core_marts.build_id(conn) == build  # still waiting in marts_build, audited

    again = start(["publish", "marts", "--json"], None, tmp_path)
    out, err = finish(again, 300)
    assert again.returncode == 0, err[-3000:]
    assert json.loads(out)["build_id"] == build
    after = _marts()
    assert json.loads(after["_stamp"])["build_id"] == build


def _crash(url: str) -> None:
    """`pg_ctl stop -m immediate`, and the server's port closed before the test goes on (no client of the
    test may reach a server that is still shutting down)."""
    from core.warehouse import conn_params, stop_embedded

    assert stop_embedded(mode="immediate")
    port = conn_params(url).port
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        assert time.monotonic() < deadline, f"the server still listens on {port} after pg_ctl stop"
        time.sleep(0.1)


def test_postgres_stopped_immediately_mid_build_and_mid_receive(tmp_path, sample_dir, monkeypatch):
    """`pg_ctl stop -m immediate` (a crash: no checkpoint, recovery from the WAL at the next start) of a
    cluster of its own, while dbt writes the marts and while a report's values are loaded but not decided."""
    from core.warehouse import ensure_embedded, stop_embedded
    from ingest.archive import receipts
    from ingest.landing import submit

    monkeypatch.setenv("TWOTOWNS_WAREHOUSE_DIR", str(tmp_path / "cluster"))
    url = ensure_embedded()
    monkeypatch.setenv("WAREHOUSE_URL", url)
    try:
        for path in sorted(sample_dir.glob("330402_2016Q[123].xlsx")):
            assert submit(path, write_feedback=False).status == "accepted"
        _dbt("seed")
        _dbt("run")
        assert _audit_and_switch()["switched"]
        before = _marts()

        # mid-build
        assert submit(sample_dir / "330402_2016Q4.xlsx", write_feedback=False).status == "accepted"
        with dbt_build_held_at_town_facts(url, tmp_path) as build:
            _crash(url)
        assert build.wait(timeout=120) != 0
        url = ensure_embedded()  # (on the same port if it is free, else another)
        monkeypatch.setenv("WAREHOUSE_URL", url)
        assert _marts() == before
        _dbt("build")
        assert _audit_and_switch()["switched"]
        _equal_a_full_refresh()

        # mid-receive: the values loaded as pending, the decision not taken
        with connect() as conn:
            accepted = conn.execute("select submission_id, county_code, year, quarter, version from "
                                    "landing.submissions where status = 'accepted' order by 1").fetchall()
        report = sample_dir / "330402_2017Q1.xlsx"
        proc = stopped_at(["ingest", "submit", str(report)], "receive.loaded", tmp_path)
        _crash(url)
        (tmp_path / "receive.loaded.resume").touch()
        out, err = finish(proc, 120)
        assert proc.returncode != 0, out
        url = ensure_embedded()  # (on the same port if it is free, else another)
        monkeypatch.setenv("WAREHOUSE_URL", url)
        with connect() as conn:
            assert conn.execute("select submission_id, county_code, year, quarter, version from landing.submissions "
                                "where status = 'accepted' order by 1").fetchall() == accepted
        assert report.name in {r.file_name for r in receipts()[0]}  # kept before anything else
        result = submit(report, write_feedback=False)  # the resend (or ops reprocess) goes through
        assert result.status == "accepted" and result.version == 1
        with connect() as conn:
            assert conn.execute("select count(*) from landing.submissions where status = 'pending'").fetchone()[0] == 0
    finally:
        stop_embedded()


# ----------------------------------------------------------------------------- the publication

def _latest(target: Path) -> dict | None:
    from publish.wap import read_latest

    return read_latest(target.as_uri())


def _clean_hash(tmp_path: Path) -> str:
    """The content hash of a publication of the published marts to an empty target."""
    from publish.wap import publish

    clean = tmp_path / "clean"
    with connect() as conn:
        publish(clean.as_uri(), conn)
    return _latest(clean)["content_sha256"]


def _publish_args(target: Path | str) -> list[str]:
    return ["publish", "run", "--url", target if isinstance(target, str) else target.as_uri(), "--json"]


def _publish_run(target: Path, fault_dir: Path, **kwargs) -> subprocess.Popen:
    return start(_publish_args(target), None, fault_dir, **kwargs)


def _nothing_visible(target: Path) -> None:
    assert _latest(target) is None and not (target / "latest").exists()


def _publishes_cleanly(target: Path, tmp_path: Path) -> None:
    proc = _publish_run(target, tmp_path)
    out, err = finish(proc, 600)
    assert proc.returncode == 0, err[-3000:]
    latest = _latest(target)
    assert latest["content_sha256"] == _clean_hash(tmp_path)
    assert sorted(p.name for p in (target / "v").iterdir() if p.name.startswith(".")) == []  # no staging left


@pytest.mark.parametrize("fault", ["publish.write", "publish.audited"])
def test_sigkill_during_the_publication(site, tmp_path, fault):
    """Killed while writing the version's files, or after its audit and before LATEST moves: no LATEST,
    nothing readers would follow; run again, LATEST names a version equal to a clean publication."""
    target = tmp_path / "published"
    proc = stopped_at(_publish_args(target), fault, tmp_path)
    sigkill(proc)
    _nothing_visible(target)
    _publishes_cleanly(target, tmp_path)


def test_write_limit_on_the_publication(site, tmp_path):
    """RLIMIT_FSIZE (a full quota): the run fails with the system's error, nothing is published, the
    staging folder is removed; without the limit the same command publishes."""
    target = tmp_path / "published"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    proc = _publish_run(target, tmp_path, preexec_fn=limit)
    out, err = finish(proc, 600)
    assert proc.returncode != 0
    assert "File too large" in err
    _nothing_visible(target)
    assert [p.name for p in (target / "v").iterdir()] == []
    _publishes_cleanly(target, tmp_path)


def _moto(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise AssertionError("moto did not start")


def test_object_store_killed_mid_publication(site, tmp_path, monkeypatch):
    """The S3 target dies while a version is on its way: the run fails with the store's error, it does not
    hang; against the store back (empty: moto keeps nothing) the same command publishes a clean version."""
    import fsspec

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    env = {"FSSPEC_S3_ENDPOINT_URL": endpoint, "FSSPEC_S3_KEY": "test", "FSSPEC_S3_SECRET": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "2"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    fsspec.config.set_conf_env(fsspec.config.conf)  # this process reads the store as the publisher does
    url = "s3://publication"

    def store() -> subprocess.Popen:
        proc = _moto(port)
        fsspec.filesystem("s3", endpoint_url=endpoint, key="test", secret="test", skip_instance_cache=True
                          ).mkdir("publication")
        return proc

    server = store()
    try:
        proc = start(_publish_args(url), "publish.write", tmp_path, env=env)
        wait_for(proc, (tmp_path / "publish.write.reached").exists, "fault point publish.write")
        server.kill()
        server.wait(timeout=30)
        (tmp_path / "publish.write.resume").touch()
        out, err = finish(proc, 600)
        assert proc.returncode != 0
        assert "Connect" in err or "connect" in err
        server = store()
        again = start(_publish_args(url), None, tmp_path, env=env)
        out, err = finish(again, 600)
        assert again.returncode == 0, err[-3000:]
        from publish.wap import read_latest

        assert read_latest(url)["content_sha256"] == _clean_hash(tmp_path)
    finally:
        server.kill()
        server.wait(timeout=30)
        fsspec.config.conf.pop("s3", None)
