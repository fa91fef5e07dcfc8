"""What changed between two publication versions, dataset by dataset and row by row.

    python -m publish diff [OLD [NEW]] [--url URL] [--json]

Rows are matched by each dataset's key (its stable row order, publish.datasets) and
compared column by column, read from the versions' Parquet files (typed, so a number
is compared as a number). Defaults: the version before LATEST against LATEST. This is
how an operator sees that a decision recorded after publication changed what it
touches and nothing else (`python -m ops registry apply` prints it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from publish.datasets import DATASETS, Dataset
from publish.wap import _fs, read_latest, versions


@dataclass
class DatasetDiff:
    dataset: str
    added: list[dict] = field(default_factory=list)  # key of each row only in NEW
    removed: list[dict] = field(default_factory=list)  # key of each row only in OLD
    changed: list[dict] = field(default_factory=list)  # {"key": ..., "columns": {col: [old, new]}}

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _rows(url: str, version: str, dataset: Dataset) -> dict[tuple, dict] | None:
    """The dataset's rows of a version by key, or None when the version does not hold it."""
    import pyarrow.parquet as pq

    fs, root = _fs(url)
    path = f"{root}/v/{version}/{dataset.name}.parquet"
    if not fs.exists(path):
        return None
    rows = pq.read_table(io.BytesIO(fs.cat_file(path))).to_pylist()
    return {tuple(r[k] for k in dataset.order_by): r for r in rows}


def _key(dataset: Dataset, key: tuple) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(dataset.order_by, key, strict=True)}


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value is not None and not isinstance(
        value, (int, float, str, bool)) else value)


def diff_dataset(url: str, old: str, new: str, dataset: Dataset) -> DatasetDiff:
    before, after = _rows(url, old, dataset) or {}, _rows(url, new, dataset) or {}
    out = DatasetDiff(dataset.name)
    out.added = [_key(dataset, k) for k in sorted(after.keys() - before.keys(), key=repr)]
    out.removed = [_key(dataset, k) for k in sorted(before.keys() - after.keys(), key=repr)]
    for k in sorted(before.keys() & after.keys(), key=repr):
        columns = {c: [_plain(before[k].get(c)), _plain(after[k].get(c))]
                   for c in sorted(set(before[k]) | set(after[k])) if before[k].get(c) != after[k].get(c)}
        if columns:
            out.changed.append({"key": _key(dataset, k), "columns": columns})
    return out


def default_pair(url: str) -> tuple[str, str]:
    """(the version before LATEST, LATEST)."""
    latest = read_latest(url)
    if latest is None:
        raise ValueError(f"nothing published at {url}")
    older = [v for v in versions(url) if v < latest["version"]]
    if not older:
        raise ValueError(f"{latest['version']} is the only version at {url}")
    return older[-1], latest["version"]


def diff_versions(url: str, old: str | None = None, new: str | None = None) -> dict:
    """{"old", "new", "datasets": {name: DatasetDiff.__dict__}} for the datasets that differ."""
    if old is None or new is None:
        default_old, default_new = default_pair(url)
        old, new = old or default_old, new or default_new
    diffs = [diff_dataset(url, old, new, d) for d in DATASETS]
    return {"old": old, "new": new, "datasets": {d.dataset: d.__dict__ for d in diffs if not d.empty}}


def describe(result: dict, limit: int = 10) -> list[str]:
    """Readable lines: per dataset the counts and the first `limit` keys with their changed columns."""
    lines = [f"publication {result['old']} -> {result['new']}"]
    if not result["datasets"]:
        return lines + ["  no dataset changed"]
    for name, d in result["datasets"].items():
        lines.append(f"  {name}: {len(d['added'])} added, {len(d['removed'])} removed, {len(d['changed'])} changed")
        for c in d["changed"][:limit]:
            key = ", ".join(f"{v}" for v in c["key"].values())
            cols = "; ".join(f"{col} {old!r} -> {new!r}" for col, (old, new) in c["columns"].items())
            lines.append(f"    ~ {key}: {cols}")
        lines += [f"    + {', '.join(str(v) for v in k.values())}" for k in d["added"][:limit]]
        lines += [f"    - {', '.join(str(v) for v in k.values())}" for k in d["removed"][:limit]]
    return lines
