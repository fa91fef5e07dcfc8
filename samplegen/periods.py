"""Reporting periods (calendar quarters) of the sample, their labels and deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, timezone

from core.periods import Period as CorePeriod

# China has had no daylight saving time since 1991: a fixed offset is exact.
CST = timezone(timedelta(hours=8), "Asia/Shanghai")

YEARS = (2015, 2016, 2017, 2018)
QUARTER_END_MONTH = {1: 3, 2: 6, 3: 9, 4: 12}
QUARTER_END_DAY = {1: 31, 2: 30, 3: 30, 4: 31}
QUARTER_CN = {1: "一", 2: "二", 3: "三", 4: "四"}


@dataclass(frozen=True, order=True)
class Period:
    """A calendar quarter; flow values of a period are year-to-date."""

    year: int
    quarter: int

    @property
    def code(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def end(self) -> date:
        return date(self.year, QUARTER_END_MONTH[self.quarter], QUARTER_END_DAY[self.quarter])

    @property
    def deadline(self) -> date:
        """Last day a report is on time: the contract's deadline (core.periods, seed reporting_deadlines)."""
        return CorePeriod(self.year, self.quarter).deadline

    @property
    def ytd_label(self) -> str:
        """Period as written in the title block, e.g. 2016年1-9月."""
        return f"{self.year}年1-{QUARTER_END_MONTH[self.quarter]}月"

    @property
    def quarter_label(self) -> str:
        """Period as written in a Chinese file name, e.g. 2016年三季度."""
        return f"{self.year}年{QUARTER_CN[self.quarter]}季度"

    def __str__(self) -> str:
        return self.code


PERIODS: tuple[Period, ...] = tuple(Period(y, q) for y in YEARS for q in (1, 2, 3, 4))
