"""The GX engine: GX imported lazily (it is slow to import) with analytics and progress bars off, an
ephemeral context per run, and the Data Docs of a run, built into `<var>/quality/data_docs/<stage>/`
(internal, never published with the data).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def import_gx():
    """The great_expectations module, with the custom expectations registered."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    import expectations.custom  # noqa: F401  (registers the custom expectations)

    return gx


def docs_root() -> Path:
    """Where Data Docs are built: internal output, copy it next to (never into) the public publication."""
    from core import config

    return config.var_dir() / "quality" / "data_docs"


def new_context(gx, docs_dir: Path | None):
    """An ephemeral context (nothing of the warehouse URL is written to disk) whose Data Docs site is a folder."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir is not None:
        sites = {"quality": {
            "class_name": "SiteBuilder", "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }}
    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
                               progress_bars=ProgressBarsConfig(globally=False), data_docs_sites=sites)
    return gx.get_context(mode="ephemeral", project_config=config)


def build_docs(context, result, docs_dir: Path | None, *, per_submission: bool = False,
               keep_pages: bool = False) -> tuple[str | None, list]:
    """Build the Data Docs of one checkpoint run: (site URL, validation page URL per run result, in order).

    A stage's site shows its latest run (earlier pages are removed). Submission audits keep every
    page (each submission's report links its own) and skip the index, whose rendering would grow
    with every submission a worker has audited; their results are then dropped from the in-memory
    store, so a long-lived worker does not accumulate them."""
    if docs_dir is None:
        return None, [None] * len(result.run_results)
    ids = list(result.run_results.keys())
    try:
        if not per_submission and not keep_pages:  # (keep_pages: a second checkpoint of the same run)
            shutil.rmtree(docs_dir / "validations", ignore_errors=True)
        context.build_data_docs(resource_identifiers=ids, build_index=not per_submission)
        pages = []
        for rid in ids:
            urls = context.get_docs_sites_urls(resource_identifier=rid)
            pages.append(urls[0]["site_url"] if urls else None)
        site = pages[0] if per_submission else (docs_dir / "index.html").resolve().as_uri()
        return site, pages
    except Exception:  # docs are a convenience: a rendering bug must not hide the audit's verdict
        log.exception("building Data Docs failed")
        return None, [None] * len(ids)
    finally:
        if per_submission:
            for rid in ids:
                try:
                    context.validation_results_store.remove_key(rid)
                except Exception:  # noqa: BLE001 - best effort housekeeping
                    pass


def run_id_of(stage: str, result) -> str:
    """A compact id of a checkpoint run: `<stage>-<UTC run time>` (GX's run time of the run)."""
    run_time = getattr(result.run_id, "run_time", None)
    return f"{stage}-{run_time:%Y%m%dT%H%M%S.%fZ}" if run_time else f"{stage}-{result.run_id}"
