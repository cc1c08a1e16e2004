"""Customer portraits: RFM segment, activity over time, interests, and a trained churn model.

RFM scores are quintiles (1-5) of recency, frequency and monetary value over
all customers with orders, relative to the workspace's last order date; the
segment names follow the usual RFM grid (Champions, Loyal, At risk, ...).

Churn risk is a model Pulse fits on the workspace (logistic regression on
recency, frequency, monetary value, tenure and mean gap between orders):
features are taken at a cutoff ``HORIZON_DAYS`` before the last order date,
the label is "no order after the cutoff". AUC is measured on held-out customers
beside a recency-only ranking. Served features are taken at the last date, so
``churn_risk`` is the probability of no order in the next ``HORIZON_DAYS``.

    >>> portrait(ws, "42")["segment"]        # doctest: +SKIP
    'Hibernating'

Users known only from ratings (MovieLens ``ml-*``) get activity and interests
(genres rated) but no RFM or churn: they have no orders.
What it leaves out: CLV in money (BG/NBD + Gamma-Gamma), cohort tables.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator

from workspace.artifacts import ArtifactMissing, load_artifact, save_artifact, stable_split

from .base import ToolContext, ToolError, ToolResult, clean_id, tool

__all__ = ["rfm_table", "portrait", "train_churn", "customer_profile", "HORIZON_DAYS"]

HORIZON_DAYS = 90
_FEATURES = ["recency", "frequency", "monetary", "tenure", "mean_gap"]


def _features(ws, at: str | None = None) -> pd.DataFrame:
    """One row per customer with orders before ``at`` (default: after the last order date)."""
    cond = "WHERE order_date < CAST(? AS DATE)" if at else ""
    ref = "CAST(? AS DATE)" if at else "(SELECT max(order_date) + 1 FROM orders)"
    params = [at, at, at] if at else []
    return ws.con.sql(
        f"""SELECT customer_id, date_diff('day', max(order_date), {ref}) AS recency, count(*) AS frequency,
                   sum(total) AS monetary, date_diff('day', min(order_date), {ref}) AS tenure,
                   CASE WHEN count(*) > 1 THEN date_diff('day', min(order_date), max(order_date)) / (count(*) - 1)
                        ELSE NULL END AS mean_gap
            FROM orders {cond} GROUP BY customer_id""",
        params=params,
    ).df()


_SEGMENTS = [  # (name, test on R and F scores), first match wins
    ("Champions", lambda r, f: r >= 4 and f >= 4),
    ("Loyal", lambda r, f: r >= 3 and f >= 4),
    ("New", lambda r, f: r >= 5 and f <= 1),
    ("Potential loyalist", lambda r, f: r >= 4 and f >= 2),
    ("At risk", lambda r, f: r <= 2 and f >= 3),
    ("Hibernating", lambda r, f: r <= 2),
    ("Needs attention", lambda r, f: True),
]


def rfm_table(ws) -> pd.DataFrame:
    """RFM scores and segment for every customer with orders."""
    df = _features(ws)
    if df.empty:
        raise ToolError("no orders in this workspace: RFM needs order history")
    rank = lambda s: np.ceil(5 * s.rank(method="average", pct=True)).clip(1, 5).astype(int)  # noqa: E731
    df["R"] = 6 - rank(df["recency"])  # recent = high
    df["F"] = rank(df["frequency"])
    df["M"] = rank(df["monetary"])
    df["segment"] = [next(n for n, t in _SEGMENTS if t(r, f)) for r, f in zip(df["R"], df["F"])]
    return df


def _xy(df: pd.DataFrame) -> np.ndarray:
    x = df[_FEATURES].copy()
    x["mean_gap"] = x["mean_gap"].fillna(x["tenure"])
    return np.log1p(x.to_numpy(float).clip(min=0))


def train_churn(ws, save: bool = True) -> dict:
    """Fit churn on a past cutoff, evaluate on held-out customers, store; return the card."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    last = ws.query("SELECT max(order_date) AS d FROM orders")[0]["d"]
    if last is None:
        raise ToolError("no orders in this workspace: churn needs order history")
    cutoff = (pd.Timestamp(last) - pd.Timedelta(days=HORIZON_DAYS)).date().isoformat()
    feats = _features(ws, cutoff)
    later = {r[0] for r in ws.con.execute("SELECT DISTINCT customer_id FROM orders WHERE order_date >= ?", [cutoff]).fetchall()}
    y = (~feats["customer_id"].isin(later)).astype(int).to_numpy()
    if len(feats) < 50 or y.min() == y.max():
        raise ToolError("churn needs at least 50 customers with orders, some of whom came back")
    test = (feats["customer_id"].map(lambda c: stable_split(c, 0.8, 0.0)) == "test").to_numpy()
    clf = LogisticRegression(max_iter=1000).fit(_xy(feats[~test]), y[~test])
    p = clf.predict_proba(_xy(feats[test]))[:, 1]
    metrics = {
        "auc": round(float(roc_auc_score(y[test], p)), 4),
        "auc_recency_only": round(float(roc_auc_score(y[test], feats.loc[test, "recency"])), 4),
        "churn_rate": round(float(y.mean()), 4),
        "cutoff": cutoff,
        "horizon_days": HORIZON_DAYS,
        "n_test": int(test.sum()),
    }
    final = LogisticRegression(max_iter=1000).fit(_xy(feats), y)
    card = {"metrics": metrics, "n_train": len(feats)}
    if save:
        card = save_artifact(ws.path, "churn", final, n_train=len(feats), metrics=metrics, features=_FEATURES)
    card["model"] = final
    return card


@lru_cache(maxsize=4)
def _churn_model(ws_path: str, _mtime: float):
    return load_artifact(Path(ws_path), "churn")[0]


def portrait(ws, customer_id: str) -> dict:
    """Everything Pulse knows about one customer or user, JSON-ready."""
    cid = clean_id(customer_id)
    out: dict = {"customer_id": cid}
    rfm = rfm_table(ws) if ws.query("SELECT 1 FROM orders LIMIT 1") else pd.DataFrame(columns=["customer_id"])
    row = rfm[rfm["customer_id"] == cid]
    if len(row):
        r = row.iloc[0]
        out.update(
            orders=int(r["frequency"]),
            total_spent=round(float(r["monetary"]), 2),
            days_since_last_order=int(r["recency"]),
            rfm={"R": int(r["R"]), "F": int(r["F"]), "M": int(r["M"])},
            segment=r["segment"],
            segment_share=round(float((rfm["segment"] == r["segment"]).mean()), 4),
        )
        f = Path(ws.path) / "models" / "churn.joblib"
        try:
            clf = _churn_model(str(ws.path), f.stat().st_mtime if f.is_file() else 0.0)
            out["churn_risk"] = round(float(clf.predict_proba(_xy(row))[0, 1]), 3)
            out["churn_horizon_days"] = HORIZON_DAYS
        except ArtifactMissing:
            out["churn_risk"] = None
        act = ws.con.sql(
            "SELECT strftime(date_trunc('month', order_date), '%Y-%m') AS month, count(*) AS orders, "
            "round(sum(total), 2) AS spent FROM orders WHERE customer_id = ? GROUP BY 1 ORDER BY 1",
            params=[cid],
        ).df()
        out["activity"] = act.to_dict("records")
    rated = ws.con.sql(
        """SELECT coalesce(p.category, 'unknown') AS interest, count(*) AS n, round(avg(r.rating), 2) AS avg_rating
           FROM ratings r LEFT JOIN products p ON p.product_id = r.item_id WHERE r.user_id = ?
           GROUP BY 1 ORDER BY n DESC LIMIT 8""",
        params=[cid],
    ).df()
    bought = ws.con.sql(
        """SELECT coalesce(p.category, 'unknown') AS interest, sum(i.quantity) AS n FROM order_items i
           JOIN orders o USING (order_id) LEFT JOIN products p ON p.product_id = i.product_id
           WHERE o.customer_id = ? GROUP BY 1 ORDER BY n DESC LIMIT 8""",
        params=[cid],
    ).df()
    out["interests"] = {"rated": rated.to_dict("records"), "bought": bought.to_dict("records")}
    if len(rated):
        out["ratings"] = int(rated["n"].sum())
        if "activity" not in out:
            act = ws.con.sql(
                "SELECT strftime(date_trunc('month', rated_at), '%Y-%m') AS month, count(*) AS ratings "
                "FROM ratings WHERE user_id = ? GROUP BY 1 ORDER BY 1",
                params=[cid],
            ).df()
            out["activity"] = act.to_dict("records")
    if len(out) == 2 and not len(rated) and not len(bought):
        raise ToolError(f"no customer or user with id {cid!r} (no orders, no ratings)")
    return out


#: the segments' names in Chinese summaries
SEGMENTS_ZH = {
    "Champions": "冠军客户",
    "Loyal": "忠诚客户",
    "New": "新客户",
    "Potential loyalist": "潜力客户",
    "At risk": "流失风险客户",
    "Hibernating": "沉睡客户",
    "Needs attention": "需关注客户",
}


#: the portrait's sentences per language; :func:`describe` fills them from the same figures
_TEXT = {
    "en": {
        "head": "Customer {id}; ",
        "orders": "{orders} orders, ${spent:,.2f} spent, last order {days} days before the data's end; "
        "RFM {R}-{F}-{M}, segment {segment} ({share:.1f}% of customers)",
        "churn": "churn risk {risk:.0f}% (no order in the next {horizon} days)",
        "rated": "{n} ratings; rates most: {top}",
        "bought": "buys most: {top}",
        "item": "{interest} ({n})",
        "and": ", ",
        "sep": "; ",
        "end": ".",
    },
    "zh": {
        "head": "客户 {id}：",
        "orders": "{orders} 笔订单，消费 ${spent:,.2f}，最后一次下单在数据截止前 {days} 天；"
        "RFM {R}-{F}-{M}，分群：{segment}（占客户的 {share:.1f}%）",
        "churn": "流失风险 {risk:.0f}%（未来 {horizon} 天内不再下单）",
        "rated": "{n} 条评分；评分最多的是：{top}",
        "bought": "购买最多的是：{top}",
        "item": "{interest}（{n}）",
        "and": "、",
        "sep": "；",
        "end": "。",
    },
}


def describe(p: dict, lang: str = "en") -> str:
    """The portrait as text, in English or (``lang="zh"``) Chinese: the same figures in both."""
    t = _TEXT[lang]
    seg_name = SEGMENTS_ZH if lang == "zh" else {}

    def top(items: list[dict]) -> str:
        return t["and"].join(t["item"].format(interest=i["interest"], n=i["n"]) for i in items[:4])

    parts = []
    if "segment" in p:
        parts.append(
            t["orders"].format(
                orders=p["orders"],
                spent=p["total_spent"],
                days=p["days_since_last_order"],
                **p["rfm"],
                segment=seg_name.get(p["segment"], p["segment"]),
                share=100 * p["segment_share"],
            )
        )
        if p.get("churn_risk") is not None:
            parts.append(t["churn"].format(risk=100 * p["churn_risk"], horizon=p["churn_horizon_days"]))
    if p.get("ratings"):
        parts.append(t["rated"].format(n=p["ratings"], top=top(p["interests"]["rated"])))
    if p["interests"]["bought"]:
        parts.append(t["bought"].format(top=top(p["interests"]["bought"])))
    head = t["head"].format(id=p["customer_id"])
    return (head + t["sep"].join(parts) if parts else head.rstrip("; ：")) + t["end"]


class CustomerArgs(BaseModel):
    customer_id: str = Field(..., min_length=1, max_length=64, description="The customer or user id.")

    @field_validator("customer_id", mode="before")
    @classmethod
    def _s(cls, v):
        return clean_id(v)


@tool(
    "customer_profile",
    "Portrait of one customer: RFM segment, churn risk, activity over time and interests.",
    examples=[
        "what segment is customer 42 in?",
        "is customer 1017 likely to churn?",
        "describe customer 310's buying behaviour",
        "what are user ml-7's interests?",
    ],
)
def customer_profile(ctx: ToolContext, args: CustomerArgs) -> ToolResult:
    p = portrait(ctx.ws, args.customer_id)
    chart = None
    if p.get("activity"):
        ykey = "orders" if "orders" in p["activity"][0] else "ratings"
        chart = {
            "type": "bar",
            "title": f"Customer {p['customer_id']}: {ykey} per month",
            "x": "month",
            "y": [ykey],
            "data": p["activity"],
        }
    return ToolResult(data=p, summary=describe(p, ctx.lang), chart=chart)
