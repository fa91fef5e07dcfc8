"""Airflow assets that connect the two-towns DAGs."""

from airflow.sdk import Asset

# Emitted by county_reports when a report was loaded; extra: {"periods": [...], "accepted": n, ...}
RAW_REPORTS = Asset(name="raw_county_reports", uri="twotowns://warehouse/raw/report_values", group="twotowns")
# Emitted by warehouse_build when the marts passed their audit.
MARTS = Asset(name="marts", uri="twotowns://warehouse/marts", group="twotowns")
