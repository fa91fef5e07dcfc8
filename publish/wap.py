"""Write, audit, publish: a new publication version appears whole or not at all.

1. write: every dataset is exported from `marts` into `v/<version>/` under
   `PUBLISH_URL` (any fsspec URL), then `manifest.json` last;
2. audit: the files are read back and their bytes, checksums and row counts
   checked against the manifest and the marts;
3. publish: `LATEST` is replaced in one step (write a temporary pointer, then move).
A version whose content equals the current LATEST's is not made again. A
failure before step 3 leaves LATEST as it was; the incomplete folder has no
manifest and is never pointed at.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from publish.datasets import DATASETS, Dataset
from publish.export import CsvExport, export_csv

log = logging.getLogger(__name__)


class AuditError(RuntimeError):
    pass


@dataclass
class PublishResult:
    version: str
    created: bool  # False: content unchanged, LATEST already names this content
    url: str
    files: list[dict] = field(default_factory=list)
    missing_datasets: list[str] = field(default_factory=list)


def _fs(url: str):
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    return fs, root.rstrip("/")


def _existing_datasets(conn) -> list[Dataset]:
    names = {r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
    return [d for d in DATASETS if d.name in names]


def _current_submissions(conn) -> list[dict]:
    """The current submission of every (county, period, form): the lineage of the publication."""
    from ingest.current import CURRENT_FORMS_SQL

    rows = conn.execute(f"select county_code, year, quarter, array_agg(form order by form), version, file_sha256 "
                        f"from ({CURRENT_FORMS_SQL}) as c group by 1, 2, 3, 5, 6 order by 1, 2, 3, 4").fetchall()
    return [{"county_code": c, "period": f"{y}Q{q}", "forms": forms, "version": v, "file_sha256": s}
            for c, y, q, forms, v, s in rows]


def read_latest(url: str) -> dict | None:
    """The manifest of the version LATEST names, or None."""
    fs, root = _fs(url)
    if not fs.exists(f"{root}/LATEST"):
        return None
    version = fs.cat_file(f"{root}/LATEST").decode().strip()
    return json.loads(fs.cat_file(f"{root}/v/{version}/manifest.json"))


def publish(url: str, conn, *, dbt_invocation_id: str | None = None, gx_run_id: str | None = None,
            now: datetime | None = None) -> PublishResult:
    datasets = _existing_datasets(conn)
    missing = [d.name for d in DATASETS if d not in datasets]
    exports: list[CsvExport] = [export_csv(conn, d) for d in datasets]
    files = [{"name": e.file_name, "dataset": e.dataset, "bytes": len(e.data),
              "sha256": hashlib.sha256(e.data).hexdigest(), "rows": e.rows} for e in exports]
    submissions = _current_submissions(conn)
    content_hash = hashlib.sha256(json.dumps(
        {"files": [(f["name"], f["sha256"]) for f in files], "submissions": submissions},
        sort_keys=True).encode()).hexdigest()

    latest = read_latest(url)
    if latest is not None and latest.get("content_sha256") == content_hash:
        log.info("publication unchanged: LATEST stays %s", latest["version"])
        return PublishResult(latest["version"], False, url, latest["files"], missing)

    now = (now or datetime.now(UTC)).astimezone(UTC)
    version = f"{now:%Y%m%dT%H%M%SZ}-{content_hash[:8]}"
    fs, root = _fs(url)
    vdir = f"{root}/v/{version}"
    fs.makedirs(vdir, exist_ok=True)
    # write
    for e in exports:
        with fs.open(f"{vdir}/{e.file_name}", "wb") as f:
            f.write(e.data)
    manifest = {
        "version": version,
        "built_at": now.isoformat().replace("+00:00", "Z"),
        "content_sha256": content_hash,
        "dbt_invocation_id": dbt_invocation_id,
        "gx_run_id": gx_run_id,
        "submissions": submissions,
        "files": files,
        "missing_datasets": missing,
    }
    with fs.open(f"{vdir}/manifest.json", "wb") as f:
        f.write(json.dumps(manifest, ensure_ascii=False, indent=2).encode() + b"\n")
    # audit
    audit(url, version, conn)
    # publish: one step
    tmp = f"{root}/.LATEST.{version}.tmp"
    with fs.open(tmp, "wb") as f:
        f.write(version.encode() + b"\n")
    fs.mv(tmp, f"{root}/LATEST")
    log.info("published %s", version)
    return PublishResult(version, True, url, files, missing)


def audit(url: str, version: str, conn) -> None:
    """Read the version back: every file's bytes and rows as the manifest says, rows as in the marts."""
    fs, root = _fs(url)
    vdir = f"{root}/v/{version}"
    manifest = json.loads(fs.cat_file(f"{vdir}/manifest.json"))
    problems = []
    for f in manifest["files"]:
        data = fs.cat_file(f"{vdir}/{f['name']}")
        if len(data) != f["bytes"] or hashlib.sha256(data).hexdigest() != f["sha256"]:
            problems.append(f"{f['name']}: bytes or checksum differ from the manifest")
        marts_rows = conn.execute(f'select count(*) from marts."{f["dataset"]}"').fetchone()[0]  # name from DATASETS
        if f["rows"] != marts_rows:
            problems.append(f"{f['name']}: {f['rows']} rows, marts.{f['dataset']} has {marts_rows}")
    if problems:
        raise AuditError("; ".join(problems))


def publish_to_target(url: str | None = None) -> dict:
    """Publish the marts to PUBLISH_URL (what the nightly DAG runs)."""
    from core import config
    from core.warehouse import connect

    url = url or config.publish_url()
    with connect() as conn:
        result = publish(url, conn, dbt_invocation_id=_last_dbt_invocation(), gx_run_id=_last_gx_run())
    return {"version": result.version, "created": result.created, "url": url,
            "files": len(result.files), "rows": sum(f["rows"] for f in result.files),
            "missing_datasets": result.missing_datasets}


def _last_dbt_invocation() -> str | None:
    from core.dbt import target_dir

    path = target_dir() / "run_results.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("metadata", {}).get("invocation_id")


def _last_gx_run() -> str | None:
    from expectations.gate import report_path

    path = report_path("warehouse")
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("run_id")
