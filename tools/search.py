"""Corpus search: the passages (reviews, posts, product texts) nearest a query.

Results are the agent's citable sources, numbered [1], [2], ... in the answer.
What it leaves out: keyword search and re-ranking (see retrieval/index.py).
"""

from __future__ import annotations

from pydantic import Field

from .base import ToolContext, ToolResult, tool
from .slices import KIND_ZH, SliceArgs


class SearchArgs(SliceArgs):
    """A slice of the corpus (tools/slices.py) with the query required."""

    query: str = Field(..., min_length=1, max_length=500, description="What to look for, in the user's words.")


@tool(
    "search_corpus",
    "Find customer reviews, social media posts or product texts about a subject; use for opinions, complaints, "
    "what people say or think, quotes and examples.",
    examples=[
        "what do people say about the fabric quality?",
        "find reviews mentioning the zipper breaking",
        "show me tweets about the economy",
        "are there complaints about shipping?",
        "what do customers think of the jeans fit?",
        "posts that mention China",
    ],
)
def search_corpus(ctx: ToolContext, args: SearchArgs) -> ToolResult:
    hits = ctx.index.search(
        args.query,
        k=ctx.settings.top_k,
        kind=None if args.kind == "any" else args.kind,
        product_id=args.product_id,
        since=args.since,
        until=args.until,
    )
    sources = [h.to_dict() for h in hits]
    if not hits:
        kind = args.kind if args.kind != "any" else ""
        none = (
            f"没有与“{args.query}”相符的{KIND_ZH.get(args.kind, '文档')}。"
            if ctx.lang == "zh"
            else f"No {kind} documents match {args.query!r}."
        )
        return ToolResult(data=[], summary=none, sources=[])
    lines = []
    for n, h in enumerate(hits, start=1):
        extra = f", product {h.product_id}" if h.product_id and h.kind == "review" else ""
        when = f", {h.created_at:%Y-%m-%d}" if h.created_at else ""
        lines.append(f"[{n}] ({h.kind}{extra}{when}) {h.text[:400]}")
    return ToolResult(data=sources, summary="\n".join(lines), sources=sources)
