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
    from pulse.cli import main

    rows = component_rows(trained_ws)
    assert {r["component"] for r in rows} >= {"sentiment", "topics", "recommendation", "churn"}
    assert {r["baseline_name"] for r in rows} >= {"VADER", "LDA", "popularity", "recency only"}
    table = format_table(rows)
    assert table.count("\n") == len(rows) + 1
    assert main(["--workspace", str(trained_ws), "eval", "--components", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(rows))


def test_untrained_workspace_and_unknown_step_are_refused(demo_ws, tmp_path, capsys):
    from pulse.cli import main

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
