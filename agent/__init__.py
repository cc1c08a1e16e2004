"""The Pulse agent: a local generator that calls tools and answers with citations.

The names below load on first use, so that reading a registry (``agent.models``
fills the generator backends) does not import the graph, the tools and LangGraph.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .agents import Agent, AgentInputError
    from .models import ChatModel, Completion, load_model
    from .results import StreamEvent, ToolCall, TurnResult
    from .toolbox import Toolbox

__all__ = [
    "Agent",
    "AgentInputError",
    "ChatModel",
    "Completion",
    "Toolbox",
    "load_model",
    "StreamEvent",
    "ToolCall",
    "TurnResult",
]

_WHERE = {
    "Agent": ".agents",
    "AgentInputError": ".agents",
    "ChatModel": ".models",
    "Completion": ".models",
    "load_model": ".models",
    "Toolbox": ".toolbox",
    "StreamEvent": ".results",
    "ToolCall": ".results",
    "TurnResult": ".results",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
