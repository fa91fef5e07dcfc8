"""The registry and the indicator catalogue, read from the project's dbt seeds.

The seeds are the single source of truth: dbt loads them into the warehouse and
ingest validates against the same files, so the two can never disagree. Every reader
takes the seeds folder; without one it is `core.config.seeds_dir()` (TWOTOWNS_SEEDS_DIR,
else dbt_project/seeds), read when called. The caches are keyed by the folder.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from core import seeds
from core.membership import Membership, member_codes, memberships_on


@dataclass(frozen=True)
class Indicator:
    code: str
    form: str
    name_zh: str
    aliases: tuple[str, ...]
    unit: str
    accepted_units: dict[str, float]
    kind: str  # flow_ytd | stock | rate_pct
    required: bool
    value_type: str  # decimal | integer
    parent: str | None
    plausible_min: Decimal | None = None  # value.range: a value outside [min, max] is a warning to check
    plausible_max: Decimal | None = None


@dataclass(frozen=True)
class ReportForm:
    """A form of the quarterly report (seed report_forms)."""

    code: str
    name_zh: str
    sheet_name: str  # the sheet's name in the template
    title_zh: str
    sheet_keywords: tuple[str, ...]  # besides its code, how the parser recognises its sheet


@dataclass(frozen=True)
class County:
    code: str
    name_zh: str
    short_name: str


@dataclass(frozen=True)
class Town:
    code: str
    county_code: str
    name_zh: str
    aliases: tuple[str, ...]
    programme: str


folder = seeds.folder


def _read(name: str, seeds_dir: Path | None = None) -> list[dict[str, str]]:
    return seeds.rows(name, seeds_dir)


def indicators(seeds_dir: Path | None = None) -> tuple[Indicator, ...]:
    return _indicators(folder(seeds_dir))


@functools.cache
def _indicators(seeds_dir: Path) -> tuple[Indicator, ...]:
    out = []
    for r in _read("indicators.csv", seeds_dir):
        units = {}
        for pair in r["accepted_units"].split("|"):
            unit, factor = pair.rsplit(":", 1)
            units[unit] = float(factor)
        out.append(Indicator(
            code=r["code"], form=r["form"], name_zh=r["name_zh"],
            aliases=tuple(a for a in r["header_aliases"].split("|") if a),
            unit=r["unit"], accepted_units=units, kind=r["kind"],
            required=r["required"] == "Y", value_type=r["value_type"],
            parent=r["parent"] or None,
            plausible_min=Decimal(r["plausible_min"]) if r.get("plausible_min") else None,
            plausible_max=Decimal(r["plausible_max"]) if r.get("plausible_max") else None,
        ))
    return tuple(out)


def report_forms(seeds_dir: Path | None = None) -> tuple[ReportForm, ...]:
    """The forms of the quarterly report in seed order (LZ-0 the county's own, then one per programme)."""
    return _report_forms(folder(seeds_dir))


@functools.cache
def _report_forms(seeds_dir: Path) -> tuple[ReportForm, ...]:
    return tuple(ReportForm(r["form"], r["name_zh"], r["sheet_name"], r["title_zh"],
                            tuple(k for k in r["sheet_keywords"].split("|") if k))
                 for r in _read("report_forms.csv", seeds_dir))


def forms(seeds_dir: Path | None = None) -> tuple[str, ...]:
    """The codes of the report's forms, in seed order."""
    return tuple(f.code for f in report_forms(seeds_dir))


def form_programmes(seeds_dir: Path | None = None) -> dict[str, str]:
    """form -> the programme whose member towns it reports (seed programme_forms; LZ-0 has none)."""
    return _form_programmes(folder(seeds_dir))


@functools.cache
def _form_programmes(seeds_dir: Path) -> dict[str, str]:
    return {r["form"]: r["programme"] for r in _read("programme_forms.csv", seeds_dir)}


def is_county_form(form: str, seeds_dir: Path | None = None) -> bool:
    """A form of the county's own figures (LZ-0: one row, the county), not of a programme's towns."""
    return form not in form_programmes(seeds_dir)


def programme_names(seeds_dir: Path | None = None) -> dict[str, str]:
    """programme -> its Chinese name (seed programmes)."""
    return _programme_names(folder(seeds_dir))


@functools.cache
def _programme_names(seeds_dir: Path) -> dict[str, str]:
    return {r["programme"]: r["name_zh"] for r in _read("programmes.csv", seeds_dir)}


def form_indicators(form: str, seeds_dir: Path | None = None) -> tuple[Indicator, ...]:
    return tuple(i for i in indicators(seeds_dir) if i.form == form)


def counties(seeds_dir: Path | None = None) -> tuple[County, ...]:
    return _counties(folder(seeds_dir))


@functools.cache
def _counties(seeds_dir: Path) -> tuple[County, ...]:
    return tuple(County(r["county_code"], r["name_zh"], r["short_name"]) for r in _read("counties.csv", seeds_dir))


def towns(seeds_dir: Path | None = None) -> tuple[Town, ...]:
    return _towns(folder(seeds_dir))


@functools.cache
def _towns(seeds_dir: Path) -> tuple[Town, ...]:
    return tuple(
        Town(r["town_code"], r["county_code"], r["name_zh"],
             tuple(a for a in r["aliases"].split("|") if a), r["unit_kind"])
        for r in _read("towns.csv", seeds_dir)
    )


def towns_by_code(seeds_dir: Path | None = None) -> dict[str, Town]:
    """Every town of the registry by its code (one dict per seeds folder, built once)."""
    return _towns_by_code(folder(seeds_dir))


@functools.cache
def _towns_by_code(seeds_dir: Path) -> dict[str, Town]:
    return {t.code: t for t in _towns(seeds_dir)}


@functools.cache
def _towns_of_county(seeds_dir: Path) -> dict[str, tuple[Town, ...]]:
    out: dict[str, list[Town]] = {}
    for t in _towns(seeds_dir):
        out.setdefault(t.county_code, []).append(t)
    return {county: tuple(ts) for county, ts in out.items()}


def membership_on(town_code: str, at: date, programme: str | None = None,
                  seeds_dir: Path | None = None) -> Membership | None:
    """The town's membership (tier, list) in force on `at` (of `programme` if given), None if it is no member.

    A town is on one list of a programme at a time; should the registry ever overlap
    two, the one joined last is its membership."""
    found = [m for m in memberships_on(at, folder(seeds_dir))
             if m.town_code == town_code and programme in (None, m.programme)]
    return max(found, key=lambda m: m.valid_from) if found else None


def members(county_code: str, programme: str, at: date, seeds_dir: Path | None = None) -> list[Town]:
    """Towns of the county that are members of the programme on date `at`, sorted by code.

    Membership is the dbt macro members_on (core/membership.py): the registry's lists
    less those a recorded decision has ended; `seeds_dir` holds the seeds it reads."""
    seeds = folder(seeds_dir)
    codes = member_codes(at, programme, seeds)
    return sorted((t for t in _towns_of_county(seeds).get(county_code, ()) if t.code in codes), key=lambda t: t.code)


@functools.cache
def _policy_parameters(seeds_dir: Path) -> tuple[dict[str, str], ...]:
    return tuple(_read("policy_parameters.csv", seeds_dir))


def deadline_days(quarter: int, seeds_dir: Path | None = None) -> int:
    """Days after the quarter end by which the county's report is due (seed reporting_deadlines)."""
    return _deadline_days(folder(seeds_dir))[quarter]


@functools.cache
def _deadline_days(seeds_dir: Path) -> dict[int, int]:
    return {int(r["quarter"]): int(r["days_after_quarter_end"]) for r in _read("reporting_deadlines.csv", seeds_dir)}


def policy_parameter(parameter: str, year: int, seeds_dir: Path | None = None) -> Decimal | None:
    """The value of a policy parameter (seed policy_parameters) for a year, None if no row covers the year."""
    for r in _policy_parameters(folder(seeds_dir)):
        if r["parameter"] == parameter and int(r["valid_from_year"]) <= year <= int(r["valid_to_year"]):
            return Decimal(r["value"])
    return None
