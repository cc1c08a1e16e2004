"""The agent: understand -> call a tool -> answer, as a LangGraph graph with memory.

    >>> agent = Agent.from_workspace("demo-workspace")                 # doctest: +SKIP
    >>> r = agent.ask("how many orders did customer 42 place?", session_id="s1")  # doctest: +SKIP
    >>> r["tool_calls"][0]["name"], r["answer"]                         # doctest: +SKIP
    ('shop_lookup', 'Customer 42 placed 2 orders ...')
    >>> agent.ask("and what did they spend in total?", session_id="s1")["answer"]  # doctest: +SKIP

The graph has three nodes:

* ``route``: with ``pipeline = "fast"`` (the default) code plans
  (``agent/understand.py``: the intent model, arguments read by code, the
  semantic layer for aggregates, follow-ups from the last plan, up to three
  calls); the generator decides only what code could not, with the JSON schema
  narrowed to the likely tools. With ``"generator"`` the generator plans every
  turn (``anyOf`` over the tools plus ``none``, narrowed by a semantic router).
  Date phrases ("Q3 1997", "last quarter") are resolved in code either way
  (``agent/dates.py``).
* ``act``: the calls run; an error becomes the evidence.
* ``answer``: structured results are written by code (``agent/compose.py``);
  search, reviews, topics and replies by the generator from compact evidence,
  after the quotes are shown. Citations are checked, and every number must be
  grounded in what the tools returned (one rewrite, then a plain statement of
  what the tools found).

Each session is a LangGraph thread checkpointed in ``sessions.sqlite``, so
follow-ups see the earlier turns. Pulse owns its tool-call protocol instead of
LangChain's ``bind_tools``, which small local models do not follow.
What it leaves out: calls that feed each other within a turn; write actions.
"""

from __future__ import annotations

import json
import operator
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Callable, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from pulse.config import Settings, load_settings
from pulse.errors import UserError
from tools import REGISTRY, ToolContext, ToolError

from .compose import PROSE_TOOLS, compact_evidence, compare, compose, quotes
from .dates import describe_dates, with_ranges
from .grounding import cited, confirmed_facts, fix_citations, unconfirmed_promises, ungrounded_numbers
from .lang import language_of
from .models import ChatModel, load_model
from .results import ToolCall, TurnResult
from .router import SemanticRouter
from .slots import fill
from .understand import understand

__all__ = ["Agent", "AgentInputError", "MAX_QUESTION_CHARS"]

MAX_QUESTION_CHARS = 4000
_HISTORY_TURNS = 3


class AgentInputError(UserError):
    """The user's message cannot be handled as given (empty, too long)."""


def _given(value, said: str) -> bool:
    """Was this argument value written in ``said`` (lower-cased)? ``#42`` and ``42`` count alike."""
    return str(value).strip().lower().lstrip("#") in said


def _shift_citations(text: str, by: int) -> str:
    """A later call's ``[1]`` is the turn's ``[by + 1]``."""
    return re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) + by}]", text)


def _prompt(name: str) -> str:
    return resources.files("agent").joinpath("prompts", f"{name}.md").read_text()


class Turn(TypedDict, total=False):
    question: str
    tool: str | None
    args: dict | None
    spec: dict | None  # the semantic layer's query, when it wrote the SQL (follow-ups swap its filters)
    answer: str


class State(TypedDict, total=False):
    turns: Annotated[list[Turn], operator.add]  # the session's memory
    question: str
    forced: dict | None  # a plan given by the caller (``ask(tool=...)``): routing is skipped
    customer_id: str | None  # the authenticated customer of a support session: tools read only their data
    plan: dict
    tool_calls: list[dict]
    sources: list[dict]
    answer: str
    grounded: bool
    timings: dict


class Agent:
    def __init__(
        self,
        settings: Settings,
        ws,
        index,
        model: ChatModel,
        tools: Mapping | None = None,
        lock: threading.Lock | None = None,
        prompts: dict | None = None,
        persona: str = "analyst",
    ):
        self.settings = settings
        self.ws = ws
        self.index = index
        self.model = model
        self.tools = dict(tools or REGISTRY)
        # which prompt file plays each part: a persona (the support bot) swaps them, not the code
        self.prompts = {"route": "route", "chat": "chat", **(prompts or {})}
        self.ctx = ToolContext(ws, index, settings)
        self.router = SemanticRouter(self.tools, index.embedder)
        self.persona = persona  # which example file (agent/intents/<persona>.yaml) the intent model learns from
        self._intents = None
        self._categories: list[str] | None = None
        self._lock = lock or threading.Lock()  # agents sharing one generator share one lock: turns queue
        self._on_token: Callable[[str], None] | None = None
        self._on_step: Callable[[dict], None] | None = None
        self._today = None
        settings.sessions_path.parent.mkdir(parents=True, exist_ok=True)
        self._sessions = sqlite3.connect(str(settings.sessions_path), check_same_thread=False)
        self.checkpointer = SqliteSaver(self._sessions)
        self.graph = self._build()

    @classmethod
    def from_workspace(cls, path: str | Path | None = None, chat_model: ChatModel | None = None, **overrides) -> "Agent":
        """Open a workspace read-only, load its index, the embedder and the configured model."""
        from retrieval import Index
        from workspace import Workspace

        settings = load_settings(**({"workspace": path} if path else {}), **overrides)
        ws = Workspace.open(settings.workspace, read_only=True)
        index = Index.open(ws, settings, role="query")
        return cls(settings, ws, index, chat_model or load_model(settings))

    @property
    def today(self):
        """What "last month" counts from: the setting, else the day after the newest order, else the real date."""
        if self._today is None:
            import datetime as dt

            self._today = self.settings.today
            if self._today is None:
                try:
                    newest = self.ws.query("SELECT max(order_date) AS d FROM orders")[0]["d"]
                except Exception:  # noqa: BLE001 - a workspace without an orders table
                    newest = None
                self._today = newest + dt.timedelta(days=1) if newest else dt.date.today()
        return self._today

    @property
    def intents(self):
        """The intent model for this agent's tools, fitted on first use (cached on disk by its data's hash)."""
        if self._intents is None:
            from .intent import IntentModel

            self._intents = IntentModel.fit(
                self.tools, self.index.embedder, self.persona, cache_dir=self.settings.cache_dir / "intent"
            )
        return self._intents

    @property
    def categories(self) -> list[str]:
        """The catalog's categories, which the semantic layer recognises in a question."""
        if self._categories is None:
            try:
                rows = self.ws.query("SELECT DISTINCT category AS c FROM products WHERE category IS NOT NULL")
                self._categories = sorted(str(r["c"]) for r in rows if r["c"])
            except Exception:  # noqa: BLE001 - a workspace without products
                self._categories = []
        return self._categories

    def warm(self) -> None:
        """Evaluate the fixed system prompts once, so the first real turn finds them in the KV cache."""
        if self.settings.pipeline == "fast":
            self.intents  # noqa: B018 - fit or load it now, not in the first turn
        for system in (self._route_prompt(), _prompt(self.prompts.get("answer", "answer")), _prompt(self.prompts["chat"])):
            self.model.complete([{"role": "system", "content": system}, {"role": "user", "content": "hello"}], max_tokens=1)

    def close(self, model: bool = True) -> None:
        if model:
            self.model.close()
        self._sessions.close()
        if model:
            self.ws.close()

    def call_tool(self, name: str, args: dict, customer_id: str | None = None):
        """Run one tool without the generator (dashboards, alert polling); raises ``ToolError``."""
        if name not in self.tools:
            raise AgentInputError(f"no tool {name!r}")
        return self.tools[name].run(self._ctx(customer_id), args)

    def _ctx(self, customer_id: str | None, lang: str = "en"):
        """The tool context, scoped to one customer in support sessions and to the language of the question."""
        return replace(self.ctx, customer_id=customer_id, lang=lang) if customer_id or lang != "en" else self.ctx

    def _step(self, event: dict) -> None:
        if self._on_step:
            self._on_step(event)

    # -- the graph -------------------------------------------------------------------

    def _build(self):
        g = StateGraph(State)
        g.add_node("route", self._route)
        g.add_node("act", self._act)
        g.add_node("answer", self._answer)
        g.add_edge(START, "route")
        g.add_conditional_edges("route", lambda s: "act" if s["plan"].get("tool") != "none" else "answer", ["act", "answer"])
        g.add_edge("act", "answer")
        g.add_edge("answer", END)
        return g.compile(checkpointer=self.checkpointer)

    def plan_schema(self, only: str | list[str] | None = None) -> dict:
        """The JSON schema the router's output must follow: every tool and none, one tool, or a few tools and none."""
        names = None if only is None else [only] if isinstance(only, str) else list(only)
        options = [
            {
                "type": "object",
                "properties": {"tool": {"const": n}, "args": t.schema()},
                "required": ["tool", "args"],
                "additionalProperties": False,
            }
            for n, t in self.tools.items()
            if names is None or n in names
        ]
        if names is None or len(names) > 1:
            options.append(
                {"type": "object", "properties": {"tool": {"const": "none"}}, "required": ["tool"], "additionalProperties": False}
            )
        return {"anyOf": options}

    def _route_prompt(self) -> str:
        tool_lines = "\n".join(f"- {n}: {t.description}" for n, t in self.tools.items())
        return _prompt(self.prompts["route"]).replace("{tools}", tool_lines)

    def _history_text(self, turns: list[Turn]) -> str:
        lines = []
        for t in turns[-_HISTORY_TURNS:]:
            call = f" -> {t['tool']}({json.dumps(t['args'], default=str)})" if t.get("tool") else ""
            lines.append(f"User: {t['question']}{call}\nPulse: {t['answer'][:300]}")
        return "\n".join(lines)

    def choose(self, question: str, turns: list[Turn] | None = None) -> tuple[dict, dict]:
        """Pick (plan, timings) for a question: the tool-choice step alone, used by evals too.

        With ``pipeline = "fast"`` code plans (``agent/understand.py``) and the generator decides only what code
        could not; with ``"generator"`` the generator plans every turn.
        """
        if self.settings.pipeline == "fast":
            return self._choose_fast(question, turns or [])
        t0 = time.perf_counter()
        only = self.router.confident(with_ranges(question, self.today)) if not turns else None
        if only == "none":
            return {"tool": "none", "args": {}}, {"route_s": time.perf_counter() - t0, "router_hint": "none"}
        plan = self._generate_plan(question, turns, only)
        return plan, {"route_s": time.perf_counter() - t0, "router_hint": only}

    def _choose_fast(self, question: str, turns: list[Turn]) -> tuple[dict, dict]:
        t0 = time.perf_counter()
        p = understand(question, self.intents, turns, self.today, self.categories, self.tools)
        timings = {"understand_s": time.perf_counter() - t0, "router_hint": p.how, "intent_p": p.p}
        if p.ask_generator:
            # the generator decides only what code could not: the tool among a few, or the arguments of a fixed one
            only = p.ask_generator if len(p.ask_generator) > 1 else p.ask_generator[0]
            plan = self._generate_plan(question, turns, only)
            if plan.get("tool") not in (None, "none", "sql_query"):
                plan["args"] = {**plan.get("args", {}), **fill(plan["tool"], question, self.today).args}  # what code read wins
            timings["generator_plan"] = True
        elif p.calls:
            plan = {**p.calls[0], "calls": p.calls}
        elif p.how == "read-only":
            plan = {"tool": "none", "args": {}, "refuse": "write"}
        elif p.how == "clarify":
            plan = {"tool": "none", "args": {}, "clarify": p.missing}
        else:
            plan = {"tool": "none", "args": {}}
        invented = self._invented_ids(plan, question, turns)
        if invented:  # a required id the message (and the conversation) never gave: ask for it, never guess
            plan = {"tool": "none", "args": {}, "clarify": invented}
        plan["how"] = p.how
        timings["route_s"] = time.perf_counter() - t0
        return plan, timings

    def _invented_ids(self, plan: dict, question: str, turns: list[Turn]) -> list[str]:
        if plan.get("tool") in (None, "none"):
            return []
        said = (question + " " + " ".join(json.dumps(t.get("args"), default=str) + t["question"] for t in turns[-3:])).lower()
        required = set(self.tools[plan["tool"]].schema().get("required", []))
        return [
            k
            for k, v in (plan.get("args") or {}).items()
            if k in required and (k == "id" or k.endswith("_id")) and not _given(v, said)
        ]

    def _generate_plan(self, question: str, turns: list[Turn] | None, only: str | list[str] | None) -> dict:
        """The generator's plan, constrained by the JSON schema of the allowed tools."""
        system = self._route_prompt()
        user = question
        if turns:
            user = f"Earlier in this conversation:\n{self._history_text(turns)}\n\nLatest message: {question}"
        dates = describe_dates(question, self.today)
        if dates:  # calendar arithmetic done in code: the router copies the ranges
            user += f"\n\nDates in this message: {dates}."
        c = self.model.complete(
            [{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=200,
            temperature=0.0,
            json_schema=self.plan_schema(only),
        )
        try:
            plan = json.loads(c.text)
        except ValueError:
            plan = {"tool": "none", "error": f"unparseable plan: {c.text[:200]}"}
        if plan.get("tool") not in (*self.tools, "none"):
            plan = {"tool": "none", "error": f"unknown tool {plan.get('tool')!r}"}
        plan.setdefault("args", {})
        if plan["tool"] != "none":
            plan["args"] = self._drop_invented(plan["tool"], plan["args"], user)
        return plan

    def _drop_invented(self, tool: str, args: dict, said: str) -> dict:
        """Drop optional ids, texts and date bounds the user never gave: small models fill optional fields with inventions."""
        required = set(self.tools[tool].schema().get("required", []))
        said = said.lower()
        keep = {}
        for k, v in (args or {}).items():
            verbatim = k in ("text", "id", "category") or k.endswith("_id")
            if verbatim and k not in required and isinstance(v, str) and not _given(v, said):
                continue
            if k in ("since", "until") and k not in required and isinstance(v, str) and v[:4] not in said:
                continue  # a date range the message never gave (its resolved ranges are part of ``said``)
            keep[k] = v
        return keep

    def _route(self, state: State) -> dict:
        if state.get("forced"):
            plan, timings = state["forced"], {"route_s": 0.0, "router_hint": "forced"}
        else:
            plan, timings = self.choose(state["question"], state.get("turns") or [])
        return {"plan": plan, "timings": {**timings}, "tool_calls": [], "sources": []}

    def _act(self, state: State) -> dict:
        plan = state["plan"]
        calls: list[dict] = []
        sources: list[dict] = []
        t_all = time.perf_counter()
        for planned in (plan.get("calls") or [plan])[:3]:
            t0 = time.perf_counter()
            tool = self.tools[planned["tool"]]
            args = planned.get("args") or {}
            self._step({"type": "tool_start", "name": tool.name, "args": args})
            try:
                result = tool.run(self._ctx(state.get("customer_id"), language_of(state["question"])), args)
                if sources and result.sources:  # this call's [1] is the turn's [len(sources) + 1]
                    shift = len(sources)
                    result.summary = _shift_citations(result.summary, shift)
                call = {"name": tool.name, "args": args, "result": result.model_dump(mode="json"), "error": None}
                # numbered across calls: a second call's [1] is the turn's [n+1]
                sources += result.sources
            except ToolError as e:
                call = {"name": tool.name, "args": args, "result": None, "error": str(e)}
            call["spec"] = planned.get("spec")
            call["duration_s"] = time.perf_counter() - t0
            self._step({"type": "tool_end", **{k: v for k, v in call.items() if k != "spec"}})
            calls.append(call)
        return {"tool_calls": calls, "sources": sources, "timings": {**state["timings"], "tool_s": time.perf_counter() - t_all}}

    def _evidence(self, state: State) -> list[str]:
        ev = [state["question"]]
        for c in state.get("tool_calls") or []:
            ev.append(json.dumps(c.get("args"), default=str))
            if c.get("result"):
                ev.append(c["result"]["summary"])
                ev.append(json.dumps(c["result"]["data"], default=str))
            if c.get("error"):
                ev.append(c["error"])
        return ev

    def _answer_prompt(self, state: State, composed: list[str | None]) -> tuple[list[dict], str]:
        """The generator's messages for this turn's answer, and text shown before it writes (quotes, on the fast path)."""
        calls = state.get("tool_calls") or []
        question = state["question"]
        fast = self.settings.pipeline == "fast"
        zh = language_of(question) == "zh"
        if not calls:
            history = []
            for t in (state.get("turns") or [])[-1:] if fast else []:  # small talk reads the last exchange as chat
                history += [{"role": "user", "content": t["question"][:300]}, {"role": "assistant", "content": t["answer"][:200]}]
            return [
                {"role": "system", "content": _prompt(self.prompts["chat"]) + ("\n" + _prompt("in_chinese") if zh else "")},
                *history,
                {"role": "user", "content": question},
            ], ""
        c = calls[0]
        name = self.tools[c["name"]].answer_prompt
        system = _prompt(self.prompts.get(name, name)) + ("\n" + _prompt("in_chinese") if zh else "")
        prefix = ""
        if not fast:
            body = c["result"]["summary"] if c.get("result") else f"The tool failed: {c['error']}"
            user = f"Question: {question}\n\nTool {c['name']} returned:\n<results>\n{body}\n</results>"
            if state.get("turns"):
                user = f"Earlier in this conversation:\n{self._history_text(state['turns'])}\n\n" + user
            return [{"role": "system", "content": system}, {"role": "user", "content": user}], ""
        # fast path: compact evidence; facts code already wrote are given as facts; no earlier turns (the plan
        # already resolved the follow-up, and history is what mixed up subjects)
        parts = []
        sources = state.get("sources") or []
        quotable = [x for x in calls if x["name"] in PROSE_TOOLS and x.get("result") and x["result"].get("sources")]
        if quotable and c["name"] != "draft_reply":
            ev = compact_evidence(question, sources, self.index.embedder)
            # lines a tool computed before its quoted documents (a product's rating, say) are facts: shown first too
            facts = [
                ln
                for x in quotable
                for ln in x["result"]["summary"].split("\n[1]")[0].splitlines()
                if ln.strip() and not ln.startswith("[") and not ln.rstrip().endswith(":")
            ]
            prefix = "\n".join([*facts, quotes(ev, "zh" if zh else "en")])
            parts += facts
            parts.append("\n".join(f"[{i}] ({s.get('kind')}) {s['text']}" for i, s in enumerate(ev, start=1)))
        for x, text in zip(calls, composed):
            if text is not None:
                parts.append(text)
            elif x.get("result") and x not in quotable:
                parts.append(x["result"]["summary"][:1800])
        user = f"Question: {question}\n\nTool results:\n<results>\n" + "\n\n".join(parts) + "\n</results>"
        return [{"role": "system", "content": system}, {"role": "user", "content": user}], prefix

    def _answer(self, state: State) -> dict:
        t0 = time.perf_counter()
        calls = state.get("tool_calls") or []
        question = state["question"]
        fast = self.settings.pipeline == "fast"
        composed = [compose(c, question) for c in calls] if fast else []
        comp, messages, prefix = None, None, ""
        zh = language_of(question) == "zh"
        if not calls and fast and state["plan"].get("refuse"):
            composed = [
                "做不到:Pulse 只读取这个工作区的数据,不能删除、修改或添加订单、客户、评论或帖子。"
                "要改变数据,请导入更正后的文件(`pulse ingest`)。"
                if zh
                else "I can't do that: Pulse only reads this workspace's data. It cannot delete, change or add orders, "
                "customers, reviews or posts. Import a corrected file (`pulse ingest`) to change what it holds."
            ]
            calls_composed = True
        elif not calls and fast and state["plan"].get("clarify"):
            ids = [k for k in state["plan"]["clarify"] if k == "id" or k.endswith("_id")] or state["plan"]["clarify"]
            what = " and ".join("customer or product id" if k == "id" else k.replace("_", " ") for k in ids) or "details"
            composed = [
                f"我可以查,但需要知道 {what}:您指的是哪一个?请在消息里写明。"
                if zh
                else f"I can look that up, but I need the {what}: which one do you mean? Please give it in your message."
            ]
            calls_composed = True
        else:
            calls_composed = bool(calls) and bool(composed) and all(x is not None for x in composed)
        ranking = compare(calls) if fast and len(calls) > 1 else None
        if calls_composed:
            # written by code from the tools' data: no generator in this turn
            answer = "\n\n".join(([ranking] if ranking else []) + [c for c in composed if c is not None])
            if self._on_token:
                self._on_token(answer)
        else:
            messages, prefix = self._answer_prompt(state, composed)
            if ranking:
                prefix = f"{ranking}\n{prefix}".strip()
                messages[-1]["content"] = f"{ranking}\n\n{messages[-1]['content']}"
            if prefix and self._on_token:
                self._on_token(prefix + "\n\n")  # the quotes are on screen before the generator starts
            cap = self.settings.max_tokens if not fast else min(self.settings.max_tokens, 110 if calls else 48)
            if calls and calls[0]["name"] == "draft_reply":
                cap = self.settings.max_tokens
            comp = self.model.complete(messages, max_tokens=cap, temperature=self.settings.temperature, on_token=self._on_token)
            answer = comp.text.strip()
        evidence = self._evidence(state)
        # replies written for the shop may promise only what a tool confirmed (the customer's words confirm nothing)
        confirmed = [confirmed_facts(c["result"]["data"]) for c in calls if c.get("result")]
        guard = any(self.tools[c["name"]].no_promises for c in calls)

        def check(text: str) -> tuple[list[str], list[str]]:
            return ungrounded_numbers(text, evidence), (unconfirmed_promises(text, confirmed) if guard else [])

        bad, promises = check(answer)
        rewrites = 0
        if (bad or promises) and messages is not None:
            rewrites = 1
            problems = ([f"these numbers are not in the tool results: {', '.join(bad)}"] if bad else []) + (
                [f"it promises {', '.join(promises)}, which no fact confirms"] if promises else []
            )
            fix = messages + [
                {"role": "assistant", "content": answer},
                {"role": "user", "content": f"Rewrite it: {'; '.join(problems)}. Use only what the results say."},
            ]
            answer = self.model.complete(fix, max_tokens=cap, temperature=0.0).text.strip()
            bad, promises = check(answer)
        grounded = not bad and not promises
        if not grounded:
            found = calls[0]["result"]["summary"] if calls and calls[0].get("result") else "no data"
            what = "; ".join(
                ([f"figures no tool returned: {', '.join(bad)}"] if bad else [])
                + ([f"promises no fact confirms: {', '.join(promises)}"] if promises else [])
            )
            answer = (
                f"写出的回答与数据对不上(它写了{what})。以下是工具查到的内容:\n{found[:1500]}"
                if zh
                else f"I could not ground a written answer in the data (it stated {what}). "
                f"Here is what the tools found:\n{found[:1500]}"
            )
        if prefix:
            answer = f"{prefix}\n\n{answer}"
        sources = state.get("sources") or []
        answer = fix_citations(answer, len(sources))
        if sources and not cited(answer):
            answer += "\n\nSources: " + " ".join(f"[{i}]" for i in range(1, min(3, len(sources)) + 1))
        timings = {
            **state["timings"],
            "answer_s": time.perf_counter() - t0,
            "composed": comp is None,
            "answer_ttft_s": comp.timings.get("ttft_s") if comp else 0.0,
            "decode_tps": comp.timings.get("decode_tps") if comp else None,
            "prefill_tps": comp.timings.get("prefill_tps") if comp else None,
            "rewrites": rewrites,
        }
        first = calls[0] if calls else None
        turn: Turn = {
            "question": question,
            "tool": first["name"] if first else None,
            "args": first["args"] if first else None,
            "spec": first.get("spec") if first else None,
            "answer": answer,
        }
        return {"answer": answer, "grounded": grounded, "timings": timings, "turns": [turn]}

    # -- the public entry point ----------------------------------------------------------

    def ask(
        self,
        question: str,
        session_id: str | None = None,
        on_token: Callable[[str], None] | None = None,
        tool: tuple[str, dict] | None = None,
        on_step: Callable[[dict], None] | None = None,
        customer_id: str | None = None,
    ) -> TurnResult:
        """Answer one message: a :class:`~agent.results.TurnResult` (answer, tool calls, charts, sources, timings).

        ``tool=(name, args)`` skips routing and calls that tool (``pulse reply`` does this).
        ``on_step`` hears ``{"type": "tool_start"|"tool_end", ...}`` as the turn runs; ``customer_id``
        scopes the tools to one authenticated customer (support sessions).
        """
        question = (question or "").strip()
        if not question:
            raise AgentInputError("the message is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise AgentInputError(
                f"the message is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
                "Shorten it or ask about one thing at a time."
            )
        session_id = session_id or uuid.uuid4().hex[:12]
        t0 = time.perf_counter()
        first: list[float] = []

        def tap(piece: str) -> None:
            if not first:
                first.append(time.perf_counter() - t0)
            if on_token:
                on_token(piece)

        with self._lock:  # one local generator: turns queue
            self._on_token, self._on_step = tap, on_step
            try:
                forced = {"tool": tool[0], "args": tool[1]} if tool else None
                if forced and forced["tool"] not in self.tools:
                    raise AgentInputError(f"no tool {forced['tool']!r}")
                out = self.graph.invoke(
                    {"question": question, "forced": forced, "customer_id": customer_id},
                    {"configurable": {"thread_id": session_id}},
                )
            finally:
                self._on_token = self._on_step = None
        timings = {**out.get("timings", {}), "first_token_s": first[0] if first else None, "total_s": time.perf_counter() - t0}
        calls: list[ToolCall] = [
            {"name": c["name"], "args": c["args"], "result": c["result"], "error": c["error"], "duration_s": c["duration_s"]}
            for c in out.get("tool_calls") or []
        ]
        return {
            "answer": out["answer"],
            "tool_calls": calls,
            "charts": [c["result"]["chart"] for c in out.get("tool_calls") or [] if c.get("result") and c["result"].get("chart")],
            "sources": [{"n": i, **s} for i, s in enumerate(out.get("sources") or [], start=1)],
            "timings": timings,
            "session_id": session_id,
            "grounded": out.get("grounded", True),
        }

    def history(self, session_id: str) -> list[Turn]:
        snap = self.graph.get_state({"configurable": {"thread_id": session_id}})
        return list((snap.values or {}).get("turns") or [])
