"""A scaled registry: the city sample's registry, membership and reporting rules, replicated over many
"cities" of counties, 2015Q1-2024Q4 (issue 13).

    registry = build_registry(SCALES["province"])   # 90 counties, ~1,000 member towns
    write_seeds(registry, out_dir / "seeds")         # registry seeds + every policy seed copied unchanged

Every county has a unique 6-digit code (<province><city><county>, GB/T 2260 style) and a unique
two-character short name (so that no county's name is part of another's: the parser finds the county by
name in the title block). Characteristic towns are CT-<county>-<nn>, pilot towns PT-<county><3 digits>
(the 9-digit township code), as in the city registry. Towns join both programmes in batches over the
years (the city's lists and dates, continued to 2024), a few municipal characteristic towns are
promoted to a provincial creation list, a few are eliminated by decisions (effective 1 March after the
assessment year), a few pilot towns get yellow cards or are removed, and provincial creation towns
have assigned annual investment tasks (annual_tasks.csv); the others have the default (plan / 3).

Deterministic: one numpy random stream per scale, seeded by a constant; no clock.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from core.config import SEEDS_DIR
from core.membership import Membership as MembershipRow  # a row of the memberships seed: one definition

SEED = 20240913
FIRST_YEAR, LAST_YEAR = 2015, 2024
YEARS = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
REGISTRY_SEEDS = ("counties", "towns", "memberships", "decisions", "annual_tasks")

# GB/T 2260 province prefixes (the nation scale takes the first 28)
PROVINCES = ("33", "32", "31", "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53",
             "61", "62", "13", "14", "15", "21", "22", "23", "11", "12", "64")
# Characters of the counties' short names: none of 县区市镇 or of the words of a file name (年季度两报)
NAME_CHARS = "".join(dict.fromkeys("安宁平阳和丰泰康昌盛兴华德清永新长乐善盐桐湖金东武义浦仙居天台富春淳建开化常山江龙游"
                                   "庆元景云松遂缙青田文成顺苍南瑞洞头玉环温岭门黄岩椒路桥"))  # distinct
KINDS = (("district", "区"), ("county", "县"), ("county_city", "市"))
FEATURES = ("智造", "数字", "文旅", "时尚", "康养", "科创", "航空", "光电", "新材", "农旅", "丝绸", "茶香")
PILOT_SYLLABLES = ("塘", "桥", "浦", "溪", "港", "泾", "堰", "埠", "渡", "湾")


@dataclass(frozen=True)
class ScaleSpec:
    """How many counties and towns: provinces x cities x counties, towns per county drawn in ranges."""

    name: str
    provinces: int
    cities: int  # per province
    counties: int  # per city
    characteristic: tuple[int, int]  # characteristic towns per county (inclusive range)
    pilot: tuple[int, int]


SCALES = {
    # the test size: every file variant and rule, in seconds
    "small": ScaleSpec("small", 1, 2, 9, (3, 8), (3, 8)),
    "province": ScaleSpec("province", 1, 10, 9, (4, 8), (4, 8)),
    "nation": ScaleSpec("nation", 28, 10, 10, (4, 11), (4, 10)),
}

# (weight, ((tier, list, valid_from, valid_to, plan_investment_3y, event), ...)) of a characteristic town
CHARACTERISTIC_PATHS = (
    (10, (("provincial_creation", "省级第一批创建名单", "2015-06-01", "", 500000, "join"),)),
    (20, (("municipal", "市级第一批", "2015-10-01", "", 300000, "join"),)),
    (6, (("municipal", "市级第一批", "2015-10-01", "2017-08-01", 300000, "join"),
         ("provincial_creation", "省级第三批创建名单", "2017-08-02", "", 500000, "promote"))),
    (8, (("provincial_creation", "省级第二批创建名单", "2016-01-29", "", 500000, "join"),)),
    (14, (("municipal", "市级第二批", "2017-01-01", "", 300000, "join"),)),
    (4, (("provincial_creation", "省级第三批创建名单", "2017-08-02", "", 500000, "join"),)),
    (12, (("municipal", "市级第三批", "2019-01-01", "", 300000, "join"),)),
    (4, (("provincial_creation", "省级第四批创建名单", "2020-01-01", "", 500000, "join"),)),
    (10, (("municipal", "市级第四批", "2021-01-01", "", 300000, "join"),)),
    (6, (("municipal", "市级第五批", "2023-01-01", "", 300000, "join"),)),
    (3, (("municipal", "市级第六批", "2024-01-01", "", 300000, "join"),)),
)
PILOT_PATHS = (
    (10, (("provincial", "省级小城市培育试点（2010年首批）", "2010-12-01", "", None, "join"),)),
    (8, (("provincial", "省级小城市培育试点（2014年第二批）", "2014-01-01", "", None, "join"),)),
    (12, (("municipal", "市级第一轮(2013-2015)", "2013-01-01", "2015-12-31", None, "join"),
          ("municipal", "市级第二轮(2016-2018)", "2016-01-01", "", None, "join"))),
    (20, (("municipal", "市级第二轮(2016-2018)", "2016-01-01", "", None, "join"),)),
    (8, (("provincial", "省级小城市培育试点（2016年第三批）", "2017-01-01", "", None, "join"),)),
    (14, (("municipal", "市级第三轮(2019-2021)", "2019-01-01", "", None, "join"),)),
    (5, (("provincial", "省级小城市培育试点（2019年第四批）", "2020-01-01", "", None, "join"),)),
    (10, (("municipal", "市级第四轮(2022-2024)", "2022-01-01", "", None, "join"),)),
)
# assessment years whose decisions end memberships (effective 1 March of the next year)
ELIMINATION_YEARS = (2016, 2018, 2020, 2022)
REMOVAL_YEARS = (2018, 2021)
YELLOW_CARD_YEARS = (2016, 2017, 2019, 2020, 2022, 2023)
ELIMINATION_SHARE, REMOVAL_SHARE, YELLOW_SHARE = 0.04, 0.03, 0.03
# the eliminated town that a county still lists in its 2024Q4 report (a refused file): assessment year
FORCED_ELIMINATION_YEAR = 2022


@dataclass(frozen=True)
class County:
    code: str
    name_zh: str
    short_name: str
    kind: str


@dataclass(frozen=True)
class Town:
    code: str
    county_code: str
    name_zh: str
    aliases: str
    programme: str


@dataclass(frozen=True)
class Decision:
    decision_id: str
    decided_on: date
    effective_from: date
    town_code: str
    programme: str
    action: str
    list_name: str
    assessment_year: int
    answers_proposal: str
    reason_code: str
    document_no: str
    note: str


@dataclass
class ScaledRegistry:
    spec: ScaleSpec
    counties: list[County]
    towns: list[Town]  # sorted by code (so grouped by county)
    memberships: list[MembershipRow]
    decisions: list[Decision] = field(default_factory=list)
    tasks: dict[tuple[str, int], int] = field(default_factory=dict)  # (town, year) -> assigned annual task

    def ended_on(self) -> dict[tuple[str, str, str], date]:
        """(town, programme, list) -> effective_from of the decision that ends it (the macro's rule)."""
        ending = {"eliminate", "remove", "downgrade"}
        return {(d.town_code, d.programme, d.list_name): d.effective_from for d in self.decisions if d.action in ending}


def _county_names(count: int, rng: np.random.Generator) -> list[str]:
    pairs = [a + b for a in NAME_CHARS for b in NAME_CHARS if a != b]
    if count > len(pairs):
        raise ValueError(f"{count} counties: at most {len(pairs)} names")
    order = rng.permutation(len(pairs))[:count]
    return [pairs[i] for i in order]


def build_counties(spec: ScaleSpec, rng: np.random.Generator) -> list[County]:
    total = spec.provinces * spec.cities * spec.counties
    names = _county_names(total, rng)
    out = []
    for p in range(spec.provinces):
        for c in range(spec.cities):
            for k in range(spec.counties):
                kind, suffix = KINDS[int(rng.integers(len(KINDS)))]
                short = names[len(out)]
                out.append(County(f"{PROVINCES[p]}{c + 1:02d}{k + 1:02d}", short + suffix, short, kind))
    return out


def _paths(rng: np.random.Generator, catalogue: tuple, count: int) -> list[tuple]:
    weights = np.array([w for w, _ in catalogue], dtype=float)
    picks = rng.choice(len(catalogue), size=count, p=weights / weights.sum())
    return [catalogue[int(i)][1] for i in picks]


def _membership(town: str, programme: str, row: tuple) -> MembershipRow:
    tier, list_name, start, end, plan, event = row
    return MembershipRow(town, programme, tier, list_name, date.fromisoformat(start),
                         date.fromisoformat(end) if end else None, plan, event)


def build_towns(spec: ScaleSpec, counties: list[County], rng: np.random.Generator
                ) -> tuple[list[Town], list[MembershipRow]]:
    towns: list[Town] = []
    rows: list[MembershipRow] = []
    for county in counties:
        n_char = int(rng.integers(spec.characteristic[0], spec.characteristic[1] + 1))
        n_pilot = int(rng.integers(spec.pilot[0], spec.pilot[1] + 1))
        for i, path in enumerate(_paths(rng, CHARACTERISTIC_PATHS, n_char), start=1):
            code, feature = f"CT-{county.code}-{i:02d}", FEATURES[(i - 1) % len(FEATURES)]
            suffix = "" if i <= len(FEATURES) else str(i // len(FEATURES) + 1)
            towns.append(Town(code, county.code, f"{county.short_name}{feature}{suffix}小镇", f"{feature}{suffix}小镇",
                              "characteristic"))
            rows += [_membership(code, "characteristic", r) for r in path]
        for i, path in enumerate(_paths(rng, PILOT_PATHS, n_pilot), start=1):
            code = f"PT-{county.code}{100 + i:03d}"
            alias = f"{county.short_name}{PILOT_SYLLABLES[(i - 1) % len(PILOT_SYLLABLES)]}{i}"
            towns.append(Town(code, county.code, alias + "镇", alias, "pilot"))
            rows += [_membership(code, "pilot", r) for r in path]
    towns.sort(key=lambda t: t.code)
    rows.sort(key=lambda m: (m.town_code, m.valid_from))
    return towns, rows


def _in_force(m: MembershipRow, day: date) -> bool:
    return m.valid_from <= day and (m.valid_to is None or day <= m.valid_to)


def _decision(seq: int, m: MembershipRow, action: str, year: int, proposal: str, reason: str, note: str) -> Decision:
    decided, effective = date(year + 1, 2, 20), date(year + 1, 3, 1)
    doc = f"两镇办〔{year + 1}〕{2 if m.programme == 'characteristic' else 3}号"
    return Decision(f"S-{year}-{seq:05d}", decided, effective, m.town_code, m.programme, action, m.list_name, year,
                    proposal, reason, doc, note)


def build_decisions(memberships: list[MembershipRow], rng: np.random.Generator) -> list[Decision]:
    """Eliminations (municipal characteristic towns), removals and yellow cards (municipal pilot towns)."""
    out: list[Decision] = []
    ended: set[str] = set()

    def candidates(programme: str, year: int) -> list[MembershipRow]:
        start, effective = date(year, 1, 1), date(year + 1, 3, 1)
        # an open membership (the town's last: a promoted town's municipal period has an end) in force
        return [m for m in memberships if m.programme == programme and m.tier == "municipal" and m.valid_to is None
                and m.town_code not in ended and m.valid_from <= start and _in_force(m, effective)]

    for year in YEARS[:-1]:
        chars = candidates("characteristic", year)
        if year in ELIMINATION_YEARS:
            picked = [m for i, m in enumerate(chars) if rng.random() < ELIMINATION_SHARE
                      or (year == FORCED_ELIMINATION_YEAR and i == 0)]
            for m in picked:
                out.append(_decision(len(out) + 1, m, "eliminate", year, "eliminate", "investment_shortfall",
                                     f"{year}年度市级特色小镇考核：未完成年度投资任务，予以淘汰"))
                ended.add(m.town_code)
        pilots = candidates("pilot", year)
        for m in pilots:
            draw = rng.random()
            if year in REMOVAL_YEARS and draw < REMOVAL_SHARE:
                out.append(_decision(len(out) + 1, m, "remove", year, "remove", "assessment",
                                     f"{year}年度市级小城市培育试点考核：调整出试点名单"))
                ended.add(m.town_code)
            elif year in YELLOW_CARD_YEARS and draw > 1 - YELLOW_SHARE:
                out.append(_decision(len(out) + 1, m, "yellow_card", year, "yellow_card", "assessment",
                                     f"{year}年度市级小城市培育试点考核：得分靠后，给予黄牌"))
    return out


def build_tasks(memberships: list[MembershipRow], rng: np.random.Generator) -> dict[tuple[str, int], int]:
    """Assigned annual investment tasks of the provincial creation towns for every year they are on the list."""
    tasks: dict[tuple[str, int], int] = {}
    for m in memberships:
        if m.tier != "provincial_creation":
            continue
        for year in YEARS:
            if m.valid_from <= date(year, 12, 31) and (m.valid_to is None or m.valid_to >= date(year, 1, 1)):
                tasks[(m.town_code, year)] = int(round(m.plan_investment_3y / 3 * rng.uniform(0.95, 1.10), -3))
    return tasks


def build_registry(spec: ScaleSpec) -> ScaledRegistry:
    """The whole scaled registry of a scale (deterministic)."""
    rng = np.random.default_rng([SEED, len(spec.name), spec.provinces, spec.cities, spec.counties])
    counties = build_counties(spec, rng)
    towns, memberships = build_towns(spec, counties, rng)
    decisions = build_decisions(memberships, rng)
    return ScaledRegistry(spec, counties, towns, memberships, decisions, build_tasks(memberships, rng))


# ----------------------------------------------------------------------------- the seed files

def _csv(header: tuple[str, ...], rows: list[tuple]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buf.getvalue().encode("utf-8")


def seed_files(reg: ScaledRegistry) -> dict[str, bytes]:
    """The registry seeds of the scaled registry, as the bytes of their CSV files."""
    iso = lambda d: d.isoformat() if d else ""  # noqa: E731
    return {
        "counties": _csv(("county_code", "name_zh", "short_name", "kind"),
                         [(c.code, c.name_zh, c.short_name, c.kind) for c in reg.counties]),
        "towns": _csv(("town_code", "county_code", "name_zh", "aliases", "unit_kind", "admin_code", "source"),
                      [(t.code, t.county_code, t.name_zh, t.aliases, t.programme,
                        t.code[3:] if t.programme == "pilot" else "", "illustrative") for t in reg.towns]),
        "memberships": _csv(("town_code", "programme", "tier", "list_name", "valid_from", "valid_to",
                             "plan_investment_3y", "event", "note"),
                            [(m.town_code, m.programme, m.tier, m.list_name, iso(m.valid_from), iso(m.valid_to),
                              m.plan_investment_3y, m.event, "") for m in reg.memberships]),
        "decisions": _csv(("decision_id", "decided_on", "effective_from", "town_code", "programme", "action",
                           "list_name", "assessment_year", "answers_proposal", "reason_code", "document_no",
                           "decided_by", "source", "note"),
                          [(d.decision_id, iso(d.decided_on), iso(d.effective_from), d.town_code, d.programme,
                            d.action, d.list_name, d.assessment_year, d.answers_proposal, d.reason_code,
                            d.document_no, "city", "illustrative", d.note) for d in reg.decisions]),
        "annual_tasks": _csv(("town_code", "year", "annual_task", "source", "note"),
                             [(town, year, task, "illustrative", "") for (town, year), task in sorted(reg.tasks.items())]),
    }


def write_seeds(reg: ScaledRegistry, seeds_dir: Path, policy_dir: Path = SEEDS_DIR) -> list[Path]:
    """DIR/seeds: the scaled registry seeds and every other seed (the policy seeds) from `policy_dir`. The
    seeds' properties and tests stay in dbt_project/models/_seeds.yml (dbt compiles a test under the path of
    the file that declares it, which must be inside the project).

    The city's policy is in force 2015-2018 (the plan period). The scaled world runs to 2024, so a policy row
    that ends in the plan's last year is continued to LAST_YEAR here ("the plan renewed unchanged"): an
    illustrative assumption of the benchmark world, never of the city's seeds."""
    seeds_dir = Path(seeds_dir)
    seeds_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sorted(Path(policy_dir).iterdir()):
        if src.is_file() and src.stem not in REGISTRY_SEEDS and src.suffix == ".csv":
            (seeds_dir / src.name).write_bytes(_continued_policy(src.read_bytes()))
            written.append(seeds_dir / src.name)
    for name, data in seed_files(reg).items():
        (seeds_dir / f"{name}.csv").write_bytes(data)
        written.append(seeds_dir / f"{name}.csv")
    return sorted(written)


def _continued_policy(data: bytes, plan_last_year: str = "2018") -> bytes:
    """A policy seed whose rows end in the plan's last year, continued to LAST_YEAR (other seeds unchanged)."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or "valid_to_year" not in rows[0]:
        return data
    col = rows[0].index("valid_to_year")
    for row in rows[1:]:
        if len(row) > col and row[col] == plan_last_year:
            row[col] = str(LAST_YEAR)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")
