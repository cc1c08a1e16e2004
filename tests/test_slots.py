"""Arguments read by code: each one stated in the message, none invented."""

from datetime import date

import pytest

from agent.slots import fill, ids_in, subject_of

TODAY = date(1998, 7, 1)


@pytest.mark.parametrize(
    "tool, text, args",
    [
        ("shop_lookup", "what has customer #315 spent?", {"entity": "customer", "id": "315"}),
        ("shop_lookup", "list the orders of customer 9", {"entity": "orders", "id": "9"}),
        ("shop_lookup", "price of product 936?", {"entity": "product", "id": "936"}),
        ("recommend", "picks for user ml-450", {"user_id": "ml-450"}),
        ("recommend", "films similar to ml-260", {"item_id": "ml-260"}),
        (
            "forecast",
            "project monthly revenue for the next 6 months",
            {"metric": "revenue", "horizon": "next 6 months", "freq": "M"},
        ),
        ("forecast", "daily orders over the next 30 days", {"metric": "orders", "freq": "D"}),
        ("customer_profile", "is client 4410 likely to leave?", {"customer_id": "4410"}),
        ("review_analysis", "pros and cons of item 829", {"product_id": "829"}),
        (
            "draft_reply",
            "answer review wcr-77 about order 42-19970101-1",
            {"kind": "review", "id": "wcr-77", "order_id": "42-19970101-1"},
        ),
        ("alerts", "alerts during 2016", {"since": "2016-01-01", "until": "2017-01-01"}),
        ("sentiment", 'score this: "never again, it broke"', {"text": "never again, it broke"}),
        ("sentiment", "weekly sentiment of tweets about taxes", {"kind": "post", "query": "taxes", "by": "week"}),
        ("topics", "6 topics in the reviews of knit tops", {"kind": "review", "query": "knit tops", "n_topics": 6}),
        ("order_action", "please cancel order 5-19970303-1", {"action": "cancel", "order_id": "5-19970303-1"}),
    ],
)
def test_code_reads_the_arguments_the_message_states(tool, text, args):
    f = fill(tool, text, TODAY)
    assert {k: f.args.get(k) for k in args} == args and not f.missing


@pytest.mark.parametrize(
    "tool, text, missing",
    [
        ("shop_lookup", "how many customers ordered twice?", ["entity", "id"]),
        ("customer_profile", "is that customer at risk?", ["customer_id"]),
        ("review_analysis", "what do people dislike about the dress?", ["product_id"]),
        ("sql_query", "median basket per weekday", ["sql"]),
    ],
)
def test_an_argument_the_message_does_not_give_is_left_missing_not_invented(tool, text, missing):
    f = fill(tool, text, TODAY)
    assert f.missing == missing
    assert not any(k.endswith("id") for k in f.args)


def test_ids_and_subjects():
    assert ids_in("compare product 1078 with customer 42") == {"customer_id": "42", "product_id": "1078"}
    assert subject_of("what is the mood of the posts about the economy in 2016?", TODAY) == "economy"
    assert subject_of("what are the big topics across all reviews?", TODAY) is None
