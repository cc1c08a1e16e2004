"""Pulse's tools, registered in one place: ``pulse.plugins.TOOLS`` (``REGISTRY`` here).

To add a tool, write ``tools/<name>.py`` with a function decorated by
:func:`tools.base.tool`, then add one line to the list below.
"""

from pulse.plugins import TOOLS

from . import alerts, customers, entities, forecast, recommend, reply, reviews, search, sentiment, shop, sql, support, topics
from .base import Tool, ToolContext, ToolError, ToolResult, tool

for _t in [
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
]:
    TOOLS.register(_t.name, _t)

#: The analyst's tools (the registry itself: a tool registered later is seen by agents opened later).
REGISTRY = TOOLS

#: The customer-service bot's tools: scoped to the signed-in customer, no SQL (tools/support.py).
SUPPORT_TOOLS: dict[str, Tool] = dict(support.SUPPORT_TOOLS)

__all__ = ["REGISTRY", "SUPPORT_TOOLS", "Tool", "ToolContext", "ToolError", "ToolResult", "tool"]
