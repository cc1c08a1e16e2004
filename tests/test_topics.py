"""Topics: PCA + k-means + c-TF-IDF on the stored embeddings, measured against LDA.

Bad input we tried: a slice with too few documents.
"""

import numpy as np
import pytest

from tools import ToolError
from tools.topics import diversity, fit_topics, npmi
from workspace.artifacts import load_artifact


@pytest.fixture(scope="module")
def reviews(toolbox):
    ws, index = toolbox.ctx.ws, toolbox.ctx.index
    rows = ws.query("SELECT doc_id, text FROM documents WHERE kind = 'review' ORDER BY doc_id")
    ids, vecs = index.stored_vectors(ids=np.array([r["doc_id"] for r in rows]))
    return [r["text"] for r in rows], vecs


def test_topics_partition_the_documents_with_labels_and_member_examples(reviews):
    texts, vecs = reviews
    tm = fit_topics(texts, vecs, n_topics=6)
    assert len(tm.topics) == 6 and sum(t["size"] for t in tm.topics) == len(texts)
    assert [t["size"] for t in tm.topics] == sorted((t["size"] for t in tm.topics), reverse=True)
    for t in tm.topics:
        assert t["label"] and len(t["words"]) == 10
        assert all(tm.assignments[i] == t["topic"] for i in t["examples"])


def test_quality_card_beats_lda_on_npmi(trained_ws):
    _, card = load_artifact(trained_ws, "topics")
    r = card["metrics"]["reviews"]
    assert r["pulse"]["npmi"] > r["lda"]["npmi"], r
    assert 0 < r["pulse"]["diversity"] <= 1


def test_npmi_and_diversity_on_a_toy_corpus():
    from tools.topics import _vectorizer, dtm_bool

    texts = ["red apple pie", "red apple tart", "blue ocean wave", "blue ocean surf"] * 5
    vec = _vectorizer(min_df=1)
    dtm = vec.fit_transform(texts)
    ref = dtm_bool(dtm, vec.get_feature_names_out())
    assert npmi([["apple", "red"], ["ocean", "blue"]], ref) > npmi([["apple", "ocean"], ["red", "blue"]], ref)
    assert diversity([["a", "b"], ["a", "c"]]) == 0.75


def test_tool_on_a_query_slice_has_sentiment_sources_and_chart(toolbox):
    r = toolbox.call("topics", {"query": "fit and sizing", "kind": "review", "n_topics": 4})
    assert len(r.data["topics"]) == 4 and r.chart["type"] == "bar"
    assert all(t["mean_sentiment"] is not None for t in r.data["topics"])
    assert len(r.sources) == 12 and all(s["kind"] == "review" for s in r.sources)
    assert "[1]" in r.summary


def test_too_small_a_slice_is_refused(toolbox):
    with pytest.raises(ToolError, match="at least 20"):
        toolbox.call("topics", {"kind": "review", "product_id": "no-such-product"})


def test_chinese_reviews_get_chinese_topic_labels_from_jieba(zh_ws, settings_factory):
    """The Chinese demo's hotel, laptop and book reviews: labels are jieba's words, not characters or English."""
    from pulse.lang import CJK
    from retrieval import Index
    from workspace import Workspace

    with Workspace.open(zh_ws, read_only=True) as ws:
        rows = ws.query("SELECT doc_id, text FROM documents WHERE kind = 'review' ORDER BY doc_id")
        ids, vecs = Index.open(ws, settings_factory(zh_ws)).stored_vectors(ids=np.array([r["doc_id"] for r in rows]))
    tm = fit_topics([r["text"] for r in rows], vecs, n_topics=4)
    words = [w for t in tm.topics for w in t["words"][:4]]
    assert all(len(w) >= 2 and CJK.match(w) for w in words), words
    assert {"的", "了", "是"}.isdisjoint(words)
    # hotel, laptop and book reviews fall apart: one topic's top words name a room or the hotel, another a machine
    labels = " ".join(t["label"] for t in tm.topics)
    assert any(w in labels for w in ("酒店", "房间", "服务")) and any(
        w in labels for w in ("电脑", "机器", "屏幕", "系统", "散热")
    )
