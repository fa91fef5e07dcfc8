"""Writing a file so that readers see the old content or the new, never half of it."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) to a temporary file beside `path`, then rename it over `path` (one step
    on a POSIX file system). The folder is created if need be; the temporary name is unique per process
    and thread, so concurrent writers of the same file do not share it (the last rename wins)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
