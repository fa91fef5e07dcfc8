"""Header matching: catalogue aliases, units in brackets or in a unit row."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ingest.registry import Indicator, form_indicators
from ingest.text import normalize

CODE_HEADERS = {"代码", "编码", "单位代码", "小镇代码", "镇代码", "乡镇代码", "行政区划代码", "code"}
NAME_HEADERS = {"名称", "单位名称", "小镇名称", "镇名称", "乡镇名称", "名字", "县(市、区)", "县(市,区)", "name"}
_OF_WHICH = re.compile(r"^(#|其中[:：]?)+")
_TRAILING_UNIT = re.compile(r"^(.*?)\(([^()]*)\)$")
_UNIT_LABEL = re.compile(r"^(计量)?单位[:：]?")


def _key(text: str) -> str:
    return _OF_WHICH.sub("", normalize(text)).lower()


@dataclass(frozen=True)
class HeaderMatch:
    kind: str  # 'code' | 'name' | 'indicator' | 'unknown'
    indicator: Indicator | None = None
    unit: str | None = None  # as written; None if the header has no unit


@functools.cache
def _alias_index(form: str) -> dict[str, Indicator]:
    index: dict[str, Indicator] = {}
    for ind in form_indicators(form):
        for alias in (ind.name_zh, *ind.aliases):
            index.setdefault(_key(alias), ind)
    return index


@functools.lru_cache(maxsize=8192)
def match_header(text: str, form: str) -> HeaderMatch:
    key = _key(text)
    if not key:
        return HeaderMatch("empty")
    if key in CODE_HEADERS:
        return HeaderMatch("code")
    if key in NAME_HEADERS:
        return HeaderMatch("name")
    index = _alias_index(form)
    if key in index:
        return HeaderMatch("indicator", index[key])
    m = _TRAILING_UNIT.match(key)
    if m and m.group(1) in index:
        return HeaderMatch("indicator", index[m.group(1)], unit=m.group(2))
    return HeaderMatch("unknown")


def unit_cell(text: object) -> str | None:
    """The unit written in a unit row cell ('万元', '(万元)', '单位：万元'), None if not a unit."""
    s = normalize(text)
    s = _UNIT_LABEL.sub("", s)
    s = s.strip("()")
    return s or None


def unit_in_brackets(text: str) -> str | None:
    """The unit in trailing brackets of a label such as 投资情况（万元）, if it is a known unit."""
    m = _TRAILING_UNIT.match(normalize(text))
    return m.group(2) if m and m.group(2) in known_units() else None


@functools.cache
def known_units() -> frozenset[str]:
    units: set[str] = set()
    for form in ("LZ-0", "LZ-1", "LZ-2"):
        for ind in form_indicators(form):
            units.update(normalize(u) for u in ind.accepted_units)
    return frozenset(units)


def unit_factor(ind: Indicator, unit: str | None) -> float | None:
    """Factor to the canonical unit; None if the unit is not accepted. No unit: canonical."""
    if unit is None:
        return 1.0
    for accepted, factor in ind.accepted_units.items():
        if normalize(accepted) == normalize(unit):
            return factor
    return None
