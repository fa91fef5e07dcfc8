"""python -m samplegen --out DIR: write the sample county reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.config import sample_dir
from samplegen.generate import EXPECTED_FILE, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m samplegen",
        description="Write deterministic sample county reports (one .xlsx per county and quarter).",
    )
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: TWOTOWNS_SAMPLE_DIR or data/sample)")
    parser.add_argument("--seeds", type=Path, default=None,
                        help="folder of the registry seeds (default: TWOTOWNS_SEEDS_DIR or dbt_project/seeds)")
    args = parser.parse_args(argv)
    out_dir = args.out if args.out is not None else sample_dir()
    files = generate(out_dir, seeds_dir=args.seeds)
    for f in files:
        codes = ",".join(f.expected_codes) or "-"
        print(f"{f.received_at.isoformat()}  {f.expected_status:<8}  {f.file}  {codes}")
    print(f"{len(files)} files written to {out_dir} (with {EXPECTED_FILE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
