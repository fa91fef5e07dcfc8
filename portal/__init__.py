"""The county portal: counties upload and check their quarterly reports, submit them through the same
intake as every other file and follow their status; the programme office sees every county (read-only).

`python -m portal serve --host H --port P` serves it; `python -m portal users add|disable|reset|list`
manages the accounts. See docs/portal.md.
"""
