"""The semantic layer: known aggregate shapes compiled to SQL, checked against hand-written SQL on the real workspace."""

from datetime import date

import pytest

from agent.semantic import parse
from tools.sql import check_sql

TODAY = date(1998, 7, 1)


@pytest.fixture(scope="module")
def ws(demo_ws):
    from workspace import Workspace

    w = Workspace.open(demo_ws, read_only=True)
    yield w
    w.close()


def _val(ws, sql):
    return [tuple(r.values()) for r in ws.query(sql)]


@pytest.mark.parametrize(
    "question, truth",
    [
        (
            "number of orders placed in April 1997?",
            "SELECT count(*) FROM orders WHERE order_date >= '1997-04-01' AND order_date < '1997-05-01'",
        ),
        ("total sales during 1998", "SELECT round(sum(total), 2) FROM orders WHERE year(order_date) = 1998"),
        (
            "what was the mean order value in Q2 1997?",
            "SELECT round(avg(total), 2) FROM orders WHERE order_date >= '1997-04-01' AND order_date < '1997-07-01'",
        ),
        ("count of 5-star reviews", "SELECT count(*) FROM reviews WHERE rating = 5"),
        (
            "what percent of reviewers recommend what they bought?",
            "SELECT round(100.0 * avg(CASE WHEN recommended THEN 1 ELSE 0 END), 1) FROM reviews",
        ),
        ("what fraction of posts are reposts?", "SELECT round(100.0 * avg(CASE WHEN is_repost THEN 1 ELSE 0 END), 1) FROM posts"),
        (
            "which year had the most revenue?",
            "SELECT year(order_date), round(sum(total), 2) FROM orders GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
        ),
        ("top 3 customers by number of orders", "SELECT customer_id, count(*) FROM orders GROUP BY 1 ORDER BY 2 DESC LIMIT 3"),
        ("how many reviews per star rating?", "SELECT rating, count(*) FROM reviews GROUP BY 1 ORDER BY 2 DESC"),
    ],
)
def test_known_shapes_compute_what_hand_written_sql_computes(ws, question, truth):
    q = parse(question, TODAY)
    assert q is not None, question
    check_sql(q.sql())  # it passes the SQL tool's own checks
    assert _val(ws, q.sql()) == _val(ws, truth)


def test_a_category_filter_joins_the_catalog(ws):
    cats = [r["c"] for r in ws.query("SELECT DISTINCT category AS c FROM products WHERE category IS NOT NULL")]
    cat = next(c for c in cats if c.lower().endswith("s"))
    q = parse(f"average rating of {cat.lower()}", TODAY, categories=cats)
    truth = ws.query(
        "SELECT round(avg(r.rating), 2) AS v FROM reviews r JOIN products p USING (product_id) WHERE p.category = ?", [cat]
    )
    assert q.category == cat and ws.query(q.sql())[0]["avg_rating"] == truth[0]["v"]


@pytest.mark.parametrize(
    "question",
    [
        "how many customers placed more than 5 orders?",
        "orders that contain more than 3 items",
        "what is the weather like?",
        "customers who never ordered twice",
    ],
)
def test_unknown_shapes_are_left_to_the_generator(question):
    assert parse(question, TODAY) is None


def test_a_follow_up_keeps_the_metric_and_swaps_the_period():
    first = parse("how many orders were placed in January 1998?", TODAY)
    q = parse("and in March 1998?", TODAY, prev=first)
    assert q.metric.name == "orders" and (q.since, q.until) == (date(1998, 3, 1), date(1998, 4, 1))
    q = parse("and the revenue?", TODAY, prev=first)
    assert q.metric.name == "revenue" and q.since == date(1998, 1, 1)
