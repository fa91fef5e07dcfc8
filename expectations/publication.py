"""The publication audit: the exported files of a version, read back, before LATEST moves.

publish.wap writes every dataset of a new version, then asks:

    from expectations.publication import audit_publication
    outcome = audit_publication(version_dir_url, manifest, conn)   # RunOutcome
    if not outcome.success: raise ...                              # LATEST stays where it was

The files are read back through fsspec (any target: file://, s3://, ...) in
blocks, once each, and the CSVs copied into a local working folder, because
files are what is audited here: GX reads them with a pandas filesystem
datasource. One checkpoint validates

- `publication_files` on an inventory with one row per file of the manifest
  (and per mart dataset without a file): present, bytes and sha256 as the
  manifest says, rows in the file (CSV: parsed; Parquet: its footer) and in the
  manifest equal to the rows of the mart, or of its partition for a partitioned
  dataset (`<dataset>/year=2024/part.csv`, publish.stream), the CSV header equal
  to the mart's columns, the UTF-8 BOM;
- `publication_csv` on every CSV file: no formula-like text unescaped.

Memory stays bounded whatever the publication's size: a CSV of more than
PUBLISH_AUDIT_SEGMENT_ROWS data rows (default 200,000) is copied as segments of
that many rows, each validated by `publication_csv` on its own after the
checkpoint (`publication_csv[<file> lines a-b]`, cells reported with the
file's line numbers), and its GX datasource removed before the next one. The
checkpoint itself (GX keeps all its batches until it ends) takes whole CSVs up
to that many rows in all (the city sample's every CSV); the others, e.g. the
many partitions of a national dataset, are validated after it one by one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import time
from pathlib import Path

from core.datasets import PARTITION_KEYS, partition_counts, published
from expectations.engine import build_docs, docs_root, import_gx, new_context, run_id_of
from expectations.outcome import RunOutcome, SuiteOutcome, suite_success
from expectations.results import expectation_outcome
from expectations.specs import build_suite, load_suite_specs

INVENTORY_FILE = "_inventory.csv"
INVENTORY_COLUMNS = ("file", "dataset", "present", "bytes", "manifest_bytes", "sha256", "manifest_sha256",
                     "file_rows", "manifest_rows", "marts_rows", "header_matches_marts", "utf8_bom")
BOM = b"\xef\xbb\xbf"
SAFE_SEGMENT = re.compile(r"^[\w.=\-]+$")  # one segment of a file name in a version (`year=2024`, `part.csv`)


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


def segment_rows() -> int:
    """Data rows per CSV file GX reads at once (PUBLISH_AUDIT_SEGMENT_ROWS, default 200,000): a larger
    published CSV is validated segment by segment, so the audit never holds a whole big file."""
    return max(int(os.environ.get("PUBLISH_AUDIT_SEGMENT_ROWS", "200000")), 1)


def _safe_name(name: str) -> str:
    """A manifest file name (a partition's relative path too) as one plain local file name."""
    parts = [re.sub(r"[^\w.\-]", "_", p) for p in str(name).replace("\\", "/").split("/") if p]
    flat = "__".join(parts)
    return flat if flat.strip(".") else "unnamed"


def _safe_relpath(name: str) -> bool:
    """A file name of the manifest that stays inside the version: plain segments (`year=2024` allowed),
    none empty or starting with a dot."""
    return all(SAFE_SEGMENT.match(p) and not p.startswith(".") for p in str(name).split("/"))


class _Tap(io.RawIOBase):
    """A readable stream that hashes, counts and keeps the first bytes of what passes through."""

    def __init__(self, f):
        self.f, self.sha, self.size, self.head = f, hashlib.sha256(), 0, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.f.read(len(buffer))
        buffer[:len(data)] = data
        self.sha.update(data)
        self.size += len(data)
        if len(self.head) < len(BOM):
            self.head = (self.head + data)[:len(BOM)]
        return len(data)


def _drain(tap: _Tap) -> None:
    while tap.read(1 << 20):
        pass


def _scan_csv(f, workdir: Path, safe: str, per_segment: int) -> dict:
    """Read a CSV once: checksum, rows, header, BOM; its rows copied into `workdir` as CSV segments of
    `per_segment` rows for GX (one segment named `safe`, else `safe.NNNN.csv`)."""
    tap = _Tap(f)
    reader = csv.reader(io.TextIOWrapper(io.BufferedReader(tap, 1 << 20), encoding="utf-8-sig", errors="replace",
                                         newline=""))
    header = next(reader, [])
    segments, rows, out, writer = [], 0, None, None
    for row in reader:
        if rows % per_segment == 0:
            if out is not None:
                out.close()
            out, writer = _segment(workdir / f"{safe}.{len(segments) + 1:04d}.csv", header)
            segments.append(Path(out.name))
        writer.writerow(row)
        rows += 1
    if out is not None:
        out.close()
    _drain(tap)
    if not segments:  # a header alone
        _segment(workdir / safe, header)[0].close()
        segments = [workdir / safe]
    elif len(segments) == 1:
        segments = [segments[0].replace(workdir / safe)]
    return {"bytes": tap.size, "sha256": tap.sha.hexdigest(), "file_rows": rows, "header": header,
            "utf8_bom": tap.head.startswith(BOM), "segments": [p.name for p in segments]}


def _segment(path: Path, header: list[str]):
    """A new local CSV copy for GX, its header written: (open file, csv writer)."""
    out = open(path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115 - the caller closes it
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    return out, writer


def _digest(f) -> tuple[int, str]:
    tap = _Tap(f)
    _drain(tap)
    return tap.size, tap.sha.hexdigest()


def _parquet_rows(fs, path: str) -> int | str:
    """Rows of a Parquet file from its footer ('' when it cannot be read as Parquet)."""
    import pyarrow.parquet as pq

    try:
        with fs.open(path, "rb") as f:
            return pq.ParquetFile(f).metadata.num_rows
    except Exception:  # noqa: BLE001 - a damaged file is a finding (its checksum fails), not a crash
        return ""


def _read_back(fs, root: str, name: str, dataset: str, marts: dict, workdir: Path, row: dict) -> list[str]:
    """Fill an inventory row from the file; the GX segments written for a CSV (else [])."""
    path = f"{root}/{name}"
    with fs.open(path, "rb") as f:
        if not name.lower().endswith(".csv"):
            size, sha = _digest(f)
            row.update(present="true", bytes=size, sha256=sha)
            if name.lower().endswith(".parquet"):
                row["file_rows"] = _parquet_rows(fs, path)
            return []
        facts = _scan_csv(f, workdir, _safe_name(name), segment_rows())
    row.update(present="true", bytes=facts["bytes"], sha256=facts["sha256"], file_rows=facts["file_rows"],
               utf8_bom=str(facts["utf8_bom"]).lower(),
               header_matches_marts=str(facts["header"] == marts.get(dataset)).lower())
    return facts["segments"]


def inventory(version_dir: str, manifest: dict, conn, workdir: Path, segments: dict | None = None) -> list[dict]:
    """Read every file back in blocks (CSVs copied into `workdir` as GX segments, listed in `segments`
    by file name); one inventory row per file (and per missing dataset). The marts rows of a partition
    file are the rows of its partition."""
    fs, root = _fs(version_dir)
    marts = _marts(conn)
    expected = _expected_rows(conn, manifest, marts)
    rows, seen = [], set()
    for f in manifest.get("files") or []:
        name, dataset = str(f.get("name")), str(f.get("dataset") or "")
        seen.add(dataset)
        row = dict.fromkeys(INVENTORY_COLUMNS, "")
        row.update(file=name, dataset=dataset, manifest_bytes=f.get("bytes", ""),
                   manifest_sha256=f.get("sha256", ""), manifest_rows=f.get("rows", ""))
        if dataset in marts:
            row["marts_rows"] = expected.get((dataset, *_partition_key(f)), 0)
        if not _safe_relpath(name) or not fs.exists(f"{root}/{name}"):
            row["present"] = "false"
            rows.append(row)
            continue
        written = _read_back(fs, root, name, dataset, marts, workdir, row)
        if segments is not None and written:
            segments[name] = written
        rows.append(row)
    for dataset in _dataset_names():
        if dataset in marts and dataset not in seen:  # a mart that should have been exported
            row = dict.fromkeys(INVENTORY_COLUMNS, "")
            row.update(file=f"{dataset}.csv", dataset=dataset, present="false", marts_rows=_count(conn, dataset))
            rows.append(row)
    return rows


def _partition_key(f: dict) -> tuple[tuple, tuple]:
    """(partition keys, partition values) of a manifest file entry; ((), ()) for a whole dataset's file."""
    partition = f.get("partition")
    return (tuple(partition), tuple(partition.values())) if isinstance(partition, dict) else ((), ())


def _expected_rows(conn, manifest: dict, marts: dict) -> dict[tuple[str, tuple, tuple], int]:
    """{(dataset, partition keys, values): rows in the marts}: one grouped count per dataset and keys."""
    wanted = set()
    for f in manifest.get("files") or []:
        dataset, (by, _) = str(f.get("dataset") or ""), _partition_key(f)
        if dataset in marts and all(k in PARTITION_KEYS for k in by):
            wanted.add((dataset, by))
    return {(d, by, key): n for d, by in sorted(wanted) for key, n in partition_counts(conn, d, by).items()}


def _dataset_names() -> list[str]:
    return [d.name for d in published()]


def _write_inventory(rows: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=INVENTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _csv_asset(source, local: str, workdir: Path):
    """A GX CSV asset of one local copy: every cell as text, exactly as written (what a spreadsheet gets)."""
    with open(workdir / local, encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f), [])
    asset = source.add_csv_asset(name=f"csv:{local}", dtype=dict.fromkeys(header, "str"),
                                 keep_default_na=False, encoding="utf-8-sig")
    return asset.add_batch_definition_path(name=local, path=re.escape(local))


def _main_validations(gx, context, source, specs: dict, rows: list[dict], whole: dict[str, str]) -> tuple[list, dict]:
    """The validations of the one checkpoint: the inventory, and every CSV small enough to be read whole."""
    validations, names = [], {}
    if "inventory" in specs:
        asset = source.add_csv_asset(name="inventory", dtype=dict.fromkeys(INVENTORY_COLUMNS, "str"))
        batch = asset.add_batch_definition_path(name="inventory", path=re.escape(INVENTORY_FILE))
        suite = context.suites.add(build_suite(gx, specs["inventory"]))
        vd = context.validation_definitions.add(gx.ValidationDefinition(name="publication:files", data=batch,
                                                                         suite=suite))
        validations.append(vd)
        names[vd.name] = (specs["inventory"]["name"], "inventory of the version", len(rows))
    if "csv_file" in specs and whole:
        suite = context.suites.add(build_suite(gx, specs["csv_file"]))
        facts = {r["file"]: r for r in rows}
        for file, local in sorted(whole.items(), key=lambda item: item[1]):
            batch = _csv_asset(source, local, Path(source.base_directory))
            vd = context.validation_definitions.add(gx.ValidationDefinition(name=f"publication:{local}",
                                                                             data=batch, suite=suite))
            validations.append(vd)
            names[vd.name] = (f"{specs['csv_file']['name']}[{file}]", file,
                              int(facts.get(file, {}).get("file_rows") or 0))
    return validations, names


def _split_for_gx(segments: dict[str, list[str]], rows: list[dict]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """CSVs validated in the one checkpoint (whole files, PUBLISH_AUDIT_SEGMENT_ROWS rows in all: GX keeps
    every batch of a checkpoint in memory) and those validated after it, one segment at a time."""
    budget, total = segment_rows(), 0
    file_rows = {r["file"]: int(r["file_rows"] or 0) for r in rows}
    whole, alone = {}, {}
    for file, segs in sorted(segments.items(), key=lambda item: item[1][0]):
        if len(segs) == 1 and total + file_rows.get(file, 0) <= budget:
            whole[file] = segs[0]
            total += file_rows.get(file, 0)
        else:
            alone[file] = segs
    return whole, alone


def _segment_outcomes(gx, context, spec: dict, workdir: Path, file: str, segments: list[str],
                      per_segment: int) -> tuple[list[SuiteOutcome], list]:
    """A large CSV validated segment by segment, each in its own datasource removed afterwards, so that
    GX holds one segment at a time. Lines are the file's own (line 2 is its first data row)."""
    suite = context.suites.add(build_suite(gx, {**spec, "name": f"{spec['name']}:{_safe_name(file)}"}))
    outcomes, results = [], []
    for i, local in enumerate(segments):
        source = context.data_sources.add_pandas_filesystem(name="publication_segment", base_directory=workdir)
        vd = context.validation_definitions.add(gx.ValidationDefinition(
            name="publication:segment", data=_csv_asset(source, local, workdir), suite=suite))
        try:
            vres = vd.run(result_format={"result_format": "SUMMARY"})
        finally:
            context.validation_definitions.delete("publication:segment")
            context.data_sources.delete("publication_segment")
        first = 2 + i * per_segment
        n = sum(1 for _ in open(workdir / local, encoding="utf-8-sig", newline="")) - 1  # noqa: SIM115
        found = [expectation_outcome(r) for r in vres.results]
        for e in found:  # a segment's line numbers as the file's (line 1, the header, is the file's too)
            for cell in e.sample if isinstance(e.sample, list) else []:
                if isinstance(cell, dict) and isinstance(cell.get("line"), int) and cell["line"] > 1:
                    cell["line"] += first - 2
        lines = f" lines {first}-{first + n - 1}" if len(segments) > 1 else ""
        outcomes.append(SuiteOutcome(f"{spec['name']}[{file}{lines}]", file, suite_success(found), found, rows=n))
        results.append(vres)
        (workdir / local).unlink(missing_ok=True)
    return outcomes, results


def audit_publication(version_dir: str, manifest: dict, conn, *, suites: list[str] | None = None,
                      docs: bool = True) -> RunOutcome:
    """Audit a written (not yet published) version against its manifest and the marts: one GX checkpoint
    (a CSV above PUBLISH_AUDIT_SEGMENT_ROWS rows is validated after it, segment by segment).

    version_dir: URL or path of `v/<version>/`; manifest: the manifest dict (as written or about
    to be written); conn: a psycopg connection to the warehouse (row counts of the marts)."""
    start = time.monotonic()
    version = str(manifest.get("version") or "unversioned")
    workdir = _workdir(version)
    segments: dict[str, list[str]] = {}
    rows = inventory(version_dir, manifest, conn, workdir, segments)
    _write_inventory(rows, workdir / INVENTORY_FILE)
    specs = {s["meta"]["batch"]: s for s in load_suite_specs("publication", suites)}
    gx = import_gx()
    docs_dir = docs_root() / "publication" if docs else None
    context = new_context(gx, docs_dir)
    whole, alone = _split_for_gx(segments, rows)
    suites_out, results, run_id, docs_url = _run_checkpoint(gx, context, specs, rows, workdir, whole, docs_dir)
    for file, segs in alone.items() if "csv_file" in specs else ():
        more, more_results = _segment_outcomes(gx, context, specs["csv_file"], workdir, file, segs, segment_rows())
        suites_out += more
        results += more_results
    _write_json(workdir / "inventory.json", rows)
    for segs in segments.values():  # the copies were only for GX to read; the version itself is the record
        for local in segs:
            (workdir / local).unlink(missing_ok=True)
    return RunOutcome("publication", all(s.success for s in suites_out), suites_out, run_id, docs_url,
                      round(time.monotonic() - start, 3), sum(s.rows or 0 for s in suites_out), None,
                      [f"version {version}: {len(rows)} files audited in {workdir}"], results=results)


def _workdir(version: str) -> Path:
    """The local working folder of a version's audit (its inventory, the CSV copies GX reads), emptied."""
    from core import config

    workdir = config.var_dir() / "quality" / "publication" / _safe_name(version)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    return workdir


def _run_checkpoint(gx, context, specs: dict, rows: list[dict], workdir: Path, whole: dict[str, str],
                    docs_dir: Path | None) -> tuple[list[SuiteOutcome], list, str, str | None]:
    """The one checkpoint (the inventory, the CSVs read whole), its Data Docs built: (suite outcomes, GX
    validation results, run id, Data Docs URL)."""
    source = context.data_sources.add_pandas_filesystem(name="publication", base_directory=workdir)
    validations, names = _main_validations(gx, context, source, specs, rows, whole)
    checkpoint = context.checkpoints.add(gx.Checkpoint(name="publication_audit", validation_definitions=validations,
                                                       result_format={"result_format": "SUMMARY"}))
    result = checkpoint.run()
    docs_url, pages = build_docs(context, result, docs_dir)
    suites_out, results = [], list(result.run_results.values())
    for vd, vres, page in zip(validations, results, pages, strict=True):
        name, table, n = names[vd.name]
        outcomes = [expectation_outcome(r) for r in vres.results]
        suites_out.append(SuiteOutcome(name, table, suite_success(outcomes), outcomes, rows=n, docs_url=page))
    return suites_out, results, run_id_of("publication", result), docs_url


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
