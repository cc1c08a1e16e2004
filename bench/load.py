"""Load test: N concurrent chat sessions against a live ``pulse serve`` on 127.0.0.1 (``make load``).

    python -m bench.load [--sessions 20] [--messages 2] [--model smollm2-135m]

It starts the real server (uvicorn, the same app as ``pulse serve``) on a free
loopback port over the demo workspace, then opens ``--sessions`` sessions at
once, each sending ``--messages`` messages in turn (the second a follow-up), over
the OpenAI-compatible API. Reported: latency p50/p95/max per
message (queueing included), errors (target 0), messages lost (target 0: every
message sent has its answer in the conversation log), and the same turn's
latency with the server otherwise idle, measured first in the same run.

Bounded: loopback only, at most 64 sessions, a timeout per request. One local
model answers one turn at a time, so turns queue (they are not dropped) and the
p95 is roughly sessions x messages x a turn. Run it alone on the 2-core machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from pulse.config import load_settings

QUESTIONS = [  # (first message, follow-up): varied so sessions do not share a cache line of text
    ("how many orders did customer {n} place?", "and what did they spend in total?"),
    ("what do customers say about dress sizing?", "and about the fabric?"),
    ("hello, what can you do?", "thanks!"),
    ("tell me about product {p}", "what is its average rating?"),
]


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--messages", type=int, default=2, choices=[1, 2])
    ap.add_argument("--model", default="smollm2-135m", help="model pack (default: the small plumbing model)")
    ap.add_argument("--workspace", default=None)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per request")
    args = ap.parse_args(argv)
    sessions = max(1, min(args.sessions, 64))

    import uvicorn

    from agent.service import PulseService
    from bots.api import create_app

    base_settings = load_settings(**({"workspace": args.workspace} if args.workspace else {}))
    # a scratch copy of the workspace's log and sessions: the load test leaves the real one untouched
    tmp = Path(tempfile.mkdtemp(prefix="pulse-load-"))
    ws = tmp / "ws"
    ws.mkdir()
    for f in base_settings.workspace.iterdir():
        if f.name.startswith(("pulse_log.sqlite", "sessions.sqlite")):
            continue
        (ws / f.name).symlink_to(f.resolve())
    s = load_settings(workspace=ws, model=args.model)
    svc = PulseService.open(s)
    from bots.guard import server_key

    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(svc, ui=False), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    key = server_key(s)
    while True:
        try:
            httpx.get(url + "/healthz", timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    products = [
        r["product_id"] for r in svc.analyst.ws.query("SELECT product_id FROM products WHERE department <> 'Movies' LIMIT 64")
    ]

    def turn(client: httpx.Client, session: str, text: str) -> tuple[float, str | None]:
        t0 = time.perf_counter()
        try:
            r = client.post(
                url + "/v1/chat/completions",
                json={"model": "pulse", "user": session, "messages": [{"role": "user", "content": text}]},
                timeout=args.timeout,
                headers={"Authorization": f"Bearer {key}"},
            )
            err = None if r.status_code == 200 and r.json()["choices"][0]["message"]["content"] else f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            err = type(e).__name__
        return time.perf_counter() - t0, err

    def run_session(i: int) -> list[tuple[float, str | None]]:
        first, follow = QUESTIONS[i % len(QUESTIONS)]
        texts = [first.format(n=100 + i, p=products[i % len(products)]), follow][: args.messages]
        with httpx.Client() as c:
            return [turn(c, f"load-{i}", t) for t in texts]

    print(f"load: {sessions} sessions x {args.messages} messages, model {args.model}, {url}", flush=True)
    # reference, same run: each first message once, one at a time, on an otherwise idle server
    with httpx.Client() as c:
        idle = [turn(c, f"idle-{i}", q.format(n=7, p=products[0]))[0] for i, (q, _) in enumerate(QUESTIONS)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        results = [r for rs in pool.map(run_session, range(sessions)) for r in rs]
    wall = time.perf_counter() - t0
    lat = [dt for dt, err in results if err is None]
    errors = [err for _, err in results if err]
    # lost: a message the server accepted but whose answer is not in the conversation log
    logged = sum(sum(1 for m in svc.log.messages(f"openai-load-{i}") if m["role"] == "assistant") for i in range(sessions))
    lost = len(results) - len(errors) - logged
    server.should_exit = True
    svc.close()
    shutil.rmtree(tmp, ignore_errors=True)

    rows = [
        ("messages sent / answered", f"{len(results)} / {len(lat)}"),
        ("errors (target 0)", str(len(errors)) + (f" ({', '.join(sorted(set(errors)))})" if errors else "")),
        ("messages lost (target 0)", str(lost)),
        ("latency p50 under load", f"{_pct(lat, 0.5):.1f} s"),
        ("latency p95 under load", f"{_pct(lat, 0.95):.1f} s"),
        ("latency max under load", f"{max(lat) if lat else float('nan'):.1f} s"),
        ("mean turn, server idle, 4 questions one at a time (reference)", f"{statistics.mean(idle):.1f} s"),
        ("mean turn under load (wall time / turns answered)", f"{wall / max(1, len(lat)):.1f} s"),
        ("throughput under load", f"{len(lat) / wall * 60:.1f} turns/min over {wall:.0f} s"),
    ]
    print(f"\n| load test: {sessions} concurrent sessions, {args.model} | |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    return 1 if errors or lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
