"""The dashboard snapshot: built once, stored in the workspace, stale after an import, rebuilt in the background."""

from __future__ import annotations

import shutil
import time

import pandas as pd

from tools import dashboard


def test_snapshot_is_stored_read_back_and_rebuilt_when_the_data_changes(trained_ws, tmp_path, settings_factory):
    from agent.service import PulseService

    ws_path = tmp_path / "ws"
    shutil.copytree(trained_ws, ws_path)
    svc = PulseService.open(settings_factory(ws_path, model="smollm2-135m"))
    try:
        assert dashboard.load(ws_path) is None
        built = svc.dashboard()  # none stored yet: built now
        assert built["fresh"] and {p["key"] for p in built["panels"]} == {"sentiment", "topics", "forecast"}
        stored = dashboard.load(ws_path)
        assert stored["computed_at"] == built["computed_at"]
        n = svc.analyst.ws.query("SELECT count(*) AS n FROM orders")[0]["n"]
        assert stored["kpis"]["orders"] == n
        # opening again reads the stored snapshot: no tool runs
        calls = []
        real = svc.run_tool
        svc.run_tool = lambda *a: calls.append(a) or real(*a)
        again = svc.dashboard()
        assert again["computed_at"] == built["computed_at"] and again["fresh"] and not calls
        svc.run_tool = real
        # an import changes the data: the stored snapshot is stale, and a fresh one is built in the background
        f = tmp_path / "posts.csv"
        pd.DataFrame([{"post_id": "dash-1", "text": "Loving the new linen range!", "created_at": "2016-10-21 10:00:00"}]).to_csv(
            f, index=False
        )
        svc.import_file(f, "posts", progress=False)
        deadline = time.time() + 300
        while time.time() < deadline and not dashboard.is_fresh(dashboard.load(ws_path), svc.analyst.ws):
            time.sleep(1)
        fresh = dashboard.load(ws_path)
        assert dashboard.is_fresh(fresh, svc.analyst.ws) and fresh["kpis"]["posts"] == stored["kpis"]["posts"] + 1
    finally:
        while svc._dash_lock.locked():
            time.sleep(0.5)
        svc.close()


def test_a_corrupt_snapshot_reads_as_none(tmp_path):
    (tmp_path / "dashboard.json").write_text("{not json")
    assert dashboard.load(tmp_path) is None
