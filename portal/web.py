"""Web plumbing: security headers, the session and CSRF checks, the upload cap, rendering."""

from __future__ import annotations

import functools
import hmac
import secrets
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser

from core import registry

TEMPLATES = Path(__file__).parent / "templates"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# the bulletin is a self-contained page with inline CSS and SVG and no script at all
BULLETIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
LOGIN_CSRF_COOKIE = "twotowns_login_csrf"
MAX_FILES = 20


def security_headers(response, secure: bool, csp: str = CSP) -> None:
    h = response.headers
    h.setdefault("Content-Security-Policy", csp)
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    h.setdefault("Cache-Control", "no-store")
    if secure:
        h["Strict-Transport-Security"] = "max-age=31536000"


def session_cookie(secure: bool) -> str:
    return "__Host-twotowns_session" if secure else "twotowns_session"


def set_cookie(response, name: str, value: str, secure: bool, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="strict")


def login_csrf(secret: bytes, nonce: str) -> str:
    """The login form's token: bound to the nonce in its cookie by the secret key (double submit, signed)."""
    return hmac.new(secret, nonce.encode(), "sha256").hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


class TooLarge(Exception):
    pass


async def capped_form(request: Request, limit: int):
    """The multipart form, refused (413) when Content-Length says it is too big, before reading a byte,
    and when the stream grows past the cap while it is read (a missing or false Content-Length)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise HTTPException(413, "upload too large")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(400, "multipart/form-data expected")

    async def stream():
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise TooLarge
            yield chunk

    parser = MultiPartParser(request.headers, stream(), max_files=MAX_FILES, max_fields=10, max_part_size=4096)
    try:
        return await parser.parse()
    except TooLarge:
        raise HTTPException(413, "upload too large") from None


def form_files(form) -> list[UploadFile]:
    return [v for v in form.getlist("files") if isinstance(v, UploadFile) and v.filename]


@functools.cache
def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    env.globals["severity_zh"] = {"error": "错误", "warning": "警告", "info": "提示"}
    return env


@functools.cache
def _names() -> tuple[dict, dict, dict]:
    return ({t.code: t.name_zh for t in registry.towns()}, {i.code: i.name_zh for i in registry.indicators()},
            {c.code: c.name_zh for c in registry.counties()})


def render(name: str, status_code: int = 200, **context) -> HTMLResponse:
    towns, indicators, counties = _names()
    html = environment().get_template(name).render(town_names=towns, indicator_names=indicators,
                                                   county_names=counties, **context)
    return HTMLResponse(html, status_code=status_code)
