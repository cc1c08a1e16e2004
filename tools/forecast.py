"""Order and sales forecasts with statsforecast, chosen per series by backtest.

Candidates are AutoETS, AutoTheta and AutoARIMA; SeasonalNaive is the
baseline every result is compared with. For each series Pulse backtests all
of them over the last ``windows`` horizons (rolling origin), keeps the one
with the lowest MASE, refits it on the whole series and returns the forecast
with 80% and 95% prediction intervals. Panels of more than 50 series (the
batch path) skip AutoARIMA and fit each model once per series for the backtest
(later windows are forecast without refitting), which keeps 1,000 series fast.

    >>> r = forecast_series(weekly_orders, h=parse_horizon("next quarter", "W"), freq="W")   # doctest: +SKIP
    >>> r["model"], r["backtest"]["AutoETS"]["mase"], len(r["forecast"])                     # doctest: +SKIP
    ('AutoETS', 0.71, 13)

Series come from workspace orders (revenue, orders or units; total, by
product or by category) or from any CSV the user passes. Horizons in words
("next quarter") become periods of the series' frequency: 13 weeks, 91 days
or 3 months. Short or gappy series are refused with a message that says why.
What it leaves out: exogenous regressors, hierarchical reconciliation.
"""

from __future__ import annotations

import math
import re
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator

from .base import ToolContext, ToolError, ToolResult, optional, tool

__all__ = ["parse_horizon", "orders_series", "forecast_series", "forecast_many", "read_series_csv", "ForecastError",
           "forecast", "SEASON", "LEVELS"]

SEASON = {"D": 7, "W": 52, "M": 12}
_PANDAS_FREQ = {"D": "D", "W": "W-MON", "M": "MS"}
_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30.44, "quarter": 91.31, "year": 365.25}
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "nine": 9, "ten": 10, "twelve": 12, "couple": 2, "few": 3}
LEVELS = (80, 95)
MIN_POINTS = 8


class ForecastError(ToolError):
    """The series cannot be forecast as asked (too short, too gappy, bad horizon)."""


def parse_horizon(h: int | str, freq: str) -> int:
    """Periods of ``freq`` in a horizon given as a number or in words.

    >>> parse_horizon("next quarter", "W"), parse_horizon("next quarter", "D"), parse_horizon("next quarter", "M")
    (13, 91, 3)
    >>> parse_horizon("6 weeks", "D"), parse_horizon("next month", "W"), parse_horizon(12, "W")
    (42, 4, 12)
    """
    if isinstance(h, (int, np.integer)) or (isinstance(h, str) and h.strip().isdigit()):
        n = int(h)
    else:
        text = str(h).lower().strip()
        m = re.search(r"(\d+(?:\.\d+)?|" + "|".join(_WORDS) + r")?\s*(day|week|fortnight|month|quarter|year)s?\b", text)
        if not m:
            raise ForecastError(f"cannot read the horizon {h!r}: say e.g. '13', '6 weeks' or 'next quarter'")
        count = m.group(1)
        k = float(count) if count and count[0].isdigit() else _WORDS.get(count, 1)
        days = k * _DAYS[m.group(2)]
        n = max(1, round(days / {"D": 1, "W": 7, "M": 30.44}[freq]))
    if n < 1 or n > 1000:
        raise ForecastError(f"horizon {n} is out of range (1..1000 periods)")
    return n


def orders_series(ws, freq: str = "W", metric: str = "revenue", product_id: str | None = None,
                  category: str | None = None) -> pd.DataFrame:
    """One series (ds, y) of workspace orders, every period present (no orders = 0)."""
    trunc = {"D": "day", "W": "week", "M": "month"}[freq]
    value = {"revenue": "sum(o.total)", "orders": "count(DISTINCT o.order_id)", "units": "sum(o.n_items)"}[metric]
    if product_id or category:
        value = {"revenue": "sum(i.quantity * coalesce(i.price, 0))", "orders": "count(DISTINCT o.order_id)",
                 "units": "sum(i.quantity)"}[metric]
        cond, params = ("i.product_id = ?", [product_id]) if product_id else ("lower(p.category) = lower(?)", [category])
        sql = (f"SELECT date_trunc('{trunc}', o.order_date) AS ds, {value} AS y FROM orders o "
               f"JOIN order_items i USING (order_id) LEFT JOIN products p ON p.product_id = i.product_id "
               f"WHERE {cond} GROUP BY ds ORDER BY ds")
    else:
        sql, params = f"SELECT date_trunc('{trunc}', o.order_date) AS ds, {value} AS y FROM orders o GROUP BY ds ORDER BY ds", []
    df = ws.con.sql(sql, params=params).df()
    if df.empty:
        what = f"product {product_id}" if product_id else f"category {category!r}" if category else "the workspace"
        raise ForecastError(f"no orders for {what}: nothing to forecast")
    df["ds"] = pd.to_datetime(df["ds"])
    full = pd.date_range(df["ds"].min(), df["ds"].max(), freq=_PANDAS_FREQ[freq])
    return df.set_index("ds").reindex(full, fill_value=0).rename_axis("ds").reset_index()[["ds", "y"]].astype({"y": float})


def read_series_csv(path, freq: str, date_col: str | None = None, value_col: str | None = None,
                    fill_gaps: bool = False) -> pd.DataFrame:
    """A user's series from CSV: a date column and a value column (the first two, unless named).

    Periods are aligned to ``freq``; missing periods are an error unless ``fill_gaps`` (then 0)
    or they are under 10% of the series (then interpolated, and said so).
    """
    raw = pd.read_csv(path)
    if raw.shape[1] < 2:
        raise ForecastError(f"{path}: need a date column and a value column, found {list(raw.columns)}")
    dc, vc = date_col or raw.columns[0], value_col or raw.columns[1]
    for c in (dc, vc):
        if c not in raw.columns:
            raise ForecastError(f"{path}: no column {c!r} (columns: {', '.join(map(str, raw.columns))})")
    ds = pd.to_datetime(raw[dc], errors="coerce")
    y = pd.to_numeric(raw[vc], errors="coerce")
    bad = raw.index[ds.isna() | y.isna()]
    if len(bad):
        i = int(bad[0])
        raise ForecastError(f"{path}, row {i + 2}: cannot read date {raw[dc].iat[i]!r} / value {raw[vc].iat[i]!r}")
    s = pd.Series(y.to_numpy(float), index=ds).sort_index()
    s = s.groupby(s.index.to_period({"D": "D", "W": "W-SUN", "M": "M"}[freq]).start_time).sum()
    full = pd.date_range(s.index.min(), s.index.max(), freq={"D": "D", "W": "W-MON", "M": "MS"}[freq])
    s = s.reindex(full)
    missing = int(s.isna().sum())
    if missing:
        if fill_gaps:
            s = s.fillna(0.0)
        elif missing / len(s) <= 0.10:
            s = s.interpolate()
        else:
            raise ForecastError(f"{path}: {missing} of {len(s)} periods at frequency {freq} have no value; "
                                f"pass --fill-gaps to treat them as 0, or use a coarser --freq")
    return pd.DataFrame({"ds": s.index, "y": s.to_numpy(float)})


def _models(season: int, n_series: int):
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, SeasonalNaive

    ms = [AutoETS(season_length=season), AutoTheta(season_length=season), SeasonalNaive(season_length=season)]
    if n_series <= 50:  # AutoARIMA is the slow one: kept for single series and small panels
        ms.insert(2, AutoARIMA(season_length=season))
    return ms


def _season(n: int, freq: str) -> int:
    s = SEASON[freq]
    return s if n >= 2 * s + 2 else 1


def forecast_many(df: pd.DataFrame, h: int, freq: str, windows: int = 2, n_jobs: int = 1) -> dict:
    """Forecast a panel (unique_id, ds, y): per-series model choice by backtest MASE.

    Returns {"forecast": DataFrame(unique_id, ds, model, yhat, lo-80, hi-80, lo-95, hi-95),
             "backtest": DataFrame(unique_id, model, mase, smape), "chosen": {uid: model}}.
    """
    from statsforecast import StatsForecast
    from utilsforecast.losses import mase, smape

    lengths = df.groupby("unique_id").size()
    short = lengths[lengths < max(MIN_POINTS, h + 2)]
    if len(short):
        uid, n = short.index[0], int(short.iloc[0])
        raise ForecastError(f"series {uid!r} has {n} points: at least {max(MIN_POINTS, h + 2)} are needed "
                            f"for a {h}-period horizon (try a shorter horizon or a finer --freq)")
    season = _season(int(lengths.min()), freq)
    models = _models(season, len(lengths))
    names = [repr(m) for m in models]
    baseline = "SeasonalNaive"
    fq = _PANDAS_FREQ[freq]
    n_win = max(1, min(windows, (int(lengths.min()) - MIN_POINTS) // h))
    big = len(lengths) > 50  # panels: fit once per series and roll the windows forward without refitting
    cv = StatsForecast(models=models, freq=fq, n_jobs=n_jobs).cross_validation(
        df=df, h=h, n_windows=n_win, step_size=h, refit=not big)
    rows = []
    for cutoff, part in cv.groupby("cutoff"):
        train = df[df["ds"] <= cutoff]
        m = mase(part.drop(columns="cutoff"), models=names, seasonality=max(season, 1), train_df=train)
        s = smape(part.drop(columns="cutoff"), models=names)
        for name in names:
            rows += [{"unique_id": u, "model": name, "mase": a, "smape": b}
                     for u, a, b in zip(m["unique_id"], m[name], s[name])]
    bt = pd.DataFrame(rows).groupby(["unique_id", "model"], as_index=False)[["mase", "smape"]].mean()
    bt = bt.replace([np.inf, -np.inf], np.nan)
    chosen = (bt.dropna(subset=["mase"]).sort_values("mase").groupby("unique_id")["model"].first().to_dict())
    chosen = {u: chosen.get(u, baseline) for u in lengths.index}
    out = []
    for m_name in sorted(set(chosen.values())):  # refit each series with its chosen model only
        ids = [u for u, c in chosen.items() if c == m_name]
        keep = [m for m in models if repr(m) in (m_name, baseline)]
        fc = StatsForecast(models=keep, freq=fq, n_jobs=n_jobs).forecast(df=df[df["unique_id"].isin(ids)], h=h, level=list(LEVELS))
        cols = {"yhat": m_name, **{f"{b}-{lv}": f"{m_name}-{b}-{lv}" for lv in LEVELS for b in ("lo", "hi")}}
        if f"{m_name}-lo-80" not in fc.columns:  # a model without intervals: use the baseline's
            cols.update({f"{b}-{lv}": f"{baseline}-{b}-{lv}" for lv in LEVELS for b in ("lo", "hi")})
        out.append(pd.DataFrame({"unique_id": fc["unique_id"].to_numpy(), "ds": fc["ds"].to_numpy(), "model": m_name,
                                 **{k: fc[c].to_numpy() for k, c in cols.items()}}))
    return {"forecast": pd.concat(out, ignore_index=True), "backtest": bt, "chosen": chosen, "season": season,
            "windows": n_win}


def forecast_series(series: pd.DataFrame, h: int, freq: str, name: str = "series") -> dict:
    """Forecast one (ds, y) series; a JSON-ready dict with history, forecast, backtest and a chart spec."""
    if len(series) < max(MIN_POINTS, h + 2):
        raise ForecastError(f"{name} has {len(series)} {freq}-periods of history: at least {max(MIN_POINTS, h + 2)} are "
                            f"needed for a {h}-period horizon (try a shorter horizon or a finer frequency)")
    if float(series["y"].abs().sum()) == 0.0:
        raise ForecastError(f"{name} is all zeros: nothing to forecast")
    df = series.assign(unique_id=name)[["unique_id", "ds", "y"]]
    r = forecast_many(df, h, freq)
    fc = r["forecast"]
    bt = r["backtest"].set_index("model")
    model = r["chosen"][name]
    fmt = "%Y-%m-%d"
    hist = [{"ds": d.strftime(fmt), "y": round(float(y), 2)} for d, y in zip(series["ds"], series["y"])]
    pts = [{"ds": pd.Timestamp(row["ds"]).strftime(fmt), "yhat": round(float(row["yhat"]), 2),
            **{f"{b}_{lv}": round(float(row[f"{b}-{lv}"]), 2) for lv in LEVELS for b in ("lo", "hi")}}
           for _, row in fc.iterrows()]
    backtest = {m: {"mase": _r(bt.loc[m, "mase"]), "smape": _r(bt.loc[m, "smape"])} for m in bt.index}
    chart = {"type": "forecast", "title": f"{name}: history and {h}-period forecast ({model})", "x": "ds",
             "history": hist[-max(3 * h, 52):], "forecast": pts, "levels": list(LEVELS)}
    return {"series": name, "freq": freq, "horizon": h, "model": model, "season_length": r["season"],
            "backtest_windows": r["windows"], "backtest": backtest, "baseline": "SeasonalNaive",
            "history_points": len(series), "forecast": pts, "chart": chart}


def _r(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


def describe(r: dict, unit: str = "") -> str:
    f = r["forecast"]
    total = sum(p["yhat"] for p in f)
    b, base = r["backtest"].get(r["model"], {}), r["backtest"].get(r["baseline"], {})
    lines = [f"Forecast of {r['series']} for the next {r['horizon']} {dict(D='days', W='weeks', M='months')[r['freq']]} "
             f"({f[0]['ds']} to {f[-1]['ds']}) with {r['model']}, chosen by backtest over {r['backtest_windows']} window(s): "
             f"total {unit}{total:,.2f} (sum of the per-period forecasts).",
             f"Backtest MASE {b.get('mase')} vs seasonal naive {base.get('mase')}; sMAPE {b.get('smape')} vs {base.get('smape')}.",
             "Per period: " + "; ".join(f"{p['ds']} {unit}{p['yhat']:,.2f} [{unit}{p['lo_80']:,.2f}, {unit}{p['hi_80']:,.2f}]"
                                        for p in f[:13]) + (" ..." if len(f) > 13 else "")]
    return "\n".join(lines)


class ForecastArgs(BaseModel):
    metric: Literal["revenue", "orders", "units"] = Field("revenue", description="What to forecast: revenue (money), orders (count) or units sold.")
    horizon: str = Field("next quarter", max_length=40, description="How far ahead, e.g. '13', '6 weeks', 'next month', 'next quarter'.")
    freq: Literal["D", "W", "M"] = Field("W", description="D daily, W weekly, M monthly.")
    product_id: str | None = Field(None, max_length=64, description="Only this product's sales, if the user named one.")
    category: str | None = Field(None, max_length=64, description="Only this product category's sales, if the user named one.")

    @field_validator("horizon", mode="before")
    @classmethod
    def _str(cls, v):
        return str(v)

    @field_validator("product_id", "category", mode="before")
    @classmethod
    def _blank_is_none(cls, v):
        return optional(v)


@tool(
    "forecast",
    "Forecast future orders, revenue or units sold (daily, weekly or monthly) with prediction intervals; "
    "use for predictions, projections and 'how many next week/month/quarter'.",
    examples=[
        "forecast revenue for the next quarter",
        "how many orders will we get next month?",
        "predict weekly sales for the next 8 weeks",
        "what will daily order volume look like over the next 30 days?",
        "project monthly revenue for the next 6 months",
    ],
)
def forecast(ctx: ToolContext, args: ForecastArgs) -> ToolResult:
    h = parse_horizon(args.horizon, args.freq)
    s = orders_series(ctx.ws, args.freq, args.metric, args.product_id, args.category)
    name = f"{args.metric}" + (f" of product {args.product_id}" if args.product_id else "") + \
        (f" in {args.category}" if args.category else "")
    r = forecast_series(s, h, args.freq, name=name)
    chart = r.pop("chart")
    return ToolResult(data=r, summary=describe(r, "$" if args.metric == "revenue" else ""), chart=chart)
