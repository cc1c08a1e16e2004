"""The agent core the channels share (agent/service.py), on the served test workspace with the small model:
event order of a streamed turn, Stop (closing the stream ends generation), and turns queueing."""

from __future__ import annotations

import threading


def test_stream_reports_steps_tokens_and_a_logged_result(live):
    _, svc = live
    events = list(svc.stream("What are the main topics in reviews?", channel="test", tool=("topics", {"kind": "review"})))
    kinds = [e["type"] if e["type"] != "step" else e["step"] for e in events]
    assert kinds[0] == "tool_start" and kinds[1] == "tool_end" and kinds[-1] == "done"
    assert "token" in kinds[2:-1]
    r = events[-1]["result"]
    assert r["charts"] and r["charts"][0]["type"] == "bar"
    logged = svc.log.messages(r["conversation_id"])
    assert logged[-1]["id"] == r["message_id"] and logged[-1]["tool_calls"][0]["name"] == "topics"
    png = svc.chart_png(r["charts"][0])
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_closing_the_stream_stops_generation(live):
    _, svc = live
    # a turn the generator writes (search: the quotes come first, then its prose); answers code composes finish at once
    gen = svc.stream(
        "Write a long, detailed essay about the history of online shopping.",
        "stop-1",
        channel="test",
        tool=("search_corpus", {"query": "online shopping"}),
    )
    for ev in gen:
        if ev["type"] == "token":
            break
    gen.close()  # what the web UI's Stop and a dropped SSE connection do
    r = svc.ask("hello!", "stop-2", channel="test")  # the model is free for the next turn
    assert r["answer"]
    # the stopped turn ended at the next token: no answer was finished or logged for it
    assert [m["role"] for m in svc.log.messages("stop-1")] == []
    assert svc.analyst.history("stop-1") == []


def test_concurrent_turns_queue_and_none_is_lost(live):
    _, svc = live
    out: dict[int, dict] = {}

    def one(i):
        out[i] = svc.ask(f"hello number {i}!", conversation_id=f"queue-{i}", channel="test")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == [0, 1, 2, 3] and all(r["answer"] for r in out.values())
    assert all(len(svc.log.messages(f"queue-{i}")) == 2 for i in range(4))
