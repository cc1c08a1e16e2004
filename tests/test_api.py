"""The HTTP app over real HTTP on 127.0.0.1: the OpenAI-compatible API (driven by the ``openai`` client),
health, metrics, cited documents, bad input, and the guard (credentials by default, Host allow-list, body caps,
CORS, bounded metric labels). The agent behind it is real (the small plumbing model).

What an attacker tries here: every analyst route without the key, a wrong key, the key in a cookie and a query,
a re-bound Host name, a 34 MB body (declared and chunked), a foreign Origin, 60 distinct unknown URLs, a 60-digit
document id, a non-string content part, control characters in the path, and joining another client's conversation."""

from __future__ import annotations

import json
import time

import httpx
import pytest


@pytest.fixture(scope="module")
def key(live):
    from bots.guard import server_key

    return server_key(live[1].settings)  # generated into the workspace on first start: no configuration needed


@pytest.fixture(scope="module")
def auth(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def client(live, key):
    from openai import OpenAI

    base, _ = live
    return OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=300)


def test_healthz(live):
    base, svc = live
    h = httpx.get(base + "/healthz").json()
    assert h["status"] == "ok" and h["documents"] > 0
    assert "sql_query" in h["tools"] and "sql_query" not in h["support_tools"]


def test_models_list(client):
    assert [m.id for m in client.models.list()] == ["pulse"]


def test_chat_completion_answers_with_the_agent(client, live):
    _, svc = live
    r = client.chat.completions.create(
        model="pulse",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "how many orders did customer 42 place?"},
        ],
        user="t-openai",
    )
    text = r.choices[0].message.content
    assert text and r.choices[0].finish_reason == "stop"
    pulse = r.model_extra["pulse"]
    assert pulse["tool_calls"], "the analyst agent called a tool"
    # the turn is logged under the conversation the `user` field named
    msgs = svc.log.messages(pulse["conversation_id"])
    assert pulse["conversation_id"].startswith("openai-") and pulse["conversation_id"].endswith("-t-openai")
    assert msgs[-1]["content"] == text


def test_chat_completion_streams(client):
    stream = client.chat.completions.create(model="pulse", messages=[{"role": "user", "content": "hello there!"}], stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 3, "tokens arrive as separate chunks"
    assert text.strip()
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_completion_bad_input(live, client, auth):
    from openai import BadRequestError

    base, _ = live
    # 50 kB message: a clear 400, not a crash or a truncated answer
    with pytest.raises(BadRequestError, match="limit is 4,000"):
        client.chat.completions.create(model="pulse", messages=[{"role": "user", "content": "why? " * 10_000}])
    r = httpx.post(base + "/v1/chat/completions", json={"messages": [{"role": "assistant", "content": "hi"}]}, headers=auth)
    assert r.status_code == 400 and "user message" in r.json()["error"]["message"]
    r = httpx.post(base + "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json", **auth})
    assert r.status_code == 422
    r = httpx.post(
        base + "/v1/chat/completions",
        headers=auth,
        json={"messages": [{"role": "user", "content": [{"type": "text", "text": {"not": "a string"}}]}]},
    )
    assert r.status_code == 400 and "string" in r.json()["error"]["message"]


def test_cited_document_page(live, auth):
    base, svc = live
    doc = svc.analyst.ws.query("SELECT doc_id, text FROM documents WHERE kind = 'review' LIMIT 1")[0]
    page = httpx.get(f"{base}/doc/{doc['doc_id']}", headers=auth)
    assert page.status_code == 200 and doc["text"][:40].replace("'", "&#x27;").replace('"', "&quot;") in page.text
    assert httpx.get(f"{base}/doc/999999999", headers=auth).status_code == 404
    assert httpx.get(f"{base}/doc/{'9' * 60}", headers=auth).status_code == 422  # was a 500


def test_metrics_count_requests_turns_and_tools(live, client, auth):
    base, _ = live
    client.chat.completions.create(model="pulse", messages=[{"role": "user", "content": "hi!"}])
    text = httpx.get(base + "/metrics", headers=auth).text
    assert 'pulse_requests_total{route="/v1/chat/completions",status="200"}' in text
    assert 'pulse_turns_total{channel="openai"}' in text
    assert "pulse_request_seconds_bucket" in text and "pulse_tool_calls_total" in text


def test_a_configured_server_key_is_the_one_required(live):
    from fastapi.testclient import TestClient

    from agent.service import PulseService
    from bots.api import create_app

    _, svc = live
    keyed = PulseService(svc.settings.model_copy(update={"server_key": "sekrit"}), svc.analyst, svc.support, svc.log)
    c = TestClient(create_app(keyed, ui=False), base_url="http://127.0.0.1")
    assert c.get("/v1/models").status_code == 401
    assert c.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/v1/models", headers={"Authorization": "Bearer sekrit"}).status_code == 200


# -- the guard: secure by default ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/"),
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/doc/1"),
        ("GET", "/metrics"),
        ("GET", "/api/docs"),
        ("GET", "/gradio_api/info"),
    ],
)
def test_every_analyst_route_is_closed_without_the_key(live, method, path):
    base, _ = live
    r = httpx.request(method, base + path, json={"messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401, (path, r.status_code)
    assert httpx.request(method, base + path, headers={"Authorization": "Bearer not-the-key"}).status_code == 401


def test_the_key_in_a_url_becomes_a_cookie_for_the_browser(live, key):
    base, _ = live
    r = httpx.get(base + f"/?key={key}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/" and "HttpOnly" in r.headers["set-cookie"]
    with httpx.Client(base_url=base, follow_redirects=True) as browser:
        assert browser.get(f"/?key={key}").status_code == 200  # redirected, then served with the cookie
        assert browser.get("/metrics").status_code == 200


def test_the_widget_and_the_support_api_stay_open_and_the_handoff_queue_needs_staff(live):
    base, _ = live
    assert httpx.get(base + "/widget").status_code == 200 and httpx.get(base + "/healthz").status_code == 200
    assert httpx.post(base + "/support/sessions", json={"customer_id": "1"}).status_code == 401  # the desk's own answer
    assert httpx.get(base + "/support/handoffs").status_code == 401
    assert httpx.get(base + "/support/handoffs", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_the_handoff_queue_is_closed_when_no_staff_token_is_set(live):
    from fastapi.testclient import TestClient

    from agent.service import PulseService
    from bots.api import create_app

    _, svc = live
    plain = PulseService(svc.settings.model_copy(update={"staff_token": None}), svc.analyst, svc.support, svc.log)
    r = TestClient(create_app(plain, ui=False), base_url="http://127.0.0.1").get("/support/handoffs")
    assert r.status_code == 403 and "closed" in r.json()["detail"]


def test_a_rebound_host_name_is_refused(live, auth):
    base, _ = live
    r = httpx.get(base + "/v1/models", headers={**auth, "Host": "attacker.example:7860"})
    assert r.status_code == 400 and "host" in r.json()["error"]["message"]  # /v1 errors in OpenAI's shape


def test_bodies_over_the_cap_get_413_before_parsing(live, auth):
    base, svc = live
    big = b'{"messages": [{"role": "user", "content": "' + b"x" * 34_000_000 + b'"}]}'
    r = httpx.post(base + "/v1/chat/completions", content=big, headers={**auth, "content-type": "application/json"})
    assert r.status_code == 413

    def chunks():
        for _ in range(40):
            yield b"x" * 1_000_000

    r = httpx.post(base + "/support/messages", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert httpx.get(base + "/healthz").status_code == 200  # still serving


def test_cors_only_for_configured_widget_origins(live, auth):
    base, _ = live
    r = httpx.get(base + "/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = httpx.options(
        base + "/support/sessions", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in r.headers


def test_metric_labels_stay_bounded_and_logs_get_no_control_characters(live, auth, caplog):
    import logging

    base, _ = live
    before = len(httpx.get(base + "/metrics", headers=auth).text)
    for i in range(60):
        httpx.get(base + f"/v1/nothing-{i}", headers=auth)
    grown = len(httpx.get(base + "/metrics", headers=auth).text) - before
    assert grown < 5_000, grown  # one "/other" series, not sixty
    with caplog.at_level(logging.INFO, logger="pulse.http"):
        httpx.get(base + "/v1/%1b%5b31mred%c2%85x", headers=auth)
    assert caplog.records and not any("\x1b" in r.getMessage() or "\x85" in r.getMessage() for r in caplog.records)


def test_a_conversation_name_does_not_join_another_clients_conversation(live, key):
    """Two clients name the same conversation: with different credentials, they get different ones."""
    from fastapi.testclient import TestClient

    from agent.service import PulseService
    from bots.api import create_app

    base, svc = live
    other = PulseService(svc.settings.model_copy(update={"server_key": "second-key"}), svc.analyst, svc.support, svc.log)
    c = TestClient(create_app(other, ui=False), base_url="http://127.0.0.1")
    body = {"messages": [{"role": "user", "content": "hi there"}], "user": "shared-name"}
    mine = httpx.post(base + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=300)
    theirs = c.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer second-key"})
    a, b = mine.json()["pulse"]["conversation_id"], theirs.json()["pulse"]["conversation_id"]
    assert a != b and a.endswith("-shared-name") and b.endswith("-shared-name")
    # feedback: a client may rate the answers of its own conversations only; another's id reads as unknown
    mid = mine.json()["pulse"]["message_id"]
    ok = httpx.post(base + "/v1/feedback", json={"message_id": mid, "rating": 1}, headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 201 and svc.log.feedback()[-1]["message_id"] == mid
    stranger = c.post("/v1/feedback", json={"message_id": mid, "rating": -1}, headers={"Authorization": "Bearer second-key"})
    missing = c.post("/v1/feedback", json={"message_id": 10**12, "rating": -1}, headers={"Authorization": "Bearer second-key"})
    assert stranger.status_code == missing.status_code == 404 and stranger.json() == missing.json()
    assert svc.log.feedback()[-1]["rating"] == 1  # the stranger's rating was not stored
    for bad in (
        {"message_id": mid, "rating": 5},
        {"message_id": "x", "rating": 1},
        {"message_id": mid, "rating": 1, "comment": "x" * 5000},
    ):
        assert httpx.post(base + "/v1/feedback", json=bad, headers={"Authorization": f"Bearer {key}"}).status_code == 422
    assert httpx.post(base + "/v1/feedback", json={"message_id": mid, "rating": 1}).status_code == 401


def test_a_client_that_hangs_up_mid_stream_stops_the_model(live, key):
    """Over real HTTP: uvicorn drops writes to a closed connection silently, so without a check the turn ran to
    its end for nobody. The hung-up turn must be cancelled, not finished and logged."""
    base, svc = live
    body = {
        "model": "pulse",
        "user": "hang-up",
        "stream": True,
        "messages": [{"role": "user", "content": "what do reviewers say about how the sweaters wash?"}],
    }
    before = svc.metrics.cancelled.labels(channel="openai")._value.get()
    with httpx.stream(
        "POST", base + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=300
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                break  # the quotes are on screen; the generator is starting: leave now
    deadline = time.time() + 120
    while time.time() < deadline and svc.metrics.cancelled.labels(channel="openai")._value.get() == before:
        time.sleep(0.2)
    assert svc.metrics.cancelled.labels(channel="openai")._value.get() == before + 1
    conv = [c for c in svc.log.conversations(channel="openai", limit=500) if c["id"].endswith("-hang-up")]
    assert not conv or not [m for m in svc.log.messages(conv[0]["id"]) if m["role"] == "assistant"]
