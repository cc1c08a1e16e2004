"""Pulse's data layer: a DuckDB workspace, file import, and the demo data."""

from .db import CORPUS_KINDS, TABLES, Workspace
from .ingest import FIELDS, KINDS, IngestError, IngestReport, ingest

__all__ = ["Workspace", "TABLES", "CORPUS_KINDS", "ingest", "IngestError", "IngestReport", "FIELDS", "KINDS"]
