"""The programme registry and indicator catalogue, read from the project's dbt seeds.

Who is a member when is not decided here: the sample uses THE membership definition,
the dbt macro members_on evaluated over the same seeds (core.membership), so the
generator, ingest and the warehouse agree on which towns report in which quarter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from core import registry as core_registry
from core import seeds
from core.config import SEEDS_DIR
from core.config import seeds_dir as configured_seeds_dir
from core.membership import memberships_on
from core.registry import County
from samplegen.periods import Period

MONEY_UNIT = "万元"


@dataclass(frozen=True)
class Town:
    code: str
    county_code: str
    name_zh: str


@dataclass(frozen=True)
class Membership:
    """A row of the registry's memberships seed (whether it is in force on a day: `Registry.members`)."""

    town_code: str
    programme: str
    tier: str
    valid_from: date
    valid_to: date | None
    plan_investment_3y: float | None


@dataclass(frozen=True)
class Indicator:
    code: str
    form: str
    name_zh: str
    unit: str
    kind: str  # flow_ytd | stock | rate_pct
    required: bool
    value_type: str  # decimal | integer
    parent: str | None

    @property
    def is_money(self) -> bool:
        return self.unit == MONEY_UNIT

    @property
    def is_integer(self) -> bool:
        return self.value_type == "integer"

    @property
    def is_rate(self) -> bool:
        return self.kind == "rate_pct"


@dataclass(frozen=True)
class Registry:
    counties: tuple[County, ...]
    towns: dict[str, Town]
    memberships: tuple[Membership, ...]
    indicators: tuple[Indicator, ...]
    seeds_dir: Path = SEEDS_DIR
    tasks: dict[tuple[str, int], float] | None = None  # (town, year) -> assigned annual task (annual_tasks.csv)

    @property
    def forms(self) -> tuple[str, ...]:
        return core_registry.forms(self.seeds_dir)

    @property
    def programme_of_form(self) -> dict[str, str]:
        return core_registry.form_programmes(self.seeds_dir)

    def county(self, code: str) -> County:
        for county in self.counties:
            if county.code == code:
                return county
        raise KeyError(code)

    def form_indicators(self, form: str) -> tuple[Indicator, ...]:
        """Indicators of one form, in catalogue order."""
        return tuple(ind for ind in self.indicators if ind.form == form)

    def programme_towns(self, programme: str) -> list[Town]:
        """Every town that is ever a member of the programme, sorted by code."""
        codes = {m.town_code for m in self.memberships if m.programme == programme}
        return [self.towns[code] for code in sorted(codes)]

    def members(self, county_code: str, programme: str, period: Period) -> list[Town]:
        """Member towns of a programme in a county at the end of the period, sorted by code."""
        codes = {m.town_code for m in memberships_on(period.end, self.seeds_dir)
                 if m.programme == programme and self.towns[m.town_code].county_code == county_code}
        return [self.towns[code] for code in sorted(codes)]

    def tiers(self, town_code: str, day: date) -> set[str]:
        """The tiers of the town's memberships in force on `day` (empty if it is no member)."""
        return {m.tier for m in memberships_on(day, self.seeds_dir) if m.town_code == town_code}

    def annual_task(self, town_code: str, year: int) -> float:
        """Annual investment task of a characteristic town: the assigned task (annual_tasks.csv), else
        the default policy, one third of the 3-year plan.

        The default uses the membership in force at the latest quarter end of the year at
        which the town was a member; for a year before the town joined, its
        first membership.
        """
        if self.tasks and (town_code, year) in self.tasks:
            return self.tasks[(town_code, year)]
        for quarter in (4, 3, 2, 1):
            for m in memberships_on(Period(year, quarter).end, self.seeds_dir):
                if m.town_code == town_code and m.plan_investment_3y:
                    return m.plan_investment_3y / 3
        plans = [m for m in self.memberships if m.town_code == town_code and m.plan_investment_3y]
        if not plans:
            raise KeyError(f"no investment plan for {town_code}")
        return min(plans, key=lambda m: m.valid_from).plan_investment_3y / 3


def _read(path: Path) -> list[dict[str, str]]:
    return seeds.rows(path.name, path.parent)


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text.strip() else None


def load_registry(seeds_dir: Path | None = None) -> Registry:
    """The registry of `seeds_dir` (default `core.config.seeds_dir()`)."""
    seeds_dir = Path(seeds_dir) if seeds_dir is not None else configured_seeds_dir()
    counties = tuple(
        County(row["county_code"], row["name_zh"], row["short_name"])
        for row in _read(seeds_dir / "counties.csv")
    )
    towns = {
        row["town_code"]: Town(row["town_code"], row["county_code"], row["name_zh"])
        for row in _read(seeds_dir / "towns.csv")
    }
    memberships = tuple(
        Membership(
            town_code=row["town_code"],
            programme=row["programme"],
            tier=row["tier"],
            valid_from=date.fromisoformat(row["valid_from"]),
            valid_to=_date(row["valid_to"]),
            plan_investment_3y=float(row["plan_investment_3y"]) if row["plan_investment_3y"] else None,
        )
        for row in _read(seeds_dir / "memberships.csv")
    )
    indicators = tuple(
        Indicator(
            code=row["code"],
            form=row["form"],
            name_zh=row["name_zh"],
            unit=row["unit"],
            kind=row["kind"],
            required=row["required"].strip().upper() == "Y",
            value_type=row["value_type"],
            parent=row["parent"] or None,
        )
        for row in _read(seeds_dir / "indicators.csv")
    )
    tasks = {(row["town_code"], int(row["year"])): float(row["annual_task"])
             for row in _read(seeds_dir / "annual_tasks.csv")}
    return Registry(counties, towns, memberships, indicators, Path(seeds_dir), tasks)
