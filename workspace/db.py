"""The workspace database: one DuckDB file, the schema in ``schema.sql``.

    >>> ws = Workspace.open(Path("/tmp/ws"))          # doctest: +SKIP
    >>> ws.stats()["orders"]                          # doctest: +SKIP
    69659

A workspace folder holds ``pulse.duckdb`` (tables and stored embeddings),
``index.faiss`` (the vector index) and ``sessions.sqlite`` (agent threads).
This module owns the schema and the derived ``documents`` corpus; reading
files is ``ingest.py``'s job, vectors are ``retrieval``'s.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import duckdb

from pulse.config import DB_FILE
from pulse.errors import UserError

__all__ = ["Workspace", "WorkspaceBusy", "DB_FILE", "TABLES", "CORPUS_KINDS"]


class WorkspaceBusy(UserError):
    """The workspace file is locked by another process, so it cannot be opened for writing now."""


#: The documented tables, the only ones the SQL tool may read.
TABLES = (
    "posts",
    "products",
    "customers",
    "orders",
    "order_items",
    "reviews",
    "ratings",
    "help_articles",
    "documents",
    "doc_sentiment",
)

#: How each searchable kind becomes a document: (kind, table, id column, SQL for the text,
#: product column, customer column, date column).
CORPUS_KINDS = {
    "post": ("posts", "post_id", "text", "NULL", "NULL", "created_at"),
    "review": (
        "reviews",
        "review_id",
        "CASE WHEN title IS NOT NULL AND title <> '' THEN title || '. ' || text ELSE text END",
        "product_id",
        "customer_id",
        "created_at",
    ),
    "product": (
        "products",
        "product_id",
        "name || coalesce(' (' || concat_ws(' / ', division, department, category) || ')', '')"
        " || coalesce('. ' || description, '')",
        "product_id",
        "NULL",
        "NULL",
    ),
    "help": ("help_articles", "article_id", "title || '. ' || text", "NULL", "NULL", "updated_at"),
}


class Workspace:
    """A handle on a workspace folder and its DuckDB connection."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, read_only: bool):
        self.path = path
        self.con = con
        self.read_only = read_only

    @classmethod
    def open(cls, path: Path | str, read_only: bool = False) -> "Workspace":
        path = Path(path)
        db = path / DB_FILE
        if read_only:
            if not db.is_file():
                raise FileNotFoundError(f"no workspace at {path} (missing {db.name}); run `pulse demo` or `pulse ingest`")
            # DuckDB's own sandbox: a read-only handle (the agent's, the server's) reads no file, URL or other
            # database, loads no extension, and no query can turn that back on (lock_configuration)
            con = duckdb.connect(str(db), read_only=True, config={"enable_external_access": False})
            try:
                con.execute("SET lock_configuration = true")
            except duckdb.InvalidInputException:  # a second handle on the same file in this process: already locked
                pass
        else:
            path.mkdir(parents=True, exist_ok=True)
            try:
                con = duckdb.connect(str(db))
            except duckdb.IOException as e:
                if "lock" not in str(e).lower():
                    raise
                raise WorkspaceBusy(
                    f"the workspace {path} is open in another process (a running `pulse serve`, "
                    "`pulse train` or `pulse ingest`); stop it or import through its Data tab"
                ) from e
            con.execute(resources.files("workspace").joinpath("schema.sql").read_text())
        return cls(path, con, read_only)

    def reopen(self, read_only: bool) -> None:
        """Swap this handle's connection for a read-only or a writable one (DuckDB allows one mode per file
        and process). Everything holding this handle (tools, the index) sees the new connection."""
        self.con.close()
        try:
            fresh = Workspace.open(self.path, read_only=read_only)
        except Exception:
            # could not switch (another process holds the file): keep serving in the mode we had
            self.con = Workspace.open(self.path, read_only=self.read_only).con
            raise
        self.con, self.read_only = fresh.con, read_only

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- queries -------------------------------------------------------------------

    def query(self, sql: str, params: list | None = None) -> list[dict]:
        cur = self.con.cursor()
        try:
            cur.execute(sql, params or [])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]
        finally:
            cur.close()

    def stats(self) -> dict[str, int]:
        """Row counts of every table, plus stored embeddings."""
        return {t: self.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in (*TABLES, "embeddings")}

    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    # -- the corpus ----------------------------------------------------------------

    def refresh_documents(self) -> int:
        """Derive documents from posts, reviews and products; return how many are new.

        A row whose text changed gets a fresh document (and so a fresh embedding);
        its old document is dropped. Unchanged rows are left alone.
        """
        added = 0
        for kind, (table, id_col, text_sql, prod, cust, date) in CORPUS_KINDS.items():
            src = (
                f"SELECT CAST({id_col} AS VARCHAR) AS ref_id, {prod} AS product_id, {cust} AS customer_id, "
                f"{date} AS created_at, {text_sql} AS text FROM {table}"
            )
            # drop documents whose source row changed text or disappeared, with their vectors and scores
            self.con.execute(
                f"""DELETE FROM doc_sentiment WHERE doc_id IN (
                      SELECT d.doc_id FROM documents d LEFT JOIN ({src}) s ON s.ref_id = d.ref_id
                      WHERE d.kind = ? AND (s.ref_id IS NULL OR s.text IS DISTINCT FROM d.text))""",
                [kind],
            )
            self.con.execute(
                f"""DELETE FROM embeddings WHERE doc_id IN (
                      SELECT d.doc_id FROM documents d LEFT JOIN ({src}) s ON s.ref_id = d.ref_id
                      WHERE d.kind = ? AND (s.ref_id IS NULL OR s.text IS DISTINCT FROM d.text))""",
                [kind],
            )
            self.con.execute(
                f"""DELETE FROM documents WHERE kind = ? AND doc_id IN (
                      SELECT d.doc_id FROM documents d LEFT JOIN ({src}) s ON s.ref_id = d.ref_id
                      WHERE d.kind = ? AND (s.ref_id IS NULL OR s.text IS DISTINCT FROM d.text))""",
                [kind, kind],
            )
            # on self.con, not a cursor: an import calls this inside its transaction
            before = self.con.execute("SELECT count(*) FROM documents").fetchall()[0][0]
            self.con.execute(
                f"""INSERT INTO documents (kind, ref_id, product_id, customer_id, created_at, text)
                    SELECT ?, s.ref_id, s.product_id, s.customer_id, s.created_at, s.text FROM ({src}) s
                    WHERE s.text IS NOT NULL AND trim(s.text) <> ''
                      AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.kind = ? AND d.ref_id = s.ref_id)
                    ORDER BY s.ref_id""",
                [kind, kind],
            )
            added += self.con.execute("SELECT count(*) FROM documents").fetchall()[0][0] - before
        return added
