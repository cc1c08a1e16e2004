"""The FAISS index over the workspace's documents, with metadata filters.

Vectors live in the workspace (``embeddings`` table), computed once; the
FAISS file ``index.faiss`` is a cache of them keyed by ``documents.doc_id``.

* Exact search (``IndexFlatIP`` on unit vectors) below ``hnsw_threshold``
  documents, HNSW above (``index="auto"``); ``index="flat"|"hnsw"`` overrides.
* A GPU copy of a flat index is used when faiss-gpu sees a GPU.
* :meth:`Index.update` embeds only documents that have no vector yet, adds
  them to the loaded index and saves it atomically (temp file, fsync, rename).
* Opening reconciles the file with the stored vectors, so a crash between a
  database commit and the index save is repaired on the next open.
* Filters (kind, product, customer, date range) select candidate ids in SQL;
  FAISS searches only those.

    >>> idx = Index.open(ws, settings)                             # doctest: +SKIP
    >>> idx.update()                                               # doctest: +SKIP
    >>> [h.kind for h in idx.search("runs small", k=3, kind="review")]  # doctest: +SKIP
    ['review', 'review', 'review']

What it leaves out: re-ranking, hybrid (keyword) search, deletions from HNSW
(stale ids are skipped when results are joined back to ``documents``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import faiss
import numpy as np
import pyarrow as pa
from tqdm import tqdm

from pulse.errors import UserError

from .embed import Embedder, backend_for, dim_of, space_for

__all__ = ["Index", "Hit", "EmbedderMismatch"]


class EmbedderMismatch(UserError):
    """The embedder's vector space is not the one the workspace's stored vectors were made in."""


_EXACT_FALLBACK = 100_000  # filtered HNSW searches this many candidates exactly instead


@dataclass
class Hit:
    doc_id: int
    score: float
    kind: str
    ref_id: str
    product_id: str | None
    customer_id: str | None
    created_at: datetime | None
    text: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat() if self.created_at else None
        return d


class Index:
    def __init__(self, ws, settings, embedder: Embedder | None = None, role: str = "corpus"):
        self.ws = ws
        self.settings = settings
        self.role = role  # "corpus" (imports embed documents) or "query" (a running agent embeds questions)
        self._embedder = embedder
        self._checked = False  # the embedder's space was checked against the stored one
        self._space: str | None = None
        self.path: Path = ws.path / "index.faiss"
        self.cpu: faiss.Index | None = None
        self.gpu = None
        if self.path.is_file():
            try:
                self.cpu = faiss.read_index(str(self.path))
            except RuntimeError:  # unreadable: it is only a cache of the stored vectors, so it is rebuilt
                self.cpu = None
        if self._reconcile() and not ws.read_only:
            self.save()
        self._to_gpu()

    @classmethod
    def open(cls, ws, settings, embedder: Embedder | None = None, role: str = "corpus") -> "Index":
        """Load ``index.faiss`` and make it agree with the stored vectors (the database is the source of truth).

        Without ``embedder``, the one configured for ``role`` is loaded on first use; ``auto`` picks the backend
        of the workspace's vector space (:attr:`space`)."""
        return cls(ws, settings, embedder, role)

    def _reconcile(self) -> bool:
        """Bring the loaded index in line with the ``embeddings`` table; True when it had to change.

        After a crash between an import's commit and the index save, the file lacks the new vectors (or still
        holds removed ones): the missing are added from the stored vectors, the stale removed (flat; HNSW
        cannot remove, and its stale ids are skipped when hits are joined back to ``documents``).
        """
        stored = np.array([r[0] for r in self.ws.con.execute("SELECT doc_id FROM embeddings").fetchall()], np.int64)
        if self.cpu is None:
            if not len(stored):
                return False
            ids, vecs = self.stored_vectors()
            self.cpu = self.new_faiss(self._wanted_kind(len(ids)))
            self.cpu.add_with_ids(vecs, ids)
            return True
        have = np.array(self._indexed_ids(), np.int64)
        missing = np.setdiff1d(stored, have)
        stale = np.setdiff1d(have, stored) if self.kind == "flat" else np.zeros(0, np.int64)
        if len(stale):
            self.cpu.remove_ids(stale)
        if len(missing):
            ids, vecs = self.stored_vectors(ids=missing)
            self.cpu.add_with_ids(vecs, ids)
        return bool(len(missing) or len(stale))

    # -- building ------------------------------------------------------------------

    @property
    def space(self) -> str | None:
        """The vector space the stored vectors were made in (recorded in the workspace), or None before any."""
        if self._space is None:
            got = self.ws.con.execute("SELECT value FROM meta WHERE key = 'embedder_space'").fetchall()
            if not got:  # a workspace from before the space was recorded: its vectors say
                got = self.ws.con.execute("SELECT model FROM embeddings LIMIT 1").fetchall()
            self._space = got[0][0] if got else None
        return self._space

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            name = self.settings.embedder if self.role == "corpus" else self.settings.query_embedder
            if name == "auto":
                name = backend_for(self.space or self._space_for_corpus(), self.role)
            self._embedder = Embedder.load(name, threads=self.settings.threads)
        return self._embedder

    def _space_for_corpus(self) -> str:
        """A corpus's first space: by the language of (a sample of) its documents."""
        rows = self.ws.con.execute("SELECT text FROM documents USING SAMPLE 5000 ROWS").fetchall()
        return space_for([r[0] for r in rows])

    def _check_space(self) -> None:
        if self._checked:
            return
        have = self.space
        if have is not None and self.embedder.space != have:
            raise EmbedderMismatch(
                f"this workspace's vectors were made by {have}, and the embedder {self.embedder.name!r} makes "
                f"{self.embedder.space} vectors: the two do not mix. Use embedder=auto, or rebuild the "
                "workspace's vectors with the other one."
            )
        self._checked = have is not None

    @property
    def ntotal(self) -> int:
        return 0 if self.cpu is None else self.cpu.ntotal

    @property
    def kind(self) -> str:
        if self.cpu is None:
            return "none"
        inner = faiss.downcast_index(self.cpu.index) if hasattr(self.cpu, "index") else self.cpu
        return "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"

    def _wanted_kind(self, n: int) -> str:
        if self.settings.index != "auto":
            return self.settings.index
        return "hnsw" if n >= self.settings.hnsw_threshold else "flat"

    @property
    def dim(self) -> int:
        """The length of this workspace's vectors (its recorded space's, else the embedder's)."""
        space = self.space
        return dim_of(space) if space else self.embedder.dim

    def new_faiss(self, kind: str) -> faiss.Index:
        if kind == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dim, 32, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 40
        else:
            inner = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(inner)

    def _to_gpu(self) -> None:
        self.gpu = None
        if self.kind == "flat" and hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
            self._gpu_res = faiss.StandardGpuResources()
            self.gpu = faiss.index_cpu_to_gpu(self._gpu_res, 0, self.cpu)

    def stored_vectors(self, ids: np.ndarray | None = None, after: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(doc_ids, vectors [n, dim]) from the workspace, all, some ``ids``, or those ``after`` an id."""
        where, params = "", None
        if ids is not None:
            where, params = "WHERE doc_id IN (SELECT unnest(?::BIGINT[]))", [np.asarray(ids).tolist()]
        elif after is not None:
            where, params = "WHERE doc_id > ?", [int(after)]
        tbl = self.ws.con.sql(f"SELECT doc_id, vector FROM embeddings {where} ORDER BY doc_id", params=params).to_arrow_table()
        doc_ids = tbl.column("doc_id").to_numpy().astype(np.int64)
        vec = tbl.column("vector").combine_chunks()
        flat = vec.values.to_numpy(zero_copy_only=False) if len(doc_ids) else np.zeros(0, np.float32)
        return doc_ids, flat.astype(np.float32).reshape(-1, self.dim)

    def update(self, progress: bool = True, batch: int = 2048) -> int:
        """Embed documents that lack a vector, add them, save. Returns how many were embedded."""
        new = self.embed_missing(progress=progress, batch=batch)
        self.sync()
        return new

    def embed_missing(self, progress: bool = True, batch: int = 2048, on_batch=None) -> int:
        """Store a vector for every document that lacks one (in the caller's transaction, if any); the FAISS
        file is left to :meth:`sync`. Returns how many were embedded."""
        if self.ws.read_only:
            raise PermissionError("the workspace is open read-only; open it writable to update the index")
        self._check_space()
        # on the connection itself (a cursor would not see the caller's uncommitted documents)
        todo = [
            {"doc_id": i, "text": t}
            for i, t in self.ws.con.execute(
                "SELECT d.doc_id, d.text FROM documents d LEFT JOIN embeddings e USING (doc_id) "
                "WHERE e.doc_id IS NULL ORDER BY d.doc_id"
            ).fetchall()
        ]
        with tqdm(total=len(todo), desc="embedding", unit="doc", disable=not progress or not todo) as bar:
            for i in range(0, len(todo), batch):
                part = todo[i : i + batch]
                vecs = self.embedder.encode([r["text"] for r in part], batch_size=self.settings.embed_batch)
                self._store(np.array([r["doc_id"] for r in part], np.int64), vecs)
                bar.update(len(part))
                if on_batch:
                    on_batch(len(part))
        return len(todo)

    def sync(self) -> None:
        """Make the FAISS index hold exactly the stored vectors (rebuilt when the flat/HNSW choice changes), save."""
        if self.ws.read_only:
            raise PermissionError("the workspace is open read-only; open it writable to update the index")
        n_docs = self.ws.con.execute("SELECT count(*) FROM embeddings").fetchall()[0][0]
        want = self._wanted_kind(n_docs)
        if self.cpu is None or want != self.kind:
            ids, vecs = self.stored_vectors()
            self.cpu = self.new_faiss(want)
            if len(ids):
                self.cpu.add_with_ids(vecs, ids)
        else:
            self._reconcile()
        self.save()
        self._to_gpu()

    def _indexed_ids(self) -> list[int]:
        if self.cpu is None or self.cpu.ntotal == 0:
            return []
        return faiss.vector_to_array(self.cpu.id_map).tolist()

    def _store(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        arr = pa.FixedSizeListArray.from_arrays(pa.array(vecs.astype(np.float32).ravel()), vecs.shape[1])
        space = self.embedder.space
        tbl = pa.table({"doc_id": pa.array(ids), "model": pa.array([space] * len(ids)), "vector": arr})
        if self.space is None:
            self.ws.con.execute("INSERT OR REPLACE INTO meta VALUES ('embedder_space', ?)", [space])
            self._space = space
        self.ws.con.register("_vecs", tbl)
        try:
            self.ws.con.execute("INSERT OR REPLACE INTO embeddings SELECT doc_id, model, vector FROM _vecs")
        finally:
            self.ws.con.unregister("_vecs")

    def save(self) -> None:
        """Write to a temp file, fsync it, rename over the old one, fsync the folder: a crash leaves old or new."""
        tmp = self.path.with_suffix(".faiss.tmp")
        faiss.write_index(self.cpu, str(tmp))
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    # -- searching -----------------------------------------------------------------

    def candidates(self, kind=None, product_id=None, customer_id=None, since=None, until=None) -> np.ndarray | None:
        """Doc ids that pass the filters, or None when there are no filters."""
        conds, params = [], []
        for col, val in (("kind", kind), ("product_id", product_id), ("customer_id", customer_id)):
            if val is not None:
                vals = [val] if isinstance(val, str) else list(val)
                conds.append(f"{col} IN ({', '.join('?' * len(vals))})")
                params += vals
        if since is not None:
            conds.append("created_at >= ?")
            params.append(_as_dt(since))
        if until is not None:
            conds.append("created_at < ?")
            params.append(_as_dt(until))
        if not conds:
            return None
        rows = self.ws.con.execute(f"SELECT doc_id FROM documents WHERE {' AND '.join(conds)}", params).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def search_vectors(self, q: np.ndarray, k: int, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Raw FAISS search: (scores, doc_ids) arrays of shape [nq, k]; -1 ids pad."""
        q = np.ascontiguousarray(q, dtype=np.float32).reshape(-1, self.dim)
        if self.cpu is None or self.cpu.ntotal == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if ids is None:
            index = self.gpu if self.gpu is not None else self.cpu
            if self.kind == "hnsw":
                faiss.downcast_index(self.cpu.index).hnsw.efSearch = max(self.settings.hnsw_ef_search, k)
            return index.search(q, k)
        if len(ids) == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if self.kind == "hnsw" and len(ids) <= _EXACT_FALLBACK:
            ids_s, vecs = self.stored_vectors(ids=ids)
            scores = q @ vecs.T
            top = np.argsort(-scores, axis=1)[:, :k]
            return np.take_along_axis(scores, top, 1), ids_s[top]
        sel = faiss.IDSelectorBatch(ids)
        params = (
            faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.settings.hnsw_ef_search, k))
            if self.kind == "hnsw"
            else faiss.SearchParameters(sel=sel)
        )
        return self.cpu.search(q, k, params=params)

    def search(self, query: str, k: int = 5, **filters) -> list[Hit]:
        """Top-k documents for a text query, best first, after filters."""
        self._check_space()
        q = self.embedder.encode_queries([query])
        scores, ids = self.search_vectors(q, k, self.candidates(**filters))
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        if not pairs:
            return []
        rows = self.ws.query(
            "SELECT doc_id, kind, ref_id, product_id, customer_id, created_at, text FROM documents "
            f"WHERE doc_id IN ({', '.join('?' * len(pairs))})",
            [i for i, _ in pairs],
        )
        by_id = {r["doc_id"]: r for r in rows}
        return [Hit(score=s, **by_id[i]) for i, s in pairs if i in by_id]


def _as_dt(v) -> datetime:
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    return datetime.fromisoformat(str(v))
