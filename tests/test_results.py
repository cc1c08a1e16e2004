"""The typed results (agent/results.py) match what the core really returns and streams: a real turn on the served
test workspace, with the small model, checked key by key against the declared types."""

from __future__ import annotations

from agent.results import DoneEvent, ErrorEvent, StepEvent, TokenEvent, ToolCall, TurnResult, is_final

_EVENTS = {"step": StepEvent, "token": TokenEvent, "done": DoneEvent, "error": ErrorEvent}


def _fits(value: dict, typed) -> bool:
    """Every key is declared, and every required one is there."""
    return set(value) <= set(typed.__annotations__) and typed.__required_keys__ <= set(value)


def test_a_streamed_turn_is_the_declared_events_and_result(live):
    _, svc = live
    events = list(svc.stream("what are the main topics in reviews?", channel="test", tool=("topics", {"kind": "review"})))
    assert [is_final(e) for e in events] == [False] * (len(events) - 1) + [True]
    for e in events:
        assert _fits(e, _EVENTS[e["type"]]), e.keys()
    r = events[-1]["result"]
    assert _fits(r, TurnResult), set(r) ^ set(TurnResult.__annotations__)
    assert r["tool_calls"] and all(_fits(c, ToolCall) for c in r["tool_calls"])
    assert isinstance(r["message_id"], int) and r["conversation_id"]  # what the service adds is declared too


def test_an_error_is_the_declared_error_event(live):
    _, svc = live
    (ev,) = list(svc.stream("   ", channel="test"))
    assert ev["type"] == "error" and _fits(ev, ErrorEvent) and ev["status"] == 400
