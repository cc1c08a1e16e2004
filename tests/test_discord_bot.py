"""The Discord bot without a network: dpytest stands in for Discord's servers (messages, channels),
and a ``MagicMock(spec=discord.Interaction)`` is the narrowest seam for slash commands. The agent
behind it is real (the small plumbing model on the served test workspace).

Tried here: every slash command (deferred first, answered through the agent), an @mention chat
with memory per channel, the split of a 5,000-character answer with a code fence, a chart as an
attachment and sources as embed fields, the per-user rate limit, an over-long message answered
with an error in the channel, and an alert spike posted once.
"""

from __future__ import annotations

import json
import time
from unittest.mock import AsyncMock, MagicMock

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio

from bots.discord_bot import LIMIT, PulseBot, split_message


@pytest_asyncio.fixture
async def bot(live):
    _, svc = live
    b = PulseBot(svc, rate_per_min=3, intents=discord.Intents.all())
    await b._async_setup_hook()  # what login does, minus syncing commands with Discord
    dpytest.configure(b)
    yield b
    await dpytest.empty_queue()


def _interaction(channel_id=4242, user_id=7):
    """A slash-command interaction at the seam: records when defer and each follow-up happen."""
    events: list[tuple[str, float, dict]] = []
    inter = MagicMock(spec=discord.Interaction)
    inter.user = MagicMock(id=user_id)
    inter.channel_id = channel_id
    inter.response.defer = AsyncMock(side_effect=lambda **kw: events.append(("defer", time.monotonic(), kw)))
    inter.response.send_message = AsyncMock(side_effect=lambda *a, **kw: events.append(("send_message", time.monotonic(), kw)))
    inter.followup.send = AsyncMock(
        side_effect=lambda *a, **kw: events.append(("followup", time.monotonic(), {"content": a[0] if a else None, **kw}))
    )
    return inter, events


def test_split_5000_characters_on_lines_keeping_the_code_fence_whole():
    prose = "\n".join(f"Line {i}: " + "words " * 14 for i in range(40))
    fence = "```python\n" + "\n".join(f"print('row {i}')" for i in range(40)) + "\n```"
    text = prose[:2500] + "\n" + fence + "\n" + prose[: 2500 - len(fence)]
    assert len(text) >= 5000
    parts = split_message(text)
    assert len(parts) >= 3 and all(len(p) < LIMIT for p in parts)
    assert "\n".join(parts).replace("\n", "") == text.replace("\n", "")  # nothing lost, only line breaks moved
    holding = [p for p in parts if "```python" in p]
    assert len(holding) == 1 and holding[0].count("```") == 2 and "print('row 39')" in holding[0]
    assert all(p.count("```") % 2 == 0 for p in parts)
    # a fence longer than one message is closed and reopened, so each part renders
    long = split_message("```sql\n" + "\n".join(f"SELECT {i};" for i in range(400)) + "\n```")
    assert len(long) > 1 and all(p.startswith("```sql") and p.endswith("```") and len(p) < LIMIT for p in long)


@pytest.mark.asyncio
async def test_render_attaches_charts_and_sources(bot, live):
    _, svc = live
    r = svc.ask("What are the main topics in reviews?", channel="discord", tool=("topics", {"kind": "review"}))
    msgs = bot.render({**r, "answer": r["answer"] + "\n" + "more detail. " * 400})
    assert len(msgs) >= 3 and all(len(m["content"]) < LIMIT for m in msgs)
    last = msgs[-1]
    assert last["files"][0].filename == "chart0.png"
    assert last["embed"].title == "Sources" and len(last["embed"].fields) == min(8, len(r["sources"]))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "name,kwargs,tool",
    [
        ("ask", {"question": "how many orders did customer 42 place?"}, None),
        ("sentiment", {"subject": None, "by": "month"}, "sentiment"),
        ("topics", {"subject": None, "kind": "review"}, "topics"),
        ("forecast", {"metric": "orders", "horizon": "next month"}, "forecast"),
        ("recommend", {"user_id": "ml-1", "item_id": None}, "recommend"),
        ("alerts", {"limit": 5}, "alerts"),
    ],
)
async def test_slash_commands_defer_then_answer_through_the_agent(bot, live, name, kwargs, tool):
    _, svc = live
    inter, events = _interaction()
    t0 = time.monotonic()
    await bot.tree.get_command(name).callback(inter, **kwargs)
    assert events[0][0] == "defer" and events[0][1] - t0 < 3.0, "deferred within Discord's 3-second window"
    answers = [e for e in events if e[0] == "followup"]
    assert answers and all(len(a[2]["content"]) < LIMIT for a in answers)
    assert answers[-1][1] > events[0][1]
    last = svc.log.messages(f"discord-{inter.channel_id}")[-1]
    assert last["role"] == "assistant" and last["content"] == answers[0][2]["content"] or len(answers) > 1
    if tool:
        assert last["tool_calls"][0]["name"] == tool


@pytest.mark.asyncio
async def test_mention_chat_keeps_memory_per_channel(bot, live):
    _, svc = live
    channel = dpytest.get_config().channels[0]
    await dpytest.message(f"<@{bot.user.id}> how many orders did customer 42 place?")
    reply = dpytest.get_message()
    assert reply.content.strip()
    assert not reply.content.startswith("Sorry"), reply.content
    await dpytest.message(f"<@{bot.user.id}> and what did they spend in total?")
    assert dpytest.get_message().content.strip()
    assert len(svc.analyst.history(f"discord-{channel.id}")) == 2, "both turns are in the channel's session"


@pytest.mark.asyncio
async def test_rate_limit_answers_politely(bot):
    bot.limiter.n = 1
    await dpytest.message(f"<@{bot.user.id}> hello!")
    dpytest.get_message()
    await dpytest.message(f"<@{bot.user.id}> hello again!")
    assert dpytest.verify().message().contains().content("faster than I can answer")


@pytest.mark.asyncio
async def test_errors_are_answered_in_the_channel(bot):
    await dpytest.message(f"<@{bot.user.id}> " + "why " * 1200)
    assert dpytest.verify().message().contains().content("limit is 4,000")


@pytest.mark.asyncio
async def test_alert_spike_is_posted_once(bot, live, tmp_path):
    _, svc = live
    rows = [
        {"post_id": f"quiet-{d}", "text": f"An ordinary day {d} at the shop.", "created_at": f"2031-01-{d:02d} 12:00:00"}
        for d in range(1, 29)
    ]
    rows += [
        {"post_id": f"spike-{i}", "text": f"Everyone is talking about the flash sale! #{i}", "created_at": "2031-01-29 12:00:00"}
        for i in range(40)
    ]
    f = tmp_path / "spike.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    svc.import_file(f, "posts", progress=False)
    channel = dpytest.get_config().channels[0]
    bot._seen_path.unlink(missing_ok=True)
    assert await bot.post_new_alerts(channel) >= 1
    posted = []
    while not dpytest.sent_queue.empty():
        posted.append(dpytest.get_message().content)
    assert any("2031-01-29" in p and "40 posts" in p for p in posted), posted
    assert await bot.post_new_alerts(channel) == 0, "an alert already posted is not posted again"
