"""Date phrases resolved in code before routing (agent/dates.py), and what the router is shown."""

from datetime import date

import pytest

from agent.dates import describe_dates, resolve_dates, with_ranges

TODAY = date(1998, 7, 1)  # the day after the demo's newest order


@pytest.mark.parametrize(
    "text, expected",
    [
        ("orders in March 1998", [("March 1998", "1998-03-01", "1998-04-01")]),
        ("revenue for Q4 1997", [("Q4 1997", "1997-10-01", "1998-01-01")]),  # the year rolls over
        ("the third quarter of 1997", [("the third quarter of 1997", "1997-07-01", "1997-10-01")]),
        ("the second half of 1997", [("the second half of 1997", "1997-07-01", "1998-01-01")]),
        ("H1 1998", [("H1 1998", "1998-01-01", "1998-07-01")]),
        ("sales in Sept. 1997", [("Sept. 1997", "1997-09-01", "1997-10-01")]),
        ("posts during 2016", [("2016", "2016-01-01", "2017-01-01")]),
        ("last quarter", [("last quarter", "1998-04-01", "1998-07-01")]),
        ("this quarter", [("this quarter", "1998-07-01", "1998-10-01")]),
        ("last month", [("last month", "1998-06-01", "1998-07-01")]),
        ("previous year", [("previous year", "1997-01-01", "1998-01-01")]),
        ("the last 14 days", [("last 14 days", "1998-06-17", "1998-07-01")]),
        ("Q1 1998 vs Q1 1997", [("Q1 1998", "1998-01-01", "1998-04-01"), ("Q1 1997", "1997-01-01", "1997-04-01")]),
        ("customer 1997 and order 2016-01-02", []),  # ids and ISO dates are not phrases to resolve
        ("what do people say about dresses?", []),
    ],
)
def test_phrases_resolve_to_exclusive_ranges(text, expected):
    got = [(s.phrase, s.start.isoformat(), s.end.isoformat()) for s in resolve_dates(text, TODAY)]
    assert got == expected


def test_relative_phrases_cross_year_boundaries():
    assert str(resolve_dates("last month", date(1998, 1, 15))[0]) == "last month = 1997-12-01 to 1998-01-01 (end exclusive)"
    assert str(resolve_dates("last quarter", date(1998, 2, 1))[0]).startswith("last quarter = 1997-10-01 to 1998-01-01")
    assert describe_dates("hello", TODAY) == ""


def test_the_semantic_router_compares_the_text_with_ranges_in_place():
    assert (
        with_ranges("revenue last month vs Q1 1998?", TODAY)
        == "revenue from 1998-06-01 to 1998-07-01 vs from 1998-01-01 to 1998-04-01?"
    )
    assert with_ranges("no dates here", TODAY) == "no dates here"


def test_the_router_is_shown_the_ranges_counted_from_the_workspace(demo_ws, settings_factory, small_model):
    from agent import Agent
    from retrieval import Index
    from workspace import Workspace

    s = settings_factory(demo_ws, model="smollm2-135m", max_tokens=32, pipeline="generator")  # what the generator is shown
    ws = Workspace.open(demo_ws, read_only=True)
    agent = Agent(s, ws, Index.open(ws, s), small_model)
    seen = []
    real = small_model.complete
    small_model.complete = lambda messages, **kw: (seen.append(messages), real(messages, **kw))[1]
    try:
        assert agent.today == date(1998, 7, 1)  # the day after the newest order in the workspace
        agent.choose("how many orders came in last quarter, and in Q3 1997?")
    finally:
        small_model.complete = real
        agent._sessions.close()
    user = seen[0][-1]["content"]
    assert (
        "Dates in this message: last quarter = 1998-04-01 to 1998-07-01 (end exclusive); "
        "Q3 1997 = 1997-07-01 to 1997-10-01 (end exclusive)." in user
    )
    pinned = Agent(settings_factory(demo_ws, today="2016-12-25"), ws, Index.open(ws, s), small_model)
    assert pinned.today == date(2016, 12, 25)
    pinned._sessions.close()
    ws.close()


@pytest.mark.parametrize(
    "text, want",
    [
        ("上个月的订单", [("上个月", "1998-06-01", "1998-07-01")]),
        ("上上个月", [("上上个月", "1998-05-01", "1998-06-01")]),
        ("本季度", [("本季度", "1998-07-01", "1998-10-01")]),
        ("上周", [("上周", "1998-06-22", "1998-06-29")]),
        ("去年和前年", [("去年", "1997-01-01", "1998-01-01"), ("前年", "1996-01-01", "1997-01-01")]),
        ("2024年3月的销售额", [("2024年3月", "2024-03-01", "2024-04-01")]),
        ("1997年十二月", [("1997年十二月", "1997-12-01", "1998-01-01")]),
        ("今年第二季度", [("今年第二季度", "1998-04-01", "1998-07-01")]),
        ("第三季度收入", [("第三季度", "1997-07-01", "1997-10-01")]),  # the latest third quarter begun before today
        ("1997年上半年", [("1997年上半年", "1997-01-01", "1997-07-01")]),
        ("最近30天", [("最近30天", "1998-06-01", "1998-07-01")]),
        ("近三个月的评论", [("近三个月", "1998-04-01", "1998-07-01")]),
        ("2019年的帖子", [("2019年", "2019-01-01", "2020-01-01")]),
        ("1997年13月", []),  # no such month
        ("第五季度", []),
    ],
)
def test_chinese_date_phrases(text, want):
    got = [(s.phrase, s.start.isoformat(), s.end.isoformat()) for s in resolve_dates(text, date(1998, 7, 1))]
    assert got == want
