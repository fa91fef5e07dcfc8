"""The stack's secrets for real: docker/make-secrets.sh writes every file compose mounts, consistent with
each other, and rotates; docker/objectstore_init.py sets up the store through an admin API speaking
Garage's v2 protocol; the pipeline reaches the warehouse with its password only in a PostgreSQL
password file, as the workers do."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from core.config import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "docker"))
import objectstore_init  # noqa: E402


def _make_secrets(folder) -> str:
    done = subprocess.run(["sh", str(PROJECT_DIR / "docker" / "make-secrets.sh"), str(folder)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _read(folder, name: str) -> str:
    return (folder / name).read_text().strip()


def test_every_secret_compose_mounts_is_written_once_and_derived_files_follow_a_rotation(tmp_path):
    from cryptography.fernet import Fernet

    folder = tmp_path / "secrets"
    _make_secrets(folder)
    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())
    for name, secret in compose["secrets"].items():
        assert _read(folder, secret["file"].rsplit("/", 1)[1]), name
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "warehouse_pgpass").stat().st_mode) == 0o600  # libpq reads no other
    Fernet(_read(folder, "airflow_fernet_key"))  # a valid key
    assert re.fullmatch(r"[0-9a-f]{64}", _read(folder, "garage_rpc_secret"))
    key_id, secret = objectstore_init.read_credentials(folder / "publication_s3_credentials")
    assert re.fullmatch(r"GK[0-9a-f]{24}", key_id) and re.fullmatch(r"[0-9a-f]{64}", secret)  # Garage's formats

    password = _read(folder, "warehouse_password")
    assert _read(folder, "warehouse_pgpass") == f"*:5432:twotowns:twotowns:{password}"
    assert f"airflow:{_read(folder, 'airflow_db_password')}@airflow-db:5432/airflow" in _read(folder, "airflow_db_url")
    redis = _read(folder, "redis_password")
    assert _read(folder, "airflow_broker_url") == f"redis://airflow:{redis}@redis:6379/0"
    assert f"user airflow on >{redis} " in _read(folder, "redis_users.acl")
    assert "user default off" in _read(folder, "redis_users.acl")

    before = {p.name: p.read_text() for p in folder.iterdir()}
    assert _make_secrets(folder) == ""  # run again: nothing created, nothing changed
    assert {p.name: p.read_text() for p in folder.iterdir()} == before

    (folder / "warehouse_password").write_text("rotated0123\n")  # rotation: a new value, then the script
    (folder / "redis_password").unlink()
    assert _make_secrets(folder) == "created redis_password\n"
    assert _read(folder, "warehouse_pgpass").endswith(":rotated0123")
    assert _read(folder, "redis_password") != redis and _read(folder, "redis_password") in _read(folder, "redis_users.acl")


class _Garage(BaseHTTPRequestHandler):
    """The admin API v2 calls objectstore_init makes, on one node, with Garage's answers (404 for a missing
    bucket or key); every call recorded."""

    state: dict = {}

    def _answer(self, code: int, body: dict | None = None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self._handle(None)

    def do_POST(self):  # noqa: N802
        self._handle(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

    def _handle(self, body):
        s, url = self.state, urlsplit(self.path)
        name, query = url.path.removeprefix("/v2/"), {k: v[0] for k, v in parse_qs(url.query).items()}
        s["calls"].append((name, body))
        if self.headers["Authorization"] != f"Bearer {s['token']}":
            return self._answer(403)
        if name == "GetClusterStatus":
            return self._answer(200, {"layoutVersion": s["version"], "nodes": [{"id": "node1", "isUp": True}]})
        if name == "GetClusterLayout":
            return self._answer(200, {"version": s["version"], "roles": s["roles"]})
        if name == "UpdateClusterLayout":
            s["staged"] = body["roles"]
            return self._answer(200, {})
        if name == "ApplyClusterLayout":
            assert body["version"] == s["version"] + 1
            s["version"], s["roles"] = body["version"], s.pop("staged")
            return self._answer(200, {})
        if name == "GetBucketInfo":
            bucket = s["buckets"].get(query["globalAlias"])
            return self._answer(200, {"id": bucket}) if bucket else self._answer(404, {"code": "NoSuchBucket"})
        if name == "CreateBucket":
            s["buckets"][body["globalAlias"]] = f"id-{body['globalAlias']}"
            return self._answer(200, {"id": s["buckets"][body["globalAlias"]]})
        if name == "GetKeyInfo":
            return self._answer(200, {}) if query["id"] in s["keys"] else self._answer(404, {"code": "NoSuchAccessKey"})
        if name == "ImportKey":
            s["keys"][body["accessKeyId"]] = body["secretAccessKey"]
            return self._answer(200, {})
        if name == "AllowBucketKey":
            s["grants"][(body["bucketId"], body["accessKeyId"])] = body["permissions"]
            return self._answer(200, {})
        return self._answer(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def garage(tmp_path, monkeypatch):
    _Garage.state = {"token": "admin-token", "version": 0, "roles": [], "buckets": {}, "keys": {}, "grants": {},
                     "calls": []}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Garage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "token").write_text("admin-token\n")
    (tmp_path / "credentials").write_text("[default]\naws_access_key_id = GK0123456789abcdef01234567\n"
                                          "aws_secret_access_key = " + "ab" * 32 + "\n")
    for var, value in {"GARAGE_ADMIN_URL": f"http://127.0.0.1:{server.server_port}",
                       "GARAGE_ADMIN_TOKEN_FILE": str(tmp_path / "token"), "PUBLISH_URL": "s3://twotowns-publication",
                       "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "GARAGE_CAPACITY": "1000"}.items():
        monkeypatch.setenv(var, value)
    yield _Garage.state
    server.shutdown()


def test_the_store_is_set_up_once_with_a_key_limited_to_the_publication_bucket(garage):
    assert objectstore_init.main() == 0
    assert garage["roles"] == [{"id": "node1", "zone": "dc1", "capacity": 1000, "tags": ["twotowns"]}]
    assert garage["buckets"] == {"twotowns-publication": "id-twotowns-publication"}
    assert garage["keys"] == {"GK0123456789abcdef01234567": "ab" * 32}
    assert garage["grants"] == {("id-twotowns-publication", "GK0123456789abcdef01234567"):
                                {"read": True, "write": True, "owner": False}}

    garage["calls"].clear()
    assert objectstore_init.main() == 0  # every `compose up`: nothing created again
    made = {name for name, _ in garage["calls"]} & {"UpdateClusterLayout", "ApplyClusterLayout", "CreateBucket",
                                                     "ImportKey"}
    assert made == set() and garage["version"] == 1 and len(garage["buckets"]) == 1


def test_a_wrong_admin_token_or_publish_url_stops_the_init(garage, tmp_path, monkeypatch):
    (tmp_path / "token").write_text("not-the-token\n")
    with pytest.raises(RuntimeError, match="HTTP 403"):
        objectstore_init.main()
    (tmp_path / "token").write_text("admin-token\n")
    monkeypatch.setenv("PUBLISH_URL", "file:///srv/published")
    with pytest.raises(ValueError, match="s3://"):
        objectstore_init.main()


@pytest.mark.integration
def test_the_pipeline_reaches_the_warehouse_with_the_password_only_in_a_password_file(warehouse, tmp_path,
                                                                                      monkeypatch):
    """WAREHOUSE_URL without a password and PGPASSFILE, as on the workers: psycopg, SQLAlchemy (GX), dbt
    (psycopg2) and pg_dump (ops backup) all find the password in the file (libpq)."""
    from urllib.parse import urlsplit as split

    from core.dbt import run_dbt
    from core.warehouse import conn_params, connect, sqlalchemy_url

    p = conn_params(warehouse)
    pgpass = tmp_path / "warehouse_pgpass"
    pgpass.write_text(f"*:{p.port}:{p.dbname}:{p.user}:{p.password}\n")
    pgpass.chmod(0o600)
    parts = split(warehouse)
    bare = parts._replace(netloc=f"{p.user}@{parts.hostname}:{p.port}").geturl()
    monkeypatch.setenv("WAREHOUSE_URL", bare)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with connect() as conn:
        assert conn.execute("select current_user").fetchone()[0] == p.user
    import sqlalchemy

    engine = sqlalchemy.create_engine(sqlalchemy_url())
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("select 1")).scalar() == 1
    engine.dispose()
    assert run_dbt(["debug"]).success
    from core.warehouse import client_binary
    from ops.backup import _env

    dump = subprocess.run([client_binary("pg_dump"), "--schema-only", "--schema=landing"], env=_env(conn_params()),
                          capture_output=True, text=True, timeout=120)  # ops backup's way: PGPASSWORD empty
    assert dump.returncode == 0 and "CREATE SCHEMA landing" in dump.stdout, dump.stderr
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "missing"))  # without the file: refused
    import psycopg

    with pytest.raises(psycopg.OperationalError):
        connect().close()
