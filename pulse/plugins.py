"""One registry per concept: tools, generator backends, embedders and channels.

A registry maps a name to the thing that provides it. It lives here, at the
bottom of the house, and imports nothing of Pulse; the modules that define the
things fill it when they are imported (``filled_by``, loaded on first use, the
way simonw/llm loads its plugins). Everything that needs the list of names (the
CLI's ``choices``, the settings' validation, the agent's tools, the server's
channels) reads the registry, so a new one is one new file plus one line:

    >>> from pulse.plugins import Registry
    >>> shapes = Registry("shape")
    >>> @shapes.register("square")
    ... def square(side):
    ...     return side * side
    >>> shapes["square"](3), list(shapes)
    (9, ['square'])
    >>> shapes["circle"]
    Traceback (most recent call last):
    ...
    pulse.plugins.UnknownName: unknown shape 'circle': one of square

What it leaves out: third-party discovery (setuptools entry points); a plugin is
a module of this project, named in ``filled_by`` or imported by the caller.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from .errors import UserError

__all__ = ["Registry", "UnknownName", "TOOLS", "BACKENDS", "EMBEDDERS", "CHANNELS"]

T = TypeVar("T")


class UnknownName(UserError, KeyError):
    """A name no module registered; the message lists the ones that exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Mapping[str, T], Generic[T]):
    """Names of one concept, each to its provider; read like a dict, filled by :meth:`register`."""

    def __init__(self, concept: str, filled_by: tuple[str, ...] = ()):
        self.concept = concept
        self._filled_by = filled_by
        self._filled = not filled_by
        self._items: dict[str, T] = {}

    def register(self, name: str, item: Any = None) -> Any:
        """``register(name, item)``, or ``@register(name)`` over a function or class. Returns the item."""

        def add(it: T) -> T:
            if name in self._items and self._items[name] is not it:
                raise ValueError(f"{self.concept} {name!r} is registered twice")
            self._items[name] = it
            return it

        return add if item is None else add(item)

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)

    def check(self, name: str) -> str:
        """``name`` if it is registered, else :class:`UnknownName` (for settings validators)."""
        self[name]
        return name

    def _fill(self) -> None:
        if not self._filled:
            self._filled = True
            for module in self._filled_by:
                importlib.import_module(module)

    def __getitem__(self, name: str) -> T:
        self._fill()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownName(f"unknown {self.concept} {name!r}: one of {', '.join(self._items)}") from None

    def __iter__(self) -> Iterator[str]:
        self._fill()
        return iter(list(self._items))

    def __len__(self) -> int:
        self._fill()
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.concept!r}: {', '.join(self)})"


#: Tools the analyst agent can call (tools/__init__.py registers each one).
TOOLS: Registry = Registry("tool", filled_by=("tools",))
#: Generator backends: name -> ``load(settings) -> ChatModel`` (agent/models.py).
BACKENDS: Registry[Callable] = Registry("generator backend", filled_by=("agent.models",))
#: Text embedders: name -> ``Embedder`` subclass taking ``threads`` (retrieval/embed.py).
EMBEDDERS: Registry[Callable] = Registry("embedder", filled_by=("retrieval.embed",))
#: Front ends: name -> ``Channel`` (bots/channels.py and the modules it names).
CHANNELS: Registry = Registry("channel", filled_by=("bots.api", "bots.discord_bot"))
