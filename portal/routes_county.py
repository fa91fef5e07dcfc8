"""A county's pages: its quarters, upload and check, submit, receipts, the empty form."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from portal import check, status
from portal.annotate import annotated_workbook
from portal.app import county_or_404, current, json_state, period_or_404, require_csrf, submit, upload_preview, xlsx
from portal.deps import Conn
from portal.web import render

router = APIRouter()


@router.get("/county/{county_code}")
def county_page(request: Request, county_code: str, conn: Conn, period: str = ""):
    account, csrf = current(request, conn)
    county_or_404(account, county_code)
    by_period = status.county_submissions(conn, county_code)
    now = status.current_period()
    shown = period_or_404(period) if period else now
    periods = sorted({str(now), *by_period}, reverse=True)
    [deadline] = status.deadline(conn, shown, county_code)
    return render("county.html.j2", account=account, csrf_token=csrf, county_code=county_code,
                  county_name=status.county_name(county_code), period=str(shown), periods=periods,
                  submissions=by_period.get(str(shown), []), deadline=deadline,
                  reminder=status.reminder(county_code, shown), uploads=status.county_uploads(conn, county_code),
                  is_current=shown == now)


@router.get("/county/{county_code}/form/{period}.xlsx")
def form_download(request: Request, county_code: str, period: str, conn: Conn):
    from portal.forms import form_template

    account, _csrf = current(request, conn)
    county_or_404(account, county_code)
    p = period_or_404(period)
    return xlsx(form_template(county_code, p), f"{status.county_name(county_code)}{p}两镇季报表.xlsx")


@router.post("/upload")
async def upload(request: Request, conn: Conn):
    account, csrf = current(request, conn)
    if account.is_office:
        raise HTTPException(403, "the office account is read-only")
    preview_id = await upload_preview(request, conn, account, csrf)
    return RedirectResponse(f"/previews/{preview_id}", status_code=303)


def _preview(request: Request, conn, preview_id: str):
    account, csrf = current(request, conn)
    preview = check.load_preview(conn, preview_id, account)
    if preview is None:
        raise HTTPException(404, "not found")
    return account, csrf, preview


@router.get("/previews/{preview_id}")
def preview_page(request: Request, preview_id: str, conn: Conn):
    account, csrf, preview = _preview(request, conn, preview_id)
    return render("preview.html.j2", account=account, csrf_token=csrf, preview=preview,
                  submittable=check.submittable(preview))


@router.get("/previews/{preview_id}/files/{n}/annotated.xlsx")
def annotated(request: Request, preview_id: str, n: int, conn: Conn):
    _account, _csrf, preview = _preview(request, conn, preview_id)
    item = next((f for f in preview["files"] if f["n"] == n and f.get("suffix")), None)
    path = check.stored_path(preview_id, item) if item else None
    if path is None or not path.exists():
        raise HTTPException(404, "not found (a checked file is kept for a day)")
    stem = item["name"].rsplit(".", 1)[0]
    return xlsx(annotated_workbook(path, item["name"], item["findings"]), f"{stem}-问题标注.xlsx")


@router.post("/previews/{preview_id}/submit")
def submit_page(request: Request, preview_id: str, conn: Conn, csrf_token: str = Form("")):
    account, csrf, preview = _preview(request, conn, preview_id)
    require_csrf(csrf_token, csrf)
    if account.is_office or not check.submittable(preview):
        raise HTTPException(409, "this check cannot be submitted (errors, already submitted, or expired)")
    upload_id = submit(conn, preview, account, request.app.state.settings)
    return RedirectResponse(f"/receipts/{upload_id}", status_code=303)


def _upload_state(request: Request, conn, upload_id: str):
    account, csrf = current(request, conn)
    up = status.upload(conn, upload_id)
    if up is None or not account.may_see(up["county_code"]):
        raise HTTPException(404, "not found")
    return account, csrf, status.upload_state(conn, up)


@router.get("/receipts/{upload_id}")
def receipt(request: Request, upload_id: str, conn: Conn):
    account, csrf, state = _upload_state(request, conn, upload_id)
    return render("receipt.html.j2", account=account, csrf_token=csrf, state=state,
                  county_name=status.county_name(state["county_code"]))


@router.get("/receipts/{upload_id}/status.json")
def receipt_status(request: Request, upload_id: str, conn: Conn):
    _account, _csrf, state = _upload_state(request, conn, upload_id)
    return json_state(state)


@router.get("/submissions/{submission_id}")
def submission_page(request: Request, submission_id: int, conn: Conn):
    account, csrf = current(request, conn)
    sub = status.submission(conn, submission_id)
    if sub is None or not account.may_see(sub["county_code"]):
        raise HTTPException(404, "not found")
    shown = status.portal_names(conn, sub["county_code"]).get(sub["file_sha256"], sub["file_name"])
    decided = status.decision(conn, sub["file_sha256"])
    return render("submission.html.j2", account=account, csrf_token=csrf, sub=decided, shown_name=shown,
                  county_name=status.county_name(sub["county_code"]))
