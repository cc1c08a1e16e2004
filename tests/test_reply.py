"""Reply drafts: the case's facts, the tone policy, and no promise that no fact confirms.

The generator is scripted in two tests so a promise appears on cue (the only way
to test the refusal path deterministically); the default model drafts one real reply.
Bad input we tried: an unknown review id, an unknown order id, a review that asks for a refund.
"""

import json

import pytest
from conftest import DEFAULT_MODEL

from agent import Agent
from agent.grounding import confirmed_facts, unconfirmed_promises
from tools import ToolError
from tools.reply import gather_case


def test_promises_need_a_confirmed_fact():
    assert unconfirmed_promises("We will refund you and send a replacement.", ["status delivered"]) == ["refund", "replacement"]
    assert unconfirmed_promises("Your refund was issued.", ["status refunded"]) == []
    assert unconfirmed_promises("Thanks for the feedback, we'll look into it.", []) == []
    # what the customer wrote confirms nothing
    assert "refund" not in confirmed_facts({"text": "I want a refund", "orders": [{"status": "delivered"}]})


def test_case_facts_come_from_the_workspace(toolbox):
    ws = toolbox.ctx.ws
    rid = ws.query("SELECT review_id FROM reviews WHERE rating <= 2 ORDER BY review_id LIMIT 1")[0]["review_id"]
    case = gather_case(ws, "review", rid)
    row = ws.query("SELECT * FROM reviews WHERE review_id = ?", [rid])[0]
    assert case["text"] == row["text"] and case["rating"] == row["rating"]
    assert case["product"]["product_id"] == row["product_id"]
    r = toolbox.call("draft_reply", {"id": rid})
    assert "Tone policy" in r.summary and "Confirmed actions: none" in r.summary
    with pytest.raises(ToolError, match="no review"):
        toolbox.call("draft_reply", {"id": "no-such-review"})
    with pytest.raises(ToolError, match="no order"):
        toolbox.call("draft_reply", {"id": rid, "order_id": "no-such-order"})


def test_a_promised_refund_is_rewritten_then_refused(trained_ws, settings_factory, toolbox, scripted):
    rid = toolbox.ctx.ws.query("SELECT review_id FROM reviews WHERE rating = 1 LIMIT 1")[0]["review_id"]
    model = scripted(["We are sorry! We will refund you in full.", "Sorry, a full refund is on its way."])
    a = Agent(settings_factory(trained_ws), toolbox.ctx.ws, toolbox.ctx.index, model)
    try:
        r = a.ask(f"draft a reply to review {rid}", tool=("draft_reply", {"id": rid}))
    finally:
        a._sessions.close()
    assert r["tool_calls"][0]["name"] == "draft_reply" and r["timings"]["rewrites"] == 1
    assert r["grounded"] is False and "promises no fact confirms: refund" in r["answer"]
    assert "refund" in model.calls[-1][-1]["content"]  # the rewrite request named the promise
    assert model.calls[0][0]["content"].startswith("You are Pulse, drafting a reply")  # the reply prompt, not the answer one


def test_analyst_answers_may_talk_about_refunds(trained_ws, settings_factory, toolbox, scripted):
    # the promise check guards replies written for the shop, not analysis: "no refunds" here is a finding
    plan = json.dumps({"tool": "shop_lookup", "args": {"entity": "customer", "id": "42"}})
    a = Agent(
        settings_factory(trained_ws, pipeline="generator"),
        toolbox.ctx.ws,
        toolbox.ctx.index,
        scripted([plan, "Customer 42 placed 2 orders totalling $38.32; neither was refunded."]),
    )
    try:
        r = a.ask("how much has customer 42 spent, and any refunds?")
    finally:
        a._sessions.close()
    assert r["grounded"] and r["timings"]["rewrites"] == 0


def test_reply_cli_needs_a_target(capsys):
    from bots.cli import main

    assert main(["reply"]) == 2 and "--review" in capsys.readouterr().err


def test_the_default_model_drafts_a_grounded_reply(trained_ws):
    a = Agent.from_workspace(trained_ws, model=DEFAULT_MODEL)
    try:
        rid = a.ws.query("SELECT review_id FROM reviews WHERE rating <= 2 ORDER BY review_id LIMIT 1")[0]["review_id"]
        r = a.ask(f"draft a reply to review {rid}", tool=("draft_reply", {"id": rid}))
    finally:
        a.close()
    assert r["grounded"], r["answer"]
    assert not unconfirmed_promises(r["answer"], []) and len(r["answer"]) > 80
    assert json.dumps(r["tool_calls"][0]["args"]) == json.dumps({"id": rid})
