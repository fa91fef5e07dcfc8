"""Header matching: catalogue aliases, units in brackets or in a unit row, and the optional
same-period-last-year (上年同期) columns of an indicator (reporting-spec §3)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from core import registry
from core.registry import Indicator
from core.text import normalize

CODE_HEADERS = {"代码", "编码", "单位代码", "小镇代码", "镇代码", "乡镇代码", "行政区划代码", "code"}
NAME_HEADERS = {"名称", "单位名称", "小镇名称", "镇名称", "乡镇名称", "名字", "县(市、区)", "县(市,区)", "name"}
_OF_WHICH = re.compile(r"^(#|其中[:：]?)+")
_TRAILING_UNIT = re.compile(r"^(.*?)\(([^()]*)\)$")
_UNIT_LABEL = re.compile(r"^(计量)?单位[:：]?")
# 上年同期 / 上年同期数 / 去年同期: before or after the indicator's name (optionally in brackets), unit last
PRIOR_WORDS = ("上年同期数", "上年同期", "去年同期")
_PRIOR = "|".join(PRIOR_WORDS)
_PRIOR_NAMED = re.compile(
    rf"^(?P<pre>{_PRIOR})?(?P<body>.+?)(?P<post>\((?:{_PRIOR})\)|{_PRIOR})?(?P<unit>\([^()]*\))?$")


def _key(text: str) -> str:
    return _OF_WHICH.sub("", normalize(text)).lower()


@dataclass(frozen=True)
class HeaderMatch:
    kind: str  # 'code' | 'name' | 'indicator' | 'unknown'
    indicator: Indicator | None = None
    unit: str | None = None  # as written; None if the header has no unit
    prior: bool = False  # the indicator's value for the same period last year (上年同期)


@functools.cache
def _alias_index(form: str, seeds: Path) -> dict[str, Indicator]:
    index: dict[str, Indicator] = {}
    for ind in registry.form_indicators(form, seeds):
        for alias in (ind.name_zh, *ind.aliases):
            index.setdefault(_key(alias), ind)
    return index


def _match_indicator(key: str, form: str, seeds: Path) -> HeaderMatch | None:
    index = _alias_index(form, seeds)
    if key in index:
        return HeaderMatch("indicator", index[key])
    m = _TRAILING_UNIT.match(key)
    if m and m.group(1) in index:
        return HeaderMatch("indicator", index[m.group(1)], unit=m.group(2))
    return None


def _match_prior(key: str, form: str, seeds: Path) -> HeaderMatch | None:
    """`<indicator>上年同期（万元）` or `上年同期<indicator>（万元）`: the indicator's prior-year column.
    Only flows and stocks have one (a rate is already a comparison with last year)."""
    m = _PRIOR_NAMED.match(key)
    if not m or bool(m["pre"]) == bool(m["post"]):
        return None
    found = _match_indicator(_key(m["body"]) + (m["unit"] or ""), form, seeds)
    if found is None or found.indicator.kind == "rate_pct":
        return None
    return HeaderMatch("indicator", found.indicator, unit=found.unit, prior=True)


def match_header(text: str, form: str) -> HeaderMatch:
    """What a header cell names, by the catalogue of the configured seeds (core.registry.folder())."""
    return _match_header(text, form, registry.folder())


@functools.lru_cache(maxsize=8192)
def _match_header(text: str, form: str, seeds: Path) -> HeaderMatch:
    key = _key(text)
    if not key:
        return HeaderMatch("empty")
    if key in CODE_HEADERS:
        return HeaderMatch("code")
    if key in NAME_HEADERS:
        return HeaderMatch("name")
    return _match_indicator(key, form, seeds) or _match_prior(key, form, seeds) or HeaderMatch("unknown")


def is_prior_label(text: str) -> bool:
    """A sub-column heading 上年同期 (上年同期数, 去年同期), with or without a unit, under an indicator's group."""
    key = normalize(text)
    m = _TRAILING_UNIT.match(key)
    return (m.group(1) if m else key) in PRIOR_WORDS


def prior_header(ind: Indicator, unit: str | None) -> str:
    """The header text of the indicator's prior-year column, as a one-row header names it."""
    return f"{ind.name_zh}上年同期" + (f"（{unit}）" if unit else "")


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


def known_units() -> frozenset[str]:
    """Every unit the catalogue accepts (of the configured seeds)."""
    return _known_units(registry.folder())


@functools.cache
def _known_units(seeds: Path) -> frozenset[str]:
    return frozenset(normalize(u) for ind in registry.indicators(seeds) for u in ind.accepted_units)


def unit_factor(ind: Indicator, unit: str | None) -> float | None:
    """Factor to the canonical unit; None if the unit is not accepted. No unit: canonical."""
    if unit is None:
        return 1.0
    for accepted, factor in ind.accepted_units.items():
        if normalize(accepted) == normalize(unit):
            return factor
    return None
