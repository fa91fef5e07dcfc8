"""The programme office: every county for a quarter (read-only), and the bulletin."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from portal import status
from portal.app import current, period_or_404
from portal.deps import Conn
from portal.web import BULLETIN_CSP, render

router = APIRouter()


@router.get("/office")
def office(request: Request, conn: Conn, period: str = ""):
    account, csrf = current(request, conn)
    if not account.is_office:
        raise HTTPException(404, "not found")
    shown = period_or_404(period) if period else status.current_period()
    rows = status.deadline(conn, shown)
    latest = {r["county_code"]: status.county_submissions(conn, r["county_code"]).get(str(shown), []) for r in rows}
    periods = [str(p) for p in _periods(conn, shown)]
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        counts[(r["status"], r["status_zh"])] = counts.get((r["status"], r["status_zh"]), 0) + 1
    return render("office.html.j2", account=account, csrf_token=csrf, period=str(shown), rows=rows, latest=latest,
                  periods=periods, counts=counts, bulletin=_bulletin_exists(shown))


def _periods(conn, shown):
    from core.periods import Period

    have = {Period(y, q) for y, q in conn.execute(
        "select distinct year, quarter from landing.submissions where year is not null").fetchall()}
    return sorted(have | {status.current_period(), shown}, reverse=True)


def _bulletin_path(period) -> str:
    from core import config

    return f"{config.publish_url().rstrip('/')}/bulletin/{period}.html"


def _bulletin_exists(period) -> bool:
    import fsspec

    fs, path = fsspec.core.url_to_fs(_bulletin_path(period))
    return fs.exists(path)


@router.get("/bulletin/{period}")
def bulletin(request: Request, period: str, conn: Conn):
    current(request, conn)
    p = period_or_404(period)
    import fsspec

    fs, path = fsspec.core.url_to_fs(_bulletin_path(p))
    if not fs.exists(path):
        raise HTTPException(404, "the bulletin of this quarter is not published yet")
    with fs.open(path, "rb") as f:
        html = f.read()
    return HTMLResponse(html, headers={"Content-Security-Policy": BULLETIN_CSP})
