"""Data quality with Great Expectations 1.x at every stage (see README.md in this folder).

runner.py (stages, suites, checkpoints, CLI), gate.py (raw/warehouse gates),
submission.py (the audit ingest runs per report), publication.py (the audit of
a written version), custom.py (custom expectations), fragments.py (shared SQL),
sampledata.py and bench.py (test copies, throughput). Nothing here imports GX
until a check runs.
"""
