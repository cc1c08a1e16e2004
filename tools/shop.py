"""Shop look-ups: one product, one customer, or a customer's orders.

Every figure in the summary is computed here in SQL, so the answer can quote
it and the grounding check can find it.
What it leaves out: writes (cancel, return): they belong to the support bot.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from .base import ToolContext, ToolError, ToolResult, clean_id, tool


class LookupArgs(BaseModel):
    entity: Literal["customer", "orders", "product"] = Field(
        ...,
        description="customer: profile, order count and total spend; orders: the customer's order list; product: details and review stats.",
    )
    id: str = Field(..., min_length=1, max_length=64, description="The customer id or product id, e.g. 42.")

    @field_validator("id", mode="before")
    @classmethod
    def _id_str(cls, v):
        return clean_id(v)


def _money(x) -> str:
    return f"${x:,.2f}"


@tool(
    "shop_lookup",
    "Look up one customer (order count, total spend, first and last order), one customer's orders, "
    "or one product (category, rating, review count) by id.",
    examples=[
        "how many orders has customer 7 placed?",
        "how much did customer 1234 spend?",
        "show the orders of customer 99",
        "when was customer 5's last purchase?",
        "tell me about product 1078",
        "what is the average rating of item 862?",
    ],
)
def shop_lookup(ctx: ToolContext, args: LookupArgs) -> ToolResult:
    ws = ctx.ws
    if args.entity == "product":
        rows = ws.query("SELECT * FROM products WHERE product_id = ?", [args.id])
        if not rows:
            raise ToolError(f"no product with id {args.id!r}")
        p = rows[0]
        st = ws.query(
            "SELECT count(*) AS reviews, round(avg(rating), 2) AS avg_rating, "
            "round(100.0 * avg(CASE WHEN recommended THEN 1 ELSE 0 END), 1) AS pct_recommended "
            "FROM reviews WHERE product_id = ?",
            [args.id],
        )[0]
        r = ws.query("SELECT count(*) AS ratings, round(avg(rating), 2) AS avg FROM ratings WHERE item_id = ?", [args.id])[0]
        data = {**p, **st, "ratings": r["ratings"], "avg_user_rating": r["avg"]}
        if ctx.lang == "zh":
            return ToolResult(data=data, summary=_product_zh(p, st, r))
        parts = [f"Product {p['product_id']}: {p['name']}"]
        if p.get("category"):
            parts.append(f"category {p['category']}" + (f", department {p['department']}" if p.get("department") else ""))
        if p.get("price") is not None:
            parts.append(f"price {_money(p['price'])}")
        if st["reviews"]:
            parts.append(
                f"{st['reviews']} reviews, average rating {st['avg_rating']} of 5, {st['pct_recommended']}% recommend it"
            )
        if r["ratings"]:
            parts.append(f"{r['ratings']} user ratings averaging {r['avg']}")
        return ToolResult(data=data, summary="; ".join(parts) + ".")

    cust = ws.query("SELECT * FROM customers WHERE customer_id = ?", [args.id])
    st = ws.query(
        "SELECT count(*) AS orders, round(sum(total), 2) AS total_spent, sum(n_items) AS items, "
        "min(order_date) AS first_order, max(order_date) AS last_order, round(avg(total), 2) AS avg_order "
        "FROM orders WHERE customer_id = ?",
        [args.id],
    )[0]
    if not cust and not st["orders"]:
        raise ToolError(f"no customer with id {args.id!r}")
    data = {**(cust[0] if cust else {"customer_id": args.id}), **st}
    if args.entity == "orders":
        orders = ws.query(
            "SELECT order_id, order_date, total, n_items, status FROM orders WHERE customer_id = ? "
            "ORDER BY order_date DESC, order_id LIMIT 20",
            [args.id],
        )
        data["recent_orders"] = orders
        if ctx.lang == "zh":
            return ToolResult(data=data, summary=_orders_zh(args.id, st, orders))
        lines = [
            f"Customer {args.id} placed {st['orders']} orders totalling {_money(st['total_spent'] or 0)}. Most recent first:"
        ]
        lines += [
            f"- {o['order_date']:%Y-%m-%d}: order {o['order_id']}, {o['n_items']} items, {_money(o['total'])} ({o['status']})"
            for o in orders
        ]
        if st["orders"] > len(orders):
            lines.append(f"(showing {len(orders)} of {st['orders']})")
        return ToolResult(data=data, summary="\n".join(lines))
    if ctx.lang == "zh":
        return ToolResult(data=data, summary=_customer_zh(args.id, st))
    summary = (
        f"Customer {args.id} placed {st['orders']} orders ({st['items']} items) totalling {_money(st['total_spent'] or 0)}, "
        f"average {_money(st['avg_order'] or 0)} per order; first order {st['first_order']:%Y-%m-%d}, last order {st['last_order']:%Y-%m-%d}."
        if st["orders"]
        else f"Customer {args.id} has no orders."
    )
    return ToolResult(data=data, summary=summary)


def _product_zh(p: dict, st: dict, r: dict) -> str:
    parts = [f"商品 {p['product_id']}：{p['name']}"]
    if p.get("category"):
        parts.append(f"类别 {p['category']}" + (f"，部门 {p['department']}" if p.get("department") else ""))
    if p.get("price") is not None:
        parts.append(f"价格 {_money(p['price'])}")
    if st["reviews"]:
        parts.append(f"{st['reviews']} 条评论，平均 {st['avg_rating']} 分（满分 5），{st['pct_recommended']}% 推荐")
    if r["ratings"]:
        parts.append(f"{r['ratings']} 条用户评分，平均 {r['avg']}")
    return "；".join(parts) + "。"


def _orders_zh(cid: str, st: dict, orders: list[dict]) -> str:
    lines = [f"客户 {cid} 共下了 {st['orders']} 笔订单，合计 {_money(st['total_spent'] or 0)}。最近的在前："]
    lines += [
        f"- {o['order_date']:%Y-%m-%d}：订单 {o['order_id']}，{o['n_items']} 件，{_money(o['total'])}（{o['status']}）"
        for o in orders
    ]
    if st["orders"] > len(orders):
        lines.append(f"（显示 {st['orders']} 笔中的 {len(orders)} 笔）")
    return "\n".join(lines)


def _customer_zh(cid: str, st: dict) -> str:
    if not st["orders"]:
        return f"客户 {cid} 没有订单。"
    return (
        f"客户 {cid} 共下了 {st['orders']} 笔订单（{st['items']} 件），合计 {_money(st['total_spent'] or 0)}，"
        f"平均每笔 {_money(st['avg_order'] or 0)}；首次下单 {st['first_order']:%Y-%m-%d}，最近一次 {st['last_order']:%Y-%m-%d}。"
    )
