"""The read-only BI role created by the dbt project: it reads the marts and nothing else (real PostgreSQL).

The project creates a NOLOGIN role `<database>_bi_reader` (on-run-start) and grants it usage on
schema marts and select on its tables (on-run-end, and by default for tables created later).
BI users are LOGIN roles that are members of it; here a throw-away one connects for real.
"""

from __future__ import annotations

import secrets

import psycopg
import pytest

from core.dbt import run_dbt
from core.warehouse import conn_params

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def built(warehouse, sample_dir):
    from ingest.landing import submit

    # one county's 2016 is enough to have rows in every mart (the tests run in test_dbt_warehouse)
    for path in sorted(sample_dir.glob("330402_2016Q*.xlsx")):
        assert submit(path, write_feedback=False).status == "accepted"
    for command in (["seed"], ["run"]):
        result = run_dbt(command)
        assert result.success, result.failures[:10]
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


def test_the_bi_role_exists_and_cannot_log_in(built):
    params = conn_params(built)
    with psycopg.connect(**params.libpq()) as conn:
        row = conn.execute("select rolcanlogin from pg_roles where rolname = %s",
                           (f"{params.dbname}_bi_reader"[-63:],)).fetchone()
    assert row == (False,)


def test_bi_user_reads_every_mart(bi_user):
    with psycopg.connect(**bi_user) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1")]
        assert {"towns", "town_quarter_indicators", "investment_progress", "pilot_targets",
                "assessment_components", "town_annual_assessment", "programme_kpis", "submissions"} <= set(tables)
        for table in tables:
            conn.execute(f'select count(*) from marts."{table}"').fetchone()
        assert conn.execute("select count(*) from marts.town_annual_assessment").fetchone()[0] > 0


@pytest.mark.parametrize("relation", ["raw.report_values", "landing.submissions", "landing.files",
                                      "intermediate.int_assessment_scores", "staging.stg_raw__report_values",
                                      "seeds.scoring_indicators"])
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


def test_grants_survive_a_rebuild(built, bi_user):
    """dbt recreates the mart tables on every build: the BI role keeps its access."""
    result = run_dbt(["run", "--select", "fct_programme_kpis"])
    assert result.success, result.failures
    with psycopg.connect(**bi_user) as conn:
        conn.execute("select count(*) from marts.programme_kpis").fetchone()
