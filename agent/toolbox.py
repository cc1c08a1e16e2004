"""The tools without the generator: for ``pulse`` subcommands, scripts and notebooks.

    >>> with Toolbox.open(settings) as tb:                                   # doctest: +SKIP
    ...     r = tb.call("forecast", {"metric": "orders", "horizon": "next quarter"})
    >>> r.data["horizon"]                                                    # doctest: +SKIP
    13

It opens the workspace read-only and the question embedder, like the agent,
but loads no language model: a tool call is milliseconds to seconds.
What it leaves out: choosing the tool and writing an answer (that is ``Agent``).
"""

from __future__ import annotations

from collections.abc import Mapping

from pulse.config import Settings
from tools import REGISTRY, ToolContext, ToolResult

__all__ = ["Toolbox"]


class Toolbox:
    def __init__(self, ctx: ToolContext, tools: Mapping | None = None):
        self.ctx = ctx
        self.tools = dict(tools or REGISTRY)

    @classmethod
    def open(cls, settings: Settings) -> "Toolbox":
        from retrieval import Index
        from workspace import Workspace

        ws = Workspace.open(settings.workspace, read_only=True)
        index = Index.open(ws, settings, role="query")
        return cls(ToolContext(ws, index, settings))

    def call(self, name: str, args: dict) -> ToolResult:
        if name not in self.tools:
            raise KeyError(f"no tool {name!r}; tools are {', '.join(self.tools)}")
        return self.tools[name].run(self.ctx, args)

    def close(self) -> None:
        self.ctx.ws.close()

    def __enter__(self) -> "Toolbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
