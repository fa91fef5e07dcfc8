"""The fast gates of `make lint`, so that `make test` (and CI) enforces them: the packages' import direction
(import-linter, [tool.importlinter] in pyproject.toml), function length, private names across packages and
copies of policy numbers (scripts/lint_structure.py); duplicated blocks (pylint duplicate-code, about 16 s of
CPU on this tree); and the fresh-machine check of the Debian packages.

KNOWN lists what the target state forbids and the tree still does, each with the work that removes it: a
new violation fails, a known one is printed. Delete an entry when its work lands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from scripts import lint_structure, system_packages

ROOT = Path(__file__).resolve().parents[1]

KNOWN: dict[str, str] = {}  # nothing known today: every violation fails


def _new(found: list[str]) -> list[str]:
    known = [f for f in found if f in KNOWN]
    if known:
        print("\nknown violations (see KNOWN):\n  " + "\n  ".join(known))
    return [f for f in found if f not in KNOWN]


def _without_line(violation: str) -> str:
    """`file:line: message` -> `file: message` (a known violation stays known when its line moves)."""
    return re.sub(r"^([^:]+):\d+:", r"\1:", violation)


def test_import_contracts_hold():
    """The layers dags, scripts > ops, portal > publish | ingest > expectations > core; samplegen reads core."""
    run = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "Contracts:" in run.stdout, run.stdout + run.stderr  # the contracts were read and checked
    # the first import of each broken chain: `- a.b -> c.d (l.12)`
    imports = sorted({m.group(1) for m in re.finditer(r"^-\s+(\S+ -> \S+) \(l\.", run.stdout, re.M)})
    assert run.returncode == 0 or imports, run.stdout
    assert not _new(imports), run.stdout


def test_no_duplicated_blocks():
    """pylint's duplicate-code over the packages (settings: [tool.pylint] in pyproject.toml), tests excluded."""
    packages = [p for p in lint_structure.PACKAGES if (ROOT / p).is_dir()]
    run = subprocess.run([str(Path(sys.executable).parent / "pylint"), *packages], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout + run.stderr


def test_structure_checks_hold():
    """No function over 60 lines, no private name of another package, no policy number copied from the seed."""
    found = [_without_line(v) for v in lint_structure.violations(list(lint_structure.CHECKS))]
    assert not _new(found)


def test_every_package_is_checked():
    """A new top-level package joins the import contracts and the structure checks."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} | {"dags"}
    packages -= {"tests"}
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    assert packages <= set(config["root_packages"])
    assert packages <= set(lint_structure.PACKAGES)


def test_structure_checks_see_what_they_forbid(tmp_path):
    (tmp_path / "ingest").mkdir()
    source = tmp_path / "ingest" / "x.py"
    body = "\n".join(f"    a = {i}" for i in range(60))
    source.write_text("from expectations.runner import _private\nfrom core import registry\n"
                      "PRIOR_MISMATCH_TOLERANCE_DEFAULT = 0.01\nGROWTH_LOW, GAP = Decimal(-50), 2\n"
                      f"def long():\n{body}\n    return registry._cache\n", encoding="utf-8")
    tree = lint_structure._parsed(source)
    assert lint_structure.long_functions(source, tree, tmp_path) == [
        "ingest/x.py:5: long is 62 lines (at most 60)"]
    assert lint_structure.private_imports(source, tree, tmp_path) == [
        "ingest/x.py:1: imports _private from expectations.runner", "ingest/x.py:66: reads core.registry._cache"]
    seed = {"prior_mismatch_tolerance": "0.01", "growth_outlier_min_pct": "-50", "early_warning_quarters": "2"}
    assert lint_structure.policy_copies(source, tree, tmp_path, seed) == [
        "ingest/x.py:3: PRIOR_MISMATCH_TOLERANCE_DEFAULT copies the seed's prior_mismatch_tolerance (0.01): "
        "read it through core.registry",
        "ingest/x.py:4: GROWTH_LOW copies the seed's growth_outlier_min_pct (-50): read it through core.registry"]


def test_missing_debian_packages_stop_at_once_with_what_to_install(tmp_path):
    """`make test` runs this check first: without the packages it says what to install, in well under a second."""
    names = [name for name, _ in system_packages.packages()]
    assert {"redis-server", "chromium", "fonts-noto-cjk"} <= set(names)
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "system_packages.py"), "check"],
                         env={"PATH": str(tmp_path)}, capture_output=True, text=True, timeout=10)
    assert run.returncode == 1
    assert f"sudo apt-get install -y {' '.join(names)}" in run.stderr
    strict = subprocess.run([sys.executable, str(ROOT / "scripts" / "system_packages.py"), "install", "--strict"],
                            env={"PATH": str(tmp_path)}, capture_output=True, text=True, timeout=10)
    assert strict.returncode == 1 and "Missing Debian packages" in strict.stderr  # no apt-get on that PATH
