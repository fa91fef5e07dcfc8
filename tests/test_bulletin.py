"""The quarterly bulletin, rendered from a real warehouse and looked at in a real browser (headless Chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from core import config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECTIONS = ["headline", "investment", "pilots", "submissions", "warnings", "assessment"]


def chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "Chromium is needed (Debian package 'chromium'; .ci/run installs it)"
    return browser


def run_browser(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def bulletin(warehouse, sample_dir, expected):
    from core.dbt import run_dbt_or_raise
    from ingest.landing import submit
    from publish.bulletin import render_bulletin_for

    for e in expected:
        submit(sample_dir / e["file"])
    run_dbt_or_raise(["build"])
    result = render_bulletin_for("2016Q4")
    return Path(config.publish_url().removeprefix("file://")) / "bulletin", result


def test_bulletin_is_written_with_its_pdf_and_is_self_contained(bulletin):
    folder, result = bulletin
    html = (folder / "2016Q4.html").read_text(encoding="utf-8")
    assert (folder / "2016Q4.pdf").read_bytes().startswith(b"%PDF")
    assert not re.search(r"<script|<link |src=\"http|href=\"http|url\(", html)  # readable offline
    assert "@media print" in html


def test_rendering_again_with_the_same_data_changes_nothing(bulletin):
    from publish.bulletin import render_bulletin_for

    folder, _ = bulletin
    before = (folder / "2016Q4.html").read_bytes()
    again = render_bulletin_for("2016Q4")
    assert again["written"] == [] and (folder / "2016Q4.html").read_bytes() == before


def test_a_browser_renders_every_section_with_towns_and_charts(bulletin, tmp_path):
    folder, _ = bulletin
    page = (folder / "2016Q4.html").as_uri()
    dom = run_browser("--dump-dom", page, profile=tmp_path / "p1").stdout
    for section in SECTIONS:
        assert f'id="{section}"' in dom, section
    assert dom.count("<svg") >= 3
    for town in ("南湖基金小镇", "乌镇互联网小镇", "王江泾镇", "崇福镇"):
        assert town in dom
    assert "按时" in dom and "嘉善县" in dom and "年度考核结果" in dom and "优秀" in dom
    shot = config.var_dir() / "bulletin-2016Q4.png"
    run_browser("--window-size=1100,2400", f"--screenshot={shot}", page, profile=tmp_path / "p2")
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 50_000  # a real picture, not a blank page
    print(f"bulletin screenshot: {shot}")
