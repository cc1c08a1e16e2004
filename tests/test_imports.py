"""The one import pipeline: crash consistency under SIGKILL at every step, and what an import updates.

Each crash test runs a real child process that imports a real reviews file into a copy of the trained test
workspace and kills itself with SIGKILL when the pipeline reports the chosen step (or, for ``index-save``,
between writing the new FAISS file and renaming it into place). The parent then opens the workspace as the
server would and checks that it is as before the import or as after it, never between: tables, documents,
stored vectors, sentiment scores and the FAISS index agree.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
import pytest

from retrieval import Index
from tools.imports import STEPS, import_file
from workspace import CORPUS_KINDS, IngestError, Workspace, WorkspaceBusy

CHILD = r"""
import os, signal, sys
from pathlib import Path
from pulse.config import load_settings
from retrieval import Index
from tools.imports import import_file
from workspace import Workspace

ws_path, file, kill_at = sys.argv[1:4]
orig = Index.embed_missing
Index.embed_missing = lambda self, **kw: orig(self, **{**kw, "batch": 8})  # several batches: a kill between them
if kill_at == "index-save":
    real_replace = os.replace
    def replace(src, dst):
        if str(dst).endswith("index.faiss"):
            os.kill(os.getpid(), signal.SIGKILL)  # the new file is written and fsynced, not yet renamed
        real_replace(src, dst)
    os.replace = replace
seen = {}
def on_step(name):
    seen[name] = seen.get(name, 0) + 1
    if name == kill_at and seen[name] == (2 if name == "embeddings" else 1):
        os.kill(os.getpid(), signal.SIGKILL)
ws = Workspace.open(ws_path)
import_file(ws, Index.open(ws, load_settings(workspace=Path(ws_path))), "reviews", Path(file), progress=False,
            on_step=on_step)
print("imported")
"""

#: where the child dies, and whether the import must then be found done (True) or not begun (False)
KILLS = [
    ("rows", False),
    ("documents", False),
    ("embeddings", False),
    ("sentiment", False),
    ("committed", True),
    ("index-save", True),
    ("indexed", True),
]


@pytest.fixture(scope="module")
def incoming(trained_ws, tmp_path_factory):
    """A reviews file: 20 new reviews plus one edit of an existing review's text."""
    with Workspace.open(trained_ws, read_only=True) as ws:
        old = ws.query("SELECT review_id, product_id, text FROM reviews WHERE text IS NOT NULL ORDER BY review_id LIMIT 1")[0]
        pid = old["product_id"]
    rows = [
        {
            "review_id": f"crash-{i}",
            "product_id": pid,
            "rating": 1 + i % 5,
            "text": f"Import crash test review {i}: the fabric {'pilled after one wash' if i % 2 else 'feels lovely'}.",
        }
        for i in range(20)
    ]
    rows.append({"review_id": old["review_id"], "product_id": pid, "rating": 2, "text": "Edited: it shrank in the wash."})
    f = tmp_path_factory.mktemp("incoming") / "reviews.csv"
    pd.DataFrame(rows).to_csv(f, index=False)
    return f, old


def _state(ws_path: Path, settings) -> str:
    """'before' or 'after', asserting that every derived store agrees with the tables."""
    with Workspace.open(ws_path, read_only=True) as ws:
        new = ws.query("SELECT count(*) AS n FROM reviews WHERE review_id LIKE 'crash-%'")[0]["n"]
        assert new in (0, 20), f"a partial import: {new} of 20 rows"
        text_sql = CORPUS_KINDS["review"][2]  # the document text a review row derives
        docs = ws.con.sql(
            f"SELECT r.review_id, r.row_text, d.text AS doc_text, d.doc_id "
            f"FROM (SELECT review_id, text, {text_sql} AS row_text FROM reviews) r "
            "LEFT JOIN documents d ON d.kind = 'review' AND d.ref_id = r.review_id "
            "WHERE r.text IS NOT NULL AND trim(r.text) <> ''"
        ).df()
        assert docs["doc_id"].notna().all(), "rows without a document"
        assert (docs["row_text"] == docs["doc_text"]).all(), "a document's text differs from its row"
        assert not docs["review_id"].duplicated().any(), "two documents for one review"
        doc_ids = {r[0] for r in ws.con.execute("SELECT doc_id FROM documents").fetchall()}
        vec_ids = {r[0] for r in ws.con.execute("SELECT doc_id FROM embeddings").fetchall()}
        scored = {r[0] for r in ws.con.execute("SELECT doc_id FROM doc_sentiment").fetchall()}
        assert doc_ids == vec_ids, "documents and stored vectors disagree"
        assert scored == doc_ids, "documents and sentiment scores disagree"
        idx = Index.open(ws, settings)  # what the server sees: the index reconciled with the stored vectors
        assert set(idx._indexed_ids()) == vec_ids
        hit = idx.search("Import crash test review pilled after one wash", k=1, kind="review")
        assert bool(hit and hit[0].ref_id.startswith("crash-")) == (new == 20)
    with Workspace.open(ws_path) as ws:  # a writable open repairs the file itself
        Index.open(ws, settings)
        on_disk = faiss.read_index(str(ws_path / "index.faiss"))
        assert set(faiss.vector_to_array(on_disk.id_map).tolist()) == vec_ids
    return "after" if new == 20 else "before"


@pytest.mark.parametrize("kill_at,done", KILLS)
def test_sigkill_at_each_step_leaves_the_workspace_before_or_after(
    kill_at, done, trained_ws, incoming, tmp_path, settings_factory
):
    assert kill_at in STEPS or kill_at == "index-save"
    f, old = incoming
    ws_path = tmp_path / "ws"
    shutil.copytree(trained_ws, ws_path)
    p = subprocess.run([sys.executable, "-c", CHILD, str(ws_path), str(f), kill_at], capture_output=True, text=True, timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]  # it really died there
    s = settings_factory(ws_path)
    assert _state(ws_path, s) == ("after" if done else "before")
    with Workspace.open(ws_path, read_only=True) as ws:
        text = ws.query("SELECT text FROM reviews WHERE review_id = ?", [old["review_id"]])[0]["text"]
    assert text == ("Edited: it shrank in the wash." if done else old["text"])
    if not done:  # nothing is stuck: the same import then runs to the end
        with Workspace.open(ws_path) as ws:
            rep = import_file(ws, Index.open(ws, s), "reviews", f, progress=False)
        assert rep.inserted == 20 and rep.replaced == 1 and rep.sentiment_scored == rep.new_documents == 21
        assert _state(ws_path, s) == "after"


def test_an_import_scores_only_what_changed_and_reports_unused_columns(trained_ws, tmp_path, settings_factory):
    ws_path = tmp_path / "ws"
    shutil.copytree(trained_ws, ws_path)
    f = tmp_path / "two.csv"
    pd.DataFrame(
        [
            {"Review ID": "only-1", "Review Text": "Lovely soft knit, true to size.", "Stars": 5, "Mood": "x"},
            {"Review ID": "only-2", "Review Text": "Seams came apart in a week.", "Stars": 1, "Mood": "y"},
        ]
    ).to_csv(f, index=False)
    with Workspace.open(ws_path) as ws:
        before = dict(ws.con.execute("SELECT doc_id, score FROM doc_sentiment").fetchall())
        rep = import_file(ws, Index.open(ws, settings_factory(ws_path)), "reviews", f, progress=False)
        after = dict(ws.con.execute("SELECT doc_id, score FROM doc_sentiment").fetchall())
    assert rep.sentiment_scored == 2 and rep.embedded == 2  # not the whole corpus again
    assert {k: after[k] for k in before} == before and len(after) == len(before) + 2
    assert rep.columns == {"review_id": "Review ID", "rating": "Stars", "text": "Review Text"} and rep.ignored == ["Mood"]


def test_an_integer_beyond_int64_is_a_clear_error_and_nothing_is_written(trained_ws, tmp_path, settings_factory):
    ws_path = tmp_path / "ws"
    shutil.copytree(trained_ws, ws_path)
    f = tmp_path / "items.csv"
    # line items with a quantity beyond int64 (was DuckDB's raw cast error): refused before any write
    f.write_text("order_id,customer_id,order_date,product_id,quantity,price\no-1,42,1998-01-01,p1,99999999999999999999999,1.0\n")
    with Workspace.open(ws_path) as ws:
        n = ws.query("SELECT count(*) AS n FROM orders")[0]["n"]
        with pytest.raises(IngestError, match="row 1, column 'quantity'"):
            import_file(ws, Index.open(ws, settings_factory(ws_path)), "orders", f, progress=False)
        assert ws.query("SELECT count(*) AS n FROM orders")[0]["n"] == n


def test_an_import_while_another_process_holds_the_file_fails_clearly_and_the_service_keeps_serving(
    trained_ws, tmp_path, settings_factory
):
    from agent.service import PulseService

    ws_path = tmp_path / "ws"
    shutil.copytree(trained_ws, ws_path)
    svc = PulseService.open(settings_factory(ws_path, model="smollm2-135m"))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], "
            "read_only=True); print('held', flush=True); time.sleep(120)",
            str(ws_path / "pulse.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        f = tmp_path / "one.csv"
        pd.DataFrame([{"review_id": "busy-1", "text": "Nice."}]).to_csv(f, index=False)
        with pytest.raises(WorkspaceBusy, match="open in another process"):
            svc.import_file(f, "reviews", progress=False)
        assert svc.health()["documents"] > 0  # still answering, read-only, after the failed switch
    finally:
        holder.kill()
        holder.wait()
        svc.close()


def test_epoch_timestamps_and_common_column_names_are_read(writable_ws, settings_factory):
    s = settings_factory(writable_ws)
    secs, ms = writable_ws / "ratings.csv", writable_ws / "ratings_ms.csv"
    secs.write_text("userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n")
    ms.write_text("userId,movieId,rating,timestamp\n1,1029,3.0,1260759179000\n")
    with Workspace.open(writable_ws) as ws:
        rep = import_file(ws, Index.open(ws, s), "ratings", secs, progress=False)
        import_file(ws, Index.open(ws, s), "ratings", ms, progress=False)
        rows = ws.query(
            "SELECT item_id, rated_at FROM ratings WHERE user_id = '1' AND item_id IN ('31', '1029') ORDER BY item_id"
        )
    assert rep.columns == {"user_id": "userId", "item_id": "movieId", "rating": "rating", "rated_at": "timestamp"}
    assert [str(r["rated_at"]) for r in rows] == ["2009-12-14 02:52:59", "2009-12-14 02:52:24"]


def test_index_open_repairs_a_missing_or_corrupt_file(writable_ws, settings_factory):
    s = settings_factory(writable_ws)
    with Workspace.open(writable_ws) as ws:
        n = ws.query("SELECT count(*) AS n FROM embeddings")[0]["n"]
        (writable_ws / "index.faiss").write_bytes(b"not an index")
        assert Index.open(ws, s).ntotal == n
        (writable_ws / "index.faiss").unlink()
        assert Index.open(ws, s).ntotal == n
    assert np.isclose(faiss.read_index(str(writable_ws / "index.faiss")).ntotal, n)


def test_a_line_items_file_refused_on_its_second_table_is_one_clear_error(trained_ws, tmp_path, settings_factory):
    """A line with no product: it would be dropped when lines are grouped, or refused by the second table (was
    DuckDB's raw 'Current transaction is aborted'). Now one IngestError naming the row, and nothing written."""
    ws_path = tmp_path / "ws"
    shutil.copytree(trained_ws, ws_path)
    f = tmp_path / "items.csv"
    f.write_text(
        "order_id,customer_id,order_date,product_id,quantity,price\no-9,42,1998-01-01,1078,1,5.0\no-10,42,1998-01-02,,1,5.0\n"
    )
    with Workspace.open(ws_path) as ws:
        n = ws.query("SELECT count(*) AS n FROM orders")[0]["n"]
        with pytest.raises(IngestError, match="row 2, column 'product_id'") as e:
            import_file(ws, Index.open(ws, settings_factory(ws_path)), "orders", f, progress=False)
        assert "transaction is aborted" not in str(e.value).lower()
        assert ws.query("SELECT count(*) AS n FROM orders")[0]["n"] == n
        assert not ws.query("SELECT 1 FROM orders WHERE order_id = 'o-9'")
