"""The published datasets (a contract: see shared/domain/publication.md) and their stable row order.

A dataset whose mart table has not been built is skipped by the exporter and listed in the manifest's
`missing_datasets` (publish.wap), so a dataset may be named here before dbt builds it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    name: str
    label_zh: str
    order_by: tuple[str, ...]  # a total order, so that every export is byte-identical


DATASETS: tuple[Dataset, ...] = (
    Dataset("towns", "小镇名录", ("town_code", "valid_from")),
    Dataset("town_quarter_indicators", "小镇季度指标", ("year", "quarter", "town_code", "indicator")),
    Dataset("investment_progress", "特色小镇投资进度", ("year", "quarter", "town_code")),
    Dataset("pilot_targets", "试点镇目标完成情况", ("year", "town_code")),
    Dataset("assessment_components", "年度考核分项得分", ("year", "town_code", "indicator")),
    Dataset("town_annual_assessment", "年度考核结果", ("year", "town_code")),
    Dataset("programme_kpis", "两镇工作目标", ("year", "kpi")),
    Dataset("decisions", "决定登记", ("decision_id",)),
    Dataset("round_summary", "轮次（批次）绩效评估", ("programme", "list_name", "town_code")),
    Dataset("submissions", "县（市、区）报送情况", ("county_code", "year", "quarter", "received_at", "file_sha256")),
)
