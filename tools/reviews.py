"""Review analysis for one product: ratings, top complaints and praise as aspect phrases, change over time.

Aspects are noun phrases (spaCy noun chunks, determiners and pronouns dropped,
lemmatised to lower case) found in the product's reviews. A phrase is a
*complaint* when it appears far more in critical reviews (3 stars or fewer,
or a non-positive sentiment label where there are no stars) than in positive
ones, and *praise* the other way round, ranked by the log-odds ratio with an
informative Dirichlet prior (Monroe, Colaresi & Quinn 2008), which keeps rare
phrases from topping the list. Review polarity comes from ``doc_sentiment``
when the workspace is trained, else from the star rating.
Each aspect carries example sentences quoted from the reviews.

"What changed" compares the most recent third of dated reviews with the rest
(mean rating, share negative, aspects that rose). Reviews without dates (the
demo's clothing reviews have none) get a message saying so.

    >>> analyse_product(ws, "1078")["complaints"][0]       # doctest: +SKIP
    {'aspect': 'fabric', 'critical': 41, 'positive': 12, 'z': 4.2, 'quotes': ['The fabric is thin ...']}

Chinese reviews get jieba's words as aspects (``tools/words.py``).
What it leaves out: aspect-level sentiment inside mixed sentences.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from pydantic import BaseModel, Field, field_validator

from pulse.lang import is_chinese

from .base import ToolContext, ToolError, ToolResult, clean_id, tool
from .entities import _nlp
from .words import chinese_words

__all__ = ["analyse_product", "aspect_log_odds", "review_analysis"]

MAX_REVIEWS = 160
# pronoun-like and opinion-only nouns: they say how, not what about
_SKIP = {
    "i",
    "it",
    "me",
    "you",
    "she",
    "they",
    "this",
    "that",
    "which",
    "what",
    "who",
    "we",
    "one",
    "lot",
    "bit",
    "thing",
    "things",
    "way",
    "time",
    "item",
    "product",
    "review",
    "star",
    "stars",
    "anything",
    "something",
    "nothing",
    "love",
    "compliments",
    "compliment",
    "fan",
    "favorite",
    "problem",
    "problems",
    "issue",
    "issues",
    "disappointment",
    "purchase",
    "buy",
    "deal",
}


_ZH_SENT = re.compile(r"(?<=[。！？!?；;])")


def _aspects(doc) -> set[str]:
    out = set()
    for nc in doc.noun_chunks:
        toks = [t for t in nc if t.pos_ not in ("DET", "PRON", "PUNCT", "NUM") and not t.is_stop]
        phrase = " ".join(t.text.lower() for t in toks).strip()
        if phrase and phrase not in _SKIP and len(phrase) > 2 and not re.search(r"\d", phrase):
            out.add(phrase)
    return out


def aspect_log_odds(neg: Counter, pos: Counter, prior: Counter, scale: float = 0.05) -> dict[str, float]:
    """z-scored log-odds ratio, negative vs positive, with Dirichlet prior ``scale * prior[w]``; > 0 = more negative."""
    alpha = {w: max(scale * prior[w], 0.01) for w in set(neg) | set(pos)}
    a0 = sum(alpha.values())
    n_neg, n_pos = sum(neg.values()), sum(pos.values())
    out = {}
    for w, aw in alpha.items():
        d = np.log((neg[w] + aw) / (n_neg + a0 - neg[w] - aw)) - np.log((pos[w] + aw) / (n_pos + a0 - pos[w] - aw))
        out[w] = float(d / np.sqrt(1 / (neg[w] + aw) + 1 / (pos[w] + aw)))
    return out


def analyse_product(ws, product_id: str, top: int = 5) -> dict:
    prod = ws.query("SELECT product_id, name, category FROM products WHERE product_id = ?", [product_id])
    rows = ws.con.sql(
        """SELECT r.review_id, r.rating, r.created_at, r.title, r.text, d.doc_id, s.label
           FROM reviews r LEFT JOIN documents d ON d.kind = 'review' AND d.ref_id = r.review_id
           LEFT JOIN doc_sentiment s ON s.doc_id = d.doc_id
           WHERE r.product_id = ? ORDER BY r.created_at DESC NULLS LAST, r.review_id""",
        params=[product_id],
    ).df()
    if not prod and rows.empty:
        raise ToolError(f"no product with id {product_id!r}")
    if rows.empty:
        raise ToolError(f"product {product_id} has no reviews to analyse")
    dist = {int(k): int(v) for k, v in rows["rating"].dropna().astype(int).value_counts().sort_index().items()}
    out = {
        "product_id": product_id,
        "name": prod[0]["name"] if prod else product_id,
        "reviews": len(rows),
        "avg_rating": round(float(rows["rating"].mean()), 2),
        "mean_rating": float(rows["rating"].mean()),
        "rating_distribution": dist,
    }
    sub = rows.head(MAX_REVIEWS)
    # critical (-1) or positive (+1): the author's own stars where given (3 and below is critical), else the model's label
    by_label = np.where(sub["label"] == "positive", 1, np.where(sub["label"].notna(), -1, 0))
    pol = np.where(sub["rating"].notna(), np.where(sub["rating"].fillna(5) <= 3, -1, 1), by_label)
    neg: Counter[str] = Counter()
    pos: Counter[str] = Counter()
    prior: Counter[str] = Counter()
    quotes: dict[tuple[str, int], list] = {}
    for row, (doc, p) in enumerate(zip(_nlp().pipe(sub["text"].str[:2000].tolist(), batch_size=64, disable=["ner"]), pol)):
        zh = is_chinese(doc.text)  # Chinese: jieba's words are the aspects, sentences end at 。！？；
        asp = set(chinese_words(doc.text)) if zh else _aspects(doc)
        prior.update(asp)
        (neg if p < 0 else pos if p > 0 else Counter()).update(asp)
        for sent in _ZH_SENT.split(doc.text) if zh else [s.text for s in doc.sents]:
            low = sent.lower()
            for a in asp:
                if a in low:
                    quotes.setdefault((a, int(p)), []).append((sent.strip(), row))
    z = aspect_log_odds(neg, pos, prior)

    def pick(sign):
        cands = [(w, s) for w, s in z.items() if s * sign > 0 and (neg if sign > 0 else pos)[w] >= (2 if sign > 0 else 3)]
        return [
            {
                "aspect": w,
                "critical": neg[w],
                "positive": pos[w],
                "z": round(s, 2),
                "quotes": [q[:200] for q, _ in quotes.get((w, -1 if sign > 0 else 1), [])[:2]],
                "quoted_reviews": [str(sub.iloc[i]["review_id"]) for _, i in quotes.get((w, -1 if sign > 0 else 1), [])[:2]],
            }
            for w, s in sorted(cands, key=lambda x: -abs(x[1]))[:top]
        ]

    out["complaints"], out["praise"] = pick(+1), pick(-1)
    out["analysed_reviews"] = len(sub)
    dated = rows.dropna(subset=["created_at"])
    if len(dated) >= 9:
        cut = dated["created_at"].quantile(2 / 3)
        recent, before = dated[dated["created_at"] >= cut], dated[dated["created_at"] < cut]
        neg_share = lambda d: (
            round(float((d["label"] == "negative").mean()), 3)
            if d["label"].notna().any()
            else round(float((d["rating"] <= 2).mean()), 3)
        )  # noqa: E731
        out["change"] = {
            "since": str(cut.date()),
            "recent_reviews": len(recent),
            "earlier_reviews": len(before),
            "avg_rating_recent": round(float(recent["rating"].mean()), 2),
            "avg_rating_earlier": round(float(before["rating"].mean()), 2),
            "share_negative_recent": neg_share(recent),
            "share_negative_earlier": neg_share(before),
        }
    else:
        out["change"] = None
    return out


#: the analysis's sentences per language; :func:`describe` fills them from the same figures
_TEXT = {
    "en": {
        "head": "Product {id} ({name}): {n} reviews, average {avg} of 5 ({dist}).",
        "complaints": "Top complaints",
        "praise": "Top praise",
        "aspect": "'{aspect}' ({critical} critical / {positive} positive reviews",
        "quote": ', e.g. "{quote}"{mark}',
        "close": ")",
        "none": "{head}: none stand out.",
        "change": "Change: since {since} ({recent} reviews) the average rating is {avg_recent} vs {avg_earlier} before; "
        "share negative {neg_recent:.1f}% vs {neg_earlier:.1f}%.",
        "no_change": "Change over time: these reviews carry no dates (or too few), so no trend can be shown.",
        "colon": ": ",
        "and": ", ",
        "sep": "; ",
    },
    "zh": {
        "head": "商品 {id}（{name}）：{n} 条评论，平均 {avg} 分（满分 5；{dist}）。",
        "complaints": "主要差评",
        "praise": "主要好评",
        "aspect": "“{aspect}”（{critical} 条差评 / {positive} 条好评",
        "quote": "，例如“{quote}”{mark}",
        "close": "）",
        "none": "{head}：没有突出的方面。",
        "change": "变化：{since} 以来（{recent} 条评论）平均分 {avg_recent}，之前 {avg_earlier}；"
        "负面占比 {neg_recent:.1f}%，之前 {neg_earlier:.1f}%。",
        "no_change": "随时间的变化：这些评论没有日期（或太少），无法显示趋势。",
        "colon": "：",
        "and": "，",
        "sep": "；",
    },
}


def describe(r: dict, cite: dict[str, int] | None = None, lang: str = "en") -> str:
    """The analysis as text, in English or (``lang="zh"``) Chinese; ``cite`` (review id -> source number) adds a
    marker after each quoted example."""
    cite, t = cite or {}, _TEXT[lang]

    def one(a: dict) -> str:
        n = cite.get((a.get("quoted_reviews") or [None])[0])
        quote = t["quote"].format(quote=a["quotes"][0][:120], mark=f" [{n}]" if n else "") if a["quotes"] else ""
        return t["aspect"].format(aspect=a["aspect"], critical=a["critical"], positive=a["positive"]) + quote + t["close"]

    dist = t["and"].join(f"{k}★ {v}" for k, v in sorted(r["rating_distribution"].items(), reverse=True))
    lines = [t["head"].format(id=r["product_id"], name=r["name"], n=r["reviews"], avg=r["avg_rating"], dist=dist)]
    for key in ("complaints", "praise"):
        head, items = t[key], r[key]
        lines.append(head + t["colon"] + t["sep"].join(one(a) for a in items) if items else t["none"].format(head=head))
    c = r["change"]
    if c:
        lines.append(
            t["change"].format(
                since=c["since"],
                recent=c["recent_reviews"],
                avg_recent=c["avg_rating_recent"],
                avg_earlier=c["avg_rating_earlier"],
                neg_recent=100 * c["share_negative_recent"],
                neg_earlier=100 * c["share_negative_earlier"],
            )
        )
    else:
        lines.append(t["no_change"])
    return "\n".join(lines)


class ReviewArgs(BaseModel):
    product_id: str = Field(..., min_length=1, max_length=64, description="The product id whose reviews to analyse.")

    @field_validator("product_id", mode="before")
    @classmethod
    def _s(cls, v):
        return clean_id(v)


@tool(
    "review_analysis",
    "Analyse one product's reviews: rating distribution, top complaints and praise with quotes, and what changed over time.",
    examples=[
        "what do customers complain about on product 1078?",
        "summarise the reviews of item 862",
        "what are the pros and cons of product 1094?",
        "rating breakdown for product 829",
    ],
)
def review_analysis(ctx: ToolContext, args: ReviewArgs) -> ToolResult:
    r = analyse_product(ctx.ws, args.product_id)
    chart = {
        "type": "bar",
        "title": f"Ratings of product {args.product_id}",
        "x": "stars",
        "y": ["reviews"],
        "data": [{"stars": k, "reviews": v} for k, v in sorted(r["rating_distribution"].items())],
    }
    # the reviews quoted as examples are the answer's sources, cited where they are quoted
    quoted = list(
        dict.fromkeys(a["quoted_reviews"][0] for key in ("complaints", "praise") for a in r[key] if a.get("quoted_reviews"))
    )
    sources = []
    if quoted:
        rows = {
            d["ref_id"]: d
            for d in ctx.ws.query(
                "SELECT doc_id, kind, ref_id, product_id, customer_id, created_at, text FROM documents "
                "WHERE kind = 'review' AND ref_id IN (SELECT unnest(?::VARCHAR[]))",
                [quoted],
            )
        }
        for rid in quoted:
            if rid in rows:
                d = rows[rid]
                sources.append({**d, "score": 1.0, "created_at": d["created_at"].isoformat() if d["created_at"] else None})
    cite = {s["ref_id"]: n for n, s in enumerate(sources, start=1)}
    return ToolResult(data=r, summary=describe(r, cite, ctx.lang), chart=chart, sources=sources)
