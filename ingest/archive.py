"""The archive: every file ever received, kept forever under its content hash, with its receipts.

    <archive>/<sha[:2]>/<sha256><.xlsx|.xls|.csv|.bin>                  the bytes
    <archive>/<sha[:2]>/<sha256><suffix>.receipts.jsonl                 one line per receipt

A receipt is one arrival of those bytes: the name the county gave the file, when it arrived and
through which channel (`inbox`, `submit`: `python -m ingest submit`, ...). Bytes and receipts together
are the source of truth: `python -m ops restore --from-archive` rebuilds landing, raw, the warehouse
and the publication from them alone (ops/restore.py). A receipt is appended (and flushed to disk)
before the file is processed, so a file in the archive always has the receipt it was processed with;
a receipt written twice (a retried task) reads once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core import config

ALLOWED_SUFFIXES = {".xlsx", ".xls", ".csv"}
RECEIPTS = ".receipts.jsonl"
CHANNELS = ("inbox", "submit")  # where a file comes from; a replay of the archive (reprocess, restore) adds none


@dataclass(frozen=True, order=True)
class Receipt:
    received_at: datetime
    file_sha256: str
    file_name: str
    channel: str
    path: Path  # the archived bytes


def suffix(name: str) -> str:
    s = Path(name).suffix.lower()
    return s if s in ALLOWED_SUFFIXES else ".bin"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy so that `dest` either does not exist or holds all the bytes."""
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def keep(path: Path, file_name: str) -> tuple[str, Path]:
    """Keep the file's bytes under their content hash; return (sha256, archive path)."""
    sha = sha256_file(path)
    dest = config.archive_dir() / sha[:2] / f"{sha}{suffix(file_name)}"
    atomic_copy(path, dest)
    return sha, dest


def record_receipt(archived: Path, file_name: str, received_at: datetime, channel: str) -> None:
    """Append one receipt beside the archived bytes (flushed to disk before the file is processed)."""
    if channel not in CHANNELS:
        raise ValueError(f"receipt channel {channel!r}: one of {CHANNELS} (a replay adds no receipt)")
    line = json.dumps({"file_name": file_name, "received_at": received_at.isoformat(), "channel": channel},
                      ensure_ascii=False, sort_keys=True)
    with open(archived.with_name(archived.name + RECEIPTS), "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def receipts(root: Path | None = None) -> tuple[list[Receipt], list[Path]]:
    """Every receipt in the archive, oldest first (a receipt written twice once), and the archived files
    that have none (kept by a release before receipts; they cannot be replayed without their name and
    time). A line cut short by a crash is skipped: the receipt it began was not processed either."""
    root = root or config.archive_dir()
    found: set[Receipt] = set()
    without: list[Path] = []
    for bytes_path in sorted(root.glob("??/*")):
        if bytes_path.name.endswith(RECEIPTS) or bytes_path.name.startswith("."):
            continue
        log = bytes_path.with_name(bytes_path.name + RECEIPTS)
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        sha = bytes_path.name.split(".", 1)[0]
        before = len(found)
        for line in lines:
            try:
                r = json.loads(line)
                found.add(Receipt(datetime.fromisoformat(r["received_at"]), sha, r["file_name"], r["channel"],
                                  bytes_path))
            except (ValueError, KeyError, TypeError):
                continue
        if len(found) == before and not lines:
            without.append(bytes_path)
    return sorted(found), without
