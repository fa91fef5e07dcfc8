"""Bad input at volume: a fixed-seed slice of the mutation campaign (scripts/mutate.py, `make mutate` runs
10,000 files), and XML attacks through both workbook readers (calamine, and openpyxl for workbooks with
percentage formats or error cells)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from ingest.findings import CATALOGUE
from ingest.parse import parse_report
from scripts.mutate import KINDS, campaign, report

BASE = "330402_2016Q3.xlsx"


def test_a_fixed_seed_slice_of_the_mutation_campaign_has_no_internal_error(sample_dir):
    outcome = campaign(sample_dir, files=400, seed=20261202)
    summary = report(outcome)
    print(summary)
    assert outcome.files == 400
    assert not outcome.internal, summary
    assert not outcome.unexplained, summary
    for kind in KINDS:  # every kind produced files, and the campaign is not all refusals or all passes
        assert sum(n for (k, _), n in outcome.counts.items() if k == kind) == 80
    assert outcome.counts[("zip", "refused")] > 0 and outcome.counts[("cell", "accepted")] > 0


def test_the_campaign_is_deterministic_for_a_seed(sample_dir):
    assert campaign(sample_dir, files=60, seed=3).counts == campaign(sample_dir, files=60, seed=3).counts


# ----------------------------------------------------------------------------- XML attacks

LAUGHS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10)) + b"]>\n")  # &lol9; is 10^9 "lol": 3 GB if expanded
SECRET = "TOPSECRET-XXE-7f3a"


def _external(path: Path) -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "'
            + path.as_uri().encode() + b'">]>\n')


SST = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def _base(sample_dir: Path, tmp_path: Path, reader: str) -> Path:
    """The sample workbook with a shared-strings part (as Excel writes text; the sample writes inline
    strings): the first text of the first sheet moved there. For the openpyxl reader also a percentage
    format, which makes the reader read the workbook with openpyxl."""
    import re

    import openpyxl

    source = sample_dir / BASE
    if reader == "openpyxl":
        wb = openpyxl.load_workbook(source)
        ws = wb.worksheets[-1]
        ws.cell(ws.max_row + 2, 1).number_format = "0.0%"
        source = tmp_path / "percent.xlsx"
        wb.save(source)
    with zipfile.ZipFile(source) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    m = re.search(rb'<c ([^>]*?)t="inlineStr"([^>]*)><is><t>(.*?)</t></is></c>', sheet)
    parts["xl/worksheets/sheet1.xml"] = sheet[:m.start()] + b"<c " + m.group(1) + b't="s"' + m.group(2) \
        + b"><v>0</v></c>" + sheet[m.end():]
    parts["xl/sharedStrings.xml"] = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                                     b'count="1" uniqueCount="1"><si><t>' + m.group(3) + b"</t></si></sst>")
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        b'spreadsheetml.sharedStrings+xml" /></Types>'))
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(b"</Relationships>", (
        b'<Relationship Type="' + SST.encode() + b'" Target="/xl/sharedStrings.xml" Id="rIdSST" /></Relationships>'))
    path = tmp_path / f"{reader}_base.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    assert parse_report(path, BASE).status == "accepted"  # the base itself is a good report
    return path


def _attack(base: Path, part: str, prolog: bytes, reference: bytes, out: Path) -> Path:
    """`base` with `part` given a document type (`prolog`) and `reference` in its first text or value."""
    with zipfile.ZipFile(base) as z:
        infos = [(i, z.read(i.filename)) for i in z.infolist()]
    assert part in [i.filename for i, _ in infos]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in infos:
            if info.filename == part:
                body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
                for tag in (b"<t>", b"<t ", b"<v>", b"<sheet ", b"<numFmt "):
                    k = body.find(tag)
                    if k >= 0:
                        end = body.find(b">", k) + 1
                        body = (body[:end] + reference + body[end:]) if tag in (b"<t>", b"<t ", b"<v>") else \
                            body[:k] + b"<!-- " + reference + b" -->" + body[k:]
                        break
                data = prolog + body
            z.writestr(info, data)
    out.write_bytes(buf.getvalue())
    return out


@pytest.mark.parametrize("reader", ["calamine", "openpyxl"])
@pytest.mark.parametrize("part", ["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml", "xl/styles.xml",
                                  "xl/workbook.xml"])
@pytest.mark.parametrize("attack", ["entity expansion", "external entity"])
def test_xml_attacks_are_neither_expanded_nor_followed(sample_dir, tmp_path, reader, part, attack):
    """Billion laughs and an external entity (a local secret) in each main part: the report is read
    without expanding or fetching anything (calamine's XML reader has no DTD entities; openpyxl and the
    reader's own style parsing use defusedxml) or refused as unreadable; never an internal error, never the
    secret in what the county or anyone reads back."""
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML  # requirements.txt pins defusedxml: openpyxl parses every part with it
    base = _base(sample_dir, tmp_path, reader)
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    prolog, reference = (LAUGHS, b"&lol9;") if attack == "entity expansion" else (_external(secret), b"&xxe;")
    path = _attack(base, part, prolog, reference, tmp_path / BASE)
    result = parse_report(path)
    assert result.status in ("accepted", "refused")
    if result.status == "refused":
        assert any(f.severity == "error" and f.code in CATALOGUE for f in result.findings)
    text = repr(result.to_dict())
    assert SECRET not in text
    assert "lollollol" not in text


def test_a_zip_whose_directory_points_before_the_file_is_unreadable_not_an_incident(sample_dir, tmp_path):
    """Found by the campaign (seed 1): a flipped bit in the end record moves every local header to a
    negative offset, and zipfile's seek fails with EINVAL, an OSError the ingest would take for the disk's."""
    data = bytearray((sample_dir / BASE).read_bytes())
    end = data.rfind(b"PK\x05\x06")
    directory = int.from_bytes(data[end + 16:end + 20], "little")
    data[end + 16:end + 20] = (directory | 1 << 30).to_bytes(4, "little")  # bit 30 of its offset flipped
    path = tmp_path / BASE
    path.write_bytes(bytes(data))
    result = parse_report(path)
    assert result.status == "refused"
    assert [f.code for f in result.findings if f.severity == "error"] == ["file.unreadable"]
