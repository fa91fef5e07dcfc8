"""The content of one county report: its forms, rows and canonical values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from samplegen.periods import Period
from samplegen.registry import County, Indicator, Registry
from samplegen.values import Number, Values

TruthKey = tuple[str, str | None, str]  # (form, town code or None for LZ-0, indicator)


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    town_code: str | None  # None for the county row of LZ-0
    values: dict[str, Number | None]  # indicator code -> value; None = written as "-"
    # indicator code -> its value for the same period last year (上年同期), for the form's prior columns
    prev_year: dict[str, Number | None] = field(default_factory=dict)


@dataclass(frozen=True)
class FormTable:
    form: str
    indicators: tuple[Indicator, ...]
    rows: tuple[Row, ...]
    prior_indicators: tuple[str, ...] = ()  # codes of the indicators with a 上年同期 column

    @property
    def has_total(self) -> bool:
        return self.form != "LZ-0"


@dataclass(frozen=True)
class Report:
    county: County
    period: Period
    tables: tuple[FormTable, ...]

    def table(self, form: str) -> FormTable:
        for table in self.tables:
            if table.form == form:
                return table
        raise KeyError(form)


@dataclass(frozen=True)
class Defect:
    """A deliberate error in a refused file."""

    form: str
    town_code: str
    indicator: str
    kind: str  # "exceeds_parent" | "not_reported"


@dataclass(frozen=True)
class Revision:
    """A 上年同期 that revises last year's report: last year's value times `factor`."""

    form: str
    town_code: str
    indicator: str
    factor: float


def build_report(registry: Registry, values: Values, county_code: str, period: Period,
                 whole_wan: bool = False, prior: Mapping[str, tuple[str, ...]] | None = None,
                 revisions: tuple[Revision, ...] = (), extra_towns: tuple[str, ...] = ()) -> Report:
    """The clean report of a county for a period.

    whole_wan rounds money values to whole 万元: a county that reports in 亿元
    with 4 decimals can state nothing finer, so its canonical values are whole.
    prior: form -> indicator codes the county reports with their 上年同期 (last
    year's value of the same quarter, as revised by `revisions`).
    extra_towns: towns listed although they are no members in the period (a county's mistake).
    """
    county = registry.county(county_code)
    tables: list[FormTable] = []
    for form in registry.forms:
        indicators = registry.form_indicators(form)
        if form == "LZ-0":
            entities = [(county.code, county.name_zh, None)]
        else:
            towns = registry.members(county.code, registry.programme_of_form[form], period)
            towns += [registry.towns[code] for code in extra_towns
                      if code not in {t.code for t in towns}
                      and code in {t.code for t in registry.programme_towns(registry.programme_of_form[form])}]
            towns.sort(key=lambda t: t.code)
            if not towns:
                continue
            entities = [(town.code, town.name_zh, town.code) for town in towns]
        prior_codes = tuple((prior or {}).get(form, ()))
        rows = []
        for code, name, town_code in entities:
            row_values = {ind.code: _value(values, form, code, ind, period, whole_wan) for ind in indicators}
            prev_year = {ind.code: _prev_year(values, form, code, ind, period, whole_wan, revisions)
                         for ind in indicators if ind.code in prior_codes}
            rows.append(Row(code, name, town_code, row_values, prev_year))
        tables.append(FormTable(form, indicators, tuple(rows), prior_codes))
    return Report(county, period, tuple(tables))


def _value(values: Values, form: str, entity: str, ind: Indicator, period: Period, whole_wan: bool) -> Number:
    value = values.get(form, entity, ind.code, period)
    return float(round(value)) if whole_wan and ind.is_money else value


def _prev_year(values: Values, form: str, entity: str, ind: Indicator, period: Period, whole_wan: bool,
               revisions: tuple[Revision, ...]) -> Number:
    """Last year's value of the same quarter, revised where a revision says so."""
    value = values.get(form, entity, ind.code, Period(period.year - 1, period.quarter))
    for r in revisions:
        if (r.form, r.town_code, r.indicator) == (form, entity, ind.code):
            value = round(value * r.factor, 0 if ind.is_integer else 1)
    return float(round(value)) if whole_wan and ind.is_money else value


def apply_defects(report: Report, defects: tuple[Defect, ...]) -> Report:
    """A copy of the report with the given errors typed in."""
    tables = []
    for table in report.tables:
        rows = []
        for row in table.rows:
            new_values = dict(row.values)
            for defect in defects:
                if defect.form != table.form or defect.town_code != row.town_code:
                    continue
                if defect.kind == "not_reported":
                    new_values[defect.indicator] = None
                elif defect.kind == "exceeds_parent":
                    parent = next(str(i.parent) for i in table.indicators if i.code == defect.indicator)
                    parent_value = row.values[parent]
                    if parent_value is None:
                        raise ValueError(f"{defect}: parent not reported")
                    new_values[defect.indicator] = round(parent_value * 1.08, 1)
                else:
                    raise ValueError(defect.kind)
            rows.append(replace(row, values=new_values))
        tables.append(replace(table, rows=tuple(rows)))
    return replace(report, tables=tuple(tables))


def truth_of(report: Report) -> dict[TruthKey, Number | None]:
    """{(form, town code or None, indicator): canonical value} of a report."""
    out: dict[TruthKey, Number | None] = {}
    for table in report.tables:
        for row in table.rows:
            for code, value in row.values.items():
                out[(table.form, row.town_code, code)] = value
    return out


def prior_truth_of(report: Report) -> dict[TruthKey, Number | None]:
    """{(form, town code or None, indicator): 上年同期 as reported} for the indicators that carry one."""
    out: dict[TruthKey, Number | None] = {}
    for table in report.tables:
        for row in table.rows:
            for code, value in row.prev_year.items():
                out[(table.form, row.town_code, code)] = value
    return out
