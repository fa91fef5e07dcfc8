"""The suites (`suites/*.json`, GX 1.x suite JSON): loaded, checked whole, and built as GX suites.

Each suite's `meta` names the stage, the table (`schema.table`; a suite whose table does not exist yet
is skipped with a note) and, for submission suites, `also_in: ["raw"]`. Every expectation states its
`severity` (GX's own field): `critical` failures make the run fail and block what comes after it;
`warning` and `info` are reported. Query-based expectations may use the shared SQL fragments `@@name@@`
of fragments.py and list in `meta.requires` the tables they read besides the batch (missing: the
expectation is skipped with a note). The loader refuses a suite that GX would read wrongly or drop
silently; build_suite asserts that GX kept every expectation.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

SUITES_DIR = Path(__file__).parent / "suites"
STAGES = ("raw", "submission", "warehouse", "publication")
DEFAULT_STAGES = ("raw", "warehouse", "publication")  # `run` without --stage (submission: see raw)
SQL_STAGES = ("raw", "submission", "warehouse")
SEVERITIES = ("critical", "warning", "info")
PUBLICATION_BATCHES = ("csv_file", "inventory")


class SuiteError(ValueError):
    """A suite file is malformed (GX would silently drop what it cannot read)."""


def _query_alias_problem(query: str) -> str | None:
    """GX substitutes {batch} as `(subquery)` when the query has a JOIN, else as `(subquery) AS subselect`:
    so an aliased {batch} needs a JOIN in the query, and a query without JOIN must not alias it."""
    has_join = re.search(r"\bjoin\b", query, re.IGNORECASE) is not None
    aliased = re.search(r"\{batch\}\s+as\s+\w+", query, re.IGNORECASE) is not None
    bare = re.search(r"\{batch\}(?!\s+as\s+\w+)", query, re.IGNORECASE) is not None
    if "{batch}" not in query:
        return "does not read {batch}"
    if has_join and bare:
        return "has a JOIN, so every {batch} needs an alias (`{batch} as b`)"
    if not has_join and aliased:
        return "has no JOIN, so {batch} must not be aliased (GX aliases it)"
    return None


def _check_spec(path: Path, spec: dict) -> None:
    meta = spec.get("meta") or {}
    stage = meta.get("stage")
    if spec.get("name") != path.stem:
        raise SuiteError(f"{path.name}: name must be {path.stem!r}")
    if stage not in STAGES:
        raise SuiteError(f"{path.name}: meta.stage must be one of {STAGES}")
    if not set(meta.get("also_in") or ()) <= set(STAGES):
        raise SuiteError(f"{path.name}: meta.also_in must list stages of {STAGES}")
    if stage in SQL_STAGES and "." not in (meta.get("table") or ""):
        raise SuiteError(f"{path.name}: meta.table must be schema.table")
    if stage == "publication" and meta.get("batch") not in PUBLICATION_BATCHES:
        raise SuiteError(f"{path.name}: meta.batch must be one of {PUBLICATION_BATCHES}")
    expectations = spec.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteError(f"{path.name}: no expectations")
    checks: set[str] = set()
    for i, exp in enumerate(expectations):
        _check_expectation(f"{path.name}: expectation {i} ({exp.get('type')})", meta, exp, checks)


def _check_expectation(where: str, meta: dict, exp: dict, checks: set[str]) -> None:
    """One expectation of a suite whose meta is `meta` (`checks`: the names seen so far in the suite)."""
    check = (exp.get("meta") or {}).get("check")
    if not check or check in checks:
        raise SuiteError(f"{where}: meta.check must name the expectation, uniquely within the suite")
    checks.add(check)
    if exp.get("severity") not in SEVERITIES:
        raise SuiteError(f"{where} has no valid severity (one of {SEVERITIES}, stated explicitly)")
    emeta = exp.get("meta") or {}
    if any("." not in t for t in emeta.get("requires") or ()):
        raise SuiteError(f"{where}: meta.requires lists schema.table names")
    from expectations import fragments

    try:
        fragments.resolve_params(exp.get("kwargs") or {})
    except fragments.SeedParamError as exc:
        raise SuiteError(f"{where}: {exc}") from None
    query = (exp.get("kwargs") or {}).get("unexpected_rows_query")
    if query is not None:
        _check_query(where, meta, query)
    if meta.get("stage") == "submission":
        _check_submission_expectation(where, exp, emeta)


def _check_query(where: str, meta: dict, query: str) -> None:
    """An `unexpected_rows_query`: known fragments, {batch} aliased as GX substitutes it, no bind parameters."""
    from expectations import fragments

    unknown = set(fragments.FRAGMENT.findall(query)) - fragments.names()
    if unknown:
        raise SuiteError(f"{where}: unknown fragments {sorted(unknown)}")
    if fragments.PARTITIONS in fragments.FRAGMENT.findall(query) and not meta.get("audit_by_partition"):
        raise SuiteError(f"{where}: @@{fragments.PARTITIONS}@@ needs meta.audit_by_partition in the suite")
    placeholder = "(select county_code, year, quarter from quality.partitions)"
    for whole in (False, True):
        problem = _query_alias_problem(fragments.expand(query, whole=whole, partitions=placeholder))
        if problem:
            raise SuiteError(f"{where}: the query {problem}")
    if re.search(r"(?<![:\w\\]):\w", fragments.expand(query, partitions=placeholder)):
        raise SuiteError(f"{where}: `:name` in a query is a bind parameter for SQLAlchemy; write `\\:`")


def _check_submission_expectation(where: str, exp: dict, emeta: dict) -> None:
    """Submission expectations are queries (a file being checked runs the same queries: expectations.preview)
    whose rows become findings for the county: they name a finding code. Whether the code is one of the
    reporting contract, of the same severity, the findings mapping checks (ingest.audit.check_suites): the
    contract is not this loader's."""
    if exp.get("type") != "unexpected_rows_expectation":
        raise SuiteError(f"{where}: a submission expectation is a query (unexpected_rows_expectation), so that "
                         "checking a file runs exactly what the audit runs")
    if not emeta.get("finding_code"):
        raise SuiteError(f"{where}: submission expectations need meta.finding_code")


# `marts.` in a suite of the warehouse stage reads the marts of the build, before they are published
_MARTS_QUALIFIED = re.compile(r"(?<![\w.\"])marts\.(?=\w)")


def _audit_the_build(spec: dict) -> dict:
    """The spec with `marts.<table>` read from the build's schema (core.marts.BUILD)."""
    from core.marts import BUILD

    def build(text: str) -> str:
        return _MARTS_QUALIFIED.sub(BUILD + ".", text)

    spec = copy.deepcopy(spec)
    meta = spec["meta"]
    meta["table"] = build(meta["table"])
    for exp in spec["expectations"]:
        emeta = exp.get("meta") or {}
        if emeta.get("requires"):
            emeta["requires"] = [build(t) for t in emeta["requires"]]
        kwargs = exp.get("kwargs") or {}
        if kwargs.get("unexpected_rows_query"):
            kwargs["unexpected_rows_query"] = build(kwargs["unexpected_rows_query"])
    return spec


def load_suite_specs(stage: str | None = None, names: list[str] | None = None) -> list[dict]:
    """The suites of a stage (its own and those that also run in it), checked whole. In the warehouse
    stage, `marts.` reads the build (marts_build, see module doc)."""
    specs = []
    for path in sorted(SUITES_DIR.glob("*.json")):
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{path.name}: not JSON: {exc}") from exc
        _check_spec(path, spec)
        meta = spec["meta"]
        if stage is None or meta["stage"] == stage or stage in (meta.get("also_in") or ()):
            if names is None or spec["name"] in names:
                specs.append(_audit_the_build(spec) if stage == "warehouse" else spec)
    if names is not None and {s["name"] for s in specs} != set(names):
        raise SuiteError(f"no such suite in stage {stage}: {sorted(set(names) - {s['name'] for s in specs})}")
    return specs

def build_suite(gx, spec: dict, *, whole: bool = False, drop: set[int] = frozenset(), partitions: str | None = None):
    """A GX suite from its JSON (fragments expanded; `partitions`: see fragments.expand), asserting that GX
    kept every expectation."""
    from expectations import fragments

    expectations = []
    for i, exp in enumerate(spec["expectations"]):
        if i in drop:
            continue
        exp = copy.deepcopy(exp)
        exp["kwargs"] = fragments.resolve_params(exp["kwargs"])  # {"$policy": ...}, {"$seeds": ...}
        query = exp["kwargs"].get("unexpected_rows_query")
        if query is not None:
            exp["kwargs"]["unexpected_rows_query"] = fragments.expand(query, whole=whole, partitions=partitions,
                                                                      built=spec["meta"]["stage"] == "warehouse")
        meta = exp.setdefault("meta", {})
        meta["suite_index"] = i
        expectations.append(exp)
    suite = gx.ExpectationSuite(name=spec["name"], expectations=expectations, meta=spec.get("meta"))
    if len(suite.expectations) != len(expectations):
        raise SuiteError(f"suite {spec['name']}: GX accepted {len(suite.expectations)} of "
                         f"{len(expectations)} expectations; check the JSON")
    return suite
