"""Shared fixtures: a real demo workspace (a real subset of the public data), real models.

The workspace is built once per test session from the same pinned packages
`pulse demo` uses, limited to the first 400 reviews and posts so that the
embedding step stays short. Models come from the registry packs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pulse.config import load_settings

DEMO_LIMIT = 400
PLUMBING_MODEL = "smollm2-135m"  # fast; for plumbing, not for quality
DEFAULT_MODEL = load_settings().model


@pytest.fixture(scope="session")
def settings_factory(tmp_path_factory):
    cache = load_settings().cache_dir

    def make(workspace: Path, **kw):
        return load_settings(workspace=workspace, cache_dir=cache, **kw)

    return make


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory, settings_factory) -> Path:
    """Path of a built, indexed demo workspace (read it; copy it before writing)."""
    from retrieval import Index
    from workspace import Workspace
    from workspace.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "ws"
    s = settings_factory(path)
    build_demo(path, s.cache_dir, limit=DEMO_LIMIT, progress=False)
    with Workspace.open(path) as ws:
        Index.open(ws, s).update(progress=False)
    return path


@pytest.fixture
def writable_ws(demo_ws, tmp_path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(demo_ws, dst)
    return dst


@pytest.fixture(scope="session")
def embedder():
    from retrieval import Embedder

    return Embedder.load("sentence-transformers", threads=2)


@pytest.fixture(scope="session")
def small_model(settings_factory, tmp_path_factory):
    from agent.models import load_model

    m = load_model(settings_factory(tmp_path_factory.mktemp("m"), model=PLUMBING_MODEL))
    yield m
    m.close()


@pytest.fixture(scope="session")
def trained_ws(demo_ws, tmp_path_factory, settings_factory, embedder) -> Path:
    """A copy of the demo workspace after ``pulse train`` (sentiment, recommender, churn, topics).

    Sentiment trains on the workspace's 400 reviews plus 1,500 rows of each labelled
    set; the forecast step (a minute of backtests) is tested in test_forecast.py.
    """
    from retrieval import Index
    from tools.train import train_all
    from workspace import Workspace

    dst = tmp_path_factory.mktemp("trained") / "ws"
    shutil.copytree(demo_ws, dst)
    s = settings_factory(dst)
    with Workspace.open(dst) as ws:
        cards = train_all(ws, Index.open(ws, s, embedder), s, embedder,
                          steps=("sentiment", "recommender", "churn", "topics"), sample=1500, progress=False)
    assert not [k for k, c in cards.items() if "skipped" in c], cards
    return dst


@pytest.fixture(scope="session")
def toolbox(trained_ws, settings_factory):
    from agent import Toolbox

    with Toolbox.open(settings_factory(trained_ws)) as tb:
        yield tb
