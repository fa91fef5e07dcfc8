"""Who is a member of which programme on a day: THE definition, evaluated from the dbt macro.

The rule (programme-rules §1: the registry's list memberships covering the day, less
those a recorded decision has ended by that day) is written once, as the dbt macro
`dbt_project/macros/members_on.sql`. The warehouse runs it in PostgreSQL; ingest
and the sample generator run the very same macro text here, rendered with jinja2
and evaluated in an in-memory SQLite database loaded from the seed CSVs
(memberships, decisions, decision_actions). There is no second copy of the rule.

The seeds folder is an argument; without one it is `core.config.seeds_dir()`
(TWOTOWNS_SEEDS_DIR, else dbt_project/seeds). The caches are keyed by the folder.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import jinja2

from core import seeds
from core.config import DBT_PROJECT_DIR
from core.config import seeds_dir as configured_seeds_dir

MACRO_FILE = DBT_PROJECT_DIR / "macros" / "members_on.sql"
SEED_TABLES = ("memberships", "decisions", "decision_actions")
_BOOLEANS = {"true": 1, "false": 0}
_lock = threading.Lock()


@dataclass(frozen=True)
class Membership:
    """One list membership in force on a day (a row of the macro's answer)."""

    town_code: str
    programme: str
    tier: str
    list_name: str
    valid_from: date
    valid_to: date | None  # the registry's end (inclusive); a decision's end is not shown here
    plan_investment_3y: float | None
    event: str


def _cell(text: str | None) -> str | int | None:
    """A seed cell as dbt loads it, in SQLite terms: empty is NULL, true/false are 1/0, dates stay ISO text."""
    if text is None or text.strip() == "":
        return None
    return _BOOLEANS.get(text.strip().lower(), text)


def _load_seed(db: sqlite3.Connection, table: str, path: Path) -> None:
    header, recs = seeds.records(path)
    rows = [[_cell(v) for v in cells] for _, cells in recs]
    columns = ", ".join(f'"{c}"' for c in header)  # seed column names, not data
    db.execute(f'create table "{table}" ({columns})')
    marks = ", ".join("?" * len(header))
    db.executemany(f'insert into "{table}" values ({marks})', rows)


@functools.cache
def _database(seeds_dir: Path) -> sqlite3.Connection:
    """The three membership seeds of `seeds_dir` in an in-memory SQLite database (loaded once)."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    for table in SEED_TABLES:
        _load_seed(db, table, seeds_dir / f"{table}.csv")
    # the macro's lookup of the decisions that end a membership, indexed: a national registry has tens of
    # thousands of memberships and thousands of decisions (without it one day takes minutes)
    db.execute('create index decisions_ending on decisions (town_code, programme, list_name)')
    db.execute('create index memberships_from on memberships (valid_from)')
    return db


@functools.cache
def members_on_sql(macro_file: Path = MACRO_FILE) -> str:
    """The macro rendered for SQLite: the days relation is one row holding the bound parameter :day."""
    module = jinja2.Environment().from_string(macro_file.read_text(encoding="utf-8")).module
    return str(module.members_on("(select :day as day)", *SEED_TABLES))


def _membership(row: dict[str, object]) -> Membership:
    """A row of the macro's answer, by column name (the macro may add columns)."""
    valid_to, plan = row["valid_to"], row["plan_investment_3y"]
    return Membership(str(row["town_code"]), str(row["programme"]), str(row["tier"]), str(row["list_name"]),
                      date.fromisoformat(str(row["valid_from"])),
                      date.fromisoformat(str(valid_to)) if valid_to else None,
                      float(plan) if plan is not None else None, str(row["event"] or ""))


def _folder(seeds_dir: Path | str | None) -> Path:
    return Path(seeds_dir) if seeds_dir is not None else configured_seeds_dir()


def memberships_on(day: date, seeds_dir: Path | None = None) -> tuple[Membership, ...]:
    """Every membership in force on `day`, sorted by town, programme and list."""
    return _memberships_on(day, _folder(seeds_dir))


@functools.lru_cache(maxsize=4096)
def _memberships_on(day: date, seeds_dir: Path) -> tuple[Membership, ...]:
    db = _database(seeds_dir)
    with _lock:
        cursor = db.execute(members_on_sql(), {"day": day.isoformat()})
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return tuple(sorted((_membership(r) for r in rows), key=lambda m: (m.town_code, m.programme, m.list_name)))


def member_codes(day: date, programme: str, seeds_dir: Path | None = None) -> frozenset[str]:
    """The codes of the towns that are members of `programme` on `day` (a national registry has ~40,000:
    computed once per day and programme, not once per county and form)."""
    return _member_codes(day, programme, _folder(seeds_dir))


@functools.lru_cache(maxsize=256)
def _member_codes(day: date, programme: str, seeds_dir: Path) -> frozenset[str]:
    return frozenset(m.town_code for m in _memberships_on(day, seeds_dir) if m.programme == programme)


def clear_cache() -> None:
    """Forget the loaded seeds (after the seed files changed on disk)."""
    _memberships_on.cache_clear()
    _member_codes.cache_clear()
    _database.cache_clear()
    members_on_sql.cache_clear()
    _effective_periods.cache_clear()


def effective_periods(seeds_dir: Path | None = None) -> tuple[Membership, ...]:
    """Every registry membership with the end the recorded decisions give it (valid_to: its last day in force).

    The macro stays the authority: a period's end is looked for on the days a decision of that town takes
    effect (the only days a decision can end anything) — it ends the day before the first such day on which
    the macro no longer has it in force; otherwise it keeps the registry's end. For SQL that needs periods
    rather than days (the GX registry fragments)."""
    return _effective_periods(_folder(seeds_dir))


@functools.cache
def _effective_periods(seeds_dir: Path) -> tuple[Membership, ...]:
    db = _database(seeds_dir)
    with _lock:
        effective = sorted({str(d) for (d,) in db.execute("select effective_from from decisions") if d})
    starts: dict[tuple, Membership] = {}
    for m in memberships_on_every_start(seeds_dir):
        starts.setdefault((m.town_code, m.programme, m.list_name, m.valid_from), m)
    # the periods in force on each decision day, as a set (a scaled registry has tens of thousands)
    in_force = {d: {(x.town_code, x.programme, x.list_name, x.valid_from) for x in memberships_on(date.fromisoformat(d),
                                                                                                 seeds_dir)}
                for d in effective}
    out = []
    for key, m in sorted(starts.items()):
        end = m.valid_to
        for day in (date.fromisoformat(d) for d in effective):
            if day <= m.valid_from or (end is not None and day > end):
                continue
            if key not in in_force[day.isoformat()]:
                end = day - timedelta(days=1)
                break
        out.append(Membership(m.town_code, m.programme, m.tier, m.list_name, m.valid_from, end,
                              m.plan_investment_3y, m.event))
    return tuple(out)


def memberships_on_every_start(seeds_dir: Path | None = None) -> list[Membership]:
    """The memberships in force on the first day of each registry period (every period, once at least)."""
    seeds_dir = _folder(seeds_dir)
    db = _database(seeds_dir)
    with _lock:
        firsts = sorted({str(d) for (d,) in db.execute("select valid_from from memberships") if d})
    return [m for d in firsts for m in memberships_on(date.fromisoformat(d), seeds_dir)
            if m.valid_from == date.fromisoformat(d)]
