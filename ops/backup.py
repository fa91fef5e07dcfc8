"""Backups of the warehouse and the archive: `make backup`, `make restore BACKUP=DIR`.

    python -m ops backup [--to DIR]          # <var>/backups/<UTC time>/ by default
    python -m ops restore --from-backup DIR  # the warehouse as it was, the archive's missing files back

A backup folder holds `warehouse.dump` (pg_dump, custom format: every schema, data and privileges),
`archive.tar` (every archived file and its receipts) and `backup.json` (when, what, checksums). The
restore replaces the warehouse database's content with the dump (pg_restore --clean, one transaction)
and puts back the archive's files that are missing; it never deletes or overwrites an archived file (they
are content-addressed) and only adds receipts a file does not have. The archive alone also rebuilds
everything (`python -m ops restore --from-archive`): the dump is the quicker way back, with the
warehouse's history of versions as it was, including files whose receipts were never written.

The password goes to pg_dump and pg_restore through the environment (PGPASSWORD), never the command
line. For the compose stack the same commands run in a container that mounts the shared volume:
`docker compose exec airflow-scheduler python -m ops backup --to /srv/twotowns/backups/<name>`.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

from core import config
from ingest.archive import sha256_file


def _env(params) -> dict:
    return {**os.environ, "PGPASSWORD": params.password, "PGHOST": params.host, "PGPORT": str(params.port),
            "PGUSER": params.user, "PGDATABASE": params.dbname}


def backup(to: Path | None = None, url: str | None = None) -> dict:
    """Dump the warehouse and pack the archive into a new backup folder; returns its manifest."""
    from core.warehouse import client_binary, conn_params

    now = datetime.now(UTC)
    folder = Path(to) if to else config.var_dir() / "backups" / f"{now:%Y%m%dT%H%M%SZ}"
    folder.mkdir(parents=True, exist_ok=False)
    params = conn_params(url)
    start = time.monotonic()
    dump = folder / "warehouse.dump"
    subprocess.run([client_binary("pg_dump"), "--format=custom", "--file", str(dump)], env=_env(params),
                   check=True, capture_output=True)
    archive_root = config.archive_dir()
    members = sorted(p for p in archive_root.rglob("*") if p.is_file() and not p.name.startswith(".")) \
        if archive_root.is_dir() else []
    with tarfile.open(folder / "archive.tar", "w") as tar:
        for path in members:
            tar.add(path, arcname=str(path.relative_to(archive_root)), recursive=False)
    manifest = {"created_at": now.isoformat(timespec="seconds"), "database": params.dbname,
                "warehouse_dump": {"bytes": dump.stat().st_size, "sha256": sha256_file(dump)},
                "archive": {"files": len(members), "bytes": (folder / "archive.tar").stat().st_size,
                            "sha256": sha256_file(folder / "archive.tar")},
                "seconds": round(time.monotonic() - start, 2)}
    (folder / "backup.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return {"folder": str(folder), **manifest}


def restore_backup(folder: Path, url: str | None = None) -> dict:
    """The warehouse from the backup's dump (replacing its content), the archive's missing files back."""
    from core.warehouse import client_binary, conn_params

    folder = Path(folder)
    manifest = json.loads((folder / "backup.json").read_text(encoding="utf-8"))
    for name, key in (("warehouse.dump", "warehouse_dump"), ("archive.tar", "archive")):
        if sha256_file(folder / name) != manifest[key]["sha256"]:
            raise ValueError(f"{folder / name} does not match its checksum in backup.json: not restored")
    params = conn_params(url)
    start = time.monotonic()
    subprocess.run([client_binary("pg_restore"), "--clean", "--if-exists", "--single-transaction",
                    "--dbname", params.dbname, str(folder / "warehouse.dump")], env=_env(params), check=True,
                   capture_output=True)
    root = config.archive_dir()
    added = 0
    with tarfile.open(folder / "archive.tar") as tar:
        for member in tar.getmembers():
            target = (root / member.name).resolve()
            if not member.isfile() or root.resolve() not in target.parents or target.exists():
                continue  # content-addressed: what exists is the same bytes; nothing outside the archive
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(target, "wb") as out:
                out.write(src.read())
            added += 1
    return {"folder": str(folder), "database": params.dbname, "archive_files_added": added,
            "seconds": round(time.monotonic() - start, 2)}
