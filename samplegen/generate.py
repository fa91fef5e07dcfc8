"""Write the sample county reports and the list of what the pipeline should make of them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from core.config import seeds_dir as configured_seeds_dir
from samplegen.periods import Period
from samplegen.plan import PRIOR_INDICATORS, YI_YUAN, Submission, plan_submissions, prior_layout, prior_revisions
from samplegen.registry import Registry, load_registry
from samplegen.report import Report, TruthKey, apply_defects, build_report, prior_truth_of, truth_of
from samplegen.values import Number, Values, build_values
from samplegen.workbook import Presentation, render

EXPECTED_FILE = "expected.json"


@dataclass(frozen=True)
class SampleFile:
    """One generated workbook and what the pipeline is expected to do with it."""

    file: str
    path: Path
    county_code: str
    period: str  # e.g. "2016Q3"
    received_at: datetime  # timezone-aware, +08:00; also the file's mtime
    expected_status: str  # "accepted" | "refused"
    expected_codes: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "county_code": self.county_code,
            "period": self.period,
            "received_at": self.received_at.isoformat(),
            "expected_status": self.expected_status,
            "expected_codes": list(self.expected_codes),
        }


@dataclass(frozen=True)
class Sample:
    registry: Registry
    values: Values
    submissions: tuple[Submission, ...]

    def clean_report(self, county_code: str, period: Period, extra_towns: tuple[str, ...] = ()) -> Report:
        whole_wan = (county_code, period) == YI_YUAN
        prior = PRIOR_INDICATORS if prior_layout(county_code, period) else None
        return build_report(self.registry, self.values, county_code, period, whole_wan=whole_wan, prior=prior,
                            revisions=prior_revisions(county_code, period), extra_towns=extra_towns)

    def report_as_sent(self, submission: Submission) -> Report:
        report = self.clean_report(submission.county_code, submission.period, submission.variant.extra_towns)
        if submission.variant.defects:
            report = apply_defects(report, submission.variant.defects)
        return report


def _folder(seeds_dir: Path | None) -> Path:
    return Path(seeds_dir) if seeds_dir is not None else configured_seeds_dir()


def load_sample(seeds_dir: Path | None = None) -> Sample:
    """Registry, latent values and file plan (deterministic, cached per seeds folder;
    default `core.config.seeds_dir()`)."""
    return _load_sample(_folder(seeds_dir))


@lru_cache(maxsize=4)
def _load_sample(seeds_dir: Path) -> Sample:
    registry = load_registry(seeds_dir)
    return Sample(registry, build_values(registry), tuple(plan_submissions(registry)))


def truth(county_code: str, year: int, quarter: int,
          seeds_dir: Path | None = None) -> dict[TruthKey, Number | None]:
    """Canonical values (万元, %, counts) a correct parser reads from the county's clean report.

    Keys are (form, town code or None for LZ-0, indicator code). For the
    refused-then-corrected county-quarter these are the corrected file's values;
    for the county-quarter written in 亿元 the money values are whole 万元
    (exactly what 4 decimals of 亿元 can state).
    """
    sample = load_sample(seeds_dir)
    return truth_of(sample.clean_report(county_code, Period(year, quarter)))


def prior_truth(county_code: str, year: int, quarter: int,
                seeds_dir: Path | None = None) -> dict[TruthKey, Number | None]:
    """The 上年同期 values (canonical units) a correct parser reads beside the current values of the
    county's report, keyed like `truth`; empty when the county writes no 上年同期 columns."""
    sample = load_sample(seeds_dir)
    return prior_truth_of(sample.clean_report(county_code, Period(year, quarter)))


def generate(out_dir: Path, seeds_dir: Path | None = None) -> list[SampleFile]:
    """Write every sample workbook and expected.json into out_dir (flat); sorted by receipt time."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = load_sample(seeds_dir)
    files: list[SampleFile] = []
    for submission in sample.submissions:
        style = Presentation(
            money_unit=submission.variant.money_unit,
            remarks_column=submission.variant.remarks_column,
            prior_layout=submission.variant.prior_layout,
            reporter=submission.reporter,
            phone=submission.phone,
            reported_on=submission.reported_on,
        )
        path = out_dir / submission.file_name
        path.write_bytes(render(sample.report_as_sent(submission), style))
        stamp = submission.received_at.timestamp()
        os.utime(path, (stamp, stamp))
        files.append(SampleFile(
            file=submission.file_name,
            path=path,
            county_code=submission.county_code,
            period=submission.period.code,
            received_at=submission.received_at,
            expected_status=submission.expected_status,
            expected_codes=submission.expected_codes,
        ))
    expected = json.dumps([f.to_json() for f in files], ensure_ascii=False, indent=2) + "\n"
    (out_dir / EXPECTED_FILE).write_text(expected, encoding="utf-8")
    return files
