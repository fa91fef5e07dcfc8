"""Ingest of the quarterly county reports: read, validate, land, load, feed back."""
