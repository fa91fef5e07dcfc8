"""The quarterly bulletin.

Two warehouses: the real one (the sample reports submitted, dbt build, looked at in a real browser, headless
Chromium) and a small one built here with the policy seeds of dbt_project/seeds and hand-made marts of the
published shape (/work/spec/v2.md, publication.md), so that what the bulletin must show is checked row by row
whatever the sample holds: groups per programme and tier, the legend and pass line of the seeds, a municipal
pilot town's own GDP target, proposals next to decisions, the province's decisions, pending towns.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest

from core import config
from core.periods import Period

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECTIONS = ["headline", "investment", "pilots", "submissions", "warnings", "assessment"]
PUBLISH_DIR = Path(__file__).resolve().parents[1] / "publish"
SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"


@pytest.fixture(scope="module")
def expected(expected_through_2016):
    """This module loads the reports of 2015-2016 only (tests/conftest.py: expected_through_2016)."""
    return expected_through_2016


def chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "Chromium is needed (Debian package 'chromium'; .ci/run installs it)"
    return browser


def run_browser(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120)


def section(html: str, ident: str) -> str:
    """The element with id `ident` (a heading: up to the end of its section)."""
    m = re.search(rf'<(\w+)[^>]* id="{ident}"', html)
    assert m, ident
    end = "</section>" if m.group(1) == "h3" else f"</{m.group(1)}>"
    return html[m.start():html.index(end, m.end()) + len(end)]


def town_row(html: str, town_code: str, within: str | None = None) -> str:
    """The first table row of a town (in the element with id `within`)."""
    part = section(html, within) if within else html
    m = re.search(rf'<tr data-town="{re.escape(town_code)}">.*?</tr>', part, re.S)
    assert m, town_code
    return m.group(0)


def text(fragment: str) -> str:
    """What a reader sees: cells and lines separated by a space, inline markup dropped."""
    spaced = re.sub(r"</?(td|th|tr|li|br|p|h\d|ul|table|div)\b[^>]*>", " ", fragment)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", spaced))).strip()


def seed_grades(conn, year: int) -> list[tuple]:
    return conn.execute("select grade, min_score, is_passing, colour from seeds.assessment_grades "
                        "where %s between valid_from_year and valid_to_year order by min_score desc", (year,)).fetchall()


def fmt(v) -> str:
    v = float(v)
    return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"


# ============================================================================= the real warehouse (the sample)

@pytest.fixture(scope="module")
def bulletin(warehouse, sample_dir, expected, publish_built_marts):
    from core.dbt import run_dbt_or_raise
    from ingest.landing import submit
    from publish.bulletin import render_bulletin_for

    for e in expected:
        submit(sample_dir / e["file"])
    run_dbt_or_raise(["build"])
    publish_built_marts()
    result = render_bulletin_for("2016Q4")
    return Path(config.publish_url().removeprefix("file://")) / "bulletin", result


@pytest.fixture(scope="module")
def html_2016(bulletin) -> str:
    folder, _ = bulletin
    return (folder / "2016Q4.html").read_text(encoding="utf-8")


def test_bulletin_is_written_with_its_pdf_and_is_self_contained(bulletin):
    folder, result = bulletin
    html = (folder / "2016Q4.html").read_text(encoding="utf-8")
    assert (folder / "2016Q4.pdf").read_bytes().startswith(b"%PDF")
    assert not re.search(r"<script|<link |src=\"http|href=\"http|url\(", html)  # readable offline
    assert "@media print" in html


def test_rendering_again_with_the_same_data_changes_nothing(bulletin):
    from publish.bulletin import render_bulletin_for

    folder, _ = bulletin
    before = (folder / "2016Q4.html").read_bytes()
    again = render_bulletin_for("2016Q4")
    assert again["written"] == [] and (folder / "2016Q4.html").read_bytes() == before


def test_a_browser_renders_every_section_with_towns_and_charts(bulletin, tmp_path):
    folder, _ = bulletin
    page = (folder / "2016Q4.html").as_uri()
    dom = run_browser("--dump-dom", page, profile=tmp_path / "p1").stdout
    for ident in SECTIONS:
        assert f'id="{ident}"' in dom, ident
    assert dom.count("<svg") >= 3
    for town in ("南湖基金小镇", "乌镇互联网小镇", "王江泾镇", "崇福镇"):
        assert town in dom
    assert "按时" in dom and "嘉善县" in dom and "年度考核结果" in dom and "优秀" in dom
    shot = config.var_dir() / "bulletin-2016Q4.png"
    run_browser("--window-size=1100,2400", f"--screenshot={shot}", page, profile=tmp_path / "p2")
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 50_000  # a real picture, not a blank page
    print(f"bulletin screenshot: {shot}")


def test_sample_2016_assessment_is_grouped_by_programme_and_tier_with_the_seed_legend(html_2016, conn):
    groups = conn.execute("select distinct a.programme, a.tier, p.name_zh, t.name_zh "
                          "from marts.town_annual_assessment a join seeds.programmes p using (programme) "
                          "join seeds.tiers t using (programme, tier) where a.year = 2016").fetchall()
    assert groups
    for programme, tier, programme_zh, tier_zh in groups:
        assert f'data-programme="{programme}" data-tier="{tier}">{programme_zh} · {tier_zh}' in html_2016
    for grade, min_score, _, colour in seed_grades(conn, 2016):
        assert f'data-grade="{grade}" data-min-score="{fmt(min_score)}"' in html_2016 and colour in html_2016


def test_sample_2016_shows_the_provinces_decisions_beside_our_downgrade_risk(html_2016):
    province = text(section(html_2016, "province"))
    for town, action in (("平湖九龙山航空运动小镇", "降格"), ("南湖基金小镇", "警告"), ("秀洲光伏小镇", "优秀"),
                         ("桐乡毛衫时尚小镇", "优秀")):
        assert town in province, town
        assert re.search(rf"{town}.*?{action}", province), (town, action)


def test_sample_municipal_pilots_are_drawn_against_their_own_gdp_target(html_2016, conn):
    rows = conn.execute("select town_code, target_gdp_growth_pct, county_gdp_growth_pct from marts.pilot_targets "
                        "where year = 2016 and tier = 'municipal' and target_gdp_growth_pct is not null").fetchall()
    assert rows
    assert "省级试点目标" not in html_2016
    for town_code, target, _ in rows:
        assert f'data-target="{float(target):.1f}"' in town_row(html_2016, town_code, "pilot-table")


def test_sample_investment_completion_is_the_q4_progress_ratio(html_2016, conn):
    rows = conn.execute("select a.town_code, a.investment_completion, p.progress_ratio "
                        "from marts.town_annual_assessment a join marts.investment_progress p "
                        "on p.year = a.year and p.quarter = 4 and p.town_code = a.town_code "
                        "where a.year = 2016 and a.programme = 'characteristic'").fetchall()
    assert rows
    for town_code, completion, ratio in rows:
        assert completion == ratio, town_code  # one basis for one number
        shown = f"{float(ratio) * 100:.1f}%" if ratio is not None else "—"
        assert f'<td class="completion" data-town="{town_code}">{shown}</td>' in html_2016


def test_sample_bulletin_follows_a_changed_grade_seed(bulletin, warehouse):
    from core.warehouse import connect
    from publish.bulletin import render_html

    with connect(warehouse) as c:  # one transaction, rolled back: the seed is changed for this rendering only
        c.execute("update seeds.assessment_grades set min_score = 65 where grade = '合格'")
        html = render_html(c, Period(2016, 4))
        c.rollback()
    assert 'data-pass-line="65"' in html and "合格线 65 分" in html and "合格线 60 分" not in html


# ============================================================================= a small warehouse of the published shape

SEED_TABLES = ("counties", "towns", "programmes", "tiers", "proposals", "decision_actions", "assessment_grades",
               "expected_pace", "pace_thresholds", "policy_parameters", "pilot_annual_targets")
TEXT_COLUMNS = re.compile(r"(_code|_no|^name_zh)$")

MARTS = {
    # no report in the hand-made warehouse: the submissions and their lineage are empty
    "submissions": "county_code text, year integer, quarter integer, version integer, received_at timestamptz, "
                   "deadline date, late boolean, status text, errors integer, warnings integer, file_sha256 text, "
                   "is_current boolean",
    "current_submissions": "county_code text, year integer, quarter integer, form text, version integer, "
                           "file_sha256 text, received_at timestamptz",
    "towns": "town_code text, county_code text, name_zh text, programme text, tier text, list_name text, "
             "valid_from date, valid_to date, status text, ended_by text, decision_id text, document_no text, "
             "registry_valid_to date, event text, plan_investment_3y numeric(20, 6)",
    "investment_progress": "year integer, quarter integer, town_code text, tier text, fai_ytd numeric(20, 6), "
                           "annual_task numeric(20, 6), annual_task_source text, progress_ratio numeric(20, 6), "
                           "expected_pace numeric(20, 6), status text, early_warning boolean, "
                           "fai_since_joining numeric(20, 6), plan_investment_3y numeric(20, 6), "
                           "plan_progress_ratio numeric(20, 6), plan_time_elapsed_ratio numeric(20, 6), join_year integer",
    "town_quarter_indicators": "year integer, quarter integer, county_code text, town_code text, programme text, "
                               "tier text, indicator text, unit text, value_ytd numeric(20, 6), "
                               "value_ytd_prev_year numeric(20, 6), growth_pct numeric(20, 6)",
    "pilot_targets": "year integer, town_code text, tier text, gdp_growth_pct numeric, county_gdp_growth_pct numeric, "
                     "target_gdp_growth_pct numeric, fiscal_growth_pct numeric, target_fiscal_growth_pct numeric, "
                     "fai_growth_pct numeric, target_fai_growth_pct numeric",
    "town_annual_assessment": "year integer, town_code text, county_code text, name_zh text, programme text, tier text, "
                              "list_name text, member_quarters integer, score numeric(12, 6), grade text, "
                              "rank_in_tier integer, comparable boolean, pending boolean, awaited_counties text, "
                              "investment_completion numeric(20, 6), annual_task numeric, annual_task_source text, "
                              "scorable_weight numeric, rescaled boolean, proposals text, card_tie boolean, "
                              "proposal_reasons_zh text, proposal_reasons_en text, decision text, decision_zh text, "
                              "decided_on date, document_no text, decided_by text, decision_notes text, "
                              "yellow_card boolean, yellow_cards_in_round integer, removed_next_year boolean, "
                              "eliminated_next_year boolean, downgrade_warning boolean, notes text, notes_en text, "
                              "n_ranked_in_tier integer",
    "decisions": "decision_id text, decided_on date, effective_from date, town_code text, county_code text, "
                 "name_zh text, programme text, action text, action_zh text, list_name text, assessment_year integer, "
                 "answers_proposal text, proposal_found boolean, reason_code text, document_no text, decided_by text, "
                 "source text, note text",
    "programme_kpis": "year integer, kpi text, name_zh text, value numeric, target numeric, target_year integer, "
                      "unit text, comparison text, tolerance numeric, met boolean, status text, note text, "
                      "n_towns integer, source text",
}

# town_code, county, name, programme, tier, list
MEMBERS = [
    ("CT-330402-01", "330402", "南湖基金小镇", "characteristic", "provincial_creation", "省级第一批创建名单"),
    ("CT-330483-01", "330483", "桐乡毛衫时尚小镇", "characteristic", "provincial_creation", "省级第一批创建名单"),
    ("CT-330411-01", "330411", "秀洲光伏小镇", "characteristic", "provincial_creation", "省级第二批创建名单"),
    ("CT-330482-01", "330482", "平湖九龙山航空运动小镇", "characteristic", "provincial_creation", "省级第二批创建名单"),
    ("CT-330402-02", "330402", "南湖凤桥水果小镇", "characteristic", "municipal", "市级第一批"),
    ("CT-330421-02", "330421", "西塘古镇文旅小镇", "characteristic", "municipal", "市级第一批"),
    ("PT-330411101", "330411", "王江泾镇", "pilot", "provincial", "省级第二轮"),
    ("PT-330421111", "330421", "姚庄镇", "pilot", "municipal", "市级第二轮"),
    ("PT-330402101", "330402", "余新镇", "pilot", "municipal", "市级第二轮"),
]
ENDED = ("CT-330424-02", "330424", "海盐澉浦滨海度假小镇", "characteristic", "municipal", "市级第一批")

# town_code: (fai_ytd, annual_task, source, ratio Q4, status, early warning, since joining, plan, plan ratio, elapsed)
PROGRESS_Q4 = {
    "CT-330483-01": (168000, 150000, "assigned", 1.12, "green", False, 310000, 500000, 0.62, 0.6667),
    "CT-330411-01": (157500, 150000, "assigned", 1.05, "green", False, 157500, 500000, 0.315, 0.3333),
    "CT-330402-01": (139500, 150000, "assigned", 0.93, "amber", False, 260000, 500000, 0.52, 0.6667),
    "CT-330482-01": (103333, 166666.5, "default", 0.62, "red", True, 103333, 500000, 0.2067, 0.3333),
    "CT-330402-02": (71000, 100000, "assigned", 0.71, "red", False, 71000, 300000, 0.2367, 0.3333),
    "CT-330421-02": (None, 100000, "assigned", None, None, False, None, 300000, None, 0.3333),
}

ASSESSMENT = [  # town_code, score, grade, rank, comparable, pending, awaited, proposals, reasons, decision
    ("CT-330483-01", 95.5, "优秀", 1, True, False, None, "excellent_candidate", "优秀候选：等次优秀，层级内排名第1",
     "award_excellent"),
    ("CT-330411-01", 91.2, "优秀", 2, True, False, None, "excellent_candidate", "等次优秀，层级内排名第2", "award_excellent"),
    ("CT-330402-01", 78.0, "良好", 3, True, False, None, "", None, "warning"),
    ("CT-330482-01", 52.3, "不合格", 4, True, False, None, "downgrade_risk",
     "降档风险：考核不合格（52.3分），未完成年度投资任务（完成62.0%）", "downgrade"),
    ("CT-330402-02", 58.0, "不合格", 1, True, False, None, "eliminate",
     "建议淘汰：考核不合格（58分），未完成年度投资任务（完成71.0%）", None),
    ("CT-330421-02", None, None, None, False, True, "330421", "", None, None),
    ("PT-330411101", 84.0, "良好", 1, True, False, None, "", None, None),
    ("PT-330421111", 66.0, "合格", 1, True, False, None, "yellow_card", "得分在本轮市级试点镇中居后2位且低于中位数",
     "yellow_card"),
    ("PT-330402101", 70.0, "合格", None, False, False, None, "", None, None),
]

DECISIONS = [  # id, decided_on, town, action, action_zh, list, answers, document_no, by, note
    ("P-2016-01", date(2017, 8, 2), "CT-330482-01", "downgrade", "降格（创建名单降为培育名单）", "省级第二批创建名单",
     None, None, "province", "2016年度省级特色小镇创建对象考核：降格; announced in August 2017, day approximate"),
    ("P-2016-02", date(2017, 8, 2), "CT-330402-01", "warning", "警告", "省级第一批创建名单", None, None, "province",
     "2016年度省级特色小镇创建对象考核：警告"),
    ("P-2016-03", date(2017, 8, 2), "CT-330411-01", "award_excellent", "评为优秀", "省级第二批创建名单", None, None,
     "province", "2016年度省级特色小镇创建对象考核：优秀"),
    ("P-2016-04", date(2017, 8, 2), "CT-330483-01", "award_excellent", "评为优秀", "省级第一批创建名单", None, None,
     "province", "2016年度省级特色小镇创建对象考核：优秀"),
    ("C-2016-01", date(2017, 4, 10), "PT-330421111", "yellow_card", "黄牌", "市级第二轮", "yellow_card",
     "嘉两镇办〔2017〕5号", "city", "2016年度考核得分靠后"),
]

KPIS = [  # kpi, name, value, target, target_year, unit, status, note
    ("municipal_batch1_fai_total", "市级第一批特色小镇固定资产投资合计", 1650000, 2000000, 2016, "万元", "incomplete",
     "缺：嘉善县"),
    ("municipal_characteristic_towns", "市级特色小镇数（年末）", 8, 30, 2018, "个", "behind", None),
    ("provincial_creation_fai_total", "省级创建小镇固定资产投资合计", 1900000, 2000000, 2016, "万元", "met", None),
    ("provincial_creation_towns_downgraded", "省级创建小镇降档数", 1, 0, 2016, "个", "not_met",
     "平湖九龙山航空运动小镇降格"),
]


def _seed_type(column: str, values: list[str]) -> str:
    present = [v for v in values if v != ""]
    if TEXT_COLUMNS.search(column) or not present:
        return "text"
    if all(v in ("true", "false") for v in present):
        return "boolean"
    if all(re.fullmatch(r"-?\d+", v) for v in present):
        return "integer"
    if all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in present):
        return "numeric"
    return "text"


def load_seed(conn, name: str) -> None:
    """seeds.<name> from the project's seed CSV (types inferred as dbt does; codes stay text)."""
    with open(SEEDS_DIR / f"{name}.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    types = [_seed_type(c, [r[i] for r in body]) for i, c in enumerate(header)]
    conn.execute(f"create table seeds.{name} ({', '.join(f'{c} {t}' for c, t in zip(header, types, strict=True))})")
    marks = ", ".join(["%s"] * len(header))
    for r in body:
        conn.execute(f"insert into seeds.{name} values ({marks})", [v if v != "" else None for v in r])


def insert(conn, table: str, rows: list[dict]) -> None:
    for r in rows:
        cols = ", ".join(r)
        conn.execute(f"insert into marts.{table} ({cols}) values ({', '.join(['%s'] * len(r))})", list(r.values()))


def _progress_rows() -> list[dict]:
    rows = []
    for town, (fai, task, source, ratio, status, warn, since, plan, plan_ratio, elapsed) in PROGRESS_Q4.items():
        tier = next(m[4] for m in MEMBERS if m[0] == town)
        rows.append(dict(year=2016, quarter=4, town_code=town, tier=tier, fai_ytd=fai, annual_task=task,
                         annual_task_source=source, progress_ratio=ratio, expected_pace=1, status=status,
                         early_warning=warn, fai_since_joining=since, plan_investment_3y=plan,
                         plan_progress_ratio=plan_ratio, plan_time_elapsed_ratio=elapsed, join_year=2016))
        q3 = None if ratio is None else round(ratio * 0.7, 6)
        rows.append(dict(year=2016, quarter=3, town_code=town, tier=tier, progress_ratio=q3, expected_pace=0.75,
                         status=None if q3 is None else ("green" if q3 >= 0.75 else "amber" if q3 >= 0.6 else "red"),
                         early_warning=False, annual_task=task, annual_task_source=source))
    return rows


def _pilot_rows() -> tuple[list[dict], list[dict]]:
    values = {"PT-330411101": (9.1, 11.0, 20.5, None), "PT-330421111": (8.2, 9.0, 12.0, 7.4),
              "PT-330402101": (10.3, 12.5, 17.0, 7.9)}
    indicators, targets = [], []
    for town, (gdp, fiscal, fai, county) in values.items():
        member = next(m for m in MEMBERS if m[0] == town)
        for indicator, v, growth in (("gdp_growth", gdp, None), ("fiscal_revenue", 50000, fiscal), ("fai", 90000, fai)):
            indicators.append(dict(year=2016, quarter=4, county_code=member[1], town_code=town, programme="pilot",
                                   tier=member[4], indicator=indicator, value_ytd=v, growth_pct=growth))
        provincial = member[4] == "provincial"
        targets.append(dict(year=2016, town_code=town, tier=member[4], gdp_growth_pct=gdp, county_gdp_growth_pct=county,
                            target_gdp_growth_pct=10 if provincial else county + 2, fiscal_growth_pct=fiscal,
                            target_fiscal_growth_pct=10, fai_growth_pct=fai, target_fai_growth_pct=18 if provincial else 16))
        targets.append(dict(year=2015, town_code=town, tier=member[4], gdp_growth_pct=gdp))  # baseline: no targets
    return indicators, targets


def _assessment_rows() -> list[dict]:
    actions = {d[0]: d for d in DECISIONS}
    by_town = {d[2]: d for d in actions.values()}
    rows = []
    for town, score, grade, rank, comparable, pending, awaited, proposals, reasons, decision in ASSESSMENT:
        member = next(m for m in MEMBERS if m[0] == town)
        dec = by_town.get(town) if decision else None
        rows.append(dict(year=2016, town_code=town, county_code=member[1], name_zh=member[2], programme=member[3],
                         tier=member[4], list_name=member[5], member_quarters=4, score=score, grade=grade,
                         rank_in_tier=rank, comparable=comparable, pending=pending, awaited_counties=awaited,
                         investment_completion=PROGRESS_Q4.get(town, (None,) * 4)[3], proposals=proposals,
                         card_tie=False, proposal_reasons_zh=reasons, decision=decision,
                         decision_zh=dec[4] if dec else None, decided_on=dec[1] if dec else None,
                         document_no=dec[7] if dec else None, decided_by=dec[8] if dec else None,
                         downgrade_warning="downgrade_risk" in proposals))
    return rows


def _build_marts(conn) -> None:
    conn.execute("create schema marts")
    for table, columns in MARTS.items():
        conn.execute(f"create table marts.{table} ({columns})")
    insert(conn, "towns", [dict(town_code=t, county_code=c, name_zh=n, programme=p, tier=tier, list_name=lst,
                                valid_from=date(2015, 6, 1), status="active", plan_investment_3y=None)
                           for t, c, n, p, tier, lst in MEMBERS])
    insert(conn, "towns", [dict(zip(("town_code", "county_code", "name_zh", "programme", "tier", "list_name"), ENDED,
                                    strict=True), valid_from=date(2016, 1, 1), valid_to=date(2016, 6, 30),
                                status="eliminated")])
    insert(conn, "investment_progress", _progress_rows())
    indicators, targets = _pilot_rows()
    insert(conn, "town_quarter_indicators", indicators)
    insert(conn, "pilot_targets", targets)
    insert(conn, "town_annual_assessment", _assessment_rows())
    insert(conn, "decisions", [dict(decision_id=i, decided_on=on, effective_from=on, town_code=t, name_zh=t,
                                    action=a, action_zh=zh, list_name=lst, assessment_year=2016, answers_proposal=ans,
                                    document_no=no, decided_by=by, note=note)
                               for i, on, t, a, zh, lst, ans, no, by, note in DECISIONS])
    insert(conn, "programme_kpis", [dict(year=2016, kpi=k, name_zh=n, value=v, target=t, target_year=ty, unit=u,
                                         status=s, note=note) for k, n, v, t, ty, u, s, note in KPIS])


@pytest.fixture(scope="module")
def spec_db(warehouse):
    """`<test database>_spec`: the seeds and hand-made marts of the published shape."""
    from core.warehouse import connect, drop_database, fresh_database

    url = fresh_database("spec", warehouse)  # no landing schema: the bulletin reads the marts only
    with connect(url, autocommit=True) as c:
        c.execute("create schema seeds")
        for name in SEED_TABLES:
            load_seed(c, name)
        _build_marts(c)
    yield url
    drop_database(url)


def render(url: str, period: Period, *changes: str) -> str:
    """The bulletin of `period`, with seed `changes` (SQL) applied for this rendering only."""
    from core.warehouse import connect
    from publish.bulletin import render_html

    with connect(url) as c:
        for change in changes:
            c.execute(change)
        html = render_html(c, period)
        c.rollback()
    return html


@pytest.fixture(scope="module")
def spec_html(spec_db) -> str:
    return render(spec_db, Period(2016, 4))


def test_assessment_has_a_heading_chart_and_table_per_programme_and_tier(spec_html):
    headings = re.findall(r'<h3 class="group"[^>]*>([^<]+)</h3>', spec_html)
    assert headings == ["特色小镇 · 省级创建（4 个）", "特色小镇 · 市级（2 个）", "小城市培育试点镇 · 省级（1 个）",
                        "小城市培育试点镇 · 市级（2 个）"]
    assessment = section(spec_html, "assessment")
    assert assessment.count("<svg") == 4 and assessment.count('<table class="assessment"') == 4
    creation = assessment[assessment.index('data-tier="provincial_creation"'):assessment.index('data-tier="municipal"')]
    assert re.findall(r'<tr data-town="([^"]+)">', creation) == [
        "CT-330483-01", "CT-330411-01", "CT-330402-01", "CT-330482-01"]  # sorted by score


def test_grade_legend_bands_and_pass_line_are_the_seeds_of_the_year(spec_html, spec_db):
    from core.warehouse import connect

    with connect(spec_db) as c:
        grades = seed_grades(c, 2016)
    assert grades
    legend = section(spec_html, "grade-legend")
    for grade, min_score, _, colour in grades:
        assert f'data-grade="{grade}" data-min-score="{fmt(min_score)}"' in legend
        assert colour in legend and f'fill="{colour}" fill-opacity' in spec_html  # swatch and band
    pass_line = min(m for _, m, passing, _ in grades if passing)
    assert f'data-pass-line="{fmt(pass_line)}"' in legend
    assert spec_html.count(f"合格线 {fmt(pass_line)} 分") >= 4  # the legend and every group's chart


def test_a_changed_grade_seed_moves_the_legend_and_the_pass_line(spec_db):
    html = render(spec_db, Period(2016, 4), "update seeds.assessment_grades set min_score = 65 where grade = '合格'")
    legend = text(section(html, "grade-legend"))
    assert "合格 ≥ 65 分" in legend and "不合格 < 65 分" in legend
    assert 'data-pass-line="65"' in html and "合格线 65 分" in html and "合格线 60 分" not in html


def test_policy_rows_apply_to_their_own_years_only(spec_db):
    html = render(spec_db, Period(2016, 4), "update seeds.assessment_grades set valid_from_year = 2017")
    assert 'id="grade-legend"' in html and "data-grade=" not in html and "合格线" not in html


def test_pace_status_names_and_colours_come_from_the_seeds(spec_db):
    html = render(spec_db, Period(2016, 3),
                  "update seeds.pace_thresholds set colour = '#123456' where status = 'red'",
                  "update seeds.expected_pace set expected_pace = 0.7 where quarter = 3")
    assert '<strong id="expected-pace">70%</strong>' in html and "序时进度 70%" in html
    red = town_row_progress(html, "CT-330482-01")
    assert 'style="color: #123456"' in red and 'data-status="red"' in red
    assert "红灯" in red and 'fill="#123456"' in html
    legend = text(section(html, "pace-legend"))
    assert "绿灯（达到序时进度）：完成率 ≥ 70.0%" in legend and "黄灯（达到序时进度的80%）：完成率 ≥ 56.0%" in legend
    assert "红灯（低于序时进度的80%）：完成率 < 56.0%" in legend


def town_row_progress(html: str, town_code: str) -> str:
    return town_row(html, town_code, "progress")


def test_investment_progress_shows_the_three_year_plan_and_the_default_task(spec_html):
    plan = text(section(spec_html, "plan"))
    assert "桐乡毛衫时尚小镇 2016 310,000.0 500,000.0 62.0% 67%" in plan
    assert "（至多3年）；时间进度 = 入列当年1月1日起已报送季度数 / 12" in text(section(spec_html, "investment"))
    assert "年度任务未下达，按三年计划1/3测算" in town_row_progress(spec_html, "CT-330482-01")


def test_a_municipal_pilot_is_drawn_against_its_own_gdp_target(spec_html):
    pilots = section(spec_html, "pilots")
    assert "省级试点目标" not in pilots and "10%" not in text(pilots).replace("（目标 10.0%）", "")
    assert 'data-target="9.4"' in town_row_pilot(pilots, "PT-330421111") and "（目标 9.4%）" in pilots
    assert 'data-target="9.9"' in town_row_pilot(pilots, "PT-330402101") and "（目标 9.9%）" in pilots
    assert 'data-target="10.0"' in town_row_pilot(pilots, "PT-330411101")
    assert pilots.count('class="tick"') == 3  # one target mark per town, no common line
    assert "9.4（嘉善县 7.4 + 2）" in text(town_row_pilot(pilots, "PT-330421111"))  # the rule of the seed
    assert "（" not in text(town_row_pilot(pilots, "PT-330411101"))  # a provincial pilot: a fixed target


def town_row_pilot(pilots: str, town_code: str) -> str:
    return town_row(pilots, town_code, "pilot-table")


def test_proposals_with_their_reasons_stand_next_to_the_decisions(spec_html):
    eliminate = town_row(spec_html, "CT-330402-02", "assessment")
    assert 'data-proposal="eliminate"' in eliminate and "建议淘汰" in eliminate
    assert "建议淘汰</strong>：考核不合格（58分），未完成年度投资任务（完成71.0%）" in eliminate  # name once
    assert '<span class="awaiting">待市里决定</span>' in eliminate
    card = text(town_row(spec_html, "PT-330421111", "assessment"))
    assert "建议黄牌：得分在本轮市级试点镇中居后2位且低于中位数" in card
    assert "黄牌 2017-04-10，嘉两镇办〔2017〕5号" in card
    excellent = text(town_row(spec_html, "CT-330483-01", "assessment"))
    assert "优秀候选" in excellent and "评为优秀 2017-08-02（省）" in excellent
    assert "待市里决定" not in text(town_row(spec_html, "PT-330411101", "assessment"))


def test_the_provinces_decisions_stand_beside_our_downgrade_risk(spec_html):
    province = section(spec_html, "province")
    summary = text(province)
    assert "对 1 个小镇提出“降档风险”预警，其中 1 个在省考核中被降格（创建名单降为培育名单）或警告" in summary
    assert "未预警的 1 个" in summary  # 南湖基金: warned by the province, not by us
    for town_code, action in (("CT-330482-01", "降格"), ("CT-330402-01", "警告"), ("CT-330411-01", "评为优秀"),
                              ("CT-330483-01", "评为优秀")):
        assert action in town_row(province, town_code), town_code
    assert "降档风险" in text(town_row(province, "CT-330482-01"))
    assert "考核：降格" in province and "day approximate" not in spec_html  # the register's English remarks
    assert "PT-330421111" not in province  # the city's decisions are in the group tables


def test_pending_and_not_comparable_towns_say_so(spec_html):
    pending = text(town_row(spec_html, "CT-330421-02", "assessment"))
    assert "待数据：待嘉善县报送" in pending and pending.startswith("— 西塘古镇文旅小镇")
    excluded = text(town_row(spec_html, "PT-330402101", "assessment"))
    assert "不参与排名" in excluded and excluded.startswith("— 余新镇 南湖区 70.00 合格")


def test_investment_completion_is_the_q4_progress_ratio(spec_html):
    for town_code, values in PROGRESS_Q4.items():
        shown = "—" if values[3] is None else f"{values[3] * 100:.1f}%"
        assert f'<td class="completion" data-town="{town_code}">{shown}</td>' in spec_html
        assert f"<td>{shown}</td>" in town_row_progress(spec_html, town_code)


def test_kpis_carry_their_status_in_chinese_with_the_note(spec_html):
    kpis = section(spec_html, "kpis")
    for status, zh in (("incomplete", "数据不全"), ("behind", "进度滞后"), ("met", "已完成"), ("not_met", "未完成")):
        assert f'data-status="{status}">{zh}</td>' in kpis
    assert "缺：嘉善县" in kpis and "平湖九龙山航空运动小镇降格" in kpis and "<td>2018</td>" in kpis


def test_members_are_those_of_the_quarter(spec_html):
    members = text(section(spec_html, "members"))
    assert "特色小镇 省级创建 4" in members and "特色小镇 市级 2" in members  # 澉浦 ended in June
    cards = text(section(spec_html, "headline"))
    assert cards.startswith("一、总体情况 6 本季度末在册特色小镇（个） 3 本季度末在册小城市培育试点镇（个）")



def test_a_town_whose_membership_ended_is_a_member_of_the_quarters_before_only(spec_db):
    members = text(section(render(spec_db, Period(2016, 2)), "members"))
    assert "特色小镇 市级 3" in members  # 澉浦, eliminated from 1 July, still reports for Q2


def test_the_baseline_year_is_monitored_not_assessed(spec_db):
    html = render(spec_db, Period(2015, 4))
    assert 'id="baseline"' in html and "2015年为基线年" in html and "不按工作方案考核" in html
    assert 'class="group"' not in html and "（目标" not in section(html, "pilots")
    assert 'id="no-pilot-targets"' in html and 'id="kpis"' not in html


def test_the_years_results_appear_after_q4_only(spec_db):
    html = render(spec_db, Period(2016, 3))
    assert 'id="kpis"' not in html and 'id="assessment"' not in html and "在年度数据齐全后公布" in html


def test_the_same_data_gives_the_same_bytes(spec_db, spec_html):
    assert render(spec_db, Period(2016, 4)) == spec_html
    assert not re.search(r"<script|<link |src=\"http|href=\"http|url\(", spec_html)


POLICY_LITERALS = [
    (re.compile(r"(?<![\d.#\w])(60|75|90)(?![\d%\w])"), "a grade threshold"),
    (re.compile(r"(?<![\d.])(10|18|16|25|50|75|80|100)\s*%"), "a target, pace or band in percent"),
    (re.compile(r"(?<![\d.\w])0?\.(25|5|50|75|8|80)(?!\d)"), "a pace or band as a share"),
    (re.compile(r"连续两个季度|省级试点目标|1/3|[一两三]个季度|至多[一二三四五]年|/ ?12\b"), "a rule written in words"),
]


def test_no_policy_number_is_written_in_the_template_or_the_code():
    """Thresholds, paces, targets live in the seeds: none may appear in the bulletin's code or templates
    (styles are left out: their lengths are not policy)."""
    sources = [*PUBLISH_DIR.glob("bulletin*.py"), *(PUBLISH_DIR / "templates").glob("*.j2")]
    found = []
    for path in sources:
        body = re.sub(r"<style>.*?</style>", "", path.read_text(encoding="utf-8"), flags=re.S)
        for lineno, line in enumerate(body.splitlines(), 1):
            for pattern, what in POLICY_LITERALS:
                if pattern.search(line):
                    found.append(f"{path.name}:{lineno}: {what}: {line.strip()[:100]}")
    assert found == []


def test_the_policy_literal_check_would_catch_the_old_template():
    old = ["{{ hbars(items, max_value=20, fmt='num', marker=10, marker_label='省级试点目标 10%') }}",
           "<p class=\"note\">总分 100 分：优秀 ≥ 90，良好 ≥ 75，合格 ≥ 60，不合格 &lt; 60</p>",
           "'cls': 'red' if (a.score or 0) < 60 else ('amber' if (a.score or 0) < 75 else 'green')",
           "绿色为达到序时进度，橙色为达到序时进度的 80% 以上"]
    for line in old:
        assert any(p.search(line) for p, _ in POLICY_LITERALS), line


def test_scores_show_two_decimals_rounded_as_the_published_reasons_round_them():
    from publish.bulletin import _chinese, _score

    assert _score(44.845) == "44.85" and _score(Decimal("90")) == "90.00" and _score(None) == "—"
    assert _chinese("考核：警告; day approximate") == "考核：警告" and _chinese("note only") == "note only"


def test_after_q4_the_decisions_taken_on_the_previous_years_results_are_shown(spec_db):
    """Issue 12: after Q4 the bulletin shows that year's proposals and the decisions taken (in that year) on the
    previous year's results, and an award made in the year; a year with none says so."""
    html = render(spec_db, Period(2016, 4),
                  "insert into marts.decisions (decision_id, decided_on, effective_from, town_code, name_zh, action, "
                  "action_zh, list_name, assessment_year, answers_proposal, document_no, decided_by, note) values "
                  "('C-2015-01', '2016-02-20', '2016-03-01', 'CT-330402-02', '南湖凤桥水果小镇', 'eliminate', '淘汰', "
                  "'市级第一批', 2015, 'eliminate', '嘉两镇办〔2016〕2号', 'city', '2015年度考核不合格'), "
                  "('C-2016-AW', '2016-11-30', '2016-11-30', 'CT-330483-01', '桐乡毛衫时尚小镇', 'award_model', "
                  "'命名为示范特色小镇', '省级第一批创建名单', null, null, '嘉两镇办〔2016〕9号', 'city', null)")
    earlier = section(html, "earlier-decisions")
    assert "C-2015-01" not in earlier  # ids are internal; the reader sees the town, the action and the document
    assert "南湖凤桥水果小镇" in earlier and "淘汰" in earlier and "嘉两镇办〔2016〕2号" in earlier
    assert "命名为示范特色小镇" in earlier and "嘉两镇办〔2016〕9号" in earlier
    assert "2015年度考核结果运用" in html
    assert "未记录对2015年度考核结果的决定" in render(spec_db, Period(2016, 4))


def test_the_last_target_year_closes_the_plan_period(spec_db):
    plain = render(spec_db, Period(2016, 4))
    closing = render(spec_db, Period(2016, 4), "update marts.programme_kpis set target_year = 2016")
    assert "规划期末" not in plain  # a KPI is due in 2018: 2016 does not close the plan period
    assert "规划期末两镇工作目标完成情况" in closing


def test_a_required_pdf_that_cannot_be_made_fails_the_bulletin(bulletin, tmp_path, monkeypatch):
    """In the production stack (TWOTOWNS_BULLETIN_PDF_REQUIRED) a bulletin without its PDF is a failed task,
    not a quiet success; without the setting the HTML alone is written, as on a machine with no Chromium."""
    from publish.bulletin import render_bulletin_for

    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on it
    monkeypatch.setenv("TWOTOWNS_BULLETIN_PDF_REQUIRED", "true")
    with pytest.raises(RuntimeError, match="no PDF"):
        render_bulletin_for("2016Q4", url=(tmp_path / "required").as_uri())
    monkeypatch.delenv("TWOTOWNS_BULLETIN_PDF_REQUIRED")
    written = render_bulletin_for("2016Q4", url=(tmp_path / "optional").as_uri())["written"]
    assert [Path(w).name for w in written] == ["2016Q4.html"]
