"""The Debian packages the tests need (the list: packages.apt), checked or installed. Standard library only:
it runs before the virtualenv exists (`python3 scripts/system_packages.py`).

    install [--strict]   missing ones installed with apt-get when root, else what to install printed
                         (exit 0; --strict: exit 1 while any is still missing, as `make test` does)
    check                exit 1 with what to install if any is missing
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LIST = Path(__file__).resolve().parents[1] / "packages.apt"


def packages(path: Path = LIST) -> list[tuple[str, str]]:
    """(package, probe) per line of the list; a probe is `command:NAME` or `font:LANG`."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            out.append((fields[0], fields[1]))
    return out


def present(probe: str) -> bool:
    kind, _, name = probe.partition(":")
    if kind == "command":
        return shutil.which(name) is not None
    if kind == "font":
        fc_list = shutil.which("fc-list")
        if not fc_list:
            return False
        found = subprocess.run([fc_list, f":lang={name}", "family"], capture_output=True, text=True)
        return found.returncode == 0 and bool(found.stdout.strip())
    raise ValueError(f"packages.apt: unknown probe {probe!r}")


def missing(path: Path = LIST) -> list[str]:
    return [package for package, probe in packages(path) if not present(probe)]


def message(names: list[str]) -> str:
    return (f"Missing Debian packages the tests need: {' '.join(names)}\n"
            f"Install them:  sudo apt-get install -y {' '.join(names)}\n"
            "(or run `make install` as root; the list is packages.apt)")


def apt_install(names: list[str]) -> bool:
    """As root with apt-get: install them; False where that is not possible here."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=300", *names], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("install", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    names = missing()
    if names and args[0] == "install" and apt_install(names):
        names = missing()
    if names:
        print(message(names), file=sys.stderr)
        return 1 if args[0] == "check" or "--strict" in args else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
