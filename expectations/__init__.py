"""Data quality with Great Expectations 1.x at every stage (see README.md in this folder).

specs.py (suites), engine.py (GX context, Data Docs), outcome.py and results.py
(what a run found), stages.py (SQL stages prepared), run.py (a stage run),
publication.py (the file stage: a written version), gate.py (raw/warehouse
gates), submission.py (the audit ingest runs per report), cli.py (python -m
expectations), custom.py (custom expectations), fragments.py (shared SQL),
state.py (gate state), sampledata.py (test copies). Nothing here imports GX
until a check runs.
"""
