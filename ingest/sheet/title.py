"""The title block above a sheet's header: 填报单位 names the county and 报告期 the period, each checked
against the other sheets and the file name."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from core import registry
from core.periods import Period, PeriodError, find_period
from core.text import normalize
from ingest.reader import Sheet, read_head
from ingest.sheet.cells import a1, text
from ingest.sheet.forms import FormSheet, form_of
from ingest.sheet.report import Context

_SNIFF_ROWS = 10


def find_county(text: str, seeds_dir: Path | None = None) -> set[str]:
    """County codes named in `text` by code, full name or short name (anywhere in it)."""
    s = normalize(text)
    tokens, lengths, always = _county_tokens(registry.folder(seeds_dir))
    found = set(always)
    for length in lengths:  # every substring of a token's length looked up: a registry of 2,800 counties
        for i in range(len(s) - length + 1):  # costs a few lookups per character, not 8,400 scans
            codes = tokens.get(s[i:i + length])
            if codes:
                found |= codes
    return found


@functools.cache
def _county_tokens(folder: Path) -> tuple[dict[str, frozenset[str]], tuple[int, ...], frozenset[str]]:
    """(token -> county codes, the tokens' lengths, the codes of an empty token, which every text contains)."""
    tokens: dict[str, set[str]] = {}
    for c in registry.counties(folder):
        for token in (c.code, c.name_zh, c.short_name):
            tokens.setdefault(token, set()).add(c.code)
    always = frozenset(tokens.pop("", ()))
    return ({t: frozenset(c) for t, c in tokens.items()}, tuple(sorted({len(t) for t in tokens})), always)


def labelled(texts: list[tuple[str, str]], label: str) -> list[tuple[str, str]]:
    """Texts following `label` (e.g. 填报单位) in the title block, with their cells."""
    out = []
    for i, (text_, cell) in enumerate(texts):
        t = normalize(text_)
        if label in t:
            rest = t.split(label, 1)[1].lstrip(":：")
            if not rest and i + 1 < len(texts):
                rest, cell = normalize(texts[i + 1][0]), texts[i + 1][1]
            # the rest may run into the next label on the same cell
            rest = re.split(r"表号|填报单位|报告期|单位[:：]", rest)[0]
            out.append((rest, cell))
    return out


def title_texts(sheet: Sheet, upto: int) -> list[tuple[str, str]]:
    """Every non-empty text of the first `upto` rows, with its cell, row by row."""
    return [(text(c), a1(r, ci)) for r, row in enumerate(sheet.rows[:upto]) for ci, c in enumerate(row) if text(c)]


def resolve_county(ctx: Context, found: dict[str, FormSheet]) -> None:
    """The report's county: the one 填报单位 of every sheet (else the file name's), agreeing with the file name."""
    named: dict[str, tuple[str, str]] = {}
    for fs in found.values():
        for text_, cell in fs.county_texts:
            codes = find_county(text_, ctx.seeds_dir)
            if len(codes) != 1:
                ctx.add("meta.county", sheet=fs.sheet.name, cell=cell,
                        detail=f"“{text_}”不是嘉兴市的县（市、区）" if text_ else "填报单位为空")
                return
            named.setdefault(codes.pop(), (fs.sheet.name, cell))
    from_name = find_county(Path(ctx.report.file_name).stem, ctx.seeds_dir)
    if len(named) > 1:
        ctx.add("meta.county", detail="各报表的填报单位不一致：" + "、".join(sorted(named)))
        return
    if not named:
        if len(from_name) == 1:
            ctx.report.county_code = from_name.pop()
            return
        ctx.add("meta.county", sheet=next(iter(found.values())).sheet.name, detail="表头中没有填报单位")
        return
    code = next(iter(named))
    if from_name and code not in from_name:
        sheet, cell = named[code]
        ctx.add("meta.county", sheet=sheet, cell=cell,
                detail=f"文件名指向 {'、'.join(sorted(from_name))}，表头填报单位为 {code}")
        return
    ctx.report.county_code = code


def _named_periods(ctx: Context, found: dict[str, FormSheet]) -> dict[Period, tuple[str, str]] | None:
    """The period each sheet's 报告期 names (the first one of a sheet), with its sheet and cell; None (with a
    finding) when one is not a quarter."""
    periods: dict[Period, tuple[str, str]] = {}
    for fs in found.values():
        for text_, cell in fs.period_texts:
            try:
                p = find_period(text_)
            except PeriodError as exc:
                ctx.add("meta.period", sheet=fs.sheet.name, cell=cell, detail=f"{exc}（只接受季末月份）")
                return None
            if p:
                periods.setdefault(p, (fs.sheet.name, cell))
                break
    return periods


def resolve_period(ctx: Context, found: dict[str, FormSheet]) -> None:
    """The report's period: the one 报告期 of every sheet (else the file name's), agreeing with the file name,
    and over by today."""
    periods = _named_periods(ctx, found)
    if periods is None:
        return
    try:
        from_name = find_period(Path(ctx.report.file_name).stem)
    except PeriodError:
        from_name = None
    if len(periods) > 1:
        ctx.add("meta.period", detail="各报表的报告期不一致：" + "、".join(str(p) for p in sorted(periods)))
        return
    if not periods:
        if from_name:
            periods[from_name] = ("", "")
        else:
            ctx.add("meta.period", sheet=next(iter(found.values())).sheet.name, detail="表头中没有报告期")
            return
    period = next(iter(periods))
    sheet, cell = periods[period]
    if from_name and from_name != period:
        ctx.add("meta.period", sheet=sheet or None, cell=cell or None,
                detail=f"文件名为 {from_name}，表头报告期为 {period}")
        return
    if period.end > ctx.today:
        ctx.add("meta.period", sheet=sheet or None, cell=cell or None, detail=f"{period} 尚未结束")
        return
    ctx.report.period = period


def sniff_county(path: Path, file_name: str | None = None) -> str | None:
    """The county code the file's title block names (填报单位 on its form sheets), read cheaply
    (the first rows only), for grouping files before they are parsed; None when the file cannot be
    read or its sheets name no county, or more than one. Never reads the file name (which the
    parser checks against the title block) and never raises. Whatever it says, the parser decides."""
    name = file_name or Path(path).name
    try:
        codes: set[str] = set()
        for sheet in read_head(Path(path), name, _SNIFF_ROWS):
            if sheet.hidden or form_of(sheet, name, Path(name).suffix.lower() == ".csv") is None:
                continue
            for text_, _cell in labelled(title_texts(sheet, _SNIFF_ROWS), "填报单位"):
                codes |= find_county(text_) or {""}  # a label naming no county: unknown
        return codes.pop() if len(codes) == 1 and "" not in codes else None
    except Exception:  # unreadable, damaged, or anything else: the file is grouped alone and parsed as usual
        return None
