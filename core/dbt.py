"""Run dbt against the warehouse: the profile reads its connection from env vars
that are derived here from `WAREHOUSE_URL` (or the embedded server).

    python -m core.dbt build            # any dbt command and arguments
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from core.config import DBT_PROJECT_DIR, SEEDS_DIR, seeds_dir
from core.warehouse import conn_params, warehouse_url


def target_dir() -> Path:
    """dbt's artefacts (manifest, run_results): DBT_TARGET_PATH, else dbt_project/target."""
    return Path(os.environ.get("DBT_TARGET_PATH") or DBT_PROJECT_DIR / "target")


EXTERNAL_SEEDS = ".external_seeds"  # under dbt_project: links to seed folders outside the project


def seed_path() -> str:
    """The seed path dbt reads (TWOTOWNS_DBT_SEED_PATH in dbt_project.yml): `seeds`, or for a TWOTOWNS_SEEDS_DIR
    outside the project a project-relative symlink to it, `.external_seeds/<hash of the folder>` (dbt writes a
    seed's run output under target/ at the seed's path: an absolute path would overwrite the CSV files)."""
    folder = seeds_dir().resolve()
    if folder == SEEDS_DIR.resolve():
        return "seeds"
    if folder.is_relative_to(DBT_PROJECT_DIR.resolve()):
        return str(folder.relative_to(DBT_PROJECT_DIR.resolve()))
    name = hashlib.sha256(str(folder).encode("utf-8")).hexdigest()[:12]
    link = DBT_PROJECT_DIR / EXTERNAL_SEEDS / name
    if not (link.is_symlink() and link.resolve() == folder):
        link.parent.mkdir(exist_ok=True)
        tmp = link.with_name(f".{name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(folder, target_is_directory=True)
        os.replace(tmp, link)
    return f"{EXTERNAL_SEEDS}/{name}"


def dbt_env(url: str | None = None) -> dict[str, str]:
    """Environment variables read by dbt_project/profiles.yml and dbt_project.yml."""
    p = conn_params(url or warehouse_url())
    return {
        "TWOTOWNS_DBT_SEED_PATH": seed_path(),
        "DBT_HOST": p.host,
        "DBT_PORT": str(p.port),
        "DBT_USER": p.user,
        "DBT_PASSWORD": p.password,
        "DBT_DBNAME": p.dbname,
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
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


def run_dbt(args: list[str], url: str | None = None, quiet: bool = False) -> DbtResult:
    """Invoke dbt in-process (dbtRunner) with the project and profile set up."""
    os.environ.update(dbt_env(url))
    from dbt.cli.main import dbtRunner

    cli_args = [*args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if quiet:
        cli_args = ["--quiet", *cli_args]
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
