"""The agent core every channel talks to: one model, two personas, one log.

    >>> svc = PulseService.open(load_settings())                          # doctest: +SKIP
    >>> r = svc.ask("how many orders did customer 42 place?", channel="web")  # doctest: +SKIP
    >>> r["conversation_id"], r["message_id"], r["answer"]                 # doctest: +SKIP
    >>> for ev in svc.stream("and what did they spend?", r["conversation_id"]):  # doctest: +SKIP
    ...     print(ev["type"])                                             # step, token, ..., done

The web UI, the Discord bot, the support API and the OpenAI-compatible API all
hold one :class:`PulseService`. It owns the analyst agent and the support
agent (same generator, same lock, so turns from every channel queue for the
one local model instead of being dropped), the conversation log, metrics, and
the few things a front end needs besides chat: feedback, charts as PNG files,
tool runs for dashboards and alert polling, and imports.
What it leaves out: the channels themselves (``bots/*``) and support policy
(``agent/support.py``).
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, cast

from pulse.config import Settings
from pulse.errors import UserError
from tools import REGISTRY, SUPPORT_TOOLS, ToolError, ToolResult
from workspace import IngestError, privacy

from .agents import Agent, AgentInputError
from .log import Log
from .metrics import Metrics
from .results import StepEvent, StreamEvent, TurnResult

__all__ = ["PulseService", "SUPPORT_PROMPTS", "TurnCancelled", "IngestError"]

#: The support persona's prompt files (agent/prompts/): same graph, different words.
SUPPORT_PROMPTS = {"route": "support_route", "chat": "support_chat", "answer": "support_answer"}


class TurnCancelled(RuntimeError):
    """The listener stopped the turn (the web UI's Stop, a dropped connection)."""


class PulseService:
    def __init__(self, settings: Settings, analyst: Agent, support: Agent, log: Log, metrics: Metrics | None = None):
        self.settings = settings
        self.analyst = analyst
        self.support = support
        self.log = log
        self.metrics = metrics or Metrics()
        self.charts_dir = settings.workspace / "charts"
        self.started = time.time()
        self._lock = analyst._lock  # the one local model's lock, shared by both personas
        self._dash_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, chat_model=None, log_path: Path | None = None) -> "PulseService":
        """Open the workspace read-only, load the index and the model once, and build both personas.

        ``log_path`` puts the conversation log elsewhere (an eval run keeps its own).
        """
        from agent.models import load_model
        from retrieval import Index
        from workspace import Workspace

        ws = Workspace.open(settings.workspace, read_only=True)
        index = Index.open(ws, settings, role="query")
        model = chat_model or load_model(settings)
        analyst = Agent(settings, ws, index, model, tools=REGISTRY)
        support = Agent(
            settings, ws, index, model, tools=SUPPORT_TOOLS, lock=analyst._lock, prompts=SUPPORT_PROMPTS, persona="support"
        )
        return cls(settings, analyst, support, Log(log_path or settings.workspace / "pulse_log.sqlite"))

    def close(self) -> None:
        self.support.close(model=False)
        self.analyst.close()
        self.log.close()

    # -- chat ----------------------------------------------------------------------------

    def ask(
        self,
        message: str,
        conversation_id: str | None = None,
        channel: str = "web",
        on_token: Callable[[str], None] | None = None,
        on_step: Callable[[dict], None] | None = None,
        customer_id: str | None = None,
        tool: tuple[str, dict] | None = None,
    ) -> TurnResult:
        """One turn, logged. Returns the agent's result plus ``conversation_id`` and ``message_id``.

        Raises :class:`AgentInputError` for an empty or over-long message (nothing is logged then).
        """
        agent = self.support if customer_id else self.analyst
        cid = self.log.new_conversation(channel, customer_id=customer_id, conversation_id=conversation_id)
        t0 = time.perf_counter()
        self.metrics.waiting.inc()
        try:
            result = agent.ask(message, session_id=cid, on_token=on_token, on_step=on_step, customer_id=customer_id, tool=tool)
        except AgentInputError:
            raise
        except TurnCancelled:
            self.metrics.cancelled.labels(channel=channel).inc()
            raise
        except Exception:
            self.metrics.errors.labels(where=f"turn:{channel}").inc()
            raise
        finally:
            self.metrics.waiting.dec()
        if not customer_id and not self.settings.show_pii:  # the analyst never sees raw personal data
            result, message = _masked(result), privacy.redact(message)
        self.metrics.turns.labels(channel=channel).inc()
        self.metrics.turn_seconds.labels(channel=channel).observe(time.perf_counter() - t0)
        for c in result["tool_calls"]:
            self.metrics.tool_calls.labels(tool=c["name"], outcome="error" if c["error"] else "ok").inc()
        self.log.add_message(cid, "user", message, question=message)
        result["message_id"] = self.log.add_message(
            cid,
            "assistant",
            result["answer"],
            question=message,
            tool_calls=result["tool_calls"],
            sources=result["sources"],
            charts=result["charts"],
            timings=result["timings"],
        )
        result["conversation_id"] = cid
        return result

    def stream(
        self,
        message: str,
        conversation_id: str | None = None,
        channel: str = "web",
        customer_id: str | None = None,
        tool: tuple[str, dict] | None = None,
    ) -> Iterator[StreamEvent]:
        """The same turn as events: ``{"type": "step"|"token"|"done"|"error", ...}``; ``done`` carries the result.

        The turn runs in a worker thread; while the model is busy with another
        channel's turn this waits in line (nothing is dropped).
        """
        q: queue.Queue = queue.Queue()
        cancelled = threading.Event()

        # where the workspace keeps personal data as given, the analyst gets the checked, masked answer at the end
        hold = not customer_id and not self.settings.show_pii and self.analyst.ws.get_meta("pii_policy") == "keep"

        def token(t: str) -> None:
            if cancelled.is_set():  # the listener left (Stop, a closed connection): end generation now
                raise TurnCancelled("the turn was stopped")
            if not hold:
                q.put({"type": "token", "text": t})

        def work():
            try:
                r = self.ask(
                    message,
                    conversation_id,
                    channel,
                    on_token=token,
                    on_step=lambda e: q.put(_step_event(e)),
                    customer_id=customer_id,
                    tool=tool,
                )
                q.put({"type": "done", "result": r})
            except UserError as e:  # bad input, an untrained model, an unknown id: the user's to fix, never a 500
                q.put({"type": "error", "error": str(e), "status": 400})
            except TurnCancelled as e:
                q.put({"type": "error", "error": str(e), "status": 499})
            except Exception as e:  # noqa: BLE001 - the channel must hear about it
                q.put({"type": "error", "error": f"{type(e).__name__}: {e}", "status": 500})

        threading.Thread(target=work, daemon=True, name="pulse-turn").start()
        try:
            while True:
                ev = q.get()
                yield ev
                if ev["type"] in ("done", "error"):
                    return
        finally:  # closed early: stop the model instead of finishing an answer nobody reads
            cancelled.set()

    def feedback(self, message_id: int, rating: int, comment: str | None = None, conversation_prefix: str | None = None) -> None:
        """Rate an answer. With ``conversation_prefix``, only an answer in a conversation whose id starts with it
        (a client's own); any other id is ``KeyError``, the same as one that does not exist."""
        if conversation_prefix is not None:
            cid = self.log.message_conversation(message_id)
            if not cid or not cid.startswith(conversation_prefix):
                raise KeyError(f"no answer with id {message_id}")
        self.log.add_feedback(message_id, rating, comment)

    # -- what dashboards and channels need besides chat -------------------------------------

    def run_tool(self, name: str, args: dict) -> ToolResult:
        """A tool's result without the generator (dashboard panels, alert polling). Serialised with turns."""
        with self._lock:
            try:
                r = self.analyst.call_tool(name, args)
                self.metrics.tool_calls.labels(tool=name, outcome="ok").inc()
                return r
            except ToolError:
                self.metrics.tool_calls.labels(tool=name, outcome="error").inc()
                raise

    def dashboard(self, refresh: bool = False) -> dict:
        """The stored dashboard snapshot (``tools.dashboard``), built now if there is none or ``refresh``; a stale one
        (the data or models changed since) is returned as it is while a fresh one is built in the background."""
        from tools import dashboard as dash

        snap = None if refresh else dash.load(self.settings.workspace)
        if snap is None:
            return self.rebuild_dashboard()
        snap["fresh"] = dash.is_fresh(snap, self.analyst.ws)
        if not snap["fresh"]:
            self.rebuild_dashboard_in_background(only_if_stale=False)  # just found stale: no second load and fingerprint
        return snap

    def rebuild_dashboard(self) -> dict:
        """Run the dashboard's tools once and store the result in the workspace (one build at a time)."""
        from tools import dashboard as dash

        with self._dash_lock:
            snap = dash.build(self.run_tool, self.analyst.ws)
            if not self.settings.show_pii:  # what the analyst sees, stored as they may see it
                snap = {k: v if k == "fingerprint" else _mask_values(v) for k, v in snap.items()}
            dash.save(self.settings.workspace, snap)
        return {**snap, "fresh": True}

    def rebuild_dashboard_in_background(self, only_if_stale: bool = True) -> None:
        from tools import dashboard as dash

        if self._dash_lock.locked() or (only_if_stale and dash.is_fresh(dash.load(self.settings.workspace), self.analyst.ws)):
            return
        threading.Thread(target=self._rebuild_quietly, daemon=True, name="pulse-dashboard").start()

    def _rebuild_quietly(self) -> None:
        try:
            self.rebuild_dashboard()
        except Exception:  # noqa: BLE001 - a background refresh must never take the server down; the page says stale
            self.metrics.errors.labels(where="dashboard").inc()

    def chart_png(self, spec: dict) -> Path:
        """Render a chart spec to a PNG under ``<workspace>/charts`` (cached by content)."""
        from pulse.charts import render_chart

        key = hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
        path = self.charts_dir / f"{key}.png"
        if not path.is_file():
            self.charts_dir.mkdir(parents=True, exist_ok=True)
            render_chart(spec, path)
        return path

    def document(self, doc_id: int) -> dict | None:
        rows = self.analyst.ws.query(
            "SELECT doc_id, kind, ref_id, product_id, customer_id, created_at, text FROM documents WHERE doc_id = ?", [doc_id]
        )
        return rows[0] if rows else None

    def preview_file(self, path: Path, kind: str, rows: int = 10) -> dict:
        """What an import of ``path`` as ``kind`` would read: its first ``rows`` rows, the guessed column mapping,
        the kind's fields and the required ones no column maps to. Raises ``ValueError`` for an unreadable file."""
        from workspace import FIELDS, guess_mapping, read_table

        try:
            df = read_table(Path(path), progress=False)
        except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to fix: one clear error
            raise ValueError(str(e)) from None
        fields = FIELDS[kind][2]
        guess = guess_mapping(df.columns, kind)
        missing = [f for f, spec in fields.items() if spec.required and f not in guess.values()]
        return {
            "head": df.head(rows),
            "n_rows": len(df),
            "columns": list(df.columns),
            "mapping": guess,
            "fields": list(fields),
            "missing": missing,
        }

    def import_file(self, path: Path, kind: str, mapping: dict | None = None, progress: bool = True) -> dict:
        """Import a user's file through the one import pipeline (``tools.imports``); all or nothing.

        Turns wait while the workspace is open for writing. Raises ``IngestError`` with
        the bad rows (nothing imported) or ``ValueError`` for an unknown kind or mapping.
        """
        from tools.imports import import_file

        ws, index = self.analyst.ws, self.analyst.index
        with self._lock:
            ws.reopen(read_only=False)  # WorkspaceBusy (a UserError) when another process holds it; still serving
            try:
                rep = import_file(ws, index, kind, Path(path), mapping or None, progress=progress)
            finally:
                ws.reopen(read_only=True)
        from tools import dashboard as dash

        if dash.load(self.settings.workspace) is not None:  # a dashboard in use: rebuilt for the new data
            self.rebuild_dashboard_in_background()
        return rep.to_dict()

    def health(self) -> dict:
        st = self.analyst.ws.query("SELECT count(*) AS n FROM documents")[0]["n"]
        return {
            "status": "ok",
            "model": self.settings.model,
            "backend": self.settings.backend,
            "workspace": str(self.settings.workspace),
            "documents": st,
            "tools": list(self.analyst.tools),
            "support_tools": list(self.support.tools),
            "uptime_s": round(time.time() - self.started, 1),
        }


def _step_event(e: dict) -> StepEvent:
    """The agent's ``{"type": "tool_start"|"tool_end", ...}`` as a stream's step event."""
    return cast(StepEvent, {"type": "step", "step": e["type"], **{k: v for k, v in e.items() if k != "type"}})


def _masked(result: TurnResult) -> TurnResult:
    """A turn's result with personal data masked in the answer, the sources and the tools' summaries and data."""
    result["answer"] = privacy.redact(result["answer"])
    for src in result.get("sources") or []:
        if isinstance(src.get("text"), str):
            src["text"] = privacy.redact(src["text"])
    for call in result.get("tool_calls") or []:
        res = call.get("result")
        if isinstance(res, dict):
            call["result"] = _mask_values(res)
    return result


def _mask_values(v):
    if isinstance(v, str):
        return privacy.redact(v)
    if isinstance(v, dict):
        return {k: _mask_values(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_mask_values(x) for x in v]
    return v
