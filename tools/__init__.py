"""Pulse's tools, registered in one place: ``REGISTRY``.

To add a tool, write ``tools/<name>.py`` with a function decorated by
:func:`tools.base.tool`, then add one line to ``REGISTRY`` below.
"""

from .base import Tool, ToolContext, ToolError, ToolResult, tool
from .search import search_corpus
from .shop import shop_lookup
from .sql import sql_query

REGISTRY: dict[str, Tool] = {t.name: t for t in [
    search_corpus,
    shop_lookup,
    sql_query,
]}

__all__ = ["REGISTRY", "Tool", "ToolContext", "ToolError", "ToolResult", "tool"]
