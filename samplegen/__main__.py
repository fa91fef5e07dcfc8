"""python -m samplegen --out DIR: write the sample county reports.

    python -m samplegen --out DIR                                  # the city sample (7 counties, 2015Q1-2018Q4)
    python -m samplegen --scale province|nation --out DIR [--load-history]

A scaled sample (samplegen.scalefiles) is DIR/seeds (run the platform on it with
TWOTOWNS_SEEDS_DIR=DIR/seeds), DIR/inbox (2024Q4 county files), DIR/expected.json and DIR/scale.json;
--load-history lands 2015Q1-2024Q3 into the warehouse (WAREHOUSE_URL, else the embedded one) by COPY
(samplegen.bulk.load_history). `--scale city` is the city sample, as without --scale.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core.config import sample_dir
from samplegen.generate import EXPECTED_FILE, generate


def _city(out_dir: Path, seeds: Path | None) -> int:
    files = generate(out_dir, seeds_dir=seeds)
    for f in files:
        codes = ",".join(f.expected_codes) or "-"
        print(f"{f.received_at.isoformat()}  {f.expected_status:<8}  {f.file}  {codes}")
    print(f"{len(files)} files written to {out_dir} (with {EXPECTED_FILE})")
    return 0


def _scaled(out_dir: Path, scale: str, load: bool) -> int:
    from samplegen.bulk import load_history
    from samplegen.scalefiles import write_scaled_sample

    started = time.perf_counter()
    files = write_scaled_sample(out_dir, scale)
    refused = sum(f.expected_status == "refused" for f in files)
    print(f"{scale}: {len(files)} files ({refused} to be refused) in {out_dir / 'inbox'}, seeds in {out_dir / 'seeds'}, "
          f"{time.perf_counter() - started:.1f} s")
    if load:
        started = time.perf_counter()
        counts = load_history(out_dir)
        state = "loaded" if counts.loaded else "already loaded (nothing done)"
        print(f"history 2015Q1-2024Q3 {state}: {counts.submissions} submissions, {counts.values} values, "
              f"{time.perf_counter() - started:.1f} s")
    print(f"run the platform on it with TWOTOWNS_SEEDS_DIR={(out_dir / 'seeds').resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m samplegen",
        description="Write deterministic sample county reports (the city sample, or a scaled registry and its "
                    "latest quarter).",
    )
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: TWOTOWNS_SAMPLE_DIR or data/sample)")
    parser.add_argument("--seeds", type=Path, default=None,
                        help="city sample: folder of the registry seeds (default: TWOTOWNS_SEEDS_DIR or dbt_project/seeds)")
    parser.add_argument("--scale", choices=("city", "province", "nation", "small"), default="city",
                        help="city: the 7-county sample; province: 90 counties; nation: 2,800 counties; "
                             "small: 18 counties (tests)")
    parser.add_argument("--load-history", action="store_true",
                        help="scaled: land 2015Q1-2024Q3 into the warehouse (COPY)")
    args = parser.parse_args(argv)
    out_dir = args.out if args.out is not None else sample_dir()
    if args.scale == "city":
        if args.load_history:
            parser.error("--load-history is for a scaled sample (the city sample's history is its files)")
        return _city(out_dir, args.seeds)
    return _scaled(out_dir, args.scale, args.load_history)


if __name__ == "__main__":
    sys.exit(main())
