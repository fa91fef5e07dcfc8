"""An independent recomputation of the annual assessment of programme-rules v2 (§4 and §5).

Written from the rules text (shared/domain/programme-rules.md, version 2), apart from the dbt
models and without reading the project's policy seeds: the default policy numbers of the rules are
constants here. Input: the five published datasets `towns`, `town_quarter_indicators`,
`investment_progress`, `pilot_targets` and `decisions`, as lists of dicts (rows of a publication
version's CSV or Parquet files, or of the marts); values may be text (CSV) or typed (Parquet,
psycopg). Output: per (year, town_code) what `town_annual_assessment` must say.

How the rules are read (where the text leaves room, the decisions of the session contract):

- assessed years: the years a policy covers (2016–2018; 2015 is the baseline, not assessed) for which
  the publication holds Q4 values (the assessment comes "after Q4");
- a town is assessed for a year when a `towns` row (valid_to: effective, after decisions) covers
  31 December; programme, tier and list_name are that row's;
- actual values from the Q4 row of `town_quarter_indicators`: growth = value_ytd /
  value_ytd_prev_year − 1; a share change = the Q4 share − the share of the prior-year values
  (value_ytd_prev_year of numerator and denominator); investment completion = Q4 FAI / the annual
  task of the year (the `investment_progress` Q4 row), unrounded;
- a current Q4 value that the score needs is missing (no row, or no value; for a municipal pilot
  also its county's GDP growth, `pilot_targets.county_gdp_growth_pct`): *pending*: no score, grade,
  rank or proposal. A prior-year value missing or zero: that indicator is not scored and the total is
  rescaled to 100 over the scored weights;
- score rounded to 6 decimals (half away from zero, as PostgreSQL's round); grade, rank, ties and
  proposals use the rounded score; task completion is compared unrounded;
- comparable: not pending and the scored weights are at least 60% of the scheme's;
- rank: SQL rank() by score descending among comparable towns of (year, programme, tier);
- proposals and decided booleans as §5 says (see `_proposals`).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

DATASETS = ("towns", "town_quarter_indicators", "investment_progress", "pilot_targets", "decisions")
PROPOSAL_ORDER = ("eliminate", "yellow_card", "remove", "downgrade_risk", "excellent_candidate")
CHARACTERISTIC_TIERS = ("provincial_creation", "provincial_cultivation", "municipal", "county")

D = Decimal
SIX = D("0.000001")

# ------------------------------------------------------------------ programme-rules v2, default policy
# (weight, target, floor) in the rules' own units: shares, growth and share changes as fractions
# (0.10 = 10%, 0.01 = 1 pp); GDP growth is the reported rate in percent; new firms a count.
CHARACTERISTIC = {
    "investment_completion": (D(40), D("1.00"), D("0.50")),
    "feature_share": (D(20), D("0.70"), D("0.50")),
    "tax_revenue_growth": (D(15), D("0.10"), D(0)),
    "operating_revenue_growth": (D(15), D("0.10"), D(0)),
    "new_firms": (D(10), D(20), D(0)),
}
PROVINCIAL_PILOT = {
    "gdp_growth": (D(20), D(10), D(0)),
    "fiscal_revenue_growth": (D(20), D("0.10"), D(0)),
    "fai_growth": (D(20), D("0.18"), D(0)),
    "tertiary_share_change": (D(20), D("0.01"), D("-0.01")),
    "employment_share_change": (D(20), D("0.01"), D("-0.01")),
}
MUNICIPAL_PILOT = {
    # GDP growth: target and floor are added to the county's reported growth (percent)
    "gdp_growth": (D(20), D(2), D(0)),
    "fiscal_revenue_growth": (D(20), D("0.10"), D(0)),
    "fai_growth": (D(20), D("0.16"), D(0)),
    "tertiary_share_change": (D(20), D("0.01"), D("-0.01")),
    "builtup_concentration_change": (D(20), D("0.01"), D("-0.01")),
}

# How each indicator's actual value is measured: (kind, current indicators it needs)
MEASURES = {
    "investment_completion": ("completion", ("fai",)),
    "feature_share": ("share", ("fai_feature", "fai")),
    "tax_revenue_growth": ("growth", ("tax_revenue",)),
    "operating_revenue_growth": ("growth", ("operating_revenue",)),
    "new_firms": ("level", ("new_firms",)),
    "gdp_growth": ("level", ("gdp_growth",)),
    "fiscal_revenue_growth": ("growth", ("fiscal_revenue",)),
    "fai_growth": ("growth", ("fai",)),
    "tertiary_share_change": ("share_change", ("tertiary_va", "gdp")),
    "employment_share_change": ("share_change", ("employed_sec_ter", "employed")),
    "builtup_concentration_change": ("share_change", ("builtup_pop", "resident_pop")),
}


@dataclass(frozen=True)
class Policy:
    """The default policy numbers of programme-rules v2 (§4, §5)."""

    years: tuple[int, ...] = (2016, 2017, 2018)
    schemes: dict = field(default_factory=lambda: {
        **{("characteristic", t): dict(CHARACTERISTIC) for t in CHARACTERISTIC_TIERS},
        ("pilot", "provincial"): dict(PROVINCIAL_PILOT),
        ("pilot", "municipal"): dict(MUNICIPAL_PILOT),
    })
    grades: tuple[tuple[Decimal, str], ...] = ((D(90), "优秀"), (D(75), "良好"), (D(60), "合格"), (D(0), "不合格"))
    failing_grades: frozenset = frozenset({"不合格"})
    min_comparable_weight_share: Decimal = D("0.60")
    eliminate_min_completion: Decimal = D("1.00")  # municipal characteristic towns
    downgrade_risk_min_completion: Decimal = D("1.00")  # provincial creation-list towns
    yellow_card_bottom_n: int = 2
    yellow_card_min_group: int = 4
    cards_for_removal: int = 2
    excellent_candidate_max_rank: int = 3

    def with_weights(self, programme: str, tier: str, **weights) -> Policy:
        """The same policy with some weights of one (programme, tier) changed."""
        scheme = dict(self.schemes[(programme, tier)])
        for indicator, weight in weights.items():
            _, target, floor = scheme[indicator]
            scheme[indicator] = (D(str(weight)), target, floor)
        return replace(self, schemes={**self.schemes, (programme, tier): scheme})


DEFAULT_POLICY = Policy()


# ------------------------------------------------------------------ values of any origin


def dec(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return D(repr(value))
    return D(str(value).strip())


def boolean(value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "t", "1"):
        return True
    if text in ("false", "f", "0"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def day(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def integer(value) -> int | None:
    if value is None or value == "":
        return None
    return int(D(str(value)))


def text(value) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def codes(value) -> frozenset[str]:
    """A comma-separated code list (proposals) as a set."""
    if value is None:
        return frozenset()
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(value)
    return frozenset(c.strip() for c in str(value).split(",") if c.strip())


# ------------------------------------------------------------------ reading a publication

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _unescape(cell: str) -> str:
    """The publication escapes formula-like text with a leading apostrophe (numbers never are)."""
    if cell.startswith("'") and cell[1:].startswith(_FORMULA_PREFIXES):
        return cell[1:]
    return cell


def read_dataset(folder: Path, name: str) -> list[dict]:
    """One dataset of a publication version folder: its CSV (UTF-8 with BOM), else its Parquet."""
    path = Path(folder) / f"{name}.csv"
    if path.exists():
        with open(path, encoding="utf-8-sig", newline="") as f:
            return [{k: _unescape(v) for k, v in row.items()} for row in csv.DictReader(f)]
    path = Path(folder) / f"{name}.parquet"
    if path.exists():
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    raise FileNotFoundError(f"{name}: neither {name}.csv nor {name}.parquet in {folder}")


def latest_version_folder(url: str) -> Path:
    """The folder of the version LATEST names, for a local (file://) publication target."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    parsed = urlparse(url)
    root = Path(url2pathname(parsed.path)) if parsed.scheme == "file" else Path(url)
    version = (root / "LATEST").read_text(encoding="utf-8").strip()
    return root / "v" / version


def load_publication(folder: Path, names: tuple[str, ...] = DATASETS) -> dict[str, list[dict]]:
    return {name: read_dataset(folder, name) for name in names}


# ------------------------------------------------------------------ the recomputation


@dataclass
class Component:
    indicator: str
    weight: Decimal
    target: Decimal | None
    floor: Decimal | None
    actual: Decimal | None
    points: Decimal | None  # None: not scored (or pending)
    status: str  # ok / not_scored / missing


@dataclass
class Expected:
    year: int
    town_code: str
    programme: str
    tier: str
    list_name: str | None
    pending: bool
    missing: list[str]  # the current values a pending result waits for
    score: Decimal | None  # 6 decimals
    grade: str | None
    comparable: bool
    rank_in_tier: int | None
    proposals: tuple[str, ...]  # in the published order
    card_tie: bool
    yellow_card: bool  # decided
    removed_next_year: bool  # decided
    eliminated_next_year: bool  # decided
    yellow_cards_in_round: int  # decided, in this list_name up to this year
    investment_completion: Decimal | None  # unrounded
    scored_weight: Decimal
    total_weight: Decimal
    components: dict[str, Component]

    @property
    def downgrade_warning(self) -> bool:
        return "downgrade_risk" in self.proposals

    @property
    def rescaled(self) -> bool:
        return not self.pending and self.scored_weight < self.total_weight


def _clamp01(x: Decimal) -> Decimal:
    return min(max(x, D(0)), D(1))


def assessed_years(datasets: dict[str, list[dict]], policy: Policy = DEFAULT_POLICY) -> list[int]:
    """Years a policy covers for which the publication holds Q4 values."""
    q4_years = {integer(r["year"]) for r in datasets["town_quarter_indicators"] if integer(r["quarter"]) == 4}
    return sorted(y for y in policy.years if y in q4_years)


def _member_on(towns: list[dict], town_code: str, on: date) -> dict | None:
    rows = [r for r in towns if r["town_code"] == town_code and day(r["valid_from"]) <= on
            and (day(r["valid_to"]) is None or on <= day(r["valid_to"]))]
    if len(rows) > 1:
        raise ValueError(f"{town_code} has {len(rows)} memberships on {on}: {rows}")
    return rows[0] if rows else None


def recompute(datasets: dict[str, list[dict]], policy: Policy = DEFAULT_POLICY,
              years: list[int] | None = None) -> dict[tuple[int, str], Expected]:
    """Every assessed town-year, as programme-rules v2 says it must be published."""
    if years is None:
        years = assessed_years(datasets, policy)
    facts = {(r["town_code"], integer(r["year"]), integer(r["quarter"]), r["indicator"]): r
             for r in datasets["town_quarter_indicators"]}
    progress = {(r["town_code"], integer(r["year"]), integer(r["quarter"])): r for r in datasets["investment_progress"]}
    county_growth = {(r["town_code"], integer(r["year"])): dec(r.get("county_gdp_growth_pct"))
                     for r in datasets["pilot_targets"]}
    towns = datasets["towns"]
    out: dict[tuple[int, str], Expected] = {}
    with localcontext() as ctx:
        ctx.prec = 40
        for year in years:
            for town_code in sorted({r["town_code"] for r in towns}):
                m = _member_on(towns, town_code, date(year, 12, 31))
                if m is None:
                    continue
                out[(year, town_code)] = _assess(year, town_code, m, facts, progress, county_growth, policy)
        _rank(out)
        _proposals(out, datasets["decisions"], policy)
    return out


def _assess(year, town_code, m, facts, progress, county_growth, policy: Policy) -> Expected:
    programme, tier = m["programme"], m["tier"]
    scheme = policy.schemes[(programme, tier)]
    missing: list[str] = []

    def current(indicator):
        row = facts.get((town_code, year, 4, indicator))
        value = dec(row["value_ytd"]) if row else None
        if value is None:
            missing.append(indicator)
        return value

    def prior(indicator):
        row = facts.get((town_code, year, 4, indicator))
        return dec(row.get("value_ytd_prev_year")) if row else None

    components: dict[str, Component] = {}
    completion = None
    for indicator, (weight, target, floor) in scheme.items():
        kind, needs = MEASURES[indicator]
        values = [current(n) for n in needs]
        if programme == "pilot" and tier == "municipal" and indicator == "gdp_growth":
            base = county_growth.get((town_code, year))
            if base is None:
                missing.append("county_gdp_growth")
                target = floor = None
            else:
                target, floor = base + target, base + floor
        actual = None
        if all(v is not None for v in values) and target is not None:
            if kind == "level":
                actual = values[0]
            elif kind == "completion":
                p = progress.get((town_code, year, 4))
                task = dec(p["annual_task"]) if p else None
                if task is None:
                    missing.append("annual_task")
                elif task != 0:
                    actual = completion = values[0] / task
            elif kind == "share":
                actual = values[0] / values[1] if values[1] != 0 else None
            elif kind == "growth":
                before = prior(needs[0])
                actual = values[0] / before - 1 if before else None
            elif kind == "share_change":
                num_before, den_before = prior(needs[0]), prior(needs[1])
                if values[1] != 0 and num_before is not None and den_before:
                    actual = values[0] / values[1] - num_before / den_before
        points = None if actual is None else weight * _clamp01((actual - floor) / (target - floor))
        status = "ok" if points is not None else "not_scored"
        components[indicator] = Component(indicator, weight, target, floor, actual, points, status)

    pending = bool(missing)
    total = sum((w for w, _, _ in scheme.values()), D(0))
    scored = sum((c.weight for c in components.values() if c.points is not None), D(0))
    score = grade = None
    if pending:
        for c in components.values():
            c.points, c.status = None, "missing"
        scored = D(0)
    elif scored > 0:
        raw = sum((c.points for c in components.values() if c.points is not None), D(0)) * 100 / scored
        score = raw.quantize(SIX, rounding=ROUND_HALF_UP)
        grade = next(g for threshold, g in policy.grades if score >= threshold)
    comparable = (not pending and score is not None and total > 0
                  and scored / total >= policy.min_comparable_weight_share)
    return Expected(
        year=year, town_code=town_code, programme=programme, tier=tier, list_name=text(m.get("list_name")),
        pending=pending, missing=sorted(set(missing)), score=score, grade=grade, comparable=comparable,
        rank_in_tier=None, proposals=(), card_tie=False, yellow_card=False, removed_next_year=False,
        eliminated_next_year=False, yellow_cards_in_round=0, investment_completion=completion,
        scored_weight=scored, total_weight=total, components=components)


def _rank(out: dict[tuple[int, str], Expected]) -> None:
    """Competition ranking (SQL rank()) by score, descending, among comparable towns of (year, programme, tier)."""
    groups: dict[tuple, list[Expected]] = defaultdict(list)
    for e in out.values():
        if e.comparable:
            groups[(e.year, e.programme, e.tier)].append(e)
    for members in groups.values():
        for e in members:
            e.rank_in_tier = 1 + sum(o.score > e.score for o in members)


def _median(values: list[Decimal]) -> Decimal:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _proposals(out: dict[tuple[int, str], Expected], decisions: list[dict], policy: Policy) -> None:
    proposals: dict[tuple[int, str], set[str]] = defaultdict(set)

    # 建议淘汰, 降档风险, 优秀候选: on a comparable score
    for key, e in out.items():
        if not e.comparable:
            continue
        failing = e.grade in policy.failing_grades
        completion = e.investment_completion
        if (e.programme, e.tier) == ("characteristic", "municipal") and (
                failing or (completion is not None and completion < policy.eliminate_min_completion)):
            proposals[key].add("eliminate")
        if (e.programme, e.tier) == ("characteristic", "provincial_creation") and (
                failing or (completion is not None and completion < policy.downgrade_risk_min_completion)):
            proposals[key].add("downgrade_risk")
        if e.programme == "characteristic" and e.grade == "优秀" and e.rank_in_tier is not None \
                and e.rank_in_tier <= policy.excellent_candidate_max_rank:
            proposals[key].add("excellent_candidate")

    # 黄牌: the group (year, municipal pilots, round = list_name), comparable scores only
    groups: dict[tuple, list[Expected]] = defaultdict(list)
    for e in out.values():
        if (e.programme, e.tier) == ("pilot", "municipal") and e.comparable:
            groups[(e.year, e.list_name)].append(e)
    n = policy.yellow_card_bottom_n
    for members in groups.values():
        if len(members) < policy.yellow_card_min_group:
            continue
        scores = sorted(e.score for e in members)
        cutoff, median = scores[n - 1], _median(scores)
        carded = [e for e in members if e.score <= cutoff and e.score < median]
        for e in carded:
            proposals[(e.year, e.town_code)].add("yellow_card")
            e.card_tie = len(carded) > n and e.score == cutoff

    # decided booleans, and 建议调整 on the town-year of the round's second decided card
    decided: dict[tuple[int, str], set[str]] = defaultdict(set)
    cards: dict[tuple[str, str | None], set[int]] = defaultdict(set)  # (town, round) -> years of decided cards
    for d in decisions:
        year = integer(d.get("assessment_year"))
        if year is None:
            continue
        decided[(year, d["town_code"])].add(d["action"])
        if d["action"] == "yellow_card":
            assessed = out.get((year, d["town_code"]))
            round_ = text(d.get("list_name")) or (assessed.list_name if assessed else None)
            cards[(d["town_code"], round_)].add(year)
    for (town_code, round_), years in cards.items():
        ordered = sorted(years)
        if len(ordered) < policy.cards_for_removal:
            continue
        e = out.get((ordered[policy.cards_for_removal - 1], town_code))
        if e is not None and (e.programme, e.tier) == ("pilot", "municipal") and e.list_name == round_ \
                and not e.pending:
            proposals[(e.year, town_code)].add("remove")
    for key, e in out.items():
        actions = decided.get(key, set())
        e.yellow_card = "yellow_card" in actions
        e.removed_next_year = "remove" in actions
        e.eliminated_next_year = "eliminate" in actions
        e.yellow_cards_in_round = sum(1 for y in cards.get((e.town_code, e.list_name), ()) if y <= e.year)
        e.proposals = tuple(p for p in PROPOSAL_ORDER if p in proposals.get(key, ()))


# ------------------------------------------------------------------ comparing with a publication

FIELDS = ("score", "grade", "comparable", "pending", "rank_in_tier", "proposals", "card_tie", "yellow_card",
          "removed_next_year", "eliminated_next_year", "yellow_cards_in_round", "downgrade_warning",
          "investment_completion")


def published_view(row: dict) -> dict:
    """A published town_annual_assessment row in the terms of `Expected`."""
    completion = dec(row.get("investment_completion"))
    return {
        "score": dec(row.get("score")),
        "grade": text(row.get("grade")),
        "comparable": boolean(row.get("comparable")),
        "pending": boolean(row.get("pending")),
        "rank_in_tier": integer(row.get("rank_in_tier")),
        "proposals": codes(row.get("proposals")),
        "proposals_text": row.get("proposals"),
        "card_tie": boolean(row.get("card_tie")),
        "yellow_card": boolean(row.get("yellow_card")),
        "removed_next_year": boolean(row.get("removed_next_year")),
        "eliminated_next_year": boolean(row.get("eliminated_next_year")),
        "yellow_cards_in_round": integer(row.get("yellow_cards_in_round")),
        "downgrade_warning": boolean(row.get("downgrade_warning")),
        "investment_completion": completion,
    }


def discrepancies(expected: dict[tuple[int, str], Expected], published: list[dict]) -> list[str]:
    """Every disagreement between the recomputation and the published assessment, one line each."""
    got = {(integer(r["year"]), r["town_code"]): r for r in published}
    lines = [f"{y} {t}: published, not assessed by the rules" for y, t in sorted(set(got) - set(expected))]
    lines += [f"{y} {t}: assessed by the rules, not published" for y, t in sorted(set(expected) - set(got))]
    for key in sorted(set(got) & set(expected)):
        e, p = expected[key], published_view(got[key])
        mine = {
            "score": e.score, "grade": e.grade, "comparable": e.comparable, "pending": e.pending,
            "rank_in_tier": e.rank_in_tier, "proposals": frozenset(e.proposals), "card_tie": e.card_tie,
            "yellow_card": e.yellow_card, "removed_next_year": e.removed_next_year,
            "eliminated_next_year": e.eliminated_next_year, "yellow_cards_in_round": e.yellow_cards_in_round,
            "downgrade_warning": e.downgrade_warning,
        }
        for name, value in mine.items():
            if p[name] != value:
                shown = sorted(value) if isinstance(value, frozenset) else value
                theirs = sorted(p[name]) if isinstance(p[name], frozenset) else p[name]
                lines.append(f"{key[0]} {key[1]} ({e.programme}/{e.tier}): {name}: recomputed {shown!s} "
                             f"vs published {theirs!s}")
        order = [c for c in (p["proposals_text"] or "").split(",") if c]
        if order and order != [c for c in PROPOSAL_ORDER if c in order]:
            lines.append(f"{key[0]} {key[1]}: proposals not in the published order: {p['proposals_text']!r}")
        if e.investment_completion is not None and (
                p["investment_completion"] is None
                or abs(p["investment_completion"] - e.investment_completion) > D("0.0000005")):
            lines.append(f"{key[0]} {key[1]}: investment_completion: recomputed {e.investment_completion:.9f} "
                         f"vs published {p['investment_completion']}")
    return lines
