"""Alerts: robust spikes against a trailing window, on real time-stamped posts.

The test workspace holds only the last 400 tweets, so one test loads all 20,761
real tweets into a fresh workspace (no embeddings needed) and checks each alert
against counts computed independently in SQL.
"""

import numpy as np
import pandas as pd

from tools.alerts import WINDOW, Z, detect, spikes


def test_a_spike_is_found_and_a_flat_series_has_none():
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=90, freq="D")
    s = pd.Series(rng.poisson(10, 90), index=days)
    assert spikes(s).empty
    s.iloc[70] = 60
    hit = spikes(s)
    assert list(hit.index) == [days[70]] and hit["count"].iat[0] == 60


def test_the_window_excludes_the_day_itself():
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    s = pd.Series([5] * 39 + [40], index=days)
    assert spikes(s)["baseline"].iat[0] == 5.0


def test_real_spikes_in_all_tweets_match_sql(settings_factory, tmp_path):
    from workspace import Workspace, ingest
    from workspace.demo import load_frames

    posts = load_frames(settings_factory(tmp_path).cache_dir)["posts"]
    f = tmp_path / "posts.parquet"
    posts.to_parquet(f, index=False)
    with Workspace.open(tmp_path / "ws") as ws:
        ingest(ws, "posts", f, progress=False)
        ws.refresh_documents()
        found = detect(ws)
        assert len(found) > 0
        vol = [a for a in found if a["series"] == "all posts" and a["metric"] == "volume"]
        assert vol, found[:3]
        for a in vol[:5]:
            day = pd.Timestamp(a["day"])
            n = ws.query("SELECT count(*) AS n FROM posts WHERE CAST(created_at AS DATE) = ?", [day.date()])[0]["n"]
            prev = ws.query(
                "SELECT CAST(created_at AS DATE) AS d, count(*) AS n FROM posts WHERE CAST(created_at AS DATE) >= ? "
                "AND CAST(created_at AS DATE) < ? GROUP BY 1",
                [(day - pd.Timedelta(days=WINDOW)).date(), day.date()],
            )
            daily = pd.Series({r["d"]: r["n"] for r in prev}).reindex(
                [d.date() for d in pd.date_range(day - pd.Timedelta(days=WINDOW), periods=WINDOW)], fill_value=0
            )
            assert a["count"] == n and a["baseline"] == round(float(daily.median()), 1)
            assert a["z"] >= Z
        assert len({a["id"] for a in found}) == len(found)  # stable, unique ids


def test_tool_shows_the_newest_alerts(toolbox):
    found = detect(toolbox.ctx.ws)
    r = toolbox.call("alerts", {"limit": 5})
    assert r.data == found[:5]
    assert r.summary.startswith(f"{len(found)} alerts" if found else "No spikes")
