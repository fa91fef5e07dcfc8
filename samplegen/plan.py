"""Which files the counties send, when they arrive, and what is wrong with them."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from samplegen.periods import CST, PERIODS, Period
from samplegen.registry import Registry
from samplegen.report import Defect, Revision
from samplegen.values import stable_rng

ON_TIME_DAYS = (5, 18)  # receipt, days after the quarter end
LATE_DAYS_AFTER_DEADLINE = (2, 6)
CORRECTION_DELAY_DAYS = 2

# County-quarters with something to show (county code, period).
LATE = frozenset({("330481", Period(2015, 2)), ("330483", Period(2015, 4)), ("330411", Period(2016, 1))})
REMARKS_COLUMN = ("330483", Period(2015, 4))
YI_YUAN = ("330482", Period(2016, 2))
REFUSED_THEN_CORRECTED = ("330424", Period(2016, 3))
# A 2017 report that still lists a town the city eliminated for 2016 (C-2016-01, effective 2017-03-01):
# refused (row.town_not_member), then sent again without it.
FORMER_MEMBER_LISTED = ("330421", Period(2017, 1))
FORMER_MEMBER = "CT-330421-02"
CHINESE_FILE_NAMES = frozenset({("330402", Period(2015, 4)), ("330481", Period(2016, 2)), ("330421", Period(2016, 3))})
DEFECTS = (
    Defect("LZ-1", "CT-330424-02", "fai_feature", "exceeds_parent"),
    Defect("LZ-2", "PT-330424105", "fiscal_revenue", "not_reported"),
)

# From 2016 on, three counties (not all) report the same period last year (上年同期) beside some flow
# indicators, each in its own layout: a two-row header (固定资产投资（万元） over 本期 | 上年同期), or a
# column named 固定资产投资上年同期（万元） / 上年同期固定资产投资（万元）. The values are last year's,
# except one revision (+8%) that the pipeline shows as value.prior_mismatch.
PRIOR_FROM_YEAR = 2016
PRIOR_LAYOUTS = {"330482": "group", "330481": "suffix", "330421": "prefix"}
PRIOR_INDICATORS = {"LZ-1": ("fai", "tax_revenue", "operating_revenue"), "LZ-2": ("fiscal_revenue", "fai")}
PRIOR_REVISED = ("330481", Period(2016, 3))
PRIOR_REVISION = Revision("LZ-1", "CT-330481-01", "fai", 1.08)

# Public holidays near the reporting windows (no receipts on these days).
HOLIDAYS = frozenset(
    [date(2015, 4, 6), date(2016, 4, 4), date(2017, 4, 4), date(2018, 4, 5)]
    + [date(year, 10, day) for year in (2015, 2016, 2017, 2018) for day in range(1, 8)]
)
WORK_SLOTS = ((time(8, 30), time(11, 30)), (time(13, 30), time(17, 30)))

REPORTERS = ("沈丽华", "徐建国", "朱晓燕", "顾文杰", "钱佳敏", "陆海英", "张伟", "周静", "王志强", "姚春梅",
             "金晓峰", "吴芳", "屠建明", "褚丽萍")


@dataclass(frozen=True)
class Variant:
    money_unit: str = "万元"
    remarks_column: bool = False
    defects: tuple[Defect, ...] = ()
    prior_layout: str | None = None  # "group" | "suffix" | "prefix": how the 上年同期 columns are written
    extra_towns: tuple[str, ...] = ()  # towns listed although they are no members in the period

    @property
    def whole_wan(self) -> bool:
        return self.money_unit == "亿元"


@dataclass(frozen=True)
class Submission:
    file_name: str
    county_code: str
    period: Period
    received_at: datetime
    reported_on: date  # 报出日期
    reporter: str
    phone: str
    variant: Variant
    expected_status: str
    expected_codes: tuple[str, ...]


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def _working_time(rng: random.Random, day: date) -> datetime:
    start, end = WORK_SLOTS[rng.randrange(len(WORK_SLOTS))]
    span = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    minute = start.hour * 60 + start.minute + rng.randrange(span)
    return datetime(day.year, day.month, day.day, minute // 60, minute % 60, rng.randrange(60), tzinfo=CST)


def _pick_day(rng: random.Random, first: date, last: date, ok: Callable[[date], bool] = is_working_day) -> date:
    """A random day in [first, last] that passes ok."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return rng.choice([day for day in days if ok(day)])


def _report_date(rng: random.Random, received: date, period: Period) -> date:
    """报出日期: a working day one to three days before the file arrives (after the quarter end).

    Falls back to the day of arrival when there is no such day (after a holiday).
    """
    earlier = (received - timedelta(days=n) for n in (1, 2, 3))
    candidates = [day for day in earlier if is_working_day(day) and day > period.end]
    return rng.choice(candidates) if candidates else received


def prior_layout(county_code: str, period: Period) -> str | None:
    """How the county writes its 上年同期 columns in the period (None: it writes none)."""
    return PRIOR_LAYOUTS.get(county_code) if period.year >= PRIOR_FROM_YEAR else None


def prior_revisions(county_code: str, period: Period) -> tuple[Revision, ...]:
    return (PRIOR_REVISION,) if (county_code, period) == PRIOR_REVISED else ()


def _file_name(county_code: str, county_name: str, period: Period) -> str:
    if (county_code, period) in CHINESE_FILE_NAMES:
        return f"{county_name}{period.quarter_label}两镇季报.xlsx"
    return f"{county_code}_{period.code}.xlsx"


def _receipt_day(rng: random.Random, key: tuple[str, Period]) -> date:
    """Day of arrival: 5-18 days after the quarter end, or a few days after the deadline if late."""
    period = key[1]
    if key in LATE:
        low, high = LATE_DAYS_AFTER_DEADLINE
        return _pick_day(rng, period.deadline + timedelta(days=low), period.deadline + timedelta(days=high))
    low, high = ON_TIME_DAYS

    def ok(day: date) -> bool:
        if key not in (REFUSED_THEN_CORRECTED, FORMER_MEMBER_LISTED):
            return is_working_day(day)
        # the correction must also arrive on a working day, before the deadline
        later = day + timedelta(days=CORRECTION_DELAY_DAYS)
        return is_working_day(day) and is_working_day(later) and later <= period.deadline

    return _pick_day(rng, period.end + timedelta(days=low), period.end + timedelta(days=high), ok)


def plan_submissions(registry: Registry) -> list[Submission]:
    """Every file of the sample, sorted by receipt time."""
    submissions: list[Submission] = []
    for county_index, county in enumerate(registry.counties):
        phone = f"0573-8{stable_rng('phone', county.code).randrange(10**7):07d}"
        for period in PERIODS:
            key = (county.code, period)
            rng = stable_rng("receipt", county.code, period.code)
            day = _receipt_day(rng, key)
            clean = Submission(
                file_name=_file_name(county.code, county.name_zh, period),
                county_code=county.code,
                period=period,
                received_at=_working_time(rng, day),
                reported_on=_report_date(rng, day, period),
                reporter=REPORTERS[(2 * county_index + period.year - PERIODS[0].year) % len(REPORTERS)],
                phone=phone,
                variant=Variant(money_unit="亿元" if key == YI_YUAN else "万元",
                                remarks_column=key == REMARKS_COLUMN,
                                prior_layout=prior_layout(county.code, period)),
                expected_status="accepted",
                expected_codes=(),
            )
            if key in (REFUSED_THEN_CORRECTED, FORMER_MEMBER_LISTED):
                corrected_day = day + timedelta(days=CORRECTION_DELAY_DAYS)
                if key == REFUSED_THEN_CORRECTED:
                    refused = replace(clean, variant=replace(clean.variant, defects=DEFECTS),
                                      expected_status="refused", expected_codes=("value.parent", "value.required"))
                else:
                    refused = replace(clean, variant=replace(clean.variant, extra_towns=(FORMER_MEMBER,)),
                                      expected_status="refused", expected_codes=("row.town_not_member", "value.total"))
                submissions.append(refused)
                submissions.append(replace(
                    clean, file_name=f"{county.code}_{period.code}_更正.xlsx",
                    received_at=_working_time(rng, corrected_day),
                    reported_on=corrected_day - timedelta(days=1),
                ))
                continue
            codes = []
            if clean.variant.remarks_column:
                codes.append("header.unknown")
            if key in LATE:
                codes.append("submission.late")
            if key == PRIOR_REVISED:
                codes.append("value.prior_mismatch")
            submissions.append(replace(clean, expected_codes=tuple(sorted(codes))))
    return sorted(submissions, key=lambda s: (s.received_at, s.file_name))
