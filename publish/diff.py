"""What changed between two publication versions, dataset by dataset and row by row.

    python -m publish diff [OLD [NEW]] [--url URL] [--json]

Rows are matched by each dataset's key (its stable row order, core.datasets) and
compared column by column, read from the versions' Parquet files (typed, so a number
is compared as a number); a partitioned dataset partition by partition, skipping the
files whose checksum did not change. Defaults: the version before LATEST against LATEST. This is
how an operator sees that a decision recorded after publication changed what it
touches and nothing else (`python -m ops registry apply` prints it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.datasets import Dataset, published
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


def _parquet_files(url: str, version: str, dataset: Dataset) -> dict[str, str] | None:
    """{partition path or "": sha256} of the dataset's Parquet files in a version (a partitioned dataset
    has one per partition, publish.stream), or None when the version does not hold the dataset."""
    import json

    fs, root = _fs(url)
    manifest = json.loads(fs.cat_file(f"{root}/v/{version}/manifest.json"))
    files = {}
    for f in manifest.get("files", []):
        if f.get("dataset") == dataset.name and f["name"].endswith(".parquet"):
            files["/".join(f["name"].split("/")[1:-1])] = f["sha256"]
    return files or None


def _rows(url: str, version: str, dataset: Dataset, partition: str = "") -> dict[tuple, dict]:
    """The rows of one Parquet file of the dataset (the whole dataset, or one partition) by key."""
    import pyarrow.parquet as pq

    fs, root = _fs(url)
    name = f"{dataset.name}/{partition}/part.parquet" if partition else f"{dataset.name}.parquet"
    path = f"{root}/v/{version}/{name}"
    if not fs.exists(path):
        return {}
    with fs.open(path, "rb") as f:
        rows = pq.read_table(f).to_pylist()
    return {tuple(r[k] for k in dataset.order_by): r for r in rows}


def _key(dataset: Dataset, key: tuple) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(dataset.order_by, key, strict=True)}


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value is not None and not isinstance(
        value, (int, float, str, bool)) else value)


def diff_dataset(url: str, old: str, new: str, dataset: Dataset) -> DatasetDiff:
    """Rows added, removed and changed. A partitioned dataset is compared partition by partition, and
    a file whose checksum is unchanged is not read at all (memory: one partition of each version)."""
    before_files, after_files = _parquet_files(url, old, dataset) or {}, _parquet_files(url, new, dataset) or {}
    out = DatasetDiff(dataset.name)
    if set(before_files) != set(after_files):  # the layout changed (e.g. partitioned now): all the rows
        before = {k: r for p in sorted(before_files) for k, r in _rows(url, old, dataset, p).items()}
        after = {k: r for p in sorted(after_files) for k, r in _rows(url, new, dataset, p).items()}
        _compare(dataset, before, after, out)
        return out
    for partition in sorted(after_files):
        if before_files[partition] != after_files[partition]:
            _compare(dataset, _rows(url, old, dataset, partition), _rows(url, new, dataset, partition), out)
    return out


def _compare(dataset: Dataset, before: dict, after: dict, out: DatasetDiff) -> None:
    out.added += [_key(dataset, k) for k in sorted(after.keys() - before.keys(), key=repr)]
    out.removed += [_key(dataset, k) for k in sorted(before.keys() - after.keys(), key=repr)]
    for k in sorted(before.keys() & after.keys(), key=repr):
        columns = {c: [_plain(before[k].get(c)), _plain(after[k].get(c))]
                   for c in sorted(set(before[k]) | set(after[k])) if before[k].get(c) != after[k].get(c)}
        if columns:
            out.changed.append({"key": _key(dataset, k), "columns": columns})


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
    diffs = [diff_dataset(url, old, new, d) for d in published()]
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
