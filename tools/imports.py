"""The one import pipeline: rows, documents, vectors, sentiment scores, then the FAISS index.

Every import (``pulse ingest``, the web Data tab, anything later) goes through
:func:`import_file`, so what an import updates cannot drift between front ends:

1. the file is validated and its rows written (``workspace.ingest``),
2. documents are derived from changed rows (edited texts get a fresh document),
3. documents without a vector are embedded, and stored in ``embeddings``,
4. documents without a sentiment score are scored (when a model is trained),

all inside **one DuckDB transaction**: a crash (even SIGKILL) at any of these
steps leaves the database as it was before the import. Only then is the FAISS
file updated (temp file, fsync, rename); it is a cache of the stored vectors,
and ``retrieval.Index.open`` reconciles it with them, so a crash between the
commit and the index save is repaired on the next open.

    >>> rep = import_file(ws, index, "reviews", Path("new_reviews.csv"))   # doctest: +SKIP
    >>> rep.new_documents, rep.embedded, rep.sentiment_scored               # doctest: +SKIP
    (12, 12, 12)

``on_step(name)`` hears ``rows``, ``documents``, ``embeddings`` (once per
batch), ``sentiment``, ``committed`` and ``indexed`` as they finish: progress
for a front end, and the points where the crash tests kill the process.

What it leaves out: alert state (alerts are computed from the tables when
asked), retraining models (``pulse train``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import duckdb

from workspace import IngestError, ingest

__all__ = ["import_file", "ImportReport", "STEPS"]

STEPS = ("rows", "documents", "embeddings", "sentiment", "committed", "indexed")


@dataclass
class ImportReport:
    kind: str
    rows: int
    inserted: int
    replaced: int
    new_documents: int
    embedded: int
    sentiment_scored: int
    columns: dict[str, str] = field(default_factory=dict)  # field -> the file's column it came from
    ignored: list[str] = field(default_factory=list)  # the file's columns no field took

    def to_dict(self) -> dict:
        return asdict(self)


def import_file(
    ws,
    index,
    kind: str,
    path: Path,
    mapping: dict[str, str] | None = None,
    progress: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import ``path`` as ``kind`` into the writable workspace ``ws``; all or nothing. See the module docstring.

    Raises ``IngestError`` (bad rows, nothing imported) or ``ValueError`` (unknown kind or mapping).
    """
    from .sentiment import SentimentModel, score_documents

    step = on_step or (lambda name: None)
    if ws.read_only:
        raise PermissionError("the workspace is open read-only; open it writable to import")
    con = ws.con
    con.execute("BEGIN TRANSACTION")
    try:
        rep = ingest(ws, kind, Path(path), mapping or None, progress=progress, in_txn=True)
        step("rows")
        new_docs = ws.refresh_documents()
        step("documents")
        embedded = index.embed_missing(progress=progress, on_batch=lambda n: step("embeddings"))
        scored = 0
        if (ws.path / "models" / "sentiment.joblib").is_file():
            scored = score_documents(ws, index, SentimentModel.load(ws.path), progress=progress, only_new=True)
        step("sentiment")
        con.execute("COMMIT")
    except BaseException as e:
        con.execute("ROLLBACK")
        if isinstance(e, duckdb.Error):  # a constraint or cast the parser let through: bad input, not a crash
            raise IngestError(
                Path(path),
                [],
                extra=f"{Path(path).name}: the database refused the rows ({str(e).splitlines()[0][:200]}); nothing was imported",
            ) from e
        raise
    step("committed")
    index.sync()
    step("indexed")
    return ImportReport(
        rep.kind, rep.rows, rep.inserted, rep.replaced, new_docs, embedded, scored, columns=rep.columns, ignored=rep.ignored
    )
