"""`make portal`: the portal on this machine, on the embedded warehouse, with sample accounts.

Creates (if absent) a secret key under var/portal/ (0600), a county account for every sample county
report the browser test and the README use (海盐县 330424, 嘉善县 330421) and an office account; a new
account's generated password is printed once and kept in var/portal/sample-logins.txt (0600). Then
serves on http://localhost:8000 with the inline intake (a submitted file is recorded at once).

Also what the tests and the benchmark use to run the portal as a separate process and to make sample
reports (`sample_report`, from the sample generator).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from portal.settings import portal_dir

SAMPLE_ACCOUNTS = (("haiyan", "county", "330424"), ("jiashan", "county", "330421"), ("office", "office", None))
REFUSED_DEFECT = ("LZ-1", "CT-330424-02", "fai_feature", "exceeds_parent")  # a sample refusal (samplegen/plan.py)


def _private_write(path: Path, text: str, append: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


def secret_key_file() -> Path:
    path = portal_dir() / "secret_key"
    if not path.exists():
        _private_write(path, secrets.token_urlsafe(48) + "\n")
    return path


def ensure_sample_accounts(conn, accounts_spec=SAMPLE_ACCOUNTS) -> dict[str, str]:
    """Create the sample accounts that do not exist; {login: one-time password} of those created."""
    from portal import accounts

    created = {}
    for login, role, county in accounts_spec:
        if accounts.find(conn, login) is None:
            password = accounts.generate_password()
            accounts.add(conn, login, role, county, None, password)
            created[login] = password
    return created


def sample_report(county_code: str, year: int, quarter: int, defect: tuple | None = None) -> bytes:
    """A county's report of the sample (samplegen), with one deliberate error if `defect` is given."""
    from samplegen import load_sample
    from samplegen.periods import Period
    from samplegen.report import Defect, apply_defects
    from samplegen.workbook import Presentation, render

    sample = load_sample()
    report = sample.clean_report(county_code, Period(year, quarter))
    if defect:
        report = apply_defects(report, (Defect(*defect),))
    style = Presentation(money_unit="万元", remarks_column=False, reporter="张敏", phone="0573-86012345",
                         reported_on=date(year + (quarter == 4), (quarter * 3) % 12 + 1, 10))
    return render(report, style)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    """`python -m portal serve` as a child process; returns once /healthz answers 200."""
    import httpx

    log = open(log_path, "ab")  # noqa: SIM115 - the child writes to it for its whole life
    proc = subprocess.Popen([sys.executable, "-m", "portal", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"the portal exited ({proc.returncode}); see {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"the portal did not answer /healthz; see {log_path}")


def main() -> int:
    from portal.cli import main as cli
    from portal.db import connection

    os.environ.setdefault("TWOTOWNS_PORTAL_SECRET_KEY_FILE", str(secret_key_file()))
    os.environ.setdefault("TWOTOWNS_PORTAL_INTAKE", "inline")
    with connection() as conn:
        created = ensure_sample_accounts(conn)
    logins = portal_dir() / "sample-logins.txt"
    if created:
        _private_write(logins, "".join(f"{k}\t{v}\n" for k, v in created.items()), append=True)
    port = int(os.environ.get("PORT", "8000"))
    print(f"County portal: http://localhost:{port}/  (accounts: {', '.join(a[0] for a in SAMPLE_ACCOUNTS)})")
    for login, password in created.items():
        print(f"  new account {login}: one-time password {password}")
    print(f"  passwords of the sample accounts: {logins} (0600); reset one with: python -m portal users reset LOGIN")
    return cli(["serve", "--host", os.environ.get("HOST", "127.0.0.1"), "--port", str(port)])


if __name__ == "__main__":
    sys.exit(main())
