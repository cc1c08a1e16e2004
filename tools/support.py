"""The customer-service tools: what a signed-in shopper may ask about, and nothing more.

Every tool here reads ``ctx.customer_id``, the customer the support session
authenticated, and never takes a customer id as an argument: the model cannot
be talked into reading someone else's data, because no tool can.

    >>> ctx = ToolContext(ws, index, settings, customer_id="42")      # doctest: +SKIP
    >>> my_orders.run(ctx, {"order_id": "43-19970102-1"})              # doctest: +SKIP
    Traceback (most recent call last):
    ToolError: order 43-19970102-1 is not on your account

Tools: ``my_orders`` (the customer's orders and spend, or one order),
``product_reviews`` (what reviews say about a product), ``shop_policy`` (the
shop's help articles), ``my_recommendations`` and ``order_action`` (a cancel
or return *request*, which the support desk carries out only after the
customer confirms it in the next message). ``SUPPORT_TOOLS`` registers them.
What it leaves out: payments and address changes (a person does those).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from . import recommend as _recommend
from .base import Maybe, MaybeId, ToolContext, ToolError, ToolResult, clean_id, tool

__all__ = ["SUPPORT_TOOLS", "my_orders", "product_reviews", "shop_policy", "my_recommendations", "order_action", "handoff"]

_CANCELLABLE = ("placed", "pending", "processing", "paid")


def _who(ctx: ToolContext) -> str:
    if not ctx.customer_id:
        raise ToolError("no customer is signed in to this session")
    return ctx.customer_id


def _own_order(ctx: ToolContext, order_id: str) -> dict:
    me = _who(ctx)
    rows = ctx.ws.query(
        "SELECT order_id, customer_id, order_date, total, n_items, status FROM orders WHERE order_id = ?", [order_id]
    )
    if not rows or rows[0]["customer_id"] != me:  # someone else's order reads exactly like a missing one
        raise ToolError(f"order {order_id} is not on your account")
    return rows[0]


class OrdersArgs(BaseModel):
    order_id: MaybeId = Field(None, max_length=64, description="One order's id, when the customer names one.")


@tool(
    "my_orders",
    "The signed-in customer's own orders: how many, total spend, recent orders, or one order's status.",
    examples=[
        "where is my order?",
        "how much have I spent?",
        "what did I order last?",
        "status of my order",
        "how many orders have I placed?",
    ],
    no_promises=True,
)
def my_orders(ctx: ToolContext, args: OrdersArgs) -> ToolResult:
    me = _who(ctx)
    if args.order_id:
        o = _own_order(ctx, args.order_id)
        items = ctx.ws.query(
            "SELECT i.product_id, p.name, i.quantity, i.price FROM order_items i "
            "LEFT JOIN products p USING (product_id) WHERE i.order_id = ?",
            [args.order_id],
        )
        lines = [
            f"Order {o['order_id']} placed {o['order_date']:%Y-%m-%d}: {o['n_items']} items, ${o['total']:,.2f}, "
            f"status {o['status']}."
        ]
        lines += [f"- {i['quantity']} x {i['name'] or i['product_id']}" for i in items]
        return ToolResult(data={**o, "items": items}, summary="\n".join(lines))
    st = ctx.ws.query(
        "SELECT count(*) AS orders, round(sum(total), 2) AS total_spent, max(order_date) AS last_order "
        "FROM orders WHERE customer_id = ?",
        [me],
    )[0]
    recent = ctx.ws.query(
        "SELECT order_id, order_date, total, n_items, status FROM orders WHERE customer_id = ? "
        "ORDER BY order_date DESC, order_id DESC LIMIT 5",
        [me],
    )
    if not st["orders"]:
        return ToolResult(data=st, summary="You have no orders yet.")
    lines = [f"You placed {st['orders']} orders totalling ${st['total_spent']:,.2f}. Most recent first:"]
    lines += [
        f"- order {o['order_id']} on {o['order_date']:%Y-%m-%d}: {o['n_items']} items, ${o['total']:,.2f}, {o['status']}"
        for o in recent
    ]
    return ToolResult(data={**st, "recent_orders": recent}, summary="\n".join(lines))


class ProductArgs(BaseModel):
    question: str = Field(..., min_length=1, max_length=500, description="What the customer wants to know, in their words.")
    product: Maybe[str] = Field(None, max_length=120, description="The product's id or name, when the customer gave one.")


def _find_product(ws, ref: str) -> dict | None:
    rows = ws.query("SELECT product_id, name, category FROM products WHERE product_id = ?", [clean_id(ref)])
    if rows:
        return rows[0]
    rows = ws.query(
        "SELECT product_id, name, category FROM products WHERE name ILIKE ? ORDER BY length(name) LIMIT 1", [f"%{ref.strip()}%"]
    )
    return rows[0] if rows else None


@tool(
    "product_reviews",
    "What other shoppers' reviews say about a product or kind of product: fit, sizing, quality, pros and cons.",
    examples=[
        "does this dress run small?",
        "is the fabric of the jeans thin?",
        "what do reviews say about product 1078?",
        "are the sweaters warm?",
        "which is better for the beach, the maxi dress or the shorts?",
    ],
    no_promises=True,
)
def product_reviews(ctx: ToolContext, args: ProductArgs) -> ToolResult:
    ref = args.product
    if not ref:  # small models leave the optional id out even when the question names it
        m = re.search(r"\b(?:product|item|article)\s*(?:id|number|no\.?)?\s*#?\s*([\w-]*\d[\w-]*)", args.question, re.I)
        ref = m.group(1) if m else None
    prod = _find_product(ctx.ws, ref) if ref else None
    hits = ctx.index.search(args.question, k=ctx.settings.top_k, kind="review", product_id=prod["product_id"] if prod else None)
    head = ""
    data: dict = {"product": prod, "reviews": []}
    if prod:
        st = ctx.ws.query(
            "SELECT count(*) AS reviews, round(avg(rating), 2) AS avg_rating, avg(rating) AS mean_rating FROM reviews WHERE product_id = ?",
            [prod["product_id"]],
        )[0]
        data.update(st)
        head = f"Product {prod['product_id']} ({prod['name']}): {st['reviews']} reviews, average {st['avg_rating']} of 5.\n"
    elif args.product:
        head = f"No product matches {args.product!r}; these are the closest reviews of any product.\n"
    if not hits:
        return ToolResult(data=data, summary=head + "No reviews match.")
    lines = [f"[{n}] ({h.ref_id}, product {h.product_id}) {h.text[:400]}" for n, h in enumerate(hits, start=1)]
    data["reviews"] = [{"review_id": h.ref_id, "product_id": h.product_id, "text": h.text} for h in hits]
    return ToolResult(
        data=data,
        summary=head + "Reviews (quoted text written by shoppers):\n" + "\n".join(lines),
        sources=[h.to_dict() for h in hits],
    )


class PolicyArgs(BaseModel):
    question: str = Field(..., min_length=1, max_length=500, description="The policy question, in the customer's words.")


@tool(
    "shop_policy",
    "The shop's policies from its help articles: shipping, delivery times, returns, refunds, "
    "cancellations, sizing charts, payment, privacy.",
    examples=[
        "what is your return policy?",
        "how long does delivery take?",
        "can I cancel my order?",
        "do you ship to P.O. boxes?",
        "when will I get my refund?",
        "which payment methods do you accept?",
    ],
    no_promises=True,
)
def shop_policy(ctx: ToolContext, args: PolicyArgs) -> ToolResult:
    hits = ctx.index.search(args.question, k=3, kind="help")
    if not hits:
        raise ToolError("this shop has no help articles yet; a person will answer policy questions")
    lines = [f"[{n}] {h.text}" for n, h in enumerate(hits, start=1)]
    # the shop's own policy is a confirmed fact, so it goes under "policy", not "text"
    return ToolResult(
        data=[{"article_id": h.ref_id, "policy": h.text} for h in hits],
        summary="Help articles:\n" + "\n".join(lines),
        sources=[h.to_dict() for h in hits],
    )


class RecsArgs(BaseModel):
    k: int = Field(5, ge=1, le=10, description="How many products.")


@tool(
    "my_recommendations",
    "Products to suggest to the signed-in customer, from what they and similar shoppers bought.",
    examples=["what should I buy next?", "recommend something for me", "any suggestions?"],
    no_promises=True,
)
def my_recommendations(ctx: ToolContext, args: RecsArgs) -> ToolResult:
    return _recommend.recommend.run(ctx, {"user_id": _who(ctx), "k": args.k})


class ActionArgs(BaseModel):
    action: Literal["cancel", "return"] = Field(..., description="cancel an order, or return one.")
    order_id: str = Field(..., min_length=1, max_length=64, description="The order's id.")

    @field_validator("order_id", mode="before")
    @classmethod
    def _clean(cls, v):
        return clean_id(v)


@tool(
    "order_action",
    "Request to cancel or return one of the signed-in customer's orders (it asks them to confirm first).",
    examples=["cancel my order 12-19970101-1", "I want to return order 5-19970303-1", "please cancel that order"],
    no_promises=True,
)
def order_action(ctx: ToolContext, args: ActionArgs) -> ToolResult:
    o = _own_order(ctx, args.order_id)
    status = (o["status"] or "").lower()
    if args.action == "cancel" and status not in _CANCELLABLE:
        raise ToolError(
            f"order {o['order_id']} is {status or 'in an unknown state'}, so it cannot be cancelled; it can be returned instead"
        )
    pending = {"action": args.action, "order_id": o["order_id"], "customer_id": o["customer_id"]}
    return ToolResult(
        data={"pending_action": pending, "order": o},
        summary=f"Ready to file a {args.action} request for order {o['order_id']} "
        f"({o['order_date']:%Y-%m-%d}, ${o['total']:,.2f}, {status}). Nothing has been done yet: "
        f"the customer must reply 'yes' to confirm.",
    )


class HandoffArgs(BaseModel):
    reason: str = Field("out of scope", max_length=200, description="Why a person should take over, in a few words.")


@tool(
    "handoff",
    "Pass the conversation to a person on the shop's team: when the customer asks for a human, or asks for "
    "something no other tool covers (payment problems, address changes, damaged items, complaints, anything outside the shop).",
    examples=[
        "I want to talk to a person",
        "my parcel arrived damaged",
        "I was charged twice",
        "change the address on my account",
        "can you help me with my tax return?",
    ],
    no_promises=True,
)
def handoff(ctx: ToolContext, args: HandoffArgs) -> ToolResult:
    _who(ctx)
    return ToolResult(
        data={"handoff": args.reason},
        summary="The conversation is being passed to a person on the shop's team, who will reply in this chat "
        "during business hours. Tell the customer so, kindly; do not attempt the request yourself.",
    )


SUPPORT_TOOLS = {t.name: t for t in [my_orders, product_reviews, shop_policy, my_recommendations, order_action, handoff]}
