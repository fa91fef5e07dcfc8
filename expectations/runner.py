"""Run the expectation suites of a stage as one GX checkpoint, where the data is.

    python -m expectations run [--stage raw|submission|warehouse|publication]
                               [--submission-id N] [--suite NAME ...] [--json]
    python -m expectations raw [--full] [--json]     # the raw gate (incremental), expectations/gate.py
    python -m expectations marts [--full] [--json]   # the marts gate on marts_build, its verdict recorded

Stages (the points where bad data could slip through):

- submission: in ingest, before a pending report becomes current. Batch: the
  submission's rows in raw.report_values (the queries join the accepted
  history). Blocks the report: critical failures are errors in the county's
  feedback.
- raw: before `dbt build`. Batches: raw.report_values whole, and the submission
  suites on all current values at once (cross-period, cross-county). Blocks the
  build.
- warehouse: after `dbt build`, before anything is published. Batch: each mart
  table of the build, in schema marts_build (`marts.` in these suites reads the
  build: core.marts). Blocks the switch of the build into `marts`, where BI tools
  read, and so the publication. Suites with `meta.audit_by_partition` (an
  incremental mart) read in the gate only the partitions builds wrote since the
  last passed gate (audited_partitions).
- publication: after a version is written, before LATEST moves. Batches: the
  exported files (expectations/publication.py). Blocks the switch of LATEST.

Each suite in `suites/*.json` is GX 1.x suite JSON; its `meta` names the stage,
the table (`schema.table`; a suite whose table does not exist yet is skipped
with a note) and, for submission suites, `also_in: ["raw"]`. Every
expectation states its `severity` (GX's own field): `critical` failures make
the run fail and block what comes after it; `warning` and `info` are reported.
Query-based expectations may use the shared SQL fragments `@@name@@` of
fragments.py and list in `meta.requires` the tables they read besides the
batch (missing: the expectation is skipped with a note).

GX is imported lazily (it is slow to import), with analytics and progress bars
off. After each run the Data Docs of the stage are built into
`<var>/quality/data_docs/<stage>/` (internal, never published with the data).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SUITES_DIR = Path(__file__).parent / "suites"
STAGES = ("raw", "submission", "warehouse", "publication")
DEFAULT_STAGES = ("raw", "warehouse", "publication")  # `run` without --stage (submission: see raw)
SQL_STAGES = ("raw", "submission", "warehouse")
SEVERITIES = ("critical", "warning", "info")
PUBLICATION_BATCHES = ("csv_file", "inventory")
# raw.report_values columns that locate a value in the county's file: reported with every unexpected row
LOCATION_COLUMNS = ("source_sheet", "source_cell", "town_code", "indicator", "form", "value")
SAMPLE_ROWS = 20

log = logging.getLogger(__name__)


class SuiteError(ValueError):
    """A suite file is malformed (GX would silently drop what it cannot read)."""


class AuditError(RuntimeError):
    """A check could not be evaluated (an expectation raised): an internal problem, not a data finding."""


# --------------------------------------------------------------------------- outcomes

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

    def to_dict(self) -> dict:
        return asdict(self)

    def failures(self, severity: str = "critical") -> list[str]:
        return [f"{s.name}.{e.check}: {e.type}({e.column or ''}) unexpected={e.unexpected_count}"
                + (f" [{e.description}]" if e.description else "") + (f" exception: {e.exception}" if e.exception else "")
                for s in self.suites for e in s.expectations if e.failed and e.severity == severity]

    def failed_expectations(self) -> list[tuple[str, ExpectationOutcome]]:
        return [(s.name, e) for s in self.suites for e in s.expectations if e.failed]


# --------------------------------------------------------------------------- suites

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
    from expectations import fragments

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
    checks = set()
    for i, exp in enumerate(expectations):
        where = f"{path.name}: expectation {i} ({exp.get('type')})"
        check = (exp.get("meta") or {}).get("check")
        if not check or check in checks:
            raise SuiteError(f"{where}: meta.check must name the expectation, uniquely within the suite")
        checks.add(check)
        if exp.get("severity") not in SEVERITIES:
            raise SuiteError(f"{where} has no valid severity (one of {SEVERITIES}, stated explicitly)")
        emeta = exp.get("meta") or {}
        if any("." not in t for t in emeta.get("requires") or ()):
            raise SuiteError(f"{where}: meta.requires lists schema.table names")
        try:
            fragments.resolve_params(exp.get("kwargs") or {})
        except fragments.SeedParamError as exc:
            raise SuiteError(f"{where}: {exc}") from None
        query = (exp.get("kwargs") or {}).get("unexpected_rows_query")
        if query is not None:
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
        if stage == "submission":
            _check_finding_meta(where, exp["severity"], emeta)


def _check_finding_meta(where: str, severity: str, emeta: dict) -> None:
    """Submission expectations become findings for the county: a code, and messages for it."""
    from expectations.submission import FINDING_SEVERITY
    from ingest.findings import CATALOGUE

    code = emeta.get("finding_code")
    if not code:
        raise SuiteError(f"{where}: submission expectations need meta.finding_code")
    has_messages = bool(emeta.get("message_zh") and emeta.get("message_en"))
    if code in CATALOGUE:
        if CATALOGUE[code][0] != FINDING_SEVERITY[severity]:
            raise SuiteError(f"{where}: {code} is a {CATALOGUE[code][0]} in the reporting contract, "
                             f"not {FINDING_SEVERITY[severity]}")
    elif not has_messages:
        raise SuiteError(f"{where}: {code} is not a contract code: give meta.message_zh and meta.message_en")


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


def _gx():
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    import expectations.custom  # noqa: F401  (registers the custom expectations)

    return gx


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


# --------------------------------------------------------------------------- GX context, Data Docs

def docs_root() -> Path:
    """Where Data Docs are built: internal output, copy it next to (never into) the public publication."""
    from core import config

    return config.var_dir() / "quality" / "data_docs"


def new_context(gx, docs_dir: Path | None):
    """An ephemeral context (nothing of the warehouse URL is written to disk) whose Data Docs site is a folder."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir is not None:
        sites = {"quality": {
            "class_name": "SiteBuilder", "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }}
    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
                               progress_bars=ProgressBarsConfig(globally=False), data_docs_sites=sites)
    return gx.get_context(mode="ephemeral", project_config=config)


def build_docs(context, result, docs_dir: Path | None, *, per_submission: bool = False,
               keep_pages: bool = False) -> tuple[str | None, list]:
    """Build the Data Docs of one checkpoint run: (site URL, validation page URL per run result, in order).

    A stage's site shows its latest run (earlier pages are removed). Submission audits keep every
    page (each submission's report links its own) and skip the index, whose rendering would grow
    with every submission a worker has audited; their results are then dropped from the in-memory
    store, so a long-lived worker does not accumulate them."""
    if docs_dir is None:
        return None, [None] * len(result.run_results)
    ids = list(result.run_results.keys())
    try:
        if not per_submission and not keep_pages:  # (keep_pages: a second checkpoint of the same run)
            shutil.rmtree(docs_dir / "validations", ignore_errors=True)
        context.build_data_docs(resource_identifiers=ids, build_index=not per_submission)
        pages = []
        for rid in ids:
            urls = context.get_docs_sites_urls(resource_identifier=rid)
            pages.append(urls[0]["site_url"] if urls else None)
        site = pages[0] if per_submission else (docs_dir / "index.html").resolve().as_uri()
        return site, pages
    except Exception:  # docs are a convenience: a rendering bug must not hide the audit's verdict
        log.exception("building Data Docs failed")
        return None, [None] * len(ids)
    finally:
        if per_submission:
            for rid in ids:
                try:
                    context.validation_results_store.remove_key(rid)
                except Exception:  # noqa: BLE001 - best effort housekeeping
                    pass


# --------------------------------------------------------------------------- results

def _column_of(kwargs: dict) -> str | None:
    if kwargs.get("column"):
        return kwargs["column"]
    if kwargs.get("column_A"):
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if kwargs.get("column_list"):
        return ",".join(kwargs["column_list"])
    return None


def _exception_of(r) -> str | None:
    info = r.exception_info or {}
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for c in candidates:
        if c.get("raised_exception") or (c.get("exception_message") and c is not info):
            return str(c.get("exception_message") or "raised")[:500]
    return None


def jsonable(value: object) -> object:
    try:
        json.dumps(value)
        return value
    except TypeError:
        if isinstance(value, dict):
            return {str(k): jsonable(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [jsonable(v) for v in value]
        return str(value)


def unexpected_rows(r) -> list[dict]:
    """The unexpected rows of a result (query rows, index rows, or plain values)."""
    res = r.result or {}
    details = res.get("details") or {}
    if "unexpected_rows" in details:
        rows = details["unexpected_rows"]
        return rows if isinstance(rows, list) else []
    if "cells" in details:
        return details["cells"]
    if res.get("unexpected_index_list"):
        return list(res["unexpected_index_list"])
    if res.get("partial_unexpected_index_list"):
        return list(res["partial_unexpected_index_list"])
    values = res.get("unexpected_list") or res.get("partial_unexpected_list") or []
    return [{"value": v} for v in values]


def expectation_outcome(r) -> ExpectationOutcome:
    cfg = r.expectation_config
    res = r.result or {}
    severity = getattr(cfg.severity, "value", cfg.severity) or "critical"
    count = res.get("unexpected_count")
    if count is None and cfg.type == "unexpected_rows_expectation":
        count = res.get("observed_value")
    if count is None and r.success and not res and _counts_rows(cfg):
        count = 0  # a one-scan pass (BOOLEAN_ONLY) passed it: no row was unexpected ("mostly" is never used)
    return ExpectationOutcome(
        check=(cfg.meta or {}).get("check") or cfg.type, type=cfg.type, column=_column_of(cfg.kwargs),
        severity=str(severity), success=bool(r.success),
        unexpected_count=count, observed_value=jsonable(res.get("observed_value")),
        description=cfg.description, finding_code=(cfg.meta or {}).get("finding_code"),
        exception=_exception_of(r), sample=jsonable(unexpected_rows(r)[:SAMPLE_ROWS]) if not r.success else [],
    )


def _counts_rows(cfg) -> bool:
    """An expectation whose verdict is a count of unexpected rows (column-map, multicolumn, query checks)."""
    return "mostly" not in (cfg.kwargs or {}) and (
        cfg.type.startswith(("expect_column_values_", "expect_compound_columns_", "expect_multicolumn_",
                             "expect_column_pair_values_", "expect_select_column_values_"))
        or cfg.type == "unexpected_rows_expectation")


def run_id_of(stage: str, result) -> str:
    """A compact id of a checkpoint run: `<stage>-<UTC run time>` (GX's run time of the run)."""
    run_time = getattr(result.run_id, "run_time", None)
    return f"{stage}-{run_time:%Y%m%dT%H%M%S.%fZ}" if run_time else f"{stage}-{result.run_id}"


def suite_success(outcomes: list[ExpectationOutcome]) -> bool:
    return not any(o.failed and o.severity == "critical" for o in outcomes)


# --------------------------------------------------------------------------- SQL stages

@dataclass
class Prepared:
    """A context with one checkpoint over the stage's suites, ready to run (and re-run on other batches).

    `mode`: "whole" (every row / every current value), "batch" (the submission suites on the rows of an
    audit batch of pending submissions, chosen at run time by the batch parameter `audit_batch_id`) or
    "incremental" (raw stage: row checks on an audit batch of new accepted submissions, submission
    suites on the current values of the periods they touch, `scope: table` checks on the whole table).
    `parts`: spec name -> the GX suite names it runs as (two in incremental mode: rows and table)."""

    stage: str
    context: object
    checkpoint: object
    specs: list[dict]
    docs_dir: Path | None
    skipped: list[SuiteOutcome]
    skipped_expectations: dict[str, list[ExpectationOutcome]]
    mode: str = "whole"
    parts: dict[str, list[str]] = field(default_factory=dict)
    table_checkpoint: object = None  # incremental mode: the `scope: table` parts, on whole tables (no batch parameter)
    part_expectations: dict[str, list[int]] = field(default_factory=dict)  # GX suite name -> indices in its spec
    detail_format: dict | None = None  # two-pass modes (see ONE_SCAN): the format failed expectations rerun in
    scoped: dict[str, str] = field(default_factory=dict)  # spec name -> its batch query (suites audited by partition)
    notes: list[str] = field(default_factory=list)


BATCH_COLUMN = "audit_batch_id"  # the batch parameter of "batch" and "incremental" runs (quality.audit_batches)
# Session settings of the connections that read audit batches (copies in quality.audit_*): every rule joins
# a batch with itself or its history on five to seven columns, which PostgreSQL estimates at one row (it
# multiplies the selectivities of correlated columns) and answers with nested loops that scan the batch
# once per row (minutes on 450k rows). Hash joins are the right plan for these set-wise checks, so nested
# loops are off there, with memory to hash a nation's quarter. Merge joins are off too: without an index to
# read in order they sort both sides on all seven keys (the year-on-year rules: 220 ms against 57 ms hashed,
# on a wave of 150 nation-scale reports, each rule run twice by GX). The whole-table checks (indexes) keep the
# default connection.
BATCH_SESSION = "-c enable_nestloop=off -c enable_mergejoin=off -c work_mem=64MB"


def _with_options(url: str, options: str) -> str:
    from urllib.parse import quote

    return url + ("&" if "?" in url else "?") + "options=" + quote(options, safe="")



def _existing_tables(conn, names: set[str]) -> set[str]:
    if not names:
        return set()
    rows = conn.execute("select t, to_regclass(t) is not null from unnest(%s::text[]) as t", (sorted(names),)).fetchall()
    return {t for t, ok in rows if ok}


def _skipped_expectation(exp: dict, note: str) -> ExpectationOutcome:
    kwargs = exp.get("kwargs") or {}
    return ExpectationOutcome(check=exp["meta"]["check"], type=exp["type"], column=_column_of(kwargs),
                              severity=exp["severity"], success=True,
                              unexpected_count=None, description=exp.get("description"),
                              finding_code=(exp.get("meta") or {}).get("finding_code"), skipped=note)


def audited_partitions(conn, spec: dict, unaudited_only: bool) -> tuple[str | None, str, str]:
    """(batch query or None for the whole table, the `@@audit_partitions@@` relation, a note) of a suite with
    meta.audit_by_partition: an incremental mart keyed by (county_code, year, quarter) whose partitions only
    its own builds rewrite (macros/incremental_partitions.sql).

    In the marts gate (`unaudited_only`) the suite reads the partitions no passed gate has audited since a
    build wrote them (state table `<schema>__<table>__unaudited`, emptied by a passed gate): a partition no
    build rewrote holds what a passed gate audited. Every rule of such a suite must hold within the audited
    partitions: its keys include the partition (a town belongs to one county), and a query that reads
    beyond the batch (the previous quarter, the raw values) restricts that side with `@@audit_partitions@@`.
    Otherwise (python -m expectations run, `marts --full`, or no state table) every partition: those of the
    table and of every accepted submission."""
    from psycopg import sql

    from core import marts

    schema, table = spec["meta"]["table"].split(".", 1)
    relation = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)).as_string(conn)
    state = sql.SQL("{}.{}").format(sql.Identifier(marts.STATE_SCHEMA),
                                    sql.Identifier(marts.state_table(table, "unaudited", schema))).as_string(conn)
    if unaudited_only and conn.execute("select to_regclass(%s) is not null", (state,)).fetchone()[0]:
        partitions = f"(select county_code, year, quarter from {state})"
        count = conn.execute(f"select count(*) from {state}").fetchone()[0]  # noqa: S608 - our own identifiers
        return (f"select * from {relation} where (county_code, year, quarter) in {partitions}",  # noqa: S608
                partitions, f"{spec['name']}: the {count} partitions of {schema}.{table} written since the last "
                            f"passed marts gate ({marts.STATE_SCHEMA}.{marts.state_table(table, 'unaudited', schema)})")
    every = (f"(select county_code, year, quarter from landing.submissions where status = 'accepted' "
             f"union select county_code, year, quarter from {relation})")
    return None, every, f"{spec['name']}: every partition of {schema}.{table}"


def _asset_of(spec: dict, mode: str, part: str, scoped: dict[str, str] | None = None) -> tuple[str, str | None]:
    """(asset key, its query or None for the table itself) of a suite part in a mode."""
    from expectations import fragments

    if scoped and spec["name"] in scoped:
        return f"{spec['meta']['table']}@unaudited", scoped[spec["name"]]
    if spec["meta"]["stage"] == "submission":
        if mode == "batch":
            return "pending_rows", fragments.batch_rows_sql()
        if mode == "incremental":
            return "new_current_values", fragments.incremental_current_sql()
        return "current_report_values", fragments.whole_batch_sql()
    if mode == "incremental" and part == "rows":
        return "new_rows", fragments.batch_rows_sql()
    return spec["meta"]["table"], None


def _batch_definition(datasource, assets: dict, key: str, query: str | None, table: str):
    from great_expectations.core.partitioners import PartitionerColumnValue

    if key not in assets:
        if query is None:
            schema, name = table.split(".", 1)
            asset = datasource.add_table_asset(name=key, table_name=name, schema_name=schema)
            assets[key] = asset.add_batch_definition_whole_table("whole_table")
        elif key == "current_report_values" or key.endswith("@unaudited"):
            assets[key] = datasource.add_query_asset(name=key, query=query).add_batch_definition_whole_table("all")
        else:
            assets[key] = datasource.add_query_asset(name=key, query=query).add_batch_definition(
                name="one_batch", partitioner=PartitionerColumnValue(column_name=BATCH_COLUMN),
                validate_partitioner=False)
    return assets[key]


def _parts(spec: dict, mode: str, drop: set[int]) -> list[tuple[str, set[int]]]:
    """(part, expectations left out of it): incremental raw suites split into `rows` and `table`."""
    if mode != "incremental" or spec["meta"]["stage"] == "submission":
        return [("rows", drop)]
    scoped = {i for i, e in enumerate(spec["expectations"]) if (e.get("meta") or {}).get("scope") == "table"}
    everything = set(range(len(spec["expectations"])))
    parts = [("rows", drop | scoped), ("table", drop | (everything - scoped))]
    return [(p, d) for p, d in parts if d != everything]


def _result_format(stage: str, mode: str) -> dict:
    """The detail a failed expectation reports (see ONE_SCAN for the pass that finds the failures)."""
    if stage == "warehouse":
        return {"result_format": "SUMMARY"}
    if mode == "batch":  # every offending row, with its submission, up to GX's 200 (see submission.py)
        return {"result_format": "COMPLETE", "partial_unexpected_count": 200,
                "unexpected_index_column_names": ["submission_id", *LOCATION_COLUMNS]}
    return {"result_format": "SUMMARY", "unexpected_index_column_names": list(LOCATION_COLUMNS)}


# Whole-table and incremental gates run in two passes. GX answers a SUMMARY with three queries per column-map
# expectation (the unexpected count, up to 20 unexpected values, their index columns), and the two listing
# queries scan the whole table when nothing is unexpected: 30 scans of the 11 M raw rows at nation scale.
# BOOLEAN_ONLY asks only for the counts, which GX bundles into one aggregate query per batch. The
# expectations that fail are then run again with the detailed format (_explain_failures), so a failure
# reports exactly what it did before. Submission audits (mode "batch") need every offending row: one pass.
ONE_SCAN = {"result_format": "BOOLEAN_ONLY"}


def prepare_sql_stage(stage: str, url: str | None = None, *, per_submission: bool = False,
                      incremental: bool = False, suites: list[str] | None = None, docs: bool = True,
                      unaudited_only: bool = False) -> Prepared:
    """Bind the stage's suites to batches in PostgreSQL. `per_submission`: the submission suites on an audit
    batch of pending submissions; `incremental`: the raw stage on an audit batch of new accepted ones
    (see Prepared). Batches are chosen at run time by the batch parameter `audit_batch_id`.
    `unaudited_only` (the marts gate): suites audited by partition read only the partitions written since
    the last passed gate (audited_partitions)."""
    mode = "batch" if per_submission else "incremental" if incremental else "whole"
    specs = load_suite_specs(stage, suites)
    existing, scopes = _what_exists(specs, url, unaudited_only)
    gx = _gx()
    docs_dir = docs_root() / stage if docs else None
    context = new_context(gx, docs_dir)
    from core.warehouse import sqlalchemy_url

    datasource = context.data_sources.add_postgres(name="warehouse", connection_string=sqlalchemy_url(url))
    batches = datasource if mode == "whole" else context.data_sources.add_postgres(
        name="warehouse_batches", connection_string=_with_options(sqlalchemy_url(url), BATCH_SESSION))
    prepared = Prepared(stage, context, None, [], docs_dir, [], {}, mode,
                        scoped={name: query for name, (query, _, _) in scopes.items() if query is not None},
                        notes=[note for _, _, note in scopes.values()])
    validations, table_validations, assets = [], [], {}
    for spec in specs:
        table = spec["meta"]["table"]
        if table not in existing:
            prepared.skipped.append(SuiteOutcome(spec["name"], table, True,
                                                 skipped=f"table {table} does not exist (yet): suite skipped"))
            continue
        drop = {i for i, e in enumerate(spec["expectations"])
                if not set((e.get("meta") or {}).get("requires") or ()) <= existing}
        prepared.skipped_expectations[spec["name"]] = [
            _skipped_expectation(spec["expectations"][i], "needs " + ", ".join(
                sorted(set(spec["expectations"][i]["meta"]["requires"]) - existing)) + ": skipped")
            for i in sorted(drop)]
        partitions = scopes[spec["name"]][1] if spec["name"] in scopes else None
        for part, left_out in _parts(spec, mode, drop):
            key, query = _asset_of(spec, mode, part, prepared.scoped)
            batch = _batch_definition(datasource if query is None else batches, assets, key, query, table)
            name = spec["name"] if part == "rows" else f"{spec['name']}@table"
            suite = context.suites.add(build_suite(gx, {**spec, "name": name}, whole=mode == "whole", drop=left_out,
                                                   partitions=partitions))
            target = table_validations if mode == "incremental" and query is None else validations
            target.append(context.validation_definitions.add(
                gx.ValidationDefinition(name=f"{stage}:{name}", data=batch, suite=suite)))
            prepared.parts.setdefault(spec["name"], []).append(name)
            prepared.part_expectations[name] = [i for i in range(len(spec["expectations"])) if i not in left_out]
        prepared.specs.append(spec)
    _add_checkpoints(gx, prepared, validations, table_validations)
    return prepared


def _what_exists(specs: list[dict], url: str | None, unaudited_only: bool) -> tuple[set[str], dict]:
    """The tables the suites read that exist, and the scope of each suite audited by partition
    (audited_partitions)."""
    from core.warehouse import connect

    needed = {s["meta"]["table"] for s in specs} | {
        t for s in specs for e in s["expectations"] for t in (e.get("meta") or {}).get("requires") or ()}
    with connect(url) as conn:
        existing = _existing_tables(conn, needed)
        scopes = {spec["name"]: audited_partitions(conn, spec, unaudited_only) for spec in specs
                  if spec["meta"].get("audit_by_partition") and spec["meta"]["table"] in existing}
    return existing, scopes


def _add_checkpoints(gx, prepared: Prepared, validations: list, table_validations: list) -> None:
    """The stage's checkpoint (and, incremental, the one of its whole-table parts), in the result format of
    the mode: one scan first where failures are explained in a second pass (ONE_SCAN)."""
    stage, mode = prepared.stage, prepared.mode
    if mode != "batch":
        prepared.detail_format = _result_format(stage, mode)
    for name, vals in ((f"{stage}_audit", validations), (f"{stage}_audit_tables", table_validations)):
        if vals:
            checkpoint = prepared.context.checkpoints.add(gx.Checkpoint(
                name=name, validation_definitions=vals,
                result_format=ONE_SCAN if prepared.detail_format else _result_format(stage, mode)))
            setattr(prepared, "checkpoint" if vals is validations else "table_checkpoint", checkpoint)


def _batch_rows(conn, spec: dict, mode: str, batch_id: int | None, scoped: dict[str, str]) -> int:
    """Rows of a suite's batch (its main part: in incremental mode the new rows, not the whole table; for a
    suite audited by partition the partitions it reads)."""
    from psycopg import sql

    from expectations import fragments

    if spec["name"] in scoped:
        return conn.execute(sql.SQL("select count(*) from ({}) as c").format(sql.SQL(scoped[spec["name"]]))
                            ).fetchone()[0]

    if spec["meta"]["stage"] == "submission" or mode in ("batch", "incremental"):
        query = {"batch": fragments.batch_rows_sql(), "incremental": fragments.batch_rows_sql(),
                 "whole": fragments.whole_batch_sql()}[mode]
        if spec["meta"]["stage"] == "submission" and mode == "incremental":
            query = fragments.incremental_current_sql()
        if mode == "whole":
            return conn.execute(sql.SQL("select count(*) from ({}) as c").format(sql.SQL(query))).fetchone()[0]
        return conn.execute(sql.SQL("select count(*) from ({}) as c where c.audit_batch_id = %s").format(
            sql.SQL(query)), (batch_id,)).fetchone()[0]
    schema, name = spec["meta"]["table"].split(".", 1)
    return conn.execute(sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema),
                                                                      sql.Identifier(name))).fetchone()[0]


def _suite_outcomes(prepared: Prepared, results: list, page_list: list, rows: dict) -> list[SuiteOutcome]:
    by_suite = {v.suite_name: v for v in results}
    pages = {v.suite_name: u for v, u in zip(results, page_list, strict=True)}
    suites = []
    for spec in prepared.specs:
        parts = prepared.parts[spec["name"]]
        gx_results = sorted((r for p in parts if p in by_suite for r in by_suite[p].results),
                            key=lambda r: (r.expectation_config.meta or {}).get("suite_index", 0))
        outcomes = [expectation_outcome(r) for r in gx_results]
        outcomes += [_skipped_expectation(spec["expectations"][i], "no rows in this batch: not run")
                     for p in parts if p not in by_suite for i in prepared.part_expectations[p]]
        outcomes += prepared.skipped_expectations.get(spec["name"], [])
        suites.append(SuiteOutcome(spec["name"], spec["meta"]["table"], suite_success(outcomes), outcomes,
                                   rows=rows[spec["name"]], docs_url=next(
                                       (pages[p] for p in parts if pages.get(p)), None)))
    return suites


def _explain_failures(prepared: Prepared, result, params: dict | None) -> None:
    """Run the expectations that failed in a one-scan pass again, on the same batch, with the detailed result
    format, and put their results in place of the bare verdicts (in the checkpoint result and in the
    context's results store, which Data Docs render)."""
    gx = _gx()
    context = prepared.context
    for rid, run in result.run_results.items():
        failed = {i: r for i, r in enumerate(run.results) if not r.success}
        if not failed:
            continue
        name = run.suite_name
        definition = context.validation_definitions.get(f"{prepared.stage}:{name}")
        detail_name = f"{name}@detail"
        expectations = [copy.copy(r.expectation_config.to_domain_obj()) for r in failed.values()]
        for e in expectations:
            e.id = None  # a copy for the detail suite (GX refuses an expectation of another suite)
        suite = gx.ExpectationSuite(name=detail_name, expectations=expectations)
        detail = context.validation_definitions.add_or_update(gx.ValidationDefinition(
            name=f"{prepared.stage}:{detail_name}", data=definition.data,
            suite=context.suites.add_or_update(suite)))
        rerun = detail.run(batch_parameters=params, result_format=prepared.detail_format)
        by_index = {(r.expectation_config.meta or {}).get("suite_index"): r for r in rerun.results}
        for i, r in failed.items():
            run.results[i] = by_index.get((r.expectation_config.meta or {}).get("suite_index"), r)
        try:
            context.validation_results_store.set(rid, run)
        except Exception:  # noqa: BLE001 - the docs then show the bare verdict; the outcome has the detail
            log.exception("could not store the detailed results of %s", name)


def execute(prepared: Prepared, url: str | None = None, *, batch_id: int | None = None) -> RunOutcome:
    """Run a prepared checkpoint (on the audit batch `batch_id` in "batch" and "incremental" mode)."""
    from core.warehouse import connect
    from expectations import fragments

    if (prepared.mode != "whole") != (batch_id is not None):
        raise ValueError(f"a {prepared.mode} checkpoint runs {'on an audit batch' if batch_id is None else 'whole'}")
    start = time.monotonic()
    with connect(url) as conn:
        # the registry snapshot the expanded queries read (one lookup once it is there; a database made
        # again under the same URL gets it again)
        fragments.ensure_registry(conn)
        rows = {s["name"]: _batch_rows(conn, s, prepared.mode, batch_id, prepared.scoped) for s in prepared.specs}
    suites: list[SuiteOutcome] = []
    run_id = docs_url = None
    results: list = []
    notes = [s.skipped for s in prepared.skipped if s.skipped] + prepared.notes
    empty = batch_id is not None and not any(rows.values())  # GX finds no batch in an empty partition
    runs = [(c, p) for c, p in ((None if empty else prepared.checkpoint,
                                 {BATCH_COLUMN: int(batch_id)} if batch_id is not None else None),
                                (prepared.table_checkpoint, None)) if c is not None]
    if runs:
        page_list = []
        for checkpoint, params in runs:
            result = checkpoint.run(batch_parameters=params)
            if prepared.detail_format and not result.success:
                _explain_failures(prepared, result, params)
            run_id = run_id or run_id_of(prepared.stage, result)
            site, pages = build_docs(prepared.context, result, prepared.docs_dir,
                                     per_submission=prepared.mode == "batch", keep_pages=bool(results))
            docs_url = docs_url or site
            results += list(result.run_results.values())
            page_list += pages
        suites = _suite_outcomes(prepared, results, page_list, rows)
        notes += [f"{name}: {e.type} {e.skipped}" for name, exps in prepared.skipped_expectations.items()
                  for e in exps]
    if empty:
        notes.append(f"audit batch {batch_id} has no rows in raw.report_values: nothing to audit")
    suites += prepared.skipped
    success = all(s.success for s in suites)
    outcome = RunOutcome(prepared.stage, success, suites, run_id, docs_url, round(time.monotonic() - start, 3),
                         sum(s.rows or 0 for s in suites), None, notes)
    outcome.batch_id = batch_id
    outcome._results = results  # the GX validation results (not serialised): findings are built from them
    return outcome


def run_stage(stage: str, url: str | None = None, *, submission_id: int | None = None,
              suites: list[str] | None = None, docs: bool = True, unaudited_only: bool = False) -> RunOutcome:
    """Run one stage's checkpoint. `submission`: one submission's rows with `submission_id`, else all
    current values (as the raw stage does); `publication`: the version LATEST names under PUBLISH_URL;
    `unaudited_only`: see prepare_sql_stage."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {STAGES}")
    start = time.monotonic()
    if stage == "publication":
        from expectations.publication import audit_latest

        return audit_latest(url=url, suites=suites, docs=docs)
    if submission_id is not None:  # the audit ingest runs, as a batch of one (expectations/submission.py)
        from core.warehouse import connect
        from expectations.submission import run_batch_audit

        with connect(url, autocommit=True) as conn:
            return run_batch_audit(conn, [submission_id], docs=docs, suites=suites)[int(submission_id)][0]
    prepared = prepare_sql_stage(stage, url, suites=suites, docs=docs, unaudited_only=unaudited_only)
    outcome = execute(prepared, url)
    outcome.seconds = round(time.monotonic() - start, 3)
    return outcome


# --------------------------------------------------------------------------- CLI

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
