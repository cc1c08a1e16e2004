"""`pulse train` and `pulse eval --components`: cards stored in the workspace, one table out.

Bad input we tried: an unknown training step, a workspace that was never trained.
"""

import json

import pytest

from evals.components import component_rows, format_table
from workspace.artifacts import ArtifactMissing, list_artifacts, load_artifact, save_artifact, stable_split


def test_cards_carry_version_size_and_metrics(trained_ws):
    cards = {c["name"]: c for c in list_artifacts(trained_ws)}
    assert {"sentiment", "recommender", "churn", "topics"} <= set(cards)
    for c in cards.values():
        assert c["version"] == 1 and c["n_train"] > 0 and c["metrics"] and c["trained_at"]


def test_components_table_has_each_model_beside_its_baseline(trained_ws, capsys):
    from bots.cli import main

    rows = component_rows(trained_ws)
    assert {r["component"] for r in rows} >= {"sentiment", "topics", "recommendation", "churn"}
    assert {r["baseline_name"] for r in rows} >= {"VADER", "classifier alone", "LDA", "popularity", "recency only"}
    table = format_table(rows)
    assert table.count("\n") == len(rows) + 1
    assert main(["--workspace", str(trained_ws), "eval", "--components", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(rows))


def test_untrained_workspace_and_unknown_step_are_refused(demo_ws, tmp_path, capsys):
    from bots.cli import main

    assert main(["--workspace", str(demo_ws), "eval", "--components"]) == 1
    assert "pulse train" in capsys.readouterr().err
    assert main(["--workspace", str(demo_ws), "train", "--steps", "sentiment,horoscope"]) == 2
    assert "horoscope" in capsys.readouterr().err
    with pytest.raises(ArtifactMissing, match="pulse train"):
        load_artifact(tmp_path, "sentiment")


def test_an_old_model_format_is_refused_with_a_clear_message(tmp_path):
    save_artifact(tmp_path, "x", {"a": 1}, n_train=1, metrics={})
    card = tmp_path / "models" / "x.json"
    card.write_text(card.read_text().replace('"version": 1', '"version": 0'))
    with pytest.raises(ArtifactMissing, match="format 0"):
        load_artifact(tmp_path, "x")


def test_stable_split_is_deterministic_and_proportional():
    keys = [f"k{i}" for i in range(5000)]
    a = [stable_split(k) for k in keys]
    assert a == [stable_split(k) for k in keys]
    assert 0.77 < a.count("train") / 5000 < 0.83


def _partial(tmp_path, demo_ws, kind: str):
    """A fresh workspace holding only one kind of data, copied from the demo's real rows."""

    from workspace import Workspace

    src = {
        "ratings": "SELECT user_id, item_id, rating FROM ratings LIMIT 3000",  # no dates: a bare ratings export
        "posts": "SELECT post_id, text, created_at FROM posts",
        "orders": "SELECT order_id, customer_id, order_date, total FROM orders",
    }[kind]
    with Workspace.open(demo_ws, read_only=True) as ws:
        df = ws.con.sql(src).df()
    f = tmp_path / f"{kind}.csv"
    df.to_csv(f, index=False)
    return f


@pytest.mark.parametrize("kind", ["ratings", "posts", "orders"])
def test_train_on_a_partial_workspace_trains_what_it_can_and_skips_the_rest(kind, demo_ws, tmp_path, settings_factory, embedder):
    from retrieval import Index
    from tools.imports import import_file
    from tools.train import STEPS, train_all
    from workspace import Workspace

    f = _partial(tmp_path, demo_ws, kind)
    ws_path = tmp_path / "ws"
    s = settings_factory(ws_path)
    with Workspace.open(ws_path) as ws:
        import_file(ws, Index.open(ws, s, embedder), kind, f, progress=False)
        # the forecast step reads public series beside the orders and is tested in test_forecast.py
        steps = [x for x in STEPS if x != "forecast"]
        cards = train_all(ws, Index.open(ws, s, embedder), s, embedder, steps=steps, sample=300, progress=False)
    assert set(cards) == set(steps)  # every step ran or said why not; none crashed
    for step, card in cards.items():
        assert "skipped" not in card or (card["skipped"] and "\n" not in card["skipped"]), (step, card)
    if kind == "ratings":
        rec = cards["recommender"]
        assert "skipped" not in rec and rec["metrics"]["split"].startswith("per user, at random")  # the ratings carry no dates
        assert "skipped" in cards["churn"]
    if kind == "orders":
        assert "skipped" not in cards["churn"] and "skipped" in cards["topics"]
    if kind == "posts":
        assert "skipped" in cards["churn"] and "skipped" in cards["recommender"]
