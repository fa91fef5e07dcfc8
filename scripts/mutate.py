"""Mutation campaign: bad input at volume, through the reader and parser every county file goes through.

    python -m scripts.mutate [--files 10000] [--seed 1] [--keep DIR]      (make mutate)

Files are derived from the city sample (samplegen) in its three formats (.xlsx, .xls, one .csv per form)
by seeded mutations of five kinds:

    cell       a cell's value or type (shared-string index out of range, huge, negative, text in numbers,
               error values, full-width digits, formulas), in the XML of the workbook or the CSV text
    xml        the XML of a part: cut short, an element dropped or repeated, rows reordered, cell
               references broken, unknown elements, a sheet renamed, hidden or dropped from the workbook
    zip        the archive: bytes flipped, cut short, a part removed, an entry duplicated, a CRC broken,
               a part declared bigger than the unpacked limit
    encoding   a part or a CSV re-encoded (UTF-16, GB18030, Latin-1, a false XML declaration), invalid
               bytes, NUL bytes, BOMs, line endings
    bytes      .xls and .csv bytes flipped or cut short

Each file goes through ingest.parse.parse_report. The answer must be `accepted` or `refused`, and a
refusal names at least one error finding of the reporting contract (sheet, cell where there is one);
an exception is an internal error (the ingest would hold the file as an incident). The run prints its
counts per kind and answer and exits 1 on any internal error or unexplained refusal. A fixed-seed slice
runs in `make test` (tests/test_mutations.py).
"""

from __future__ import annotations

import argparse
import io
import random
import re
import sys
import tempfile
import traceback
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("cell", "xml", "zip", "encoding", "bytes")
WEIRD = ["", "-1", "-0.0", "1e309", "NaN", "inf", "１２３．４", "#REF!", "#DIV/0!", "9" * 40, "0x1F", "1,234",
         "12%", "=SUM(A1:A9)", "+1", "--5", "无", "—", "合计", "CT-330402-99", "PT-000000000", "\u202e42",
         "x" * 5000, "2016-13-45", "TRUE", "3.14159265358979323846264338327950288"]
ENCODINGS = ("utf-16", "utf-16-le", "gb18030", "latin-1", "cp1252", "shift_jis", "utf-8-sig")


@dataclass
class Source:
    name: str  # the file name a county would give (county, period, form)
    data: bytes


@dataclass
class Outcome:
    counts: Counter = field(default_factory=Counter)  # (kind, answer)
    internal: list[tuple[str, str, str]] = field(default_factory=list)  # (file, mutation, traceback)
    unexplained: list[tuple[str, str]] = field(default_factory=list)  # refused without an error finding

    @property
    def files(self) -> int:
        return sum(self.counts.values())


def sources(sample: Path, workbooks: int = 6) -> list[Source]:
    """Originals: a few of the sample's workbooks, and each as .xls and as CSV forms (UTF-8, GBK, tab)."""
    from samplegen.formats import to_csv_forms, to_xls

    picked = sorted(sample.glob("*.xlsx"))[:: max(1, len(list(sample.glob("*.xlsx"))) // workbooks)][:workbooks]
    out: list[Source] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(picked):
            out.append(Source(path.name, path.read_bytes()))
            xls = to_xls(path, Path(tmp) / f"{path.stem}.xls")
            out.append(Source(xls.name, xls.read_bytes()))
            encoding, delimiter, bom = [("utf-8", ",", True), ("gbk", ",", False), ("utf-8", "\t", False)][i % 3]
            for csv_path in to_csv_forms(path, Path(tmp) / str(i), encoding=encoding, delimiter=delimiter, bom=bom):
                out.append(Source(csv_path.name, csv_path.read_bytes()))
    return out


# ----------------------------------------------------------------------------- xlsx parts

def _parts(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i, z.read(i.filename)) for i in z.infolist()]


def _zip(parts: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts:
            z.writestr(info, data)
    return buf.getvalue()


def _pick_part(rng: random.Random, parts, pattern: str) -> int | None:
    found = [k for k, (info, _) in enumerate(parts) if re.search(pattern, info.filename)]
    return rng.choice(found) if found else None


def _edit_part(rng: random.Random, data: bytes, pattern: str, edit) -> tuple[bytes, str]:
    parts = _parts(data)
    k = _pick_part(rng, parts, pattern)
    if k is None:
        return data, "no such part"
    info, body = parts[k]
    new, what = edit(rng, body)
    parts[k] = (info, new)
    return _zip(parts), f"{info.filename}: {what}"


def _cell_xml(rng: random.Random, body: bytes) -> tuple[bytes, str]:
    cells = list(re.finditer(rb"<c [^>]*?(/>|>.*?</c>)", body, re.S))
    if not cells:
        return body, "no cell"
    m = rng.choice(cells)
    cell = m.group(0)
    choice = rng.randrange(4)
    if choice == 0:  # a value
        value = rng.choice(WEIRD).encode()
        value = value.replace(b"&", b"&amp;").replace(b"<", b"&lt;")
        new = re.sub(rb"<v>.*?</v>", b"<v>" + value + b"</v>", cell, flags=re.S) if b"<v>" in cell \
            else cell.replace(b"/>", b"><v>" + value + b"</v></c>", 1)
        what = f"value {value[:20]!r}"
    elif choice == 1:  # a type
        kind = rng.choice([b"s", b"n", b"b", b"e", b"str", b"inlineStr", b"d", b"zz"])
        new = re.sub(rb' t="[^"]*"', b"", cell, count=1).replace(b"<c ", b'<c t="' + kind + b'" ', 1)
        what = f"type {kind!r}"
    elif choice == 2:  # a shared-string index out of range
        new = re.sub(rb' t="[^"]*"', b"", cell, count=1).replace(b"<c ", b'<c t="s" ', 1)
        new = re.sub(rb"<v>.*?</v>", b"<v>999999</v>", new, flags=re.S) if b"<v>" in new \
            else new.replace(b"/>", b"><v>999999</v></c>", 1)
        what = "shared string 999999"
    else:  # a style that does not exist
        new = re.sub(rb' s="[^"]*"', b"", cell, count=1).replace(b"<c ", b'<c s="9999" ', 1)
        what = "style 9999"
    return body[:m.start()] + new + body[m.end():], what


def _xml_structure(rng: random.Random, body: bytes) -> tuple[bytes, str]:
    choice = rng.randrange(7)
    if choice == 0:
        cut = rng.randrange(len(body)) if body else 0
        return body[:cut], f"cut at {cut}"
    elements = list(re.finditer(rb"<(row|c|si|sheet|xf|numFmt)\b[^>]*?(/>|>.*?</\1>)", body, re.S))
    if not elements:
        return body + b"<junk>", "junk appended"
    m = rng.choice(elements)
    if choice == 1:
        return body[:m.start()] + body[m.end():], f"dropped <{m.group(1).decode()}>"
    if choice == 2:
        return body[:m.end()] + m.group(0) * rng.randint(1, 3) + body[m.end():], f"repeated <{m.group(1).decode()}>"
    if choice == 3:
        ref = rng.choice([b"", b"A0", b"XFE1048577", b"ZZZZ1", b"1A", b"A-1", b"\xe4\xb8\x80"])
        new = re.sub(rb' r="[^"]*"', b' r="' + ref + b'"', m.group(0), count=1)
        return body[:m.start()] + new + body[m.end():], f"reference {ref!r}"
    if choice == 4:
        return body[:m.start()] + b"<x:unknown xmlns:x='urn:x'><y/></x:unknown>" + body[m.start():], "unknown element"
    if choice == 5:
        name = rng.choice(["", "LZ-1 特色小镇", "Sheet1", "x" * 40, "LZ-9", "'", "LZ-0 县域指标"]).encode()
        new = re.sub(rb' name="[^"]*"', b' name="' + name.replace(b"'", b"&apos;") + b'"', m.group(0), count=1)
        new = new.replace(b"<sheet ", b'<sheet state="hidden" ', 1) if rng.random() < 0.3 else new
        return body[:m.start()] + new + body[m.end():], f"name {name[:20]!r}"
    rows = [r for r in elements if r.group(1) == b"row"]
    if len(rows) >= 2:
        a, b = rng.sample(rows, 2)
        first, second = sorted((a, b), key=lambda r: r.start())
        new = (body[:first.start()] + second.group(0) + body[first.end():second.start()] + first.group(0)
               + body[second.end():])
        return new, "rows swapped"
    return body.replace(b"xmlns=", b"xmlns:gone=", 1), "namespace removed"


def _xml_encoding(rng: random.Random, body: bytes) -> tuple[bytes, str]:
    choice = rng.randrange(4)
    if choice == 0:
        text = body.decode("utf-8", errors="replace").replace('encoding="UTF-8"', 'encoding="UTF-16"')
        return text.encode(rng.choice(["utf-16", "utf-16-le"])), "UTF-16"
    if choice == 1:
        return body.replace(b'encoding="UTF-8"', b'encoding="GB2312"', 1), "false declaration GB2312"
    if choice == 2:
        k = rng.randrange(len(body)) if body else 0
        return body[:k] + rng.choice([b"\xff\xfe", b"\xc3\x28", b"\x00", b"\xed\xa0\x80"]) + body[k:], "invalid bytes"
    return b"\xef\xbb\xbf" + body, "BOM"


def _zip_structure(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    choice = rng.randrange(6)
    if choice == 0:
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            k = rng.randrange(len(flipped))
            flipped[k] ^= 1 << rng.randrange(8)
        return bytes(flipped), "bits flipped"
    if choice == 1:
        cut = rng.randrange(len(data))
        return data[:cut], f"cut at {cut}"
    parts = _parts(data)
    if choice == 2:
        k = rng.randrange(len(parts))
        name = parts[k][0].filename
        del parts[k]
        return _zip(parts), f"{name} removed"
    if choice == 3:
        info, body = rng.choice(parts)
        buf = io.BytesIO(_zip(parts))
        with zipfile.ZipFile(buf, "a") as z, _quiet_duplicates():
            z.writestr(info.filename, body[: len(body) // 2])
        return buf.getvalue(), f"{info.filename} twice"
    if choice == 4:  # a stored entry whose bytes no longer match its CRC
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            for info, body in parts:
                z.writestr(info.filename, body, compress_type=zipfile.ZIP_STORED)
        raw = bytearray(buf.getvalue())
        k = raw.find(b"<worksheet")
        if k > 0:
            raw[k + 1] ^= 0x20
        return bytes(raw), "CRC broken"
    big = bytearray(_zip(parts))  # declare an entry 4 GB unpacked (the unpacked-size limit)
    k = big.rfind(b"PK\x01\x02")
    if k >= 0:
        big[k + 24:k + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    return bytes(big), "declared 4 GB unpacked"


class _quiet_duplicates:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


# ----------------------------------------------------------------------------- csv and xls

def _csv_mutation(rng: random.Random, data: bytes, kind: str) -> tuple[bytes, str]:
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if kind == "encoding" or text is None:
        choice = rng.randrange(4)
        if choice == 0 and text is not None:
            encoding = rng.choice(ENCODINGS)
            return text.encode(encoding, errors="replace"), f"re-encoded {encoding}"
        if choice == 1:
            k = rng.randrange(len(data))
            return data[:k] + rng.choice([b"\xff", b"\x00", b"\x80\x81", b"\xe4\xb8"]) + data[k:], "invalid bytes"
        if choice == 2 and text is not None:
            return text.replace("\r\n", rng.choice(["\n", "\r", "\n\r", "\r\r\n"])).encode("utf-8"), "line endings"
        return b"\xef\xbb\xbf\xef\xbb\xbf" + data, "two BOMs"
    lines = text.splitlines()
    if kind == "cell" and lines:
        r = rng.randrange(len(lines))
        cells = lines[r].split(",")
        cells[rng.randrange(len(cells))] = rng.choice(WEIRD).replace(",", "，")
        lines[r] = ",".join(cells)
        return "\r\n".join(lines).encode("utf-8"), f"line {r + 1} cell"
    # structure: lines dropped, repeated, swapped, columns added, quotes unbalanced
    choice = rng.randrange(5)
    if choice == 0 and lines:
        del lines[rng.randrange(len(lines))]
        what = "line dropped"
    elif choice == 1 and lines:
        k = rng.randrange(len(lines))
        lines.insert(k, lines[k])
        what = "line repeated"
    elif choice == 2 and len(lines) > 1:
        a, b = rng.sample(range(len(lines)), 2)
        lines[a], lines[b] = lines[b], lines[a]
        what = "lines swapped"
    elif choice == 3 and lines:
        k = rng.randrange(len(lines))
        lines[k] += "," * rng.randint(1, 300)
        what = "columns added"
    else:
        k = rng.randrange(len(lines)) if lines else 0
        lines[k:k] = ['"unbalanced, ' + "x" * rng.randint(0, 100)]
        what = "unbalanced quote"
    return "\r\n".join(lines).encode("utf-8"), what


def _bytes_mutation(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    if rng.random() < 0.5:
        cut = rng.randrange(len(data))
        return data[:cut], f"cut at {cut}"
    flipped = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        k = rng.randrange(len(flipped))
        flipped[k] = rng.randrange(256)
    return bytes(flipped), "bytes changed"


def mutate(rng: random.Random, source: Source, kind: str) -> tuple[bytes, str]:
    """One mutation of `kind` of the source's bytes: (new bytes, what was done)."""
    suffix = Path(source.name).suffix
    if suffix == ".csv":
        return _bytes_mutation(rng, source.data) if kind in ("bytes", "zip") else _csv_mutation(
            rng, source.data, "structure" if kind == "xml" else kind)
    if suffix == ".xls":
        return _bytes_mutation(rng, source.data)
    if kind == "cell":
        return _edit_part(rng, source.data, r"^xl/worksheets/sheet\d+\.xml$", _cell_xml)
    if kind == "xml":
        return _edit_part(rng, source.data, r"^xl/(worksheets/sheet\d+|sharedStrings|workbook|styles)\.xml$",
                          _xml_structure)
    if kind == "encoding":
        return _edit_part(rng, source.data, r"\.xml$", _xml_encoding)
    if kind == "zip":
        return _zip_structure(rng, source.data)
    return _bytes_mutation(rng, source.data)


# ----------------------------------------------------------------------------- the campaign

def judge(path: Path, name: str, outcome: Outcome, kind: str, what: str) -> None:
    from ingest.findings import CATALOGUE
    from ingest.parse import parse_report

    try:
        report = parse_report(path, name)
    except Exception:  # noqa: BLE001 - exactly what the campaign looks for
        outcome.counts[(kind, "internal error")] += 1
        outcome.internal.append((name, what, traceback.format_exc(limit=6)))
        return
    errors = [f for f in report.findings if f.severity == "error" and f.code in CATALOGUE and f.message_zh]
    if report.status == "refused" and not errors:
        outcome.unexplained.append((name, what))
    outcome.counts[(kind, report.status)] += 1


def campaign(sample: Path, files: int, seed: int, keep: Path | None = None) -> Outcome:
    rng = random.Random(seed)
    originals = sources(sample)
    outcome = Outcome()
    with tempfile.TemporaryDirectory(prefix="twotowns-mutate-") as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(files):
            source = rng.choice(originals)
            kind = KINDS[i % len(KINDS)]
            data, what = mutate(rng, source, kind)
            path = folder / f"{i:05d}_{source.name}"
            path.write_bytes(data)
            judge(path, source.name, outcome, kind, what)
            if keep is None:
                path.unlink()
    return outcome


def report(outcome: Outcome) -> str:
    answers = ("accepted", "refused", "internal error")
    lines = [f"{'kind':10} " + " ".join(f"{a:>15}" for a in answers)]
    for kind in KINDS:
        lines.append(f"{kind:10} " + " ".join(f"{outcome.counts[(kind, a)]:>15}" for a in answers))
    lines.append(f"{'total':10} " + " ".join(f"{sum(outcome.counts[(k, a)] for k in KINDS):>15}" for a in answers))
    lines.append(f"{outcome.files} files; {len(outcome.internal)} internal errors; "
                 f"{len(outcome.unexplained)} refusals without an error finding")
    for name, what, tb in outcome.internal[:10]:
        lines.append(f"INTERNAL {name} ({what}):\n{tb}")
    for name, what in outcome.unexplained[:10]:
        lines.append(f"UNEXPLAINED {name} ({what})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.mutate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the mutated files in this folder")
    args = parser.parse_args(argv)
    from samplegen import generate

    with tempfile.TemporaryDirectory(prefix="twotowns-sample-") as sample:
        generate(Path(sample))
        outcome = campaign(Path(sample), args.files, args.seed, args.keep)
    print(report(outcome))
    return 1 if outcome.internal or outcome.unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
