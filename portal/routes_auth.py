"""Log in and out, the health check, the start page."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse

from portal import accounts
from portal.app import current, require_csrf
from portal.deps import Conn
from portal.web import LOGIN_CSRF_COOKIE, login_csrf, new_nonce, render, session_cookie, set_cookie

router = APIRouter()


@router.get("/healthz")
def healthz():
    """200 when the warehouse answers."""
    from portal.db import connection

    try:
        with connection() as conn:
            conn.execute("select 1").fetchone()
    except Exception as exc:
        return PlainTextResponse(f"warehouse unavailable: {type(exc).__name__}", status_code=503)
    return PlainTextResponse("ok")


def _login_page(request: Request, message: str | None = None, status_code: int = 200):
    settings = request.app.state.settings
    nonce = new_nonce()
    response = render("login.html.j2", status_code, csrf_token=login_csrf(settings.secret_key, nonce), message=message)
    set_cookie(response, LOGIN_CSRF_COOKIE, nonce, settings.cookie_secure, max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request):
    return _login_page(request)


@router.post("/login")
def login(request: Request, conn: Conn, login: str = Form(""), password: str = Form(""),
          csrf_token: str = Form("")):
    settings = request.app.state.settings
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not nonce or not accounts.same(csrf_token, login_csrf(settings.secret_key, nonce)):
        return _login_page(request, "页面已过期，请重新登录。Page expired, please log in again.", 403)
    client = request.client.host if request.client else "unknown"
    account, outcome = accounts.authenticate(conn, login, password, client)
    if outcome == "throttled":
        return _login_page(request, "登录失败次数过多，请 15 分钟后再试。Too many failed logins: try again in 15 minutes.",
                           429)
    if account is None:
        return _login_page(request, "账号或密码错误。Wrong login or password.", 401)
    token = accounts.start_session(conn, account, settings.session_hours)
    response = RedirectResponse("/", status_code=303)
    set_cookie(response, session_cookie(settings.cookie_secure), token, settings.cookie_secure,
               max_age=settings.session_hours * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, conn: Conn, csrf_token: str = Form("")):
    _account, csrf = current(request, conn)
    require_csrf(csrf_token, csrf)
    secure = request.app.state.settings.cookie_secure
    accounts.end_session(conn, request.cookies.get(session_cookie(secure)))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session_cookie(secure), path="/", secure=secure, httponly=True, samesite="strict")
    return response


@router.get("/")
def home(request: Request, conn: Conn):
    account, _csrf = current(request, conn)
    return RedirectResponse("/office" if account.is_office else f"/county/{account.county_code}", status_code=303)
