"""What a run of expectations found: per expectation, per suite, per run (plain data, no GX).

RunOutcome.results keeps the GX validation results of the run (not serialised by to_dict): the
submission audit builds its findings from them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


class AuditError(RuntimeError):
    """A check could not be evaluated (an expectation raised): an internal problem, not a data finding."""


@dataclass
class ExpectationOutcome:
    check: str  # the expectation's name in its suite (meta.check)
    type: str
    column: str | None
    severity: str
    success: bool
    unexpected_count: int | None
    observed_value: object = None
    description: str | None = None
    finding_code: str | None = None
    exception: str | None = None
    skipped: str | None = None
    sample: list = field(default_factory=list)  # a few unexpected values/rows

    @property
    def failed(self) -> bool:
        return not self.success and self.skipped is None


@dataclass
class SuiteOutcome:
    name: str
    table: str
    success: bool  # no critical expectation failed
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    rows: int | None = None
    skipped: str | None = None
    docs_url: str | None = None


@dataclass
class RunOutcome:
    stage: str
    success: bool
    suites: list[SuiteOutcome]
    run_id: str | None = None
    docs_url: str | None = None
    seconds: float = 0.0
    rows_validated: int = 0
    submission_id: int | None = None
    notes: list[str] = field(default_factory=list)
    batch_id: int | None = None  # the audit batch (quality.audit_batches) the run read
    batch_submissions: int | None = None  # how many submissions that batch held
    results: list = field(default_factory=list, repr=False, compare=False)  # GX validation results (not serialised)

    def to_dict(self) -> dict:
        doc = asdict(replace(self, results=[]))
        del doc["results"]
        return doc

    def failures(self, severity: str = "critical") -> list[str]:
        return [f"{s.name}.{e.check}: {e.type}({e.column or ''}) unexpected={e.unexpected_count}"
                + (f" [{e.description}]" if e.description else "") + (f" exception: {e.exception}" if e.exception else "")
                for s in self.suites for e in s.expectations if e.failed and e.severity == severity]

    def failed_expectations(self) -> list[tuple[str, ExpectationOutcome]]:
        return [(s.name, e) for s in self.suites for e in s.expectations if e.failed]


def suite_success(outcomes: list[ExpectationOutcome]) -> bool:
    return not any(o.failed and o.severity == "critical" for o in outcomes)
