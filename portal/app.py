"""The portal's pages (FastAPI, server-rendered Jinja2, Chinese first).

Every page but /login, /healthz and /static needs a session; every POST carries the CSRF token of the
session (the login form: a signed token bound to a cookie). A county account sees its own county
only: another county's receipt, download or list answers 404, as if it did not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.periods import find_period
from portal import accounts, check, intake, status
from portal.db import connection
from portal.web import (
    capped_form,
    form_files,
    render,
    security_headers,
    session_cookie,
)

log = logging.getLogger(__name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FOLLOW_SECONDS = 5


class LoginRequired(Exception):
    pass


def create_app(settings) -> FastAPI:
    app = FastAPI(lifespan=_lifespan(settings), docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        security_headers(response, settings.cookie_secure)
        return response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def error_page(request: Request, exc: StarletteHTTPException):
        if exc.status_code in (301, 302, 303):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return render("error.html.j2", exc.status_code, code=exc.status_code, detail=exc.detail)

    from portal import routes_auth, routes_county, routes_office

    for module in (routes_auth, routes_county, routes_office):
        app.include_router(module.router)
    return app


def _lifespan(settings):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(_follow())
        try:
            yield
        finally:
            task.cancel()
    return lifespan


async def _follow():
    """Email the receipts of decided uploads (portal.mail), every few seconds."""
    from portal.mail import configured

    while True:
        await asyncio.sleep(FOLLOW_SECONDS)
        if not configured():
            continue
        try:
            await run_in_threadpool(_notify)
        except Exception:
            log.exception("portal: emailing receipts failed; tried again shortly")


def _notify() -> None:
    from portal.mail import notify_decided

    with connection() as conn:
        notify_decided(conn)


# ------------------------------------------------------------------ helpers shared by the routers

def current(request: Request, conn):
    """(account, csrf token) of the request's session, else LoginRequired."""
    found = accounts.session(conn, request.cookies.get(session_cookie(request.app.state.settings.cookie_secure)))
    if found is None:
        raise LoginRequired
    return found


def require_csrf(token: str | None, expected: str) -> None:
    if not accounts.same(token, expected):
        raise HTTPException(403, "CSRF token missing or wrong; reload the page and try again")


def period_or_404(text: str):
    period = find_period(text) if text else None
    if period is None:
        raise HTTPException(404, "no such period")
    return period


def county_or_404(account, county_code: str) -> None:
    if not account.may_see(county_code) or status.county_name(county_code) is None:
        raise HTTPException(404, "not found")


def xlsx(data: bytes, filename: str) -> Response:
    from urllib.parse import quote

    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"report.xlsx\"; filename*=UTF-8''{quote(filename)}"})


async def upload_preview(request: Request, conn, account, csrf: str) -> str:
    form = await capped_form(request, request.app.state.settings.max_upload_bytes)
    try:
        require_csrf(form.get("csrf_token"), csrf)
        files = form_files(form)
        if not files:
            raise HTTPException(400, "no file chosen")
        uploads = [check.Upload(f.filename, f.file) for f in files]
        return await run_in_threadpool(check.create_preview, conn, account, uploads)
    finally:
        await form.close()


def submit(conn, preview, account, settings) -> str:
    return intake.submit_preview(conn, preview, account, settings.intake, settings)


def json_state(state: dict) -> JSONResponse:
    return JSONResponse({"decided": state["decided"],
                         "files": [{"name": f["name"], "state": f["state"], "status": f.get("status")}
                                   for f in state["files"]]})
