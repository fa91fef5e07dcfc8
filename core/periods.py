"""Reporting periods: parsing every spelling the contract allows, quarter ends, deadlines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from core.text import normalize

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_QUARTER_END_MONTH = {3: 1, 6: 2, 9: 3, 12: 4}


@dataclass(frozen=True, order=True)
class Period:
    year: int
    quarter: int

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def end(self) -> date:
        month = self.quarter * 3
        first_next = date(self.year + (month == 12), month % 12 + 1, 1)
        return first_next - timedelta(days=1)

    @property
    def deadline(self) -> date:
        """The last day a report is on time: the quarter end plus the days of seed reporting_deadlines
        (20; Q4: 31, i.e. 31 January)."""
        from core import registry

        return self.end + timedelta(days=registry.deadline_days(self.quarter))

    def previous(self) -> Period:
        return Period(self.year, self.quarter - 1) if self.quarter > 1 else Period(self.year - 1, 4)


def day_after_deadline_crons(hour: int) -> list[str]:
    """Cron expressions (minute 0 of `hour`) for the day after each quarter's deadline, from the seed:
    ["0 9 21 4,7,10 *", "0 9 1 2 *"] for the contract's 20 days (Q4: 31 January). What the deadline
    reminders and the bulletin are scheduled on."""
    by_day: dict[int, list[int]] = {}
    for quarter in (1, 2, 3, 4):
        day = Period(2021, quarter).deadline + timedelta(days=1)  # 2021: no 29 February to shift a day
        by_day.setdefault(day.day, []).append(day.month)
    return [f"0 {hour} {day} {','.join(map(str, sorted(months)))} *" for day, months in sorted(by_day.items(),
                                                                                                 reverse=True)]


class PeriodError(ValueError):
    """A period was found but is not a valid quarter (e.g. 2016年1-5月)."""


_PATTERNS = [
    # 2016年1-9月, 2016年1—9月, 2016年1～9月, 2016年1至9月
    (re.compile(r"(20\d\d)年\s*1\s*[-—～~至到]\s*(\d{1,2})\s*月"), "ytd"),
    # 2016年第三季度, 2016年三季度, 2016年3季度
    (re.compile(r"(20\d\d)年\s*第?([一二三四1-4])季度"), "quarter"),
    # 2016年9月
    (re.compile(r"(20\d\d)年\s*(\d{1,2})\s*月"), "month"),
    # 2016Q3, 2016-Q3, 2016 Q3, 2016q3
    (re.compile(r"(20\d\d)\s*[-_ ]?\s*[Qq]\s*([1-4])"), "quarter"),
]


def find_period(text: str) -> Period | None:
    """The period named in `text`, None if none; PeriodError if named but not a quarter end."""
    s = normalize(text)
    for pattern, kind in _PATTERNS:
        m = pattern.search(s)
        if not m:
            continue
        year = int(m.group(1))
        if kind == "quarter":
            return Period(year, _CN_DIGITS[m.group(2)])
        month = int(m.group(2))
        if month not in _QUARTER_END_MONTH:
            raise PeriodError(f"{m.group(0)} is not a quarter end")
        return Period(year, _QUARTER_END_MONTH[month])
    return None
