"""The tool protocol: a typed function the agent can call.

A tool is a function ``fn(ctx, args) -> ToolResult`` whose ``args`` is a
pydantic model, wrapped by the :func:`tool` decorator with a name, a one-line
description and a few example requests (the semantic router embeds those).
It returns structured ``data``, a short text ``summary`` the generator reads,
optional ``sources`` (citable documents) and an optional ``chart`` spec.

    >>> class EchoArgs(BaseModel):
    ...     text: str
    >>> @tool("echo", "Repeat the text.", examples=["say hi back"])
    ... def echo(ctx, args: EchoArgs) -> ToolResult:
    ...     return ToolResult(data={"text": args.text}, summary=args.text)
    >>> echo.run(None, {"text": "hi"}).summary
    'hi'

A new tool is one new file in ``tools/`` plus one line in ``tools/__init__.py``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, TypeVar

from pydantic import BaseModel, BeforeValidator, ValidationError

from pulse.errors import UserError

__all__ = ["Tool", "ToolResult", "ToolContext", "ToolError", "tool", "optional", "clean_id", "Id", "Maybe", "MaybeId"]

T = TypeVar("T")

#: What small models write into an optional argument when the user gave nothing.
_PLACEHOLDERS = ("", "none", "null", "n/a", "any", "all")


def optional(v: Any) -> Any:
    """A placeholder ('none', 'n/a', 'any', '') as None; anything else unchanged. For ``mode="before"`` validators."""
    return None if isinstance(v, str) and v.strip().lower() in _PLACEHOLDERS else v


def clean_id(v: Any) -> str | None:
    """An id as a plain string: ``'#42 '`` and ``42`` both become ``'42'``."""
    return None if v is None else str(v).strip().lstrip("#")


#: An optional argument where a placeholder ('none', 'n/a', '') means absent: ``since: Maybe[date] = None``.
Maybe = Annotated[T | None, BeforeValidator(optional)]
#: A required id: ``'#42 '`` or ``42`` read ``'42'``, and a placeholder is refused as missing.
Id = Annotated[str, BeforeValidator(lambda v: clean_id(optional(v)))]
#: An optional id: a placeholder means absent.
MaybeId = Annotated[str | None, BeforeValidator(lambda v: clean_id(optional(v)))]


class ToolError(UserError):
    """A tool refused its input; the message is shown to the model and the user."""


class ToolResult(BaseModel):
    data: Any = None
    summary: str = ""
    sources: list[dict] = []
    chart: dict | None = None


@dataclass
class ToolContext:
    """What a tool may touch: the workspace, the index, the settings."""

    ws: Any
    index: Any
    settings: Any
    customer_id: str | None = None  # set in support sessions: the one customer whose data tools may read
    lang: str = "en"  # the language the user asked in ("en" or "zh"): summaries are written in it where a tool can


@dataclass
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    fn: Callable[[ToolContext, BaseModel], ToolResult]
    examples: list[str] = field(default_factory=list)
    answer_prompt: str = "answer"  # the prompt file (agent/prompts/) the answer step writes with
    no_promises: bool = False  # the answer speaks for the shop: promises must be confirmed facts

    def schema(self) -> dict:
        """JSON schema of the arguments, without pydantic's titles (smaller prompts)."""
        s = self.args.model_json_schema()
        _strip_titles(s)
        s["additionalProperties"] = False
        return s

    def run(self, ctx: ToolContext, raw_args: dict) -> ToolResult:
        try:
            args = self.args.model_validate(raw_args or {})
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "arguments"
            raise ToolError(f"{self.name}: bad argument {where}: {first['msg']}") from None
        try:
            return self.fn(ctx, args)
        except ToolError:
            raise
        except UserError as e:  # a model not trained yet, an import error, ...: the same clear tool error
            raise ToolError(str(e)) from None


def _strip_titles(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("title", None)
        for v in node.values():
            _strip_titles(v)
    elif isinstance(node, list):
        for v in node:
            _strip_titles(v)


def tool(
    name: str, description: str, examples: list[str] | None = None, answer_prompt: str = "answer", no_promises: bool = False
):
    """Decorator: turn ``fn(ctx, args: SomeModel)`` into a :class:`Tool`."""

    def wrap(fn):
        ann = list(inspect.signature(fn).parameters.values())[1].annotation
        args_model = fn.__globals__[ann] if isinstance(ann, str) else ann
        return Tool(name, description, args_model, fn, list(examples or []), answer_prompt, no_promises)

    return wrap
