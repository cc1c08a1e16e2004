"""Recommendations: implicit ALS on interactions, content similarity for cold starts, popularity last.

Interactions are ratings (user, item, rating) and order lines (customer,
product, quantity), as one user-by-item matrix of confidences. Three
recommenders answer in order, so every user gets something sensible:

1. ``implicit``'s AlternatingLeastSquares, for users and items it was fitted on;
2. content similarity on the stored MiniLM vectors of product texts, for users
   whose items the ALS model has not seen (and for "similar items" of new items);
3. popularity (most interacted items in the training period), for unknown users.

Evaluated on a time split: fit on the first 80% of interactions by time,
score recall@10 and NDCG@10 on the later 20% (users seen in training only),
beside popularity on the same split. Hyper-parameters are picked on a dev
split inside the training period (first 70% → next 10%), never on test.

    >>> rec = Recommender.load(ws_path)                        # doctest: +SKIP
    >>> [r["item_id"] for r in rec.for_user("ml-1", k=3)]      # doctest: +SKIP
    ['ml-173', 'ml-50', 'ml-98']

What it leaves out: session-based and sequence models, business rules (stock, margin).
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator, model_validator

from workspace.artifacts import load_artifact, save_artifact

from .base import ToolContext, ToolError, ToolResult, clean_id, optional, tool

__all__ = ["Recommender", "interactions", "train_recommender", "evaluate_split", "recommend"]

#: (factors, regularization, alpha) tried on the dev split; confidence = 1 + alpha * strength.
GRID = [(f, r, a) for f in (8, 16, 32) for r in (0.05, 1.0) for a in (0.25, 0.5, 1.0)]


def interactions(ws) -> pd.DataFrame:
    """(user, item, strength, at) from ratings and order lines; strength is a rating or a quantity."""
    return ws.con.sql(
        """SELECT user_id AS "user", item_id AS item, rating AS strength, rated_at AS at FROM ratings
           UNION ALL
           SELECT o.customer_id, i.product_id, i.quantity, CAST(o.order_date AS TIMESTAMP)
           FROM order_items i JOIN orders o USING (order_id)"""
    ).df()


class Recommender:
    """ALS + content + popularity over one interaction table. Picklable."""

    def __init__(self, factors: int = 16, regularization: float = 1.0, alpha: float = 0.5, iterations: int = 15):
        self.params = dict(factors=factors, regularization=regularization, iterations=iterations)
        self.alpha = alpha
        self.users: dict[str, int] = {}
        self.items: list[str] = []
        self.item_index: dict[str, int] = {}
        self.popular: list[str] = []
        self.model = None
        self.user_items = None
        self.content_ids: list[str] = []
        self.content_vecs: np.ndarray | None = None

    def fit(self, df: pd.DataFrame, content: tuple[list[str], np.ndarray] | None = None, threads: int = 2) -> "Recommender":
        from implicit.als import AlternatingLeastSquares
        from scipy.sparse import csr_matrix

        self.users = {u: i for i, u in enumerate(pd.unique(df["user"]))}
        self.items = list(pd.unique(df["item"]))
        self.item_index = {it: i for i, it in enumerate(self.items)}
        rows = df["user"].map(self.users).to_numpy()
        cols = df["item"].map(self.item_index).to_numpy()
        conf = 1.0 + self.alpha * df["strength"].clip(lower=0).to_numpy(float)
        self.user_items = csr_matrix((conf, (rows, cols)), shape=(len(self.users), len(self.items)))
        self.user_items.sum_duplicates()
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit parallelises itself; a BLAS pool on top slows it down
            self.model = AlternatingLeastSquares(**self.params, random_state=0, num_threads=threads)
            self.model.fit(self.user_items, show_progress=False)
        self.popular = df["item"].value_counts().index[:500].tolist()
        if content is not None:
            self.content_ids, self.content_vecs = list(content[0]), content[1]
        return self

    # -- serving ---------------------------------------------------------------------------

    def for_user(self, user: str, k: int = 10, history: list[str] | None = None) -> list[dict]:
        """Top-k items for a user, each with its score and which recommender produced it."""
        seen = set(history or [])
        if user in self.users:
            u = self.users[user]
            ids, scores = self.model.recommend(u, self.user_items[u], N=k, filter_already_liked_items=True)
            return [
                {"item_id": self.items[i], "score": round(float(s), 4), "why": "collaborative (ALS)"} for i, s in zip(ids, scores)
            ]
        if seen and self.content_vecs is not None:
            got = self._content_near([h for h in seen], k, exclude=seen)
            if got:
                return got
        return [{"item_id": it, "score": None, "why": "popular"} for it in self.popular if it not in seen][:k]

    def similar_items(self, item: str, k: int = 10) -> list[dict]:
        if item in self.item_index:
            ids, scores = self.model.similar_items(self.item_index[item], N=k + 1)
            return [
                {"item_id": self.items[i], "score": round(float(s), 4), "why": "co-interaction (ALS)"}
                for i, s in zip(ids, scores)
                if self.items[i] != item
            ][:k]
        got = self._content_near([item], k, exclude={item})
        if not got:
            raise ToolError(f"item {item!r} has no interactions and no product text to compare")
        return got

    def _content_near(self, items: list[str], k: int, exclude: set) -> list[dict]:
        pos = {it: i for i, it in enumerate(self.content_ids)}
        have = [pos[it] for it in items if it in pos]
        if not have:
            return []
        q = self.content_vecs[have].mean(0)
        q /= np.linalg.norm(q) + 1e-9
        sims = self.content_vecs @ q
        out = []
        for i in np.argsort(-sims):
            if self.content_ids[i] not in exclude:
                out.append({"item_id": self.content_ids[i], "score": round(float(sims[i]), 4), "why": "similar product text"})
            if len(out) == k:
                break
        return out

    @classmethod
    def load(cls, ws_path: Path) -> "Recommender":
        f = Path(ws_path) / "models" / "recommender.joblib"
        return _load(str(ws_path), f.stat().st_mtime if f.is_file() else 0.0)


@lru_cache(maxsize=4)
def _load(ws_path: str, _mtime: float) -> Recommender:
    return load_artifact(Path(ws_path), "recommender")[0]


# -- evaluation ------------------------------------------------------------------------------


def _time_split(df: pd.DataFrame, frac: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = df.sort_values("at", kind="stable")
    cut = df["at"].iloc[int(len(df) * frac)]
    return df[df["at"] < cut], df[df["at"] >= cut]


def _random_split(df: pd.DataFrame, frac: float, salt: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stable pseudo-random split of each user's interactions (for interactions that carry no dates)."""
    h = pd.util.hash_pandas_object(df["user"].astype(str) + "\x1f" + df["item"].astype(str) + salt, index=False)
    u = (h.to_numpy() % 10_000) / 10_000
    return df[u < frac], df[u >= frac]


def _split(df: pd.DataFrame, frac: float, salt: str = "") -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """By time where (nearly) every interaction is dated, else at random per interaction; and which it was."""
    if df["at"].notna().mean() >= 0.95:
        return *_time_split(df.dropna(subset=["at"]), frac), "time"
    return *_random_split(df, frac, salt), "random (the interactions carry no dates)"


def evaluate_split(rec: Recommender, train: pd.DataFrame, test: pd.DataFrame, k: int = 10) -> dict:
    """recall@k (hits / min(k, relevant)) and NDCG@k for the model and for popularity, on test users seen in train."""
    test = test[test["user"].isin(rec.users) & test["item"].isin(rec.item_index)]
    truth = test.groupby("user")["item"].apply(set)
    seen = train.groupby("user")["item"].apply(set)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    out = {"pulse": [], "popularity": []}
    for user, rel in truth.items():
        had = seen.get(user, set())
        rel = rel - had
        if not rel:
            continue
        lists = {
            "pulse": [r["item_id"] for r in rec.for_user(user, k)],
            "popularity": [it for it in rec.popular if it not in had][:k],
        }
        for name, got in lists.items():
            hits = np.array([it in rel for it in got[:k]], float)
            idcg = disc[: min(k, len(rel))].sum()
            out[name].append((hits.sum() / min(k, len(rel)), float((hits * disc[: len(hits)]).sum() / idcg)))
    res = {}
    for name, vals in out.items():
        a = np.array(vals) if vals else np.zeros((0, 2))
        res[name] = {
            f"recall@{k}": round(float(a[:, 0].mean()), 4) if len(a) else None,
            f"ndcg@{k}": round(float(a[:, 1].mean()), 4) if len(a) else None,
        }
    res["users"] = len(out["pulse"])
    return res


def _content(ws, index) -> tuple[list[str], np.ndarray] | None:
    rows = ws.query("SELECT doc_id, ref_id FROM documents WHERE kind = 'product' ORDER BY doc_id")
    if not rows:
        return None
    ids, vecs = index.stored_vectors(ids=np.array([r["doc_id"] for r in rows]))
    ref = {r["doc_id"]: r["ref_id"] for r in rows}
    return [ref[int(i)] for i in ids], vecs


def train_recommender(ws, index, threads: int = 2, save: bool = True) -> dict:
    """Pick hyper-parameters on dev, report test metrics, refit on everything, store; return the card."""
    df = interactions(ws)
    if len(df) < 50 or df["user"].nunique() < 5:
        raise ToolError("recommendation needs at least 50 interactions (ratings or order lines) from 5 users")
    fit_part, test, how = _split(df, 0.8)
    dev_train, dev, _ = _split(fit_part, 0.875, salt="dev")
    best, best_ndcg = GRID[0], -1.0
    for params in GRID:
        r = evaluate_split(Recommender(*params).fit(dev_train, threads=threads), dev_train, dev)
        if (r["pulse"]["ndcg@10"] or 0) > best_ndcg:
            best, best_ndcg = params, r["pulse"]["ndcg@10"] or 0
    rec = Recommender(*best).fit(fit_part, threads=threads)
    metrics = {
        "test": evaluate_split(rec, fit_part, test),
        "factors": best[0],
        "regularization": best[1],
        "alpha": best[2],
        "dev_ndcg@10": best_ndcg,
        "split": "time: first 80% fit, last 20% test; dev = 70-80% for the grid"
        if how == "time"
        else f"{how}: 80% fit, 20% test; dev = 12.5% of the fit part for the grid",
    }
    t0 = time.perf_counter()
    final = Recommender(*best).fit(df, content=_content(ws, index), threads=threads)
    metrics["fit_s"] = round(time.perf_counter() - t0, 2)
    card = {"metrics": metrics, "n_train": len(df)}
    if save:
        card = save_artifact(
            ws.path,
            "recommender",
            final,
            n_train=len(df),
            metrics=metrics,
            data={"interactions": len(df), "users": df["user"].nunique(), "items": df["item"].nunique()},
        )
    card["model"] = final
    return card


# -- the tool --------------------------------------------------------------------------------


class RecommendArgs(BaseModel):
    user_id: str | None = Field(None, max_length=64, description="Recommend for this user or customer id.")
    item_id: str | None = Field(None, max_length=64, description="Or: items similar to this product id.")
    k: int = Field(10, ge=1, le=50, description="How many items.")

    @field_validator("user_id", "item_id", mode="before")
    @classmethod
    def _clean(cls, v):
        return clean_id(optional(v))

    @model_validator(mode="after")
    def _one(self):
        if not self.user_id and not self.item_id:
            raise ValueError("give a user_id (for this user) or an item_id (similar items)")
        return self


def _names(ws, ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    rows = ws.query(f"SELECT product_id, name, category FROM products WHERE product_id IN ({', '.join('?' * len(ids))})", ids)
    return {r["product_id"]: r for r in rows}


@tool(
    "recommend",
    "Recommend products for a user or customer id, or find items similar to a product id.",
    examples=[
        "what should user ml-1 buy next?",
        "recommend 5 movies for user ml-42",
        "which items are similar to product ml-50?",
        "suggest products for customer 1234",
        "people who liked item 1078 also liked what?",
    ],
)
def recommend(ctx: ToolContext, args: RecommendArgs) -> ToolResult:
    rec = Recommender.load(ctx.ws.path)
    if args.item_id:
        recs = rec.similar_items(args.item_id, args.k)
        head = f"Items similar to {args.item_id}"
    else:
        hist = [
            r["item_id"]
            for r in ctx.ws.query(
                "SELECT item_id FROM ratings WHERE user_id = ? UNION SELECT i.product_id FROM order_items i "
                "JOIN orders o USING (order_id) WHERE o.customer_id = ?",
                [args.user_id, args.user_id],
            )
        ]
        recs = rec.for_user(args.user_id, args.k, history=hist)
        head = f"Recommendations for user {args.user_id}"
        if recs and recs[0]["why"] == "popular":
            head += " (no interaction history: most popular items)"
    names = _names(ctx.ws, [r["item_id"] for r in recs])
    for r in recs:
        n = names.get(r["item_id"], {})
        r["name"], r["category"] = n.get("name", r["item_id"]), n.get("category")
    lines = [f"{head}:"] + [f"{i}. {r['name']} ({r['item_id']}; {r['why']})" for i, r in enumerate(recs, 1)]
    return ToolResult(data=recs, summary="\n".join(lines))
