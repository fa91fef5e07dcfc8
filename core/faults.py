"""Named fault points: where the fault matrix (tests/test_fault_matrix.py, README "Faults and recovery")
stops a real process to kill it, or to kill what it talks to.

    from core.faults import point
    point("publish.audited")  # the version is written and audited; LATEST not switched yet

Inert unless TWOTOWNS_FAULT_AT names the point (one environment lookup). When it does, the process
writes `<TWOTOWNS_FAULT_DIR>/<name>.reached` and waits there (it holds whatever it holds: an open
transaction, half-written files) until it is killed or `<name>.resume` appears, at most
TWOTOWNS_FAULT_WAIT seconds (default 600; then it goes on). Nothing in the product sets these variables.

Points:
    receive.loaded      ingest.landing: the report's values are loaded as pending, not decided yet
    publish.write       publish.stream: the first dataset of a version is in the staging folder
    publish.audited     publish.wap: the version is written, audited, its manifest placed; LATEST not moved
    marts.switch        publish.marts: the schemas are renamed inside the switch's transaction, not committed
    dbt.town_quarter_indicators
                        a dbt post-hook of fct_town_quarter_indicators (macro fault_point): the model's rows
                        and partition state written in its transaction, not committed; it waits there for
                        an advisory lock the test holds (tests/processes.py)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

FAULT_AT = "TWOTOWNS_FAULT_AT"
FAULT_DIR = "TWOTOWNS_FAULT_DIR"
FAULT_WAIT = "TWOTOWNS_FAULT_WAIT"
POINTS = ("receive.loaded", "publish.write", "publish.audited", "marts.switch")


def point(name: str) -> None:
    """Stop here if the fault matrix asks for this point (see module doc)."""
    if os.environ.get(FAULT_AT) != name:
        return
    if name not in POINTS:
        raise ValueError(f"unknown fault point {name!r}")
    folder = Path(os.environ.get(FAULT_DIR) or ".")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.reached").write_text(str(os.getpid()), encoding="utf-8")
    resume = folder / f"{name}.resume"
    deadline = time.monotonic() + float(os.environ.get(FAULT_WAIT) or 600)
    while not resume.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
