"""Write, audit, publish: a new publication version appears whole or not at all.

1. write: every dataset is streamed from `marts`, the audited build BI tools read too
   (publish.marts; not switched meanwhile) (publish.stream: chunks through a
   server-side cursor; a large dataset partitioned by year and province in CSV and
   Parquet, JSON and the workbook only up to their limits) into a staging folder,
   moved (or uploaded) to `v/<version>/` under `PUBLISH_URL` (any fsspec URL) once
   the content hash names the version, then `manifest.json` last;
2. audit: the files are read back in blocks and their bytes, checksums and row
   counts checked against the manifest and the marts, per partition (plus any
   extra audits given);
3. publish: `LATEST` is replaced in one step (write a temporary pointer, then
   move), and on a local disk `latest/` (a symlink) follows in one step too.
Old versions are pruned to the newest N (PUBLISH_KEEP_VERSIONS), never the
one LATEST names.
A version whose content equals the current LATEST's is not made again. A
failure before step 3 leaves LATEST as it was; the incomplete folder has no
manifest and is never pointed at.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.datasets import Dataset, partition_counts, published
from core.faults import point
from core.marts import PUBLISHED
from core.marts import stamp as marts_stamp
from publish.stream import Limits, write_files

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
    return [d for d in published() if d.name in names]


def _current_submissions(conn) -> list[dict]:
    """The lineage of the publication: the current submission of every (county, period, form) in the build of
    the published marts (marts.current_submissions), not in landing, which may already hold a decision that
    build has not seen. Marts not built by dbt (a hand-made schema) have no lineage to give."""
    if conn.execute(f"select to_regclass('{PUBLISHED}.current_submissions')").fetchone()[0] is None:
        return []
    rows = conn.execute(f"select county_code, year, quarter, array_agg(form order by form), version, file_sha256 "
                        f"from {PUBLISHED}.current_submissions group by 1, 2, 3, 5, 6 order by 1, 2, 3, 4").fetchall()
    return [{"county_code": c, "period": f"{y}Q{q}", "forms": forms, "version": v, "file_sha256": s}
            for c, y, q, forms, v, s in rows]


def read_latest(url: str) -> dict | None:
    """The manifest of the version LATEST names, or None."""
    fs, root = _fs(url)
    if not fs.exists(f"{root}/LATEST"):
        return None
    version = fs.cat_file(f"{root}/LATEST").decode().strip()
    return json.loads(fs.cat_file(f"{root}/v/{version}/manifest.json"))


def _staging(fs, root: str) -> Path:
    """Where a version's files are written before their content hash names the version: beside the
    versions on a local disk (moved into place in one rename), else a local temporary folder (uploaded)."""
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        path = Path(root) / "v" / f".staging-{os.getpid()}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        _remove_dead_staging(path.parent)
        return path
    return Path(tempfile.mkdtemp(prefix="twotowns-publish-"))


def _remove_dead_staging(versions: Path) -> None:
    """The staging folders of publishers that died (killed mid-write: no `finally` ran) are removed by the
    next run; a live publisher's (its process exists) is left alone. Readers never see them (not versions)."""
    for path in versions.glob(".staging-*"):
        pid = path.name.removeprefix(".staging-")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            log.info("removing %s, left by a publisher that died", path)
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:  # another user's live process
            continue


def _place(fs, root: str, staging: Path, vdir: str, files: list[dict]) -> None:
    """The staged files into v/<version>/ (a folder left by an earlier failed audit is replaced)."""
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        shutil.rmtree(vdir, ignore_errors=True)
        os.replace(staging, vdir)
        return
    fs.makedirs(vdir, exist_ok=True)
    for f in files:
        fs.put_file(str(staging / f["name"]), f"{vdir}/{f['name']}")


def _content_hash(files: list[dict], submissions: list[dict]) -> str:
    return hashlib.sha256(json.dumps(
        {"files": [(f["name"], f["sha256"]) for f in files], "submissions": submissions},
        sort_keys=True).encode()).hexdigest()


def publish(url: str, conn, *, dbt_invocation_id: str | None = None, gx_run_id: str | None = None,
            now: datetime | None = None, keep: int | None = None, audits=(), limits: Limits | None = None
            ) -> PublishResult:
    """Write, audit and publish a new version if the content changed. `audits` are extra checks
    `audit(version_url, manifest, conn)` run before LATEST moves (e.g. the GX publication audit);
    any exception they raise stops the publication. `limits`: partitioning and form limits
    (default: publish.stream.Limits.from_env()). The manifest names the build of the marts and its
    audit (publish.marts; or the ids given); the marts are not switched while the version is made."""
    from publish.marts import reading_published

    with reading_published(conn):
        built = marts_stamp(conn, PUBLISHED)
        return _publish(url, conn, dbt_invocation_id=dbt_invocation_id or built.get("build_id"),
                        gx_run_id=gx_run_id or built.get("gx_run_id"), now=now, keep=keep, audits=audits,
                        limits=limits or Limits.from_env())


def _publish(url: str, conn, *, dbt_invocation_id: str | None, gx_run_id: str | None, now: datetime | None,
             keep: int | None, audits, limits: Limits) -> PublishResult:
    datasets = _existing_datasets(conn)
    missing = [d.name for d in published() if d not in datasets]
    fs, root = _fs(url)
    staging = _staging(fs, root)
    try:
        files, skipped = write_files(conn, datasets, staging, limits)
        submissions = _current_submissions(conn)
        content_hash = _content_hash(files, submissions)
        latest = read_latest(url)
        if latest is not None and latest.get("content_sha256") == content_hash:
            log.info("publication unchanged: LATEST stays %s", latest["version"])
            return PublishResult(latest["version"], False, url, latest["files"], missing)
        now = (now or datetime.now(UTC)).astimezone(UTC)
        version = f"{now:%Y%m%dT%H%M%SZ}-{content_hash[:8]}"
        vdir = f"{root}/v/{version}"
        _place(fs, root, staging, vdir, files)  # the data files, then the manifest (none: incomplete)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest = {
        "version": version,
        "built_at": now.isoformat().replace("+00:00", "Z"),
        "content_sha256": content_hash,
        "dbt_invocation_id": dbt_invocation_id,
        "gx_run_id": gx_run_id,
        "submissions": submissions,
        "files": files,
        "missing_datasets": missing,
        **({"skipped_forms": skipped} if skipped else {}),
    }
    with fs.open(f"{vdir}/manifest.json", "wb") as f:
        f.write(json.dumps(manifest, ensure_ascii=False, indent=2).encode() + b"\n")
    audit(url, version, conn)
    for extra in audits:
        extra(f"{url.rstrip('/')}/v/{version}", manifest, conn)
    point("publish.audited")
    _switch_latest(fs, root, version)
    log.info("published %s", version)
    if keep:
        prune(url, keep)
    return PublishResult(version, True, url, files, missing)


def _switch_latest(fs, root: str, version: str) -> None:
    """LATEST replaced in one step (a temporary pointer, then a move); `latest/` follows."""
    tmp = f"{root}/.LATEST.{version}.tmp"
    with fs.open(tmp, "wb") as f:
        f.write(version.encode() + b"\n")
    fs.mv(tmp, f"{root}/LATEST")
    _link_latest(fs, root, version)


def _link_latest(fs, root: str, version: str) -> None:
    """`latest/` beside LATEST where the target allows it: a symlink switched atomically on a local disk.
    (On an object store LATEST alone is the pointer: a copy could not be switched in one step.)"""
    import os

    from fsspec.implementations.local import LocalFileSystem

    if not isinstance(fs, LocalFileSystem):
        return
    tmp = f"{root}/.latest.{version}.tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(f"v/{version}", tmp)
    os.replace(tmp, f"{root}/latest")


def versions(url: str) -> list[str]:
    """Complete versions (those with a manifest), oldest first."""
    fs, root = _fs(url)
    if not fs.exists(f"{root}/v"):
        return []
    names = sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(f"{root}/v", detail=False))
    return [n for n in names if fs.exists(f"{root}/v/{n}/manifest.json")]


def prune(url: str, keep: int) -> list[str]:
    """Delete all but the newest `keep` versions, never the one LATEST names; also incomplete
    folders older than the newest complete version (left by a failed run). Returns what was deleted."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    fs, root = _fs(url)
    latest = read_latest(url)
    current = latest["version"] if latest else None
    complete = versions(url)
    doomed = [v for v in complete[:-keep] if v != current]
    all_dirs = sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(f"{root}/v", detail=False)) \
        if fs.exists(f"{root}/v") else []
    newest = complete[-1] if complete else ""
    doomed += [d for d in all_dirs if d not in complete and d < newest and d != current]
    for v in doomed:
        fs.rm(f"{root}/v/{v}", recursive=True)
    return doomed


def _digest(fs, path: str) -> tuple[int, str]:
    """(bytes, sha256) of a file read back in blocks: never a whole big file in memory."""
    digest, size = hashlib.sha256(), 0
    with fs.open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def expected_rows(conn, manifest: dict) -> dict[tuple[str, tuple, tuple], int]:
    """Rows of the marts each data file should hold: {(dataset, partition keys, partition values): rows},
    one grouped count per dataset and set of keys (a partitioned dataset's JSON file is whole)."""
    wanted = {(f["dataset"], tuple(f.get("partition") or ())) for f in manifest["files"] if f["dataset"] != "*"}
    return {(name, by, key): n for name, by in sorted(wanted) for key, n in partition_counts(conn, name, by).items()}


def audit(url: str, version: str, conn) -> None:
    """Read the version back: every file's bytes and rows as the manifest says, rows as in the marts
    (per partition for a partitioned dataset)."""
    fs, root = _fs(url)
    vdir = f"{root}/v/{version}"
    manifest = json.loads(fs.cat_file(f"{vdir}/manifest.json"))
    expected = expected_rows(conn, manifest)
    problems = []
    for f in manifest["files"]:
        size, sha = _digest(fs, f"{vdir}/{f['name']}")
        if size != f["bytes"] or sha != f["sha256"]:
            problems.append(f"{f['name']}: bytes or checksum differ from the manifest")
        if f["dataset"] == "*":
            continue
        partition = f.get("partition") or {}
        marts_rows = expected.get((f["dataset"], tuple(partition), tuple(partition.values())), 0)
        if f["rows"] != marts_rows:
            where = f" partition {f['partition']}" if f.get("partition") else ""
            problems.append(f"{f['name']}: {f['rows']} rows, marts.{f['dataset']}{where} has {marts_rows}")
    if problems:
        raise AuditError("; ".join(problems))


def publish_to_target(url: str | None = None) -> dict:
    """Publish the marts to PUBLISH_URL (what the nightly DAG runs)."""
    from core import config
    from core.warehouse import connect

    url = url or config.publish_url()
    with connect() as conn:
        from expectations.publication import publication_gate

        result = publish(url, conn, keep=config.publish_keep_versions(), audits=[publication_gate])
    return {"version": result.version, "created": result.created, "url": url,
            "files": len(result.files), "rows": sum(f["rows"] for f in result.files),
            "missing_datasets": result.missing_datasets}
