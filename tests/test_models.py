"""Generator backends, on a real GGUF through the real runtime (SmolLM2-135M: plumbing)."""

import hashlib
import json

from agent.models import OpenAICompatModel
from agent.packs import PACKS, resolve_model
from pulse.config import load_settings


def test_pack_is_assembled_and_checksummed():
    path = resolve_model("smollm2-135m", load_settings().cache_dir)
    h = hashlib.sha256(path.read_bytes()).hexdigest()
    assert h == PACKS["smollm2-135m"].sha256


def test_llamacpp_streams_tokens_that_make_the_text(small_model):
    pieces = []
    c = small_model.complete([{"role": "user", "content": "Say hello in three words."}], max_tokens=16, on_token=pieces.append)
    assert c.text and "".join(pieces) == c.text
    assert c.completion_tokens > 0 and c.timings["decode_tps"] > 0 and c.timings["ttft_s"] <= c.timings["total_s"]


def test_json_schema_output_is_valid(small_model):
    schema = {
        "type": "object",
        "properties": {"tool": {"enum": ["search", "sql"]}, "n": {"type": "integer"}},
        "required": ["tool", "n"],
    }
    c = small_model.complete([{"role": "user", "content": "Pick a tool and a number."}], max_tokens=40, json_schema=schema)
    obj = json.loads(c.text)
    assert obj["tool"] in ("search", "sql") and isinstance(obj["n"], int)


def test_system_prompt_kv_cache_is_reused(small_model):
    sysmsg = {"role": "system", "content": "You are a terse assistant. " * 40}
    small_model.complete([sysmsg, {"role": "user", "content": "one"}], max_tokens=4)
    c = small_model.complete([sysmsg, {"role": "user", "content": "two"}], max_tokens=4)
    assert c.timings["cached_tokens"] > 200


def test_openai_backend_talks_to_a_live_server(small_model):
    # The remote path, over real HTTP on 127.0.0.1: the embedded llama.cpp server is an OpenAI-compatible endpoint.
    remote = OpenAICompatModel(small_model.base_url, "smollm2")
    pieces = []
    c = remote.complete([{"role": "user", "content": "Name a colour."}], max_tokens=8, on_token=pieces.append)
    assert c.text and "".join(pieces) == c.text and small_model.base_url.startswith("http://127.0.0.1:")


def test_transformers_backend_streams_and_follows_a_schema(tmp_path):
    # The GPU path, exercised on the CPU with the smallest pack converted to a transformers folder.
    from agent.models import load_model

    m = load_model(load_settings(backend="transformers", model="smollm2-135m", threads=2))
    assert m.backend == "transformers" and (m.name.endswith("smollm2-135m"))
    pieces = []
    c = m.complete([{"role": "user", "content": "Say hello."}], max_tokens=12, on_token=pieces.append)
    assert c.text and "".join(pieces).strip() == c.text.strip() and c.completion_tokens > 0
    c = m.complete(
        [{"role": "user", "content": "Give a JSON object with key a set to 1."}],
        max_tokens=40,
        json_schema={"type": "object", "properties": {"a": {"type": "integer"}}},
    )
    assert isinstance(json.loads(c.text), dict)
