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
