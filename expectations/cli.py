"""The command line: run the expectation suites of a stage, or a gate.

    python -m expectations run [--stage raw|submission|warehouse|publication]
                               [--submission-id N] [--suite NAME ...] [--json]
    python -m expectations raw [--full] [--json]     # the raw gate (incremental), expectations/gate.py
    python -m expectations marts [--full] [--json]   # the marts gate on marts_build, its verdict recorded
"""

from __future__ import annotations

import argparse
import json
import sys

from expectations.outcome import RunOutcome
from expectations.run import run_stage
from expectations.specs import DEFAULT_STAGES, STAGES


def _print_text(o: RunOutcome) -> None:
    n = sum(len(s.expectations) for s in o.suites)
    failed, warned, info = o.failures("critical"), o.failures("warning"), o.failures("info")
    print(f"GX {o.stage}: {'PASS' if o.success else 'FAIL'} — {len(o.suites)} suites, {n} expectations, "
          f"{o.rows_validated} rows in {o.seconds:.2f} s; {len(failed)} critical failures, "
          f"{len(warned)} warnings, {len(info)} info")
    for label, lines in (("CRITICAL", failed), ("warning", warned), ("info", info)):
        for line in lines:
            print(f"  {label}: {line}")
    for note in o.notes:
        print(f"  note: {note}")
    if o.docs_url:
        print(f"  Data Docs: {o.docs_url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m expectations")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the suites of one stage (default: raw, warehouse, publication in order)")
    p.add_argument("--stage", choices=STAGES)
    p.add_argument("--submission-id", type=int, help="submission stage: audit this submission's rows only")
    p.add_argument("--suite", action="append", dest="suites", help="only this suite (repeatable)")
    p.add_argument("--no-docs", action="store_true", help="do not build Data Docs")
    p.add_argument("--json", action="store_true")
    g = sub.add_parser("raw", help="the raw gate: rows accepted since the last passed gate (or --full), "
                                   "the watermark advanced on a pass")
    g.add_argument("--full", action="store_true", help="check every row and every current value")
    g.add_argument("--no-docs", action="store_true", help="do not build Data Docs")
    g.add_argument("--json", action="store_true")
    m = sub.add_parser("marts", help="the marts gate: the build in marts_build, its verdict recorded for the "
                                     "switch into marts (python -m publish marts)")
    m.add_argument("--full", action="store_true", help="every partition of the marts audited by partition, not "
                                                       "only those written since the last passed gate")
    m.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "raw":
        return _raw_gate_cli(args)
    if args.command == "marts":
        return _marts_gate_cli(args)
    if args.submission_id is not None and args.stage != "submission":
        parser.error("--submission-id needs --stage submission")
    stages = [args.stage] if args.stage else list(DEFAULT_STAGES)
    outcomes = [run_stage(s, submission_id=args.submission_id, suites=args.suites, docs=not args.no_docs)
                for s in stages]
    success = all(o.success for o in outcomes)
    if args.json:
        doc = outcomes[0].to_dict() if len(outcomes) == 1 else {
            "success": success, "stages": [o.to_dict() for o in outcomes]}
        print(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
    else:
        for o in outcomes:
            _print_text(o)
    return 0 if success else 1


def _raw_gate_cli(args) -> int:
    from expectations.gate import QualityGateFailed, report_path, run_raw_gate

    try:
        doc = run_raw_gate(full=args.full, docs=not args.no_docs)
    except QualityGateFailed as exc:
        doc = json.loads(report_path("raw").read_text(encoding="utf-8"))
        print(json.dumps(doc, ensure_ascii=False, indent=2, default=str) if args.json else f"GX raw gate: FAIL — {exc}")
        return 1
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
    else:
        print(f"GX raw gate ({doc['mode']}): PASS — {doc['new_submissions']} new accepted submissions, "
              f"{doc['rows_validated']} rows validated, {doc['raw_rows']} rows in raw.report_values, "
              f"{doc['seconds']:.2f} s = {doc['rows_per_s']} raw rows/s; {len(doc['warnings'])} warnings")
        for note in doc["notes"]:
            print(f"  note: {note}")
    return 0


def _marts_gate_cli(args) -> int:
    from expectations.gate import QualityGateFailed, run_gate

    try:
        doc = run_gate("warehouse", full=args.full)
    except QualityGateFailed as exc:
        print(json.dumps({"success": False, "error": str(exc)}, ensure_ascii=False) if args.json
              else f"GX marts gate: FAIL — {exc}")
        return 1
    print(json.dumps(doc, ensure_ascii=False, indent=2, default=str) if args.json else
          f"GX marts gate: PASS — build {doc['build_id']}, {doc['rows_validated']} rows, {doc['seconds']:.2f} s; "
          f"{len(doc['warnings'])} warnings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
