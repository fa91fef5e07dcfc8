"""Which town a data row of a town form is: by its code (or its name, else), in the county, a member of
the form's programme in the period, and not a second row of the same town; and the member towns without
a row."""

from __future__ import annotations

from core import registry
from core.text import normalize
from ingest.sheet.cells import a1
from ingest.sheet.columns import Header
from ingest.sheet.forms import FormSheet
from ingest.sheet.report import Context


def row_key(ctx: Context, sheet: str, form: str, r: int, header: Header, code_text: str, name_text: str,
            seen: dict[str, int]) -> str | None:
    """The town code of a data row (the county code on LZ-0); None (with a finding) if the row is not used.
    `seen`: the rows read so far, by key."""
    if registry.is_county_form(form, ctx.seeds_dir):
        key, label, town_code, id_col = ctx.report.county_code, name_text or code_text, None, header.name_col or 0
    else:
        programme = registry.form_programmes(ctx.seeds_dir)[form]
        town = _identify_town(ctx, sheet, programme, r, header.code_col, header.name_col, code_text, name_text)
        if town is None:
            return None
        key, label, town_code = town.code, town.name_zh, town.code
        id_col = header.code_col if code_text and header.code_col is not None else (header.name_col or 0)
    if key in seen:
        ctx.add("row.duplicate", sheet=sheet, cell=a1(r, id_col), town_code=town_code, label=label,
                other_row=seen[key] + 1)
        return None
    return key


def _identify_town(ctx: Context, sheet: str, programme: str, r: int, code_col, name_col,
                   code_text: str, name_text: str):
    """The registry town of a row, or None (with a finding): unknown, of another county, or not a member."""
    county, period = ctx.report.county_code, ctx.report.period
    label = name_text or code_text
    by_code = registry.towns_by_code(ctx.seeds_dir)
    cell = a1(r, code_col if code_col is not None else (name_col or 0))
    town = None
    code_norm = normalize(code_text).upper()
    if code_norm:
        town = by_code.get(code_norm) or by_code.get(f"PT-{code_norm}")  # a bare township code
        if town is None or town.county_code != county:
            ctx.add("row.town_unknown", sheet=sheet, cell=cell, label=label)
            return None
    else:
        name_norm = normalize(name_text)
        matches = [t for t in registry.towns(ctx.seeds_dir) if t.county_code == county
                   and name_norm in {normalize(n) for n in (t.name_zh, *t.aliases)}]
        if len(matches) != 1:
            ctx.add("row.town_unknown", sheet=sheet, cell=a1(r, name_col or 0), label=label)
            return None
        town = matches[0]
    if not code_text or not name_text:
        ctx.add("row.identity", sheet=sheet, cell=cell, town_code=town.code, label=town.name_zh,
                given="名称" if name_text else "代码", given_en="name" if name_text else "code")
    members = {t.code for t in registry.members(county, programme, period.end, ctx.seeds_dir)}
    if town.code not in members:
        zh = {"characteristic": "特色小镇", "pilot": "小城市培育试点镇"}[programme]
        ctx.add("row.town_not_member", sheet=sheet, cell=cell, town_code=town.code, label=town.name_zh,
                programme_zh=zh, programme_en=programme)
        return None
    return town


def check_members(ctx: Context, fs: FormSheet, keys: dict[str, int]) -> None:
    """Every member town of the programme in the period has a row (LZ-0: the county has its row)."""
    sheet, form, county = fs.sheet, fs.form, ctx.report.county_code
    if not registry.is_county_form(form, ctx.seeds_dir):
        programme = registry.form_programmes(ctx.seeds_dir)[form]
        for town in registry.members(county, programme, ctx.report.period.end, ctx.seeds_dir):
            if town.code not in keys:
                ctx.add("row.member_missing", sheet=sheet.name, town_code=town.code, label=town.name_zh)
    elif county not in keys:
        first = registry.form_indicators(form, ctx.seeds_dir)[0]
        ctx.add("value.required", sheet=sheet.name, indicator=first.code, name=first.name_zh)
