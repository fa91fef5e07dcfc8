"""The published datasets (a contract: see shared/domain/publication.md), their stable row order, and how
a partitioned dataset splits its rows: read by publish (which writes them) and by the publication audit
(expectations.publication, which reads them back).

A dataset whose mart table has not been built is skipped by the exporter and listed in the manifest's
`missing_datasets` (publish.wap), so a dataset may be named here before dbt builds it. A large dataset is
published partitioned (publish.stream): one file per year, and per province (the first two digits of
county_code), `<dataset>/year=2024/province=33/part.csv`.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


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



def published() -> tuple[Dataset, ...]:
    """The published datasets, in publication order (read when asked: a test of the recipe for a new
    dataset adds one to DATASETS)."""
    return DATASETS


PARTITION_KEYS = {
    "year": {"column": "year", "label_zh": "年份", "label_en": "year"},
    "province": {"column": "county_code", "label_zh": "省份代码（县级代码前两位）",
                 "label_en": "province code: the first two digits of county_code"},
}


def count_rows(conn, name: str) -> int:
    return conn.execute(sql.SQL("select count(*) from {}.{}").format(
        sql.Identifier("marts"), sql.Identifier(name))).fetchone()[0]


def key_sql(partition_by: tuple[str, ...]) -> list[sql.Composable]:
    return [sql.SQL("left({}, 2)").format(sql.Identifier("county_code")) if k == "province"
            else sql.Identifier(PARTITION_KEYS[k]["column"]) for k in partition_by]


def partition_counts(conn, name: str, partition_by: tuple[str, ...]) -> dict[tuple, int]:
    """Rows of marts.<name> per partition key (one entry, key (), when not partitioned)."""
    if not partition_by:
        return {(): count_rows(conn, name)}
    keys = key_sql(partition_by)
    query = sql.SQL("select {}, count(*) from {}.{} group by {}").format(
        sql.SQL(", ").join(keys), sql.Identifier("marts"), sql.Identifier(name),
        sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(keys))))
    return {tuple(r[:-1]): r[-1] for r in conn.execute(query).fetchall()}
