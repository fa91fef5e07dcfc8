"""Run dbt against the warehouse: the profile reads its connection from env vars
that are derived here from `WAREHOUSE_URL` (or the embedded server).

    python -m core.dbt build            # any dbt command and arguments
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from core import config
from core.config import DBT_PROJECT_DIR
from core.warehouse import conn_params, warehouse_url


def target_dir() -> Path:
    """dbt's artefacts (manifest, run_results): DBT_TARGET_PATH, else dbt_project/target."""
    return Path(os.environ.get("DBT_TARGET_PATH") or DBT_PROJECT_DIR / "target")


def seed_path() -> str:
    """dbt's seed-paths entry for `config.seeds_dir()`: `seeds` for the project's own folder; another folder
    is mirrored (its CSV files, copied when changed) to `dbt_project/.seeds/<digest>` first. dbt writes each
    seed's compiled SQL to target/ joined with the seed's path, so an absolute seed path would overwrite the
    CSV files themselves (it did, in a trial run)."""
    import hashlib
    import shutil

    folder = config.seeds_dir().resolve()
    if folder == config.SEEDS_DIR.resolve():
        return "seeds"
    relative = Path(".seeds") / hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    mirror = DBT_PROJECT_DIR / relative
    mirror.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in folder.glob("*.csv")}
    for stale in mirror.glob("*.csv"):
        if stale.name not in wanted:
            stale.unlink()
    for name, src in wanted.items():
        dest = mirror / name
        if not dest.exists() or dest.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dest)
    return str(relative)


def dbt_env(url: str | None = None) -> dict[str, str]:
    """Environment variables read by dbt_project/profiles.yml."""
    p = conn_params(url or warehouse_url())
    return {
        "DBT_HOST": p.host,
        "DBT_PORT": str(p.port),
        "DBT_USER": p.user,
        "DBT_PASSWORD": p.password,
        "DBT_DBNAME": p.dbname,
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "TWOTOWNS_DBT_SEED_PATH": seed_path(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


@dataclass
class DbtResult:
    success: bool
    command: list[str]
    counts: dict[str, int] = field(default_factory=dict)  # status -> number of nodes
    by_type: dict[str, int] = field(default_factory=dict)  # resource type -> number run
    failures: list[str] = field(default_factory=list)
    invocation_id: str | None = None


# A dbt invocation that reads the warehouse holds this advisory lock (exclusive) from start to end; the ingest
# takes it shared in every decision's transaction (ingest.landing). So a build sees exactly the decisions
# committed before it started: one decided meanwhile waits for the build to end (its asset event then starts
# the next build), instead of being seen by the models built after it and not by those built before.
BUILD_LOCK = "twotowns: a dbt invocation is reading landing"
_READING = {"build", "run", "test", "seed", "snapshot"}


@contextmanager
def holding_the_build_lock(url: str | None = None):
    """The build lock for the duration of the block (see BUILD_LOCK), on a connection of its own."""
    from core.warehouse import connect

    with connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (BUILD_LOCK,))
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (BUILD_LOCK,))


def run_dbt(args: list[str], url: str | None = None, quiet: bool = False) -> DbtResult:
    """Invoke dbt in-process (dbtRunner) with the project and profile set up; a command that reads the
    warehouse runs under the build lock (BUILD_LOCK)."""
    os.environ.update(dbt_env(url))
    from dbt.cli.main import dbtRunner

    cli_args = [*args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if quiet:
        cli_args = ["--quiet", *cli_args]
    with holding_the_build_lock(url) if _READING & set(args[:1]) else nullcontext():
        res = dbtRunner().invoke(cli_args)
    result = DbtResult(success=bool(res.success), command=["dbt", *args])
    run_results = getattr(res, "result", None)
    for node_result in getattr(run_results, "results", None) or []:
        status = str(getattr(node_result.status, "value", node_result.status))
        result.counts[status] = result.counts.get(status, 0) + 1
        node = getattr(node_result, "node", None)
        rtype = str(getattr(getattr(node, "resource_type", None), "value", "unknown"))
        result.by_type[rtype] = result.by_type.get(rtype, 0) + 1
        if status in ("error", "fail", "runtime error"):
            result.failures.append(f"{getattr(node, 'unique_id', '?')}: {node_result.message}")
    result.invocation_id = getattr(getattr(run_results, "metadata", None), "invocation_id", None)
    if res.exception is not None and not result.failures:
        result.failures.append(str(res.exception))
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: python -m core.dbt <dbt command> [args...]", file=sys.stderr)
        return 2
    result = run_dbt(argv)
    return 0 if result.success else 1


class DbtFailed(RuntimeError):
    pass


def run_dbt_or_raise(args: list[str]) -> dict:
    """Run dbt; raise with the failing nodes if it did not succeed; return a summary."""
    result = run_dbt(args)
    summary = {"command": " ".join(result.command), "success": result.success, "counts": result.counts,
               "by_type": result.by_type, "invocation_id": result.invocation_id}
    if not result.success:
        raise DbtFailed(f"{summary['command']} failed: " + "; ".join(result.failures[:20]))
    return summary


if __name__ == "__main__":
    raise SystemExit(main())
