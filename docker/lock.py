"""The production lock and the environment it is installed in.

    python docker/lock.py check requirements-prod.txt   (image build, after pip check; tests)
        every pin of the lock is installed at exactly that version, every requirement of a
        locked distribution (with the extras asked for) is itself locked, no test tool is
        locked, and no Airflow provider outside the lock is installed (the base image's
        own extras, e.g. OpenLineage, would otherwise load in every Airflow process).
    python docker/lock.py unlocked-providers requirements-prod.txt   (the image build removes them)
    python docker/lock.py closure ROOT...                (the runtime closure of some roots,
        as pins of the installed versions: how requirements-prod.txt grows)

Only the standard library and `packaging` (which pip and Airflow already need).
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Test and lint tools, and what only they pull in: never in the production image.
TEST_TOOLS = frozenset(canonicalize_name(n) for n in (
    "pytest", "pytest-xdist", "pytest-timeout", "hypothesis", "moto", "ruff", "pylint", "pgserver",
    "playwright", "aiosmtpd", "responses", "cfn-lint", "aws-xray-sdk", "py-partiql-parser", "coverage",
    "mutmut", "iniconfig", "docker", "astronomer-cosmos",
))


def read_lock(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line (comments, blanks and -r lines skipped)."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if m is None:
            raise ValueError(f"{path.name}: not an exact pin: {line!r}")
        pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def _requirements(name: str, extras: frozenset[str]) -> list[Requirement]:
    """What the installed distribution `name` needs, with `extras`, on this platform."""
    out = []
    for text in metadata.requires(name) or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
            out.append(req)
    return out


def closure(roots: list[str]) -> dict[str, str]:
    """Every distribution the roots need (transitively, extras followed), at its installed version."""
    seen: dict[str, frozenset[str]] = {}
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        name, extras = canonicalize_name(req.name), frozenset(req.extras)
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, frozenset()) | extras
        todo.extend(_requirements(name, seen[name]))
    return {name: metadata.version(name) for name in seen}


def problems(lock: Path) -> list[str]:
    """What is wrong with the environment for this lock (empty: all is well)."""
    return lock_problems(lock) + [f"{n} is installed but not locked" for n in unlocked_providers(lock)]


def lock_problems(lock: Path) -> list[str]:
    """Test tools locked, pins not installed at their version, requirements of locked distributions unlocked."""
    pins = read_lock(lock)
    found = []
    found += [f"test tool in the production lock: {n}" for n in sorted(pins) if n in TEST_TOOLS]
    for name, version in sorted(pins.items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            found.append(f"{name}=={version} is locked but not installed")
            continue
        if installed != version:
            found.append(f"{name}=={version} is locked but {installed} is installed")
    installed = _installed()
    missing = sorted(set(closure([n for n in pins if n in installed])) - set(pins))
    found += [f"{n} is needed by a locked distribution but not locked" for n in missing]
    return found


def unlocked_providers(lock: Path) -> list[str]:
    """Airflow providers installed but not in the lock (each loads in every Airflow process)."""
    providers = {n for n in _installed() if n.startswith("apache-airflow-providers-")}
    return sorted(providers - set(read_lock(lock)))


def _installed() -> set[str]:
    return {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions()}


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"] and len(argv) == 2:
        found = problems(Path(argv[1]))
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    if argv[:1] == ["unlocked-providers"] and len(argv) == 2:
        print("\n".join(unlocked_providers(Path(argv[1]))))
        return 0
    if argv[:1] == ["closure"] and len(argv) > 1:
        for name, version in sorted(closure(argv[1:]).items()):
            print(f"{name}=={version}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
