"""The read-only BI role and the marts it reads: write-audit-publish of the warehouse (real PostgreSQL).

The project creates a NOLOGIN role `<database>_bi_reader` (on-run-start) and grants it usage on
schema marts only (on-run-end). dbt writes the marts into `marts_build`; the marts gate audits them
there; publish.marts switches an audited, whole build into `marts` in one transaction. BI users are
LOGIN roles that are members of the BI role; here a throw-away one connects for real and checks
that no build it should not see (failed, partial, changed after its audit) ever reaches it.

The database is set up as the compose stack's (docker/warehouse-init.sh): PUBLIC may not connect to it,
so a BI login connects only through the CONNECT the project grants the BI role.
"""

from __future__ import annotations

import json
import secrets
import threading
import time

import psycopg
import pytest

from core.dbt import run_dbt
from core.warehouse import conn_params, connect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PUBLISHED_MARTS = {"towns", "town_quarter_indicators", "investment_progress", "pilot_targets",
                   "assessment_components", "town_annual_assessment", "programme_kpis", "submissions"}


def _run(*args: str) -> None:
    result = run_dbt(list(args))
    assert result.success, result.failures[:10]


@pytest.fixture(scope="module")
def built(warehouse, sample_dir, publish_built_marts):
    from ingest.landing import submit

    with connect(warehouse, autocommit=True) as owner:  # as docker/warehouse-init.sh sets it up
        owner.execute(f'revoke all on database "{conn_params(warehouse).dbname}" from public')
    # one county's 2016 Q1-Q3 is enough to have rows in every mart (the tests run in test_dbt_warehouse);
    # its Q4 comes later, as the change a new build brings
    for path in sorted(sample_dir.glob("330402_2016Q[123]*.xlsx")):
        assert submit(path, write_feedback=False).status == "accepted"
    _run("seed")
    _run("run")
    publish_built_marts()
    return warehouse


@pytest.fixture(scope="module")
def bi_user(built):
    """A LOGIN role that is a member of the project's BI role; dropped afterwards."""
    params = conn_params(built)
    reader = f"{params.dbname}_bi_reader"[-63:]
    user = f"bi_test_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with psycopg.connect(**params.libpq(), autocommit=True) as owner:
        owner.execute(f'create role "{user}" login password \'{password}\' in role "{reader}"')
    yield {**params.libpq(), "user": user, "password": password}
    with psycopg.connect(**params.libpq(), autocommit=True) as owner:
        owner.execute(f'drop role if exists "{user}"')


def _what_bi_reads(bi_user) -> dict:
    """Every table BI can see in marts, as an md5 of its rows in a total order, and the schema's stamp."""
    with psycopg.connect(**bi_user) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1")]
        seen = {t: conn.execute(f'select count(*), md5(coalesce(string_agg(r::text, \'|\' order by r::text), \'\')) '
                                f'from marts."{t}" as r').fetchone() for t in tables}  # names from the catalogue
        seen["_stamp"] = conn.execute("select obj_description('marts'::regnamespace, 'pg_namespace')").fetchone()[0]
    return seen


def test_the_bi_role_exists_and_cannot_log_in(built):
    params = conn_params(built)
    with psycopg.connect(**params.libpq()) as conn:
        row = conn.execute("select rolcanlogin from pg_roles where rolname = %s",
                           (f"{params.dbname}_bi_reader"[-63:],)).fetchone()
    assert row == (False,)


def test_a_bi_user_logs_in_where_public_may_not_connect(built, bi_user):
    params = conn_params(built)
    with psycopg.connect(**params.libpq()) as owner:
        public, reader = owner.execute(
            "select has_database_privilege('public', current_database(), 'connect'), "
            "has_database_privilege(%s, current_database(), 'connect')", (f"{params.dbname}_bi_reader"[-63:],)
        ).fetchone()
    assert (public, reader) == (False, True)
    with psycopg.connect(**bi_user) as conn:
        assert conn.execute("select current_user").fetchone()[0] == bi_user["user"]


def test_bi_user_reads_every_mart(bi_user):
    with psycopg.connect(**bi_user) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1")]
        assert PUBLISHED_MARTS <= set(tables)
        for table in tables:
            conn.execute(f'select count(*) from marts."{table}"').fetchone()
        assert conn.execute("select count(*) from marts.town_annual_assessment").fetchone()[0] > 0


@pytest.mark.parametrize("relation", ["raw.report_values", "landing.submissions", "landing.files",
                                      "intermediate.int_assessment_scores", "staging.stg_raw__report_values",
                                      "seeds.scoring_indicators", "marts_build.towns", "quality.marts_audits"])
def test_bi_user_cannot_read_anything_but_the_marts(bi_user, relation):
    with psycopg.connect(**bi_user) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"select * from {relation} limit 1")


def test_bi_user_cannot_write(bi_user):
    with psycopg.connect(**bi_user) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into marts.programme_kpis (year, kpi, value, target, unit, met) "
                         "values (2099, 'x', 0, 0, 'x', true)")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from marts.towns")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table marts.bi_scratch (x int)")


def test_bi_tools_see_the_chinese_labels_units_and_the_build(bi_user):
    """Column and table comments (what BI tools show as descriptions), and which build BI reads."""
    with psycopg.connect(**bi_user) as conn:
        labels = dict(conn.execute(
            "select a.attname, col_description(a.attrelid, a.attnum) from pg_attribute as a "
            "where a.attrelid = 'marts.investment_progress'::regclass and a.attnum > 0 and not a.attisdropped"
        ).fetchall())
        title = conn.execute("select obj_description('marts.towns'::regclass, 'pg_class')").fetchone()[0]
        stamp = json.loads(conn.execute("select obj_description('marts'::regnamespace, 'pg_namespace')").fetchone()[0])
        unlabelled = conn.execute(
            "select count(*) from information_schema.columns as c where c.table_schema = 'marts' "
            "and c.table_name = any(%s) and col_description(format('marts.%%I', c.table_name)::regclass, "
            "c.ordinal_position) is null", (sorted(PUBLISHED_MARTS),)).fetchone()[0]
    assert labels["fai_ytd"] == "固定资产投资累计（单位：万元）"
    assert labels["town_code"] == "小镇/试点镇代码"
    assert title == "小镇名录（towns）"
    assert unlabelled == 0  # every published column carries its label
    assert stamp["state"] == "published" and stamp["complete"] and stamp["build_id"] and stamp["gx_run_id"]


def _defect_in_the_build() -> None:
    with connect(autocommit=True) as conn:
        assert conn.execute("update marts_build.towns set status = 'closed'").rowcount > 0


def test_a_build_that_fails_its_gate_changes_nothing_the_bi_role_reads(built, bi_user, sample_dir,
                                                                         publish_built_marts):
    from expectations.gate import QualityGateFailed, run_gate
    from ingest.landing import submit
    from publish.marts import MartsNotAudited, publish_marts

    before = _what_bi_reads(bi_user)
    [q4] = sorted(sample_dir.glob("330402_2016Q4*.xlsx"))
    assert submit(q4, write_feedback=False).status == "accepted"
    _run("run")
    _defect_in_the_build()
    with pytest.raises(QualityGateFailed, match=r"marts_towns\.in_set\.status"):
        run_gate("warehouse")
    with pytest.raises(MartsNotAudited, match="no passed marts audit"):
        publish_marts()
    assert _what_bi_reads(bi_user) == before

    # the next build, without the defect, passes and is switched in whole
    _run("run")
    switched = publish_built_marts()
    after = _what_bi_reads(bi_user)
    assert after["_stamp"] != before["_stamp"]
    assert json.loads(after["_stamp"])["build_id"] == switched["build_id"]
    changed = {t for t in PUBLISHED_MARTS if after[t] != before[t]}
    assert {"town_quarter_indicators", "submissions", "investment_progress"} <= changed
    with psycopg.connect(**bi_user) as conn:
        assert conn.execute("select count(*) from marts.town_quarter_indicators where year = 2016 and quarter = 4"
                            ).fetchone()[0] > 0
    assert switched["previous_build_id"] == json.loads(before["_stamp"])["build_id"]
    assert switched["wal_bytes"] < 10_000_000  # catalogue rows, not a copy of the marts


def test_a_partial_build_or_one_changed_after_its_audit_is_never_published(built, bi_user):
    from expectations.gate import run_gate
    from expectations.runner import main as gx
    from publish.marts import MartsNotAudited, publish_marts

    before = _what_bi_reads(bi_user)
    _run("run")  # marts_build up to date, not audited: then only one mart built again
    _run("run", "--select", "fct_programme_kpis")  # marts_build holds tables of two builds
    assert gx(["marts"]) == 0  # the tables pass their checks (python -m expectations marts): still not one build
    with pytest.raises(MartsNotAudited, match="did not build every mart"):
        publish_marts()

    _run("run")
    audited = run_gate("warehouse")
    _run("run", "--select", "fct_programme_kpis", "fct_town_annual_assessment")  # written after the audit
    with pytest.raises(MartsNotAudited):
        publish_marts()
    assert audited["build_id"]
    assert _what_bi_reads(bi_user) == before


def test_switching_twice_publishes_nothing_new(built, bi_user, publish_built_marts):
    from publish.marts import publish_marts

    _run("run")
    publish_built_marts()
    before = _what_bi_reads(bi_user)
    again = publish_marts()
    assert again["switched"] is False and "no new build" in again["reason"]
    assert _what_bi_reads(bi_user) == before


def test_incremental_marts_catch_up_from_their_own_state_after_switches(built, sample_dir, publish_built_marts):
    """After a switch marts_build holds the set published before: its incremental models rebuild the
    partitions that changed since *their* build (their state follows the table through the switch), no
    more, and then equal the published set row for row."""
    from ingest.landing import submit

    assert submit(sample_dir / "330402_2015Q1.xlsx", write_feedback=False).status == "accepted"
    _run("run")
    publish_built_marts()  # marts: with 2015Q1; marts_build: the set published before, without it
    _run("run")
    with connect() as conn:
        differ = conn.execute(
            "select count(*) from ((select * from marts_build.town_quarter_indicators except all "
            "select * from marts.town_quarter_indicators) union all (select * from marts.town_quarter_indicators "
            "except all select * from marts_build.town_quarter_indicators)) as d").fetchone()[0]
        rebuilt = set(conn.execute("select county_code, year, quarter "
                                   "from incremental_state.marts_build__town_quarter_indicators__rebuilt").fetchall())
    assert differ == 0
    # the new quarter, the next quarter (value_quarter) and the same quarter a year later (prior-year columns)
    assert rebuilt == {("330402", 2015, 1), ("330402", 2015, 2), ("330402", 2016, 1)}


def test_a_publication_run_holds_the_switch_off_until_it_is_done(built, publish_built_marts):
    """publish.wap reads marts under a shared lock: a switch waits for it (every file of a version comes
    from one build) and then goes through."""
    from publish.marts import reading_published

    _run("run")
    from expectations.gate import run_gate

    run_gate("warehouse")
    done: dict = {}

    def switch():
        from publish.marts import publish_marts

        done["result"] = publish_marts()

    with connect(autocommit=True) as reader, reading_published(reader):
        thread = threading.Thread(target=switch)
        thread.start()
        deadline = time.monotonic() + 120
        while not reader.execute("select exists (select 1 from pg_locks where locktype = 'advisory' "
                                 "and not granted)").fetchone()[0]:
            assert time.monotonic() < deadline and thread.is_alive(), "the switch never waited for the lock"
            time.sleep(0.05)
        assert "result" not in done  # waiting, not switched
    thread.join(120)
    assert done["result"]["switched"]


def _unaudited() -> set:
    with connect() as conn:
        return set(conn.execute("select county_code, year, quarter "
                                "from incremental_state.marts_build__town_quarter_indicators__unaudited").fetchall())


def _set_value(where: str, value: str) -> str:
    """Set value_ytd of one fai row of a partition; return its old value (as text)."""
    with connect(autocommit=True) as conn:
        key = ("select town_code from marts_build.town_quarter_indicators where county_code = '330402' and "
               f"{where} and indicator = 'fai' order by town_code limit 1")
        old = conn.execute(f"select value_ytd::text from marts_build.town_quarter_indicators where {where} "
                           f"and indicator = 'fai' and town_code = ({key})").fetchone()[0]
        assert conn.execute(f"update marts_build.town_quarter_indicators set value_ytd = %s where {where} "
                            f"and indicator = 'fai' and town_code = ({key})", (value,)).rowcount == 1
    return old


def test_the_marts_gate_audits_the_partitions_builds_wrote_since_its_last_pass(built, sample_dir):
    """town_quarter_indicators is audited by partition: the gate reads the partitions dbt rewrote since the
    last passed gate (a failed gate leaves them to the next one, even if the next build does not touch
    them); `full` reads every partition."""
    from expectations.gate import QualityGateFailed, run_gate
    from ingest.landing import submit

    _run("run")
    run_gate("warehouse")
    assert _unaudited() == set()  # a pass empties the set

    assert submit(sample_dir / "330402_2017Q1.xlsx", write_feedback=False).status == "accepted"
    _run("run")
    new = {("330402", 2017, 1), ("330402", 2017, 2), ("330402", 2018, 1)}  # the quarter and those that follow it
    assert _unaudited() == new
    in_new = "year = 2017 and quarter = 1"
    old = _set_value(in_new, "-1")  # what a faulty build would have written there
    with pytest.raises(QualityGateFailed, match=r"marts_town_quarter_indicators\.between\.value_ytd"):
        run_gate("warehouse")
    _run("run")  # nothing changed: dbt rewrites no partition, the defect stays
    assert _unaudited() == new  # ... and so do the partitions of the failed gate
    with pytest.raises(QualityGateFailed, match=r"marts_town_quarter_indicators\.between\.value_ytd"):
        run_gate("warehouse")
    _set_value(in_new, old)
    passed = run_gate("warehouse")
    assert _unaudited() == set()
    assert any("the 3 partitions of marts_build.town_quarter_indicators" in n for n in passed["notes"])

    # a partition audited before is not read again by the gate, but by the full gate
    outside = "year = 2016 and quarter = 1"
    old = _set_value(outside, "-1")
    try:
        with pytest.raises(QualityGateFailed, match=r"marts_town_quarter_indicators\.between\.value_ytd"):
            run_gate("warehouse", full=True)
        assert _unaudited() == set()
    finally:
        _set_value(outside, old)
    assert run_gate("warehouse", full=True)["success"]
