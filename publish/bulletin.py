"""The quarterly bulletin (Chinese, self-contained HTML) for one reporting period.

This first version shows investment progress and submission timeliness; the
full bulletin (charts, pilot-town targets, assessment) grows from here.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from ingest.periods import Period, find_period

STATUS_ZH = {"green": "正常", "amber": "偏慢", "red": "滞后"}


def _latest_due_period(conn, today: date) -> Period | None:
    """The newest period with accepted data whose reporting deadline has passed."""
    rows = conn.execute(
        "select distinct year, quarter from landing.submissions where status = 'accepted' "
        "order by year desc, quarter desc").fetchall()
    for year, quarter in rows:
        p = Period(year, quarter)
        if p.deadline < today:
            return p
    return None


def _table_exists(conn, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (f"marts.{name}",)).fetchone()[0]


def render_html(conn, period: Period) -> str:
    import jinja2

    progress = []
    if _table_exists(conn, "investment_progress"):
        progress = conn.execute(
            "select p.town_code, t.name_zh, p.tier, p.fai_ytd, p.annual_task, p.progress_ratio, p.expected_pace, "
            "p.status, p.early_warning from marts.investment_progress p "
            "left join seeds.towns t on t.town_code = p.town_code "
            "where p.year = %s and p.quarter = %s order by p.progress_ratio desc nulls last, p.town_code",
            (period.year, period.quarter)).fetchall()
    submissions = conn.execute(
        "select s.county_code, c.name_zh, count(*) filter (where s.status = 'accepted') as accepted, "
        "count(*) filter (where s.status = 'refused') as refused, bool_or(s.late) filter (where s.status = 'accepted'), "
        "min(s.received_at) "
        "from landing.submissions s left join seeds.counties c on c.county_code = s.county_code "
        "where s.year = %s and s.quarter = %s group by s.county_code, c.name_zh order by s.county_code",
        (period.year, period.quarter)).fetchall()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
    return env.get_template("bulletin.html.j2").render(
        period=period, progress=progress, submissions=submissions, status_zh=STATUS_ZH,
        deadline=period.deadline)


def render_bulletin_for(period_text: str | None = None, logical_date: datetime | None = None,
                        url: str | None = None) -> dict:
    import fsspec

    from core import config
    from core.warehouse import connect

    url = url or config.publish_url()
    with connect() as conn:
        period = find_period(period_text) if period_text else _latest_due_period(
            conn, (logical_date or datetime.now()).date())
        if period is None:
            return {"period": None, "written": None}
        html = render_html(conn, period)
    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    fs.makedirs(f"{root}/bulletin", exist_ok=True)
    target = f"{root}/bulletin/{period}.html"
    tmp = f"{root}/bulletin/.{period}.html.tmp"
    with fs.open(tmp, "wb") as f:
        f.write(html.encode("utf-8"))
    fs.mv(tmp, target)
    return {"period": str(period), "written": target, "bytes": len(html.encode("utf-8"))}
