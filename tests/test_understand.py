"""The fast path end to end: real workspace, FAISS, trained models and intent model; the generator is a script
that fails the test if the turn should not have needed it.

Covers follow-up resolution, small talk after small talk, a multi-tool comparison, composed answers that are
grounded and state only figures SQL also computes, a required id the message never gave, and both pipelines.
"""

import json
from datetime import date

import pytest

from agent import Agent, ChatModel, Completion
from agent.understand import is_follow_up


class _Script(ChatModel):
    """The generator seam: replays outputs; with none left, any call fails the test."""

    backend, name = "scripted", "scripted"

    def __init__(self, outputs=()):
        self.outputs, self.calls = list(outputs), []

    def _complete(self, messages, **kw):
        self.calls.append(messages)
        assert self.outputs, f"the generator was called: {messages[-1]['content'][:200]}"
        return Completion(self.outputs.pop(0))


@pytest.fixture(scope="module")
def parts(trained_ws, settings_factory):
    from retrieval import Index
    from workspace import Workspace

    s = settings_factory(trained_ws)
    ws = Workspace.open(trained_ws, read_only=True)
    index = Index.open(ws, s)
    yield s, ws, index
    ws.close()


def _agent(parts, model, **kw):
    s, ws, index = parts
    if kw:
        s = s.model_copy(update=kw)
    return Agent(s, ws, index, model)


@pytest.fixture
def fast(parts):
    model = _Script()
    a = _agent(parts, model)
    yield a, model
    a._sessions.close()


def _one(ws, sql):
    return next(iter(ws.query(sql)[0].values()))


def test_structured_questions_are_answered_by_code_without_the_generator(fast):
    a, model = fast
    ws = a.ws
    r = a.ask("what did customer 42 spend altogether?")
    assert [c["name"] for c in r["tool_calls"]] == ["shop_lookup"] and r["tool_calls"][0]["args"]["id"] == "42"
    spent = _one(ws, "SELECT round(sum(total), 2) FROM orders WHERE customer_id = '42'")
    assert f"{spent:.2f}" in r["answer"]
    r = a.ask("how many orders were placed in May 1997?")
    n = _one(ws, "SELECT count(*) FROM orders WHERE order_date >= DATE '1997-05-01' AND order_date < DATE '1997-06-01'")
    assert f"{n:,}" in r["answer"] and r["grounded"] and r["timings"]["composed"]
    assert not model.calls  # no decode in either turn


def test_follow_ups_keep_the_tool_and_swap_the_new_slot(fast):
    a, _ = fast
    ws = a.ws
    a.ask("how many orders came in during March 1998?", session_id="f1")
    r = a.ask("and in April 1998?", session_id="f1")
    assert r["timings"]["router_hint"] == "follow-up" and "1998-04-01" in r["tool_calls"][0]["args"]["sql"]
    n = _one(ws, "SELECT count(*) FROM orders WHERE order_date >= DATE '1998-04-01' AND order_date < DATE '1998-05-01'")
    assert f"{n:,}" in r["answer"]
    a.ask("how many orders has customer 7 placed?", session_id="f2")
    r = a.ask("and what did they spend altogether?", session_id="f2")
    assert r["tool_calls"][0]["args"] == {"entity": "customer", "id": "7"}
    spent = _one(ws, "SELECT round(sum(total), 2) FROM orders WHERE customer_id = '7'")
    assert f"{spent:,.2f}" in r["answer"]
    assert "42" not in r["answer"]  # nothing from another conversation leaks in


def test_small_talk_after_small_talk_stays_small_talk(parts):
    model = _Script(["Hi! Nice to meet you.", "Ha, yes, really!"])
    a = _agent(parts, model)
    try:
        a.ask("hey, how's your week been?", session_id="chat")
        r = a.ask("oh really? tell me more", session_id="chat")
    finally:
        a._sessions.close()
    assert r["tool_calls"] == [] and len(model.calls) == 2
    assert model.calls[1][1]["role"] == "user" and model.calls[1][2]["role"] == "assistant"  # the last exchange, as chat


def test_a_comparison_runs_one_call_per_side_and_answers_both(fast):
    a, _ = fast
    r = a.ask("orders in Q3 vs Q4 1997")
    assert [c["name"] for c in r["tool_calls"]] == ["sql_query", "sql_query"]
    for start, end in (("1997-07-01", "1997-10-01"), ("1997-10-01", "1998-01-01")):
        n = _one(a.ws, f"SELECT count(*) FROM orders WHERE order_date >= DATE '{start}' AND order_date < DATE '{end}'")
        assert f"{n:,}" in r["answer"]
    r = a.ask("compare the sentiment of dresses and jackets")
    assert [c["args"].get("query") for c in r["tool_calls"]] == ["dresses", "jackets"] and r["grounded"]


def test_a_required_id_is_asked_for_never_invented(parts):
    model = _Script([json.dumps({"tool": "customer_profile", "args": {"customer_id": "1234567890"}})])
    a = _agent(parts, model)
    try:
        r = a.ask("what churn risk does that shopper have?")
    finally:
        a._sessions.close()
    assert r["tool_calls"] == [] and "1234567890" not in r["answer"] and "customer id" in r["answer"]


def test_prose_answers_show_the_quotes_first_and_read_compact_evidence(parts):
    model = _Script(["Reviewers mostly say the sizing runs small [1]."])
    a = _agent(parts, model)
    pieces = []
    try:
        r = a.ask("what do reviewers say about dress sizing?", on_token=pieces.append)
    finally:
        a._sessions.close()
    assert r["tool_calls"][0]["name"] == "search_corpus"
    assert pieces[0].startswith("From the") and "[1]" in pieces[0]  # on screen before the generator's first token
    prompt = model.calls[0][-1]["content"]
    assert len(prompt) < 2000 and r["answer"].endswith("Reviewers mostly say the sizing runs small [1].")


def test_both_pipelines(parts):
    plan = json.dumps({"tool": "shop_lookup", "args": {"entity": "customer", "id": "42"}})
    model = _Script([plan, "Customer 42 placed 2 orders totalling $38.32."])
    a = _agent(parts, model, pipeline="generator")
    try:
        r = a.ask("how much has customer 42 spent?")
    finally:
        a._sessions.close()
    assert len(model.calls) == 2 and r["answer"] == "Customer 42 placed 2 orders totalling $38.32."


@pytest.mark.parametrize(
    "text, expected",
    [
        ("and in February?", True),
        ("what about buttons?", True),
        ("how many orders did customer 9 place?", False),
        ("what do customers say about sizing?", False),
    ],
)
def test_is_follow_up(text, expected):
    assert is_follow_up(text) is expected


def test_today_is_the_day_after_the_data(fast):
    assert fast[0].today == date(1998, 7, 1)


@pytest.mark.parametrize(
    "text", ["please remove every review from 2016", "drop the customers table", "update the orders of customer 5 to cancelled"]
)
def test_a_request_to_change_data_is_refused_in_code(fast, text):
    a, model = fast
    r = a.ask(text)
    assert r["tool_calls"] == [] and "only reads" in r["answer"] and not model.calls


def test_two_products_are_ranked_by_code_to_the_decimal_that_separates_them(fast):
    a, model = fast
    top = a.ws.query(
        "SELECT product_id, avg(rating) AS m FROM reviews GROUP BY 1 HAVING count(*) >= 5 ORDER BY count(*) DESC LIMIT 2"
    )
    (p1, m1), (p2, m2) = [(r["product_id"], r["m"]) for r in top]
    r = a.ask(f"summarise the reviews of product {p1} and product {p2}: which one is rated higher?")
    assert [c["name"] for c in r["tool_calls"]] == ["review_analysis", "review_analysis"]
    best = p1 if m1 > m2 else p2
    said = "have the same average rating" if m1 == m2 else f"Product {best} has the higher average rating"
    assert said in r["answer"] and r["grounded"]
    assert not model.calls  # both analyses and the ranking are written by code


def test_a_chinese_text_to_score_is_scored_as_the_user_wrote_it(zh_ws, settings_factory):
    from agent.understand import understand
    from retrieval import Index
    from workspace import Workspace

    s = settings_factory(zh_ws)
    with Workspace.open(zh_ws, read_only=True) as ws:
        a = Agent(s, ws, Index.open(ws, s, role="query"), _Script())
        p = understand("这句话是好评还是差评:物流很快，质量很好，下次还买", a.intents, [], a.today, a.categories, a.tools)
        a._sessions.close()
    # code reads the tool and its text, and the text is the user's own words, not their gloss ("shipping ...")
    assert p.calls == [{"tool": "sentiment", "args": {"text": "物流很快，质量很好，下次还买"}}]
