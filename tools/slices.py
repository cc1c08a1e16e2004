"""A slice of the corpus: which documents an analytics tool looks at.

Sentiment, topics, entities and alerts all take the same filters: a
semantic ``query`` ("dresses"), a document ``kind``, a ``product_id`` and a
date range. :class:`SliceArgs` is those fields (tools subclass it) and
:func:`slice_doc_ids` turns them into document ids.

    >>> ids = slice_doc_ids(ctx, SliceArgs(query="dress sizing", kind="review"))   # doctest: +SKIP

A query keeps the documents nearest to it (at most ``QUERY_POOL``, and only
those with cosine similarity ≥ ``QUERY_MIN_SIM``), so "dresses" means
documents about dresses, not every document.
What it leaves out: boolean keyword filters (the SQL tool does those).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from .base import Maybe, ToolContext

__all__ = ["SliceArgs", "slice_doc_ids", "doc_source", "KIND_ZH", "QUERY_POOL", "QUERY_MIN_SIM"]

QUERY_POOL = 1000
QUERY_MIN_SIM = 0.3


class SliceArgs(BaseModel):
    query: Maybe[str] = Field(
        None, max_length=300, description="Subject to focus on, e.g. 'dresses' or 'the economy'; omit for everything."
    )
    kind: Literal["any", "review", "post", "product"] = Field("any", description="review, post (social media) or any.")
    product_id: Maybe[str] = Field(None, max_length=64, description="Only documents about this product id.")
    since: Maybe[date] = Field(None, description="Start date YYYY-MM-DD, only if the user gave one.")
    until: Maybe[date] = Field(None, description="End date YYYY-MM-DD (exclusive), only if the user gave one.")

    @model_validator(mode="after")
    def _empty_range_is_no_range(self):
        if self.since and self.until and self.since >= self.until:
            self.since = self.until = None
        return self

    def describe(self, lang: str = "en") -> str:
        """The slice in words: ``reviews about 'fit' from 2024-01-01``, or in Chinese ``2024-01-01 以来关于“fit”的评论``."""
        if lang == "zh":
            when = ""
            if self.since:
                when = f"{self.since} 至 {self.until} " if self.until else f"{self.since} 以来"
            elif self.until:
                when = f"{self.until} 之前"
            on = f"商品 {self.product_id} 的" if self.product_id else ""
            about = f"关于“{self.query}”的" if self.query else ""
            return f"{when}{on}{about}{KIND_ZH.get(self.kind, '文档')}"
        parts = [f"{self.kind}s" if self.kind != "any" else "documents"]
        if self.query:
            parts.append(f"about {self.query!r}")
        if self.product_id:
            parts.append(f"on product {self.product_id}")
        if self.since:
            parts.append(f"from {self.since}")
        if self.until:
            parts.append(f"before {self.until}")
        return " ".join(parts)


#: a document kind in Chinese summaries
KIND_ZH = {"review": "评论", "post": "帖子", "product": "商品", "help": "帮助文章", "any": "文档"}


def slice_doc_ids(ctx: ToolContext, args: SliceArgs, pool: int = QUERY_POOL) -> np.ndarray:
    """Doc ids in the slice; all documents matching the filters when there is no query."""
    # "any" means what people wrote and what the shop sells; the shop's help articles are not opinions
    filters = dict(
        kind=("post", "review", "product") if args.kind == "any" else args.kind,
        product_id=args.product_id,
        since=args.since,
        until=args.until,
    )
    cand = ctx.index.candidates(**filters)
    if not args.query:
        if cand is None:
            return np.array([r[0] for r in ctx.ws.con.execute("SELECT doc_id FROM documents").fetchall()], np.int64)
        return cand
    q = ctx.index.embedder.encode_queries([args.query])
    scores, ids = ctx.index.search_vectors(q, pool, cand)
    keep = (ids[0] >= 0) & (scores[0] >= QUERY_MIN_SIM)
    return ids[0][keep].astype(np.int64)


def doc_source(row) -> dict:
    """A documents row (dict or pandas row) as a citable source, the shape search hits have."""
    import pandas as pd

    when = row.get("created_at")
    return {
        "doc_id": int(row["doc_id"]),
        "score": None,
        "kind": row["kind"],
        "ref_id": row["ref_id"],
        "product_id": row.get("product_id"),
        "customer_id": row.get("customer_id"),
        "created_at": None if when is None or pd.isna(when) else pd.Timestamp(when).isoformat(),
        "text": row["text"],
    }
