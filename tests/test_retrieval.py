"""Embeddings and the FAISS index, on real demo texts."""

import numpy as np
import pytest

from retrieval import Embedder, Index
from workspace import Workspace


def test_embeddings_are_unit_vectors_and_semantic(embedder):
    v = embedder.encode(["this dress runs small", "the dress is too tight, size up", "tax cuts for the middle class"])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_onnx_int8_matches_fp32_on_real_reviews(demo_ws, embedder):
    with Workspace.open(demo_ws, read_only=True) as ws:
        texts = [r["text"] for r in ws.query("SELECT text FROM documents WHERE kind = 'review' LIMIT 64")]
    cos = (Embedder.load("onnx-int8", threads=2).encode(texts) * embedder.encode(texts)).sum(1)
    assert cos.min() >= 0.99


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
