"""The Discord bot (discord.py 2.7): slash commands, chat by @mention or DM, alerts posted to a channel.

    $ DISCORD_TOKEN=... pulse discord

* Slash commands ``/ask``, ``/sentiment``, ``/topics``, ``/forecast``, ``/recommend``,
  ``/alerts``. Each defers first (Discord drops an interaction not answered in 3 s),
  then answers through the agent (``tool=`` fixes the tool; the agent still writes,
  checks and cites the answer).
* @mention the bot, or DM it: one conversation per channel or thread, so follow-ups work.
* Answers are split below 2,000 characters on line boundaries, code fences kept
  whole; charts go as PNG attachments, sources as embed fields.
* Per-user rate limit (``discord_rate_per_min``), with a polite reply.
* New alerts (stable ids) are posted to ``discord_alert_channel`` every ``alert_poll_s``.
* Errors are answered in the channel.

It talks only to :class:`agent.service.PulseService`. What it leaves out: voice,
reactions as feedback, and per-guild settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections import defaultdict, deque

import discord
from discord import app_commands
from discord.ext import commands

from agent.agents import AgentInputError
from agent.results import TurnResult
from agent.service import PulseService
from pulse.plugins import CHANNELS

from .channels import Channel

__all__ = ["PulseBot", "split_message", "RateLimiter", "run_bot", "LIMIT"]

LIMIT = 2000
_FENCE = re.compile(r"^\s*```")


def _blocks(text: str) -> list[list[str]]:
    """Lines grouped into units that should stay together: a whole code fence, or one plain line."""
    blocks, fence = [], None
    for line in text.split("\n"):
        if fence is not None:
            fence.append(line)
            if _FENCE.match(line):
                blocks.append(fence)
                fence = None
        elif _FENCE.match(line):
            fence = [line]
        else:
            blocks.append([line])
    if fence is not None:  # an unclosed fence: close it
        blocks.append(fence + ["```"])
    return blocks


def split_message(text: str, limit: int = LIMIT - 10) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters on line boundaries, keeping code fences whole.

    >>> [len(c) for c in split_message("a" * 10 + "\\n" + "b" * 10, limit=12)]
    [10, 10]

    A code fence moves whole to the next chunk when it fits there. Only a fence
    longer than a chunk is cut, and then it is closed at the cut and reopened
    with its language in the next chunk, so every chunk renders on its own.
    A single line longer than ``limit`` is cut hard.
    """
    chunks: list[str] = []
    cur: list[str] = []

    def size(lines):
        return sum(len(x) + 1 for x in lines) - 1 if lines else 0

    def flush():
        nonlocal cur
        if cur and "\n".join(cur).strip():
            chunks.append("\n".join(cur))
        cur = []

    for block in _blocks(text):
        if size(cur + block) <= limit:
            cur += block
            continue
        flush()
        if size(block) <= limit:
            cur = list(block)
            continue
        opener = block[0] if _FENCE.match(block[0]) and len(block) > 1 else None
        for line in block:
            while len(line) > limit - 8:
                piece, line = line[: limit - 8], line[limit - 8 :]
                if size(cur + [piece]) + (4 if opener else 0) > limit:
                    flush_fenced = opener and cur and cur != [opener]
                    if flush_fenced:
                        cur.append("```")
                    flush()
                    cur = [opener] if opener else []
                cur.append(piece)
            if size(cur + [line]) + (4 if opener and line is not block[-1] else 0) > limit:
                if opener:
                    cur.append("```")
                flush()
                cur = [opener] if opener else []
            cur.append(line)
    flush()
    return chunks


class RateLimiter:
    """At most ``n`` events per ``window_s`` per key (a sliding window).

    >>> rl = RateLimiter(2, 60)
    >>> [rl.allow("u", now=t) for t in (0, 1, 2)], rl.allow("u", now=61)
    ([True, True, False], True)
    """

    def __init__(self, n: int, window_s: float = 60.0):
        self.n, self.window_s = n, window_s
        self._hits: dict[str, deque] = defaultdict(deque)

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        q = self._hits[key]
        while q and now - q[0] >= self.window_s:
            q.popleft()
        if len(q) >= self.n:
            return False
        q.append(now)
        return True

    def wait_s(self, key: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        q = self._hits[key]
        return max(0.0, self.window_s - (now - q[0])) if q else 0.0


@contextlib.asynccontextmanager
async def _typing(channel):
    """Show "typing..." while answering; the indicator is a nicety, so a failure (no permission) never stops the answer."""
    cm = None
    try:
        cm = channel.typing()
        await cm.__aenter__()
    except (discord.HTTPException, AttributeError, RuntimeError):
        cm = None
    try:
        yield
    finally:
        if cm is not None:
            await cm.__aexit__(None, None, None)


def _embed(result: TurnResult) -> discord.Embed | None:
    if not result.get("sources"):
        return None
    e = discord.Embed(title="Sources", colour=0x2B6CB0)
    for s in result["sources"][:8]:
        text = (s.get("text") or "").replace("\n", " ")
        e.add_field(
            name=f"[{s['n']}] {s.get('kind', 'doc')} {s.get('ref_id', '')}"[:256],
            value=(text[:200] + ("…" if len(text) > 200 else "")) or "-",
            inline=False,
        )
    return e


class PulseBot(commands.Bot):
    def __init__(
        self, svc: PulseService, alert_channel_id: int | None = None, rate_per_min: int = 5, alert_poll_s: float = 300.0, **kw
    ):
        intents = kw.pop("intents", None) or discord.Intents.default()
        intents.message_content = True
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, **kw)
        self.svc = svc
        self.alert_channel_id = alert_channel_id
        self.alert_poll_s = alert_poll_s
        self.limiter = RateLimiter(rate_per_min, 60.0)
        self._seen_path = svc.settings.workspace / "discord_alerts_seen.json"
        self._alert_task: asyncio.Task | None = None
        self._add_commands()

    # -- answering ------------------------------------------------------------------------------

    async def run_turn(self, question: str, conversation_id: str, tool: tuple[str, dict] | None = None) -> TurnResult:
        """One agent turn off the event loop (the model is blocking; the gateway must keep its heartbeat)."""
        return await asyncio.to_thread(self.svc.ask, question, conversation_id, "discord", tool=tool)

    def render(self, result: TurnResult) -> list[dict]:
        """The answer as ``send`` kwargs: text chunks, then the last with sources and chart files."""
        parts = split_message(result["answer"])
        msgs: list[dict] = [{"content": p} for p in parts] or [{"content": "(no answer)"}]
        last = msgs[-1]
        emb = _embed(result)
        if emb:
            last["embed"] = emb
        files = [
            discord.File(str(self.svc.chart_png(spec)), filename=f"chart{i}.png")
            for i, spec in enumerate(result.get("charts") or [])
        ]
        if files:
            last["files"] = files
        return msgs

    def _limited(self, user_id: int) -> str | None:
        if self.limiter.allow(str(user_id)):
            return None
        return (
            f"You're sending messages faster than I can answer. Please wait about "
            f"{self.limiter.wait_s(str(user_id)):.0f} seconds and try again."
        )

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        dm = isinstance(message.channel, discord.DMChannel)
        if not dm and not (self.user and self.user in message.mentions):
            return
        text = re.sub(rf"<@!?{self.user.id}>", "", message.content).strip() if self.user else message.content
        if not text:
            await message.channel.send("Ask me about your reviews, posts, orders, customers or products.")
            return
        busy = self._limited(message.author.id)
        if busy:
            await message.channel.send(busy)
            return
        try:
            async with _typing(message.channel):
                r = await self.run_turn(text, f"discord-{message.channel.id}")
            for kw in self.render(r):
                await message.channel.send(**kw)
        except AgentInputError as e:
            await message.channel.send(f"Sorry, I can't take that message: {e}")
        except Exception as e:  # noqa: BLE001 - answered in the channel, never swallowed
            self.svc.metrics.errors.labels(where="discord").inc()
            await message.channel.send(f"Sorry, something went wrong while answering: {type(e).__name__}: {e}")

    async def answer_interaction(
        self, interaction: discord.Interaction, question: str, tool: tuple[str, dict] | None = None
    ) -> None:
        """Defer at once, then answer through the agent and follow up (split, sources, charts)."""
        await interaction.response.defer(thinking=True)
        busy = self._limited(interaction.user.id)
        if busy:
            await interaction.followup.send(busy, ephemeral=True)
            return
        try:
            r = await self.run_turn(question, f"discord-{interaction.channel_id}", tool=tool)
            for kw in self.render(r):
                await interaction.followup.send(**kw)
        except AgentInputError as e:
            await interaction.followup.send(f"Sorry, I can't take that: {e}")
        except Exception as e:  # noqa: BLE001
            self.svc.metrics.errors.labels(where="discord").inc()
            await interaction.followup.send(f"Sorry, something went wrong while answering: {type(e).__name__}: {e}")

    def _add_commands(self) -> None:
        bot = self

        @app_commands.command(name="ask", description="Ask Pulse anything about your data.")
        async def ask(interaction: discord.Interaction, question: str):
            await bot.answer_interaction(interaction, question)

        @app_commands.command(name="sentiment", description="How positive or negative people sound, over time.")
        async def sentiment(interaction: discord.Interaction, subject: str | None = None, by: str = "month"):
            args = {"by": by, **({"query": subject} if subject else {})}
            await bot.answer_interaction(
                interaction, f"How has sentiment{' about ' + subject if subject else ''} changed by {by}?", ("sentiment", args)
            )

        @app_commands.command(name="topics", description="The main topics in reviews or posts.")
        async def topics(interaction: discord.Interaction, subject: str | None = None, kind: str = "any"):
            args = {"kind": kind, **({"query": subject} if subject else {})}
            await bot.answer_interaction(
                interaction, f"What are the main topics{' about ' + subject if subject else ''}?", ("topics", args)
            )

        @app_commands.command(name="forecast", description="Forecast revenue, orders or units.")
        async def forecast(interaction: discord.Interaction, metric: str = "orders", horizon: str = "next quarter"):
            await bot.answer_interaction(
                interaction, f"Forecast {metric} for the {horizon}.", ("forecast", {"metric": metric, "horizon": horizon})
            )

        @app_commands.command(name="recommend", description="Recommendations for a user, or items similar to an item.")
        async def recommend(interaction: discord.Interaction, user_id: str | None = None, item_id: str | None = None):
            if not user_id and not item_id:
                await interaction.response.send_message("Give a user_id, or an item_id for similar items.", ephemeral=True)
                return
            q = f"What should user {user_id} buy next?" if user_id else f"Which items are similar to item {item_id}?"
            await bot.answer_interaction(interaction, q, ("recommend", {"user_id": user_id} if user_id else {"item_id": item_id}))

        @app_commands.command(name="alerts", description="Recent spikes in volume or negative sentiment.")
        async def alerts(interaction: discord.Interaction, limit: int = 5):
            await bot.answer_interaction(
                interaction, "Which spikes or alerts were detected recently?", ("alerts", {"limit": limit})
            )

        commands: list[app_commands.Command] = [ask, sentiment, topics, forecast, recommend, alerts]
        for c in commands:
            self.tree.add_command(c)

    # -- alerts ---------------------------------------------------------------------------------

    def _seen(self) -> set[str]:
        try:
            return set(json.loads(self._seen_path.read_text()))
        except (FileNotFoundError, ValueError):
            return set()

    async def post_new_alerts(self, channel=None, limit: int = 20) -> int:
        """Post alerts not posted before (stable ids, remembered in the workspace); return how many."""
        channel = channel or (self.get_channel(self.alert_channel_id) if self.alert_channel_id else None)
        if channel is None:
            return 0
        try:
            r = await asyncio.to_thread(self.svc.run_tool, "alerts", {"limit": limit})
        except Exception as e:  # noqa: BLE001
            await channel.send(f"Alert check failed: {type(e).__name__}: {e}")
            return 0
        seen = self._seen()
        new = [a for a in (r.data or []) if a["id"] not in seen]
        for a in reversed(new):  # oldest first
            what = "negative posts" if a["metric"] == "negative" else "posts"
            await channel.send(
                f"🚨 **Alert** {a['day']}: {a['series']}: {a['count']} {what} against a baseline of "
                f"{a['baseline']} a day (z {a['z']})."
            )
        if new:
            self._seen_path.write_text(json.dumps(sorted(seen | {a["id"] for a in new})))
        return len(new)

    async def _alert_loop(self) -> None:
        await self.wait_until_ready()
        while not self.is_closed():
            try:
                await self.post_new_alerts()
            except Exception:  # noqa: BLE001 - keep polling; the error was counted
                self.svc.metrics.errors.labels(where="discord_alerts").inc()
            await asyncio.sleep(self.alert_poll_s)

    async def setup_hook(self) -> None:
        if self.alert_channel_id:
            self._alert_task = asyncio.create_task(self._alert_loop())
        try:
            await self.tree.sync()
        except discord.HTTPException:
            pass  # commands sync on the next start; mentions and DMs work meanwhile


def run_bot(svc: PulseService, token: str) -> None:
    s = svc.settings
    bot = PulseBot(
        svc, alert_channel_id=s.discord_alert_channel, rate_per_min=s.discord_rate_per_min, alert_poll_s=s.alert_poll_s
    )
    bot.run(token)


def _run(svc: PulseService) -> int:
    token = os.environ.get("DISCORD_TOKEN")
    if not token:
        print("error: set DISCORD_TOKEN to the bot's token (Discord developer portal -> Bot -> Token)", file=sys.stderr)
        return 2
    run_bot(svc, token)
    return 0


CHANNELS.register("discord", Channel("discord", "the Discord bot (pulse discord; DISCORD_TOKEN)", run=_run))
