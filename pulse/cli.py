"""The ``pulse`` command.

    pulse demo [--limit N]                      build the demo workspace from real public data
    pulse ingest --kind reviews FILE [--map SRC=FIELD ...]
    pulse index                                 embed new documents and update the FAISS index
    pulse models [pull NAME]                    list or fetch model packs
    pulse doctor                                versions, model, runtime, threads, workspace stats
    pulse ask "question" [--session ID] [--json]
    pulse chat [--session ID]                   interactive, streaming

Global options (``--workspace``, ``--model``, ``--backend``, ``--threads``) override
``pulse.toml`` and ``PULSE_*`` variables (see pulse/config.py). Heavy libraries are
imported inside the commands, so ``pulse --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .config import load_settings

__all__ = ["main"]


def _settings(args):
    return load_settings(workspace=args.workspace, model=args.model, backend=args.backend, threads=args.threads,
                         base_url=getattr(args, "base_url", None))


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def cmd_demo(args) -> int:
    from retrieval import Index
    from workspace import Workspace
    from workspace.demo import build_demo

    s = _settings(args)
    t0 = time.perf_counter()
    stats = build_demo(s.workspace, s.cache_dir, limit=args.limit)
    with Workspace.open(s.workspace) as ws:
        embedded = Index.open(ws, s).update(progress=True)
        stats = ws.stats()
    print(f"demo workspace at {s.workspace}: " + ", ".join(f"{k} {v:,}" for k, v in stats.items()))
    print(f"embedded {embedded:,} new documents; built in {time.perf_counter() - t0:.0f} s")
    return 0


def cmd_ingest(args) -> int:
    from retrieval import Index
    from workspace import IngestError, Workspace, ingest

    s = _settings(args)
    mapping = {}
    for m in args.map or []:
        if "=" not in m:
            print(f"error: --map expects SOURCE=FIELD, got {m!r}", file=sys.stderr)
            return 2
        src, dst = m.split("=", 1)
        mapping[src] = dst
    with Workspace.open(s.workspace) as ws:
        try:
            rep = ingest(ws, args.kind, Path(args.file), mapping)
        except (IngestError, FileNotFoundError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        new_docs = ws.refresh_documents()
        embedded = Index.open(ws, s).update(progress=True) if (new_docs or args.kind in ("posts", "reviews", "products")) and not args.no_index else 0
    print(f"{rep.kind}: {rep.rows:,} rows read, {rep.inserted:,} new, {rep.replaced:,} updated; {embedded:,} documents embedded")
    return 0


def cmd_index(args) -> int:
    from retrieval import Index
    from workspace import Workspace

    s = _settings(args)
    with Workspace.open(s.workspace) as ws:
        ws.refresh_documents()
        idx = Index.open(ws, s)
        n = idx.update(progress=True)
        print(f"embedded {n:,} new documents; index: {idx.kind}, {idx.ntotal:,} vectors")
    return 0


def cmd_models(args) -> int:
    from agent.packs import PACKS, resolve_model

    s = _settings(args)
    if args.action == "pull":
        for name in args.names or [s.model]:
            print(resolve_model(name, s.cache_dir))
        return 0
    for p in PACKS.values():
        cached = (s.cache_dir / "models" / f"{p.name}.gguf").is_file()
        mark = "*" if p.name == s.model else " "
        print(f"{mark} {p.name:22} {'cached' if cached else 'not cached':10} {p.description}; {p.license}")
    return 0


def cmd_doctor(args) -> int:
    import importlib.metadata as md
    import os
    import platform

    s = _settings(args)
    print(f"python      {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    for pkg in ("xllamacpp", "torch", "sentence-transformers", "faiss-cpu", "duckdb", "langgraph", "openai", "onnxruntime"):
        try:
            print(f"{pkg:12}{md.version(pkg)}")
        except md.PackageNotFoundError:
            print(f"{pkg:12}not installed")
    print(f"backend     {s.backend}")
    print(f"model       {s.model}")
    if s.backend == "llamacpp":
        from agent.packs import PACKS

        if s.model in PACKS:
            f = s.cache_dir / "models" / f"{s.model}.gguf"
            print(f"model file  {f} ({'present' if f.is_file() else 'missing: run pulse models pull'})")
    print(f"threads     {s.threads} (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'PASSIVE (set by Pulse)')})")
    print(f"embedder    {s.embedder} (corpus), {s.query_embedder} (questions); index {s.index} (hnsw at >= {s.hnsw_threshold:,})")
    print(f"workspace   {s.workspace.resolve()}")
    if (s.workspace / "pulse.duckdb").is_file():
        from workspace import Workspace

        with Workspace.open(s.workspace, read_only=True) as ws:
            for k, v in ws.stats().items():
                print(f"  {k:12}{v:>10,}")
        idx = s.workspace / "index.faiss"
        print(f"  index.faiss {idx.stat().st_size / 1e6:>9.1f} MB" if idx.is_file() else "  index.faiss missing: run pulse index")
    else:
        print("  (no workspace yet: run `pulse demo` or `pulse ingest`)")
    return 0


def _agent(args):
    from agent import Agent

    s = _settings(args)
    return Agent.from_workspace(s.workspace, **{k: v for k, v in dict(model=args.model, backend=args.backend, threads=args.threads,
                                                                       base_url=args.base_url).items() if v is not None})


def cmd_ask(args) -> int:
    from agent import AgentInputError

    agent = _agent(args)
    try:
        pieces: list[str] = []

        def stream(t):
            pieces.append(t)
            print(t, end="", flush=True)

        try:
            r = agent.ask(args.question, session_id=args.session, on_token=None if args.json else stream)
        except AgentInputError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if args.json:
            _print_json({k: r[k] for k in ("answer", "tool_calls", "sources", "timings", "session_id", "grounded")})
        else:
            _print_answer_tail(r, "".join(pieces))
    finally:
        agent.close()
    return 0


def _print_answer_tail(r, streamed: str) -> None:
    print()
    if streamed.strip() != r["answer"].strip():  # checks changed the streamed draft: show the final answer
        print(f"\n(checked) {r['answer']}")
    for s in r["sources"][:5]:
        print(f"  [{s['n']}] {s['kind']} {s['ref_id']}: {s['text'][:100]}")
    tools = ", ".join(c["name"] for c in r["tool_calls"]) or "no tool"
    print(f"  ({tools}; {r['timings']['total_s']:.1f} s; session {r['session_id']})")


def cmd_chat(args) -> int:
    from agent import AgentInputError

    agent = _agent(args)
    session = args.session
    print("warming up the model's prompt cache...", flush=True)
    agent.warm()
    print("Pulse chat. Ask about orders, customers, products, reviews or posts. Ctrl-D or /quit to leave.")
    try:
        while True:
            try:
                q = input("\nyou> ").strip()
            except (EOFError, KeyboardInterrupt):
                print()
                break
            if q in ("/quit", "/exit"):
                break
            if not q:
                continue
            print("pulse> ", end="", flush=True)
            pieces: list[str] = []
            try:
                r = agent.ask(q, session_id=session, on_token=lambda t: (pieces.append(t), print(t, end="", flush=True)))
            except AgentInputError as e:
                print(f"error: {e}")
                continue
            session = r["session_id"]
            _print_answer_tail(r, "".join(pieces))
    finally:
        agent.close()
    return 0


def _parser() -> argparse.ArgumentParser:
    from workspace.ingest import KINDS

    p = argparse.ArgumentParser(prog="pulse", description="Ask your social and shop data.")
    p.add_argument("--workspace", help="workspace folder (default: demo-workspace, or PULSE_WORKSPACE)")
    p.add_argument("--model", help="model pack, .gguf path, transformers folder, or remote model id")
    p.add_argument("--backend", choices=["llamacpp", "transformers", "openai"])
    p.add_argument("--base-url", dest="base_url", help="OpenAI-compatible endpoint for --backend openai")
    p.add_argument("--threads", type=int)
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("demo", help="build the demo workspace from real public data")
    d.add_argument("--limit", type=int, help="keep only the first N reviews/posts (a real subset, for tests)")
    d.set_defaults(fn=cmd_demo)

    i = sub.add_parser("ingest", help="import a CSV, Parquet or JSONL file")
    i.add_argument("--kind", required=True, choices=KINDS)
    i.add_argument("file")
    i.add_argument("--map", action="append", metavar="SRC=FIELD", help="map a source column to a schema field")
    i.add_argument("--no-index", action="store_true", help="skip embedding the new documents")
    i.set_defaults(fn=cmd_ingest)

    sub.add_parser("index", help="embed new documents and update the index").set_defaults(fn=cmd_index)

    m = sub.add_parser("models", help="list or pull model packs")
    m.add_argument("action", nargs="?", choices=["list", "pull"], default="list")
    m.add_argument("names", nargs="*")
    m.set_defaults(fn=cmd_models)

    sub.add_parser("doctor", help="versions, model, threads, workspace statistics").set_defaults(fn=cmd_doctor)

    a = sub.add_parser("ask", help="answer one question")
    a.add_argument("question")
    a.add_argument("--session", help="session id, to continue a conversation")
    a.add_argument("--json", action="store_true", help="print answer, tool_calls, sources and timings as JSON")
    a.set_defaults(fn=cmd_ask)

    c = sub.add_parser("chat", help="interactive chat in the terminal")
    c.add_argument("--session")
    c.set_defaults(fn=cmd_chat)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
