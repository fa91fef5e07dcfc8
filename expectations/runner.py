"""Run the expectation suites of a stage as a GX checkpoint, in PostgreSQL.

    python -m expectations run [--stage raw|warehouse] [--json]

Each suite in `suites/*.json` names its stage and table in `meta`; every
expectation carries a `severity` in its meta: `critical` failures make the run
fail (and block what comes after it), `warning` and `info` are reported.
GX is imported lazily (it is slow to import) and its analytics are off.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

SUITES_DIR = Path(__file__).parent / "suites"
STAGES = ("raw", "warehouse")
SEVERITIES = ("critical", "warning", "info")


class SuiteError(ValueError):
    """A suite file is malformed (GX would silently drop what it cannot read)."""


@dataclass
class ExpectationOutcome:
    type: str
    column: str | None
    severity: str
    success: bool
    unexpected_count: int | None
    observed_value: object = None


@dataclass
class SuiteOutcome:
    name: str
    table: str
    success: bool  # no critical expectation failed
    expectations: list[ExpectationOutcome] = field(default_factory=list)


@dataclass
class RunOutcome:
    stage: str
    success: bool
    suites: list[SuiteOutcome]
    run_id: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def failures(self, severity: str = "critical") -> list[str]:
        return [f"{s.name}: {e.type}({e.column or ''}) unexpected={e.unexpected_count}"
                for s in self.suites for e in s.expectations if not e.success and e.severity == severity]


def load_suite_specs(stage: str | None = None) -> list[dict]:
    specs = []
    for path in sorted(SUITES_DIR.glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        meta = spec.get("meta") or {}
        if meta.get("stage") not in STAGES or "." not in meta.get("table", ""):
            raise SuiteError(f"{path.name}: meta.stage must be one of {STAGES} and meta.table schema.table")
        for i, exp in enumerate(spec.get("expectations") or []):
            if (exp.get("meta") or {}).get("severity") not in SEVERITIES:
                raise SuiteError(f"{path.name}: expectation {i} ({exp.get('type')}) has no valid meta.severity")
        if stage is None or meta["stage"] == stage:
            specs.append(spec)
    return specs


def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import logging

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def build_suite(gx, spec: dict):
    """A GX suite from its JSON, asserting that GX kept every expectation."""
    suite = gx.ExpectationSuite(name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta"))
    if len(suite.expectations) != len(spec["expectations"]):
        raise SuiteError(f"suite {spec['name']}: GX accepted {len(suite.expectations)} of "
                         f"{len(spec['expectations'])} expectations; check the JSON")
    return suite


def run_stage(stage: str, url: str | None = None) -> RunOutcome:
    from core.warehouse import sqlalchemy_url

    specs = load_suite_specs(stage)
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_postgres(name="warehouse", connection_string=sqlalchemy_url(url))
    validations = []
    for spec in specs:
        schema, table = spec["meta"]["table"].split(".", 1)
        asset = datasource.add_table_asset(name=f"{schema}.{table}", table_name=table, schema_name=schema)
        batch = asset.add_batch_definition_whole_table("whole_table")
        suite = context.suites.add(build_suite(gx, spec))
        validations.append(context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{stage}:{spec['name']}", data=batch, suite=suite)))
    checkpoint = context.checkpoints.add(gx.Checkpoint(name=f"{stage}_audit", validation_definitions=validations))
    result = checkpoint.run()
    suites = []
    for spec, (_, vres) in zip(specs, result.run_results.items(), strict=True):
        outcomes = []
        for r in vres.results:
            cfg = r.expectation_config
            res = r.result or {}
            outcomes.append(ExpectationOutcome(
                type=cfg.type, column=cfg.kwargs.get("column"), severity=(cfg.meta or {}).get("severity", "critical"),
                success=bool(r.success), unexpected_count=res.get("unexpected_count"),
                observed_value=_jsonable(res.get("observed_value")),
            ))
        ok = all(o.success for o in outcomes if o.severity == "critical")
        suites.append(SuiteOutcome(spec["name"], spec["meta"]["table"], ok, outcomes))
    return RunOutcome(stage, all(s.success for s in suites), suites, str(result.run_id))


def _jsonable(value: object) -> object:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m expectations")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the suites of one stage (default: all stages in order)")
    p.add_argument("--stage", choices=STAGES)
    p.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    outcomes = [run_stage(s) for s in ([args.stage] if args.stage else STAGES)]
    success = all(o.success for o in outcomes)
    if args.json:
        doc = outcomes[0].to_dict() if len(outcomes) == 1 else {
            "success": success, "stages": [o.to_dict() for o in outcomes]}
        print(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
    else:
        for o in outcomes:
            n = sum(len(s.expectations) for s in o.suites)
            failed = o.failures("critical")
            warned = o.failures("warning")
            print(f"GX {o.stage}: {'PASS' if o.success else 'FAIL'} — {len(o.suites)} suites, {n} expectations, "
                  f"{len(failed)} critical failures, {len(warned)} warnings")
            for line in failed + warned:
                print(f"  {line}")
    return 0 if success else 1


if __name__ == "__main__":
    sys.exit(main())
