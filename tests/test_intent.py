"""The intent model, trained here on its data files with the real int8 MiniLM question embedder.

Held to a floor on its own test split (phrasings it never saw: the split is by a hash of the text), and
its confidence bar, chosen on dev, must keep confident test answers right.
"""

import pytest

from agent.intent import IntentModel, load_examples, split_of
from tools import REGISTRY, SUPPORT_TOOLS

# Measured 2026-12-01 on the test split: analyst 0.933 (149 examples), support 0.959 (97). Floors, not targets.
FLOORS = {"analyst": 0.88, "support": 0.9}


@pytest.fixture(scope="module")
def query_embedder():
    from retrieval import Embedder

    return Embedder.load("onnx-int8", threads=2)


@pytest.mark.parametrize("persona, tools", [("analyst", REGISTRY), ("support", SUPPORT_TOOLS)])
def test_intent_model_clears_its_floor_on_its_test_split(persona, tools, query_embedder, tmp_path):
    m = IntentModel.fit(tools, query_embedder, persona, cache_dir=tmp_path)
    assert set(m.labels) == {*tools, "none"}  # every tool has examples, and so does "no tool"
    test = [(t, i) for t, i in load_examples(tools, persona) if split_of(t) == "test"]
    assert len(test) >= 50
    acc = m.accuracy(test)
    assert acc >= FLOORS[persona], (persona, acc)
    assert m.report["test_accuracy"] == pytest.approx(acc)
    assert m.report["test_confident_accuracy"] >= acc  # the bar chosen on dev lets through the surer answers
    # cached: a second fit loads the same model from disk
    again = IntentModel.fit(tools, query_embedder, persona, cache_dir=tmp_path)
    assert again.threshold == m.threshold and list(tmp_path.glob(f"intent-{persona}-*.pkl"))


def test_splits_never_share_a_phrasing():
    pairs = load_examples(REGISTRY, "analyst")
    texts = [t.strip().lower() for t, _ in pairs]
    assert len(texts) == len(set(texts))
    by = {s: sum(split_of(t) == s for t, _ in pairs) for s in ("train", "dev", "test")}
    assert by["train"] > 2 * (by["dev"] + by["test"]) / 2 and by["dev"] > 50 and by["test"] > 50


def test_a_torn_cache_file_is_refitted(query_embedder, tmp_path):
    m = IntentModel.fit(SUPPORT_TOOLS, query_embedder, "support", cache_dir=tmp_path)
    f = next(tmp_path.glob("intent-support-*.pkl"))
    f.write_bytes(f.read_bytes()[:100])  # a crash mid-write would leave this; the write is tmp + rename anyway
    again = IntentModel.fit(SUPPORT_TOOLS, query_embedder, "support", cache_dir=tmp_path)
    assert again.predict("where is my parcel right now?")[0].name == m.predict("where is my parcel right now?")[0].name
