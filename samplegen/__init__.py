"""Deterministic sample county reports (two-towns quarterly reports), 2015Q1-2018Q4.

    from samplegen import generate, truth
    files = generate(Path("data/sample"))          # workbooks + expected.json
    values = truth("330424", 2016, 3)               # {(form, town|None, indicator): value}
    prior = prior_truth("330481", 2016, 3)          # the 上年同期 values written beside them

Command line: python -m samplegen --out DIR

Scaled samples (province, nation: issue 13) are built by samplegen.scale (registry), samplegen.scalevalues
(values), samplegen.scalefiles (seeds, 2024Q4 inbox, expected.json) and samplegen.bulk (history by COPY):
python -m samplegen --scale province|nation --out DIR [--load-history].
"""

from samplegen.generate import EXPECTED_FILE, SampleFile, generate, load_sample, prior_truth, truth
from samplegen.periods import PERIODS, Period

__all__ = ["EXPECTED_FILE", "PERIODS", "Period", "SampleFile", "generate", "load_sample", "prior_truth", "truth"]
