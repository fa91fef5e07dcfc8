"""Image build check: headless Chromium prints a Chinese page to PDF with a CJK font embedded, the way
publish/bulletin.py prints the bulletin. Exit 1 (and the build fails) otherwise.

    python docker/check_pdf.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<body><h1>两镇季度通报</h1><p>固定资产投资累计（单位：万元）</p></body></html>"""


def check() -> str | None:
    """None if a PDF with an embedded CJK font was printed, else what went wrong."""
    from publish.bulletin import html_to_pdf

    with tempfile.TemporaryDirectory() as d:
        html, pdf = Path(d) / "check.html", Path(d) / "check.pdf"
        html.write_text(PAGE, encoding="utf-8")
        if not html_to_pdf(html, pdf):
            return "no PDF: Chromium is missing or failed (publish/bulletin.py html_to_pdf)"
        if b"CJK" not in pdf.read_bytes():
            return "the PDF embeds no CJK font: the Chinese text would be boxes (install fonts-noto-cjk)"
    return None


if __name__ == "__main__":
    problem = check()
    if problem:
        print(problem, file=sys.stderr)
    sys.exit(1 if problem else 0)
