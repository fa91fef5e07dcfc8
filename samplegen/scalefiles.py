"""A scaled sample on disk: DIR/seeds (the scaled registry), DIR/inbox (the latest quarter, 2024Q4, as real
county files), DIR/expected.json (what the pipeline should make of each file) and DIR/scale.json.

    files = write_scaled_sample(Path("data/province"), "province")

One report per county, spread over every format and layout the contract allows: .xlsx, .xls, CSV (one
file per form; UTF-8, UTF-8 with BOM, GBK, tab-separated), money in 亿元, a remarks column (a warning),
上年同期 columns in the three layouts (one revised: a warning), a file named in Chinese, late reports;
and a few bad files, each followed by a good one: a report with a sub-item above its parent and a
required value missing (then its correction, `_更正`), a report listing a town eliminated in 2023, an
unreadable file and a report of a month that is no quarter end. File mtimes are the receipt times.
The history before 2024Q4 is not written as files: samplegen.bulk.load_history lands it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np

from core.xlsx import workbook_bytes
from samplegen.formats import to_csv_forms, to_xls
from samplegen.periods import CST, Period
from samplegen.plan import PRIOR_INDICATORS, REPORTERS
from samplegen.registry import County, Indicator, load_registry
from samplegen.report import Defect, FormTable, Report, Row, apply_defects
from samplegen.scale import SCALES, SEED, ScaledRegistry, build_registry, write_seeds
from samplegen.scalevalues import N_PERIODS, FormValues, build_values
from samplegen.workbook import Presentation, build_workbook

EXPECTED_FILE, SCALE_FILE = "expected.json", "scale.json"
PERIOD = Period(2024, 4)
T = N_PERIODS - 1  # the period index of 2024Q4
HOLIDAYS = {date(2025, 1, 1)} | {date(2025, 1, 28) + timedelta(days=n) for n in range(8)}  # 元旦, 春节
# variants of the first counties (every one present even at the small scale), then drawn by weight
FIXED_ROLES = ("defects", "unreadable", "bad_period", "yi_yuan", "remarks", "prior_group", "prior_suffix",
               "prior_prefix", "prior_revised", "late", "chinese_name", "xls", "csv", "csv_bom", "csv_gbk", "csv_tab")
DRAWN = (("xlsx", 0.50), ("xls", 0.14), ("csv", 0.09), ("csv_bom", 0.07), ("csv_gbk", 0.07), ("csv_tab", 0.03),
         ("prior_group", 0.02), ("prior_suffix", 0.02), ("prior_prefix", 0.02), ("yi_yuan", 0.02), ("late", 0.02))
CSV_FORMATS = {"csv": ("utf-8", ",", False), "csv_bom": ("utf-8", ",", True), "csv_gbk": ("gbk", ",", False),
               "csv_tab": ("utf-8", "\t", False)}
DEFECTS_KINDS = (("LZ-1", "fai_feature", "exceeds_parent"), ("LZ-2", "fiscal_revenue", "not_reported"))


@dataclass(frozen=True)
class ScaledFile:
    file: str
    county_code: str
    received_at: datetime
    expected_status: str
    expected_codes: tuple[str, ...]
    format: str
    variant: str

    def to_json(self) -> dict:
        return {"file": self.file, "county_code": self.county_code, "period": PERIOD.code,
                "received_at": self.received_at.isoformat(), "expected_status": self.expected_status,
                "expected_codes": list(self.expected_codes), "format": self.format, "variant": self.variant}


@dataclass
class _Context:
    reg: ScaledRegistry
    forms: dict[str, FormValues]
    indicators: dict[str, tuple[Indicator, ...]]
    town_names: dict[str, str]
    inbox: Path


def roles(reg: ScaledRegistry) -> list[str]:
    """The variant of each county's 2024Q4 report (by county index)."""
    former = former_member(reg)
    rng = np.random.default_rng([SEED, 17, len(reg.counties)])
    names, weights = zip(*DRAWN, strict=True)
    drawn = rng.choice(len(names), size=len(reg.counties), p=np.array(weights) / sum(weights))
    out, fixed = [], list(FIXED_ROLES)
    for i, county in enumerate(reg.counties):
        if county.code == former[0]:
            out.append("former_member")
        elif fixed:
            out.append(fixed.pop(0))
        else:
            out.append(names[int(drawn[i])])
    return out


def former_member(reg: ScaledRegistry) -> tuple[str, str]:
    """(county, town): the first characteristic town eliminated before 2024, listed again in 2024Q4."""
    by_town = {t.code: t.county_code for t in reg.towns}
    d = min((d for d in reg.decisions if d.action == "eliminate" and d.effective_from.year < PERIOD.year),
            key=lambda d: (d.assessment_year, d.town_code))
    return by_town[d.town_code], d.town_code


def _row(ctx: _Context, fv: FormValues, e: int, form: str, prior: tuple[str, ...], whole_wan: bool,
         revise: str | None) -> Row:
    inds = ctx.indicators[form]

    def shown(ind: Indicator, t: int, factor: float = 1.0) -> int | float:
        value = fv.value(e, ind.code, t)
        if factor != 1.0:
            value = round(value * factor, 0 if ind.is_integer else 1)
        return float(round(value)) if whole_wan and ind.is_money else value

    code = str(fv.codes[e])
    name = ctx.reg.counties[e].name_zh if form == "LZ-0" else ctx.town_names[code]
    values = {ind.code: shown(ind, T) for ind in inds}
    prev = {ind.code: shown(ind, T - 4, 1.08 if (revise, ind.code) == (code, "fai") else 1.0)
            for ind in inds if ind.code in prior}
    return Row(code, name, None if form == "LZ-0" else code, values, prev)


def county_report(ctx: _Context, c: int, *, prior: bool = False, whole_wan: bool = False, revise: bool = False,
                  extra_town: str | None = None) -> Report:
    """The clean 2024Q4 report of county c (its members at the quarter end, plus `extra_town` if given)."""
    county = ctx.reg.counties[c]
    tables = []
    for form in ctx.indicators:  # the catalogue's forms, in order
        fv = ctx.forms[form]
        entities = [c] if form == "LZ-0" else list(np.flatnonzero((fv.county_of == c) & (
            fv.member[:, T] | (fv.codes == extra_town))))
        if not entities:
            continue
        prior_codes = PRIOR_INDICATORS.get(form, ()) if prior and form != "LZ-0" else ()
        revised = str(fv.codes[entities[0]]) if revise and form == "LZ-1" else None
        rows = tuple(_row(ctx, fv, e, form, prior_codes, whole_wan, revised) for e in entities)
        tables.append(FormTable(form, ctx.indicators[form], rows, tuple(prior_codes)))
    return Report(County(county.code, county.name_zh, county.short_name), PERIOD, tuple(tables))


def _is_working(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def _receipt(rng: np.random.Generator, late: bool, room: int = 0) -> datetime:
    """A working day and time: 6-27 January 2025 (before the deadline with `room` days to spare), or a few
    days after the 31 January deadline."""
    first, last = (date(2025, 2, 5), date(2025, 2, 7)) if late else (date(2025, 1, 6), date(2025, 1, 27 - room))
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    day = [d for d in days if _is_working(d) and (room == 0 or _is_working(d + timedelta(days=room)))]
    pick = day[int(rng.integers(len(day)))]
    minute = int(rng.choice([rng.integers(8 * 60 + 30, 11 * 60 + 30), rng.integers(13 * 60 + 30, 17 * 60 + 30)]))
    return datetime.combine(pick, time(minute // 60, minute % 60, int(rng.integers(60))), tzinfo=CST)


def plain(c: int) -> bool:
    """Three in four counties past the fixed variants send a plain workbook (no borders or fonts: a system
    export), which is also quicker to write."""
    return c > len(FIXED_ROLES) and c % 4 != 0


def _style(c: int, county: str, received: datetime, *, money_unit: str = "万元", remarks: bool = False,
           prior_layout: str | None = None) -> Presentation:
    reported_on = received.date() - timedelta(days=1)
    return Presentation(money_unit=money_unit, remarks_column=remarks, reporter=REPORTERS[c % len(REPORTERS)],
                        phone=f"0{county[:3]}-8{c:07d}", reported_on=reported_on, prior_layout=prior_layout,
                        plain=plain(c))


def _stamp(path: Path, received: datetime) -> None:
    os.utime(path, (received.timestamp(), received.timestamp()))


def _with_period_text(wb, text: str):
    """A workbook whose 报告期 cells say `text` (a period the contract refuses)."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("报告期："):
                    cell.value = f"报告期：{text}"
    return wb


def _write(ctx: _Context, c: int, report: Report, style: Presentation, fmt: str, name: str, received: datetime,
           status: str, codes: tuple[str, ...], variant: str, wb=None) -> list[ScaledFile]:
    """Write one report in one format (a CSV report is one file per form); all files get the receipt time."""
    county = ctx.reg.counties[c].code
    wb = wb or build_workbook(report, style)
    stamp = datetime.combine(style.reported_on, time(16, 30))
    if fmt in CSV_FORMATS:
        encoding, delimiter, bom = CSV_FORMATS[fmt]
        paths = to_csv_forms(wb, ctx.inbox, encoding=encoding, delimiter=delimiter, bom=bom, stem=Path(name).stem)
    elif fmt == "xls":
        paths = [to_xls(wb, ctx.inbox / f"{Path(name).stem}.xls")]
    else:
        paths = [ctx.inbox / name]
        paths[0].write_bytes(workbook_bytes(wb, stamp))
    out = []
    for path in paths:
        _stamp(path, received)
        out.append(ScaledFile(path.name, county, received, status, codes, fmt, variant))
    return out


def county_files(ctx: _Context, c: int, role: str) -> list[ScaledFile]:
    """The 2024Q4 files of county c for its role (a bad file is followed by a good one)."""
    county = ctx.reg.counties[c]
    rng = np.random.default_rng([SEED, 19, c])
    received = _receipt(rng, late=role == "late", room=2 if role in BAD_ROLES else 0)
    name = f"{county.code}_{PERIOD.code}.xlsx"
    if role == "chinese_name":
        name = f"{county.name_zh}{PERIOD.quarter_label}两镇季报.xlsx"
    prior = {"prior_group": "group", "prior_suffix": "suffix", "prior_prefix": "prefix", "prior_revised": "suffix"}
    report = county_report(ctx, c, prior=role in prior, whole_wan=role == "yi_yuan", revise=role == "prior_revised")
    style = _style(c, county.code, received, money_unit="亿元" if role == "yi_yuan" else "万元",
                   remarks=role == "remarks", prior_layout=prior.get(role))
    fmt = role if role in CSV_FORMATS or role == "xls" else "xlsx"
    codes = {"remarks": ("header.unknown",), "late": ("submission.late",),
             "prior_revised": ("value.prior_mismatch",)}.get(role, ())
    if role not in BAD_ROLES:
        return _write(ctx, c, report, style, fmt, name, received, "accepted", codes, role + ("+plain" if plain(c) else ""))
    bad = _bad_file(ctx, c, role, report, style, name, received)
    later = received + timedelta(days=2)
    good_name = f"{county.code}_{PERIOD.code}_更正.xlsx" if role == "defects" else f"{county.code}_{PERIOD.code}_重报.xlsx"
    good = _write(ctx, c, report, replace(style, reported_on=later.date() - timedelta(days=1)), "xlsx", good_name,
                  later, "accepted", (), f"{role}_resubmitted")
    return bad + good


BAD_ROLES = ("defects", "former_member", "unreadable", "bad_period")


def _bad_file(ctx: _Context, c: int, role: str, report: Report, style: Presentation, name: str,
              received: datetime) -> list[ScaledFile]:
    county = ctx.reg.counties[c].code
    if role == "unreadable":
        path = ctx.inbox / f"{county}_{PERIOD.code}(1).xlsx"
        path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)  # a truncated zip: no workbook
        _stamp(path, received)
        return [ScaledFile(path.name, county, received, "refused", ("file.unreadable",), "xlsx", role)]
    if role == "bad_period":
        wb = _with_period_text(build_workbook(report, style), "2024年1-11月")
        return _write(ctx, c, report, style, "xlsx", name, received, "refused", ("meta.period",), role, wb=wb)
    if role == "defects":
        lz1 = [t for t in report.tables if t.form == "LZ-1"]
        lz2 = [t for t in report.tables if t.form == "LZ-2"]
        defects = tuple(Defect(form, table[0].rows[0].town_code, ind, kind)
                        for (form, ind, kind), table in zip(DEFECTS_KINDS, (lz1, lz2), strict=True) if table)
        codes = tuple(sorted({"value.parent" if d.kind == "exceeds_parent" else "value.required" for d in defects}))
        return _write(ctx, c, apply_defects(report, defects), style, "xlsx", name, received, "refused", codes, role)
    town = former_member(ctx.reg)[1]
    listed = county_report(ctx, c, extra_town=town)
    return _write(ctx, c, listed, style, "xlsx", name, received, "refused", ("row.town_not_member", "value.total"),
                  role)


_FORKED: list[tuple[_Context, list[str]]] = []  # what forked workers write from (inherited, never pickled)


def _write_counties(counties: range) -> list[ScaledFile]:
    ctx, county_roles = _FORKED[0]
    return [f for c in counties for f in county_files(ctx, c, county_roles[c])]


def _all_county_files(ctx: _Context, county_roles: list[str], workers: int) -> list[ScaledFile]:
    """Every county's files; with workers > 1 in forked processes, in slices of counties (each county's
    bytes depend on the county alone, so the output is the same whatever the split)."""
    if workers <= 1 or len(county_roles) < 200:
        return [f for c, role in enumerate(county_roles) for f in county_files(ctx, c, role)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _FORKED[:] = [(ctx, county_roles)]
    step = 100
    slices = [range(i, min(i + step, len(county_roles))) for i in range(0, len(county_roles), step)]
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return [f for part in pool.map(_write_counties, slices) for f in part]
    finally:
        _FORKED.clear()


def write_scaled_sample(out_dir: Path, scale: str, workers: int | None = None) -> list[ScaledFile]:
    """DIR/seeds, DIR/inbox (2024Q4), DIR/expected.json and DIR/scale.json of a scale; sorted by receipt time.
    `workers`: processes that write the files (default: the CPUs, at most 4; only for 200 counties or more)."""
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    out_dir = Path(out_dir)
    reg = build_registry(SCALES[scale])
    write_seeds(reg, out_dir / "seeds")
    inbox = out_dir / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    for old in inbox.iterdir():
        if old.is_file():
            old.unlink()
    catalogue = load_registry(out_dir / "seeds")
    ctx = _Context(reg, build_values(reg), {f: catalogue.form_indicators(f) for f in catalogue.forms},
                   {t.code: t.name_zh for t in reg.towns}, inbox)
    files = _all_county_files(ctx, roles(reg), workers)
    files.sort(key=lambda f: (f.received_at, f.file))
    (out_dir / EXPECTED_FILE).write_text(json.dumps([f.to_json() for f in files], ensure_ascii=False, indent=2) + "\n",
                                         encoding="utf-8")
    summary = {"scale": scale, "period": PERIOD.code, "history": "2015Q1-2024Q3", "counties": len(reg.counties),
               "towns": len(reg.towns), "members": {f: int(ctx.forms[f].member[:, T].sum()) for f in ("LZ-1", "LZ-2")},
               "files": len(files)}
    (out_dir / SCALE_FILE).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return files
