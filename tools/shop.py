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
    ws, t = ctx.ws, _TEXT[ctx.lang if ctx.lang in _TEXT else "en"]
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
        return ToolResult(data=data, summary=_product(p, st, r, t))

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
        lines = [t["orders_head"].format(id=args.id, n=st["orders"], total=_money(st["total_spent"] or 0))]
        lines += [
            t["order"].format(
                date=o["order_date"], id=o["order_id"], n=o["n_items"], total=_money(o["total"]), status=o["status"]
            )
            for o in orders
        ]
        if st["orders"] > len(orders):
            lines.append(t["showing"].format(shown=len(orders), n=st["orders"]))
        return ToolResult(data=data, summary="\n".join(lines))
    summary = (
        t["customer"].format(
            id=args.id,
            n=st["orders"],
            items=st["items"],
            total=_money(st["total_spent"] or 0),
            avg=_money(st["avg_order"] or 0),
            first=st["first_order"],
            last=st["last_order"],
        )
        if st["orders"]
        else t["no_orders"].format(id=args.id)
    )
    return ToolResult(data=data, summary=summary)


#: the look-ups' sentences per language, filled from the same figures
_TEXT = {
    "en": {
        "product": "Product {id}: {name}",
        "category": "category {category}",
        "department": ", department {department}",
        "price": "price {price}",
        "reviews": "{n} reviews, average rating {avg} of 5, {pct}% recommend it",
        "ratings": "{n} user ratings averaging {avg}",
        "sep": "; ",
        "end": ".",
        "orders_head": "Customer {id} placed {n} orders totalling {total}. Most recent first:",
        "order": "- {date:%Y-%m-%d}: order {id}, {n} items, {total} ({status})",
        "showing": "(showing {shown} of {n})",
        "customer": "Customer {id} placed {n} orders ({items} items) totalling {total}, average {avg} per order; "
        "first order {first:%Y-%m-%d}, last order {last:%Y-%m-%d}.",
        "no_orders": "Customer {id} has no orders.",
    },
    "zh": {
        "product": "商品 {id}：{name}",
        "category": "类别 {category}",
        "department": "，部门 {department}",
        "price": "价格 {price}",
        "reviews": "{n} 条评论，平均 {avg} 分（满分 5），{pct}% 推荐",
        "ratings": "{n} 条用户评分，平均 {avg}",
        "sep": "；",
        "end": "。",
        "orders_head": "客户 {id} 共下了 {n} 笔订单，合计 {total}。最近的在前：",
        "order": "- {date:%Y-%m-%d}：订单 {id}，{n} 件，{total}（{status}）",
        "showing": "（显示 {n} 笔中的 {shown} 笔）",
        "customer": "客户 {id} 共下了 {n} 笔订单（{items} 件），合计 {total}，平均每笔 {avg}；"
        "首次下单 {first:%Y-%m-%d}，最近一次 {last:%Y-%m-%d}。",
        "no_orders": "客户 {id} 没有订单。",
    },
}


def _product(p: dict, st: dict, r: dict, t: dict) -> str:
    parts = [t["product"].format(id=p["product_id"], name=p["name"])]
    if p.get("category"):
        dept = t["department"].format(department=p["department"]) if p.get("department") else ""
        parts.append(t["category"].format(category=p["category"]) + dept)
    if p.get("price") is not None:
        parts.append(t["price"].format(price=_money(p["price"])))
    if st["reviews"]:
        parts.append(t["reviews"].format(n=st["reviews"], avg=st["avg_rating"], pct=st["pct_recommended"]))
    if r["ratings"]:
        parts.append(t["ratings"].format(n=r["ratings"], avg=r["avg"]))
    return t["sep"].join(parts) + t["end"]
