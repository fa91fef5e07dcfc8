"""Run a stage: a prepared SQL checkpoint (expectations/stages.py) executed on its batch, failures
explained, Data Docs built, and the outcome with its GX results (RunOutcome.results)."""

from __future__ import annotations

import copy
import logging
import time

from expectations.engine import build_docs, import_gx, run_id_of
from expectations.outcome import RunOutcome, SuiteOutcome, suite_success
from expectations.results import expectation_outcome, skipped_expectation
from expectations.specs import STAGES
from expectations.stages import BATCH_COLUMN, Prepared, prepare_sql_stage

log = logging.getLogger(__name__)


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
        outcomes += [skipped_expectation(spec["expectations"][i], "no rows in this batch: not run")
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
    gx = import_gx()
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
    # the GX validation results go with the outcome (not serialised): findings are built from them
    return RunOutcome(prepared.stage, success, suites, run_id, docs_url, round(time.monotonic() - start, 3),
                      sum(s.rows or 0 for s in suites), None, notes, batch_id=batch_id, results=results)


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
