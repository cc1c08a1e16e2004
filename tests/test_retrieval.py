"""Embeddings and the FAISS index, on real demo texts."""

import shutil

import numpy as np
import pytest

from retrieval import Embedder, Index
from workspace import Workspace


@pytest.mark.parametrize("name", ["sentence-transformers", "use-m3"])
def test_embeddings_are_unit_vectors_and_semantic(name):
    e = Embedder.load(name, threads=2)
    v = e.encode(["this dress runs small", "the dress is too tight, size up", "tax cuts for the middle class"])
    assert v.shape == (3, e.dim) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.05


def test_use_reads_chinese_and_across_languages():
    e = Embedder.load("use-m3", threads=2)
    docs = e.encode(["房间很小,空调噪音大,晚上睡不好", "笔记本电脑散热不错,键盘手感好", "this dress runs small, size up"])
    for q, want in (("酒店房间太吵", 0), ("laptop keyboard feels good", 1), ("这条裙子尺码偏小", 2)):
        assert int(np.argmax(docs @ e.encode_queries([q])[0])) == want, q


def test_onnx_int8_matches_fp32_on_real_reviews(demo_ws, minilm):
    with Workspace.open(demo_ws, read_only=True) as ws:
        texts = [r["text"] for r in ws.query("SELECT text FROM documents WHERE kind = 'review' LIMIT 64")]
    cos = (Embedder.load("onnx-int8", threads=2).encode(texts) * minilm.encode(texts)).sum(1)
    assert cos.min() >= 0.99


def test_a_workspace_records_its_vector_space_and_refuses_another(zh_ws, settings_factory, minilm, tmp_path):
    """The Chinese demo's reviews put it in the multilingual space; MiniLM vectors are refused, at import and at
    search, and nothing is written; the recorded space's own backend goes on, across languages."""
    from retrieval.embed import MODEL_ID, USE_ID, space_for
    from retrieval.index import EmbedderMismatch
    from workspace import ingest

    assert space_for(["the dress runs small"] * 99) == MODEL_ID and space_for(["酒店很好"] + ["ok"] * 99) == USE_ID
    dst = tmp_path / "ws"
    shutil.copytree(zh_ws, dst)
    s = settings_factory(dst)
    with Workspace.open(dst) as ws:
        assert Index.open(ws, s).space == USE_ID == ws.get_meta("embedder_space")
        assert {r["model"] for r in ws.query("SELECT DISTINCT model FROM embeddings")} == {USE_ID}
        f = tmp_path / "r.csv"
        f.write_text("review_id,text,rating\nmix-1,The zipper broke on the first day,1\n")
        ingest(ws, "reviews", f, progress=False)
        ws.refresh_documents()
        wrong = Index.open(ws, s, minilm)
        with pytest.raises(EmbedderMismatch, match="do not mix"):
            wrong.update(progress=False)
        with pytest.raises(EmbedderMismatch):
            wrong.search("zipper", k=3)
        assert ws.query("SELECT count(*) AS n FROM embeddings WHERE model = ?", [MODEL_ID])[0]["n"] == 0
        right = Index.open(ws, s)  # auto: the recorded space's backend
        assert right.update(progress=False) == 1 and right.search("拉链第一天就坏了", k=1)[0].ref_id == "mix-1"
        assert right.dim == 512 and right.ntotal == ws.stats()["documents"]


def test_chinese_search_finds_chinese_reviews(zh_ws, settings_factory):
    with Workspace.open(zh_ws, read_only=True) as ws:
        idx = Index.open(ws, settings_factory(zh_ws), role="query")
        hits = idx.search("酒店的早餐怎么样", k=5, kind="review")
        assert len(hits) == 5 and sum("早餐" in h.text or "早点" in h.text for h in hits) >= 3
        screen = idx.search("is the laptop screen good?", k=5)  # an English question finds Chinese reviews
        assert sum(any(w in h.text for w in ("屏幕", "屏", "显示")) for h in screen) >= 2


def test_an_english_corpus_gets_minilm(tmp_path, settings_factory):
    from retrieval.embed import MODEL_ID
    from workspace import ingest

    f = tmp_path / "r.csv"
    f.write_text("review_id,text,rating\n" + "".join(f"e-{i},review number {i} says the fit is great,5\n" for i in range(30)))
    s = settings_factory(tmp_path / "ws")
    with Workspace.open(tmp_path / "ws") as ws:
        ingest(ws, "reviews", f, progress=False)
        ws.refresh_documents()
        idx = Index.open(ws, s)
        assert idx.update(progress=False) == 30 and idx.space == MODEL_ID and idx.embedder.name == "sentence-transformers"
        assert Index.open(ws, s, role="query").embedder.name == "onnx-int8"


def test_search_finds_sizing_reviews_with_filters(demo_ws, settings_factory, embedder):
    with Workspace.open(demo_ws, read_only=True) as ws:
        idx = Index.open(ws, settings_factory(demo_ws), embedder)
        assert idx.kind == "flat" and idx.ntotal == ws.stats()["documents"]
        hits = idx.search("the dress runs small, order a size up", k=5, kind="review")
        assert len(hits) == 5 and all(h.kind == "review" for h in hits)
        assert sum(any(w in h.text.lower() for w in ("small", "size", "tight", "large", "fit")) for h in hits) >= 4
        assert hits[0].score >= hits[-1].score
        posts = idx.search("taxes", k=5, kind="post", since="2017-12-01")
        assert posts and all(h.kind == "post" and h.created_at.year >= 2017 for h in posts)
        pid = hits[0].product_id
        assert all(h.product_id == pid for h in idx.search("quality", k=3, product_id=pid))
        assert idx.search("anything", k=3, kind="post", since="2031-01-01") == []


def test_exact_search_is_its_own_reference(demo_ws, settings_factory, embedder):
    with Workspace.open(demo_ws, read_only=True) as ws:
        idx = Index.open(ws, settings_factory(demo_ws), embedder)
        ids, vecs = idx.stored_vectors()
        q = vecs[:20]
        _, got = idx.search_vectors(q, 1)
        assert (got[:, 0] == ids[:20]).all()  # each vector finds itself


def test_incremental_update_saves_atomically_without_rebuild(writable_ws, settings_factory, embedder, tmp_path):
    s = settings_factory(writable_ws)
    f = tmp_path / "new.csv"
    f.write_text("review_id,text,rating\nnew-1,The zipper broke on the first day and the seams frayed,1\n")
    from workspace import ingest

    with Workspace.open(writable_ws) as ws:
        idx = Index.open(ws, s, embedder)
        before = idx.ntotal
        old_ids = set(idx._indexed_ids())
        ingest(ws, "reviews", f, progress=False)
        ws.refresh_documents()
        assert idx.update(progress=False) == 1  # only the new document is embedded
        assert idx.ntotal == before + 1 and old_ids <= set(idx._indexed_ids())
        assert not list(writable_ws.glob("*.tmp"))
        top = idx.search("zipper broke", k=1)[0]
        assert top.ref_id == "new-1"
    with Workspace.open(writable_ws, read_only=True) as ws:  # reloaded from disk, not rebuilt
        assert Index.open(ws, s, embedder).ntotal == before + 1


def test_auto_switches_to_hnsw_above_threshold(writable_ws, settings_factory, embedder):
    s = settings_factory(writable_ws, hnsw_threshold=100)
    with Workspace.open(writable_ws) as ws:
        idx = Index.open(ws, s, embedder)
        assert idx.kind == "flat"
        idx.update(progress=False)
        assert idx.kind == "hnsw" and idx.ntotal == ws.stats()["embeddings"]
        hits = idx.search("runs small", k=5, kind="review")
        assert len(hits) == 5 and all(h.kind == "review" for h in hits)


def test_update_refuses_read_only(demo_ws, settings_factory, embedder):
    with Workspace.open(demo_ws, read_only=True) as ws:
        with pytest.raises(PermissionError):
            Index.open(ws, settings_factory(demo_ws), embedder).update()
