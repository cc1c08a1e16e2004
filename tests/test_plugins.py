"""Registries (pulse/plugins.py): a tool, a generator backend and a channel, each added by one registration.

The added ones run for real: the tool inside the agent's turn, the backend as the
service's generator, the channel's route on a real HTTP server on 127.0.0.1.
Bad input we tried: an unknown name in each registry (a clear error that lists the
registered names) in the registry, in the settings and on the CLI; a name
registered twice.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import httpx
import pytest
from conftest import serve
from pydantic import BaseModel, Field, ValidationError

from bots.channels import Channel
from pulse.config import load_settings
from pulse.plugins import BACKENDS, CHANNELS, EMBEDDERS, TOOLS, Registry, UnknownName
from tools import ToolResult, tool


def test_unknown_names_are_clear_errors_everywhere():
    r: Registry[int] = Registry("thing")
    r.register("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        r.register("a", 2)
    with pytest.raises(UnknownName, match="unknown thing 'b': one of a"):
        r["b"]
    assert {"llamacpp", "openai", "transformers"} <= set(BACKENDS) and {"sentence-transformers", "onnx-int8"} <= set(EMBEDDERS)
    assert {"support", "openai", "web", "discord"} <= set(CHANNELS) and "sql_query" in TOOLS
    with pytest.raises(ValidationError, match="unknown generator backend 'nope': one of llamacpp"):
        load_settings(backend="nope")
    with pytest.raises(ValidationError, match="unknown embedder 'nope'"):
        load_settings(query_embedder="nope")
    cli = subprocess.run([sys.executable, "-m", "bots.cli", "--backend", "nope", "doctor"], capture_output=True, text=True)
    assert cli.returncode == 2 and "invalid choice: 'nope'" in cli.stderr and "llamacpp" in cli.stderr


class _CountArgs(BaseModel):
    text: str = Field(..., min_length=1, max_length=500)


@tool("word_count", "Count the words in a text.", examples=["how many words are in this sentence", "count my words"])
def _word_count(ctx, args: _CountArgs) -> ToolResult:
    n = len(args.text.split())
    return ToolResult(data={"words": n}, summary=f"The text has {n} words.")


def _mount_echo(app, svc):
    @app.get("/echo")
    def echo(q: str):
        r = svc.ask(f"count the words in: {q}", None, channel="echo", tool=("word_count", {"text": q}))
        return {
            "answer": r["answer"],
            "tools": [c["name"] for c in r["tool_calls"]],
            "data": r["tool_calls"][0]["result"]["data"],
        }


@pytest.mark.slow
def test_a_tool_a_backend_and_a_channel_each_take_one_registration(trained_ws, tmp_path, settings_factory, scripted):
    from agent.service import PulseService
    from bots.guard import server_key

    model = scripted(["The text has 3 words."] * 4)
    TOOLS.register("word_count", _word_count)
    BACKENDS.register("scripted", lambda settings: model)
    CHANNELS.register("echo", Channel("echo", "the agent's answer as JSON", mount=_mount_echo))
    try:
        ws = tmp_path / "ws"
        shutil.copytree(trained_ws, ws)
        svc = PulseService.open(settings_factory(ws, backend="scripted", model="scripted"))  # the settings accept it
        base, server = serve(svc, ui=False)
        try:
            assert svc.analyst.model is model and "word_count" in svc.analyst.tools
            r = httpx.get(base + "/echo", params={"q": "one two three"}, timeout=60)
            assert r.status_code == 401  # a new channel sits behind the same guard as the others
            r = httpx.get(
                base + "/echo", params={"q": "one two three"}, headers={"Authorization": f"Bearer {server_key(svc.settings)}"}
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["tools"] == ["word_count"] and body["data"] == {"words": 3}  # the registered tool ran
            assert "3 words" in body["answer"]
            # the other channels are still mounted beside it
            assert httpx.get(base + "/widget").status_code == 200
        finally:
            server.should_exit = True
            svc.close()
    finally:
        TOOLS.unregister("word_count")
        BACKENDS.unregister("scripted")
        CHANNELS.unregister("echo")
    assert "word_count" not in TOOLS and "scripted" not in BACKENDS
