"""Pulse's front ends. Each channel is one module and talks only to :class:`agent.service.PulseService`:

* ``api.py``: ``pulse serve`` (web UI at ``/``, support API, OpenAI-compatible API, health, metrics)
* ``gradio_ui.py``: the analyst's web UI
* ``support.py``: the customer-service desk (sign-in and policy)
* ``discord_bot.py``: the Discord bot (``pulse discord``)

Shared: ``service.py`` (the agent core), ``log.py`` (conversation log), ``metrics.py``.
A new channel is a new module here. Modules import lazily: Gradio and discord.py are slow to import.
"""

__all__: list[str] = []
