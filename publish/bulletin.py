"""The quarterly bulletin: a self-contained Chinese HTML page (inline CSS and SVG charts,
readable offline, printable) and, where Chromium is installed, its PDF.

    python -m publish bulletin 2016Q3

Contents (shared/domain/publication.md): headline numbers against the city's targets,
investment progress of every characteristic town with its status, pilot towns against
their targets, the counties' submission timeliness, early warnings, and after Q4 the
annual assessment (grades, ranks, yellow cards, eliminations); the submissions it was
built from. The page holds no time of its own: the same data gives the same bytes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from ingest.periods import Period, find_period

STATUS_ZH = {"green": "正常", "amber": "偏慢", "red": "滞后"}
TIER_ZH = {"provincial_creation": "省级创建", "provincial_cultivation": "省级培育", "municipal": "市级",
           "county": "县级", "provincial": "省级"}
PROGRAMME_ZH = {"characteristic": "特色小镇", "pilot": "小城市培育试点镇"}


@dataclass
class BulletinData:
    period: Period
    counties: dict[str, str]
    towns: dict[str, str]
    progress: list[dict] = field(default_factory=list)
    pilots: list[dict] = field(default_factory=list)
    submissions: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    assessment: list[dict] = field(default_factory=list)
    kpis: list[dict] = field(default_factory=list)
    members: dict[str, int] = field(default_factory=dict)
    lineage: list[dict] = field(default_factory=list)


def _exists(conn, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


def _records(conn, query: str, params: tuple = ()) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description]
        return [{n: float(v) if isinstance(v, Decimal) else v for n, v in zip(names, row, strict=True)}
                for row in cur.fetchall()]


def gather(conn, period: Period) -> BulletinData:
    y, q = period.year, period.quarter
    data = BulletinData(
        period,
        counties=dict(conn.execute("select county_code, name_zh from seeds.counties").fetchall()),
        towns=dict(conn.execute("select town_code, name_zh from seeds.towns").fetchall()),
    )
    if _exists(conn, "marts.investment_progress"):
        data.progress = _records(conn, "select * from marts.investment_progress where year = %s and quarter = %s "
                                       "order by progress_ratio desc nulls last, town_code", (y, q))
        data.warnings = [p for p in data.progress if p.get("early_warning")]
    if _exists(conn, "marts.town_quarter_indicators"):
        rows = _records(conn, "select town_code, tier, county_code, indicator, value_ytd, growth_pct "
                              "from marts.town_quarter_indicators where year = %s and quarter = %s "
                              "and programme = 'pilot' and indicator in ('gdp_growth', 'fiscal_revenue', 'fai') "
                              "order by town_code", (y, q))
        pilots: dict[str, dict] = {}
        for r in rows:
            p = pilots.setdefault(r["town_code"], {"town_code": r["town_code"], "tier": r["tier"],
                                                   "county_code": r["county_code"]})
            p[r["indicator"]] = r["value_ytd"] if r["indicator"] == "gdp_growth" else r["growth_pct"]
        data.pilots = list(pilots.values())
        data.members = dict(conn.execute(
            "select programme, count(distinct town_code) from marts.town_quarter_indicators "
            "where year = %s and quarter = %s group by programme", (y, q)).fetchall())
    if _exists(conn, "marts.pilot_targets"):
        targets = {r["town_code"]: r for r in _records(
            conn, "select * from marts.pilot_targets where year = %s", (y,))}
        for p in data.pilots:
            p["targets"] = targets.get(p["town_code"], {})
    data.submissions = _records(
        conn, "select county_code, count(*) filter (where status = 'accepted') as accepted, "
              "count(*) filter (where status = 'refused') as refused, "
              "min(received_at) filter (where status = 'accepted') as first_accepted, "
              "bool_or(late) filter (where status = 'accepted') as late, max(deadline) as deadline "
              "from landing.submissions where year = %s and quarter = %s and status <> 'pending' "
              "group by county_code order by county_code", (y, q))
    if q == 4 and _exists(conn, "marts.town_annual_assessment"):
        data.assessment = _records(conn, "select * from marts.town_annual_assessment where year = %s "
                                         "order by programme, tier, rank_in_tier, town_code", (y,))
    if _exists(conn, "marts.programme_kpis"):
        data.kpis = _records(conn, "select * from marts.programme_kpis where year = %s order by kpi", (y,))
    from ingest.current import CURRENT_FORMS_SQL

    data.lineage = _records(conn, f"select county_code, array_agg(form order by form) as forms, version, "
                                  f"file_sha256 from ({CURRENT_FORMS_SQL}) c where year = %s and quarter = %s "
                                  f"group by county_code, version, file_sha256 order by county_code, version",
                            (y, q))
    return data


def render_html(conn, period: Period) -> str:
    import jinja2

    data = gather(conn, period)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["wan"] = lambda v: "—" if v is None else f"{float(v):,.1f}"
    env.filters["pct"] = lambda v, d=1: "—" if v is None else f"{float(v) * 100:.{d}f}%"
    env.filters["num"] = lambda v, d=1: "—" if v is None else f"{float(v):.{d}f}"
    return env.get_template("bulletin.html.j2").render(
        d=data, period=period, status_zh=STATUS_ZH, tier_zh=TIER_ZH, programme_zh=PROGRAMME_ZH,
        deadline=period.deadline)


def latest_due_period(conn, today: date) -> Period | None:
    """The newest period with accepted data whose reporting deadline has passed."""
    rows = conn.execute("select distinct year, quarter from landing.submissions where status = 'accepted' "
                        "order by year desc, quarter desc").fetchall()
    for year, quarter in rows:
        p = Period(year, quarter)
        if p.deadline < today:
            return p
    return None


def html_to_pdf(html_path: Path, pdf_path: Path) -> bool:
    """Print the page to PDF with headless Chromium, if installed. True if a PDF was written."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        return False
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
             f"--user-data-dir={profile}", f"--print-to-pdf={pdf_path}", html_path.as_uri()],
            capture_output=True, timeout=120)
    return result.returncode == 0 and pdf_path.exists() and pdf_path.stat().st_size > 0


def render_bulletin_for(period_text: str | None = None, logical_date: datetime | None = None,
                        url: str | None = None, pdf: bool = True) -> dict:
    """Write bulletin/<period>.html (and .pdf) under the publication target."""
    import fsspec

    from core import config
    from core.warehouse import connect

    url = url or config.publish_url()
    with connect() as conn:
        period = find_period(period_text) if period_text else latest_due_period(
            conn, (logical_date or datetime.now()).date())
        if period is None:
            return {"period": None, "written": []}
        html = render_html(conn, period)
    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    fs.makedirs(f"{root}/bulletin", exist_ok=True)
    html_target = f"{root}/bulletin/{period}.html"
    if fs.exists(html_target) and fs.cat_file(html_target) == html.encode("utf-8"):
        return {"period": str(period), "written": [], "unchanged": html_target}  # same data: same bulletin
    written = []
    with tempfile.TemporaryDirectory() as d:
        local_html = Path(d) / f"{period}.html"
        local_html.write_text(html, encoding="utf-8")
        files = [local_html]
        if pdf and html_to_pdf(local_html, Path(d) / f"{period}.pdf"):
            files.append(Path(d) / f"{period}.pdf")
        for f in files:
            tmp, target = f"{root}/bulletin/.{f.name}.tmp", f"{root}/bulletin/{f.name}"
            fs.put_file(str(f), tmp)
            fs.mv(tmp, target)  # readers never see a half-written bulletin
            written.append(target)
    return {"period": str(period), "written": written, "bytes": len(html.encode("utf-8"))}
