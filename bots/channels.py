"""The channel interface: how a front end plugs into ``pulse serve`` (or runs on its own).

A channel is registered once in ``pulse.plugins.CHANNELS``. An HTTP channel
gives ``mount(app, svc)``, which adds its routes to the server's FastAPI app
(and may return a replacement app, as Gradio's ``mount_gradio_app`` does); a
standalone channel (Discord) gives ``run(svc)``. A channel talks only to the
agent core (:class:`agent.service.PulseService`) and draws what it returns.

    >>> from pulse.plugins import CHANNELS
    >>> @CHANNELS.register("hello")                                            # doctest: +SKIP
    ... def hello():
    ...     return Channel("hello", "says hi", mount=lambda app, svc: app.get("/hello")(lambda: {"hi": True}))

The built-in ones: ``support`` (customer-service API and widget), ``openai``
(OpenAI-compatible API) and ``web`` (the Gradio UI, mounted last at ``/``) in
``bots/api.py``; ``discord`` in ``bots/discord_bot.py``.
What it leaves out: per-channel settings sections (the settings stay one typed place, ``pulse/config.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Channel"]


@dataclass(frozen=True)
class Channel:
    name: str
    description: str
    #: HTTP channels: ``mount(app, svc) -> app | None`` adds the channel's routes to the server app.
    mount: Callable[[Any, Any], Any] | None = None
    #: Standalone channels: ``run(svc) -> exit code``, until stopped.
    run: Callable[[Any], int] | None = None
    #: Mounted at ``/`` after every other HTTP channel (a catch-all path would hide later routes).
    catch_all: bool = False
