"""Chinese label and unit of every published column (datasets.json, the workbook's first row).

A column means the same in every dataset it appears in. A published column without
an entry here fails the publication tests, so a new column always gets its label.
"""

from __future__ import annotations

# column -> (Chinese label, unit or None)
COLUMNS: dict[str, tuple[str, str | None]] = {
    "year": ("年份", None),
    "quarter": ("季度", None),
    "county_code": ("县（市、区）代码", None),
    "town_code": ("小镇/试点镇代码", None),
    "name_zh": ("名称", None),
    "programme": ("项目（characteristic 特色小镇 / pilot 小城市培育试点镇）", None),
    "tier": ("层级", None),
    "list_name": ("名单", None),
    "valid_from": ("有效期起", None),
    "valid_to": ("有效期止", None),
    "status": ("状态", None),
    "indicator": ("指标代码", None),
    "unit": ("计量单位", None),
    "value_ytd": ("年初至本期累计值（存量为期末值）", "见 unit"),
    "value_ytd_prev_year": ("上年同期值", "见 unit"),
    "growth_pct": ("同比增长", "%"),
    "reported_growth_pct": ("报送的可比价增速", "%"),
    "source_file_sha256": ("来源文件 SHA-256", None),
    "source_sheet": ("来源工作表", None),
    "source_cell": ("来源单元格", None),
    "fai_ytd": ("固定资产投资累计", "万元"),
    "annual_task": ("年度投资任务", "万元"),
    "progress_ratio": ("投资完成率", "比例"),
    "expected_pace": ("序时进度", "比例"),
    "early_warning": ("预警（连续两个季度滞后）", None),
    "gdp_growth_pct": ("地区生产总值增速", "%"),
    "target_gdp_growth_pct": ("地区生产总值增速目标", "%"),
    "fiscal_growth_pct": ("财政总收入增速", "%"),
    "fai_growth_pct": ("固定资产投资增速", "%"),
    "tertiary_share_change_pp": ("三产增加值占比变化", "百分点"),
    "employment_share_change_pp": ("二三产业从业人员占比变化", "百分点"),
    "builtup_concentration_change_pp": ("建成区人口集聚率变化", "百分点"),
    "actual": ("实际值", "见 indicator"),
    "target": ("目标值", "见 unit / indicator"),
    "floor": ("零分线", "见 indicator"),
    "weight": ("权重", "分"),
    "points": ("得分", "分"),
    "score": ("总分", "分"),
    "grade": ("等次", None),
    "rank_in_tier": ("层级内排名", None),
    "investment_completion": ("年度投资任务完成率", "比例"),
    "yellow_card": ("本年黄牌", None),
    "yellow_cards_in_round": ("本轮累计黄牌", "张"),
    "removed_next_year": ("次年调整出试点", None),
    "eliminated_next_year": ("次年淘汰", None),
    "downgrade_warning": ("降档预警", None),
    "notes": ("说明", None),
    "kpi": ("工作目标代码", None),
    "value": ("实际值", "见 unit"),
    "met": ("是否完成", None),
    "version": ("版本", None),
    "received_at": ("接收时间（UTC）", None),
    "deadline": ("报送截止日期", None),
    "late": ("是否迟报", None),
    "errors": ("错误数", "条"),
    "warnings": ("警告数", "条"),
    "file_sha256": ("文件 SHA-256", None),
    "is_current": ("是否现行版本", None),
}


def label(column: str) -> dict:
    """{"label_zh": ..., "unit": ...}; an unlabelled column is labelled with its own name."""
    zh, unit = COLUMNS.get(column, (column, None))
    return {"label_zh": zh, "unit": unit}
