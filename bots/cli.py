"""The ``pulse`` command: the terminal front end, at the top of the house beside the other channels.

    pulse demo [--limit N]                      build the demo workspace from real public data
    pulse ingest --kind reviews FILE [--map SRC=FIELD ...]
    pulse index                                 embed new documents and update the FAISS index
    pulse privacy [--policy mask|pseudonymise|keep] [--names on|off] [--scan]
    pulse forget --customer ID [--json]         remove a customer's rows, documents, vectors and log entries
    pulse models [pull NAME]                    list or fetch model packs
    pulse doctor                                versions, model, runtime, threads, workspace stats
    pulse ask "question" [--session ID] [--json]
    pulse chat [--session ID]                   interactive, streaming
    pulse train [--steps sentiment,recommender,churn,topics,forecast] [--steps teacher,sentiment --teacher-posts N]
    pulse sentiment --text "..." | --file texts.txt | [--query Q --by week]
    pulse topics [--query Q] [--kind review] [--since D] [--n 8]
    pulse entities [--query Q] [--kind post]
    pulse recommend --user ID | --item ID | --users-file F [--k 10]
    pulse forecast [--csv FILE] [--metric revenue] --horizon "next quarter" [--freq W] [--plot out.png]
    pulse customer ID
    pulse reviews PRODUCT_ID
    pulse alerts [--since D] [--until D]
    pulse reply --review ID | --post ID [--order ID]
    pulse eval --components                     each model's metric beside its baseline
    pulse eval SUITE.yaml [--split test] [--repeat K] [--model M] [--report DIR] [--fail-under R]
    pulse eval --compare A B                    what changed between two stored runs

Analytics commands print a summary, or everything with ``--json``; ``--plot FILE``
saves the chart as a PNG where the result has one.

Global options (``--workspace``, ``--model``, ``--backend``, ``--threads``) override
``pulse.toml`` and ``PULSE_*`` variables (see pulse/config.py). Heavy libraries are
imported inside the commands, so ``pulse --help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

from pulse.config import load_settings
from pulse.plugins import BACKENDS

__all__ = ["main"]


def _echo_into(pieces: list[str]):
    """An on_token callback that prints each piece as it comes and keeps it."""

    def on_token(piece: str) -> None:
        pieces.append(piece)
        print(piece, end="", flush=True)

    return on_token


def _settings(args):
    return load_settings(
        workspace=args.workspace,
        model=args.model,
        backend=args.backend,
        threads=args.threads,
        base_url=getattr(args, "base_url", None),
        pipeline=getattr(args, "pipeline", None),
    )


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def cmd_demo(args) -> int:
    from retrieval import Index
    from workspace import Workspace
    from workspace.demo import build_chinese_demo, build_demo

    s = _settings(args)
    t0 = time.perf_counter()
    stats = (build_chinese_demo if args.zh else build_demo)(s.workspace, s.cache_dir, limit=args.limit)
    with Workspace.open(s.workspace) as ws:
        embedded = Index.open(ws, s).update(progress=True)
        stats = ws.stats()
    print(f"demo workspace at {s.workspace}: " + ", ".join(f"{k} {v:,}" for k, v in stats.items()))
    print(f"embedded {embedded:,} new documents; built in {time.perf_counter() - t0:.0f} s")
    return 0


def cmd_ingest(args) -> int:
    from pulse.errors import UserError
    from retrieval import Index
    from tools.imports import import_file
    from workspace import Workspace

    s = _settings(args)
    mapping = {}
    for m in args.map or []:
        if "=" not in m:
            print(f"error: --map expects SOURCE=FIELD, got {m!r}", file=sys.stderr)
            return 2
        src, dst = m.split("=", 1)
        mapping[src] = dst
    try:
        with Workspace.open(s.workspace) as ws:
            rep = import_file(ws, Index.open(ws, s), args.kind, Path(args.file), mapping)
    except (UserError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("columns: " + ", ".join(f"{src} -> {f}" for f, src in rep.columns.items()))
    if rep.ignored:
        print(f"not imported (no field takes them; map one with --map SOURCE=FIELD): {', '.join(map(str, rep.ignored))}")
    print(
        f"{rep.kind}: {rep.rows:,} rows read, {rep.inserted:,} new, {rep.replaced:,} updated; "
        f"{rep.new_documents:,} new documents, {rep.embedded:,} embedded, {rep.sentiment_scored:,} scored for sentiment"
    )
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
    if s.db_path.is_file():
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
    return Agent.from_workspace(
        s.workspace,
        **{
            k: v
            for k, v in dict(
                model=args.model, backend=args.backend, threads=args.threads, base_url=args.base_url, pipeline=args.pipeline
            ).items()
            if v is not None
        },
    )


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
                r = agent.ask(q, session_id=session, on_token=_echo_into(pieces))
            except AgentInputError as e:
                print(f"error: {e}")
                continue
            session = r["session_id"]
            _print_answer_tail(r, "".join(pieces))
    finally:
        agent.close()
    return 0


def _toolbox(args):
    from agent import Toolbox

    return Toolbox.open(_settings(args))


def _emit(args, result) -> int:
    """Print a ToolResult (summary or JSON) and save its chart if asked."""
    if args.json:
        _print_json({"data": result.data, "summary": result.summary, "sources": result.sources, "chart": result.chart})
    else:
        print(result.summary)
    if getattr(args, "plot", None):
        if result.chart is None:
            print("(this result has no chart)", file=sys.stderr)
        else:
            from pulse.charts import render_chart

            print(f"chart saved to {render_chart(result.chart, Path(args.plot))}", file=sys.stderr)
    return 0


def _run_tool(args, name: str, tool_args: dict) -> int:
    from tools import ToolError
    from workspace.artifacts import ArtifactMissing

    try:
        with _toolbox(args) as tb:
            return _emit(args, tb.call(name, {k: v for k, v in tool_args.items() if v is not None}))
    except (ToolError, ArtifactMissing, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _teacher(s, wanted: bool):
    """The generator as a :class:`tools.teacher.Teacher` for the train step that asks it (None otherwise)."""
    if not wanted:
        yield None
        return
    from agent.models import load_model
    from tools.teacher import Teacher

    model = load_model(s)
    try:
        yield Teacher(lambda msgs: model.complete(msgs, max_tokens=3).text, model.name)
    finally:
        model.close()


def cmd_train(args) -> int:
    from retrieval import Index
    from tools.train import DEFAULT_STEPS, STEPS, train_all
    from workspace import Workspace

    s = _settings(args)
    if args.teacher_posts:
        s = s.model_copy(update={"teacher_posts": args.teacher_posts})
    steps = args.steps.split(",") if args.steps else list(DEFAULT_STEPS)
    bad = [x for x in steps if x not in STEPS]
    if bad:
        print(f"error: unknown step(s) {', '.join(bad)}; steps are {', '.join(STEPS)}", file=sys.stderr)
        return 2
    with Workspace.open(s.workspace) as ws:
        index = Index.open(ws, s)  # the workspace's own vector space: what its models are trained in
        embedder = index.embedder if "sentiment" in steps else None
        with _teacher(s, "teacher" in steps) as teacher:
            cards = train_all(ws, index, s, embedder, steps=steps, sample=args.sample, teacher=teacher)
    from agent import Toolbox
    from tools import dashboard

    with Toolbox.open(s) as tb:  # the dashboard shows the new models from the next page load on
        t0 = time.perf_counter()
        dashboard.save(s.workspace, dashboard.build(tb.call, tb.ctx.ws))
        print(f"dashboard snapshot rebuilt in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.json:
        _print_json(cards)
    else:
        from evals.components import component_rows, format_table

        print(format_table(component_rows(s.workspace)))
    return 0 if not any("skipped" in c for c in cards.values()) else 1


def cmd_sentiment(args) -> int:
    if args.text is None and args.file is None:
        return _run_tool(
            args,
            "sentiment",
            {
                "query": args.query,
                "kind": args.kind,
                "product_id": args.product,
                "since": args.since,
                "until": args.until,
                "by": args.by,
            },
        )
    from retrieval import Index
    from tools.sentiment import SentimentModel
    from workspace import Workspace
    from workspace.artifacts import ArtifactMissing

    s = _settings(args)
    texts = [args.text] if args.text is not None else [t for t in Path(args.file).read_text().splitlines() if t.strip()]
    if not texts or not any(t.strip() for t in texts):
        print("error: no text to score", file=sys.stderr)
        return 2
    try:
        model = SentimentModel.load(s.workspace)
    except ArtifactMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    with Workspace.open(s.workspace, read_only=True) as ws:
        rows = model.predict(texts, Index.open(ws, s, role="query").embedder)  # the space the model was trained in
    if args.json:
        _print_json([{"text": t, **r} for t, r in zip(texts, rows)])
    else:
        for t, r in zip(texts, rows):
            print(f"{r['label']:8} {r['score']:+.2f}  {t[:100]}")
    return 0


def cmd_topics(args) -> int:
    return _run_tool(
        args,
        "topics",
        {
            "query": args.query,
            "kind": args.kind,
            "product_id": args.product,
            "since": args.since,
            "until": args.until,
            "n_topics": args.n,
        },
    )


def cmd_entities(args) -> int:
    return _run_tool(
        args,
        "entities",
        {"query": args.query, "kind": args.kind, "product_id": args.product, "since": args.since, "until": args.until},
    )


def cmd_recommend(args) -> int:
    if args.users_file:
        from tools.recommend import Recommender
        from workspace.artifacts import ArtifactMissing

        s = _settings(args)
        try:
            rec = Recommender.load(s.workspace)
        except ArtifactMissing as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        users = [u.strip() for u in Path(args.users_file).read_text().splitlines() if u.strip()]
        out = {u: [r["item_id"] for r in rec.for_user(u, args.k)] for u in users}
        if args.json:
            _print_json(out)
        else:
            for u, items in out.items():
                print(f"{u}\t{' '.join(items)}")
        return 0
    if not args.user and not args.item:
        print("error: give --user ID, --item ID or --users-file FILE", file=sys.stderr)
        return 2
    return _run_tool(args, "recommend", {"user_id": args.user, "item_id": args.item, "k": args.k})


def cmd_forecast(args) -> int:
    if not args.csv:
        return _run_tool(
            args,
            "forecast",
            {
                "metric": args.metric,
                "horizon": args.horizon,
                "freq": args.freq,
                "product_id": args.product,
                "category": args.category,
            },
        )
    from tools import ToolResult
    from tools.forecast import ForecastError, describe, forecast_series, parse_horizon, read_series_csv

    try:
        h = parse_horizon(args.horizon, args.freq)
        series, notes = read_series_csv(
            args.csv, args.freq, args.date_col, args.value_col, fill_gaps=args.fill_gaps, with_notes=True
        )
        r = forecast_series(series, h, args.freq, name=Path(args.csv).stem, notes=notes)
    except (ForecastError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    chart = r.pop("chart")
    return _emit(args, ToolResult(data=r, summary=describe(r), chart=chart))


def cmd_customer(args) -> int:
    return _run_tool(args, "customer_profile", {"customer_id": args.id})


def cmd_reviews(args) -> int:
    return _run_tool(args, "review_analysis", {"product_id": args.product_id})


def cmd_alerts(args) -> int:
    return _run_tool(args, "alerts", {"since": args.since, "until": args.until, "limit": args.limit})


def cmd_reply(args) -> int:
    if not args.review and not args.post:
        print("error: give --review ID or --post ID", file=sys.stderr)
        return 2
    kind, ref = ("review", args.review) if args.review else ("post", args.post)
    agent = _agent(args)
    try:
        r = agent.ask(f"Draft a reply to {kind} {ref}", tool=("draft_reply", {"kind": kind, "id": ref, "order_id": args.order}))
    finally:
        agent.close()
    if args.json:
        _print_json({k: r[k] for k in ("answer", "tool_calls", "grounded")})
    else:
        print(r["answer"])
        if not r["grounded"]:
            print("(the draft failed the grounding check; the facts are shown instead)", file=sys.stderr)
    return 0


def cmd_eval(args) -> int:
    """``pulse eval --components``, ``pulse eval SUITE.yaml ...`` or ``pulse eval --compare A B``."""
    from evals.report import RunNotFound, compare, format_totals, load_run, write_run

    s = load_settings(
        workspace=args.workspace,
        model=args.eval_model or args.model,
        backend=args.eval_backend or args.backend,
        threads=args.threads,
        base_url=args.eval_base_url or args.base_url,
        pipeline=args.pipeline,
    )
    root = Path(args.report) if args.report else s.workspace / "eval_runs"
    if args.compare:
        try:
            print(compare(load_run(args.compare[0], root), load_run(args.compare[1], root)))
        except RunNotFound as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    if args.components and not args.suites:
        from evals.components import component_rows, format_table
        from workspace.artifacts import ArtifactMissing

        try:
            rows = component_rows(s.workspace)
        except ArtifactMissing as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        if args.json:
            _print_json(rows)
        else:
            print(format_table(rows))
        return 0
    if not args.suites:
        print("error: name one or more suite files (evals/suites/*.yaml), or use --components or --compare A B", file=sys.stderr)
        return 2
    from evals.runner import Runner, open_service
    from evals.suite import SuiteError, load_suite

    try:
        suites = [load_suite(p) for p in args.suites]
    except SuiteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    log_path = root / f".running-{os.getpid()}.sqlite"  # moves into the run's folder at the end
    try:
        with open_service(s, suites, log_path, progress=not args.json) as svc:
            runner = Runner(svc, progress=not args.json, workspace_name=str(s.workspace))
            run = runner.run(suites, split=args.split, tags=args.tag, repeat=args.repeat)
    except SuiteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    folder = write_run(run, root)
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{log_path}{suffix}").exists():
            Path(f"{log_path}{suffix}").replace(folder / f"conversations.sqlite{suffix}")
    if args.json:
        _print_json({k: run[k] for k in ("run_id", "model", "backend", "split", "repeat", "totals", "by_suite")})
    else:
        print(format_totals(run))
        for c in run["cases"]:
            if not c["passed"]:
                print(f"  FAIL {c['suite']}/{c['id']}: {c['reason'][:300]}")
        print(f"report: {folder}/report.html (also report.md, run.json)")
    rate = run["totals"]["pass_rate"] or 0.0
    if args.fail_under is not None and rate < args.fail_under:
        print(f"eval: pass rate {rate:.3f} is below --fail-under {args.fail_under}", file=sys.stderr)
        return 1
    return 0


def _slice_args(p) -> None:
    p.add_argument("--query", help="focus on documents about this subject")
    p.add_argument("--kind", choices=["any", "review", "post", "product"], default="any")
    p.add_argument("--product", help="only documents about this product id")
    p.add_argument("--since", help="from this date (YYYY-MM-DD)")
    p.add_argument("--until", help="before this date (YYYY-MM-DD)")


def _out_args(p, plot: bool = True) -> None:
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    if plot:
        p.add_argument("--plot", metavar="PNG", help="save the chart to this PNG file")


def _parser() -> argparse.ArgumentParser:
    from workspace.ingest import KINDS

    p = argparse.ArgumentParser(prog="pulse", description="Ask your social and shop data.")
    p.add_argument("--workspace", help="workspace folder (default: demo-workspace, or PULSE_WORKSPACE)")
    p.add_argument("--model", help="model pack, .gguf path, transformers folder, or remote model id")
    p.add_argument("--backend", choices=list(BACKENDS))
    p.add_argument("--base-url", dest="base_url", help="OpenAI-compatible endpoint for --backend openai")
    p.add_argument("--threads", type=int)
    p.add_argument(
        "--pipeline",
        choices=["fast", "generator"],
        help="fast (default): code plans and writes structured answers; generator: the model does every step",
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("demo", help="build the demo workspace from real public data")
    d.add_argument("--limit", type=int, help="keep only the first N reviews/posts (a real subset, for tests)")
    d.add_argument("--zh", action="store_true", help="the Chinese demo: Chinese reviews with the same orders (its own workspace)")
    d.set_defaults(fn=cmd_demo)

    i = sub.add_parser("ingest", help="import a CSV, Parquet or JSONL file")
    i.add_argument("--kind", required=True, choices=KINDS)
    i.add_argument("file")
    i.add_argument("--map", action="append", metavar="SRC=FIELD", help="map a source column to a schema field")
    i.set_defaults(fn=cmd_ingest)

    sub.add_parser("index", help="embed new documents and update the index").set_defaults(fn=cmd_index)

    pv = sub.add_parser("privacy", help="the workspace's PII policy for imports; --scan counts what stored text holds")
    pv.add_argument("--policy", choices=["mask", "pseudonymise", "keep"])
    pv.add_argument("--names", choices=["on", "off"], help="also find person names by NER (English)")
    pv.add_argument("--scan", action="store_true")
    pv.set_defaults(fn=cmd_privacy)

    fg = sub.add_parser("forget", help="remove one customer's data everywhere (right to be forgotten)")
    fg.add_argument("--customer", required=True, metavar="ID")
    fg.add_argument("--json", action="store_true")
    fg.set_defaults(fn=cmd_forget)

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

    t = sub.add_parser("train", help="fit sentiment, recommender and churn; evaluate topics and forecasts")
    t.add_argument(
        "--steps",
        help="comma-separated subset of teacher,sentiment,recommender,churn,topics,forecast "
        "(default: all but teacher, which has the generator label a sample of posts for the sentiment model)",
    )
    t.add_argument("--teacher-posts", type=int, help="with the teacher step: how many posts to label (default 1000)")
    t.add_argument("--sample", type=int, help="cap rows per source (quick runs)")
    _out_args(t, plot=False)
    t.set_defaults(fn=cmd_train)

    se = sub.add_parser("sentiment", help="score texts, or measure sentiment of workspace documents")
    se.add_argument("--text", help="score this text")
    se.add_argument("--file", help="score each line of this file")
    se.add_argument("--by", choices=["none", "day", "week", "month", "product", "customer"], default="none")
    _slice_args(se)
    _out_args(se)
    se.set_defaults(fn=cmd_sentiment)

    to = sub.add_parser("topics", help="topics of a slice of reviews/posts")
    _slice_args(to)
    to.add_argument("--n", type=int, help="number of topics (default: automatic)")
    _out_args(to)
    to.set_defaults(fn=cmd_topics)

    en = sub.add_parser("entities", help="hashtags, mentions, products and named entities in a slice")
    _slice_args(en)
    _out_args(en)
    en.set_defaults(fn=cmd_entities)

    r = sub.add_parser("recommend", help="recommendations for a user, or similar items")
    r.add_argument("--user")
    r.add_argument("--item")
    r.add_argument("--users-file", dest="users_file", help="one user id per line: batch recommendations")
    r.add_argument("--k", type=int, default=10)
    _out_args(r, plot=False)
    r.set_defaults(fn=cmd_recommend)

    f = sub.add_parser("forecast", help="forecast workspace orders or a CSV series")
    f.add_argument("--csv", help="a CSV with a date column and a value column (instead of workspace orders)")
    f.add_argument("--date-col", dest="date_col")
    f.add_argument("--value-col", dest="value_col")
    f.add_argument("--fill-gaps", dest="fill_gaps", action="store_true", help="treat missing periods as 0")
    f.add_argument("--horizon", default="next quarter", help="periods, or words: '6 weeks', 'next quarter'")
    f.add_argument(
        "--freq",
        choices=["H", "D", "W", "M", "Q", "Y"],
        default="W",  # tools.forecast.FREQS (not imported: --help stays instant)
        help="H hourly (CSV with times), D daily, W weekly, M monthly, Q quarterly, Y yearly",
    )
    f.add_argument("--metric", choices=["revenue", "orders", "units"], default="revenue")
    f.add_argument("--product")
    f.add_argument("--category")
    _out_args(f)
    f.set_defaults(fn=cmd_forecast)

    cu = sub.add_parser("customer", help="portrait of one customer: RFM, churn risk, activity, interests")
    cu.add_argument("id")
    _out_args(cu)
    cu.set_defaults(fn=cmd_customer)

    rv = sub.add_parser("reviews", help="review analysis of one product")
    rv.add_argument("product_id")
    _out_args(rv)
    rv.set_defaults(fn=cmd_reviews)

    al = sub.add_parser("alerts", help="spikes in volume or negative sentiment")
    al.add_argument("--since")
    al.add_argument("--until")
    al.add_argument("--limit", type=int, default=20)
    _out_args(al)
    al.set_defaults(fn=cmd_alerts)

    rp = sub.add_parser("reply", help="draft a reply to a review or post (uses the generator)")
    rp.add_argument("--review")
    rp.add_argument("--post")
    rp.add_argument("--order")
    _out_args(rp, plot=False)
    rp.set_defaults(fn=cmd_reply)

    sv = sub.add_parser("serve", help="web UI, support bot API and OpenAI-compatible API on one port")
    sv.add_argument("--host", default=None, help="address (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=None, help="port (default 7860)")
    sv.add_argument("--no-warm", action="store_true", help="skip warming the prompt cache at start")
    sv.set_defaults(fn=cmd_serve)

    dc = sub.add_parser("discord", help="run the Discord bot (token from DISCORD_TOKEN)")
    dc.set_defaults(fn=cmd_discord)

    ev = sub.add_parser("eval", help="run eval suites, compare runs, or print the components table")
    ev.add_argument("suites", nargs="*", metavar="SUITE.yaml", help="suite files (evals/suites/*.yaml)")
    ev.add_argument("--split", choices=["dev", "test", "all"], default="all", help="which cases (tune on dev, report test)")
    ev.add_argument("--tag", action="append", help="only cases with this tag (repeatable), e.g. smoke")
    ev.add_argument("--repeat", type=int, default=1, metavar="K", help="run every case K times (pass^k)")
    ev.add_argument("--report", metavar="DIR", help="where runs are kept (default <workspace>/eval_runs)")
    ev.add_argument("--fail-under", type=float, metavar="RATE", help="exit 1 if the pass rate is below this")
    ev.add_argument(
        "--compare", nargs=2, metavar=("A", "B"), help="what changed between two runs (ids, folders, latest, previous)"
    )
    ev.add_argument("--model", dest="eval_model", help="model for this run (as the global --model)")
    ev.add_argument("--backend", dest="eval_backend", choices=list(BACKENDS))
    ev.add_argument("--base-url", dest="eval_base_url", help="OpenAI-compatible endpoint for --backend openai")
    ev.add_argument("--components", action="store_true", help="each model's metric beside its baseline")
    _out_args(ev, plot=False)
    ev.set_defaults(fn=cmd_eval)
    return p


def cmd_privacy(args) -> int:
    from workspace import Workspace, privacy

    s = _settings(args)
    changing = args.policy is not None or args.names is not None
    with Workspace.open(s.workspace, read_only=not changing) as ws:
        if args.policy:
            ws.set_meta("pii_policy", args.policy)
        if args.names is not None:
            ws.set_meta("pii_names", "true" if args.names == "on" else "false")
        policy, names = ws.get_meta("pii_policy") or "mask", ws.get_meta("pii_names") == "true"
        print(f"policy: {policy} (person names by NER: {'on' if names else 'off'}); applies to imports from now on")
        if args.scan:
            from collections import Counter

            found: Counter[str] = Counter()
            for (text,) in ws.con.execute("SELECT text FROM documents").fetchall():
                found.update(sp.kind for sp in privacy.find(text, names))
            print("personal data in stored documents: " + (", ".join(f"{k} {n:,}" for k, n in found.most_common()) or "none"))
    return 0


def cmd_forget(args) -> int:
    import sqlite3

    from agent.log import Log
    from retrieval import Index
    from workspace import Workspace, privacy
    from workspace.artifacts import mark_stale

    s = _settings(args)
    cid = args.customer.strip()
    with Workspace.open(s.workspace) as ws:
        report: dict = privacy.forget(ws, cid)
        report["index_vectors"] = Index.open(ws, s).ntotal  # opening reconciles: the forgotten vectors leave the file
    logged, convs = Log(s.workspace / "pulse_log.sqlite").forget_customer(cid)
    report.update({f"log_{k}": v for k, v in logged.items()})
    if convs and s.sessions_path.is_file():
        with sqlite3.connect(s.sessions_path) as db:
            marks = ", ".join("?" * len(convs))
            report["session_checkpoints"] = db.execute(f"DELETE FROM checkpoints WHERE thread_id IN ({marks})", convs).rowcount
            db.execute(f"DELETE FROM writes WHERE thread_id IN ({marks})", convs)
    removed = sum(v for k, v in report.items() if k != "index_vectors")
    if removed:
        report["stale_models"] = mark_stale(s.workspace, f"customer {cid} was forgotten on {time.strftime('%Y-%m-%d')}")
        (s.workspace / "dashboard.json").unlink(missing_ok=True)  # rebuilt without them at the next start
    if args.json:
        _print_json(report)
    else:
        gone = ", ".join(f"{k} {v}" for k, v in report.items() if v and k not in ("stale_models", "index_vectors"))
        print(
            f"customer {cid}: "
            + (f"removed {gone}; the index holds {report['index_vectors']:,} vectors" if gone else "nothing found")
        )
        if report.get("stale_models"):
            print(f"models trained with their data, now marked stale (run `pulse train`): {', '.join(report['stale_models'])}")
    return 0


def cmd_serve(args) -> int:
    import logging

    import uvicorn

    from agent.service import PulseService
    from bots.api import create_app

    s = load_settings(
        workspace=args.workspace,
        model=args.model,
        backend=args.backend,
        threads=args.threads,
        base_url=getattr(args, "base_url", None),
        host=args.host,
        port=args.port,
        pipeline=args.pipeline,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"pulse: loading {s.model} and the workspace {s.workspace} ...", file=sys.stderr)
    svc = PulseService.open(s)
    if not args.no_warm:
        svc.analyst.warm()
    svc.rebuild_dashboard_in_background()  # only if the stored one is missing or stale
    from bots.guard import server_key

    app = create_app(svc)
    key = server_key(s)
    print(
        f"pulse: web UI on http://{s.host}:{s.port}/?key={key}\n"
        f"pulse: OpenAI API http://{s.host}:{s.port}/v1 (api_key={key}); support widget /widget; health /healthz",
        file=sys.stderr,
    )
    try:
        uvicorn.run(app, host=s.host, port=s.port, log_level="warning")
    finally:
        svc.close()
    return 0


def cmd_discord(args) -> int:
    from agent.service import PulseService
    from pulse.plugins import CHANNELS

    run = CHANNELS["discord"].run
    if "DISCORD_TOKEN" not in os.environ:  # before loading the model
        print("error: set DISCORD_TOKEN to the bot's token (Discord developer portal -> Bot -> Token)", file=sys.stderr)
        return 2
    svc = PulseService.open(_settings(args))
    try:
        return run(svc)
    finally:
        svc.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
