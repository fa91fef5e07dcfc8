"""The warehouse connection: URL handling and the embedded server."""

from __future__ import annotations

import psycopg
import pytest

from core.warehouse import conn_params, sqlalchemy_url, warehouse_url


def test_url_parts_and_driver_names():
    p = conn_params("postgresql://etl:p%40ss@db.example:6543/twotowns")
    assert (p.host, p.port, p.user, p.password, p.dbname) == ("db.example", 6543, "etl", "p@ss", "twotowns")
    assert sqlalchemy_url("postgresql://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    with pytest.raises(ValueError):
        conn_params("mysql://u@h/d")


@pytest.mark.integration
def test_embedded_server_requires_a_password_and_listens_on_loopback_only(runtime_dirs):
    import os

    if os.environ.get("WAREHOUSE_URL") and "127.0.0.1" not in os.environ["WAREHOUSE_URL"]:
        pytest.skip("an external warehouse is configured")
    p = conn_params(warehouse_url())
    assert p.host == "127.0.0.1"
    with psycopg.connect(**p.libpq()) as conn:
        assert conn.execute("show listen_addresses").fetchone()[0] == "127.0.0.1"
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0] is False
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=p.host, port=p.port, user=p.user, password="wrong", dbname=p.dbname)
