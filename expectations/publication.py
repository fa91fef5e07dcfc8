"""The publication audit: the exported files of a version, read back, before LATEST moves.

publish.wap writes every dataset of a new version, then asks:

    from expectations.publication import audit_publication
    outcome = audit_publication(version_dir_url, manifest, conn)   # RunOutcome
    if not outcome.success: raise ...                              # LATEST stays where it was

The files are read back through fsspec (any target: file://, s3://, ...) and
copied into a local working folder, because files are what is audited here: GX
reads them with a pandas filesystem datasource. One checkpoint validates

- `publication_files` on an inventory with one row per file of the manifest
  (and per mart dataset without a file): present, bytes and sha256 as the
  manifest says, rows in the file and in the manifest equal to the rows of the
  mart, the CSV header equal to the mart's columns, the UTF-8 BOM;
- `publication_csv` on every CSV file: no formula-like text unescaped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import time
from pathlib import Path

from expectations.runner import (
    RunOutcome,
    SuiteOutcome,
    build_docs,
    build_suite,
    docs_root,
    expectation_outcome,
    load_suite_specs,
    new_context,
    run_id_of,
    suite_success,
)

INVENTORY_FILE = "_inventory.csv"
INVENTORY_COLUMNS = ("file", "dataset", "present", "bytes", "manifest_bytes", "sha256", "manifest_sha256",
                     "file_rows", "manifest_rows", "marts_rows", "header_matches_marts", "utf8_bom")
BOM = b"\xef\xbb\xbf"


def _fs(url_or_path: str):
    import fsspec

    fs, root = fsspec.core.url_to_fs(str(url_or_path))
    return fs, root.rstrip("/")


def _marts(conn) -> dict[str, list[str]]:
    """Columns (in order) of every table in schema marts."""
    rows = conn.execute("select table_name, column_name from information_schema.columns "
                        "where table_schema = 'marts' order by table_name, ordinal_position").fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def _count(conn, table: str) -> int:
    from psycopg import sql

    return conn.execute(sql.SQL("select count(*) from {}.{}").format(
        sql.Identifier("marts"), sql.Identifier(table))).fetchone()[0]


def _csv_facts(data: bytes) -> tuple[int, list[str], bool]:
    """(data rows, header, starts with a BOM) of a CSV file's bytes."""
    text = data.decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return max(len(rows) - 1, 0), (rows[0] if rows else []), data.startswith(BOM)


def _safe_name(name: str) -> str:
    """A manifest file name as a plain local file name (never a path)."""
    base = Path(str(name)).name
    return re.sub(r"[^\w.\-]", "_", base) or "unnamed"


def inventory(version_dir: str, manifest: dict, conn, workdir: Path) -> list[dict]:
    """Read every file back; copy CSVs into `workdir`; one inventory row per file (and per missing dataset)."""
    fs, root = _fs(version_dir)
    marts = _marts(conn)
    datasets = _dataset_names()
    rows, seen = [], set()
    for f in manifest.get("files") or []:
        name, dataset = str(f.get("name")), str(f.get("dataset") or "")
        seen.add(dataset)
        row = dict.fromkeys(INVENTORY_COLUMNS, "")
        row.update(file=name, dataset=dataset, manifest_bytes=f.get("bytes", ""),
                   manifest_sha256=f.get("sha256", ""), manifest_rows=f.get("rows", ""))
        if dataset in marts:
            row["marts_rows"] = _count(conn, dataset)
        path = f"{root}/{name}"
        if "/" in name or name.startswith(".") or not fs.exists(path):
            row["present"] = "false"
            rows.append(row)
            continue
        data = fs.cat_file(path)
        row.update(present="true", bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
        if name.lower().endswith(".csv"):
            n, header, bom = _csv_facts(data)
            row.update(file_rows=n, utf8_bom=str(bom).lower(),
                       header_matches_marts=str(header == marts.get(dataset)).lower())
            (workdir / _safe_name(name)).write_bytes(data)
        rows.append(row)
    for dataset in datasets:
        if dataset in marts and dataset not in seen:  # a mart that should have been exported
            row = dict.fromkeys(INVENTORY_COLUMNS, "")
            row.update(file=f"{dataset}.csv", dataset=dataset, present="false", marts_rows=_count(conn, dataset))
            rows.append(row)
    return rows


def _dataset_names() -> list[str]:
    try:
        from publish.datasets import DATASETS

        return [d.name for d in DATASETS]
    except ImportError:  # pragma: no cover - publish is part of the project
        return []


def _write_inventory(rows: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=INVENTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def audit_publication(version_dir: str, manifest: dict, conn, *, suites: list[str] | None = None,
                      docs: bool = True) -> RunOutcome:
    """Audit a written (not yet published) version against its manifest and the marts: one GX checkpoint.

    version_dir: URL or path of `v/<version>/`; manifest: the manifest dict (as written or about
    to be written); conn: a psycopg connection to the warehouse (row counts of the marts)."""
    from core import config
    from expectations.runner import _gx

    start = time.monotonic()
    version = str(manifest.get("version") or "unversioned")
    workdir = config.var_dir() / "quality" / "publication" / _safe_name(version)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    rows = inventory(version_dir, manifest, conn, workdir)
    _write_inventory(rows, workdir / INVENTORY_FILE)
    csv_files = sorted(p.name for p in workdir.iterdir() if p.name != INVENTORY_FILE and p.suffix.lower() == ".csv")

    specs = {s["meta"]["batch"]: s for s in load_suite_specs("publication", suites)}
    gx = _gx()
    docs_dir = docs_root() / "publication" if docs else None
    context = new_context(gx, docs_dir)
    source = context.data_sources.add_pandas_filesystem(name="publication", base_directory=workdir)
    validations, names = [], {}
    if "inventory" in specs:
        asset = source.add_csv_asset(name="inventory", dtype=dict.fromkeys(INVENTORY_COLUMNS, "str"))
        batch = asset.add_batch_definition_path(name="inventory", path=re.escape(INVENTORY_FILE))
        suite = context.suites.add(build_suite(gx, specs["inventory"]))
        vd = context.validation_definitions.add(gx.ValidationDefinition(name="publication:files", data=batch,
                                                                         suite=suite))
        validations.append(vd)
        names[vd.name] = (specs["inventory"]["name"], "inventory of the version", len(rows))
    if "csv_file" in specs and csv_files:
        suite = context.suites.add(build_suite(gx, specs["csv_file"]))
        facts = {_safe_name(r["file"]): r for r in rows}
        for name in csv_files:
            # every cell as text, exactly as written: what a spreadsheet would be handed
            header = _csv_facts((workdir / name).read_bytes())[1]
            asset = source.add_csv_asset(name=f"csv:{name}", dtype=dict.fromkeys(header, "str"),
                                         keep_default_na=False, encoding="utf-8-sig")
            batch = asset.add_batch_definition_path(name=name, path=re.escape(name))
            vd = context.validation_definitions.add(gx.ValidationDefinition(name=f"publication:{name}",
                                                                             data=batch, suite=suite))
            validations.append(vd)
            names[vd.name] = (f"{specs['csv_file']['name']}[{name}]", name,
                              int(facts.get(name, {}).get("file_rows") or 0))
    checkpoint = context.checkpoints.add(gx.Checkpoint(name="publication_audit", validation_definitions=validations,
                                                       result_format={"result_format": "SUMMARY"}))
    result = checkpoint.run()
    docs_url, pages = build_docs(context, result, docs_dir)
    suites_out = []
    for vd, vres, page in zip(validations, result.run_results.values(), pages, strict=True):
        name, table, n = names[vd.name]
        outcomes = [expectation_outcome(r) for r in vres.results]
        suites_out.append(SuiteOutcome(name, table, suite_success(outcomes), outcomes, rows=n, docs_url=page))
    _write_json(workdir / "inventory.json", rows)
    for name in csv_files:  # the copies were only for GX to read; the version itself is the record
        (workdir / name).unlink(missing_ok=True)
    outcome = RunOutcome("publication", all(s.success for s in suites_out), suites_out,
                         run_id_of("publication", result), docs_url, round(time.monotonic() - start, 3),
                         sum(s.rows or 0 for s in suites_out), None,
                         [f"version {version}: {len(rows)} files audited in {workdir}"])
    outcome._results = list(result.run_results.values())
    return outcome


def _write_json(path: Path, doc: object) -> None:
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def audit_latest(url: str | None = None, *, publish_url: str | None = None, suites: list[str] | None = None,
                 docs: bool = True) -> RunOutcome:
    """Audit the version LATEST names under PUBLISH_URL (the CLI's `--stage publication`)."""
    from core import config
    from core.warehouse import connect

    target = publish_url or config.publish_url()
    fs, root = _fs(target)
    if not fs.exists(f"{root}/LATEST"):
        return RunOutcome("publication", True, [], notes=[f"nothing published under {target}: nothing to audit"])
    version = fs.cat_file(f"{root}/LATEST").decode().strip()
    manifest = json.loads(fs.cat_file(f"{root}/v/{version}/manifest.json"))
    sep = "" if target.endswith("/") else "/"
    with connect(url) as conn:
        return audit_publication(f"{target}{sep}v/{version}", manifest, conn, suites=suites, docs=docs)


def publication_gate(version_url: str, manifest: dict, conn) -> dict:
    """The publication audit as a gate for publish.wap.publish(..., audits=[publication_gate]):
    writes var/quality/publication.json and raises QualityGateFailed on a critical failure,
    which stops the publication before LATEST moves."""
    from expectations.gate import decide

    return decide(audit_publication(version_url, manifest, conn), f"publication audit of {manifest.get('version')}")
