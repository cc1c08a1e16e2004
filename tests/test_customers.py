"""Customer portraits over the real CDNOW orders (all 69,659 are in the test workspace).

Bad input we tried: an unknown customer id, a '#'-prefixed id.
"""

import pytest

from tools import ToolError
from tools.customers import rfm_table
from workspace.artifacts import load_artifact


def test_rfm_scores_and_segments_cover_every_customer(toolbox):
    ws = toolbox.ctx.ws
    t = rfm_table(ws)
    assert len(t) == ws.query("SELECT count(DISTINCT customer_id) AS n FROM orders")[0]["n"]
    for col in "RFM":
        assert t[col].between(1, 5).all()
    # more recent customers score higher on R
    assert t.groupby("R")["recency"].mean().is_monotonic_decreasing
    assert {"Champions", "Hibernating"} <= set(t["segment"])


def test_portrait_of_customer_42_matches_sql(toolbox):
    r = toolbox.call("customer_profile", {"customer_id": "#42"})
    truth = toolbox.ctx.ws.query("SELECT count(*) AS n, round(sum(total), 2) AS s FROM orders WHERE customer_id = '42'")[0]
    assert r.data["orders"] == truth["n"] and r.data["total_spent"] == truth["s"]
    assert 0 <= r.data["churn_risk"] <= 1 and r.data["segment"] in r.summary
    assert sum(a["orders"] for a in r.data["activity"]) == truth["n"] and r.chart["type"] == "bar"


def test_ratings_only_user_gets_interests(toolbox):
    user = toolbox.ctx.ws.query("SELECT user_id FROM ratings GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0]["user_id"]
    r = toolbox.call("customer_profile", {"customer_id": user})
    assert r.data["ratings"] > 0 and r.data["interests"]["rated"] and "segment" not in r.data


def test_churn_model_beats_chance_on_held_out_customers(trained_ws):
    _, card = load_artifact(trained_ws, "churn")
    m = card["metrics"]
    assert m["auc"] > 0.75 and m["n_test"] > 1000
    assert m["auc"] >= m["auc_recency_only"] - 0.01  # at least as good as ranking by recency alone


def test_unknown_customer_is_refused(toolbox):
    with pytest.raises(ToolError, match="no customer"):
        toolbox.call("customer_profile", {"customer_id": "no-such-customer"})
