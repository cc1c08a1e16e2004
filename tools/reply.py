"""Reply drafts: the facts of a case and the tone policy, for the generator to write a reply from.

This tool gathers what is *confirmed*: the review or post itself, the product
(name, rating, review count), the author's orders when the data links them,
and the shop's tone policy (``tools/prompts/tone.md``). The agent's answer
step then drafts with the ``reply`` prompt, and the grounding check refuses
any number or promise (refund, replacement, discount, delivery date...) that
these facts do not contain. So a draft never promises what no tool confirmed.

    >>> gather_case(ws, "review", "wcr-3")["product"]["name"]       # doctest: +SKIP
    'Dresses #1077'

What it leaves out: sending the reply (a person reviews and posts it).
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

from pydantic import BaseModel, Field

from .base import Id, MaybeId, ToolContext, ToolError, ToolResult, tool

__all__ = ["gather_case", "tone_policy", "draft_reply"]


def tone_policy() -> str:
    return resources.files("tools").joinpath("prompts", "tone.md").read_text().strip()


def gather_case(ws, kind: str, ref_id: str, order_id: str | None = None) -> dict:
    table, key = {"review": ("reviews", "review_id"), "post": ("posts", "post_id")}[kind]
    rows = ws.query(f"SELECT * FROM {table} WHERE {key} = ?", [ref_id])
    if not rows:
        raise ToolError(f"no {kind} with id {ref_id!r}")
    item = rows[0]
    case: dict = {
        "kind": kind,
        "id": ref_id,
        "text": item["text"],
        "title": item.get("title"),
        "rating": item.get("rating"),
        "author": item.get("author") or item.get("customer_id"),
    }
    pid = item.get("product_id")
    if pid:
        p = ws.query(
            "SELECT p.product_id, p.name, p.category, count(r.review_id) AS reviews, round(avg(r.rating), 2) AS avg_rating "
            "FROM products p LEFT JOIN reviews r USING (product_id) WHERE p.product_id = ? "
            "GROUP BY ALL",
            [pid],
        )
        case["product"] = p[0] if p else {"product_id": pid}
    cust = item.get("customer_id")
    if order_id or cust:
        where, params = ("order_id = ?", [order_id]) if order_id else ("customer_id = ?", [cust])
        case["orders"] = ws.query(
            f"SELECT order_id, order_date, total, status FROM orders WHERE {where} ORDER BY order_date DESC LIMIT 3", params
        )
        if order_id and not case["orders"]:
            raise ToolError(f"no order with id {order_id!r}")
    return case


class ReplyArgs(BaseModel):
    kind: Literal["review", "post"] = Field("review", description="Reply to a review or to a social media post.")
    id: Id = Field(..., min_length=1, max_length=64, description="The review id or post id to reply to.")
    order_id: MaybeId = Field(None, max_length=64, description="The order the case is about, only if the user named one.")


@tool(
    "draft_reply",
    "Draft a reply to a customer's review or a social media post, grounded in the facts of the case "
    "(product, order) and the shop's tone policy.",
    examples=[
        "draft a reply to review wcr-12",
        "write a response to the post 1234567890",
        "help me answer this customer's review wcr-500",
        "reply to review wcr-3 about order 42-19970101-1",
    ],
    answer_prompt="reply",
    no_promises=True,
)
def draft_reply(ctx: ToolContext, args: ReplyArgs) -> ToolResult:
    case = gather_case(ctx.ws, args.kind, args.id, args.order_id)
    lines = [
        f"The {args.kind} {args.id}"
        + (f" ({case['rating']} of 5 stars)" if case.get("rating") else "")
        + (f" by {case['author']}" if case.get("author") else "")
        + ":",
        f"<quoted>{str(case['title']) + '. ' if case.get('title') else ''}{case['text'][:1500]}</quoted>",
    ]
    if case.get("product"):
        p = case["product"]
        lines.append(
            f"Product {p['product_id']}: {p.get('name')}"
            + (f", {p['reviews']} reviews averaging {p['avg_rating']} of 5" if p.get("reviews") else "")
            + "."
        )
    for o in case.get("orders") or []:
        lines.append(f"Order {o['order_id']} of {o['order_date']}: ${o['total']:,.2f}, status {o['status']}.")
    if not case.get("orders"):
        lines.append("No order is linked to this case: nothing about an order, refund or delivery is confirmed.")
    lines.append("Confirmed actions: none. Do not offer refunds, replacements, discounts or dates.")
    lines.append(f"Tone policy:\n{tone_policy()}")
    return ToolResult(data=case, summary="\n".join(lines))
