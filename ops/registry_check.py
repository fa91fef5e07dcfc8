"""`python -m ops registry check`: a change to the registry seeds, checked against the warehouse
before it is merged, and what it will do.

The decisions register and the registry lists (dbt_project/seeds: towns.csv, memberships.csv,
decisions.csv, decision_actions.csv, annual_tasks.csv) change by a reviewed commit and by nothing
else. This check is what the reviewer runs on the branch:

    python -m ops registry check [--seeds DIR] [--json]

"after" is the seed CSV files of the working tree (or DIR); "before" is what the warehouse holds now:
the same five tables in schema `seeds`, as dbt loaded them at the last build. A table the warehouse
lacks is taken as empty, and the report says so (then everything shows as new).

Membership on a day is THE definition, the dbt macro dbt_project/macros/members_on.sql: for the
after-state core.membership evaluates it in SQLite over the CSV files; for the before-state the
same macro text is rendered with jinja2 for PostgreSQL over the `seeds.*` tables, the days being a
bound date array. No copy of the rule is written here. Where a membership's effective end is needed
(the `towns` dataset), it is found by asking the macro on the candidate days (the registry's
valid_to and each ending decision's effective_from - 1), not by re-deriving the rule.

Findings (each: severity, code, CSV file and line, town, message in Chinese and in English):

- error registry.invalid_value: a required cell empty, a date not YYYY-MM-DD, a number or year that
  is not one, a record with more or fewer cells than the header (the row is left out of the rest);
- error registry.unknown_town: a town_code in memberships/decisions/annual_tasks not in towns.csv;
- error registry.duplicate_key: towns (town_code), memberships (town_code, valid_from: dbt's test),
  annual_tasks (town_code, year) or decision_actions (action) repeated;
- error registry.invalid_period: a membership whose valid_to is before its valid_from;
- error registry.overlap: two memberships of one town and programme in force on one day, after
  decisions ended what they end; the days asked: every quarter end from 2010 to the last year in
  the registry + 1, and every membership's first day;
- error decision.duplicate_id: a decision_id repeated;
- error decision.unknown_action: an action not in decision_actions.csv;
- error decision.no_list: an action that ends a membership without the list_name it ends (the
  macro could not end anything);
- error decision.effective_before_decided: effective_from before decided_on (the office does not
  decide retroactively: to end a membership at the end of a year, decide by then);
- error decision.not_member: the town is not a member of the decision's programme and list on the
  day before effective_from (for an award, action `award_*`, that answers no assessment_year: on
  decided_on);
- error decision.unanswered_proposal: answers_proposal names no proposal of that town and
  assessment_year in marts.town_annual_assessment (column `proposals`), or the decision has no
  assessment_year; a warning instead for `remove` when the same change adds or changes a yellow
  card of the town (that proposal only appears after the build);
- warning decision.proposal_unchecked: the marts are not built, answers_proposal was not checked;
- warning decision.proposal_mismatch: answers_proposal is not the proposal the action answers
  (decision_actions.answers_proposal).

Checks run over the whole after-state, not only the changed rows: proposals can disappear from the
warehouse when reports are revised. An unreadable row of memberships, decisions or decision_actions
stops the checks and the impact that need membership (the macro would read that row): the report
says so; fix it and check again. Exit status: 0 no errors (warnings allowed), 1 errors, 2 the
check could not run (usage, a seed file missing or without its columns, the warehouse unreachable).

What the change will do, before vs after: first the registry rows added, removed or changed (by
each table's key), then the impact:
- reporting: for every quarter end from the earliest membership to the last year in the registry
  + 1, the members (town, programme, tier; two tiers of one town and programme, an overlap, show
  as "a+b"); each run of consecutive quarters where they differ is one line (with "until <quarter>"
  when it ends before the horizon),
  "<town> <name> stops reporting LZ-1 from 2017Q1 (decision C-2016-03 eliminate)", "starts
  reporting", or "reports LZ-1 as <tier> instead of <tier>", with the changed rows that explain it;
- town_years: the published town_annual_assessment columns that come from the register (decision,
  decided_on, document_no, decided_by, decision_notes, yellow_card, removed_next_year,
  eliminated_next_year) per town and assessment_year, computed from both states as the mart does
  (whether the town-year has a published row is said when the marts exist);
- towns: the rows of the `towns` dataset whose valid_to, status, ended_by or decision change (status
  as dim_towns gives it, judged today in Asia/Shanghai on both sides; programmes.csv and
  membership_events.csv are read from the seeds dir);
- kpis: the city_targets KPIs that read decisions or lists, for the plan years concerned:
  measure `decisions` (changed decisions of the KPI's action, or by its assessing body),
  `list_entries` (changed memberships of its list), and also `towns_at_year_end` and `fai_total`
  (their members on 31 December change); with the published value and status when there is one;
- annual_tasks: changed tasks (the year's investment_progress and assessment are recomputed);
- decisions: the rows of the `decisions` dataset added, removed or changed.
Decisions are compared as recorded; the warehouse shows a decision once its decided_on has come.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from core import membership, seeds
from core.config import seeds_dir as configured_seeds_dir
from core.membership import Membership

REGISTRY = ("towns", "memberships", "decisions", "decision_actions", "annual_tasks")
KINDS = {
    "memberships": {"valid_from": "date", "valid_to": "date", "plan_investment_3y": "number"},
    "decisions": {"decided_on": "date", "effective_from": "date", "assessment_year": "int"},
    "decision_actions": {"ends_membership": "bool"},
    "annual_tasks": {"year": "int", "annual_task": "number"},
}
REQUIRED = {
    "towns": ("town_code", "county_code", "name_zh"),
    "memberships": ("town_code", "programme", "tier", "list_name", "valid_from", "event"),
    "decisions": ("decision_id", "decided_on", "effective_from", "town_code", "programme", "action"),
    "decision_actions": ("action", "ends_membership"),
    "annual_tasks": ("town_code", "year", "annual_task"),
}
KEYS = {
    "towns": ("town_code",),
    "memberships": ("town_code", "programme", "list_name", "valid_from"),
    "decisions": ("decision_id",),
    "decision_actions": ("action",),
    "annual_tasks": ("town_code", "year"),
}
HEADER = {  # columns the membership macro reads besides the required ones (their cells may be empty)
    "memberships": ("valid_to", "plan_investment_3y"),
    "decisions": ("list_name", "assessment_year", "answers_proposal"),
    "decision_actions": ("ended_status", "answers_proposal"),
}
UNIQUE = {**KEYS, "memberships": ("town_code", "valid_from")}  # as dbt's tests on the seeds
FIRST_YEAR = 2010
TOWN_YEAR_FIELDS = ("decision", "decided_on", "document_no", "decided_by", "decision_notes",
                    "yellow_card", "removed_next_year", "eliminated_next_year")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CheckError(Exception):
    """The check could not run (exit 2)."""


# --------------------------------------------------------------------------- rows and findings

@dataclass(frozen=True)
class Finding:
    severity: str  # error | warning
    code: str
    file: str
    line: int | None
    town_code: str | None
    message_zh: str
    message_en: str


@dataclass
class Row:
    """One registry row: its CSV line (None for a warehouse row) and its typed values."""

    line: int | None
    data: dict[str, object]
    ok: bool = True  # False: a cell could not be read (reported as registry.invalid_value)

    def __getitem__(self, column: str):
        return self.data.get(column)

    def key(self, table: str) -> tuple:
        return tuple(self.data.get(c) for c in KEYS[table])


@dataclass
class State:
    """One side of the comparison: the five registry tables and who is a member on given days."""

    name: str  # before | after
    tables: dict[str, list[Row]]
    members: Callable[[list[date]], dict[date, tuple[Membership, ...]]]
    missing: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # the after-state: cells that cannot be read

    def rows(self, table: str) -> list[Row]:
        return [r for r in self.tables.get(table, []) if r.ok]

    def actions(self) -> dict[str, Row]:
        return {r["action"]: r for r in self.rows("decision_actions")}


def _finding(severity, code, file, line, town, zh, en) -> Finding:
    return Finding(severity, code, f"{file}.csv" if file else "", line, town, zh, en)


def quarter_label(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_ends(first_year: int, last_year: int) -> list[date]:
    return [date(y, m, d) for y in range(first_year, last_year + 1) for m, d in ((3, 31), (6, 30), (9, 30), (12, 31))]


# --------------------------------------------------------------------------- after: the seed CSV files

def _parse(kind: str, text: str | None):
    """A CSV cell as dbt would load it: empty is NULL; raises ValueError when it is not a value of its kind."""
    text = (text or "").strip()
    if not text:
        return None
    if kind == "date":
        if not _ISO_DATE.fullmatch(text):
            raise ValueError("not a YYYY-MM-DD date")
        return date.fromisoformat(text)
    if kind == "int":
        return int(text)
    if kind == "number":
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ValueError("not a number") from None
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError("not true/false")
        return text.lower() == "true"
    return text


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) of each non-empty record."""
    return seeds.records(path)


def read_table(seeds_dir: Path, table: str) -> tuple[list[Row], list[Finding]]:
    path = seeds_dir / f"{table}.csv"
    if not path.is_file():
        raise CheckError(f"{path} does not exist")
    try:
        header, records = _csv_rows(path)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CheckError(f"{path} cannot be read as UTF-8 CSV: {exc}") from exc
    lacking = [c for c in (*REQUIRED[table], *KEYS[table], *HEADER.get(table, ())) if c not in header]
    if lacking:
        raise CheckError(f"{path}: no column {', '.join(dict.fromkeys(lacking))}")
    rows, findings = [], []
    for line, cells in records:
        row, problems = Row(line, {}), []
        if len(cells) != len(header):
            problems.append(f"{len(cells)} cells, the header has {len(header)}")
        texts = dict(zip(header, cells, strict=False))
        for column, text in texts.items():
            try:
                row.data[column] = _parse(KINDS.get(table, {}).get(column, "text"), text)
            except ValueError as exc:
                problems.append(f"{column} {text!r}: {exc}")
        problems += [f"{c} is empty" for c in REQUIRED[table] if not (texts.get(c) or "").strip()]
        if problems:
            row.ok = False
            findings.append(_finding("error", "registry.invalid_value", table, line, row["town_code"],
                                     "无法读取：" + "；".join(problems), "cannot be read: " + "; ".join(problems)))
        rows.append(row)
    return rows, findings


def read_seeds(seeds_dir: Path) -> State:
    """The after-state: the registry CSV files of `seeds_dir`, membership by the macro in SQLite."""
    seeds_dir = Path(seeds_dir).resolve()
    if not seeds_dir.is_dir():
        raise CheckError(f"{seeds_dir} is not a directory")
    tables, findings = {}, []
    for table in REGISTRY:
        tables[table], found = read_table(seeds_dir, table)
        findings += found
    membership.clear_cache()  # the files may have changed since they were last read in this process

    def members(days: list[date]) -> dict[date, tuple[Membership, ...]]:
        return {day: membership.memberships_on(day, seeds_dir) for day in days}

    return State("after", tables, members, findings=findings)


# --------------------------------------------------------------------------- before: the warehouse

def members_on_postgres() -> str:
    """The membership macro rendered for PostgreSQL over the seeds schema; days: the parameter %(days)s."""
    import jinja2

    module = jinja2.Environment().from_string(membership.MACRO_FILE.read_text(encoding="utf-8")).module
    text = str(module.members_on("(select unnest(__days__::date[]) as day)",
                                 "seeds.memberships", "seeds.decisions", "seeds.decision_actions"))
    return text.replace("%", "%%").replace("__days__", "%(days)s")  # a literal % of the macro stays one


def _table_exists(conn, qualified: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (qualified,)).fetchone()[0]


def _fetch(conn, query: str, params: dict | tuple | None = None) -> list[dict]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _warehouse_value(value):
    return value.strip() or None if isinstance(value, str) else value


def read_warehouse(conn) -> State:
    """The before-state: the registry tables of schema `seeds` (a missing one is empty)."""
    from psycopg import sql

    tables, missing = {}, []
    for table in REGISTRY:
        if not _table_exists(conn, f"seeds.{table}"):
            missing.append(f"seeds.{table}")
            tables[table] = []
            continue
        query = sql.SQL("select * from {}.{}").format(sql.Identifier("seeds"), sql.Identifier(table)).as_string(conn)
        tables[table] = [Row(None, {k: _warehouse_value(v) for k, v in r.items()}) for r in _fetch(conn, query)]
    can_evaluate = not {"seeds.memberships", "seeds.decisions", "seeds.decision_actions"} & set(missing)
    query = members_on_postgres()

    def members(days: list[date]) -> dict[date, tuple[Membership, ...]]:
        out: dict[date, list[Membership]] = {day: [] for day in days}
        if can_evaluate and days:
            for r in _fetch(conn, query, {"days": list(days)}):
                out[r["day"]].append(Membership(
                    r["town_code"], r["programme"], r["tier"], r["list_name"], r["valid_from"], r["valid_to"],
                    float(r["plan_investment_3y"]) if r["plan_investment_3y"] is not None else None, r["event"] or ""))
        return {day: tuple(sorted(ms, key=lambda m: (m.town_code, m.programme, m.list_name))) for day, ms in out.items()}

    return State("before", tables, members, missing)


@dataclass
class Published:
    """What the marts publish now, where the check needs it (None: the mart is not built)."""

    proposals: dict[tuple[str, int], list[str]] | None = None  # (town_code, year) -> proposal codes
    kpis: dict[tuple[str, int], dict] | None = None  # (kpi, year) -> {value, status}


def read_published(conn) -> Published:
    out = Published()
    if _table_exists(conn, "marts.town_annual_assessment"):
        rows = _fetch(conn, "select town_code, year, proposals from marts.town_annual_assessment")
        out.proposals = {(r["town_code"], r["year"]): [p for p in (r["proposals"] or "").split(",") if p] for r in rows}
    if _table_exists(conn, "marts.programme_kpis"):
        rows = _fetch(conn, "select kpi, year, value, status from marts.programme_kpis")
        out.kpis = {(r["kpi"], r["year"]): {"value": r["value"], "status": r["status"]} for r in rows}
    return out


# --------------------------------------------------------------------------- the registry's days

def registry_years(*states: State) -> tuple[date | None, int]:
    """The earliest membership start and the last year the registry mentions (dates and years)."""
    starts = [r["valid_from"] for s in states for r in s.rows("memberships")]
    years = [d.year for s in states for r in s.rows("memberships") for d in (r["valid_from"], r["valid_to"]) if d]
    years += [d.year for s in states for r in s.rows("decisions") for d in (r["decided_on"], r["effective_from"]) if d]
    years += [r["assessment_year"] for s in states for r in s.rows("decisions") if r["assessment_year"]]
    years += [r["year"] for s in states for r in s.rows("annual_tasks")]
    return (min(starts) if starts else None), max(years, default=FIRST_YEAR)


def _membership_lines(state: State) -> dict[tuple, int | None]:
    return {(r["town_code"], r["programme"], r["list_name"], r["valid_from"]): r.line for r in state.rows("memberships")}


def _key(m: Membership) -> tuple:
    return (m.town_code, m.programme, m.list_name, m.valid_from)


# --------------------------------------------------------------------------- checks

def check_keys(after: State) -> list[Finding]:
    """Unknown towns, duplicate keys, memberships ending before they start."""
    findings = []
    towns = {r["town_code"] for r in after.rows("towns")}
    for table in ("memberships", "decisions", "annual_tasks"):
        for r in after.rows(table):
            if r["town_code"] not in towns:
                findings.append(_finding("error", "registry.unknown_town", table, r.line, r["town_code"],
                                         f"小镇代码{r['town_code']}不在towns.csv中",
                                         f"town {r['town_code']} is not in towns.csv"))
    for table in ("towns", "memberships", "annual_tasks", "decision_actions", "decisions"):
        seen: dict[tuple, int | None] = {}
        for r in after.rows(table):
            key = tuple(r[c] for c in UNIQUE[table])
            if key in seen:
                code = "decision.duplicate_id" if table == "decisions" else "registry.duplicate_key"
                shown = ", ".join(str(k) for k in key)
                findings.append(_finding("error", code, table, r.line, r["town_code"],
                                         f"{'/'.join(UNIQUE[table])} = {shown} 重复（首见于第{seen[key]}行）",
                                         f"{'/'.join(UNIQUE[table])} = {shown} repeats line {seen[key]}"))
            seen.setdefault(key, r.line)
    for r in after.rows("memberships"):
        if r["valid_to"] and r["valid_to"] < r["valid_from"]:
            findings.append(_finding("error", "registry.invalid_period", "memberships", r.line, r["town_code"],
                                     f"终止日期{r['valid_to']}早于起始日期{r['valid_from']}",
                                     f"valid_to {r['valid_to']} is before valid_from {r['valid_from']}"))
    return findings


def check_overlaps(after: State, days: Iterable[date]) -> list[Finding]:
    """Two memberships of one town and programme in force on one day (after decisions ended theirs)."""
    lines, names = _membership_lines(after), _names(after)
    findings, seen = [], set()
    for day, members in sorted(after.members(sorted(set(days))).items()):
        by_town: dict[tuple, list[Membership]] = defaultdict(list)
        for m in members:
            by_town[(m.town_code, m.programme)].append(m)
        for (town, programme), ms in by_town.items():
            ms = sorted(ms, key=lambda m: (m.valid_from, m.list_name))
            for first, later in zip(ms, ms[1:], strict=False):
                pair = (_key(first), _key(later))
                if pair in seen:
                    continue
                seen.add(pair)
                a, b = lines.get(_key(first)), lines.get(_key(later))
                findings.append(_finding(
                    "error", "registry.overlap", "memberships", b, town,
                    f"{names.get(town, town)}在{day}同时属于{programme}的两个名单：{first.list_name}（第{a}行，"
                    f"{first.valid_from}起）和{later.list_name}（第{b}行，{later.valid_from}起）",
                    f"{town} is on two {programme} lists on {day}: {first.list_name} (line {a}, from {first.valid_from}) "
                    f"and {later.list_name} (line {b}, from {later.valid_from})"))
    return findings


def check_decisions(after: State) -> list[Finding]:
    """Unknown actions, retroactive decisions, ending actions without a list."""
    findings, actions = [], after.actions()
    for d in after.rows("decisions"):
        did, town = d["decision_id"], d["town_code"]
        action = actions.get(d["action"])
        if action is None:
            findings.append(_finding("error", "decision.unknown_action", "decisions", d.line, town,
                                     f"决定{did}的动作{d['action']}不在decision_actions.csv中",
                                     f"decision {did}: action {d['action']} is not in decision_actions.csv"))
        elif action["ends_membership"] and not d["list_name"]:
            findings.append(_finding("error", "decision.no_list", "decisions", d.line, town,
                                     f"决定{did}（{d['action']}）终止名单资格，但未写明名单（list_name）",
                                     f"decision {did} ({d['action']}) ends a membership but names no list_name"))
        if d["effective_from"] < d["decided_on"]:
            findings.append(_finding("error", "decision.effective_before_decided", "decisions", d.line, town,
                                     f"决定{did}的生效日期{d['effective_from']}早于决定日期{d['decided_on']}",
                                     f"decision {did} takes effect on {d['effective_from']}, before it was decided "
                                     f"on {d['decided_on']}"))
    return findings


def membership_day(d: Row) -> date:
    """The day the town must be a member for decision `d`: the day before it takes effect; for an
    award that answers no assessment, the day it is decided."""
    if str(d["action"]).startswith("award_") and d["assessment_year"] is None:
        return d["decided_on"]
    return d["effective_from"] - timedelta(days=1)


def check_members(after: State) -> list[Finding]:
    """A decision on a town that is not a member of its programme and list at its date."""
    towns, names = {r["town_code"] for r in after.rows("towns")}, _names(after)
    decisions = [d for d in after.rows("decisions") if d["town_code"] in towns]
    members = after.members(sorted({membership_day(d) for d in decisions}))
    findings = []
    for d in decisions:
        day = membership_day(d)
        held = [m for m in members[day] if m.town_code == d["town_code"] and m.programme == d["programme"]]
        if any(d["list_name"] is None or m.list_name == d["list_name"] for m in held):
            continue
        town = d["town_code"]
        lists_zh = "、".join(m.list_name for m in held) or "无"
        lists_en = ", ".join(m.list_name for m in held) or "none"
        findings.append(_finding(
            "error", "decision.not_member", "decisions", d.line, town,
            f"决定{d['decision_id']}：{names.get(town, town)}在{day}不是{d['programme']} {d['list_name'] or ''}的成员"
            f"（当日所在名单：{lists_zh}）",
            f"decision {d['decision_id']}: {town} is not a member of {d['programme']} {d['list_name'] or ''} on {day} "
            f"(its lists that day: {lists_en})"))
    return findings


def _new_yellow_cards(before: State, after: State) -> set[str]:
    """Towns whose yellow-card decisions this change adds or changes."""
    old = {d["decision_id"]: d.data for d in before.rows("decisions")}
    return {d["town_code"] for d in after.rows("decisions")
            if d["action"] == "yellow_card" and old.get(d["decision_id"]) != d.data}


def check_proposals(after: State, before: State, published: Published) -> list[Finding]:
    """answers_proposal: a proposal of that town-year in the warehouse, and the one the action answers."""
    findings, actions, carded = [], after.actions(), _new_yellow_cards(before, after)
    for d in after.rows("decisions"):
        code, year, town, did = d["answers_proposal"], d["assessment_year"], d["town_code"], d["decision_id"]
        if not code:
            continue
        answers = actions[d["action"]]["answers_proposal"] if d["action"] in actions else None
        if answers and answers != code:
            findings.append(_finding("warning", "decision.proposal_mismatch", "decisions", d.line, town,
                                     f"决定{did}（{d['action']}）回应的建议应为{answers}，登记为{code}",
                                     f"decision {did} ({d['action']}) answers {answers} proposals, not {code}"))
        if published.proposals is None:
            findings.append(_finding("warning", "decision.proposal_unchecked", "decisions", d.line, town,
                                     f"数据仓库尚无考核结果（marts.town_annual_assessment），无法核对决定{did}回应的建议{code}",
                                     f"the warehouse has no marts.town_annual_assessment: proposal {code} of decision "
                                     f"{did} could not be checked"))
            continue
        proposals = published.proposals.get((town, year), []) if year is not None else []
        if code in proposals:
            continue
        pending = code == "remove" and town in carded
        findings.append(_finding(
            "warning" if pending else "error", "decision.unanswered_proposal", "decisions", d.line, town,
            f"决定{did}回应{town} {year or '（未填考核年度）'}年度的{code}建议，但该镇该年度的建议为："
            f"{','.join(proposals) or '无'}" + ("；本次变更新增黄牌，调整建议需重建后才出现" if pending else ""),
            f"decision {did} answers proposal {code} of {town} for {year or '(no assessment_year)'}, but that "
            f"town-year's proposals are: {','.join(proposals) or 'none'}"
            + ("; this change adds a yellow card: the remove proposal only appears after the build" if pending else "")))
    return findings


def run_checks(before: State, after: State, published: Published, last_year: int) -> list[Finding]:
    days = set(quarter_ends(FIRST_YEAR, last_year + 1)) | {r["valid_from"] for r in after.rows("memberships")}
    return (check_keys(after) + check_overlaps(after, days) + check_decisions(after)
            + check_members(after) + check_proposals(after, before, published))


def _names(*states: State) -> dict[str, str]:
    names: dict[str, str] = {}
    for state in reversed(states):
        names.update({r["town_code"]: r["name_zh"] for r in state.rows("towns")})
    return names


# --------------------------------------------------------------------------- impact: changed rows

@dataclass
class Change:
    """A registry row added, removed or changed (before/after: the row's values; line: the CSV line)."""

    table: str
    key: tuple
    change: str  # added | removed | changed
    line: int | None
    before: dict | None
    after: dict | None

    def versions(self) -> list[dict]:
        return [v for v in (self.before, self.after) if v is not None]

    def fields(self) -> list[str]:
        if self.before is None or self.after is None:
            return []
        return [c for c in dict.fromkeys([*self.before, *self.after]) if self.before.get(c) != self.after.get(c)]


def diff_rows(before: State, after: State) -> list[Change]:
    """Rows added, removed or changed, by each table's key (the first row of a repeated key)."""
    changes = []
    for table in REGISTRY:
        old: dict[tuple, Row] = {}
        new: dict[tuple, Row] = {}
        for rows, by_key in ((before.rows(table), old), (after.rows(table), new)):
            for r in rows:
                by_key.setdefault(r.key(table), r)
        columns = {c for r in new.values() for c in r.data} & {c for r in old.values() for c in r.data} or None
        for key in sorted(old.keys() | new.keys(), key=str):
            a, b = old.get(key), new.get(key)
            va = {c: v for c, v in a.data.items() if columns is None or c in columns} if a else None
            vb = {c: v for c, v in b.data.items() if columns is None or c in columns} if b else None
            if va == vb:
                continue
            kind = "added" if a is None else "removed" if b is None else "changed"
            changes.append(Change(table, key, kind, b.line if b else None, va, vb))
    return changes


def _describe_change(c: Change) -> str:
    key = " ".join(str(k) for k in c.key if k is not None)
    where = f" (line {c.line})" if c.line else ""
    if c.change == "changed":
        shown = "; ".join(f"{f} {_show(c.before.get(f))} → {_show(c.after.get(f))}" for f in c.fields())
        return f"{c.table}.csv {key}{where}: {shown}"
    return f"{c.table}.csv {key}{where}: {c.change}"


def _town(code: str, names: dict[str, str]) -> str:
    return f"{code} {names[code]}" if names.get(code) else code


def _period_value(column: str, value) -> str:
    return "open" if value is None and column == "valid_to" else _show(value)


def _show(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- impact: who reports

MemberSets = dict[date, frozenset[tuple[str, str, str, str]]]  # day -> {(town, programme, tier, list_name)}


def member_sets(state: State, days: list[date]) -> MemberSets:
    return {day: frozenset((m.town_code, m.programme, m.tier, m.list_name) for m in ms)
            for day, ms in state.members(days).items()}


def _tiers(members: frozenset, town: str, programme: str) -> str | None:
    tiers = sorted({t for (c, p, t, _) in members if c == town and p == programme})
    return "+".join(tiers) or None


def _runs(before: MemberSets, after: MemberSets, days: list[date], town: str, programme: str) -> list[tuple]:
    """Runs of consecutive days on which the town's tiers differ: (tier before, tier after, first, last|None)."""
    runs: list[list] = []
    for i, day in enumerate(days):
        pair = (_tiers(before[day], town, programme), _tiers(after[day], town, programme))
        if pair[0] == pair[1]:
            continue
        if runs and runs[-1][4] == i - 1 and runs[-1][:2] == list(pair):
            runs[-1][3], runs[-1][4] = day, i
        else:
            runs.append([*pair, day, day, i])
    return [(b, a, first, None if index == len(days) - 1 else last) for b, a, first, last, index in runs]


def _causes(changes: list[Change], town: str, programme: str, since: date | None, first: date) -> list[str]:
    """The changed rows that explain a change of membership between `since` (excluded) and `first`."""
    mine, timely = [], []
    for c in changes:
        if c.table not in ("decisions", "memberships"):
            continue
        for v in c.versions():
            if v.get("town_code") != town or v.get("programme") != programme:
                continue
            label = (f"decision {v['decision_id']} {v['action']}" if c.table == "decisions"
                     else f"membership {v['list_name']} from {v['valid_from']}")
            label += "" if c.change == "added" else f" {c.change}"
            days = ([v.get("effective_from")] if c.table == "decisions"
                    else [v.get("valid_from"), v["valid_to"] + timedelta(days=1) if v.get("valid_to") else None])
            mine.append(label)
            if any(d and (since is None or since < d) and d <= first for d in days):
                timely.append(label)
    return list(dict.fromkeys(timely or mine))


def reporting_changes(before: MemberSets, after: MemberSets, days: list[date], changes: list[Change],
                      names: dict[str, str], forms: dict[str, str]) -> list[dict]:
    towns = sorted({(m[0], m[1]) for d in days for m in before[d] ^ after[d]})
    out = []
    for town, programme in towns:
        for tier_before, tier_after, first, last in _runs(before, after, days, town, programme):
            index = days.index(first)
            because = _causes(changes, town, programme, days[index - 1] if index else None, first)
            form = forms.get(programme, programme)
            kind = "stops" if tier_after is None else "starts" if tier_before is None else "tier"
            what = {"stops": f"stops reporting {form}", "starts": f"starts reporting {form}",
                    "tier": f"reports {form} as {tier_after} instead of {tier_before}"}[kind]
            what_zh = {"stops": f"不再报送{form}", "starts": f"开始报送{form}",
                       "tier": f"报送{form}的层级由{tier_before}改为{tier_after}"}[kind]
            until = f" until {quarter_label(last)}" if last else ""
            out.append({
                "town_code": town, "name_zh": names.get(town), "programme": programme, "form": form, "change": kind,
                "tier_before": tier_before, "tier_after": tier_after, "from_quarter": quarter_label(first),
                "to_quarter": quarter_label(last) if last else None, "because": because,
                "text": f"{_town(town, names)} {what} from {quarter_label(first)}{until}"
                        + (f" ({'; '.join(because)})" if because else ""),
                "text_zh": f"{names[town] + '（' + town + '）' if names.get(town) else town}自{quarter_label(first)}起{what_zh}"
                           + (f"，至{quarter_label(last)}止" if last else "")})
    return out


# --------------------------------------------------------------------------- impact: published figures

def town_year_decisions(state: State) -> dict[tuple[str, int], dict]:
    """The register's columns of town_annual_assessment per (town, assessment_year), as the mart
    aggregates them (decisions with a known action, in order of decided_on and decision_id)."""
    actions = state.actions()
    grouped: dict[tuple[str, int], list[Row]] = defaultdict(list)
    for d in state.rows("decisions"):
        if d["assessment_year"] is not None and d["action"] in actions:
            grouped[(d["town_code"], d["assessment_year"])].append(d)
    out = {}
    for key, ds in grouped.items():
        ds.sort(key=lambda d: (d["decided_on"], d["decision_id"]))
        acts = [d["action"] for d in ds]
        out[key] = {
            "decision": ",".join(acts), "decided_on": max(d["decided_on"] for d in ds),
            "document_no": "、".join(d["document_no"] for d in ds if d["document_no"]) or None,
            "decided_by": ",".join(sorted({d["decided_by"] for d in ds if d["decided_by"]})) or None,
            "decision_notes": "；".join(d["note"] for d in ds if d["note"]) or None,
            "yellow_card": "yellow_card" in acts, "removed_next_year": "remove" in acts,
            "eliminated_next_year": "eliminate" in acts}
    return out


NO_DECISION = {f: (False if f in ("yellow_card", "removed_next_year", "eliminated_next_year") else None)
               for f in TOWN_YEAR_FIELDS}


def town_year_changes(before: State, after: State, published: Published, names: dict[str, str]) -> list[dict]:
    old, new = town_year_decisions(before), town_year_decisions(after)
    out = []
    for town, year in sorted(old.keys() | new.keys()):
        a, b = old.get((town, year), NO_DECISION), new.get((town, year), NO_DECISION)
        changed = {f: [a[f], b[f]] for f in TOWN_YEAR_FIELDS if a[f] != b[f]}
        if not changed:
            continue
        row = None if published.proposals is None else (town, year) in published.proposals
        text = f"town_annual_assessment {year} {_town(town, names)}: " + "; ".join(
            f"{f} {_show(x)} → {_show(y)}" for f, (x, y) in changed.items())
        if row is False:
            text += " (no assessment row for that town-year: the decisions dataset shows it)"
        if "yellow_card" in changed:
            text += "; later years of the round: yellow_cards_in_round and the remove proposal follow"
        out.append({"year": year, "town_code": town, "name_zh": names.get(town), "published_row": row,
                    "changes": changed, "text": text})
    return out


def _ending_candidates(state: State) -> dict[tuple, list[Row]]:
    """The decisions that may end each membership (an ending action on its town, programme and list)."""
    ending = {a for a, r in state.actions().items() if r["ends_membership"]}
    by_list: dict[tuple, list[Row]] = defaultdict(list)
    for d in state.rows("decisions"):
        if d["action"] in ending:
            by_list[(d["town_code"], d["programme"], d["list_name"])].append(d)
    return {(m["town_code"], m["programme"], m["list_name"], m["valid_from"]):
            sorted((d for d in by_list[(m["town_code"], m["programme"], m["list_name"])]
                    if d["effective_from"] > m["valid_from"]), key=lambda d: (d["effective_from"], d["decision_id"]))
            for m in state.rows("memberships")}


def effective_periods(state: State) -> dict[tuple, dict]:
    """Each membership's effective end, asked of the membership macro on the candidate days (the
    registry's valid_to, each ending decision's effective_from - 1, and the day after each)."""
    candidates = _ending_candidates(state)
    rows = {(m["town_code"], m["programme"], m["list_name"], m["valid_from"]): m for m in state.rows("memberships")}
    ends = {k: sorted({d["effective_from"] - timedelta(days=1) for d in ds} | ({rows[k]["valid_to"]} - {None}))
            for k, ds in candidates.items()}
    days = sorted({e + timedelta(days=n) for es in ends.values() for e in es for n in (0, 1)})
    in_force = {day: {_key(m) for m in ms} for day, ms in state.members(days).items()}
    out = {}
    for k, row in rows.items():
        valid_to = next((e for e in ends[k] if k in in_force[e] and k not in in_force[e + timedelta(days=1)]), None)
        by_decision = valid_to is not None and (row["valid_to"] is None or valid_to < row["valid_to"])
        decision = next((d for d in candidates[k] if d["effective_from"] - timedelta(days=1) == valid_to), None)
        out[k] = {"valid_to": valid_to, "registry_valid_to": row["valid_to"], "event": row["event"],
                  "ended_by": "decision" if by_decision else "registry" if row["valid_to"] else None,
                  "decision_id": decision["decision_id"] if by_decision and decision else None,
                  "decided_status": state.actions()[decision["action"]]["ended_status"] if by_decision and decision
                  else None}
    return out


@dataclass(frozen=True)
class Context:
    """The non-registry seeds the impact reads (from the seeds dir, else the project's) and today."""

    forms: dict[str, str]  # programme -> form (programme_forms.csv)
    exit_status: dict[str, str]  # programme -> status of a period the registry ends (programmes.csv)
    previous_status: dict[str, str]  # event -> status of the period before it (membership_events.csv)
    city_targets: list[dict]
    today: date

    @classmethod
    def load(cls, seeds_dir: Path, today: date | None = None) -> Context:
        def read(name: str) -> list[dict]:
            where = seeds_dir if (seeds_dir / name).is_file() else None  # a proposal may omit a seed it leaves alone
            return [{k: v.strip() or None for k, v in r.items()} for r in seeds.rows(name, where)]

        return cls({r["programme"]: r["form"] for r in read("programme_forms.csv")},
                   {r["programme"]: r["exit_status"] for r in read("programmes.csv")},
                   {r["event"]: r["previous_period_status"] for r in read("membership_events.csv")},
                   read("city_targets.csv"), today or datetime.now(ZoneInfo("Asia/Shanghai")).date())


def towns_rows(state: State, ctx: Context) -> dict[tuple, dict]:
    """The `towns` dataset's valid_to, status, ended_by and decision per membership (status as dim_towns
    gives it: active while open or not yet past; else the decision's status; else that of the next
    period's event; else the programme's exit status)."""
    periods = effective_periods(state)
    following: dict[tuple, str | None] = {}
    by_town: dict[tuple, list[tuple]] = defaultdict(list)
    for k in periods:
        by_town[k[:2]].append(k)
    for ks in by_town.values():
        ks.sort(key=lambda k: k[3])
        following.update({k: periods[n]["event"] for k, n in zip(ks, ks[1:], strict=False)})
    out = {}
    for k, p in periods.items():
        if p["valid_to"] is None or p["valid_to"] >= ctx.today:
            status = "active"
        elif p["decided_status"]:
            status = p["decided_status"]
        elif following.get(k):
            status = ctx.previous_status.get(following[k])
        else:
            status = ctx.exit_status.get(k[1])
        out[k] = {"valid_to": p["valid_to"], "status": status, "ended_by": p["ended_by"], "decision_id": p["decision_id"]}
    return out


def towns_changes(before: State, after: State, ctx: Context, names: dict[str, str]) -> list[dict]:
    old, new = towns_rows(before, ctx), towns_rows(after, ctx)
    out = []
    for k in sorted(old.keys() | new.keys(), key=str):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        town, _, list_name, valid_from = k
        head = f"towns {_town(town, names)} {list_name} from {valid_from}"
        if a is None or b is None:
            change = "added" if a is None else "removed"
            text = f"{head}: row {change}" + (f" (valid_to {_period_value('valid_to', b['valid_to'])}, "
                                              f"status {b['status']})" if b else "")
        else:
            change = "changed"
            text = f"{head}: " + "; ".join(f"{f} {_period_value(f, a[f])} → {_period_value(f, b[f])}"
                                           for f in a if a[f] != b[f])
        out.append({"town_code": town, "name_zh": names.get(town), "programme": k[1], "list_name": list_name,
                    "valid_from": valid_from, "change": change, "before": a, "after": b, "text": text})
    return out


def annual_task_changes(changes: list[Change], names: dict[str, str]) -> list[dict]:
    out = []
    for c in changes:
        if c.table != "annual_tasks":
            continue
        town, year = c.key
        old = c.before["annual_task"] if c.before else None
        new = c.after["annual_task"] if c.after else None
        if old == new:
            continue
        out.append({"town_code": town, "name_zh": names.get(town), "year": year, "before": old, "after": new,
                    "text": f"annual task {_town(town, names)} {year}: {_show(old) if old is not None else 'default'}"
                            f" → {_show(new) if new is not None else 'default (plan / divisor)'} 万元: investment_progress "
                            f"{year} and the {year} assessment (task completion, score, grade, proposals) are recomputed"})
    return out


def decision_changes(changes: list[Change]) -> list[dict]:
    out = []
    for c in changes:
        if c.table != "decisions":
            continue
        v = c.after or c.before
        what = f"{v['action']}, {v['town_code']}, effective {v['effective_from']}"
        detail = f": {', '.join(c.fields())}" if c.change == "changed" else ""
        out.append({"decision_id": c.key[0], "change": c.change, "line": c.line, "fields": c.fields(),
                    "text": f"decisions {c.key[0]} ({what}) {c.change}{detail}"})
    return out


def _kpi_years(kpi: dict) -> range:
    return range(int(kpi["valid_from_year"]), int(kpi["valid_to_year"]) + 1)


def _decision_kpi_years(kpi: dict, changes: list[Change]) -> dict[int, list[str]]:
    """Plan years whose count of the KPI's decisions (or whose 'decided yet') a changed decision touches."""
    years: dict[int, list[str]] = defaultdict(list)
    for c in changes:
        for v in (c.versions() if c.table == "decisions" else []):
            if v["programme"] != kpi["programme"]:
                continue
            touched: set[int] = set()
            if v["action"] == kpi["action"]:
                first = v["assessment_year"] or v["decided_on"].year
                touched |= {first} if v["assessment_year"] else set(range(first, int(kpi["valid_to_year"]) + 1))
            if kpi["assessed_by"] and v["decided_by"] == kpi["assessed_by"] and v["assessment_year"]:
                touched.add(v["assessment_year"])
            for y in touched & set(_kpi_years(kpi)):
                years[y].append(f"decision {v['decision_id']} {c.change}")
    return years


def _list_kpi_years(kpi: dict, changes: list[Change]) -> dict[int, list[str]]:
    """Plan years whose entries to the KPI's list (valid_from by 31 December) a changed membership touches."""
    years: dict[int, list[str]] = defaultdict(list)
    for c in changes:
        for v in (c.versions() if c.table == "memberships" else []):
            if v["programme"] == kpi["programme"] and v["list_name"] == kpi["list_name"]:
                for y in range(v["valid_from"].year, int(kpi["valid_to_year"]) + 1):
                    if y in _kpi_years(kpi):
                        years[y].append(f"membership {v['town_code']} from {v['valid_from']} {c.change}")
    return years


def _member_kpi_years(kpi: dict, before: MemberSets, after: MemberSets) -> dict[int, list[str]]:
    """Plan years whose members on 31 December in the KPI's tiers (and list) change."""
    tiers = set((kpi["tiers"] or "").split("|"))

    def counted(members: frozenset) -> set[str]:
        return {town for town, programme, tier, list_name in members
                if programme == kpi["programme"] and tier in tiers and kpi["list_name"] in (None, list_name)}

    years = {}
    for y in _kpi_years(kpi):
        old, new = counted(before[date(y, 12, 31)]), counted(after[date(y, 12, 31)])
        if old != new:
            years[y] = [f"{t} counted" for t in sorted(new - old)] + [f"{t} no longer counted" for t in sorted(old - new)]
    return years


def kpi_changes(ctx: Context, changes: list[Change], before: MemberSets, after: MemberSets,
                published: Published) -> list[dict]:
    out = []
    for kpi in ctx.city_targets:
        measure = kpi["measure"]
        if measure == "decisions":
            years = _decision_kpi_years(kpi, changes)
        elif measure == "list_entries":
            years = _list_kpi_years(kpi, changes)
        elif measure in ("towns_at_year_end", "fai_total"):
            years = _member_kpi_years(kpi, before, after)
        else:
            continue
        for year, because in sorted(years.items()):
            now = None if published.kpis is None else published.kpis.get((kpi["kpi"], year))
            shown = (f"published {_show(now['value'])} ({now['status']})" if now
                     else "no published row yet" if published.kpis is not None else "marts not built")
            out.append({"kpi": kpi["kpi"], "name_zh": kpi["name_zh"], "measure": measure, "year": year,
                        "published": now, "because": because,
                        "text": f"programme_kpis {kpi['kpi']} {year} ({measure}; {shown}): {', '.join(because)}"})
    return out


def kpi_days(ctx: Context) -> set[date]:
    return {date(y, 12, 31) for kpi in ctx.city_targets for y in _kpi_years(kpi)}


# --------------------------------------------------------------------------- the report

@dataclass
class Report:
    seeds_dir: str
    warehouse: str
    before_missing: list[str]
    marts_missing: list[str]
    findings: list[Finding]
    changes: list[str]
    impact: dict[str, list[dict]]
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    def to_dict(self) -> dict:
        return {"seeds_dir": self.seeds_dir, "warehouse": self.warehouse, "before_missing": self.before_missing,
                "marts_missing": self.marts_missing, "notes": self.notes, "errors": self.errors, "warnings": self.warnings,
                "findings": [asdict(f) for f in self.findings], "changes": self.changes, "impact": self.impact}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=str)

    def to_text(self) -> str:
        lines = [f"Registry check: {self.seeds_dir} against the warehouse {self.warehouse}"]
        lines += [f"  {note}" for note in self.notes]
        if self.marts_missing:
            lines.append(f"  the warehouse has no {', '.join(self.marts_missing)}: not checked against it")
        lines.append(f"Findings: {self.errors} error(s), {self.warnings} warning(s)")
        for f in self.findings:
            where = f"{f.file}:{f.line}" if f.line else f.file
            lines += [f"  {f.severity:7} {f.code:34} {where:20} {f.town_code or ''}", f"          {f.message_zh}",
                      f"          {f.message_en}"]
        lines.append(f"Changes against the warehouse: {len(self.changes) or 'none'}")
        lines += [f"  {c}" for c in self.changes]
        titles = {"reporting": "Who reports", "town_years": "town_annual_assessment (decisions)", "towns": "towns",
                  "kpis": "programme_kpis", "annual_tasks": "annual tasks", "decisions": "decisions"}
        if not any(self.impact.values()):
            lines.append("Impact: none")
        for name, items in self.impact.items():
            if items:
                lines.append(f"{titles[name]}:")
                lines += [f"  {item['text']}" for item in items]
        return "\n".join(lines)


def _where(url: str) -> str:
    from core.warehouse import conn_params

    p = conn_params(url)
    return f"{p.dbname} on {p.host}:{p.port}"  # never the password


def impact(before: State, after: State, published: Published, ctx: Context, changes: list[Change]) -> dict:
    first, last_year = registry_years(before, after)
    days = [d for d in quarter_ends((first or date(FIRST_YEAR, 1, 1)).year, last_year + 1) if first and d >= first]
    all_days = sorted(set(days) | kpi_days(ctx))
    old, new = member_sets(before, all_days), member_sets(after, all_days)
    names = _names(after, before)
    return {"reporting": reporting_changes(old, new, days, changes, names, ctx.forms),
            "town_years": town_year_changes(before, after, published, names),
            "towns": towns_changes(before, after, ctx, names),
            "kpis": kpi_changes(ctx, changes, old, new, published),
            "annual_tasks": annual_task_changes(changes, names),
            "decisions": decision_changes(changes)}


MEMBERSHIP_FILES = ("memberships.csv", "decisions.csv", "decision_actions.csv")
IMPACTS = ("reporting", "town_years", "towns", "kpis", "annual_tasks", "decisions")


def _evaluate(conn, after: State, seeds_dir: Path, today: date | None) -> tuple[State, Published, list, list, dict, list]:
    """Before-state, published marts, findings, changed rows, impact and notes, on one connection."""
    before, published = read_warehouse(conn), read_published(conn)
    changes = diff_rows(before, after)
    unreadable = sorted({f.file for f in after.findings if f.file in MEMBERSHIP_FILES})
    if unreadable:  # membership would be evaluated from cells that cannot be read
        note = (f"membership not evaluated (no overlap, member or impact checks): rows of {', '.join(unreadable)} "
                f"cannot be read; fix them and check again")
        return before, published, check_keys(after) + check_decisions(after), changes, {k: [] for k in IMPACTS}, [note]
    _, last_year = registry_years(before, after)
    findings = run_checks(before, after, published, last_year)
    effect = impact(before, after, published, Context.load(seeds_dir, today), changes)
    notes = [f"the warehouse has no {t}: taken as empty (not built yet?)" for t in before.missing]
    return before, published, findings, changes, effect, notes


def check(seeds_dir: Path | None = None, url: str | None = None, today: date | None = None) -> Report:
    """Check the registry seeds of `seeds_dir` against the warehouse at `url` (default: WAREHOUSE_URL
    or the embedded one); raises CheckError when the check cannot run."""
    import psycopg

    from core.warehouse import connect, warehouse_url

    seeds_dir = Path(seeds_dir) if seeds_dir is not None else configured_seeds_dir()
    after = read_seeds(seeds_dir)
    url = url or warehouse_url()
    try:
        with connect(url, autocommit=True) as conn:
            before, published, findings, changes, effect, notes = _evaluate(conn, after, seeds_dir, today)
    except psycopg.OperationalError as exc:
        raise CheckError(f"the warehouse cannot be reached ({_where(url)}): {exc}") from exc
    except psycopg.Error as exc:  # e.g. seeds loaded before a column the macro reads existed
        raise CheckError(f"the warehouse's registry cannot be read ({_where(url)}; rebuild it?): {exc}") from exc
    marts_missing = [name for name, value in (("marts.town_annual_assessment", published.proposals),
                                              ("marts.programme_kpis", published.kpis)) if value is None]
    findings = sorted(after.findings + findings, key=lambda f: (f.severity != "error", f.file, f.line or 0, f.code))
    return Report(str(seeds_dir), _where(url), before.missing, marts_missing, findings,
                  [_describe_change(c) for c in changes], effect, notes)


def main(args) -> int:
    """`python -m ops registry check`: 0 no errors, 1 errors, 2 the check could not run."""
    try:
        report = check(Path(args.seeds) if args.seeds else None)
    except CheckError as exc:
        print(f"python -m ops registry check: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else report.to_text())
    return 1 if report.errors else 0
