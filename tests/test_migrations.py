"""The landing and raw schemas under Alembic (ingest/schema.py, ingest/migrations): a deployment that
already holds data upgrades in place; an up-to-date database costs one version read per submit."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest

from core.warehouse import connect, drop_database, fresh_database
from ingest import schema

pytestmark = pytest.mark.integration

# revision 0001 is, by design, the DDL the release before migrations ran on every submit
BEFORE_MIGRATIONS = schema.MIGRATIONS / "versions" / "0001_landing_and_raw.py"
SHA = "ab" * 32


def _before_migrations_ddl() -> str:
    import importlib.util

    spec = importlib.util.spec_from_file_location("revision_0001", BEFORE_MIGRATIONS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DDL


def test_head_is_the_newest_migration_script():
    assert schema.head() == schema.HEAD


@pytest.fixture
def old_database(warehouse):
    """A database as the release before migrations made it, before v2 (no prior-year columns), with a
    file, its accepted submission, a finding and values in it."""
    url = fresh_database("test_migrations_old", warehouse)
    with connect(url, autocommit=True) as c:
        c.execute(_before_migrations_ddl())
        c.execute("alter table raw.report_values drop column value_prev_year, drop column prev_year_source_cell")
        c.execute("insert into landing.files values (%s, 10, '/archive/ab.xlsx', '2016-10-12 09:30+08')", (SHA,))
        sid = c.execute("insert into landing.submissions (file_sha256, file_name, received_at, county_code, year, "
                        "quarter, forms, status, version) values (%s, '330402_2016Q3.xlsx', '2016-10-12 09:30+08', "
                        "'330402', 2016, 3, '{LZ-0}', 'accepted', 1) returning submission_id", (SHA,)).fetchone()[0]
        c.execute("insert into landing.findings values (%s, 1, 'warning', 'submission.late', null, null, null, "
                  "null, '迟报', 'late')", (sid,))
        c.execute("insert into raw.report_values values (%s, '330402', 2016, 3, 'LZ-0', null, 'gdp', 123.4, %s, "
                  "'LZ-0 县域指标', 'C5')", (sid, SHA))
    yield url
    drop_database(url)


def _snapshot(c) -> list:
    return [c.execute(f"select * from {t} order by 1").fetchall()  # constants
            for t in ("landing.files", "landing.submissions", "landing.findings", "raw.report_values")]


def test_a_database_from_before_migrations_is_upgraded_with_its_data_in_place(old_database):
    with connect(old_database, autocommit=True) as c:
        rows = _snapshot(c)
        assert schema.current(c) is None
        from ingest.landing import ensure_schema

        ensure_schema(c)  # what the first submit after the upgrade does
        assert schema.current(c) == schema.HEAD
        after = _snapshot(c)
        assert after[:3] == rows[:3]
        assert [r[:11] for r in after[3]] == rows[3] and after[3][0][11:] == (None, None)  # v2 columns, null
        assert c.execute("select count(*) from landing.held_files").fetchone() == (0,)
        # a file may have a pending submission beside its decided one (ops reprocess), never two decided ones
        c.execute("insert into landing.submissions (file_sha256, file_name, received_at, status) "
                  "values (%s, 'x', now(), 'pending')", (SHA,))
        with pytest.raises(psycopg.errors.UniqueViolation):
            c.execute("insert into landing.submissions (file_sha256, file_name, received_at, status) "
                      "values (%s, 'x', now(), 'refused')", (SHA,))


def test_the_upgraded_database_takes_reports(old_database, sample_dir):
    from ingest.landing import submit

    with connect(old_database, autocommit=True) as c:
        result = submit(sample_dir / "330402_2016Q2.xlsx", conn=c, write_feedback=False)  # upgrades first
        assert result.status == "accepted" and result.rows_loaded > 0
        assert c.execute("select count(*) from landing.submissions").fetchone() == (2,)


def test_an_up_to_date_database_is_not_migrated_again(warehouse, monkeypatch):
    """ensure() reads the version and stops: no DDL, no lock on the tables, on every submit."""
    monkeypatch.setattr(schema, "migrate", lambda *a, **k: pytest.fail("migrated an up-to-date database"))
    with connect(warehouse) as c:
        schema.ensure(c)
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # the caller's connection as it was
        locks = c.execute("select count(*) from pg_locks where pid = pg_backend_pid() and locktype = 'relation' "
                          "and relation in ('raw.report_values'::regclass, 'landing.submissions'::regclass)"
                          ).fetchone()[0]
        assert locks == 0


def test_two_processes_upgrading_a_new_database_at_once_migrate_it_once(warehouse):
    url = fresh_database("test_migrations_race", warehouse)
    code = ("import json, sys; from ingest.schema import migrate; "
            "print(json.dumps(migrate(sys.argv[1])))")
    try:
        procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outcomes = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
        # both succeed: the second waited for the first's lock and found the work done (the revisions'
        # DDL is not idempotent: run twice, it would fail)
        assert [p.returncode for p in procs] == [0, 0]
        assert [after for _, after in outcomes] == [schema.HEAD, schema.HEAD]
        with connect(url) as c:
            assert c.execute("select count(*) from landing.alembic_version").fetchone() == (1,)
    finally:
        drop_database(url)


def test_ops_migrate_reports_the_revisions(warehouse, capsys):
    from ops import cli

    assert cli.main(["migrate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"before": schema.HEAD, "after": schema.HEAD}
