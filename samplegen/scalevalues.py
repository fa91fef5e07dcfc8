"""Latent values of a scaled registry, 2015Q1-2024Q4, as numpy arrays (one row per entity, 40 quarters).

The rules of the city sample's values (samplegen/values.py), drawn for all entities at once:
flow indicators are year-to-date (cumulative seasonal shares, strictly increasing, ending at 1), so
they never decrease within a year; annual growth stays well inside the contract's plausibility band
(-50%..+100%); a sub-item is a share below 1 of its parent (特色产业投资 <= 固定资产投资, ...); the reported
GDP growth is the real growth, within 2 points of the nominal growth of the values; characteristic
towns invest 1.00-1.12 of their annual task (assigned, else plan / 3), towns eliminated for a year
0.80-0.90 of it. Values are integers in tenths (decimals, 1 decimal place) or units (integers).

Who reports when is the membership rule (dbt macro members_on) applied to the registry rows:
`member_mask` (checked against the macro itself in tests/test_samplegen_scale.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from samplegen.scale import SEED, YEARS, ScaledRegistry

QUARTER_ENDS = ((3, 31), (6, 30), (9, 30), (12, 31))
PERIODS = tuple((y, q) for y in YEARS for q in (1, 2, 3, 4))
N_YEARS, N_PERIODS = len(YEARS), len(PERIODS)
FLOW_SHARES = (0.20, 0.46, 0.72, 1.0)
INVESTMENT_SHARES = (0.20, 0.45, 0.70, 1.0)
GDP_SHARES = (0.23, 0.48, 0.74, 1.0)
COMPLETION, SHORTFALL = (1.00, 1.12), (0.80, 0.90)
FAI_RATIO = (0.65, 1.7)  # year-on-year bounds of a town's annual investment (children stay inside -50%..+100%)

# indicator code -> decimals (1: tenths, 0: integer), in the order of the catalogue (indicators.csv)
FORM_INDICATORS = {
    "LZ-0": (("county_gdp", 1), ("county_gdp_growth", 1)),
    "LZ-1": (("fai", 1), ("fai_feature", 1), ("fai_private", 1), ("new_firms", 0), ("tax_revenue", 1),
             ("operating_revenue", 1), ("employees", 0), ("tourist_visits", 1), ("hightech_firms", 0),
             ("talent_new", 0)),
    "LZ-2": (("gdp", 1), ("gdp_growth", 1), ("tertiary_va", 1), ("fiscal_revenue", 1), ("fai", 1),
             ("resident_pop", 0), ("builtup_pop", 0), ("employed", 0), ("employed_sec_ter", 0)),
}


@dataclass
class FormValues:
    """The values of one form: entities (county or town codes), indicators, values[entity, indicator, period]
    as integers (tenths for 1-decimal indicators), member[entity, period]: reported in that period."""

    form: str
    codes: np.ndarray  # str
    county_of: np.ndarray  # index into the registry's counties
    indicators: tuple[tuple[str, int], ...]
    values: np.ndarray  # int64 (entities, indicators, periods)
    member: np.ndarray  # bool (entities, periods)

    def value(self, entity: int, indicator: str, period: int) -> int | float:
        """The canonical value (万元, %, count) as the county writes it."""
        k = [code for code, _ in self.indicators].index(indicator)
        raw = int(self.values[entity, k, period])
        return raw / 10 if self.indicators[k][1] else raw


def period_index(year: int, quarter: int) -> int:
    return (year - YEARS[0]) * 4 + quarter - 1


def _ends() -> list[date]:
    return [date(y, *QUARTER_ENDS[q - 1]) for y, q in PERIODS]


def member_mask(reg: ScaledRegistry, programme: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Towns of the programme (sorted by code), member[town, period] at each quarter end, and the
    plan_investment_3y of the membership in force (0 when none)."""
    ended = reg.ended_on()
    towns = [t.code for t in reg.towns if t.programme == programme]
    index = {code: i for i, code in enumerate(towns)}
    member = np.zeros((len(towns), N_PERIODS), dtype=bool)
    plan = np.zeros((len(towns), N_PERIODS))
    ends = _ends()
    for m in reg.memberships:
        if m.programme != programme:
            continue
        stop = ended.get((m.town_code, m.programme, m.list_name))
        for t, day in enumerate(ends):
            if m.valid_from <= day and (m.valid_to is None or day <= m.valid_to) and not (
                    stop is not None and m.valid_from < stop <= day):
                member[index[m.town_code], t] = True
                plan[index[m.town_code], t] = m.plan_investment_3y or 0
    return towns, member, plan


def _shares(rng: np.random.Generator, n: int, base: tuple[float, ...]) -> np.ndarray:
    noise = np.clip(rng.normal(0, 0.015, (n, 3)), -0.04, 0.04)
    return np.concatenate([np.asarray(base[:3]) + noise, np.ones((n, 1))], axis=1)


def _ytd(annual: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """(n, years) annual and (n, 4) shares -> (n, periods) year-to-date values."""
    return (annual[:, :, None] * shares[:, None, :]).reshape(len(annual), N_PERIODS)


def _annual(rng: np.random.Generator, n: int, low: float, high: float, mu: float = 0.08) -> np.ndarray:
    growth = np.clip(rng.normal(mu, 0.04, (n, N_YEARS - 1)), -0.05, 0.25)
    return rng.uniform(low, high, (n, 1)) * np.cumprod(np.concatenate([np.ones((n, 1)), 1 + growth], axis=1), axis=1)


def _tenths(x: np.ndarray) -> np.ndarray:
    return np.rint(x * 10).astype(np.int64)


def _counts(annual: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Integer YTD counts: non-decreasing within each year, Q4 = the annual count."""
    ytd = np.rint(_ytd(annual, shares)).reshape(len(annual), N_YEARS, 4)
    return np.maximum.accumulate(ytd, axis=2).reshape(len(annual), N_PERIODS).astype(np.int64)


def _drift_share(rng: np.random.Generator, n: int, start: tuple[float, float], step: tuple[float, float],
                 bounds: tuple[float, float]) -> np.ndarray:
    """A share per year: a start and a yearly drift, kept inside bounds -> (n, periods), constant within a year."""
    steps = np.concatenate([rng.uniform(*start, (n, 1)), rng.uniform(*step, (n, N_YEARS - 1))], axis=1)
    return np.repeat(np.clip(np.cumsum(steps, axis=1), *bounds), 4, axis=1)


def _stock(rng: np.random.Generator, n: int, low: float, high: float, drift: float, noise: float) -> np.ndarray:
    steps = 1 + rng.normal(drift, noise, (n, N_PERIODS))
    return rng.uniform(low, high, (n, 1)) * np.cumprod(steps, axis=1)


def _gdp(rng: np.random.Generator, n: int, level: tuple[float, float], real: tuple[float, float],
         deflator: tuple[float, float], noise: float, rate_bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Raw YTD GDP and the reported growth in tenths of a percent (real growth, within 2 points of nominal)."""
    real_growth = rng.uniform(*real, (n, N_YEARS))
    nominal = real_growth + rng.uniform(*deflator, (n, 1)) + rng.normal(0, 0.3, (n, N_YEARS))
    factors = np.concatenate([np.ones((n, 1)), 1 + nominal[:, 1:] / 100], axis=1)
    annual = rng.uniform(*level, (n, 1)) * np.cumprod(factors, axis=1)
    raw = _ytd(annual, _shares(rng, n, GDP_SHARES))
    rate = np.clip(np.repeat(real_growth, 4, axis=1) + rng.normal(0, noise, (n, N_PERIODS)), *rate_bounds)
    return raw, _tenths(rate)


def _county_form(reg: ScaledRegistry, rng: np.random.Generator) -> FormValues:
    n = len(reg.counties)
    raw, rate = _gdp(rng, n, (3_000_000, 7_000_000), (6.3, 8.7), (0.3, 1.2), 0.2, (6.0, 9.0))
    values = np.stack([_tenths(raw), rate], axis=1)
    return FormValues("LZ-0", np.array([c.code for c in reg.counties]), np.arange(n), FORM_INDICATORS["LZ-0"],
                      values, np.ones((n, N_PERIODS), dtype=bool))


def annual_tasks(reg: ScaledRegistry, towns: list[str], member: np.ndarray, plan: np.ndarray) -> np.ndarray:
    """(towns, years): the assigned task, else plan / 3 of the membership in force at the latest quarter end
    of the year at which the town was a member (samplegen.registry.Registry.annual_task); 0 before it joined."""
    by_year_plan = plan.reshape(len(towns), N_YEARS, 4)
    by_year_member = member.reshape(len(towns), N_YEARS, 4)
    last = np.where(by_year_member.any(axis=2), 3 - np.argmax(by_year_member[:, :, ::-1], axis=2), 0)
    default = np.take_along_axis(by_year_plan, last[:, :, None], axis=2)[:, :, 0] / 3
    tasks = default.copy()
    index = {code: i for i, code in enumerate(towns)}
    for (town, year), task in reg.tasks.items():
        tasks[index[town], year - YEARS[0]] = task
    return tasks


def _investment(reg: ScaledRegistry, rng: np.random.Generator, towns: list[str], member: np.ndarray,
                plan: np.ndarray) -> np.ndarray:
    """Annual FAI: task x completion (shortfall in the year a town is eliminated for), year-on-year bounded."""
    n = len(towns)
    tasks = annual_tasks(reg, towns, member, plan)
    first = np.argmax(tasks > 0, axis=1)
    tasks = np.where(tasks > 0, tasks, np.take_along_axis(tasks, first[:, None], axis=1))  # before joining
    completion = rng.uniform(*COMPLETION, (n, N_YEARS))
    index = {code: i for i, code in enumerate(towns)}
    for d in reg.decisions:
        if d.action == "eliminate" and d.town_code in index:
            completion[index[d.town_code], d.assessment_year - YEARS[0]] = rng.uniform(*SHORTFALL)
    annual = tasks * completion
    for y in range(1, N_YEARS):
        annual[:, y] = np.clip(annual[:, y], annual[:, y - 1] * FAI_RATIO[0], annual[:, y - 1] * FAI_RATIO[1])
    return annual


def _characteristic_form(reg: ScaledRegistry, rng: np.random.Generator) -> FormValues:
    towns, member, plan = member_mask(reg, "characteristic")
    n = len(towns)
    fai = _ytd(_investment(reg, rng, towns, member, plan), _shares(rng, n, INVESTMENT_SHARES))
    feature = _drift_share(rng, n, (0.55, 0.85), (-0.04, 0.05), (0.55, 0.85))
    private = _drift_share(rng, n, (0.3, 0.7), (-0.05, 0.05), (0.3, 0.7))
    hightech = rng.integers(2, 27, (n, 1)) + np.cumsum(rng.random((n, N_PERIODS)) < 0.3, axis=1)
    columns = [
        _tenths(fai), _tenths(fai * feature), _tenths(fai * private),
        _counts(_annual(rng, n, 20, 200), _shares(rng, n, FLOW_SHARES)),
        _tenths(_ytd(_annual(rng, n, 5_000, 50_000), _shares(rng, n, FLOW_SHARES))),
        _tenths(_ytd(_annual(rng, n, 100_000, 1_000_000), _shares(rng, n, FLOW_SHARES))),
        np.rint(_stock(rng, n, 1_000, 18_000, 0.012, 0.015)).astype(np.int64),
        _tenths(_ytd(_annual(rng, n, 10, 300), _shares(rng, n, FLOW_SHARES))),
        hightech.astype(np.int64),
        _counts(_annual(rng, n, 20, 120), _shares(rng, n, FLOW_SHARES)),
    ]
    return FormValues("LZ-1", np.array(towns), _county_index(reg, towns), FORM_INDICATORS["LZ-1"],
                      np.stack(columns, axis=1), member)


def _pilot_form(reg: ScaledRegistry, rng: np.random.Generator) -> FormValues:
    towns, member, _plan = member_mask(reg, "pilot")
    n = len(towns)
    gdp, rate = _gdp(rng, n, (500_000, 2_000_000), (5.5, 13.5), (0.5, 1.5), 0.3, (5.0, 14.0))
    tertiary = _drift_share(rng, n, (0.30, 0.50), (-0.01, 0.025), (0.25, 0.65))
    resident = np.rint(_stock(rng, n, 50_000, 146_000, 0.003, 0.002))
    builtup = np.clip(resident * _drift_share(rng, n, (0.40, 0.68), (-0.006, 0.02), (0.38, 0.72)), 0, resident)
    employed = np.rint(resident * np.clip(rng.normal(0.55, 0.01, (n, N_PERIODS)), 0.52, 0.58))
    sec_ter = employed * _drift_share(rng, n, (0.85, 0.95), (-0.01, 0.02), (0.85, 0.97))
    columns = [
        _tenths(gdp), rate, _tenths(gdp * tertiary),
        _tenths(_ytd(_annual(rng, n, 50_000, 300_000), _shares(rng, n, FLOW_SHARES))),
        _tenths(_ytd(_annual(rng, n, 200_000, 800_000), _shares(rng, n, FLOW_SHARES))),
        resident.astype(np.int64), np.rint(builtup).astype(np.int64), employed.astype(np.int64),
        np.rint(sec_ter).astype(np.int64),
    ]
    return FormValues("LZ-2", np.array(towns), _county_index(reg, towns), FORM_INDICATORS["LZ-2"],
                      np.stack(columns, axis=1), member)


def _county_index(reg: ScaledRegistry, towns: list[str]) -> np.ndarray:
    index = {c.code: i for i, c in enumerate(reg.counties)}
    by_town = {t.code: t.county_code for t in reg.towns}
    return np.array([index[by_town[code]] for code in towns], dtype=np.int64)


def build_values(reg: ScaledRegistry) -> dict[str, FormValues]:
    """The values of every form (deterministic: one seeded stream, drawn in a fixed order)."""
    rng = np.random.default_rng([SEED, 7, len(reg.counties), len(reg.towns)])
    return {"LZ-0": _county_form(reg, rng), "LZ-1": _characteristic_form(reg, rng), "LZ-2": _pilot_form(reg, rng)}
