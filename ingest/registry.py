"""The registry and the indicator catalogue, read from the project's dbt seeds.

The seeds are the single source of truth: dbt loads them into the warehouse and
ingest validates against the same files, so the two can never disagree.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from datetime import date

from core.config import SEEDS_DIR

FORMS = ("LZ-0", "LZ-1", "LZ-2")
FORM_PROGRAMME = {"LZ-1": "characteristic", "LZ-2": "pilot"}


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


@dataclass(frozen=True)
class Membership:
    town_code: str
    programme: str
    tier: str
    valid_from: date
    valid_to: date | None


def _read(name: str) -> list[dict[str, str]]:
    with open(SEEDS_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@functools.cache
def indicators() -> tuple[Indicator, ...]:
    out = []
    for r in _read("indicators.csv"):
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
        ))
    return tuple(out)


def form_indicators(form: str) -> tuple[Indicator, ...]:
    return tuple(i for i in indicators() if i.form == form)


@functools.cache
def counties() -> tuple[County, ...]:
    return tuple(County(r["county_code"], r["name_zh"], r["short_name"]) for r in _read("counties.csv"))


@functools.cache
def towns() -> tuple[Town, ...]:
    return tuple(
        Town(r["town_code"], r["county_code"], r["name_zh"],
             tuple(a for a in r["aliases"].split("|") if a), r["unit_kind"])
        for r in _read("towns.csv")
    )


@functools.cache
def memberships() -> tuple[Membership, ...]:
    return tuple(
        Membership(r["town_code"], r["programme"], r["tier"],
                   date.fromisoformat(r["valid_from"]),
                   date.fromisoformat(r["valid_to"]) if r["valid_to"] else None)
        for r in _read("memberships.csv")
    )


def members(county_code: str, programme: str, at: date) -> list[Town]:
    """Towns of the county that are members of the programme on date `at`."""
    codes = {m.town_code for m in memberships()
             if m.programme == programme and m.valid_from <= at and (m.valid_to is None or at <= m.valid_to)}
    return sorted((t for t in towns() if t.county_code == county_code and t.code in codes), key=lambda t: t.code)
