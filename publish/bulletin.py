"""The quarterly bulletin: a self-contained Chinese HTML page (inline CSS and SVG charts,
readable offline, printable) and, where Chromium is installed, its PDF.

    python -m publish bulletin 2016Q3

Contents (shared/domain/publication.md): headline numbers against the city's targets,
investment progress of every characteristic town with its status, pilot towns against
their own targets, the counties' submission timeliness, early warnings, and after Q4 the
annual assessment (grades, ranks, the proposals with their reasons next to the decisions,
the province's decisions beside our downgrade-risk warnings); the submissions it was
built from. The page holds no time of its own: the same data gives the same bytes.

No policy number lives here or in the template: grade thresholds, the pass line, the
expected pace, status bands and colours, the early-warning run length and the default
task share are read from the policy seeds valid for the bulletin's year
(valid_from_year <= year <= valid_to_year); programme, tier, proposal and decision names
from the seeds too. The members shown are those of the quarter (marts.towns valid on
its last day), a municipal pilot town's GDP target is its own (marts.pilot_targets).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import zip_longest
from pathlib import Path

from core.periods import Period, find_period

# Presentation only (no policy): reading order of groups, Chinese for status codes the marts publish.
PROGRAMME_ORDER = ("characteristic", "pilot")
TIER_ORDER = ("provincial_creation", "provincial_cultivation", "provincial", "municipal", "county")
KPI_STATUS_ZH = {"met": "已完成", "on_track": "进度正常", "behind": "进度滞后", "not_met": "未完成",
                 "not_yet_decided": "尚未公布", "incomplete": "数据不全"}
AWAITING_DECISION = "待市里决定"
NEUTRAL_COLOUR = "#1e88e5"
MISSING_COLOUR = "#9e9e9e"  # no grade, no status (pending, not reported)
SCORE_SCALE = 100  # scores are out of 100 (rescaled where indicators are not scored): the axis, not a threshold
_COLOUR = re.compile(r"^#[0-9a-fA-F]{3,8}$")


@dataclass
class Policy:
    """The seeds valid for the bulletin's year: what the page draws its lines and legends from."""

    year: int
    grades: list[dict] = field(default_factory=list)  # highest min_score first
    pass_line: float | None = None
    pace: float | None = None  # the quarter's expected pace
    statuses: dict[str, dict] = field(default_factory=dict)  # green/amber/red -> name_zh, short_zh, colour, bound
    parameters: dict[str, float] = field(default_factory=dict)
    baseline_year: int | None = None
    programme_zh: dict[str, str] = field(default_factory=dict)
    tier_zh: dict[tuple[str, str], str] = field(default_factory=dict)
    proposal_zh: dict[str, str] = field(default_factory=dict)
    proposal_order: list[str] = field(default_factory=list)
    action_zh: dict[str, str] = field(default_factory=dict)
    action_answers: dict[str, str | None] = field(default_factory=dict)
    gdp_targets: dict[str, dict] = field(default_factory=dict)  # pilot tier -> its GDP growth target row

    def tier(self, programme: str | None, tier: str | None) -> str:
        return self.tier_zh.get((programme, tier), tier or "—")

    def grade_colour(self, grade: str | None) -> str:
        return next((g["colour"] for g in self.grades if g["grade"] == grade), MISSING_COLOUR)

    def status_colour(self, status: str | None) -> str:
        return self.statuses.get(status, {}).get("colour", MISSING_COLOUR)

    @property
    def default_task_share(self) -> float | None:
        """The share of the 3-year plan taken as the task of a town-year without an assigned one."""
        divisor = self.parameters.get("default_annual_task_divisor")
        return 1 / divisor if divisor else self.parameters.get("default_annual_task_share")


@dataclass
class BulletinData:
    period: Period
    policy: Policy
    counties: dict[str, str]
    towns: dict[str, str]
    town_county: dict[str, str] = field(default_factory=dict)
    members: list[dict] = field(default_factory=list)
    member_counts: list[dict] = field(default_factory=list)
    progress: list[dict] = field(default_factory=list)
    pilots: list[dict] = field(default_factory=list)
    scales: dict[str, float] = field(default_factory=dict)
    pilot_targets_apply: bool = False
    submissions: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    assessed: bool = False
    groups: list[dict] = field(default_factory=list)
    province: dict = field(default_factory=dict)
    kpis: list[dict] = field(default_factory=list)
    plan_end: bool = False  # the year of the last KPI target: the bulletin closes the plan period
    earlier_decisions: list[dict] = field(default_factory=list)  # taken in the year on the previous year's results
    lineage: list[dict] = field(default_factory=list)


# ----------------------------------------------------------------------------- reading

def _exists(conn, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


def _plain(v: object) -> object:
    return float(v) if isinstance(v, Decimal) else v


def _records(conn, query: str, params: tuple = ()) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description]
        return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def _valid_rows(conn, seed: str, year: int, order: str) -> list[dict]:
    """Rows of seeds.<seed> whose validity covers `year`."""
    if not _exists(conn, f"seeds.{seed}"):
        return []
    return _records(conn, f"select * from seeds.{seed} where %s between valid_from_year::int and valid_to_year::int "
                          f"order by {order}", (year,))


def _truthy(v: object) -> bool:
    return v is True or str(v).strip().lower() in ("true", "t", "1", "yes")


def _colour(v: object) -> str:
    return v if isinstance(v, str) and _COLOUR.match(v) else NEUTRAL_COLOUR


# ----------------------------------------------------------------------------- the policy seeds

def _grades(conn, year: int) -> tuple[list[dict], float | None]:
    grades = [{**g, "min_score": float(g["min_score"]), "is_passing": _truthy(g["is_passing"]),
               "colour": _colour(g.get("colour"))}
              for g in _valid_rows(conn, "assessment_grades", year, "min_score desc, grade")]
    for upper, g in zip([None, *grades], grades, strict=False):
        g["max_score"] = SCORE_SCALE if upper is None else upper["min_score"]
    passing = [g["min_score"] for g in grades if g["is_passing"]]
    return grades, (min(passing) if passing else None)


def _statuses(conn, year: int, pace: float | None) -> dict[str, dict]:
    """Status bands, highest first; `bound` = the progress ratio a band starts at this quarter, `upper` the next
    band's bound (where the band ends)."""
    statuses: dict[str, dict] = {}
    upper = None
    for r in _valid_rows(conn, "pace_thresholds", year, "min_share_of_pace desc, status"):
        bound = None if pace is None else float(r["min_share_of_pace"]) * pace
        statuses[r["status"]] = {"name_zh": r["name_zh"], "short_zh": r["name_zh"].split("（")[0],
                                 "colour": _colour(r.get("colour")), "min_share_of_pace": float(r["min_share_of_pace"]),
                                 "bound": bound, "upper": upper}
        upper = bound
    return statuses


def _pace(conn, period: Period) -> float | None:
    rows = [r for r in _valid_rows(conn, "expected_pace", period.year, "quarter") if int(r["quarter"]) == period.quarter]
    return float(rows[0]["expected_pace"]) if rows else None


def _parameters(conn, year: int) -> tuple[dict[str, float], int | None]:
    params = {r["parameter"]: float(r["value"]) for r in _valid_rows(conn, "policy_parameters", year, "parameter")}
    baseline = None
    if _exists(conn, "seeds.policy_parameters"):
        row = conn.execute("select min(value::numeric) from seeds.policy_parameters "
                           "where parameter = 'plan_baseline_year'").fetchone()
        baseline = int(row[0]) if row and row[0] is not None else None
    return params, baseline


def _names(conn, policy: Policy) -> None:
    """Programme, tier, proposal and decision names from the seeds."""
    policy.programme_zh = dict(conn.execute("select programme, name_zh from seeds.programmes").fetchall())
    policy.tier_zh = {(p, t): n for p, t, n in conn.execute("select programme, tier, name_zh from seeds.tiers")}
    if _exists(conn, "seeds.proposals"):
        rows = conn.execute("select proposal, name_zh from seeds.proposals order by sort_order, proposal").fetchall()
        policy.proposal_zh, policy.proposal_order = dict(rows), [r[0] for r in rows]
    if _exists(conn, "seeds.decision_actions"):
        rows = conn.execute("select action, name_zh, answers_proposal from seeds.decision_actions").fetchall()
        policy.action_zh = {a: n for a, n, _ in rows}
        policy.action_answers = {a: p or None for a, _, p in rows}


def read_policy(conn, period: Period) -> Policy:
    policy = Policy(period.year)
    policy.grades, policy.pass_line = _grades(conn, period.year)
    policy.pace = _pace(conn, period)
    policy.statuses = _statuses(conn, period.year, policy.pace)
    policy.parameters, policy.baseline_year = _parameters(conn, period.year)
    policy.gdp_targets = {r["tier"]: {"target": float(r["target"]), "basis": r.get("target_basis") or None}
                          for r in _valid_rows(conn, "pilot_annual_targets", period.year, "tier, indicator")
                          if r["indicator"] == "gdp_growth"}
    _names(conn, policy)
    return policy


# ----------------------------------------------------------------------------- quarterly monitoring

def _members(conn, period: Period) -> list[dict]:
    """The members of the quarter: marts.towns periods covering its last day (decisions applied)."""
    if not _exists(conn, "marts.towns"):
        return []
    return _records(conn, "select distinct on (town_code) town_code, county_code, name_zh, programme, tier, list_name "
                          "from marts.towns where valid_from <= %s and (valid_to is null or valid_to >= %s) "
                          "order by town_code, valid_from desc", (period.end, period.end))


def _town_names(conn) -> tuple[dict[str, str], dict[str, str]]:
    """Town names and counties (the marts' where they hold the town, else the registry's)."""
    rows = conn.execute("select town_code, name_zh, county_code from seeds.towns").fetchall()
    if _exists(conn, "marts.towns"):
        rows += conn.execute("select distinct on (town_code) town_code, name_zh, county_code from marts.towns "
                             "order by town_code, valid_from desc").fetchall()
    return {t: n for t, n, _ in rows}, {t: c for t, _, c in rows}


def _member_counts(data: BulletinData) -> list[dict]:
    counts: dict[tuple, dict] = {}
    for m in sorted(data.members, key=_group_key):
        c = counts.setdefault((m["programme"], m["tier"]), {
            "programme": m["programme"], "programme_zh": data.policy.programme_zh.get(m["programme"], m["programme"]),
            "tier_zh": data.policy.tier(m["programme"], m["tier"]), "n": 0})
        c["n"] += 1
    return list(counts.values())


def _scale(values: list, minimum: float, headroom: float = 1.1) -> float:
    """The right end of a bar chart's axis: the largest value with some room, at least `minimum`."""
    top = max([float(v) for v in values if v is not None] + [minimum])
    return round(top * headroom, 4)


def _progress(conn, data: BulletinData) -> None:
    if not _exists(conn, "marts.investment_progress"):
        return
    p, policy = data.period, data.policy
    data.progress = _records(conn, "select * from marts.investment_progress where year = %s and quarter = %s "
                                   "order by progress_ratio desc nulls last, town_code", (p.year, p.quarter))
    for r in data.progress:
        r["colour"] = policy.status_colour(r.get("status"))
        r["status_zh"] = policy.statuses.get(r.get("status"), {}).get("short_zh", "—")
    data.warnings = [r for r in data.progress if r.get("early_warning")]
    data.scales["progress"] = _scale([r.get("progress_ratio") for r in data.progress] + [policy.pace], 1.0)
    data.scales["plan"] = _scale([r.get("plan_progress_ratio") for r in data.progress]
                                 + [r.get("plan_time_elapsed_ratio") for r in data.progress], 1.0)


def _pilot_values(conn, period: Period) -> dict[str, dict]:
    if not _exists(conn, "marts.town_quarter_indicators"):
        return {}
    rows = _records(conn, "select town_code, indicator, value_ytd, growth_pct from marts.town_quarter_indicators "
                          "where year = %s and quarter = %s and programme = 'pilot' "
                          "and indicator in ('gdp_growth', 'fiscal_revenue', 'fai') order by town_code, indicator",
                    (period.year, period.quarter))
    values: dict[str, dict] = {}
    for r in rows:
        values.setdefault(r["town_code"], {})[r["indicator"]] = \
            r["value_ytd"] if r["indicator"] == "gdp_growth" else r["growth_pct"]
    return values


def _pilots(conn, data: BulletinData) -> None:
    """Every pilot member of the quarter with its values and its own targets of the year."""
    values = _pilot_values(conn, data.period)
    targets = {}
    if _exists(conn, "marts.pilot_targets"):
        targets = {r["town_code"]: r for r in _records(
            conn, "select * from marts.pilot_targets where year = %s order by town_code", (data.period.year,))}
    members = [m for m in data.members if m["programme"] == "pilot"] or [
        {"town_code": t, "tier": targets.get(t, {}).get("tier"), "county_code": t[3:9]} for t in sorted(values)]
    data.pilots = [{**m, **values.get(m["town_code"], {}), "reported": m["town_code"] in values,
                    "targets": targets.get(m["town_code"], {})} for m in members]
    data.pilot_targets_apply = any(p["targets"].get("target_gdp_growth_pct") is not None for p in data.pilots)
    data.scales["gdp"] = _scale([p.get("gdp_growth") for p in data.pilots]
                                + [p["targets"].get("target_gdp_growth_pct") for p in data.pilots], 1.0)


def _submissions(conn, period: Period) -> list[dict]:
    return _records(
        conn, "select county_code, count(*) filter (where status = 'accepted') as accepted, "
              "count(*) filter (where status = 'refused') as refused, "
              "min(received_at) filter (where status = 'accepted') as first_accepted, "
              "bool_or(late) filter (where status = 'accepted') as late, max(deadline) as deadline "
              "from marts.submissions where year = %s and quarter = %s "
              "group by county_code order by county_code", (period.year, period.quarter))


def _lineage(conn, period: Period) -> list[dict]:
    """The files the published marts rest on (the lineage mart marts.current_submissions)."""
    return _records(conn, "select county_code, array_agg(form order by form) as forms, version, file_sha256 "
                          "from marts.current_submissions where year = %s and quarter = %s "
                          "group by county_code, version, file_sha256 order by county_code, version",
                    (period.year, period.quarter))


def _kpis(conn, year: int) -> list[dict]:
    if not _exists(conn, "marts.programme_kpis"):
        return []
    rows = _records(conn, "select * from marts.programme_kpis where year = %s order by kpi", (year,))
    for k in rows:
        k["status_zh"] = KPI_STATUS_ZH.get(k.get("status"), "—")
    return rows


# ----------------------------------------------------------------------------- the annual assessment

def _split(text: str | None, sep: str) -> list[str]:
    return [s.strip() for s in (text or "").split(sep) if s.strip()]


def _proposals(row: dict, policy: Policy) -> list[dict]:
    """The row's proposals (codes in the published order) paired with their reasons."""
    codes = _split(row.get("proposals"), ",")
    reasons = _split(row.get("proposal_reasons_zh"), "；")
    if len(reasons) != len(codes):
        reasons = ["；".join(reasons)] if codes else []
    items = []
    for code, reason in zip_longest(codes, reasons):
        if code:
            name = policy.proposal_zh.get(code, code)
            items.append({"code": code, "name_zh": name, "reason": (reason or "").removeprefix(f"{name}：")})
    return items


def _assessment_row(row: dict, data: BulletinData) -> dict:
    policy = data.policy
    awaited = _split(row.get("awaited_counties"), ",")
    proposals = _proposals(row, policy)
    return {**row,
            "name": row.get("name_zh") or data.towns.get(row["town_code"], row["town_code"]),
            "colour": policy.grade_colour(row.get("grade")),
            "awaited_zh": "、".join(data.counties.get(c, c) for c in awaited),
            "proposal_list": proposals,
            "decision_text": row.get("decision_zh") or (AWAITING_DECISION if proposals else "")}


def _group_key(row: dict) -> tuple:
    def position(order: tuple, value: str | None) -> int:
        return order.index(value) if value in order else len(order)

    return (position(PROGRAMME_ORDER, row["programme"]), row["programme"],
            position(TIER_ORDER, row["tier"]), row["tier"])


def _score_key(row: dict) -> tuple:
    return (row.get("score") is None, -(row.get("score") or 0), row["town_code"])


def _groups(rows: list[dict], policy: Policy) -> list[dict]:
    """One group per (programme, tier), towns sorted by score, highest first (pending last)."""
    groups: dict[tuple, dict] = {}
    for r in sorted(rows, key=_group_key):
        g = groups.setdefault((r["programme"], r["tier"]), {
            "programme": r["programme"], "tier": r["tier"], "rows": [],
            "heading": f"{policy.programme_zh.get(r['programme'], r['programme'])} · "
                       f"{policy.tier(r['programme'], r['tier'])}"})
        g["rows"].append(r)
    for g in groups.values():
        g["rows"].sort(key=_score_key)
    return list(groups.values())


def _assessment(conn, data: BulletinData) -> None:
    if not _exists(conn, "marts.town_annual_assessment"):
        return
    rows = _records(conn, "select * from marts.town_annual_assessment where year = %s order by town_code",
                    (data.period.year,))
    data.assessed = bool(rows)
    data.groups = _groups([_assessment_row(r, data) for r in rows], data.policy)
    data.province = _province(conn, data, rows)


def _earlier_decisions(conn, data: BulletinData) -> list[dict]:
    """The decisions on the previous year's assessment, and awards outside an assessment made in the year."""
    if not _exists(conn, "marts.decisions"):
        return []
    year = data.period.year
    rows = _records(conn, "select * from marts.decisions where assessment_year = %s "
                          "or (assessment_year is null and extract(year from decided_on) = %s) "
                          "order by decided_on, decision_id", (year - 1, year))
    return [{**r, "name": r.get("name_zh") or data.towns.get(r["town_code"], r["town_code"]),
             "action_zh": r.get("action_zh") or data.policy.action_zh.get(r["action"], r["action"]),
             "answers_zh": data.policy.proposal_zh.get(r.get("answers_proposal") or "", "")} for r in rows]


def _province_decisions(conn, year: int) -> list[dict]:
    if not _exists(conn, "marts.decisions"):
        return []
    return _records(conn, "select * from marts.decisions where decided_by = 'province' and assessment_year = %s "
                          "order by town_code, decided_on, decision_id", (year,))


def _province(conn, data: BulletinData, rows: list[dict]) -> dict:
    """The province's decisions on provincial towns beside our downgrade_risk proposals (its track record)."""
    policy = data.policy
    decisions = _province_decisions(conn, data.period.year)
    warned = {r["town_code"]: r for r in rows if "downgrade_risk" in _split(r.get("proposals"), ",")}
    by_town = {r["town_code"]: r for r in rows}
    answering = sorted(a for a, p in policy.action_answers.items() if p == "downgrade_risk")
    lines = []
    for code in sorted({d["town_code"] for d in decisions} | set(warned)):
        ours = [p for p in _proposals(by_town.get(code, {}), policy) if p["code"] == "downgrade_risk"]
        theirs = [{**d, "action_zh": d.get("action_zh") or policy.action_zh.get(d["action"], d["action"])}
                  for d in decisions if d["town_code"] == code]
        lines.append({"town_code": code, "name": data.towns.get(code, code), "assessment": by_town.get(code),
                      "warning": ours[0] if ours else None, "decisions": theirs,
                      "confirmed": any(d["action"] in answering for d in theirs)})
    return {"lines": lines, "answering_zh": [policy.action_zh.get(a, a) for a in answering],
            "n_warned": sum(1 for x in lines if x["warning"]),
            "n_confirmed": sum(1 for x in lines if x["warning"] and x["confirmed"]),
            "n_missed": sum(1 for x in lines if not x["warning"] and x["confirmed"])}


# ----------------------------------------------------------------------------- putting it together

def gather(conn, period: Period) -> BulletinData:
    policy = read_policy(conn, period)
    towns, town_county = _town_names(conn)
    data = BulletinData(period, policy, town_county=town_county, towns=towns,
                        counties=dict(conn.execute("select county_code, name_zh from seeds.counties").fetchall()))
    data.members = _members(conn, period)
    data.member_counts = _member_counts(data)
    _progress(conn, data)
    _pilots(conn, data)
    data.submissions = _submissions(conn, period)
    if period.quarter == 4:  # the year's results: the assessment and the city's targets
        _assessment(conn, data)
        data.kpis = _kpis(conn, period.year)
        data.plan_end = bool(data.kpis) and period.year >= max(k.get("target_year") or 0 for k in data.kpis)
        data.earlier_decisions = _earlier_decisions(conn, data)
    data.lineage = _lineage(conn, period)
    return data


def _fraction(v: float | None) -> str:
    """A share as people write it: a simple fraction where one is meant (a third, a half), else percent."""
    if v is None:
        return "—"
    f = Fraction(v).limit_denominator(12)
    return f"{f.numerator}/{f.denominator}" if abs(float(f) - v) < 1e-4 else f"{v * 100:g}%"


def _score(v: object) -> str:
    """A score to 2 decimals, rounded half up as the published reasons round it (the dataset has 6)."""
    if v is None:
        return "—"
    return str(Decimal(str(v)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _chinese(text: object) -> str:
    """The Chinese clauses of a register note (its English working remarks left to the dataset)."""
    if not text:
        return ""
    clauses = [c.strip() for c in re.split(r"[;；]", str(text)) if c.strip()]
    kept = [c for c in clauses if re.search(r"[\u4e00-\u9fff]", c)]
    return "；".join(kept) if kept else str(text)


def _qty(v: object, d: int = 1) -> str:
    """A number as readers expect it: thousands separated, whole numbers without decimals."""
    if v is None:
        return "—"
    v = float(v)
    return f"{v:,.0f}" if v == int(v) else f"{v:,.{d}f}"


def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["wan"] = lambda v: "—" if v is None else f"{float(v):,.1f}"
    env.filters["pct"] = lambda v, d=1: "—" if v is None else f"{float(v) * 100:.{d}f}%"
    env.filters["num"] = lambda v, d=1: "—" if v is None else f"{float(v):.{d}f}"
    env.filters["qty"] = _qty
    env.filters["score"] = _score
    env.filters["chinese"] = _chinese
    env.filters["fraction"] = _fraction
    env.filters["day"] = lambda v: "—" if v is None else (v.isoformat() if isinstance(v, date) else str(v))
    return env


def render_html(conn, period: Period) -> str:
    data = gather(conn, period)
    return _environment().get_template("bulletin.html.j2").render(
        d=data, p=data.policy, period=period, deadline=period.deadline, score_scale=SCORE_SCALE,
        awaiting_decision=AWAITING_DECISION)


def latest_due_period(conn, today: date) -> Period | None:
    """The newest period with accepted data whose reporting deadline has passed."""
    rows = conn.execute("select distinct year, quarter from marts.current_submissions "
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
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking",
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
        elif pdf and os.environ.get("TWOTOWNS_BULLETIN_PDF_REQUIRED", "").lower() == "true":
            raise RuntimeError(f"the bulletin of {period}: no PDF (Chromium missing or failed); the production "
                               "image has it (docker/check_pdf.py), so this is a defect of the deployment")
        for f in files:
            tmp, target = f"{root}/bulletin/.{f.name}.tmp", f"{root}/bulletin/{f.name}"
            fs.put_file(str(f), tmp)
            fs.mv(tmp, target)  # readers never see a half-written bulletin
            written.append(target)
    return {"period": str(period), "written": written, "bytes": len(html.encode("utf-8"))}
