"""SQL stages (raw, submission, warehouse): the stage's suites bound to batches in PostgreSQL, as one
GX checkpoint ready to run (expectations/run.py runs it, and again on other batches).

- submission: in ingest, before a pending report becomes current. Batch: the submission's rows in
  raw.report_values (the queries join the accepted history). Blocks the report: critical failures are
  errors in the county's feedback.
- raw: before `dbt build`. Batches: raw.report_values whole, and the submission suites on all current
  values at once (cross-period, cross-county). Blocks the build.
- warehouse: after `dbt build`, before anything is published. Batch: each mart table of the build, in
  schema marts_build (`marts.` in these suites reads the build: core.marts). Blocks the switch of the
  build into `marts`, where BI tools read, and so the publication. Suites with `meta.audit_by_partition`
  (an incremental mart) read in the gate only the partitions builds wrote since the last passed gate
  (audited_partitions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from expectations.engine import docs_root, import_gx, new_context
from expectations.outcome import ExpectationOutcome, SuiteOutcome
from expectations.results import skipped_expectation
from expectations.specs import build_suite, load_suite_specs

# raw.report_values columns that locate a value in the county's file: reported with every unexpected row
LOCATION_COLUMNS = ("source_sheet", "source_cell", "town_code", "indicator", "form", "value")


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
    gx = import_gx()
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
        drop = _left_out(prepared, spec, existing)
        if drop is None:
            continue
        table = spec["meta"]["table"]
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


def _left_out(prepared: Prepared, spec: dict, existing: set[str]) -> set[int] | None:
    """The expectations of a suite left out because a table they read is missing (noted as skipped), or
    None when the suite's own table is missing (the suite skipped, with a note)."""
    table = spec["meta"]["table"]
    if table not in existing:
        prepared.skipped.append(SuiteOutcome(spec["name"], table, True,
                                             skipped=f"table {table} does not exist (yet): suite skipped"))
        return None
    drop = {i for i, e in enumerate(spec["expectations"])
            if not set((e.get("meta") or {}).get("requires") or ()) <= existing}
    prepared.skipped_expectations[spec["name"]] = [
        skipped_expectation(spec["expectations"][i], "needs " + ", ".join(
            sorted(set(spec["expectations"][i]["meta"]["requires"]) - existing)) + ": skipped")
        for i in sorted(drop)]
    return drop


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
