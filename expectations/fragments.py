"""SQL fragments that the query-based expectations of the suites share.

A suite's `unexpected_rows_query` may name a fragment as `@@name@@`; the runner
replaces it before GX sees the query. Two kinds:

- registry and catalogue tables (`@@towns@@`, `@@memberships@@`, `@@effective_memberships@@`: the periods
  after the recorded decisions, ...) as subqueries of a *registry snapshot*:
  the rows that the dbt seed CSVs (the single source of truth that ingest
  validates against too) give, copied into `quality.registry_*` under a
  version that is a hash of the seed files (`ensure_registry`, called before
  a checkpoint runs; a version already there is not copied again). They work
  before `dbt build` has ever run (the submission audit of the very first
  report) and never lag behind the CSVs the way the `seeds` schema can. (They
  were inlined `(values ...)` lists until a nation-scale registry of 40,000
  towns made every query text megabytes long: 28 s to prepare the submission
  audit, 14 s per audit run, memory growing with every run.) A version is
  never deleted: a long-lived process may still be prepared on it;
- the partitions a suite of an incremental mart audits (`@@audit_partitions@@`,
  a relation of county_code, year, quarter; suites with `meta.audit_by_partition`):
  in the marts gate the partitions no passed gate has audited yet, else every one;
- what is current: `@@current_values@@` (the values of the current accepted
  submission of every (county, period, form), the rule of ingest/current.py and
  of the dbt model int_submissions_current; in the marts gate the current
  submissions the last build read, from that model's table) and `@@context@@` (the batch's rows
  together with the current values of the neighbouring periods that the batch
  does not supersede: what becomes current if the batch is accepted). Every
  batch has a column `audit_sid`, and so has the context: the submission whose
  history a row is. Queries join the context on it, so that in a batch of
  several pending submissions each is judged against the accepted history only,
  never against another pending one (exactly as one by one). In the whole-data
  mode (full raw gate) the batch *is* the current values and `@@context@@` is
  just those (audit_sid 0 everywhere).

Suite parameters read from the seeds: a kwarg written `{"$policy": "<parameter>"}` is the value of that
policy parameter (seed policy_parameters; it must be the same in every year the seed covers, else the
check is a query joining `@@policy@@` on the row's year), and `{"$seeds": "<list>"}` is a list of
`SEED_LISTS` (programmes, tiers, indicators, forms, grades, ...): see `resolve_params`. A suite therefore
holds no policy number and repeats no registry list.

Literals come from the project's own config files, never from county files;
they are still escaped (quotes doubled, braces doubled for GX's str.format,
colons escaped for SQLAlchemy's text()).
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from core import registry, seeds
from core.membership import effective_periods
from expectations.state import COLUMNS

FRAGMENT = re.compile(r"@@([a-z_]+)@@")

_VALUE_COLUMNS = ", ".join(COLUMNS)


def _read(name: str, seeds_dir: Path) -> list[dict[str, str]]:
    return seeds.rows(name, seeds_dir)


def literal(value: object) -> str:
    """A SQL literal for a trusted config value."""
    if value is None or value == "":
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, date):
        return f"date '{value.isoformat()}'"
    text = str(value).replace("'", "''").replace("{", "{{").replace("}", "}}").replace(":", "\\:")
    return f"'{text}'"


# name -> (columns, types) of the registry snapshot tables quality.registry_<name>
REGISTRY = {
    "indicators": (("form", "indicator", "name_zh", "kind", "required", "value_type", "parent", "plausible_min",
                    "plausible_max"),
                   ("text", "text", "text", "text", "boolean", "text", "text", "numeric", "numeric")),
    "towns": (("town_code", "county_code", "name_zh", "programme"), ("text", "text", "text", "text")),
    "memberships": (("town_code", "programme", "tier", "valid_from", "valid_to"),
                    ("text", "text", "text", "date", "date")),
    "effective_memberships": (("town_code", "programme", "tier", "valid_from", "valid_to"),
                              ("text", "text", "text", "date", "date")),
    "counties": (("county_code", "name_zh"), ("text", "text")),
    # form -> programme of its towns (core.registry.FORM_PROGRAMME)
    "form_programmes": (("form", "programme"), ("text", "text")),
    # value indicator -> the growth rate reported for it (seed indicator_reported_growth)
    "reported_growth": (("form", "indicator", "growth_indicator"), ("text", "text", "text")),
    # the policy parameters by year (seed policy_parameters): join on the row's year
    "policy": (("parameter", "value", "valid_from_year", "valid_to_year"), ("text", "numeric", "integer", "integer")),
}
# part of every version: bump it when the snapshot's rows are derived differently from the same seeds
REGISTRY_FORMAT = "3"

REGISTRY_DDL = "\n".join(
    f"create table if not exists quality.registry_{name} (registry_version text not null, "
    + ", ".join(f"{c} {t}" for c, t in zip(cols, types, strict=True)) + ");\n"
    # the columns a newer release added, on a warehouse an older one created
    + "".join(f"alter table quality.registry_{name} add column if not exists {c} {t};\n"
              for c, t in zip(cols, types, strict=True))
    + f"create index if not exists registry_{name}_version on quality.registry_{name} (registry_version);"
    for name, (cols, types) in REGISTRY.items()) + """
create table if not exists quality.registry_versions (
    registry_version text primary key,
    seeds_dir        text not null,
    loaded_at        timestamptz not null default now()
);"""


def registry_version(seeds_dir: Path | None = None) -> str:
    """The version of the registry snapshot of `seeds_dir` (default `core.config.seeds_dir()`): a hash of every
    seed file's name and bytes (any seed edit, e.g. a recorded decision, is a new version)."""
    folder = registry.folder(seeds_dir)
    stamp = tuple((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in sorted(folder.glob("*.csv")))
    return _version(folder, stamp)


@functools.lru_cache(maxsize=64)
def _version(folder: Path, stamp: tuple) -> str:
    h = hashlib.sha256(REGISTRY_FORMAT.encode())
    for name, *_ in stamp:
        h.update(name.encode() + b"\0" + hashlib.sha256((folder / name).read_bytes()).digest())
    return h.hexdigest()[:32]


def registry_rows(seeds_dir: Path) -> dict[str, list[tuple]]:
    """The rows of each registry table (REGISTRY) as the seeds in `seeds_dir` give them."""
    return {
        "indicators": [(i.form, i.code, i.name_zh, i.kind, i.required, i.value_type, i.parent, i.plausible_min,
                        i.plausible_max) for i in registry.indicators(seeds_dir)],
        "towns": [(r["town_code"], r["county_code"], r["name_zh"], r["unit_kind"])
                  for r in _read("towns.csv", seeds_dir)],
        "memberships": [(r["town_code"], r["programme"], r["tier"], date.fromisoformat(r["valid_from"]),
                         date.fromisoformat(r["valid_to"]) if r["valid_to"] else None)
                        for r in _read("memberships.csv", seeds_dir)],
        # the periods as the recorded decisions leave them (the one membership definition, core.membership)
        "effective_memberships": [(m.town_code, m.programme, m.tier, m.valid_from, m.valid_to)
                                  for m in effective_periods(seeds_dir)],
        "counties": [(r["county_code"], r["name_zh"]) for r in _read("counties.csv", seeds_dir)],
        "form_programmes": sorted(registry.form_programmes(seeds_dir).items()),
        "reported_growth": [(r["form"], r["indicator"], r["growth_indicator"])
                            for r in _read("indicator_reported_growth.csv", seeds_dir)],
        "policy": [(r["parameter"], Decimal(r["value"]), int(r["valid_from_year"]), int(r["valid_to_year"]))
                   for r in _read("policy_parameters.csv", seeds_dir)],
    }


class SeedParamError(ValueError):
    """A suite names a policy parameter or a seed list that the seeds do not give as one value / list."""


def _tiers(seeds_dir: Path, programme: str | None = None) -> list[str]:
    return list(dict.fromkeys(r["tier"] for r in _read("tiers.csv", seeds_dir)
                              if programme in (None, r["programme"])))


# name -> the list a suite's `{"$seeds": name}` stands for (in seed order; indicator codes sorted)
SEED_LISTS = {
    "programmes": lambda d: list(registry.programme_names(d)),
    "tiers": _tiers,
    "tiers.characteristic": lambda d: _tiers(d, "characteristic"),
    "tiers.pilot": lambda d: _tiers(d, "pilot"),
    "forms": lambda d: list(registry.forms(d)),
    "indicators": lambda d: sorted({i.code for i in registry.indicators(d)}),
    "indicators.rates": lambda d: sorted({i.code for i in registry.indicators(d) if i.kind == "rate_pct"}),
    "indicators.town": lambda d: sorted({i.code for i in registry.indicators(d)
                                         if i.form in registry.form_programmes(d)}),
    "grades": lambda d: list(dict.fromkeys(r["grade"] for r in _read("assessment_grades.csv", d))),
}


def policy_value(parameter: str, seeds_dir: Path | None = None) -> Decimal:
    """The one value of a policy parameter over every year the seed gives it (SeedParamError if none or if it
    changes between years: a rule whose number varies by year is a query joining @@policy@@ on the year)."""
    values = {r["value"] for r in _read("policy_parameters.csv", registry.folder(seeds_dir))
              if r["parameter"] == parameter}
    if len(values) != 1:
        raise SeedParamError(f"policy parameter {parameter!r}: {'no row' if not values else 'differs by year'} "
                             "in policy_parameters.csv; a suite kwarg {\"$policy\": ...} needs exactly one value")
    return Decimal(values.pop())


def resolve_params(obj, seeds_dir: Path | None = None):
    """`obj` (a suite's kwargs, any JSON) with every `{"$policy": p}` replaced by the policy value (int when
    whole) and every `{"$seeds": name}` by the list SEED_LISTS[name] of the seeds."""
    if isinstance(obj, dict):
        if set(obj) == {"$policy"}:
            value = policy_value(obj["$policy"], seeds_dir)
            return int(value) if value == value.to_integral_value() else float(value)
        if set(obj) == {"$seeds"}:
            if obj["$seeds"] not in SEED_LISTS:
                raise SeedParamError(f"unknown seed list {obj['$seeds']!r}; known: {sorted(SEED_LISTS)}")
            return SEED_LISTS[obj["$seeds"]](registry.folder(seeds_dir))
        return {k: resolve_params(v, seeds_dir) for k, v in obj.items()}
    if isinstance(obj, list):
        return [resolve_params(v, seeds_dir) for v in obj]
    return obj


def ensure_registry(conn, seeds_dir: Path | None = None) -> str:
    """The registry snapshot of `seeds_dir` in the warehouse (quality.registry_*), copied once per version
    (COPY in one transaction, then analysed); returns the version. Concurrent callers wait for one another
    (an advisory lock), so a version is either all there or absent."""
    from psycopg import sql

    from expectations import state

    folder = registry.folder(seeds_dir)
    version = registry_version(folder)
    state.ensure(conn)
    known = "select 1 from quality.registry_versions where registry_version = %s"
    with conn.transaction():
        if conn.execute(known, (version,)).fetchone():
            return version
        conn.execute("select pg_advisory_xact_lock(hashtext('twotowns quality registry'))")
        if conn.execute(known, (version,)).fetchone():
            return version
        with conn.cursor() as cur:
            for name, rows in registry_rows(folder).items():
                columns = sql.SQL(", ").join(map(sql.Identifier, ("registry_version", *REGISTRY[name][0])))
                with cur.copy(sql.SQL("copy {} ({}) from stdin").format(
                        sql.Identifier("quality", f"registry_{name}"), columns)) as copy:
                    for row in rows:
                        copy.write_row((version, *row))
            cur.execute("insert into quality.registry_versions (registry_version, seeds_dir) values (%s, %s)",
                        (version, str(folder)))
            for name in REGISTRY:
                cur.execute(sql.SQL("analyze {}").format(sql.Identifier("quality", f"registry_{name}")))
    return version


def registry_fragments(seeds_dir: Path | None = None) -> dict[str, str]:
    """The registry fragments of the seeds in `seeds_dir` (default `core.config.seeds_dir()`): subqueries of
    the snapshot of their version (which `ensure_registry` puts in the warehouse before a checkpoint runs)."""
    folder = registry.folder(seeds_dir)
    return _registry_fragments(folder, registry_version(folder))


@functools.lru_cache(maxsize=16)
def _registry_fragments(seeds_dir: Path, version: str) -> dict[str, str]:
    kinds: dict[str, set[str]] = {}
    for r in _read("indicators.csv", seeds_dir):
        kinds.setdefault(r["kind"], set()).add(r["code"])
    out = {
        # code lists for `indicator in @@flow_indicators@@` (PostgreSQL estimates an IN list from the
        # column statistics; a join to the indicators filtered on kind is estimated at one row)
        "flow_indicators": "(" + ", ".join(literal(c) for c in sorted(kinds.get("flow_ytd", ()))) + ")",
        "rate_indicators": "(" + ", ".join(literal(c) for c in sorted(kinds.get("rate_pct", ()))) + ")",
    }
    for name, (columns, _types) in REGISTRY.items():  # the version is hex digits: a safe literal
        out[name] = f"(select {', '.join(columns)} from quality.registry_{name} where registry_version = '{version}')"
    return out


def current_values_sql() -> str:
    """SELECT of the current accepted values: those of the current submission of their form
    (landing.current_submission_forms, the one definition of "current")."""
    return (
        f"select v.{_VALUE_COLUMNS.replace(', ', ', v.')} "
        "from raw.report_values as v "
        "join landing.current_submission_forms as cs on cs.submission_id = v.submission_id and cs.form = v.form"
    )


def built_values_sql() -> str:
    """SELECT of the current values as the last dbt build read them: the values of the current submission of
    each (county, period, form) in intermediate.int_submissions_current. What the marts of that build must
    agree with, whatever was decided since (and as of the build's as_of_date)."""
    return (
        f"select v.{_VALUE_COLUMNS.replace(', ', ', v.')} "
        "from raw.report_values as v "
        "join intermediate.int_submissions_current as sc on sc.submission_id = v.submission_id and sc.form = v.form"
    )


def whole_batch_sql() -> str:
    """The batch of the full raw gate: every current value, all of one history (audit_sid 0)."""
    return f"select cv.*, cast(0 as bigint) as audit_sid from ({current_values_sql()}) as cv"


def batch_rows_sql() -> str:
    """The rows of the submissions of an audit batch, copied by expectations.state.open_batch (chosen by GX's
    batch parameter `audit_batch_id`): pending reports in ingest, new accepted ones in the incremental raw
    gate. Each row is its own submission's history (audit_sid = submission_id)."""
    return "select * from quality.audit_rows"


def incremental_current_sql() -> str:
    """The batch of the incremental raw gate's submission suites (copied by open_batch): the current values of
    every (county, period) the batch's submissions report, and of the same quarter a year later (whose growth
    they are the base of); all of one history (audit_sid 0)."""
    return "select * from quality.audit_current"


_CURRENT = ("join landing.current_submission_forms as cs on cs.county_code = k.county_code "
            "and cs.year = k.year and cs.quarter = k.quarter "
            "join raw.report_values as v on v.submission_id = cs.submission_id and v.form = cs.form "
            "where true")
_V = ", ".join(f"v.{c}" for c in _VALUE_COLUMNS.split(", "))
_INTO = f"(audit_batch_id, audit_sid, {_VALUE_COLUMNS})"


def fill_rows_sql() -> str:
    """INSERT of an audit batch's rows into quality.audit_rows (parameter %(batch)s)."""
    return (f"insert into quality.audit_rows {_INTO} select ab.batch_id, v.submission_id, {_V} "
            "from quality.audit_batches as ab join raw.report_values as v on v.submission_id = ab.submission_id "
            "where ab.batch_id = %(batch)s")


def fill_current_sql() -> str:
    """INSERT of the incremental raw gate's current values into quality.audit_current (parameter %(batch)s)."""
    return (f"insert into quality.audit_current {_INTO} select %(batch)s, 0, {_V} "
            "from (select distinct s0.county_code, s0.year + d.dy as year, s0.quarter "
            "from quality.audit_batches as ab join landing.submissions as s0 on s0.submission_id = ab.submission_id "
            "cross join (values (0), (1)) as d(dy) where ab.batch_id = %(batch)s) as k " + _CURRENT)


# the periods a rule compares with a value's own: (dyear, dquarter) = the same quarter (uniqueness, a
# superseded form), the previous and the next quarter (YTD), the same quarter a year before (growth)
_NEIGHBOURS = "(values (0, 0), (0, -1), (0, 1), (-1, 0)) as n(dy, dq)"


def fill_history_sql(source: str) -> str:
    """INSERT into quality.audit_history of the history of a batch (in quality.`source`: audit_rows or
    audit_current), parameter %(batch)s: for each (audit_sid, county, period) of the batch, the current
    accepted values of the neighbouring periods that this audit_sid's rows do not supersede (same county,
    period and form)."""
    if source not in ("audit_rows", "audit_current"):
        raise ValueError(source)
    return (
        f"insert into quality.audit_history {_INTO} select %(batch)s, k.audit_sid, {_V} "
        "from (select distinct bk.audit_sid, bk.county_code, bk.year + n.dy as year, bk.quarter + n.dq as quarter "
        f"from quality.{source} as bk cross join {_NEIGHBOURS} where bk.audit_batch_id = %(batch)s) as k "
        + _CURRENT +
        f" and not exists (select 1 from quality.{source} as bs where bs.audit_batch_id = %(batch)s "
        "and bs.audit_sid = k.audit_sid and bs.county_code = v.county_code and bs.year = v.year "
        "and bs.quarter = v.quarter and bs.form = v.form)"
    )


def context_sql(whole: bool) -> str:
    """The history each batch row is checked against, keyed by `audit_sid` (see module doc).

    Whole data (full raw gate): every current value. Otherwise: the batch's rows, and the batch's history
    (quality.audit_history, filled by expectations.state.open_batch: the current accepted values of the
    neighbouring periods that each audit_sid's rows do not supersede). In ingest audit_sid is the pending
    submission, so the submissions of one batch never see each other's rows (each is judged against the
    accepted history, as one by one); in the incremental raw gate it is 0 for all. Reading only the
    neighbouring periods keeps an audit's cost independent of the history's length."""
    if whole:
        return f"({whole_batch_sql()})"
    cols = _VALUE_COLUMNS.split(", ")
    cols_b = ", ".join(f"b0.{c}" for c in cols)
    cols_h = ", ".join(f"h0.{c}" for c in cols)
    return (
        f"(select {cols_b}, b0.audit_sid from {{batch}} as b0 "
        f"union all "
        f"select {cols_h}, h0.audit_sid from quality.audit_history as h0 "
        "where h0.audit_batch_id = (select bk.audit_batch_id from {batch} as bk limit 1))"
    )


PARTITIONS = "audit_partitions"


def expand(query: str, *, whole: bool = False, partitions: str | None = None, built: bool = False) -> str:
    """Replace every @@fragment@@ of a query; unknown names raise KeyError. `partitions`: the relation
    (county_code, year, quarter) of the partitions a suite audits, for `@@audit_partitions@@` (suites with
    meta.audit_by_partition, see runner.audited_partitions). `built` (the marts gate): `@@current_values@@`
    are those the last dbt build read (built_values_sql), not those of landing now."""
    fragments = {**registry_fragments(), "current_values": f"({built_values_sql() if built else current_values_sql()})",
                 "context": context_sql(whole)}
    if partitions is not None:
        fragments[PARTITIONS] = partitions

    def sub(m: re.Match) -> str:
        if m.group(1) not in fragments:
            raise KeyError(f"unknown fragment @@{m.group(1)}@@")
        return fragments[m.group(1)]

    return FRAGMENT.sub(sub, query)


def names() -> set[str]:
    return {*registry_fragments(), "current_values", "context", PARTITIONS}
