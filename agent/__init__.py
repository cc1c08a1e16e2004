"""The Pulse agent: a local generator that calls tools and answers with citations."""

from .agents import Agent, AgentInputError
from .models import ChatModel, Completion, load_model

__all__ = ["Agent", "AgentInputError", "ChatModel", "Completion", "load_model"]
