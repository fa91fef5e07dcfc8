"""Static checks of the production stack for what issue 16 fixed (no Docker engine here: the compose
file, the Dockerfile and the locks are read, and checked against the installed Airflow)."""

from __future__ import annotations

import pathlib
import re
import shlex
import sys
from importlib import metadata

import pytest
import yaml

from core.config import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "docker"))
import lock  # noqa: E402  (docker/lock.py: the image build's check of the production lock)

AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer", "celery worker"}
PIPELINE_SECRETS = {"warehouse_pgpass", "publication_s3_credentials"}


def _compose() -> dict:
    return yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())


def _dockerfile() -> str:
    return (PROJECT_DIR / "docker" / "Dockerfile").read_text()


def _ours(services: dict) -> dict:
    """The services that run the project's image."""
    return {n: s for n, s in services.items() if str(s.get("image", "")).startswith("twotowns:")}


def _airflow(services: dict) -> dict:
    """The services that run Airflow (its components and its init)."""
    return {n: s for n, s in _ours(services).items() if _command(s) in AIRFLOW_COMMANDS or n == "airflow-init"}


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def _owned_dirs() -> set[str]:
    """Directories the Dockerfile creates owned by uid 50000 (`install -d -o 50000 ...` lines)."""
    text = _dockerfile().replace("\\\n", " ")
    dirs = set()
    for line in text.splitlines():
        words = shlex.split(line.removeprefix("RUN ")) if "install -d" in line else []
        if words[:2] == ["install", "-d"] and words[words.index("-o") + 1] == "50000":
            dirs |= {w for w in words[2:] if w.startswith("/")}
    return dirs


def _secret_names(service: dict) -> set[str]:
    return {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}


def test_every_airflow_service_gets_the_same_secret_key_jwt_secret_and_fernet_key():
    airflow = _airflow(_compose()["services"])
    assert set(airflow) >= {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                            "airflow-triggerer", "airflow-worker"}
    for option in ("AIRFLOW__API__SECRET_KEY_CMD", "AIRFLOW__API_AUTH__JWT_SECRET_CMD", "AIRFLOW__CORE__FERNET_KEY_CMD",
                   "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD", "AIRFLOW__CELERY__BROKER_URL_CMD"):
        values = {name: s["environment"].get(option) for name, s in airflow.items()}
        assert len(set(values.values())) == 1 and None not in values.values(), (option, values)
        secret = re.fullmatch(r"cat /run/secrets/(\w+)", next(iter(values.values()))).group(1)
        assert all(secret in _secret_names(s) for s in airflow.values()), (option, secret)


def test_every_cmd_variable_is_one_airflow_runs_as_a_command(tmp_path):
    """Airflow honours <option>_CMD for its sensitive options only: any other would be ignored silently.
    (Asked in a child process with its own AIRFLOW_HOME: importing Airflow's configuration here would fix it
    for the whole test session before the DAG tests set theirs.)"""
    import json
    import os
    import subprocess
    import sys

    probe = ("import json; from airflow.configuration import conf; "
             "print(json.dumps(sorted(map(list, conf.sensitive_config_values))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120,
                         env={**os.environ, "AIRFLOW_HOME": str(tmp_path)}).stdout
    sensitive = {tuple(pair) for pair in json.loads(out.strip().splitlines()[-1])}
    for name, service in _compose()["services"].items():
        for var in service.get("environment", {}):
            if var.startswith("AIRFLOW__") and var.endswith("_CMD"):
                section, key = var.removeprefix("AIRFLOW__").removesuffix("_CMD").lower().split("__")
                assert (section, key) in sensitive, (name, var)


def test_no_service_uses_a_root_key_of_the_object_store():
    services = _compose()["services"]
    store = services["objectstore"]
    assert not store["image"].startswith("minio") and "minio" not in (PROJECT_DIR / "docker-compose.yml").read_text()
    assert re.search(r":v\d+\.\d+\.\d+}?$", store["image"]), "an exact version"
    # Garage has no root S3 key; its admin token stays with the store and its init
    assert {n for n, s in services.items() if "garage_admin_token" in _secret_names(s)} == {"objectstore",
                                                                                           "objectstore-init"}
    for name, service in services.items():
        env = service.get("environment", {})
        assert not any(re.search(r"ROOT_(USER|PASSWORD)|ACCESS_KEY|SECRET_KEY$|FSSPEC_S3_(KEY|SECRET)", v)
                       for v in env), name
        if "PUBLISH_URL" in env and name != "objectstore-init":
            assert env["AWS_SHARED_CREDENTIALS_FILE"] == "/run/secrets/publication_s3_credentials", name
    init = (PROJECT_DIR / "docker" / "objectstore_init.py").read_text()
    assert '"owner": False' in init and "mc " not in init


def test_only_the_services_that_run_pipeline_tasks_get_the_warehouse_and_store_credentials():
    services = _compose()["services"]
    holders = {n: _secret_names(s) & PIPELINE_SECRETS for n, s in services.items()}
    assert holders["airflow-worker"] == PIPELINE_SECRETS
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "redis",
                 "airflow-db"):
        assert not holders[name], name
        assert "WAREHOUSE_URL" not in services[name].get("environment", {}), name
    for name, service in services.items():  # a password is never in a URL of the file
        for value in service.get("environment", {}).values():
            assert not re.search(r"://[^/@\s]+:[^/@\s]+@", str(value)), (name, value)


def test_every_mounted_path_exists_in_the_image_owned_by_the_airflow_user():
    owned = _owned_dirs()
    assert {"/srv/twotowns", "/srv/drop/inbox", "/srv/drop/outbox", "/opt/airflow/logs"} <= owned
    services = _compose()["services"]
    for name, service in _ours(services).items():
        for volume in service.get("volumes", []):
            target = volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
            assert target in owned, (name, target)
        for var in ("TWOTOWNS_VAR_DIR", "TWOTOWNS_INBOX", "TWOTOWNS_OUTBOX", "DBT_TARGET_PATH", "DBT_LOG_PATH"):
            if var in service.get("environment", {}):
                assert service["environment"][var] in owned, (name, var)


def test_the_county_file_drop_is_a_documented_bind_mount_docker_never_creates():
    services = _compose()["services"]
    for name in ("airflow-worker", "portal"):
        [drop] = [v for v in services[name]["volumes"] if isinstance(v, dict) and v["target"] == "/srv/drop"]
        assert drop["type"] == "bind" and drop["bind"]["create_host_path"] is False, name
        assert drop["source"].startswith("${TWOTOWNS_DROP_DIR:?"), name
    assert "TWOTOWNS_DROP_DIR" in (PROJECT_DIR / "docs" / "production.md").read_text()


def test_workers_shut_down_warm_and_wait_for_the_api_server():
    services = _compose()["services"]
    worker = services["airflow-worker"]
    assert worker["environment"]["DUMB_INIT_SETSID"] == "0"
    assert _minutes(worker["stop_grace_period"]) >= 10  # a dbt build takes minutes
    assert _minutes(services["airflow-triggerer"]["stop_grace_period"]) >= 1
    for name in ("airflow-worker", "airflow-triggerer", "airflow-dag-processor"):
        assert services[name]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy", name
    assert services["airflow-apiserver"]["healthcheck"]
    assert _megabytes(worker["shm_size"]) >= 512  # Chromium prints the bulletin


def _minutes(text: str) -> float:
    m = re.fullmatch(r"(\d+)(s|m|h)", text)
    return int(m.group(1)) * {"s": 1 / 60, "m": 1, "h": 60}[m.group(2)]


def _megabytes(text: str) -> float:
    m = re.fullmatch(r"(\d+)(mb|gb)", text.lower())
    return int(m.group(1)) * (1024 if m.group(2) == "gb" else 1)


def test_health_checks_pass_only_once_first_start_initialisation_is_done():
    services = _compose()["services"]
    # the first-start scripts' server listens on the socket only: TCP, as the owner, into its database
    check = services["warehouse"]["healthcheck"]["test"]
    assert check[:2] == ["CMD", "psql"] and ["-h", "127.0.0.1"] == check[3:5] and "twotowns" in check[5:9]
    assert "-h" in services["airflow-db"]["healthcheck"]["test"]
    for name, service in _ours(services).items():  # nothing of ours runs before the store and Airflow are set up
        if name not in ("objectstore-init", "airflow-init"):
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-init"]["depends_on"]["objectstore-init"]["condition"] == "service_completed_successfully"
    assert "mc" not in services["objectstore-init"]["command"]


def test_the_image_is_the_slim_airflow_of_the_lock_tagged_with_the_commit():
    services = _compose()["services"]
    ours = _ours(services)
    assert {"airflow-worker", "portal", "objectstore-init"} <= set(ours)
    for name, service in ours.items():
        assert service["image"].startswith("twotowns:${TWOTOWNS_VERSION:?"), name
        assert service["build"]["dockerfile"] == "docker/Dockerfile", name
    assert not any(str(s.get("image", "")).endswith(":latest") for s in services.values())
    base = re.search(r"^ARG AIRFLOW_BASE=(\S+)$", _dockerfile(), re.M).group(1)
    assert base == f"apache/airflow:slim-{metadata.version('apache-airflow')}-python3.11"
    assert services["airflow-worker"]["build"]["args"]["AIRFLOW_BASE"] == f"${{AIRFLOW_BASE_IMAGE:-{base}}}"
    dockerfile = _dockerfile()
    for needed in ("chromium", "fonts-noto-cjk", "postgresql-client-16", "pip check",
                   "lock.py check /opt/twotowns/lock/requirements-prod.txt", "docker/check_pdf.py"):
        assert needed in dockerfile, needed
    assert re.search(r"pip install [^\n]*-r /opt/twotowns/lock/requirements-prod\.txt", dockerfile)
    ignored = (PROJECT_DIR / ".dockerignore").read_text().splitlines()
    assert {".env", "secrets", ".git", ".venv", "tests"} <= set(ignored)  # never in the build context
    assert "requirements.txt" not in dockerfile.replace("requirements-prod.txt", "")


def test_no_test_tool_is_in_the_production_lock_and_the_lock_is_what_runs_here():
    prod = lock.read_lock(PROJECT_DIR / "requirements-prod.txt")
    dev = lock.read_lock(PROJECT_DIR / "requirements-dev.txt")
    assert not set(prod) & lock.TEST_TOOLS
    assert {"pytest", "moto", "hypothesis", "ruff", "pgserver"} <= set(dev)
    assert not set(prod) & set(dev), "each pin in one file"
    assert {"apache-airflow-providers-fab", "apache-airflow", "dbt-core", "great-expectations"} <= set(prod)
    assert "apache-airflow-providers-openlineage" not in prod
    includes = [line for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines() if line.startswith("-r")]
    assert includes == ["-r requirements-prod.txt", "-r requirements-dev.txt"]
    # what the tests run with is the lock: every pin installed at its version, nothing it needs unpinned
    assert lock.lock_problems(PROJECT_DIR / "requirements-prod.txt") == []


def test_the_lock_check_finds_a_test_tool_a_wrong_version_and_an_unpinned_requirement(tmp_path):
    good = (PROJECT_DIR / "requirements-prod.txt").read_text()
    bad = tmp_path / "requirements-prod.txt"
    bad.write_text(re.sub(r"(?m)^dbt-core==\S+$", "dbt-core==0.0.1", good).replace("\nPyJWT==", "\n#PyJWT==")
                   + f"pytest=={metadata.version('pytest')}\n")
    found = lock.lock_problems(bad)
    assert "test tool in the production lock: pytest" in found
    assert any(p.startswith("dbt-core==0.0.1 is locked but") for p in found)
    assert "pyjwt is needed by a locked distribution but not locked" in found
    without_celery = tmp_path / "no-celery.txt"
    without_celery.write_text(re.sub(r"(?m)^apache-airflow-providers-celery==.*$", "", good))
    assert "apache-airflow-providers-celery" in lock.unlocked_providers(without_celery)


def test_the_ui_uses_the_fab_auth_manager_with_its_admin_from_a_secret():
    services = _compose()["services"]
    manager = services["airflow-apiserver"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"]
    module, name = manager.rsplit(".", 1)
    # installed (the prod lock pins the provider); found, not imported: importing it would load Airflow's
    # configuration in this process before the DAG tests set their AIRFLOW_HOME
    source = metadata.distribution("apache-airflow-providers-fab").locate_file(module.replace(".", "/") + ".py")
    assert f"class {name}" in pathlib.Path(source).read_text(encoding="utf-8")
    assert "airflow_admin_password" in _secret_names(services["airflow-init"])
    assert not any("SIMPLE_AUTH" in v for s in services.values() for v in s.get("environment", {}))
    init = (PROJECT_DIR / "docker" / "airflow-init.sh").read_text()
    assert "airflow users create" in init and "airflow users reset-password" in init


def test_redis_requires_a_password_and_the_broker_url_comes_from_a_secret():
    services = _compose()["services"]
    redis = services["redis"]
    assert "--aclfile" in redis["command"] and "redis_users_acl" in _secret_names(redis)
    assert services["airflow-worker"]["environment"]["AIRFLOW__CELERY__BROKER_URL_CMD"] == \
        "cat /run/secrets/airflow_broker_url"
    assert "ports" not in redis and "ports" not in services["airflow-db"]  # single host: not reachable


def test_the_portal_runs_the_same_image_with_its_secret_and_the_inbox():
    portal = _compose()["services"]["portal"]
    assert portal["command"] == ["python", "-m", "portal", "serve", "--host", "0.0.0.0", "--port", "8090"]
    env = portal["environment"]
    assert env["TWOTOWNS_PORTAL_SECRET_KEY_FILE"] == "/run/secrets/portal_secret_key"
    assert env["WAREHOUSE_URL"].startswith("postgresql://twotowns@warehouse:") and env["PGPASSFILE"]
    assert env["TWOTOWNS_INBOX"] == "/srv/drop/inbox" and "TWOTOWNS_ALERT_SMTP_URL" in env
    assert "portal_secret_key" in _secret_names(portal)
    assert portal["healthcheck"]["test"] == ["CMD", "curl", "--fail", "http://localhost:8090/healthz"]
    assert portal["ports"] == ["127.0.0.1:8090:8090"]
    assert not any(isinstance(v, dict) and v.get("read_only") for v in portal["volumes"])


@pytest.mark.parametrize("section", ["First start", "Deploy a new version", "Add a worker on another machine",
                                     "Rotate a secret", "Back up and restore", "Single host"])
def test_the_runbook_has_each_procedure(section):
    assert f"## {section}" in (PROJECT_DIR / "docs" / "production.md").read_text()


def test_every_secret_is_declared_and_used():
    compose = _compose()
    used = set().union(*(_secret_names(s) for s in compose["services"].values()))
    assert used == set(compose["secrets"])
    script = (PROJECT_DIR / "docker" / "make-secrets.sh").read_text()
    for name, secret in compose["secrets"].items():
        assert secret["file"].startswith("${TWOTOWNS_SECRETS_DIR:?"), name
        assert secret["file"].rsplit("/", 1)[1] in script, name
