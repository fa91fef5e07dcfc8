"""Airflow assets that connect the two-towns DAGs, and the quarter that travels with them.

    county_reports ──RAW_REPORTS──> warehouse_build ──MARTS──> nightly_publish ──PUBLICATION──>
                                                                (quarterly_bulletin reads it)

Asset-triggered runs have no logical date, so the reporting periods a run is about
travel in the asset event's `extra` ({"periods": ["2016Q3", ...], ...}) or, for a run
started by hand or by `python -m ops`, in the run's params. `periods_of_run` reads both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from airflow.sdk import Asset

# Emitted by county_reports when a report was loaded; extra: {"periods": [...], "accepted": n, ...}
RAW_REPORTS = Asset(name="raw_county_reports", uri="twotowns://warehouse/raw/report_values", group="twotowns")
# Emitted by warehouse_build when the marts passed their audit; extra: {"periods": [...], "dbt_invocation_id": ...}
MARTS = Asset(name="marts", uri="twotowns://warehouse/marts", group="twotowns")
# Emitted by nightly_publish when a new publication version went live; extra: {"version": ..., "periods": [...]}
PUBLICATION = Asset(name="publication", uri="twotowns://publication/latest", group="twotowns")


def periods_from_events(events: Iterable) -> list[str]:
    """The union of the `periods` in the extras of asset events (oldest first or not: sorted)."""
    periods: set[str] = set()
    for event in events or ():
        extra = getattr(event, "extra", None) or {}
        periods.update(str(p) for p in extra.get("periods") or ())
    return sorted(periods)


def periods_of_run(context: Mapping, asset: Asset, param: str = "periods") -> list[str]:
    """The periods a run is about: from the triggering events of `asset` (scheduled on the
    asset), else from the run's params (manual runs, backfills, `dag.test()`); [] means all."""
    periods: set[str] = set()
    triggering = context.get("triggering_asset_events") or {}
    try:
        periods.update(periods_from_events(triggering[asset]))
    except KeyError:
        pass
    params = context.get("params") or {}
    periods.update(str(p) for p in params.get(param) or ())
    return sorted(periods)
