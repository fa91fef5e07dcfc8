"""Shared fixtures: an isolated warehouse database, runtime folders and the sample reports.

The tests never touch the developer's own data: they run against a fresh
database `<name>_test` on the same PostgreSQL server (the embedded one unless
WAREHOUSE_URL is set), with inbox/outbox/archive and the publication target in
a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def runtime_dirs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runtime")
    os.environ["TWOTOWNS_VAR_DIR"] = str(root / "var")
    os.environ["PUBLISH_URL"] = (root / "published").as_uri()
    os.environ["AIRFLOW_HOME"] = str(root / "airflow")
    os.environ["DBT_TARGET_PATH"] = str(root / "dbt_target")
    os.environ["DBT_LOG_PATH"] = str(root / "dbt_logs")
    return root


_BASE_URL: list[str] = []


def create_database(suffix: str) -> str:
    """A fresh, empty database `<name>_<suffix>` with the landing/raw schema; returns its URL."""
    from core.warehouse import connect, fresh_database, warehouse_url
    from ingest.landing import ensure_schema

    if not _BASE_URL:
        _BASE_URL.append(warehouse_url())  # before any test points WAREHOUSE_URL elsewhere
    url = fresh_database(suffix, _BASE_URL[0])
    with connect(url) as conn:
        ensure_schema(conn)
    return url


@pytest.fixture(scope="module")
def warehouse(runtime_dirs, request) -> str:
    """Each test module gets its own fresh database; WAREHOUSE_URL points at it meanwhile."""
    suffix = "test_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    url = create_database(suffix)
    previous = os.environ.get("WAREHOUSE_URL")
    os.environ["WAREHOUSE_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("WAREHOUSE_URL", None)
    else:
        os.environ["WAREHOUSE_URL"] = previous


@pytest.fixture(scope="session")
def publish_built_marts():
    """What warehouse_build does after `dbt build`: the marts gate on marts_build, then the audited build
    switched into marts (publish/marts.py), where BI tools and the publication read. A function of the
    warehouse URL (default: WAREHOUSE_URL); returns the switch's result."""
    def publish(url: str | None = None) -> dict:
        from expectations.gate import run_gate
        from publish.marts import publish_marts

        run_gate("warehouse", url)
        result = publish_marts(url)
        assert result["switched"], result
        return result

    return publish


@pytest.fixture
def conn(warehouse):
    from core.warehouse import connect

    with connect(warehouse, autocommit=True) as c:
        yield c


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    from samplegen import generate

    out = tmp_path_factory.mktemp("sample")
    generate(out)
    return out


def read_expected(sample_dir: Path) -> list[dict]:
    import json

    from samplegen import EXPECTED_FILE

    return json.loads((sample_dir / EXPECTED_FILE).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def expected(sample_dir) -> list[dict]:
    """Every file of the sample (2015Q1-2018Q4) with what the pipeline should make of it."""
    return read_expected(sample_dir)


LAST_PERIOD_OF_THE_EARLY_SAMPLE = "2016Q4"


@pytest.fixture(scope="session")
def expected_through_2016(sample_dir) -> list[dict]:
    """The expected entries of the periods up to 2016Q4: the files of the sample's first two years.

    The sample runs 2015Q1-2018Q4; the integration modules that load every file into a warehouse
    (minutes per module) only need 2015-2016 and load these (a module fixture `expected` returning
    this one). Their files are in `sample_dir` too. Not derived from the fixture `expected`, which
    such a module overrides."""
    return [e for e in read_expected(sample_dir) if e["period"] <= LAST_PERIOD_OF_THE_EARLY_SAMPLE]


@pytest.fixture
def broken_submission_suite(tmp_path, monkeypatch):
    """The submission suite with one more check that cannot run (a column that does not exist), in place of
    the project's suites for this test: what the audit does when a check raises."""
    import json

    from expectations import specs, submission

    spec = json.loads((specs.SUITES_DIR / "submission_report_values.json").read_text(encoding="utf-8"))
    spec["expectations"].append({
        "type": "unexpected_rows_expectation", "severity": "critical", "description": "broken on purpose",
        "meta": {"check": "broken", "finding_code": "value.parent"},
        "kwargs": {"unexpected_rows_query": "select * from {batch} where no_such_column > 0"}})
    (tmp_path / "submission_report_values.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setattr(specs, "SUITES_DIR", tmp_path)
    monkeypatch.setattr(submission, "_prepared", {})
    return tmp_path
