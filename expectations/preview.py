"""The submission suites' rules on a report that is not loaded: a preview that keeps nothing.

`ingest check` and the county portal's check answer a file before it is submitted. The cross-row and
cross-period rules are the submission suites' (one owner), so the preview runs those suites' own
queries, not a copy of them: the file's values go into the audit table (`quality.audit_rows`) as a
batch of one report (submission id -1) together with its accepted history, each query runs on
this connection, and the transaction is rolled back, so nothing is kept and nobody else sees the
rows. GX is not involved: the submission suites are written as SQL queries only (`preview_rows`
refuses any other expectation type), and a query GX runs and the same query run here return the
same rows. What a submission's record says comes from the GX checkpoint (expectations.submission);
the preview only answers sooner (tens of milliseconds, no checkpoint to prepare).

Rows come back as GX returns them: in the query's order, at most MAX_ROWS per expectation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from expectations import fragments, state

PREVIEW_SID = -1  # the submission id of the previewed report: never one of landing's (identity, from 1)
MAX_ROWS = 200  # as many offending rows as GX returns of an expectation


@dataclass(frozen=True)
class PreviewValue:
    """One value of the previewed report, as the ingest parsed it (canonical units)."""

    county_code: str
    year: int
    quarter: int
    form: str
    town_code: str | None
    indicator: str
    value: object
    source_sheet: str | None
    source_cell: str | None
    value_prev_year: object = None
    prev_year_source_cell: str | None = None


@dataclass(frozen=True)
class PreviewResult:
    """The offending rows of one expectation of the submission suites (its spec with parameters resolved)."""

    suite: str
    expectation: dict
    rows: list[dict]


def _batch_relation(batch_id: int) -> str:
    return f"(select * from quality.audit_rows where audit_batch_id = {int(batch_id)})"


def _runnable(query: str, batch_id: int) -> str:
    """A suite query as GX would run it on this batch: fragments expanded, {batch} the batch's rows, the
    escapes for GX's str.format and SQLAlchemy's text() undone (psycopg runs it without parameters)."""
    text = fragments.expand(query).replace("{batch}", _batch_relation(batch_id))
    return text.replace("{{", "{").replace("}}", "}").replace("\\:", ":")


def _load(conn, batch_id: int, values: Iterable[PreviewValue]) -> None:
    columns = ", ".join(("audit_batch_id", "audit_sid", *state.COLUMNS))
    with conn.cursor().copy(f"copy quality.audit_rows ({columns}) from stdin") as copy:
        for v in values:
            copy.write_row((batch_id, PREVIEW_SID, PREVIEW_SID, v.county_code, v.year, v.quarter, v.form,
                            v.town_code, v.indicator, v.value, "", v.source_sheet, v.source_cell,
                            v.value_prev_year, v.prev_year_source_cell))
    conn.execute(fragments.fill_history_sql("audit_rows"), {"batch": batch_id})


def preview_rows(conn, values: list[PreviewValue], specs: list[dict]) -> list[PreviewResult]:
    """The offending rows of every expectation of `specs` (the submission suites, e.g.
    `expectations.runner.load_suite_specs("submission")`) on `values`, judged against the accepted history
    in the warehouse of `conn`. Nothing is kept: every row written is rolled back."""
    state.ensure(conn)
    fragments.ensure_registry(conn)
    for spec in specs:
        for e in spec["expectations"]:
            if e["type"] != "unexpected_rows_expectation":
                raise ValueError(f"{spec['name']}.{e['meta']['check']}: a submission expectation must be a query "
                                 f"(unexpected_rows_expectation) to be previewed, not {e['type']}")
    out: list[PreviewResult] = []
    with conn.transaction(force_rollback=True):
        (batch_id,) = conn.execute("select nextval('quality.audit_batch_id_seq')").fetchone()
        _load(conn, batch_id, values)
        conn.execute("analyze quality.audit_rows")
        for spec in specs:
            for e in spec["expectations"]:
                kwargs = fragments.resolve_params(e["kwargs"])
                cur = conn.execute(_runnable(kwargs["unexpected_rows_query"], batch_id))
                names = [d.name for d in cur.description]
                rows = [dict(zip(names, r, strict=True)) for r in cur.fetchmany(MAX_ROWS)]
                out.append(PreviewResult(spec["name"], {**e, "kwargs": kwargs}, rows))
    return out
