"""Chaos and load check: concurrent streaming sessions, clients that hang up, and a SIGKILL mid-turn (``make chaos``).

    python -m bench.chaos [--sessions 20] [--hangups 5] [--model smollm2-135m]

It runs the real ``pulse serve`` as a child process on a free loopback port,
over a scratch copy of the demo workspace (the tables and index are linked,
the conversation log and sessions are new), and then:

1. **load**: ``--sessions`` conversations at once over the OpenAI-compatible
   API, streaming, two messages each; every answer gets a thumbs-up through
   ``POST /v1/feedback``. ``--hangups`` of them close the stream on their first
   message as soon as content arrives: the server must stop the model for them
   (``pulse_turns_cancelled``), not finish an answer nobody reads.
2. **crash**: four more conversations start streaming, and the server is
   killed with SIGKILL as soon as one of them sees content. It is restarted on
   the same workspace.
3. **after the restart**: every conversation of step 1 sends one more message.

Reported: errors for clients the crash did not hit (target 0); answers,
conversations and feedback lost (target 0: each answered turn's transcript and
each rating accepted with 201 is in the log after the restart); hang-ups and
the turns the server stopped for them; whether the queue drained
(``pulse_turns_waiting`` 0 at the end); the restart time.

Bounded: loopback only, at most 64 sessions, a timeout per request. Run it
alone on the 2-core machine. What it leaves out: network faults other than a
closed connection, and disk-full.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from pulse.config import load_settings

__all__ = ["main"]

FIRST = [
    "how many orders did customer {n} place?",
    "what do customers say about dress sizing?",
    "hello, what can you do?",
    "what do reviews say about the fabric of the jeans?",
]
FOLLOW = "and what about the one after that?"
AFTER = "thanks, one more thing: how many reviews are there in total?"
HANGUP = "what do reviewers say about how the sweaters wash?"  # a written answer: the generator is busy when the client leaves


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(ws: Path, port: int, model: str) -> subprocess.Popen:
    env = {**os.environ, "PULSE_WORKSPACE": str(ws), "PULSE_MODEL": model, "PULSE_HOST": "127.0.0.1", "PULSE_PORT": str(port)}
    return subprocess.Popen(
        [sys.executable, "-c", "from bots.cli import main; raise SystemExit(main())", "serve", "--no-warm"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(url: str, proc: subprocess.Popen, timeout: float = 900) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"pulse serve exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError("pulse serve did not come up")


def _metric(url: str, key: str, name: str) -> float:
    text = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10).text
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


class _Client:
    def __init__(self, url: str, key: str, timeout: float):
        self.url, self.auth, self.timeout = url, {"Authorization": f"Bearer {key}"}, timeout

    def turn(self, session: str, text: str, hang_up: bool = False, on_content=None) -> dict:
        """One streamed message: {"ok", "message_id", "error", "hung_up"}."""
        body = {"model": "pulse", "user": session, "stream": True, "messages": [{"role": "user", "content": text}]}
        out = {"ok": False, "message_id": None, "error": None, "hung_up": False}
        try:
            with httpx.stream("POST", self.url + "/v1/chat/completions", json=body, headers=self.auth, timeout=self.timeout) as r:
                if r.status_code != 200:
                    out["error"] = f"HTTP {r.status_code}"
                    return out
                for line in r.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    ev = json.loads(line[6:])
                    if "error" in ev:
                        out["error"] = f"stream error {ev['error'].get('code')}"
                        return out
                    delta = ev["choices"][0]["delta"].get("content")
                    if delta and on_content:
                        on_content()
                    if delta and hang_up:
                        out["hung_up"] = True
                        return out  # leaving the with-block closes the connection mid-stream
                    if ev.get("pulse"):
                        out["ok"], out["message_id"] = True, ev["pulse"]["message_id"]
            if not out["ok"]:
                out["error"] = "stream ended without an answer"
        except (httpx.HTTPError, json.JSONDecodeError) as e:
            out["error"] = type(e).__name__
        return out

    def rate(self, message_id: int) -> bool:
        try:
            r = httpx.post(self.url + "/v1/feedback", json={"message_id": message_id, "rating": 1}, headers=self.auth, timeout=30)
            return r.status_code == 201
        except httpx.HTTPError:
            return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--hangups", type=int, default=5)
    ap.add_argument("--model", default="smollm2-135m", help="model pack (default: the small plumbing model)")
    ap.add_argument("--workspace", default=None)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per request")
    args = ap.parse_args(argv)
    n = max(1, min(args.sessions, 64))
    hangups = set(range(0, n, max(1, n // max(1, min(args.hangups, n))))[: args.hangups]) if args.hangups else set()

    from bots.guard import credential_id

    src = load_settings(**({"workspace": args.workspace} if args.workspace else {})).workspace
    tmp = Path(tempfile.mkdtemp(prefix="pulse-chaos-"))
    ws = tmp / "ws"
    ws.mkdir()
    for f in Path(src).iterdir():  # tables, index and models linked; the log, sessions and key are this run's own
        if not f.name.startswith(("pulse_log.sqlite", "sessions.sqlite", "server_key", "eval_runs", "charts")):
            (ws / f.name).symlink_to(f.resolve())
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(ws, port, args.model)
    try:
        boot = _wait(url, proc)
        key = (ws / "server_key").read_text().strip()
        cl = _Client(url, key, args.timeout)
        print(f"chaos: {n} sessions ({len(hangups)} hang up), model {args.model}, {url}; started in {boot:.0f} s", flush=True)
        answered: dict[str, int] = {}  # session -> turns answered (what the log must hold)
        rated: list[int] = []
        errors: list[str] = []
        lock = threading.Lock()

        def session(i: int) -> None:
            name = f"chaos-{i}"
            for j, text in enumerate([HANGUP if i in hangups else FIRST[i % len(FIRST)].format(n=100 + i), FOLLOW]):
                r = cl.turn(name, text, hang_up=i in hangups and j == 0)
                with lock:
                    if r["ok"]:
                        answered[name] = answered.get(name, 0) + 1
                        if cl.rate(r["message_id"]):
                            rated.append(r["message_id"])
                        else:
                            errors.append("feedback refused")
                    elif not r["hung_up"]:
                        errors.append(r["error"])

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(session, range(n)))
        load_s = time.perf_counter() - t0
        time.sleep(1.0)
        cancelled = _metric(url, key, "pulse_turns_cancelled_total")
        waiting_before_kill = _metric(url, key, "pulse_turns_waiting")

        # -- crash: SIGKILL while turns are streaming --------------------------------------------
        killed = threading.Event()

        def kill() -> None:
            if not killed.is_set():
                killed.set()
                proc.send_signal(signal.SIGKILL)

        with ThreadPoolExecutor(max_workers=4) as pool:
            hit = list(pool.map(lambda i: cl.turn(f"crash-{i}", HANGUP, on_content=kill), range(4)))
        proc.wait(timeout=30)
        in_flight = sum(1 for r in hit if not r["ok"])
        t1 = time.perf_counter()
        proc = _start(ws, port, args.model)
        _wait(url, proc)
        restart_total = time.perf_counter() - t1

        # -- after the restart: every conversation goes on -----------------------------------------
        def after(i: int) -> None:
            name = f"chaos-{i}"
            r = cl.turn(name, AFTER)
            with lock:
                if r["ok"]:
                    answered[name] = answered.get(name, 0) + 1
                else:
                    errors.append(f"after restart: {r['error']}")

        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(after, range(n)))
        waiting = _metric(url, key, "pulse_turns_waiting")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()

    # what the log holds after all of it
    owner = f"openai-{credential_id(key)}-"
    db = sqlite3.connect(ws / "pulse_log.sqlite")
    logged = {
        cid: k
        for cid, k in db.execute("SELECT conversation_id, count(*) FROM messages WHERE role = 'assistant' GROUP BY 1").fetchall()
    }
    lost_answers = sum(max(0, k - logged.get(owner + s, 0)) for s, k in answered.items())
    lost_convs = sum(1 for s in answered if owner + s not in logged)
    stored = {r[0] for r in db.execute("SELECT message_id FROM feedback").fetchall()}
    lost_feedback = sum(1 for m in rated if m not in stored)
    db.close()
    shutil.rmtree(tmp, ignore_errors=True)

    rows = [
        ("sessions / messages answered", f"{n} / {sum(answered.values())}"),
        (
            "errors for clients the crash did not hit (target 0)",
            f"{len(errors)}" + (f" ({', '.join(sorted(set(errors)))})" if errors else ""),
        ),
        ("answers lost from the log (target 0)", str(lost_answers)),
        ("conversations lost (target 0)", str(lost_convs)),
        ("feedback lost (target 0)", f"{lost_feedback} of {len(rated)}"),
        ("clients hung up mid-stream / turns the server stopped for them", f"{len(hangups)} / {cancelled:.0f}"),
        ("turns in flight at the SIGKILL (these clients see an error)", str(in_flight)),
        ("restart after SIGKILL (to /healthz)", f"{restart_total:.1f} s"),
        ("queue drained (pulse_turns_waiting at the end; before the kill)", f"{waiting:.0f}; {waiting_before_kill:.0f}"),
        ("load phase wall time", f"{load_s:.0f} s"),
    ]
    print(f"\n| chaos: {n} concurrent sessions, {args.model} | |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    bad = errors or lost_answers or lost_convs or lost_feedback or waiting or cancelled < len(hangups)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
