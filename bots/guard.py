"""The HTTP guard in front of ``pulse serve``: who may reach which route, which Host is served, how big a request may be.

Secure by default, the way Jupyter guards even a local server:

* **The analyst surfaces need the server key**: the web UI, ``/v1/*``, ``/doc/*``, ``/metrics`` and the API docs.
  The key is the ``server_key`` setting (``PULSE_SERVER_KEY``); with none set, one is generated on first start
  and kept in ``<workspace>/server_key`` (mode 0600). A client sends ``Authorization: Bearer KEY``; a browser
  opens ``/?key=KEY`` once, which sets an HttpOnly cookie and redirects to the same page without the key.
* **The handoff queue needs the staff token**; with no ``staff_token`` configured it is closed.
* **Open to anyone**: ``/healthz``, the widget page and the support API (sign-in, messages, transcript), whose
  own tokens and per-customer policy are ``agent/support.py``'s job.
* **Host allow-list**: loopback names, the configured ``host`` and ``allowed_hosts``; any other ``Host``
  (a re-bound DNS name) gets 400.
* **Request bodies are capped** before anything parses them: ``Content-Length`` over the cap, or a body that
  grows past it, is answered 413. Uploads have their own, larger cap.
* **CORS**: only the configured ``widget_origins`` get ``Access-Control-Allow-*`` headers; whatever a mounted
  app (Gradio) would reflect for another origin is removed.

``open_loopback = true`` (development only) lets loopback clients in without the key; it is refused unless
the server listens on a loopback address.

What it leaves out: TLS (use a reverse proxy), several analyst accounts (one key), rate limits on analyst routes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import secrets
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

__all__ = ["Guard", "server_key", "credential_id", "PUBLIC_PATHS", "is_loopback"]

PUBLIC_PATHS = frozenset({"/healthz", "/widget", "/support/sessions", "/support/messages", "/support/transcript"})
STAFF_PREFIX = "/support/handoffs"
COOKIE = "pulse_key"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def server_key(settings) -> str:
    """The analyst key: the setting, else the workspace's generated one (created once, 0600)."""
    if settings.server_key:
        return settings.server_key
    path = Path(settings.workspace) / "server_key"
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    key = secrets.token_urlsafe(24)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return key


def credential_id(token: str) -> str:
    """A short, stable id of a credential: conversations a client names are scoped by it."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def _same(a: str, b: str | None) -> bool:
    return b is not None and b != "" and secrets.compare_digest(a.encode(), b.encode())


class Guard:
    """ASGI middleware: ``Guard(app, settings)``; wraps the whole app, Gradio included."""

    def __init__(self, app, settings, key: str):
        self.app = app
        self.key = key
        self.staff = settings.staff_token
        self.max_body = settings.max_body_bytes
        self.max_upload = settings.max_upload_bytes
        self.hosts = {"127.0.0.1", "localhost", "::1", "[::1]", settings.host, *settings.allowed_hosts}
        self.origins = set(settings.widget_origins)
        if settings.open_loopback and not is_loopback(settings.host):
            raise ValueError(
                f"open_loopback is for development on a loopback address only; the server listens on {settings.host}"
            )
        self.open_loopback = settings.open_loopback

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if hostname not in self.hosts:
            return await _reply(send, scope, 400, "this host name is not served here (see allowed_hosts)")
        path = scope.get("path") or "/"
        denied = self._denied(scope, path, headers)
        if denied == "redirect":
            return await self._set_cookie(scope, send)
        if denied:
            return await _reply(send, scope, *denied)
        if scope["type"] == "http":
            cap = self.max_upload if "/upload" in path else self.max_body
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > cap):
                return await _reply(send, scope, 413, f"the request body is over the {cap:,}-byte limit")
            if length is None and scope.get("method") in ("POST", "PUT", "PATCH"):
                # no declared length (chunked): read it here, up to the cap, before any app parses it
                body = await _read_capped(receive, cap)
                if body is None:
                    return await _reply(send, scope, 413, f"the request body is over the {cap:,}-byte limit")
                receive = _replay(body)
            send = self._cors(send, headers.get("origin"))
        return await self.app(scope, receive, send)

    def _denied(self, scope, path: str, headers: dict):
        if path in PUBLIC_PATHS:
            return None
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if path.startswith(STAFF_PREFIX):
            if not self.staff:
                return 403, "the handoff queue is closed: set staff_token to open it"
            return None if _same(self.staff, bearer) else (401, "the handoff queue needs the staff token")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if scope["type"] == "http" and _same(self.key, query.get("key")):
            return "redirect"
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is no credential
            pass
        given = bearer or (cookie[COOKIE].value if COOKIE in cookie else None)
        if _same(self.key, given):
            return None
        if self.open_loopback and is_loopback((scope.get("client") or ("",))[0]):
            return None
        return 401, "this Pulse server needs its key: open the URL `pulse serve` printed, or send 'Authorization: Bearer KEY'"

    async def _set_cookie(self, scope, send):
        query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k != "key"]
        location = (scope.get("root_path", "") + scope["path"]) + (("?" + urlencode(query)) if query else "")
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode()),
                    (b"set-cookie", f"{COOKIE}={self.key}; Path=/; HttpOnly; SameSite=Strict".encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def _cors(self, send, origin: str | None):
        allowed = origin in self.origins

        async def wrapped(message):
            if message["type"] == "http.response.start":
                hs = [(k, v) for k, v in message.get("headers", []) if not k.lower().startswith(b"access-control-allow-")]
                if allowed:
                    hs += [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
                message = {**message, "headers": hs}
            await send(message)

        return wrapped


async def _read_capped(receive, cap: int) -> bytes | None:
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        seen += len(chunks[-1])
        if seen > cap:
            return None
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _reply(send, scope, status: int, detail: str):
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    path = scope.get("path") or ""
    body = (
        {"error": {"message": detail, "type": "invalid_request_error", "code": status}}
        if path.startswith("/v1/")
        else {"detail": detail}
    )
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})
