"""The footer under a sheet's table: 填报人, 联系电话 and 报出日期, kept as the report's metadata."""

from __future__ import annotations

import re
from datetime import date

from core.text import normalize

_FOOTER_PREFIXES = ("注", "说明", "填报人", "单位负责人", "统计负责人", "联系电话", "报出日期", "审核人", "制表人")
_CN_DATE = re.compile(r"(20\d\d)\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})")


def starts_footer(first_text: str) -> bool:
    """A row whose first text (normalized) opens the footer: every row from it on is footer."""
    return first_text.startswith(_FOOTER_PREFIXES)


def read_footer(texts: list[str], metadata: dict[str, object]) -> None:
    """The reporter, phone and report date of a footer row into `metadata` (the first one found counts)."""
    joined = " ".join(texts)
    s = normalize(joined)
    for label, key in (("填报人", "reporter"), ("联系电话", "phone")):
        m = re.search(label + r"[:：]?([^:：]*?)(?=填报人|联系电话|报出日期|单位负责人|统计负责人|$)", s)
        if m and m.group(1):
            metadata.setdefault(key, m.group(1))
    if "报出日期" in s:
        m = _CN_DATE.search(s.split("报出日期", 1)[1])
        if m:
            try:
                metadata.setdefault("report_date", date(int(m[1]), int(m[2]), int(m[3])))
            except ValueError:
                pass
