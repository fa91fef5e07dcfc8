"""Custom expectations for rules GX has no built-in for. Importing this module registers them.

- `expect_column_values_to_be_whole_numbers` (column map; PostgreSQL and pandas):
  counts of firms and persons must be whole numbers (`value.not_integer`).
- `expect_table_cells_to_not_look_like_formulas` (batch; pandas): no cell of a
  published CSV may start like a spreadsheet formula (`=`, `+`, `-`, `@`, tab,
  CR) unless it is escaped with a leading apostrophe; a plain number such as
  `-3.2` is not a formula and passes.

Cross-row rules (sub-item ≤ parent, YTD non-decreasing, growth, membership,
ranks, cards, ...) are query-based (`unexpected_rows_expectation` with the SQL
in the suite JSON), so that they run in the database. This module re-declares
GX's `unexpected_rows_expectation` with one change: asked for a bare verdict
(`BOOLEAN_ONLY`, the first pass of whole-table gates, see stages.ONE_SCAN) it
runs only the count of the unexpected rows. GX's own runs the query twice, a
count and then the rows it never reports in that format; at nation scale the
reconciliation of 10.8 M marts rows with the raw values costs 45 s per run.
The rows are still fetched where they are reported: every other format (the
detail pass over the failures, submission audits).
"""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.result_format import ResultFormat
from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations import UnexpectedRowsExpectation as GxUnexpectedRowsExpectation
from great_expectations.expectations.expectation import BatchExpectation, ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider

try:  # SQLAlchemy is there whenever GX's SQL engine is
    import sqlalchemy as sa
except ImportError:  # pragma: no cover
    sa = None

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
MAX_CELLS_REPORTED = 20


def looks_like_formula(text: str) -> bool:
    """True for text a spreadsheet would evaluate: starts like a formula and is not a plain number."""
    return text.startswith(FORMULA_START) and not PLAIN_NUMBER.match(text)


class ColumnValuesWholeNumber(ColumnMapMetricProvider):
    condition_metric_name = "column_values.whole_number"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        import pandas as pd

        numbers = pd.to_numeric(column, errors="coerce")
        return numbers.notna() & (numbers == numbers.round(0))

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return column == sa.func.floor(column)


class ExpectColumnValuesToBeWholeNumbers(ColumnMapExpectation):
    """Expect column values to be whole numbers (nulls are ignored, as in every column map expectation)."""

    map_metric = "column_values.whole_number"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict] = {"tags": ["twotowns", "column map expectation"], "contributors": ["@twotowns"]}


class TableFormulaLikeCells(TableMetricProvider):
    """(line, column, text) of every cell that would be evaluated as a formula; line 2 is the first data row."""

    metric_name = "table.formula_like_cells"

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics, runtime_configuration):
        df, _, _ = execution_engine.get_compute_domain(domain_kwargs=metric_domain_kwargs,
                                                       domain_type=MetricDomainTypes.TABLE)
        cells = []
        for column in df.columns:
            if looks_like_formula(str(column)):
                cells.append((1, str(column), str(column)))
            for position, value in enumerate(df[column].tolist()):
                if isinstance(value, str) and looks_like_formula(value):
                    cells.append((position + 2, str(column), value))
        return tuple(cells)


class ExpectTableCellsToNotLookLikeFormulas(BatchExpectation):
    """Expect no cell (header included) to start like a spreadsheet formula unless escaped with an apostrophe.

    Published CSV files are opened in Excel/WPS: text starting with =, +, -, @, tab or
    CR would be evaluated (CSV injection). Plain numbers such as -3.2 are not formulas.
    """

    metric_dependencies = ("table.formula_like_cells",)
    domain_keys: ClassVar[tuple[str, ...]] = ("batch_id", "row_condition", "condition_parser")
    success_keys: ClassVar[tuple[str, ...]] = ()
    args_keys: ClassVar[tuple[str, ...]] = ()
    library_metadata: ClassVar[dict] = {"tags": ["twotowns", "batch expectation"], "contributors": ["@twotowns"]}

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
        cells = metrics["table.formula_like_cells"]
        return {
            "success": not cells,
            "result": {
                "observed_value": len(cells),
                "unexpected_count": len(cells),
                "details": {"cells": [{"line": line, "column": column, "text": text[:80]}
                                      for line, column, text in cells[:MAX_CELLS_REPORTED]]},
            },
        }


ROWS_METRIC = "unexpected_rows_query.table"


_registry_log = logging.getLogger("great_expectations.expectations.registry")
_level = _registry_log.level
_registry_log.setLevel(logging.ERROR)  # the re-declaration below is deliberate: no "Overwriting ..." warning
try:
    class UnexpectedRowsExpectation(GxUnexpectedRowsExpectation):
        """GX's unexpected_rows_expectation, which for a bare verdict counts the rows and does not fetch them."""

        def get_validation_dependencies(self, execution_engine=None, runtime_configuration=None):
            dependencies = super().get_validation_dependencies(execution_engine, runtime_configuration)
            if dependencies.result_format.get("result_format") == ResultFormat.BOOLEAN_ONLY:
                dependencies.remove_metric_configuration(ROWS_METRIC)
            return dependencies

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
            if ROWS_METRIC not in metrics:
                return {"success": metrics["unexpected_rows_query.row_count"] == 0}
            return super()._validate(metrics, runtime_configuration, execution_engine)
finally:
    _registry_log.setLevel(_level)
