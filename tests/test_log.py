"""The conversation log (agent/log.py): migrations, messages, feedback, support cases, on a real SQLite file."""

from __future__ import annotations

import sqlite3

import pytest

from agent.log import MIGRATIONS, Log


def test_migrations_run_once_in_order_and_survive_reopening(tmp_path):
    path = tmp_path / "log.sqlite"
    log = Log(path)
    cid = log.new_conversation("web", title="first")
    log.add_message(cid, "user", "hi", question="hi")
    log.close()
    again = Log(path)  # reopening applies nothing twice and keeps the data
    versions = [r[0] for r in sqlite3.connect(path).execute("SELECT version FROM _migrations ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    assert [m["content"] for m in again.messages(cid)] == ["hi"]


def test_a_failing_migration_applies_nothing(tmp_path, monkeypatch):
    import agent.log as mod

    monkeypatch.setattr(mod, "MIGRATIONS", [*MIGRATIONS, "CREATE TABLE half (x INTEGER); THIS IS NOT SQL"])
    with pytest.raises(sqlite3.OperationalError):
        Log(tmp_path / "log.sqlite")
    db = sqlite3.connect(tmp_path / "log.sqlite")
    assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchall()
    assert db.execute("SELECT max(version) FROM _migrations").fetchone()[0] == len(MIGRATIONS)


def test_feedback_keeps_question_trace_and_answer(tmp_path):
    log = Log(tmp_path / "log.sqlite")
    cid = log.new_conversation("web")
    log.add_message(cid, "user", "top topics?", question="top topics?")
    mid = log.add_message(
        cid,
        "assistant",
        "Fit and fabric [1].",
        question="top topics?",
        tool_calls=[{"name": "topics", "args": {"kind": "review"}}],
        sources=[{"n": 1, "doc_id": 5}],
    )
    log.add_feedback(mid, -1, "too vague")
    fb = log.feedback()[0]
    assert (fb["rating"], fb["question"], fb["answer"], fb["tool_calls"][0]["name"], fb["comment"]) == (
        -1,
        "top topics?",
        "Fit and fabric [1].",
        "topics",
        "too vague",
    )
    with pytest.raises(ValueError):
        log.add_feedback(mid, 5)
    with pytest.raises(KeyError):
        log.add_feedback(mid - 1, 1)  # a user message cannot be rated
    assert log.conversations("web")[0]["title"] == "top topics?"


def test_support_sessions_expire_and_pending_actions_round_trip(tmp_path):
    log = Log(tmp_path / "log.sqlite")
    cid = log.new_conversation("support", customer_id="42")
    log.add_support_session("h-live", cid, "42", ttl_s=60)
    log.add_support_session("h-old", cid, "42", ttl_s=-1)
    assert log.support_session("h-old") is None
    log.set_pending("h-live", {"action": "return", "order_id": "42-1"})
    assert log.support_session("h-live")["pending_action"] == {"action": "return", "order_id": "42-1"}
    h = log.add_handoff(cid, "42", "requested", "a person please")
    assert log.open_handoff(cid)["id"] == h["id"] and log.handoffs()[0]["reason"] == "requested"
