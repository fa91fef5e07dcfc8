"""What a parse answers: a `Report` of `Value`s and findings, and the `Context` every part of the
sheet adds its findings to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from core.periods import Period
from ingest.findings import ERROR, Finding, finding


@dataclass(frozen=True)
class Value:
    form: str
    town_code: str | None  # None on the county row of LZ-0
    indicator: str
    value: Decimal
    sheet: str
    cell: str
    # the county-reported 上年同期 of the same town and indicator (canonical units) and its cell, same sheet
    value_prev_year: Decimal | None = None
    prev_year_cell: str | None = None


@dataclass
class Report:
    file_name: str
    county_code: str | None = None
    period: Period | None = None
    forms: list[str] = field(default_factory=list)
    values: list[Value] = field(default_factory=list)  # loaded only if the report is accepted
    findings: list[Finding] = field(default_factory=list)
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "refused" if any(f.severity == ERROR for f in self.findings) else "accepted"

    def to_dict(self) -> dict:
        """The `check --json` object of the stable interface."""
        accepted = self.status == "accepted"
        return {
            "status": self.status,
            "county_code": self.county_code,
            "period": str(self.period) if self.period else None,
            "findings": [f.to_dict() for f in self.findings],
            "values": [
                {"form": v.form, "town_code": v.town_code, "indicator": v.indicator, "value": float(v.value),
                 "value_prev_year": None if v.value_prev_year is None else float(v.value_prev_year)}
                for v in self.values
            ] if accepted else [],
        }


@dataclass
class Context:
    """One parse: the report being built, the day it runs and the registry seeds (the counties, who must
    report, who may)."""

    report: Report
    today: date
    seeds_dir: Path

    def add(self, code: str, **kw) -> None:
        """A finding of the catalogue (ingest.findings), in the order the parts find them."""
        self.report.findings.append(finding(code, **kw))
