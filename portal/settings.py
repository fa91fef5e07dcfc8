"""The portal's settings, read from the environment when asked (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core import config

INTAKE_MODES = ("airflow", "inbox", "inline")
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the reader refuses bigger files anyway (ingest.reader.MAX_BYTES)


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    secret_key: bytes
    max_upload_bytes: int
    intake: str
    cookie_secure: bool
    session_hours: int
    airflow_url: str | None
    airflow_user: str | None
    airflow_password: str | None


def secret_key() -> bytes:
    """TWOTOWNS_PORTAL_SECRET_KEY, else the content of TWOTOWNS_PORTAL_SECRET_KEY_FILE; no default."""
    value = os.environ.get("TWOTOWNS_PORTAL_SECRET_KEY")
    path = os.environ.get("TWOTOWNS_PORTAL_SECRET_KEY_FILE")
    if not value and path:
        value = Path(path).read_text(encoding="utf-8").strip()
    if not value or len(value) < 32:
        raise SettingsError("the portal needs a secret key of at least 32 characters: set TWOTOWNS_PORTAL_SECRET_KEY "
                            "or TWOTOWNS_PORTAL_SECRET_KEY_FILE (e.g. python -c 'import secrets; "
                            "print(secrets.token_urlsafe(48))')")
    return value.encode()


def load() -> Settings:
    intake = os.environ.get("TWOTOWNS_PORTAL_INTAKE", "inbox")
    if intake not in INTAKE_MODES:
        raise SettingsError(f"TWOTOWNS_PORTAL_INTAKE={intake!r}: one of {', '.join(INTAKE_MODES)}")
    return Settings(
        secret_key=secret_key(),
        max_upload_bytes=int(os.environ.get("TWOTOWNS_PORTAL_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)),
        intake=intake,
        # Secure cookies are sent over https only, and by browsers over http to localhost (a secure context)
        cookie_secure=os.environ.get("TWOTOWNS_PORTAL_COOKIE_SECURE", "true").lower() != "false",
        session_hours=int(os.environ.get("TWOTOWNS_PORTAL_SESSION_HOURS", "8")),
        airflow_url=os.environ.get("TWOTOWNS_PORTAL_AIRFLOW_URL") or None,
        airflow_user=os.environ.get("TWOTOWNS_PORTAL_AIRFLOW_USER") or None,
        airflow_password=os.environ.get("TWOTOWNS_PORTAL_AIRFLOW_PASSWORD") or None,
    )


def portal_dir() -> Path:
    """The portal's own files under the var folder: previews (kept a day), the local secret and passwords."""
    return config.var_dir() / "portal"


def previews_dir() -> Path:
    return portal_dir() / "previews"
