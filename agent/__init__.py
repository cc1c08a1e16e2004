"""The Pulse agent: a local generator that calls tools and answers with citations."""

from .agents import Agent, AgentInputError
from .models import ChatModel, Completion, load_model
from .toolbox import Toolbox

__all__ = ["Agent", "AgentInputError", "ChatModel", "Completion", "Toolbox", "load_model"]
