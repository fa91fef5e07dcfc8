"""Deterministic .xlsx bytes: the same workbook content always gives the same bytes.

openpyxl stamps the zip entries with the time of saving; a publication (and the
sample generator) needs byte-identical files for identical content.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime


def workbook_bytes(wb, stamp: datetime) -> bytes:
    """Serialise an openpyxl workbook with every zip entry dated `stamp`."""
    from openpyxl.writer.excel import ExcelWriter

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        # ExcelWriter.save() would close the archive too; write_data keeps the document properties as set.
        ExcelWriter(wb, archive).write_data()
    fixed = io.BytesIO()
    date_time = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, source.read(info.filename))
    return fixed.getvalue()
