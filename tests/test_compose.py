"""docker-compose.yml: valid against the Compose Specification, complete, and free of secrets.
(No Docker engine here: the file is validated, not run.)"""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from core.config import PROJECT_DIR

SCHEMA = PROJECT_DIR / "tests" / "vendor" / "compose-spec.schema.json"  # see tests/vendor/README.md
SHARED_SCHEMA = PROJECT_DIR.parent / "shared" / "vendor" / "compose-spec.schema.json"


def _compose() -> dict:
    return yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification():
    jsonschema.validate(_compose(), json.loads(SCHEMA.read_text()))
    if SHARED_SCHEMA.exists():  # the shared copy beside the project: ours must be the same
        assert SCHEMA.read_bytes() == SHARED_SCHEMA.read_bytes(), "tests/vendor copy is out of date"


def test_compose_has_the_production_components():
    services = _compose()["services"]
    assert {"warehouse", "airflow-db", "redis", "objectstore", "objectstore-init", "airflow-init", "airflow-apiserver",
            "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker", "portal"} <= set(services)
    assert services["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_no_secret_is_written_in_the_compose_file():
    """A secret-looking setting names a secret file (or a command reading one), or a variable of .env."""
    text = (PROJECT_DIR / "docker-compose.yml").read_text()
    for line in text.splitlines():
        m = re.match(r"\s*[A-Z_]*(PASSWORD|SECRET|FERNET_KEY|_KEY|TOKEN)[A-Z_]*:\s*(.+)", line)
        if m:
            value = m.group(2).strip().strip('"')
            assert value.startswith(("${", "/run/secrets/", "cat /run/secrets/")) or value == "true", line
    for name, secret in _compose()["secrets"].items():
        assert set(secret) == {"file"}, name  # never `environment:` or an inline value
    assert not (PROJECT_DIR / ".env").exists() or ".env" in (PROJECT_DIR / ".gitignore").read_text()


def test_workers_scale_out_and_every_airflow_service_runs_the_same_celery_setup():
    services = _compose()["services"]
    worker = services["airflow-worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert "container_name" not in worker and "ports" not in worker and "hostname" not in worker  # --scale works
    airflow = [name for name in services if name.startswith("airflow-") and name != "airflow-db"]
    for name in airflow:
        env = services[name]["environment"]
        assert services[name]["image"] == worker["image"], name
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL_CMD"] == "cat /run/secrets/airflow_broker_url", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"] == "cat /run/secrets/airflow_db_url", name
    assert worker["environment"]["PUBLISH_URL"].startswith("${PUBLISH_URL:-s3://")
    script = (PROJECT_DIR / "docker" / "make-secrets.sh").read_text()
    assert "redis://airflow:$(read1 redis_password)@redis:6379/0" in script
    assert "@airflow-db:5432/airflow" in script
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                 "airflow-worker"):
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in services[name], name


def test_stateful_services_keep_their_data_in_volumes_and_report_health():
    compose = _compose()
    for name in ("warehouse", "airflow-db", "objectstore"):
        service = compose["services"][name]
        assert "healthcheck" in service, name
        assert any(v.split(":", 1)[0] in compose["volumes"] for v in service["volumes"]), name
    assert compose["services"]["redis"]["healthcheck"]
    # every published port is bound to the host's loopback only
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_every_variable_the_compose_file_reads_is_documented_in_env_example():
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", (PROJECT_DIR / "docker-compose.yml").read_text()))
    documented = {line.split("=", 1)[0] for line in (PROJECT_DIR / ".env.example").read_text().splitlines()
                  if line and not line.startswith("#")}
    assert used <= documented, sorted(used - documented)
    assert all(not line.split("=", 1)[1] for line in (PROJECT_DIR / ".env.example").read_text().splitlines()
               if re.match(r"[A-Z_]*(PASSWORD|SECRET|FERNET_KEY|ACCESS_KEY)[A-Z_]*=", line)), "no secret values"


def test_the_platform_connects_to_the_warehouse_as_its_owner_role_not_the_superuser():
    services = _compose()["services"]
    superuser = services["warehouse"]["environment"]["POSTGRES_USER"]
    url = services["airflow-worker"]["environment"]["WAREHOUSE_URL"]
    assert url.startswith("postgresql://twotowns@") and superuser != "twotowns"  # password: PGPASSFILE
    assert "./docker/warehouse-init.sh:/docker-entrypoint-initdb.d/10-twotowns.sh:ro" in services["warehouse"]["volumes"]
    for name, service in services.items():  # nothing but the warehouse itself knows the superuser's password
        text = json.dumps([service.get("environment", {}), service.get("secrets", [])])
        assert "warehouse_admin_password" not in text or name == "warehouse", name


@pytest.mark.integration
def test_warehouse_init_script_creates_a_least_privilege_owner(warehouse, tmp_path):
    """docker/warehouse-init.sh for real, with psql, on the embedded server (as its owner role,
    which may create roles: the container runs it as the superuser). A password full of quotes
    and semicolons stays a password. PUBLIC may not connect; a member of the BI role may."""
    import os
    import subprocess

    import psycopg
    from psycopg import sql

    from core.warehouse import _bin, conn_params

    p = conn_params(warehouse)
    owner, db, password = f"{p.dbname}_owner", f"{p.dbname}_owner_db", "pa'ss\"wo;rd$(x) drop role x;"
    bi, bi_login = f"{db}_bi_reader", f"{p.dbname}_bi_login"
    secret = tmp_path / "warehouse_password"  # as compose gives it: a secret file
    secret.write_text(password + "\n")
    env = {**os.environ, "PATH": f"{_bin('psql').parent}{os.pathsep}{os.environ['PATH']}", "PGHOST": p.host,
           "PGPORT": str(p.port), "PGUSER": p.user, "PGPASSWORD": p.password, "POSTGRES_DB": p.dbname,
           "TWOTOWNS_DB_USER": owner, "TWOTOWNS_DB_NAME": db, "TWOTOWNS_DB_PASSWORD_FILE": str(secret),
           # a superuser needs no membership to hand a database to a role; the test's owner role does
           "PGOPTIONS": "-c createrole_self_grant=set,inherit"}
    admin = psycopg.connect(**p.libpq(), autocommit=True)
    try:
        done = subprocess.run(["sh", str(PROJECT_DIR / "docker" / "warehouse-init.sh")], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        with psycopg.connect(host=p.host, port=p.port, user=owner, password=password, dbname=db,
                             autocommit=True) as conn:
            role = conn.execute("select rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                                "from pg_roles where rolname = current_user").fetchone()
            assert role == (False, True, False, False, False)
            assert conn.execute("select pg_get_userbyid(datdba) from pg_database where datname = current_database()"
                                ).fetchone()[0] == owner
            conn.execute("create schema marts")  # it owns its database
            acl = conn.execute("select datacl::text from pg_database where datname = current_database()").fetchone()[0]
            assert not any(item.startswith("=") for item in acl.strip("{}").split(",")), acl  # nothing for PUBLIC
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("create database should_not_exist")
            # the BI role: NOLOGIN, may connect, its members managed by the owner (ADMIN, as dbt's own)
            assert conn.execute("select rolcanlogin, has_database_privilege(oid, current_database(), 'connect') "
                                "from pg_roles where rolname = %s", (bi,)).fetchone() == (False, True)
            conn.execute(sql.SQL("create role {} login password 'bi-pw' in role {}").format(
                sql.Identifier(bi_login), sql.Identifier(bi)))
        with psycopg.connect(host=p.host, port=p.port, user=bi_login, password="bi-pw", dbname=db) as bi_conn:
            assert bi_conn.execute("select current_user").fetchone()[0] == bi_login  # BI logins are not refused
    finally:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))
        _drop_roles_as(owner, password, p, [bi_login, bi])
        admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(owner)))
        admin.close()


def _drop_roles_as(owner: str, password: str, p, roles: list[str]) -> None:
    """Roles the owner created (it holds ADMIN on them), dropped by the owner."""
    import psycopg
    from psycopg import sql

    try:
        conn = psycopg.connect(host=p.host, port=p.port, user=owner, password=password, dbname=p.dbname,
                               autocommit=True)
    except psycopg.OperationalError:
        return  # the script failed before creating the owner
    with conn:
        for role in roles:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))
