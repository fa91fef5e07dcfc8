"""Rebuild the platform from the archive alone, after the warehouse was lost.

    python -m ops restore --from-archive     # into an empty warehouse: landing, raw, then the DAGs

The archive holds every file ever received and, beside it, its receipts (ingest.archive: the name the
county gave it, when it arrived, the channel). The restore replays every receipt, oldest first, through
the same intake as the inbox (waves per county, the GX submission audit, versions by receipt time,
quarantine and feedback), then runs `warehouse_build` with a full refresh and `nightly_publish`. What
comes out is what the platform decided the first time: the same submissions, versions and findings
(their identities aside), the same receipts for the counties, and a publication with the content of
the one before (so LATEST does not move when the publication target survived).

Only into an empty warehouse: a restore that died half-way is started again on an empty database
(drop and re-create it); replaying over a partial one would answer the files already decided as
duplicates. Archived files without a receipt (kept by a release before receipts) are listed: without
their name and time they cannot be replayed.
"""

from __future__ import annotations

import time
from collections import Counter


class RestoreRefused(RuntimeError):
    pass


def restore_from_archive(url: str | None = None, *, write_feedback: bool = True) -> dict:
    """Replay every receipt of the archive into the (empty) warehouse; return what became of them."""
    from core.warehouse import connect
    from ingest import archive
    from ingest.inbox import submission_audit
    from ingest.landing import Incoming, ensure_schema, submit_batch

    start = time.monotonic()
    receipts, without = archive.receipts()
    with connect(url, autocommit=True) as conn:
        ensure_schema(conn)
        held = conn.execute("select count(*) from landing.submissions").fetchone()[0]
        if held:
            raise RestoreRefused(f"the warehouse holds {held} submissions: a restore goes into an empty one "
                                 "(drop and re-create the database, then restore)")
        results = submit_batch([Incoming(r.path, r.file_name, r.received_at, channel="replay") for r in receipts],
                               conn=conn, audit=submission_audit(), write_feedback=write_feedback)
    statuses = Counter(r.status for r in results)
    return {"receipts": len(receipts), "files": len({r.file_sha256 for r in receipts}),
            "statuses": dict(sorted(statuses.items())),
            "errors": [f"{r.file_name}: {r.error}" for r in results if r.status in ("error", "held")],
            "without_receipt": [str(p) for p in without], "seconds": round(time.monotonic() - start, 1)}
