"""Findings: what is wrong (or notable) in a report, where, and how to fix it.

Every finding has a stable code from the reporting contract, a severity, the
sheet and A1 cell where there is one, and a message in Chinese (for the county
office) with an English one beside it. Messages are templates filled with the
finding's facts, so the same problem always reads the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR, WARNING, INFO = "error", "warning", "info"

# code -> (severity, Chinese template, English template)
CATALOGUE: dict[str, tuple[str, str, str]] = {
    "file.unreadable": (ERROR, "文件无法读取：{detail}。请另存为 .xlsx（或 .xls / .csv）后重新报送。",
                        "The file cannot be read: {detail}. Save it as .xlsx (or .xls / .csv) and send it again."),
    "meta.county": (ERROR, "填报单位有误：{detail}。请在表头“填报单位”处填写本县（市、区）名称或代码。",
                    "Reporting county problem: {detail}. Put your county's name or code after 填报单位 in the title block."),
    "meta.period": (ERROR, "报告期有误：{detail}。请按“2016年1-9月”的格式填写季末报告期。",
                    "Reporting period problem: {detail}. Write the quarter-end period like 2016年1-9月."),
    "sheet.missing": (ERROR, "缺少报表 {form}（{label}）。{detail}",
                      "Form {form} ({label}) is missing. {detail_en}"),
    "header.required": (ERROR, "缺少必填指标列“{name}”。请按报表制度补充该列。",
                        "Required column “{name}” ({indicator}) is missing. Add it as the reporting contract says."),
    "header.unit": (ERROR, "指标“{name}”的计量单位“{unit}”不被接受，可用单位：{accepted}。",
                    "Unit “{unit}” of “{name}” is not accepted; use one of: {accepted}."),
    "header.unknown": (WARNING, "列“{header}”不在指标目录中，已忽略。",
                       "Column “{header}” is not in the indicator catalogue and was ignored."),
    "row.town_unknown": (ERROR, "“{label}”不是本县（市、区）登记的小镇/试点镇。请核对代码和名称。",
                         "“{label}” is not a registered town of this county. Check the code and name."),
    "row.town_not_member": (ERROR, "“{label}”在本报告期不是{programme_zh}成员，请删除该行。",
                            "“{label}” is not a member of the {programme_en} programme in this period; remove the row."),
    "row.duplicate": (ERROR, "“{label}”在本表中出现了两次（另见第 {other_row} 行），请删除重复行。",
                      "“{label}” appears twice in this form (see also row {other_row}); remove the duplicate."),
    "row.member_missing": (ERROR, "缺少成员“{label}”的数据行，请补充。",
                           "Member town “{label}” has no row; add it."),
    "row.identity": (WARNING, "该行只填写了{given}，已据此识别为“{label}”，请补全代码和名称。",
                     "The row gives only its {given_en}; identified as “{label}”. Fill in both code and name."),
    "value.not_number": (ERROR, "“{name}”应为数值，实际为“{raw}”。请填写数字（未报送可填“-”）。",
                         "“{name}” must be a number, found “{raw}”. Enter a number (or “-” if not reported)."),
    "value.required": (ERROR, "必填指标“{name}”未填报。请填写数值（确为零请填 0）。",
                       "Required indicator “{name}” is not reported. Enter the value (0 if it really is zero)."),
    "value.negative": (ERROR, "“{name}”不能为负数（{value}）。",
                       "“{name}” cannot be negative ({value})."),
    "value.not_integer": (ERROR, "“{name}”应为整数（{value}）。",
                          "“{name}” must be a whole number ({value})."),
    "value.parent": (ERROR, "“{name}”（{value}）大于其上级指标“{parent_name}”（{parent_value}），请核对。",
                     "“{name}” ({value}) exceeds its parent “{parent_name}” ({parent_value}); check both."),
    "value.total": (ERROR, "合计行“{name}”为 {value}，与各行之和 {expected} 不符，请核对。",
                    "The total of “{name}” is {value} but the rows add up to {expected}; check them."),
    "value.ytd_decrease": (ERROR, "“{name}”为年初累计数，本期 {value} 低于上期已接收的 {previous}，请核对。",
                           "“{name}” is year-to-date: {value} is below last quarter's accepted {previous}; check it."),
    "value.growth_outlier": (WARNING, "“{name}”同比增长 {growth}%，超出 {min}%～{max}% 的合理范围，请核实。",
                             "“{name}” grew {growth}% year on year, outside {min}%…{max}%; please verify."),
    "value.prior_mismatch": (WARNING, "“{name}”填报的上年同期数 {reported} 与上年已接收的同期数 {accepted} 相差 {diff}，超过容差 {tolerance}，按上年数据的修订处理，请核实。",
                             "“{name}”: the reported same period last year, {reported}, differs from last year's accepted value {accepted} by {diff}, over the tolerance {tolerance}; it is treated as a revision of last year's figure. Please verify."),
    "value.growth_mismatch": (WARNING, "报告的地区生产总值增速 {reported}% 与按数值计算的名义增速 {computed}% 相差超过 {tolerance} 个百分点，请核实。",
                              "Reported GDP growth {reported}% differs from the nominal growth {computed}% by more than {tolerance} pp; please verify."),
    "submission.late": (WARNING, "报送时间 {received} 晚于截止日期 {deadline}，已接收并标记为迟报。",
                        "Received {received}, after the deadline {deadline}: accepted and marked late."),
    "submission.held": (INFO, "本报表已收到并妥善保存，但系统处理时发生内部错误（{detail}），暂缓处理；这不是报表内容的问题，无需修改或重报。数据团队已收到通知，修复后将按原接收时间重新处理，并另发回执。",
                        "The report was received and kept, but an internal error ({detail}) stopped its processing; this is not a problem with its content, so nothing needs fixing or resending. The data team has been alerted and will process it again with its original receipt time; you will get a new receipt."),
    "submission.duplicate": (INFO, "该文件与 {first_received} 已报送的文件完全相同，未产生新版本。",
                             "This file is byte-identical to one received {first_received}; no new version."),
    "check.history_skipped": (INFO, "未连接数据仓库，跨期检查（累计数下降、增速异常、上年同期核对）未执行。",
                              "No warehouse connection: the cross-period checks (YTD decrease, growth, same period last year) were skipped."),
}


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    sheet: str | None
    cell: str | None
    town_code: str | None
    indicator: str | None
    message_zh: str
    message_en: str

    def to_dict(self) -> dict:
        return asdict(self)


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return ""


def finding(code: str, *, sheet: str | None = None, cell: str | None = None,
            town_code: str | None = None, indicator: str | None = None, **facts: object) -> Finding:
    severity, zh, en = CATALOGUE[code]
    values = _Default({k: ("" if v is None else v) for k, v in facts.items()})
    return Finding(severity, code, sheet, cell, town_code, indicator,
                   zh.format_map(values), en.format_map(values))


def count(findings: list[Finding], severity: str) -> int:
    return sum(1 for f in findings if f.severity == severity)
