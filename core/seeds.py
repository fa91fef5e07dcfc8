"""The one reader of the project's dbt seeds (CSV): the registry, the catalogue and every policy table.

dbt loads the same files into the warehouse, so Python, the GX fragments and the warehouse read one
truth. Typed views of the rows are in `core.registry`; this module only finds and reads the files.
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.config import seeds_dir as configured_seeds_dir


def folder(seeds_dir: Path | str | None = None) -> Path:
    """The seeds folder to read: the one given, else the configured one (core.config.seeds_dir)."""
    if seeds_dir is None:
        return configured_seeds_dir()
    return seeds_dir if isinstance(seeds_dir, Path) else Path(seeds_dir)  # the same object keeps its hash


def records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and (line number, cells) of each non-empty record of a seed file, as dbt reads it
    (UTF-8 with or without a BOM; quoted cells may span lines)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        out, start = [], reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                out.append((start, cells))
            start = reader.line_num + 1
    return header, out


def rows(name: str, seeds_dir: Path | str | None = None) -> list[dict[str, str]]:
    """The rows of seed `name` (e.g. "towns.csv") as dicts of text, cells unstripped, blanks ''."""
    header, recs = records(folder(seeds_dir) / name)
    return [dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=False)) for _, cells in recs]
