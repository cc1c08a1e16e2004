"""Topics for any slice of the corpus: a BERTopic-style pipeline on the stored embeddings.

    stored MiniLM vectors -> PCA (dimension reduction) -> k-means (clustering)
    -> class-based TF-IDF over each cluster's words (labels)

The steps are BERTopic's (Grootendorst 2022), with scikit-learn parts:
the ``bertopic`` package itself takes 19-50 s to import here (it pulls
torch and numba), more than fitting a slice, and its UMAP + HDBSCAN left most
short texts unassigned in trials. c-TF-IDF is the ten lines below.
Each topic gets its size, a label (top c-TF-IDF words), its sentiment (from
``doc_sentiment``) and the documents nearest its centre as examples.

Quality is measured as NPMI coherence (top-10 words, document co-occurrence on
the same texts) and topic diversity (unique share of all top-10 words), beside
scikit-learn's LDA with the same number of topics on the same texts.

    >>> r = fit_topics(texts, vectors, n_topics=8)      # doctest: +SKIP
    >>> r.topics[0]["label"], r.topics[0]["size"]       # doctest: +SKIP
    ('dress, fabric, color', 412)

Chinese texts are segmented by jieba for the labels, so a Chinese slice gets
Chinese labels ("房间, 服务, 前台, 早餐").
What it leaves out: hierarchical and dynamic topic models, outlier topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from .base import ToolContext, ToolError, ToolResult, tool
from .slices import SliceArgs, doc_source, slice_doc_ids
from .words import words as text_words

__all__ = ["fit_topics", "TopicModel", "npmi", "diversity", "lda_baseline", "topics", "auto_k"]

MAX_DOCS = 20000
_EXTRA_STOP = {"amp", "http", "https", "rt", "co", "just", "like", "really", "im", "don", "didn", "t", "s", "ve", "ll"}


def auto_k(n: int) -> int:
    """Default topic count for n documents: sqrt(n)/3, kept within 3..15."""
    return int(np.clip(round(np.sqrt(n) / 3), 3, 15))


def _words(text: str) -> list[str]:
    return text_words(text, _EXTRA_STOP)


def _vectorizer(min_df=2):
    """Counts of each text's words: English tokens, jieba's Chinese words, Weibo #话题# tags (``tools/words.py``)."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer=_words, min_df=min_df, max_df=0.5)


@dataclass
class TopicModel:
    topics: list[dict]
    assignments: np.ndarray
    top_words: list[list[str]]
    vocab_counts: object = field(repr=False, default=None)  # doc-term matrix, for coherence


def fit_topics(
    texts: list[str], vectors: np.ndarray, n_topics: int | None = None, n_examples: int = 3, seed: int = 0
) -> TopicModel:
    """Cluster the vectors, label clusters by c-TF-IDF over their texts."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    n = len(texts)
    if n < 20:
        raise ToolError(f"only {n} documents in this slice: topics need at least 20")
    k = min(n_topics or auto_k(n), n // 5)
    red = PCA(n_components=min(32, n - 1), random_state=seed).fit_transform(vectors)
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(red)
    labels = km.labels_
    vec = _vectorizer(min_df=2 if n >= 200 else 1)
    dtm = vec.fit_transform(texts)
    vocab = np.array(vec.get_feature_names_out())
    # c-TF-IDF: term frequency per class, weighted by log(1 + mean words per class / term frequency overall)
    from scipy.sparse import csr_matrix

    onehot = csr_matrix((np.ones(n), (labels, np.arange(n))), shape=(k, n))
    tf = np.asarray((onehot @ dtm).todense(), dtype=float)
    idf = np.log1p(tf.sum(1).mean() / np.maximum(tf.sum(0), 1))
    ctfidf = (tf / np.maximum(tf.sum(1, keepdims=True), 1)) * idf
    top_words = [vocab[np.argsort(-row)[:10]].tolist() for row in ctfidf]
    dist = km.transform(red)
    out = []
    for t in range(k):
        members = np.where(labels == t)[0]
        near = members[np.argsort(dist[members, t])[:n_examples]]
        out.append(
            {
                "topic": t,
                "size": int(len(members)),
                "label": ", ".join(top_words[t][:4]),
                "words": top_words[t],
                "examples": near.tolist(),
            }
        )
    order = sorted(range(k), key=lambda t: -out[t]["size"])
    remap = {old: new for new, old in enumerate(order)}
    out = [dict(out[t], topic=remap[t]) for t in order]
    return TopicModel(out, np.array([remap[t] for t in labels]), [top_words[t] for t in order], dtm_bool(dtm, vocab))


def dtm_bool(dtm, vocab):
    return (dtm > 0).astype(np.float32).tocsc(), {w: i for i, w in enumerate(vocab)}


def npmi(top_words: list[list[str]], ref) -> float:
    """Mean NPMI of word pairs within each topic's top words, over documents of the reference matrix."""
    mat, index = ref
    n_docs = mat.shape[0]
    scores = []
    for words in top_words:
        cols = [index[w] for w in words if w in index]
        if len(cols) < 2:
            continue
        sub = mat[:, cols]
        p = np.asarray(sub.sum(0)).ravel() / n_docs
        co = np.asarray((sub.T @ sub).todense()) / n_docs
        for i in range(len(cols)):
            for j in range(i + 1, len(cols)):
                pij = co[i, j]
                if pij <= 0:
                    scores.append(-1.0)
                elif pij >= 1:
                    scores.append(1.0)
                else:
                    scores.append(float(np.log(pij / (p[i] * p[j])) / -np.log(pij)))
    return round(float(np.mean(scores)), 4) if scores else 0.0


def diversity(top_words: list[list[str]]) -> float:
    allw = [w for ws in top_words for w in ws[:10]]
    return round(len(set(allw)) / max(1, len(allw)), 4)


def lda_baseline(texts: list[str], k: int, seed: int = 0) -> list[list[str]]:
    """Top-10 words of scikit-learn LDA with k topics on the same texts."""
    from sklearn.decomposition import LatentDirichletAllocation

    vec = _vectorizer(min_df=2 if len(texts) >= 200 else 1)
    dtm = vec.fit_transform(texts)
    vocab = np.array(vec.get_feature_names_out())
    lda = LatentDirichletAllocation(n_components=k, learning_method="online", random_state=seed, max_iter=10, n_jobs=1).fit(dtm)
    return [vocab[np.argsort(-c)[:10]].tolist() for c in lda.components_]


def evaluate_topics(texts: list[str], vectors: np.ndarray, k: int | None = None) -> dict:
    """NPMI and diversity of Pulse's topics and of LDA, same texts, same k."""
    import time

    t0 = time.perf_counter()
    tm = fit_topics(texts, vectors, k)
    fit_s = time.perf_counter() - t0
    k = len(tm.topics)
    lda = lda_baseline(texts, k)
    return {
        "n_docs": len(texts),
        "k": k,
        "fit_s": round(fit_s, 2),
        "pulse": {"npmi": npmi(tm.top_words, tm.vocab_counts), "diversity": diversity(tm.top_words)},
        "lda": {"npmi": npmi(lda, tm.vocab_counts), "diversity": diversity(lda)},
    }


class TopicsArgs(SliceArgs):
    n_topics: int | None = Field(None, ge=2, le=30, description="How many topics; omit to choose automatically.")


@tool(
    "topics",
    "Find the main topics or themes in reviews or posts (optionally about a subject, product or period), "
    "with their sizes, sentiment and example documents.",
    examples=[
        "what are the main topics in the reviews?",
        "what themes come up in tweets from 2016?",
        "what are people talking about regarding jeans?",
        "group the complaints about tops into themes",
        "top discussion topics in posts this year",
    ],
)
def topics(ctx: ToolContext, args: TopicsArgs) -> ToolResult:
    ids = slice_doc_ids(ctx, args)
    if len(ids) > MAX_DOCS:
        ids = np.sort(np.random.default_rng(0).choice(ids, MAX_DOCS, replace=False))
    ids, vecs = ctx.index.stored_vectors(ids=ids)
    if len(ids) < 20:
        raise ToolError(f"only {len(ids)} {args.describe()}: topics need at least 20")
    docs = ctx.ws.con.sql(
        """SELECT d.doc_id, d.kind, d.ref_id, d.product_id, d.created_at, d.text, s.score
           FROM documents d LEFT JOIN doc_sentiment s USING (doc_id)
           WHERE d.doc_id IN (SELECT unnest(?::BIGINT[])) ORDER BY d.doc_id""",
        params=[ids.tolist()],
    ).df()
    tm = fit_topics(docs["text"].tolist(), vecs, args.n_topics)
    scores = docs["score"].to_numpy(float)
    zh = ctx.lang == "zh"
    head = (
        f"{len(docs)} 条{args.describe('zh')}中有 {len(tm.topics)} 个话题（从大到小）："
        if zh
        else f"{len(tm.topics)} topics in {len(docs)} {args.describe()} (largest first):"
    )
    sources, lines = [], [head]
    for t in tm.topics:
        members = tm.assignments == t["topic"]
        s = scores[members]
        t["mean_sentiment"] = None if np.isnan(s).all() else round(float(np.nanmean(s)), 3)
        t["share_negative"] = None if np.isnan(s).all() else round(float(np.mean(s[~np.isnan(s)] < -0.2)), 3)
        ex = []
        for i in t["examples"]:
            row = docs.iloc[i]
            sources.append(doc_source(row))
            ex.append(f"[{len(sources)}] {row['text'][:160]}")
        t["examples"] = [int(docs.iloc[i]["doc_id"]) for i in t["examples"]]
        if zh:
            sent = f"，平均情感 {t['mean_sentiment']:+.2f}" if t["mean_sentiment"] is not None else ""
            lines.append(f"话题 {t['topic'] + 1}“{t['label']}”：{t['size']} 条{sent}。例如 " + " | ".join(ex[:2]))
            continue
        sent = f", mean sentiment {t['mean_sentiment']:+.2f}" if t["mean_sentiment"] is not None else ""
        lines.append(f"Topic {t['topic'] + 1} '{t['label']}': {t['size']} documents{sent}. e.g. " + " | ".join(ex[:2]))
    chart = {
        "type": "bar",
        "title": f"Topic sizes: {args.describe()}",
        "x": "label",
        "y": ["size"],
        "data": [{"label": t["label"], "size": t["size"], "mean_sentiment": t["mean_sentiment"]} for t in tm.topics],
    }
    return ToolResult(data={"topics": tm.topics, "n_docs": len(docs)}, summary="\n".join(lines), sources=sources, chart=chart)
