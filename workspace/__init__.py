"""Pulse's data layer: a DuckDB workspace, file import, and the demo data."""

from .db import CORPUS_KINDS, TABLES, Workspace, WorkspaceBusy
from .ingest import FIELDS, KINDS, IngestError, IngestReport, guess_mapping, ingest, read_table

__all__ = [
    "Workspace",
    "WorkspaceBusy",
    "TABLES",
    "CORPUS_KINDS",
    "ingest",
    "IngestError",
    "IngestReport",
    "FIELDS",
    "KINDS",
    "guess_mapping",
    "read_table",
]
