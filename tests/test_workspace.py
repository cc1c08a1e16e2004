"""The demo workspace: real rows from the pinned public packages, one DuckDB file."""

import pandas as pd

from workspace import Workspace
from workspace.demo import load_frames


def test_demo_tables_hold_the_real_sources(demo_ws):
    with Workspace.open(demo_ws, read_only=True) as ws:
        st = ws.stats()
        assert st["orders"] == 69_659  # CDNOW, loaded whole
        assert st["customers"] == 23_570
        assert st["reviews"] == 400 and st["posts"] == 400
        assert st["embeddings"] == st["documents"] > 800
        # customer 42's two CDNOW purchases, as in the source file
        rows = ws.query("SELECT count(*) AS n, round(sum(total), 2) AS s FROM orders WHERE customer_id = '42'")
        assert rows == [{"n": 2, "s": 38.32}]
        kinds = {r["kind"] for r in ws.query("SELECT DISTINCT kind FROM documents")}
        assert kinds == {"post", "review", "product", "help"}
        assert st["help_articles"] == 7  # the demo shop's policy pages (workspace/demo_help.jsonl)


def test_read_only_workspace_refuses_writes(demo_ws):
    import duckdb
    import pytest

    with Workspace.open(demo_ws, read_only=True) as ws:
        with pytest.raises(duckdb.Error):
            ws.con.execute("DELETE FROM orders")


def test_refresh_documents_is_idempotent_and_follows_edits(writable_ws):
    with Workspace.open(writable_ws) as ws:
        assert ws.refresh_documents() == 0
        old = ws.query("SELECT doc_id FROM documents WHERE kind = 'review' AND ref_id = 'wcr-1'")
        ws.con.execute("UPDATE reviews SET text = 'Edited: the seams split after one wash' WHERE review_id = 'wcr-1'")
        assert ws.refresh_documents() == 1
        new = ws.query("SELECT doc_id, text FROM documents WHERE kind = 'review' AND ref_id = 'wcr-1'")
        assert new[0]["doc_id"] != old[0]["doc_id"] and "seams split" in new[0]["text"]
        # the stale embedding is gone, so the index update re-embeds exactly this one and drops the old vector
        assert ws.query("SELECT count(*) AS n FROM embeddings WHERE doc_id = ?", [old[0]["doc_id"]])[0]["n"] == 0
        from pulse.config import load_settings
        from retrieval import Index

        idx = Index.open(ws, load_settings(workspace=writable_ws))
        n = idx.ntotal  # opening reconciled the file with the stored vectors: the old one is already gone
        assert n == ws.query("SELECT count(*) AS n FROM embeddings")[0]["n"] and old[0]["doc_id"] not in idx._indexed_ids()
        assert idx.update(progress=False) == 1
        assert idx.ntotal == n + 1 and old[0]["doc_id"] not in idx._indexed_ids() and new[0]["doc_id"] in idx._indexed_ids()


def test_sources_are_checksummed(tmp_path, settings_factory):
    frames = load_frames(settings_factory(tmp_path).cache_dir, limit=50)
    assert set(frames) == {"products", "reviews", "posts", "customers", "orders", "ratings"}
    assert len(frames["reviews"]) == 50 and frames["reviews"]["text"].str.len().min() > 0
    assert pd.api.types.is_float_dtype(frames["orders"]["total"])
