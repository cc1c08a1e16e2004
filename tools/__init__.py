"""Pulse's tools, registered in one place: ``REGISTRY``.

To add a tool, write ``tools/<name>.py`` with a function decorated by
:func:`tools.base.tool`, then add one line to ``REGISTRY`` below.
"""

from . import alerts, customers, entities, forecast, recommend, reply, reviews, search, sentiment, shop, sql, topics
from .base import Tool, ToolContext, ToolError, ToolResult, tool

REGISTRY: dict[str, Tool] = {t.name: t for t in [
    search.search_corpus,
    shop.shop_lookup,
    sql.sql_query,
    sentiment.sentiment,
    topics.topics,
    entities.entities,
    recommend.recommend,
    forecast.forecast,
    customers.customer_profile,
    reviews.review_analysis,
    alerts.alerts,
    reply.draft_reply,
]}

__all__ = ["REGISTRY", "Tool", "ToolContext", "ToolError", "ToolResult", "tool"]
