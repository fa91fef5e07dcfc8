"""Project paths and settings, read from the environment when asked, never at import.

Every setting has a project-local default so that a fresh clone runs with no
configuration; production overrides them with environment variables.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_DIR / "dbt_project"
EXPECTATIONS_DIR = PROJECT_DIR / "expectations"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"

# The reporting period range of the sample data and the demo.
SAMPLE_DIR_DEFAULT = PROJECT_DIR / "data" / "sample"


def _path_setting(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    if not value:
        return default
    return _resolved(value, "" if os.path.isabs(value) else os.getcwd())


@functools.lru_cache(maxsize=256)
def _resolved(value: str, cwd: str) -> Path:
    """The setting's path made absolute, once per value and working folder: the parser asks for the seeds
    folder a few times per value it reads (200,000 times for a national quarter), and the same Path object
    keeps its hash for the registry caches keyed by it."""
    return (Path(cwd) / Path(value).expanduser()).resolve()


def var_dir() -> Path:
    """Runtime state of the local pipeline (inbox, archive, outboxes, quarantine)."""
    return _path_setting("TWOTOWNS_VAR_DIR", PROJECT_DIR / "var")


def inbox_dir() -> Path:
    """Where county files arrive; the county_reports DAG picks them up here."""
    return _path_setting("TWOTOWNS_INBOX", var_dir() / "inbox")


def archive_dir() -> Path:
    """Content-addressed store of every file ever received (never deleted)."""
    return _path_setting("TWOTOWNS_ARCHIVE", var_dir() / "archive")


def quarantine_dir() -> Path:
    """Refused files, kept under their content hash with the findings beside them."""
    return _path_setting("TWOTOWNS_QUARANTINE", var_dir() / "quarantine")


def outbox_dir() -> Path:
    """Feedback reports, one sub-folder per county code."""
    return _path_setting("TWOTOWNS_OUTBOX", var_dir() / "outbox")


def publish_url() -> str:
    """fsspec URL of the publication target."""
    return os.environ.get("PUBLISH_URL") or (PROJECT_DIR / "published").as_uri()


def publish_keep_versions() -> int:
    """How many publication versions to keep (the one LATEST names is never deleted)."""
    return int(os.environ.get("PUBLISH_KEEP_VERSIONS", "30"))


def seeds_dir() -> Path:
    """The registry and policy seeds (CSV) that ingest, GX, the sample generator and dbt read:
    `TWOTOWNS_SEEDS_DIR` (e.g. a scaled registry written by `python -m samplegen --scale province`),
    else the project's dbt_project/seeds."""
    return _path_setting("TWOTOWNS_SEEDS_DIR", SEEDS_DIR)


def sample_dir() -> Path:
    return _path_setting("TWOTOWNS_SAMPLE_DIR", SAMPLE_DIR_DEFAULT)


def intake_batch_files() -> int:
    """How many inbox files one county_reports batch (one mapped task) takes at most, whole counties
    only: a county with more files than this is a batch of its own (a county is never split). The
    listing raises it when the inbox would otherwise need more than `intake_max_batches()` batches.

    Default 500: a batch pays about 10 s once (a task process, the imports, the GX checkpoint prepared)
    and then about 30 ms per file (nation-scale sample, this machine), so 500 files keep that overhead
    under half of the batch's time while a national quarter (4,290 files) still makes 9 batches for the
    Celery workers to share. A city's quarter is one batch."""
    return max(1, int(os.environ.get("TWOTOWNS_INTAKE_BATCH_FILES", "500")))


def intake_max_batches() -> int:
    """The most batches (mapped tasks) one county_reports run makes; never above Airflow's
    max_map_length default (1,024)."""
    return max(1, min(1024, int(os.environ.get("TWOTOWNS_INTAKE_MAX_BATCHES", "1024"))))
