"""docker-compose.yml: valid against the Compose Specification, complete, and free of secrets.
(No Docker engine here: the file is validated, not run.)"""

from __future__ import annotations

import json
import re

import jsonschema
import yaml

from core.config import PROJECT_DIR

SCHEMA = PROJECT_DIR.parent / "shared" / "vendor" / "compose-spec.schema.json"


def _compose() -> dict:
    return yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification():
    import pytest

    if not SCHEMA.exists():
        pytest.skip("shared/vendor/compose-spec.schema.json is not beside the project")
    jsonschema.validate(_compose(), json.loads(SCHEMA.read_text()))


def test_compose_has_the_production_components():
    services = _compose()["services"]
    assert {"warehouse", "airflow-db", "redis", "objectstore", "airflow-apiserver", "airflow-scheduler",
            "airflow-dag-processor", "airflow-triggerer", "airflow-worker"} <= set(services)
    assert services["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_no_secret_is_written_in_the_compose_file():
    text = (PROJECT_DIR / "docker-compose.yml").read_text()
    for line in text.splitlines():
        m = re.match(r"\s*[A-Z_]*(PASSWORD|SECRET|FERNET_KEY|_KEY)[A-Z_]*:\s*(.+)", line)
        if m:
            assert m.group(2).strip().startswith("${"), line
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
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:"), name
        assert "airflow-db" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["PUBLISH_URL"].startswith("${PUBLISH_URL:-s3://"), name
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
