"""``pulse serve``'s HTTP app: the web UI, the support API, an OpenAI-compatible API, and operations.

    >>> app = create_app(PulseService.open(settings))      # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=7860)      # doctest: +SKIP

Routes:

* ``/``: the Gradio web UI (``bots/gradio_ui.py``); ``/doc/{doc_id}``: a cited document.
* ``POST /support/sessions``: sign in ``{customer_id, email|zip|order_date+order_total}`` -> ``{token, conversation_id}``.
  ``POST /support/messages`` (``Authorization: Bearer <token>``) ``{message, stream}``: SSE events
  ``step``, ``token``, ``done`` (or one JSON reply with ``stream: false``). ``GET /support/transcript``.
  ``DELETE /support/sessions``: sign out. ``GET /support/handoffs``: the handoff queue; ``DELETE
  /support/handoffs/sessions/{customer_id}``: end a customer's sessions (both need the staff token).
  ``GET /widget``: an embeddable chat page.
* ``POST /v1/chat/completions`` (streaming or not) and ``GET /v1/models``: the analyst agent for any
  OpenAI client. The last user message is the question; ``user`` (or the ``X-Pulse-Session`` header)
  names the conversation, so follow-ups work.
* ``GET /healthz``, ``GET /metrics`` (Prometheus text).

Who may reach what (the server key, the staff token, Host and CORS, body caps) is ``bots/guard.py``.
What it leaves out: TLS and multi-user auth for the analyst UI (run it behind your own proxy).
"""

from __future__ import annotations

import html
import json
import logging
import time
import uuid
from collections.abc import Generator
from importlib import resources
from typing import Literal

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi import Path as FPath
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from agent.agents import AgentInputError
from agent.results import TurnResult
from agent.service import PulseService
from agent.support import AuthError, SessionError, SupportDesk
from pulse.errors import UserError
from pulse.plugins import CHANNELS

from .channels import Channel
from .guard import Guard, credential_id, server_key

__all__ = ["create_app"]

log = logging.getLogger("pulse.http")


class SignIn(BaseModel):
    customer_id: str = Field(..., min_length=1, max_length=64)
    email: str | None = Field(None, max_length=200)
    zip: str | None = Field(None, max_length=20)
    order_date: str | None = Field(
        None, max_length=20, description="YYYY-MM-DD of one of your orders (only where no email or zip is on file)."
    )
    order_total: str | None = Field(None, max_length=20, description="That order's total, e.g. 38.32 (with order_date).")


class SupportMessage(BaseModel):
    message: str = Field(..., max_length=200_000)  # longer than the agent's limit, so the reply can say what the limit is
    stream: bool = True


class ChatMessageIn(BaseModel):
    role: str
    content: str | list | None = None


class FeedbackIn(BaseModel):
    message_id: int = Field(..., ge=1, le=2**62)
    rating: Literal[-1, 1]
    comment: str | None = Field(None, max_length=2000)


class ChatRequest(BaseModel):
    model: str | None = None
    messages: list[ChatMessageIn]
    stream: bool = False
    user: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


_END = object()


async def _until_disconnect(gen: Generator[str, None, None], request: Request):
    """Serve a blocking generator of SSE lines; when the client leaves, close it at once, which stops the turn's
    model instead of finishing an answer nobody reads. (Starlette notices a hang-up only when a write fails, and
    uvicorn drops writes to a closed connection silently, so each line first asks whether the client is still there.)"""
    try:
        while (item := await anyio.to_thread.run_sync(next, gen, _END)) is not _END:
            if await request.is_disconnected():
                return
            yield item
    finally:
        gen.close()


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def _bearer(request: Request) -> str:
    h = request.headers.get("authorization", "")
    return h[7:].strip() if h.lower().startswith("bearer ") else ""


def _text(content) -> str:
    if isinstance(content, list):  # OpenAI content parts
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        texts = [t for t in parts if isinstance(t, str)]
        if len(texts) < len(parts):
            raise HTTPException(400, "a text content part needs a string 'text'")
        return " ".join(texts)
    return content or ""


def _printable(text: str) -> str:
    """A value safe for one log line: control characters (ESC, U+0085, newlines) shown escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)[:300]


def _public(result: TurnResult) -> dict:
    """What a client sees of a turn: no raw tool data dumps beyond the summary."""
    return {
        "answer": result["answer"],
        "conversation_id": result.get("conversation_id"),
        "message_id": result.get("message_id"),
        "tool_calls": [
            {"name": c["name"], "args": c["args"], "error": c["error"], "duration_s": round(c["duration_s"], 3)}
            for c in result.get("tool_calls") or []
        ],
        "sources": [
            {k: s.get(k) for k in ("n", "doc_id", "kind", "ref_id", "product_id", "text")} for s in result.get("sources") or []
        ],
        **{k: result[k] for k in ("handoff", "handoff_id", "refused", "pending_action", "action") if k in result},
    }


def create_app(svc: PulseService, ui: bool = True) -> Guard:
    """The whole server as one ASGI app, behind the :class:`~bots.guard.Guard`: operations, then every
    registered HTTP channel (``pulse.plugins.CHANNELS``; ``ui=False`` leaves out the web UI)."""
    s = svc.settings
    app = FastAPI(title="Pulse", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    app.state.service = svc
    m = svc.metrics

    @app.middleware("http")
    async def _observe(request: Request, call_next):
        t0 = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            # labels from route templates only: every distinct URL must not become a new series
            route = request.scope.get("route")
            path = getattr(route, "path", None) or (
                "/other" if request.url.path.startswith(("/v1", "/support", "/doc", "/api")) else "/ui"
            )
            dt = time.perf_counter() - t0
            m.requests.labels(route=path, status=str(status)).inc()
            m.latency.labels(route=path).observe(dt)
            if status >= 500:
                m.errors.labels(where="http").inc()
            if not path.startswith("/ui"):
                log.info("%s %s %d %.0f ms", request.method, _printable(request.url.path), status, dt * 1000)

    # -- operations ------------------------------------------------------------------------

    @app.get("/healthz")
    def healthz():
        return svc.health()

    @app.get("/metrics")
    def metrics():
        return PlainTextResponse(m.render(), media_type="text/plain; version=0.0.4")

    @app.get("/doc/{doc_id}", response_class=HTMLResponse)
    def document(doc_id: int = FPath(..., ge=0, le=2**62)):
        d = svc.document(doc_id)
        if not d:
            raise HTTPException(404, f"no document {doc_id}")
        meta = ", ".join(f"{k} {d[k]}" for k in ("kind", "ref_id", "product_id", "created_at") if d.get(k))
        return (
            f"<!doctype html><meta charset=utf-8><title>Pulse document {doc_id}</title>"
            f"<body style='font-family:sans-serif;max-width:46em;margin:2em auto'><p><small>{html.escape(meta)}</small></p>"
            f"<blockquote id=doc-text>{html.escape(d['text'])}</blockquote></body>"
        )

    @app.exception_handler(HTTPException)
    def _http_error(request: Request, exc: HTTPException):
        if request.url.path.startswith("/v1/"):  # OpenAI clients read error.message
            kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
            return JSONResponse(
                {"error": {"message": exc.detail, "type": kind, "code": exc.status_code}}, status_code=exc.status_code
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(UserError)  # every error a user should see: bad input, unknown ids, untrained models
    def _bad_input(request: Request, exc: UserError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    http = [c for c in CHANNELS.values() if c.mount is not None and (ui or c.name != "web")]
    for channel in sorted(http, key=lambda c: c.catch_all):  # catch-all paths last
        app = channel.mount(app, svc) or app
    return Guard(app, s, server_key(s))


def _mount_support(app: FastAPI, svc: PulseService) -> None:
    s = svc.settings
    desk = app.state.desk = SupportDesk(svc, ttl_s=s.support_session_ttl_s, webhook=s.handoff_webhook)

    def _session(request: Request) -> str:
        token = _bearer(request)
        try:
            desk.session(token)
        except SessionError as e:
            raise HTTPException(401, str(e)) from None
        return token

    @app.post("/support/sessions", status_code=201)
    def support_sign_in(body: SignIn, request: Request):
        try:
            return desk.start(
                body.customer_id, body.model_dump(exclude={"customer_id"}), client=request.client.host if request.client else None
            )
        except AuthError as e:
            raise HTTPException(e.status, str(e)) from None

    @app.delete("/support/sessions", status_code=204)
    def support_sign_out(request: Request):
        try:
            desk.end(_bearer(request))
        except SessionError as e:
            raise HTTPException(401, str(e)) from None

    @app.delete("/support/handoffs/sessions/{customer_id}")
    def support_revoke(customer_id: str = FPath(..., min_length=1, max_length=64)):  # the staff token is the Guard's check
        return {"revoked": desk.revoke(customer_id)}

    @app.post("/support/messages")
    def support_message(body: SupportMessage, request: Request):
        token = _session(request)
        if not body.stream:
            try:
                return _public(desk.ask(token, body.message))
            except AgentInputError as e:
                raise HTTPException(400, str(e)) from None

        def events() -> Generator[str, None, None]:
            for ev in desk.stream(token, body.message):
                if ev["type"] == "done":
                    yield _sse("done", _public(ev["result"]))
                elif ev["type"] == "step":
                    yield _sse("step", {k: v for k, v in ev.items() if k in ("step", "name", "args", "error", "duration_s")})
                else:
                    yield _sse(ev["type"], {k: v for k, v in ev.items() if k != "type"})

        return StreamingResponse(
            _until_disconnect(events(), request), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/support/transcript")
    def support_transcript(request: Request):
        return {"messages": desk.transcript(_session(request))}

    @app.get("/support/handoffs")
    def support_handoffs(request: Request, status: str = "open"):  # the staff token is checked by the Guard
        return {"handoffs": desk.handoffs(None if status == "all" else status)}

    @app.get("/widget", response_class=HTMLResponse)
    def widget():
        return resources.files("bots").joinpath("widget.html").read_text()


def _mount_openai(app: FastAPI, svc: PulseService) -> None:
    s = svc.settings

    @app.get("/v1/models")
    def models(request: Request):
        return {
            "object": "list",
            "data": [{"id": "pulse", "object": "model", "created": int(svc.started), "owned_by": "pulse", "generator": s.model}],
        }

    def _owner(request: Request) -> str:
        """The prefix of every conversation id this request's credential owns."""
        return f"openai-{credential_id(_bearer(request) or request.cookies.get('pulse_key', ''))}-"

    @app.post("/v1/feedback", status_code=201)
    def feedback(body: FeedbackIn, request: Request):
        """Thumbs up (+1) or down (-1) on an answer this credential's conversations received (``pulse.message_id``)."""
        try:
            svc.feedback(body.message_id, body.rating, body.comment, conversation_prefix=_owner(request))
        except KeyError:
            raise HTTPException(404, "no answer with that id in your conversations") from None
        return {"message_id": body.message_id, "rating": body.rating}

    @app.post("/v1/chat/completions")
    def chat_completions(body: ChatRequest, request: Request):
        users = [_text(x.content) for x in body.messages if x.role == "user"]
        if not users or not users[-1].strip():
            raise HTTPException(400, "messages must end with a non-empty user message")
        conv = request.headers.get("x-pulse-session") or body.user or uuid.uuid4().hex
        # a name a client chose is scoped to its credential: naming another client's conversation starts a new one
        conv = f"{_owner(request)}{conv[:80]}"
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:20]}", int(time.time())

        def chunk(delta: dict, finish: str | None = None, extra: dict | None = None) -> str:
            return (
                "data: "
                + json.dumps(
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": "pulse",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                        **(extra or {}),
                    }
                )
                + "\n\n"
            )

        if not body.stream:
            try:
                r = svc.ask(users[-1], conv, channel="openai")
            except AgentInputError as e:
                raise HTTPException(400, str(e)) from None
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": "pulse",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": r["answer"]}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                "pulse": _public(r),
            }

        def events() -> Generator[str, None, None]:
            yield chunk({"role": "assistant", "content": ""})
            sent = []
            for ev in svc.stream(users[-1], conv, channel="openai"):
                if ev["type"] == "token":
                    sent.append(ev["text"])
                    yield chunk({"content": ev["text"]})
                elif ev["type"] == "error":
                    yield "data: " + json.dumps({"error": {"message": ev["error"], "code": ev["status"]}}) + "\n\n"
                    break
                elif ev["type"] == "done":
                    final, streamed = ev["result"]["answer"], "".join(sent).strip()
                    if final != streamed:  # the checks changed the draft: send the rest, or the checked answer
                        tail = final[len(streamed) :] if final.startswith(streamed) else f"\n\n[checked answer]\n{final}"
                        yield chunk({"content": tail})
                    yield chunk({}, "stop", {"pulse": _public(ev["result"])})
            yield "data: [DONE]\n\n"

        return StreamingResponse(
            _until_disconnect(events(), request), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )


def _mount_web(app: FastAPI, svc: PulseService):
    import gradio as gr

    from .gradio_ui import build_ui

    s = svc.settings
    return gr.mount_gradio_app(
        app,
        build_ui(svc),
        path="/",
        server_name=s.host,
        server_port=s.port,
        allowed_paths=[str(svc.charts_dir)],
        footer_links=[],
        max_file_size=s.max_upload_bytes,
    )


CHANNELS.register("support", Channel("support", "customer-service API (/support) and widget (/widget)", mount=_mount_support))
CHANNELS.register("openai", Channel("openai", "OpenAI-compatible API (/v1)", mount=_mount_openai))
CHANNELS.register("web", Channel("web", "the Gradio web UI (/)", mount=_mount_web, catch_all=True))
