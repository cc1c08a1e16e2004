"""The question's language and the Chinese gloss (agent/lang.py, pulse/lang.py): pure code, no models."""

from datetime import date

import pytest

from agent.lang import gloss
from agent.semantic import parse
from agent.understand import is_follow_up
from pulse.lang import is_chinese, language_of

TODAY = date(1998, 7, 1)


def test_language_is_the_share_of_chinese_letters():
    assert language_of("上个月的订单有多少?") == "zh" and language_of("how many orders last month?") == "en"
    assert is_chinese("iPhone 12 的电池很耐用") and not is_chinese("I loved the 酒店")
    assert language_of("") == "en" and language_of("12345 !!!") == "en"


def test_gloss_keeps_dates_and_subjects_and_reads_ids():
    g = gloss("客户42在1997年第三季度的订单")
    assert "customer 42" in g and "1997年第三季度" in g and "orders" in g
    assert gloss("订单号 10248 的状态") == "order 10248 的 status"
    assert "酒店" in gloss("大家对酒店服务怎么说") and gloss("how many orders?") == "how many orders?"
    assert gloss("前5名客户的收入").startswith("top 5")


@pytest.mark.parametrize(
    "question, sql",
    [
        (
            "1997年一共有多少订单?",
            "SELECT count(*) AS orders FROM orders WHERE order_date >= DATE '1997-01-01' AND order_date < DATE '1998-01-01'",
        ),
        (
            "上个月的销售额",
            "SELECT round(sum(total), 2) AS revenue FROM orders WHERE order_date >= DATE '1998-06-01' "
            "AND order_date < DATE '1998-07-01'",
        ),
        (
            "去年有多少位客户下过单?",
            "SELECT count(DISTINCT customer_id) AS customers FROM orders WHERE order_date >= DATE '1997-01-01' "
            "AND order_date < DATE '1998-01-01'",
        ),
        (
            "1997年每月的订单数",
            "SELECT strftime(date_trunc('month', order_date), '%Y-%m') AS month, count(*) AS orders FROM orders "
            "WHERE order_date >= DATE '1997-01-01' AND order_date < DATE '1998-01-01' GROUP BY 1 ORDER BY 1",
        ),
        (
            "前3名客户的销售额",
            "SELECT customer_id, round(sum(total), 2) AS revenue FROM orders GROUP BY 1 ORDER BY 2 DESC LIMIT 3",
        ),
        ("五星评论有多少条?", "SELECT count(*) AS reviews FROM reviews WHERE rating = 5"),
    ],
)
def test_chinese_aggregate_questions_compile_to_the_same_sql_as_english(question, sql):
    q = parse(gloss(question), TODAY)
    assert q is not None and q.sql() == sql


def test_chinese_descriptions_and_follow_ups():
    q = parse(gloss("1997年第三季度的平均订单金额"), TODAY)
    assert q.describe("zh") == "1997年第三季度(1997-07-01 至 1997-10-01(不含))的平均订单金额"
    assert is_follow_up(gloss("那1997年4月呢?")) and not is_follow_up(gloss("1997年一共有多少订单?"))


@pytest.mark.parametrize(
    "question, args",
    [
        # a span ahead of the data is a forecast horizon, never a date range of past data
        ("预测未来8周的订单数", {"metric": "orders", "horizon": "next 8 weeks"}),
        ("下个季度的收入会是多少?", {"metric": "revenue", "horizon": "next quarter"}),
        ("接下来三个月每月的订单", {"metric": "orders", "horizon": "next 3 months", "freq": "M"}),
        ("明年的销售额预计是多少?", {"metric": "revenue", "horizon": "next year"}),
    ],
)
def test_chinese_horizons_are_read_as_forecast_arguments(question, args):
    from agent.slots import fill

    f = fill("forecast", gloss(question), TODAY)
    assert {k: f.args.get(k) for k in args} == args


@pytest.mark.parametrize(
    "question, args",
    [
        ("关于散热的评论情感怎么样?", {"kind": "review", "query": "散热"}),  # the subject is kept, framing words are not
        ("大家对早餐的评价是正面还是负面?", {"query": "早餐"}),
        ("评论的情感总体怎么样?", {"kind": "review", "query": None}),  # no subject: all reviews
        ("正面情绪的评论占多少比例?", {"kind": "review", "query": None}),  # "比例" (share) frames, it is no subject
        ("2024年3月关于物流的帖子情感", {"kind": "post", "since": "2024-03-01", "until": "2024-04-01"}),
    ],
)
def test_chinese_slices_keep_their_subject_and_nothing_else(question, args):
    from agent.slots import fill

    f = fill("sentiment", gloss(question), TODAY)
    assert {k: f.args.get(k) for k in args} == args
