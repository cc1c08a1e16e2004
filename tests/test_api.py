"""The HTTP app over real HTTP on 127.0.0.1: the OpenAI-compatible API (driven by the ``openai`` client),
health, metrics, cited documents, and bad input. The agent behind it is real (the small plumbing model)."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture(scope="module")
def client(live):
    from openai import OpenAI

    base, _ = live
    return OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)


def test_healthz(live):
    base, svc = live
    h = httpx.get(base + "/healthz").json()
    assert h["status"] == "ok" and h["documents"] > 0
    assert "sql_query" in h["tools"] and "sql_query" not in h["support_tools"]


def test_models_list(client):
    assert [m.id for m in client.models.list()] == ["pulse"]


def test_chat_completion_answers_with_the_agent(client, live):
    _, svc = live
    r = client.chat.completions.create(model="pulse", messages=[
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "how many orders did customer 42 place?"}], user="t-openai")
    text = r.choices[0].message.content
    assert text and r.choices[0].finish_reason == "stop"
    pulse = r.model_extra["pulse"]
    assert pulse["tool_calls"], "the analyst agent called a tool"
    # the turn is logged under the conversation the `user` field named
    msgs = svc.log.messages(pulse["conversation_id"])
    assert pulse["conversation_id"] == "openai-t-openai" and msgs[-1]["content"] == text


def test_chat_completion_streams(client):
    stream = client.chat.completions.create(model="pulse", messages=[{"role": "user", "content": "hello there!"}], stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 3, "tokens arrive as separate chunks"
    assert text.strip()
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_completion_bad_input(live, client):
    from openai import BadRequestError

    base, _ = live
    # 50 kB message: a clear 400, not a crash or a truncated answer
    with pytest.raises(BadRequestError, match="limit is 4,000"):
        client.chat.completions.create(model="pulse", messages=[{"role": "user", "content": "why? " * 10_000}])
    r = httpx.post(base + "/v1/chat/completions", json={"messages": [{"role": "assistant", "content": "hi"}]})
    assert r.status_code == 400 and "user message" in r.json()["error"]["message"]
    r = httpx.post(base + "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_cited_document_page(live):
    base, svc = live
    doc = svc.analyst.ws.query("SELECT doc_id, text FROM documents WHERE kind = 'review' LIMIT 1")[0]
    page = httpx.get(f"{base}/doc/{doc['doc_id']}")
    assert page.status_code == 200 and doc["text"][:40].replace("'", "&#x27;").replace('"', "&quot;") in page.text
    assert httpx.get(f"{base}/doc/999999999").status_code == 404


def test_metrics_count_requests_turns_and_tools(live, client):
    base, _ = live
    client.chat.completions.create(model="pulse", messages=[{"role": "user", "content": "hi!"}])
    text = httpx.get(base + "/metrics").text
    assert 'pulse_requests_total{route="/v1/chat/completions",status="200"}' in text
    assert 'pulse_turns_total{channel="openai"}' in text
    assert "pulse_request_seconds_bucket" in text and "pulse_tool_calls_total" in text


def test_server_key_guards_v1(live):
    """With ``server_key`` set, /v1 refuses a request without the key and accepts one with it."""
    from fastapi.testclient import TestClient

    from bots.api import create_app
    from bots.service import PulseService

    _, svc = live
    keyed = PulseService(svc.settings.model_copy(update={"server_key": "sekrit"}), svc.analyst, svc.support, svc.log)
    c = TestClient(create_app(keyed, ui=False))
    assert c.get("/v1/models").status_code == 401
    assert c.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/v1/models", headers={"Authorization": "Bearer sekrit"}).status_code == 200
