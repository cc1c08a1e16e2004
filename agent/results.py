"""Typed results: what one turn returns, and the events a streamed turn sends.

Every front end reads these (the web UI, the support API, Discord, the OpenAI
API, the terminal CLI, the eval runner), so their keys are declared once here
and checked by the type checker in ``make test``: a channel that reads a
misspelt key fails CI, not a user. They are ``TypedDict``s, not classes, on
purpose: a turn's result is JSON all the way (the API sends it, the log stores
it, LangGraph checkpoints its parts), and a typed dict is that JSON with its
shape known, with no conversion at any boundary.

    >>> ev: StreamEvent = {"type": "token", "text": "Hi"}
    >>> is_final(ev), is_final({"type": "error", "error": "the message is empty", "status": 400})
    (False, True)

A stream is ``step`` events (a tool starts or ends), ``token`` events (text as
it is written), then one ``done`` (carrying the :class:`TurnResult`) or one
``error`` (with the HTTP status it maps to: 400 the user's input, 499 stopped,
500 a fault).

What it leaves out: validation at run time (the core builds these; nothing
parses them from outside), and the support desk's session records.
"""

# no ``from __future__ import annotations`` here: on Python 3.11 it hides NotRequired from TypedDict, and every
# key would count as required (``__required_keys__``, which tests/test_results.py checks real turns against)
from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "ToolCall",
    "Source",
    "TurnResult",
    "StepEvent",
    "TokenEvent",
    "DoneEvent",
    "ErrorEvent",
    "StreamEvent",
    "is_final",
]


class ToolCall(TypedDict):
    """One tool call of a turn: its arguments and either its result (``ToolResult`` as JSON) or its error."""

    name: str
    args: dict[str, Any]
    result: dict[str, Any] | None  # {"data", "summary", "sources", "chart"}
    error: str | None
    duration_s: float


class Source(TypedDict, total=False):
    """A citable document, numbered as the answer cites it (``[n]``)."""

    n: int
    doc_id: int
    kind: str
    ref_id: str
    product_id: str | None
    customer_id: str | None
    created_at: str | None
    text: str


class TurnResult(TypedDict):
    """One finished turn. The service adds the log's ids; the support desk adds what its policy decided."""

    answer: str
    tool_calls: list[ToolCall]
    charts: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    timings: dict[str, Any]
    session_id: NotRequired[str]
    grounded: NotRequired[bool]
    conversation_id: NotRequired[str]  # PulseService.ask: the log's conversation
    message_id: NotRequired[int]  # PulseService.ask: the answer's id, for feedback
    handoff: NotRequired[bool]  # support: passed to a person
    handoff_id: NotRequired[int]
    pending_action: NotRequired[dict[str, Any]]  # support: a write proposed, to confirm with "yes"
    action: NotRequired[dict[str, Any] | None]  # support: the write filed (or None: declined)
    refused: NotRequired[bool]  # support: a question about another customer's data


class StepEvent(TypedDict, total=False):
    """A tool started (``name``, ``args``) or ended (also ``result``, ``error``, ``duration_s``)."""

    type: Literal["step"]
    step: Literal["tool_start", "tool_end"]
    name: str
    args: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    duration_s: float


class TokenEvent(TypedDict):
    type: Literal["token"]
    text: str


class DoneEvent(TypedDict):
    type: Literal["done"]
    result: TurnResult


class ErrorEvent(TypedDict):
    type: Literal["error"]
    error: str
    status: int  # 400 bad input or an untrained model, 499 stopped, 500 a fault


StreamEvent = StepEvent | TokenEvent | DoneEvent | ErrorEvent


def is_final(ev: StreamEvent | dict) -> bool:
    """Does the stream end with this event?"""
    return ev.get("type") in ("done", "error")
