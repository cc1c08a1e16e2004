"""Recommendations: the best of EASE, ALS and item-kNN on a dev split, content similarity for cold starts, popularity last.

Interactions are ratings (user, item, rating) and order lines (customer,
product, quantity), as one binary user-by-item matrix (did this user take this
item). Three recommenders answer in order, so every user gets something sensible:

1. a collaborative model, chosen per workspace on a dev split from what the
   field uses: EASE (Steck 2019, a closed-form item-item model), ``implicit``'s
   AlternatingLeastSquares on BM25-weighted interactions, and ``implicit``'s
   cosine item-kNN. EASE and item-kNN also serve a user the model was not
   fitted on, from that user's history;
2. content similarity on the stored MiniLM vectors of product texts, for users
   whose items no model has seen (and for "similar items" of new items);
3. popularity (most interacted items in the training period), for unknown users.

Evaluated the way a recommender is used: each user's last 20% of interactions
(by time; at random where the rows carry no dates) are held out, and recall@10
and NDCG@10 are scored beside popularity and ``implicit``'s ALS with default
settings (64 factors), all fitted in the same run. The choice of model is made
on a dev split inside the fitting part (each user's last 20% of it), never on
test. A global time cut (first 80% of all interactions, then the rest) is
reported beside it.

    >>> rec = Recommender.load(ws_path)                        # doctest: +SKIP
    >>> [r["item_id"] for r in rec.for_user("ml-1", k=3)]      # doctest: +SKIP
    ['ml-173', 'ml-50', 'ml-98']

What it leaves out: session-based and sequence models, explicit rating
prediction, business rules (stock, margin).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator

from workspace.artifacts import load_artifact, save_artifact

from .base import MaybeId, ToolContext, ToolError, ToolResult, tool

__all__ = ["CANDIDATES", "Recommender", "choose_and_measure", "evaluate_split", "interactions", "recommend", "train_recommender"]

#: (kind, parameters) tried on the dev split.
CANDIDATES: list[tuple[str, dict]] = (
    [("ease", {"l2": l2} | ({"half_life": h} if h else {})) for l2 in (100.0, 300.0, 1000.0, 3000.0) for h in (0, 3, 8)]
    + [("als", {"factors": f, "regularization": 10.0}) for f in (32, 64)]
    + [("itemknn", {"K": 200} | ({"half_life": h} if h else {})) for h in (0, 5)]
)
#: The baseline every card reports: implicit's ALS as the library ships it, with 64 factors.
DEFAULT_ALS: tuple[str, dict] = ("als-default", {"factors": 64})
#: EASE inverts an items-by-items matrix; beyond this many items it keeps the most interacted ones.
MAX_EASE_ITEMS = 5000
#: Share of each user's interactions held out (test, then dev inside the rest).
HOLDOUT = 0.2
WHY = {
    "ease": "collaborative (EASE)",
    "als": "collaborative (ALS)",
    "als-default": "collaborative (ALS)",
    "itemknn": "collaborative (item-kNN)",
}
#: the reasons in Chinese summaries
WHY_ZH = {w: f"协同过滤（{w.split('(')[1].rstrip(')')}）" for w in WHY.values()}
WHY_ZH |= {"popular": "热门", "co-interaction": "共同购买或评分", "similar product text": "商品描述相似"}


def interactions(ws) -> pd.DataFrame:
    """(user, item, strength, at) from ratings and order lines; strength is a rating or a quantity."""
    return ws.con.sql(
        """SELECT user_id AS "user", item_id AS item, rating AS strength, rated_at AS at FROM ratings
           UNION ALL
           SELECT o.customer_id, i.product_id, i.quantity, CAST(o.order_date AS TIMESTAMP)
           FROM order_items i JOIN orders o USING (order_id)"""
    ).df()


class Recommender:
    """One collaborative model (EASE, ALS or item-kNN) + content + popularity over one interaction table. Picklable."""

    def __init__(self, kind: str = "ease", iterations: int = 15, **params):
        if kind not in WHY:
            raise ValueError(f"unknown recommender kind {kind!r}: one of {', '.join(WHY)}")
        self.kind, self.params, self.iterations = kind, params, iterations
        self.users: dict[str, int] = {}
        self.items: list[str] = []
        self.item_index: dict[str, int] = {}
        self.popular: list[str] = []
        self.counts: np.ndarray = np.zeros(0, np.float32)
        self.user_items: Any = None  # binary csr, users x items
        self.query: Any = None  # the rows scored for known users: binary, or weighted by recency
        self.model: Any = None  # implicit's model (als, itemknn)
        self.ease: Any = None  # EASE weights over ease_items
        self.ease_items: Any = None
        self.content_ids: list[str] = []
        self.content_vecs: Any = None

    @property
    def name(self) -> str:
        return self.kind + "".join(f" {k}={v:g}" for k, v in self.params.items())

    def fit(self, df: pd.DataFrame, content: tuple[list[str], np.ndarray] | None = None, threads: int = 2) -> "Recommender":
        from scipy.sparse import csr_matrix
        from threadpoolctl import threadpool_limits

        self.users = {u: i for i, u in enumerate(pd.unique(df["user"]))}
        self.items = list(pd.unique(df["item"]))
        self.item_index = {it: i for i, it in enumerate(self.items)}
        rows = df["user"].map(self.users).to_numpy()
        cols = df["item"].map(self.item_index).to_numpy()
        x = csr_matrix((np.ones(len(df), np.float32), (rows, cols)), shape=(len(self.users), len(self.items)))
        x.sum_duplicates()
        x.data[:] = 1.0
        self.user_items = x
        self.counts = np.asarray(x.sum(0), np.float32).ravel()
        order = np.argsort(-self.counts, kind="stable")
        self.popular = [self.items[i] for i in order[:500]]
        self.query = self._recency(df, rows, cols) if self.params.get("half_life") else x
        if self.kind == "ease":
            keep = np.sort(order[:MAX_EASE_ITEMS])
            xs = x[:, keep]
            gram = (xs.T @ xs).toarray().astype(np.float64)
            gram[np.diag_indices_from(gram)] += self.params.get("l2", 250.0)
            p = np.linalg.inv(gram)
            b = -p / np.diag(p)
            np.fill_diagonal(b, 0.0)
            self.ease, self.ease_items = b.astype(np.float32), keep
        else:
            with threadpool_limits(1, "blas"):  # implicit parallelises itself; a BLAS pool on top slows it down
                self.model = self._implicit(threads)
                weighted = x
                if self.kind == "als":
                    from implicit.nearest_neighbours import bm25_weight

                    weighted = bm25_weight(x, K1=100, B=0.8).tocsr().astype(np.float32)
                self.model.fit(weighted, show_progress=False)
        if content is not None:
            self.content_ids, self.content_vecs = list(content[0]), content[1]
        return self

    def _implicit(self, threads: int):
        if self.kind == "itemknn":
            from implicit.nearest_neighbours import CosineRecommender

            return CosineRecommender(K=int(self.params.get("K", 50)), num_threads=threads)
        from implicit.als import AlternatingLeastSquares

        if self.kind == "als-default":
            return AlternatingLeastSquares(factors=int(self.params.get("factors", 64)), random_state=0, num_threads=threads)
        return AlternatingLeastSquares(
            factors=int(self.params.get("factors", 64)),
            regularization=float(self.params.get("regularization", 1.0)),
            iterations=self.iterations,
            random_state=0,
            num_threads=threads,
        )

    # -- scoring -----------------------------------------------------------------------------

    def _recency(self, df: pd.DataFrame, rows: np.ndarray, cols: np.ndarray):
        """Each user's history weighted by how recent it is: 1 for the last item, halving every ``half_life`` items."""
        from scipy.sparse import csr_matrix

        keys = (np.arange(len(df)), df["at"].to_numpy(), rows) if df["at"].notna().all() else (np.arange(len(df)), rows)
        order = np.lexsort(keys)  # by user, then time (or row order where undated)
        r = rows[order]
        n = np.bincount(r, minlength=len(self.users))
        rank = np.arange(len(r)) - (np.cumsum(n) - n)[r]
        age = n[r] - 1 - rank
        w = (0.5 ** (age / float(self.params["half_life"]))).astype(np.float32)
        q = csr_matrix((w, (r, cols[order])), shape=(len(self.users), len(self.items)))
        q.sum_duplicates()
        return q

    def _scores(self, rows, uids: np.ndarray | None) -> np.ndarray:
        """Scores of every item for users given as history rows (their stored, weighted rows where known)."""
        if uids is not None:
            rows = self.query[uids]
        if self.kind == "ease":
            out = np.zeros((rows.shape[0], len(self.items)), np.float32)
            out[:, self.ease_items] = rows[:, self.ease_items] @ self.ease
            return out
        if self.kind == "itemknn":
            return np.asarray((rows @ self.model.similarity).todense(), np.float32)
        factors = self.model.user_factors[uids]
        return np.asarray(factors @ self.model.item_factors.T, np.float32)

    def top(self, rows, uids: np.ndarray | None, k: int) -> np.ndarray:
        """The k best unseen items (indices; -1 past the last) for users with these binary history rows, best first."""
        return _best(self._scores(rows, uids), rows, k)

    def _row(self, items: list[str]):
        from scipy.sparse import csr_matrix

        cols = sorted({self.item_index[it] for it in items if it in self.item_index})
        return csr_matrix((np.ones(len(cols), np.float32), ([0] * len(cols), cols)), shape=(1, len(self.items)))

    # -- serving ---------------------------------------------------------------------------

    def for_user(self, user: str, k: int = 10, history: list[str] | None = None) -> list[dict]:
        """Top-k items for a user, each with its score and which recommender produced it."""
        seen = set(history or [])
        u = self.users.get(user)
        from_history = self.kind in ("ease", "itemknn") and bool(seen & self.item_index.keys())
        if u is not None or from_history:
            row = self._row(list(seen)) if u is None else self.user_items[u].maximum(self._row(list(seen)))
            uid = None if u is None else np.array([u])
            scores = self._scores(row, uid)
            idx = _best(scores.copy(), row, k)[0]
            scores = scores[0]
            got = [{"item_id": self.items[i], "score": round(float(scores[i]), 4), "why": WHY[self.kind]} for i in idx if i >= 0]
            if got:
                return got
        if seen and self.content_vecs is not None:
            got = self._content_near(list(seen), k, exclude=seen)
            if got:
                return got
        return [{"item_id": it, "score": None, "why": "popular"} for it in self.popular if it not in seen][:k]

    def similar_items(self, item: str, k: int = 10) -> list[dict]:
        if item in self.item_index:
            i = self.item_index[item]
            if self.kind == "ease":
                w = np.zeros(len(self.items), np.float32)
                pos = np.searchsorted(self.ease_items, i)
                if pos < len(self.ease_items) and self.ease_items[pos] == i:
                    w[self.ease_items] = self.ease[pos]
            elif self.kind == "itemknn":
                w = np.asarray(self.model.similarity[i].todense(), np.float32).ravel()
            else:
                v = self.model.item_factors
                w = v @ v[i] / (np.linalg.norm(v, axis=1) * np.linalg.norm(v[i]) + 1e-9)
            w[i] = -np.inf
            best = [j for j in np.argsort(-w, kind="stable")[:k] if w[j] > 0]
            if best:
                return [{"item_id": self.items[j], "score": round(float(w[j]), 4), "why": "co-interaction"} for j in best]
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
    """One global cut: the first ``frac`` of all interactions by time, then the rest."""
    df = df.sort_values("at", kind="stable")
    cut = df["at"].iloc[int(len(df) * frac)]
    return df[df["at"] < cut], df[df["at"] >= cut]


def _per_user_split(df: pd.DataFrame, frac: float, salt: str = "") -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Each user's last ``frac`` of interactions held out (users with at least 3): by time, or at random if undated."""
    dated = df["at"].notna().mean() >= 0.95
    if dated:
        df = df.dropna(subset=["at"]).sort_values(["user", "at"], kind="stable")
    else:  # a stable pseudo-random order inside each user
        h = pd.util.hash_pandas_object(df["user"].astype(str) + "\x1f" + df["item"].astype(str) + salt, index=False)
        df = df.assign(_h=h.to_numpy()).sort_values(["user", "_h"], kind="stable").drop(columns="_h")
    n = df.groupby("user", sort=False)["item"].transform("size").to_numpy()
    rank = df.groupby("user", sort=False).cumcount().to_numpy()
    held = (n >= 3) & (rank >= np.ceil(n * (1 - frac)))
    how = "per user, by time" if dated else "per user, at random (the interactions carry no dates)"
    return df[~held], df[held], how


def _metrics(top: Sequence | np.ndarray, truth: list[set[int]], k: int) -> dict:
    """recall@k (hits / min(k, relevant)) and NDCG@k, averaged over users."""
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    rec, ndcg = [], []
    for row, rel in zip(top, truth):
        hits = np.array([i in rel for i in row[:k]], float)
        m = min(k, len(rel))
        rec.append(hits.sum() / m)
        ndcg.append(float((hits * disc[: len(hits)]).sum() / disc[:m].sum()))
    return {
        f"recall@{k}": round(float(np.mean(rec)), 4) if rec else None,
        f"ndcg@{k}": round(float(np.mean(ndcg)), 4) if rec else None,
    }


def evaluate_split(rec: Recommender, train: pd.DataFrame, test: pd.DataFrame, k: int = 10, others: dict | None = None) -> dict:
    """Scores of ``rec`` (fitted on ``train``), popularity and any ``others`` on test users seen in train.

    ``others`` maps a name to another Recommender fitted on the same ``train``.
    """
    test = test[test["user"].isin(rec.users) & test["item"].isin(rec.item_index)]
    truth = test.groupby("user")["item"].apply(lambda s: {rec.item_index[i] for i in s})
    uids = np.array([rec.users[u] for u in truth.index], dtype=np.int64)
    new_items = [rel - set(rec.user_items[u].indices) for u, rel in zip(uids, truth)]  # relevant and not seen in train
    keep = [j for j, rel in enumerate(new_items) if rel]
    uids, rels = uids[keep], [new_items[j] for j in keep]
    res: dict = {"users": len(uids)}
    if not len(uids):
        return res | {"pulse": _metrics([], [], k), "popularity": _metrics([], [], k)}
    rows = rec.user_items[uids]
    res["pulse"] = _metrics(rec.top(rows, uids, k), rels, k)
    res["popularity"] = _metrics(_best(np.tile(rec.counts, (len(uids), 1)), rows, k), rels, k)
    for name, other in (others or {}).items():
        o_uids = np.array([other.users[u] for u in truth.index[keep]])
        o_top = other.top(other.user_items[o_uids], o_uids, k)
        res[name] = _metrics([[rec.item_index.get(other.items[i], -1) for i in row if i >= 0] for row in o_top], rels, k)
    return res


def _best(s: np.ndarray, rows, k: int) -> np.ndarray:
    """Indices of the k highest scores per row, best first, leaving out the items in ``rows``; -1 past the last."""
    s[rows.nonzero()] = -np.inf
    k = min(k, s.shape[1])
    idx = np.argpartition(-s, k - 1, axis=1)[:, :k]
    part = np.take_along_axis(s, idx, 1)
    order = np.argsort(-part, axis=1, kind="stable")
    idx, part = np.take_along_axis(idx, order, 1), np.take_along_axis(part, order, 1)
    return np.where(np.isfinite(part), idx, -1)


def _content(ws, index) -> tuple[list[str], np.ndarray] | None:
    rows = ws.query("SELECT doc_id, ref_id FROM documents WHERE kind = 'product' ORDER BY doc_id")
    if not rows:
        return None
    ids, vecs = index.stored_vectors(ids=np.array([r["doc_id"] for r in rows]))
    ref = {r["doc_id"]: r["ref_id"] for r in rows}
    return [ref[int(i)] for i in ids], vecs


def choose_and_measure(df: pd.DataFrame, threads: int = 2, progress: bool = False) -> dict:
    """Pick the candidate with the best dev NDCG@10, then measure it beside popularity and default ALS on test."""
    fit_part, test, how = _per_user_split(df, HOLDOUT)
    dev_train, dev, _ = _per_user_split(fit_part, HOLDOUT, salt="dev")
    dev_ndcg: dict[str, float] = {}
    by_name: dict[str, tuple[str, dict]] = {}
    for kind, params in _progress(CANDIDATES, progress):
        cand = Recommender(kind, **params).fit(dev_train, threads=threads)
        dev_ndcg[cand.name] = evaluate_split(cand, dev_train, dev)["pulse"]["ndcg@10"] or 0.0
        by_name[cand.name] = (kind, params)
    kind, params = by_name[max(dev_ndcg, key=lambda n: dev_ndcg[n])]

    def measured(train: pd.DataFrame, held: pd.DataFrame) -> dict:
        chosen = Recommender(kind, **params).fit(train, threads=threads)
        default = Recommender(DEFAULT_ALS[0], **DEFAULT_ALS[1]).fit(train, threads=threads)
        return evaluate_split(chosen, train, held, others={"default ALS": default})

    metrics = {
        "test": measured(fit_part, test),
        "model": Recommender(kind, **params).name,
        "kind": kind,
        "params": params,
        "dev_ndcg@10": dev_ndcg,
        "split": f"{how}: each user's last {HOLDOUT:.0%} held out; dev = the last {HOLDOUT:.0%} of the rest, for the choice",
    }
    if how.endswith("by time"):
        metrics["global_time"] = measured(*_time_split(df, 1 - HOLDOUT))
    return metrics


def train_recommender(ws, index, threads: int = 2, save: bool = True, progress: bool = False) -> dict:
    """Choose a model on dev, report test metrics beside the baselines, refit on everything, store; return the card."""
    df = interactions(ws)
    if len(df) < 50 or df["user"].nunique() < 5:
        raise ToolError("recommendation needs at least 50 interactions (ratings or order lines) from 5 users")
    metrics = choose_and_measure(df, threads, progress)
    kind, params = metrics["kind"], metrics["params"]
    t0 = time.perf_counter()
    final = Recommender(kind, **params).fit(df, content=_content(ws, index), threads=threads)
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


def _progress(items, show: bool):
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="recommender candidates", unit="model")


# -- the tool --------------------------------------------------------------------------------


class RecommendArgs(BaseModel):
    user_id: MaybeId = Field(None, max_length=64, description="Recommend for this user or customer id.")
    item_id: MaybeId = Field(None, max_length=64, description="Or: items similar to this product id.")
    k: int = Field(10, ge=1, le=50, description="How many items.")

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
    rec, zh = Recommender.load(ctx.ws.path), ctx.lang == "zh"
    if args.item_id:
        recs = rec.similar_items(args.item_id, args.k)
        head = f"与 {args.item_id} 相似的商品" if zh else f"Items similar to {args.item_id}"
    else:
        hist = [
            r["item_id"]
            for r in ctx.ws.query(
                "SELECT item_id FROM ratings WHERE user_id = ? UNION SELECT i.product_id FROM order_items i "
                "JOIN orders o USING (order_id) WHERE o.customer_id = ?",
                [args.user_id, args.user_id],
            )
        ]
        recs = rec.for_user(args.user_id or "", args.k, history=hist)
        head = f"为用户 {args.user_id} 推荐" if zh else f"Recommendations for user {args.user_id}"
        if recs and recs[0]["why"] == "popular":
            head += "（没有互动记录：最受欢迎的商品）" if zh else " (no interaction history: most popular items)"
    names = _names(ctx.ws, [r["item_id"] for r in recs])
    for r in recs:
        n = names.get(r["item_id"], {})
        r["name"], r["category"] = n.get("name", r["item_id"]), n.get("category")
    lines = [f"{head}：" if zh else f"{head}:"] + [
        f"{i}. {r['name']}（{r['item_id']}；{WHY_ZH.get(r['why'], r['why'])}）"
        if zh
        else f"{i}. {r['name']} ({r['item_id']}; {r['why']})"
        for i, r in enumerate(recs, 1)
    ]
    return ToolResult(data=recs, summary="\n".join(lines))
