"""Shared fixtures: a real demo workspace (a real subset of the public data), real models.

The workspace is built once per test session from the same pinned packages
`pulse demo` uses, limited to the first 400 reviews and posts so that the
embedding step stays short. Models come from the registry packs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.models import ChatModel, Completion
from pulse.config import load_settings

#: fixtures that build a workspace, train models or load a language model: a test using one is ``slow``
SLOW_FIXTURES = {
    "demo_ws",
    "zh_ws",
    "writable_ws",
    "trained_ws",
    "toolbox",
    "small_model",
    "embedder",
    "minilm",
    "live",
    "default_agent",
}


def pytest_collection_modifyitems(config, items):
    """Mark the tests that need real data, models or a server ``slow``; ``make test-fast`` runs the others."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


DEMO_LIMIT = 400
PLUMBING_MODEL = "smollm2-135m"  # fast; for plumbing, not for quality
DEFAULT_MODEL = load_settings().model
STAFF_TOKEN = "staff-test-token"  # the live server's handoff queue is open to this token only


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


@pytest.fixture(scope="session")
def zh_ws(tmp_path_factory, settings_factory) -> Path:
    """The Chinese demo workspace (200 Chinese reviews, the CDNOW orders), indexed in its own space."""
    from retrieval import Index
    from workspace import Workspace
    from workspace.demo import build_chinese_demo

    path = tmp_path_factory.mktemp("demo-zh") / "ws"
    s = settings_factory(path)
    build_chinese_demo(path, s.cache_dir, limit=DEMO_LIMIT // 2, progress=False)
    with Workspace.open(path) as ws:
        Index.open(ws, s).update(progress=False)
    return path


@pytest.fixture
def writable_ws(demo_ws, tmp_path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(demo_ws, dst)
    return dst


@pytest.fixture(scope="session")
def embedder(demo_ws, settings_factory):
    """The demo workspace's own corpus embedder (its documents include Chinese reviews: multilingual-e5-small)."""
    from retrieval import Index
    from workspace import Workspace

    with Workspace.open(demo_ws, read_only=True) as ws:
        return Index.open(ws, settings_factory(demo_ws)).embedder


@pytest.fixture(scope="session")
def minilm():
    """The English MiniLM space's corpus embedder (fp32 sentence-transformers)."""
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
        cards = train_all(
            ws,
            Index.open(ws, s, embedder),
            s,
            embedder,
            steps=("sentiment", "recommender", "churn", "topics"),
            sample=1500,
            progress=False,
        )
    assert not [k for k, c in cards.items() if "skipped" in c], cards
    return dst


@pytest.fixture(scope="session")
def toolbox(trained_ws, settings_factory):
    from agent import Toolbox

    with Toolbox.open(settings_factory(trained_ws)) as tb:
        yield tb


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(svc, ui: bool = True):
    """Run ``create_app(svc)`` with uvicorn on a free loopback port in a thread; return (base_url, server).
    The analyst routes need the server key (``bots.guard.server_key(svc.settings)``)."""
    import threading
    import time

    import httpx
    import uvicorn

    from bots.api import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(svc, ui=ui), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return base, server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the test server did not start")


@pytest.fixture(scope="session")
def webhook_sink():
    """A real HTTP server on 127.0.0.1 that records JSON POSTs: a shop's handoff webhook. Yields (url, received)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/hook", received
    srv.shutdown()


def served_service(trained_ws, tmp_path_factory, settings_factory, model: str, webhook: str | None = None, **kw):
    from agent.service import PulseService

    dst = tmp_path_factory.mktemp("served") / "ws"
    shutil.copytree(trained_ws, dst)
    return PulseService.open(settings_factory(dst, model=model, handoff_webhook=webhook, **kw))


@pytest.fixture(scope="session")
def live(trained_ws, tmp_path_factory, settings_factory, webhook_sink):
    """A real ``pulse serve`` app (web UI, support API, OpenAI API) on 127.0.0.1, on a writable copy of the
    trained workspace, with the small plumbing model. Yields ``(base_url, service)``."""
    # short answers: the plumbing model's prose is not what these tests check, and it rambles
    svc = served_service(
        trained_ws, tmp_path_factory, settings_factory, PLUMBING_MODEL, webhook_sink[0], max_tokens=96, staff_token=STAFF_TOKEN
    )
    base, server = serve(svc)
    yield base, svc
    server.should_exit = True
    svc.close()


class Scripted(ChatModel):
    """Replays fixed outputs: the one way to make a model state a wrong number on cue.
    It stands in for the generator only; the graph, tools, workspace and grounding are real."""

    backend, name = "scripted", "scripted"

    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.calls = []

    def _complete(self, messages, **kw):
        self.calls.append(messages)
        return Completion(self.outputs.pop(0))


@pytest.fixture
def scripted():
    """The scripted generator: ``scripted([output, ...])`` is a ChatModel that replays those outputs in order."""
    return Scripted
