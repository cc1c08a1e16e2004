"""Review analysis of one product: ratings, complaint and praise aspects with quotes.

Bad input we tried: an unknown product, a product with no reviews.
"""

from collections import Counter

import pytest

from tools import ToolError
from tools.reviews import aspect_log_odds


def test_log_odds_ranks_phrases_by_side():
    neg = Counter({"zipper": 8, "fabric": 3})
    pos = Counter({"color": 9, "fabric": 3})
    z = aspect_log_odds(neg, pos, neg + pos)
    assert z["zipper"] > 0 > z["color"] and abs(z["fabric"]) < z["zipper"]


def test_product_analysis_matches_sql_and_quotes_real_text(toolbox):
    ws = toolbox.ctx.ws
    pid = ws.query("SELECT product_id FROM reviews GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0]["product_id"]
    r = toolbox.call("review_analysis", {"product_id": pid})
    truth = {
        row["rating"]: row["n"]
        for row in ws.query("SELECT rating, count(*) AS n FROM reviews WHERE product_id = ? GROUP BY 1", [pid])
    }
    assert r.data["rating_distribution"] == truth and r.data["reviews"] == sum(truth.values())
    texts = " ".join(row["text"] for row in ws.query("SELECT text FROM reviews WHERE product_id = ?", [pid]))
    for side in ("complaints", "praise"):
        for a in r.data[side]:
            assert all(q[:60] in texts for q in a["quotes"])
    assert all(a["critical"] >= 2 for a in r.data["complaints"])
    assert all(a["positive"] >= 3 for a in r.data["praise"])
    assert r.data["complaints"] or r.data["praise"]
    assert "no dates" in r.summary  # the clothing reviews are undated, and the tool says so
    assert sum(d["reviews"] for d in r.chart["data"]) == r.data["reviews"]
    # each quoted example cites the review it comes from
    assert r.sources and "[1]" in r.summary
    for n, src in enumerate(r.sources, start=1):
        assert src["kind"] == "review" and src["product_id"] == pid and f"[{n}]" in r.summary
        quoted = [
            a["quotes"][0]
            for side in ("complaints", "praise")
            for a in r.data[side]
            if a["quoted_reviews"] and a["quoted_reviews"][0] == src["ref_id"]
        ]
        assert quoted and quoted[0][:60] in src["text"]


def test_unknown_product_and_product_without_reviews(toolbox):
    with pytest.raises(ToolError, match="no product"):
        toolbox.call("review_analysis", {"product_id": "no-such-product"})
    movie = toolbox.ctx.ws.query("SELECT product_id FROM products WHERE department = 'Movies' LIMIT 1")[0]["product_id"]
    with pytest.raises(ToolError, match="no reviews"):
        toolbox.call("review_analysis", {"product_id": movie})


def test_dated_reviews_show_what_changed(writable_ws, tmp_path):
    from tools.reviews import analyse_product
    from workspace import Workspace, ingest

    rows = ["review_id,product_id,rating,text,created_at"]
    for i in range(12):  # the first 8 months happy, the last 4 unhappy: a real-shaped change, written for the test
        good = i < 8
        rows.append(
            f't-{i},new-1,{5 if good else 2},"{"Lovely soft fabric" if good else "The zipper broke after a week"}",'
            f"2024-{i + 1:02d}-15"
        )
    f = tmp_path / "dated.csv"
    f.write_text("\n".join(rows) + "\n")
    with Workspace.open(writable_ws) as ws:
        ingest(ws, "reviews", f, progress=False)
        ws.refresh_documents()
        r = analyse_product(ws, "new-1")
    c = r["change"]
    assert c["recent_reviews"] + c["earlier_reviews"] == 12
    assert c["avg_rating_recent"] < c["avg_rating_earlier"] and c["share_negative_recent"] > c["share_negative_earlier"]
