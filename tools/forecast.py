"""Order and sales forecasts with statsforecast, chosen per series by backtest.

Candidates are AutoETS, AutoTheta, AutoCES and DynamicOptimizedTheta, and the
mean of every subset of two or more of them (``Combo``: the M4 competition's
lesson that combinations of simple models beat choosing one). For each series
Pulse backtests all of them over the last ``windows`` horizons (rolling origin,
four by default), keeps the one with the lowest MASE, refits it on the whole
series and returns the forecast with 80% and 95% prediction intervals.
SeasonalNaive is the baseline: scored in the same backtest and shown beside the
choice, never chosen (it repeats the last season, one-off holiday weeks and
all). The pool, the subsets, the four windows and the baseline's role were
chosen on dev series apart from the reported ones (``python -m evals.forecast_dev``). A series with no negative value (counts,
amounts) whose forecast or interval would dip below zero is refitted on
``log1p`` and transformed back, so forecasts and intervals of counts stay >= 0.
Frequencies: hourly (CSV with times), daily, weekly, monthly, quarterly,
yearly; an incomplete first or last period (data that stops on a Tuesday)
is left out of the fit and the chart, and the answer says so. Panels of more than 50 series (the
batch path) keep AutoETS and AutoTheta only and fit each model once per series for the backtest
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

import itertools
import math
import re
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator

from .base import Maybe, ToolContext, ToolError, ToolResult, tool

__all__ = [
    "NUMBER_WORDS",
    "parse_horizon",
    "orders_series",
    "complete_periods",
    "FREQS",
    "COMBO",
    "UNIT",
    "forecast_series",
    "forecast_many",
    "read_series_csv",
    "ForecastError",
    "forecast",
    "SEASON",
    "LEVELS",
    "SINGLES",
    "single_models",
]

FREQS = ("H", "D", "W", "M", "Q", "Y")
SEASON = {"H": 24, "D": 7, "W": 52, "M": 12, "Q": 4, "Y": 1}
_PANDAS_FREQ = {"H": "h", "D": "D", "W": "W-MON", "M": "MS", "Q": "QS", "Y": "YS"}
_PERIOD = {"H": "h", "D": "D", "W": "W-SUN", "M": "M", "Q": "Q", "Y": "Y"}  # pandas periods (a W-SUN week starts Monday)
_TRUNC = {"H": "hour", "D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}
_PERIOD_DAYS = {"H": 1 / 24, "D": 1, "W": 7, "M": 30.44, "Q": 91.31, "Y": 365.25}
UNIT = {
    "H": ("hour", "hours"),
    "D": ("day", "days"),
    "W": ("week", "weeks"),
    "M": ("month", "months"),
    "Q": ("quarter", "quarters"),
    "Y": ("year", "years"),
}
COMBO = "Combo"  # the name a combination (the mean of a subset of the fitted models) is shown under
_DAYS = {"hour": 1 / 24, "day": 1, "week": 7, "fortnight": 14, "month": 30.44, "quarter": 91.31, "year": 365.25}
#: Number words in horizons and counts ("the next two quarters", "five movies").
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "couple": 2,
    "few": 3,
}
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
    >>> parse_horizon("next year", "Q"), parse_horizon("3 years", "Y"), parse_horizon("next day", "H")
    (4, 3, 24)
    """
    if freq not in SEASON:
        raise ForecastError(f"unknown frequency {freq!r}: use one of {', '.join(FREQS)}")
    if isinstance(h, (int, np.integer)) or (isinstance(h, str) and h.strip().isdigit()):
        n = int(h)
    else:
        text = str(h).lower().strip()
        m = re.search(
            r"(\d+(?:\.\d+)?|" + "|".join(NUMBER_WORDS) + r")?\s*(hour|day|week|fortnight|month|quarter|year)s?\b", text
        )
        if not m:
            raise ForecastError(f"cannot read the horizon {h!r}: say e.g. '13', '6 weeks' or 'next quarter'")
        count = m.group(1)
        k = float(count) if count and count[0].isdigit() else NUMBER_WORDS.get(count, 1)
        days = k * _DAYS[m.group(2)]
        n = max(1, round(days / _PERIOD_DAYS[freq]))
    if n < 1 or n > 1000:
        raise ForecastError(f"horizon {n} is out of range (1..1000 periods)")
    return n


def complete_periods(
    series: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp, freq: str, step: pd.Timedelta
) -> tuple[pd.DataFrame, list[str]]:
    """``series`` without an incomplete first or last period, and a note for each one left out.

    The raw data runs from ``first`` to ``last`` at a resolution of ``step`` (a day for dates). The last period
    is complete when the data reaches its end, the first when the data starts at its start.

    >>> s = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=3, freq="W-MON"), "y": [7.0, 7.0, 2.0]})
    >>> complete_periods(s, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-16"), "W", pd.Timedelta(days=1))[1]
    ['the last week (from 2024-01-15) is incomplete: the data ends 2024-01-16']
    """
    off = pd.tseries.frequencies.to_offset(_PANDAS_FREQ[freq])
    notes, keep = [], np.ones(len(series), bool)
    unit = UNIT[freq][0]
    if len(series) > 2 and pd.Timestamp(series["ds"].iat[-1]) + off > last + step:
        keep[-1] = False
        notes.append(
            f"the last {unit} (from {pd.Timestamp(series['ds'].iat[-1]):%Y-%m-%d}) is incomplete: the data ends {last:%Y-%m-%d}"
        )
    if len(series) > 2 and first > pd.Timestamp(series["ds"].iat[0]):
        keep[0] = False
        notes.append(
            f"the first {unit} (from {pd.Timestamp(series['ds'].iat[0]):%Y-%m-%d}) is incomplete: "
            f"the data starts {first:%Y-%m-%d}"
        )
    return series[keep].reset_index(drop=True), notes


def orders_series(
    ws,
    freq: str = "W",
    metric: str = "revenue",
    product_id: str | None = None,
    category: str | None = None,
    with_notes: bool = False,
):
    """One series (ds, y) of workspace orders, every period present (no orders = 0), incomplete first and last
    periods left out (the workspace's orders decide where the data starts and ends). ``with_notes``: also the
    list of what was left out."""
    if freq not in _TRUNC or freq == "H":
        raise ForecastError(f"orders carry dates, not times: forecast them by {', '.join(f for f in FREQS if f != 'H')}")
    trunc = _TRUNC[freq]
    value = {"revenue": "sum(o.total)", "orders": "count(DISTINCT o.order_id)", "units": "sum(o.n_items)"}[metric]
    if product_id or category:
        value = {
            "revenue": "sum(i.quantity * coalesce(i.price, 0))",
            "orders": "count(DISTINCT o.order_id)",
            "units": "sum(i.quantity)",
        }[metric]
        cond, params = ("i.product_id = ?", [product_id]) if product_id else ("lower(p.category) = lower(?)", [category])
        sql = (
            f"SELECT date_trunc('{trunc}', o.order_date) AS ds, {value} AS y FROM orders o "
            f"JOIN order_items i USING (order_id) LEFT JOIN products p ON p.product_id = i.product_id "
            f"WHERE {cond} GROUP BY ds ORDER BY ds"
        )
    else:
        sql, params = f"SELECT date_trunc('{trunc}', o.order_date) AS ds, {value} AS y FROM orders o GROUP BY ds ORDER BY ds", []
    df = ws.con.sql(sql, params=params).df()
    if df.empty:
        what = f"product {product_id}" if product_id else f"category {category!r}" if category else "the workspace"
        raise ForecastError(f"no orders for {what}: nothing to forecast")
    df["ds"] = pd.to_datetime(df["ds"])
    span = ws.con.execute("SELECT min(order_date), max(order_date) FROM orders").fetchall()[0]
    first, last = pd.Timestamp(span[0]), pd.Timestamp(span[1])
    full = pd.date_range(min(df["ds"].min(), first.to_period(_PERIOD[freq]).start_time), last, freq=_PANDAS_FREQ[freq])
    series = df.set_index("ds").reindex(full, fill_value=0).rename_axis("ds").reset_index()[["ds", "y"]].astype({"y": float})
    series, notes = complete_periods(series, first, last, freq, pd.Timedelta(days=1))
    return (series, notes) if with_notes else series


def read_series_csv(
    path, freq: str, date_col: str | None = None, value_col: str | None = None, fill_gaps: bool = False, with_notes: bool = False
):
    """A user's series from CSV: a date column and a value column (the first two, unless named).

    Periods are aligned to ``freq``; missing periods are an error unless ``fill_gaps`` (then 0)
    or they are under 10% of the series (then interpolated, and said so). An incomplete first or
    last period (raw rows that stop mid-week) is left out, and ``with_notes`` says so.
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
    if freq not in SEASON:
        raise ForecastError(f"unknown frequency {freq!r}: use one of {', '.join(FREQS)}")
    raw_s = pd.Series(y.to_numpy(float), index=ds).sort_index()
    s = raw_s.groupby(raw_s.index.to_period(_PERIOD[freq]).start_time).sum()
    full = pd.date_range(s.index.min(), s.index.max(), freq=_PANDAS_FREQ[freq])
    s = s.reindex(full)
    missing = int(s.isna().sum())
    if missing:
        if fill_gaps:
            s = s.fillna(0.0)
        elif missing / len(s) <= 0.10:
            s = s.interpolate()
        else:
            raise ForecastError(
                f"{path}: {missing} of {len(s)} periods at frequency {freq} have no value; "
                f"pass --fill-gaps to treat them as 0, or use a coarser --freq"
            )
    series = pd.DataFrame({"ds": s.index, "y": s.to_numpy(float)})
    stamps = pd.Series(raw_s.index.unique())
    if stamps.isin(full).all():  # one row per period already (monthly rows dated the 1st): nothing is partial
        return (series, []) if with_notes else series
    # the raw rows' own period (monthly rows aggregated to quarters: a month), else their finest gap
    inferred = pd.infer_freq(pd.DatetimeIndex(stamps)) if len(stamps) >= 3 else None
    gaps = stamps.diff().dropna()
    step = (
        (stamps.max() + pd.tseries.frequencies.to_offset(inferred)) - stamps.max()
        if inferred
        else gaps[gaps > pd.Timedelta(0)].min()
        if len(gaps)
        else pd.Timedelta(days=1)
    )
    series, notes = complete_periods(series, stamps.min(), stamps.max(), freq, step)
    return (series, notes) if with_notes else series


def _models(season: int, n_series: int):
    from statsforecast.models import AutoCES, AutoETS, AutoTheta, DynamicOptimizedTheta, SeasonalNaive

    ms = [AutoETS(season_length=season), AutoTheta(season_length=season)]
    if n_series <= 50:  # single series and small panels: two more model families to choose and combine from
        ms += [AutoCES(season_length=season), DynamicOptimizedTheta(season_length=season)]
    return [*ms, SeasonalNaive(season_length=season)]


#: The bar Pulse's choice is measured against: each of five statsforecast models alone, by their names.
SINGLES = ("AutoETS", "AutoTheta", "AutoARIMA", "CES", "DynamicOptimizedTheta")


def single_models(season: int) -> list:
    """The models in ``SINGLES``, default settings, for one season length (``repr`` of each is its name)."""
    from statsforecast.models import AutoARIMA, AutoCES, AutoETS, AutoTheta, DynamicOptimizedTheta

    return [m(season_length=season) for m in (AutoETS, AutoTheta, AutoARIMA, AutoCES, DynamicOptimizedTheta)]


def _subsets(names: list[str]) -> list[str]:
    """Every combination of two or more of ``names``, named by joining them with ``+``.

    >>> _subsets(["AutoETS", "AutoTheta", "CES"])
    ['AutoETS+AutoTheta', 'AutoETS+CES', 'AutoTheta+CES', 'AutoETS+AutoTheta+CES']
    """
    return ["+".join(c) for k in range(2, len(names) + 1) for c in itertools.combinations(names, k)]


def _season(n: int, freq: str) -> int:
    s = SEASON[freq]
    return s if n >= 2 * s + 2 else 1


def _combo(frame: pd.DataFrame, names: list[str], suffix: str = "") -> np.ndarray:
    """The mean across ``names`` of the columns ``name + suffix``."""
    return np.nanmean(np.column_stack([frame[n + suffix].to_numpy(float) for n in names]), axis=1)


def forecast_many(
    df: pd.DataFrame,
    h: int,
    freq: str,
    windows: int = 4,
    n_jobs: int = 1,
    log: bool | None = None,
    combo: bool = True,
) -> dict:
    """Forecast a panel (unique_id, ds, y): per-series model choice by backtest MASE.

    Candidates: each model and (``combo``) the mean of each subset of two or more of them, named like
    ``"AutoETS+CES"``; the lowest mean MASE over the backtest windows wins. The seasonal naive baseline is
    in the backtest, not among the candidates (it is chosen only if no candidate has a finite score). ``log=None``: a series with no
    negative value (counts, amounts) whose forecast or interval would go below zero is refitted on
    ``log1p(y)`` and transformed back; ``True`` / ``False`` force the transform on or off.

    Returns {"forecast": DataFrame(unique_id, ds, model, yhat, lo-80, hi-80, lo-95, hi-95),
             "backtest": DataFrame(unique_id, model, mase, smape), "chosen": {uid: model}, "log": [uids]}.
    """
    r = _panel(df, h, freq, windows, n_jobs, log=bool(log), combo=combo)
    if log is None:
        low = r["forecast"].groupby("unique_id")["lo-95"].min()
        nonneg = df.groupby("unique_id")["y"].min() >= 0
        redo = [u for u in low.index if low[u] < 0 and nonneg.get(u, False)]
        if redo:
            r2 = _panel(df[df["unique_id"].isin(redo)], h, freq, windows, n_jobs, log=True, combo=combo)
            keep = lambda f: f[~f["unique_id"].isin(redo)]  # noqa: E731
            r["forecast"] = pd.concat([keep(r["forecast"]), r2["forecast"]], ignore_index=True)
            r["backtest"] = pd.concat([keep(r["backtest"]), r2["backtest"]], ignore_index=True)
            r["chosen"].update(r2["chosen"])
            r["log"] = redo
    return r


def _panel(df: pd.DataFrame, h: int, freq: str, windows: int, n_jobs: int, log: bool, combo: bool) -> dict:
    from statsforecast import StatsForecast
    from utilsforecast.losses import mase, smape

    lengths = df.groupby("unique_id").size()
    short = lengths[lengths < max(MIN_POINTS, h + 2)]
    if len(short):
        uid, n = short.index[0], int(short.iloc[0])
        raise ForecastError(
            f"series {uid!r} has {n} points: at least {max(MIN_POINTS, h + 2)} are needed "
            f"for a {h}-period horizon (try a shorter horizon or a finer --freq)"
        )
    season = _season(int(lengths.min()), freq)
    models = _models(season, len(lengths))
    names = [repr(m) for m in models]
    baseline = "SeasonalNaive"
    fitted = [n for n in names if n != baseline]  # what the combinations take the mean of
    log = log and bool((df["y"] >= 0).all())
    fit_df = df.assign(y=np.log1p(df["y"])) if log else df
    back = np.expm1 if log else (lambda a: a)
    fq = _PANDAS_FREQ[freq]
    n_win = max(1, min(windows, (int(lengths.min()) - MIN_POINTS) // h))
    big = len(lengths) > 50  # panels: fit once per series and roll the windows forward without refitting
    cv = StatsForecast(models=models, freq=fq, n_jobs=n_jobs).cross_validation(
        df=fit_df, h=h, n_windows=n_win, step_size=h, refit=not big
    )
    for c in [*names, "y"]:
        cv[c] = back(cv[c].to_numpy(float))
    combos = _subsets(fitted) if combo else []
    for c in combos:
        cv[c] = _combo(cv, c.split("+"))
    cands = [*names, *combos]
    rows = []
    for cutoff, part in cv.groupby("cutoff"):
        train = df[df["ds"] <= cutoff]
        m = mase(part.drop(columns="cutoff"), models=cands, seasonality=max(season, 1), train_df=train)
        s = smape(part.drop(columns="cutoff"), models=cands)
        for name in cands:
            rows += [{"unique_id": u, "model": name, "mase": a, "smape": b} for u, a, b in zip(m["unique_id"], m[name], s[name])]
    bt = pd.DataFrame(rows).groupby(["unique_id", "model"], as_index=False)[["mase", "smape"]].mean()
    bt = bt.replace([np.inf, -np.inf], np.nan)
    # the baseline is scored, not chosen: it copies the last season, one-off days (a holiday week) and all
    fit_bt = bt[bt["model"] != baseline].dropna(subset=["mase"])
    best = fit_bt.sort_values("mase", kind="stable").groupby("unique_id")["model"].first().to_dict()
    chosen = {u: best.get(u, baseline) for u in lengths.index}
    out = []
    bands = [f"{b}-{lv}" for lv in LEVELS for b in ("lo", "hi")]
    for m_name in sorted(set(chosen.values())):  # refit each series with its chosen model(s) only
        ids = [u for u, c in chosen.items() if c == m_name]
        use = m_name.split("+")
        keep = [m for m in models if repr(m) in (*use, baseline)]
        fc = StatsForecast(models=keep, freq=fq, n_jobs=n_jobs).forecast(
            df=fit_df[fit_df["unique_id"].isin(ids)], h=h, level=list(LEVELS)
        )
        for c in fc.columns:
            if c not in ("unique_id", "ds"):
                fc[c] = back(fc[c].to_numpy(float))
        for name in use:
            if f"{name}-lo-80" not in fc.columns:  # a model without intervals: use the baseline's
                for b in bands:
                    fc[f"{name}-{b}"] = fc[f"{baseline}-{b}"]
        res = {"yhat": _combo(fc, use), **{b: _combo(fc, use, f"-{b}") for b in bands}}
        out.append(pd.DataFrame({"unique_id": fc["unique_id"].to_numpy(), "ds": fc["ds"].to_numpy(), "model": m_name, **res}))
    return {
        "forecast": pd.concat(out, ignore_index=True),
        "backtest": bt,
        "chosen": chosen,
        "season": season,
        "windows": n_win,
        "log": list(lengths.index) if log else [],
    }


def forecast_series(series: pd.DataFrame, h: int, freq: str, name: str = "series", notes: list[str] | None = None) -> dict:
    """Forecast one (ds, y) series; a JSON-ready dict with history, forecast, backtest and a chart spec.

    ``notes`` say what was left out of the series (incomplete periods); they are passed on in ``left_out``."""
    if len(series) < max(MIN_POINTS, h + 2):
        raise ForecastError(
            f"{name} has {len(series)} {freq}-periods of history: at least {max(MIN_POINTS, h + 2)} are "
            f"needed for a {h}-period horizon (try a shorter horizon or a finer frequency)"
        )
    if float(series["y"].abs().sum()) == 0.0:
        raise ForecastError(f"{name} is all zeros: nothing to forecast")
    df = series.assign(unique_id=name)[["unique_id", "ds", "y"]]
    r = forecast_many(df, h, freq)
    fc = r["forecast"]
    bt = r["backtest"].set_index("model")
    chosen = r["chosen"][name]
    combos = bt[bt.index.str.contains("+", regex=False)]
    # shown: each model, the baseline, and one Combo: the chosen combination, else the best-scoring one
    combo_of = chosen if "+" in chosen else (combos["mase"].idxmin() if combos["mase"].notna().any() else "")
    model = COMBO if "+" in chosen else chosen
    if combo_of:
        bt = pd.concat([bt.drop(index=combos.index), bt.loc[[combo_of]].rename(index={combo_of: COMBO})])
    fmt = "%Y-%m-%d %H:%M" if freq == "H" else "%Y-%m-%d"
    hist = [{"ds": d.strftime(fmt), "y": round(float(y), 2)} for d, y in zip(series["ds"], series["y"])]
    pts = [
        {
            "ds": pd.Timestamp(row["ds"]).strftime(fmt),
            "yhat": round(float(row["yhat"]), 2),
            **{f"{b}_{lv}": round(float(row[f"{b}-{lv}"]), 2) for lv in LEVELS for b in ("lo", "hi")},
        }
        for _, row in fc.iterrows()
    ]
    backtest = {m: {"mase": _r(bt.loc[m, "mase"]), "smape": _r(bt.loc[m, "smape"])} for m in bt.index}
    chart = {
        "type": "forecast",
        "title": f"{name}: history and {h}-period forecast ({model})",
        "x": "ds",
        "history": hist[-max(3 * h, 52) :],
        "forecast": pts,
        "levels": list(LEVELS),
    }
    return {
        "series": name,
        "freq": freq,
        "horizon": h,
        "model": model,
        "season_length": r["season"],
        "backtest_windows": r["windows"],
        "backtest": backtest,
        "baseline": "SeasonalNaive",
        "history_points": len(series),
        "forecast": pts,
        "chart": chart,
        "log_transformed": name in r["log"],
        "combo_of": combo_of.split("+") if combo_of else [],
        "left_out": notes or [],
    }


def _r(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


UNIT_ZH = {"H": "小时", "D": "天", "W": "周", "M": "个月", "Q": "个季度", "Y": "年"}
METRIC_ZH = {"revenue": "收入", "orders": "订单数", "units": "销量"}
#: the forecast's sentences per language; :func:`describe` fills them from the same figures
_TEXT = {
    "en": {
        "head": "Forecast of {series} for the next {h} {unit} ({start} to {end}) with {model}, chosen by backtest over "
        "{windows} window(s): total {total} (sum of the per-period forecasts).",
        "combo": "the mean of {models} ({combo})",
        "backtest": "Backtest MASE {mase} vs seasonal naive {base_mase}; sMAPE {smape} vs {base_smape}.",
        "periods": "Per period: ",
        "left_out": "Left out of the fit and the chart: ",
        "and": ", ",
        "sep": "; ",
        "end": ".",
    },
    "zh": {
        "head": "未来 {h} {unit}（{start} 至 {end}）的{series}预测，模型为{model}，经 {windows} 个窗口回测选出："
        "合计 {total}（各期预测之和）。",
        "combo": "{models} 的平均（{combo}）",
        "backtest": "回测 MASE {mase}，季节性朴素基线 {base_mase}；sMAPE {smape}，基线 {base_smape}。",
        "periods": "各期：",
        "left_out": "未纳入拟合和图表：",
        "and": "、",
        "sep": "；",
        "end": "。",
    },
}


def describe(r: dict, unit: str = "", lang: str = "en", series_zh: str | None = None) -> str:
    """The forecast as text, in English or (``lang="zh"``, with ``series_zh`` naming the series) Chinese; the
    figures are the same in both."""
    t, f = _TEXT[lang], r["forecast"]
    b, base = r["backtest"].get(r["model"], {}), r["backtest"].get(r["baseline"], {})
    model = r["model"] if r["model"] != COMBO else t["combo"].format(models=t["and"].join(r.get("combo_of") or []), combo=COMBO)
    head = t["head"].format(
        series=series_zh or r["series"] if lang == "zh" else r["series"],
        h=r["horizon"],
        unit=UNIT_ZH[r["freq"]] if lang == "zh" else UNIT[r["freq"]][1 if r["horizon"] != 1 else 0],
        start=f[0]["ds"],
        end=f[-1]["ds"],
        model=model,
        windows=r["backtest_windows"],
        total=f"{unit}{sum(p['yhat'] for p in f):,.2f}",
    )
    backtest = t["backtest"].format(
        mase=b.get("mase"), base_mase=base.get("mase"), smape=b.get("smape"), base_smape=base.get("smape")
    )
    periods = t["sep"].join(
        f"{p['ds']} {unit}{p['yhat']:,.2f} [{unit}{p['lo_80']:,.2f}, {unit}{p['hi_80']:,.2f}]" for p in f[:13]
    )
    lines = [head, backtest, t["periods"] + periods + (" ..." if len(f) > 13 else "")]
    if r.get("left_out"):
        notes = [_note_zh(n, r["freq"]) for n in r["left_out"]] if lang == "zh" else r["left_out"]
        lines.append(t["left_out"] + t["sep"].join(notes) + t["end"])
    return "\n".join(lines)


_NOTE = re.compile(r"the (last|first) \w+ \(from (\S+)\) is incomplete: the data (?:ends|starts) (\S+)")


def _note_zh(note: str, freq: str) -> str:
    """A note of :func:`complete_periods` in Chinese."""
    m = _NOTE.match(note)
    if not m:
        return note
    which, start, edge = m.groups()
    u = UNIT_ZH[freq]
    if which == "last":
        return f"最后一{u}（自 {start} 起）不完整：数据止于 {edge}"
    return f"第一{u}（自 {start} 起）不完整：数据始于 {edge}"


class ForecastArgs(BaseModel):
    metric: Literal["revenue", "orders", "units"] = Field(
        "revenue", description="What to forecast: revenue (money), orders (count) or units sold."
    )
    horizon: str = Field(
        "next quarter", max_length=40, description="How far ahead, e.g. '13', '6 weeks', 'next month', 'next quarter'."
    )
    freq: Literal["D", "W", "M", "Q", "Y"] = Field("W", description="D daily, W weekly, M monthly, Q quarterly, Y yearly.")
    product_id: Maybe[str] = Field(None, max_length=64, description="Only this product's sales, if the user named one.")
    category: Maybe[str] = Field(None, max_length=64, description="Only this product category's sales, if the user named one.")

    @field_validator("horizon", mode="before")
    @classmethod
    def _str(cls, v):
        return str(v)


@tool(
    "forecast",
    "Forecast future orders, revenue or units sold (daily, weekly, monthly, quarterly or yearly) with prediction intervals; "
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
    s, notes = orders_series(ctx.ws, args.freq, args.metric, args.product_id, args.category, with_notes=True)
    name = (
        f"{args.metric}"
        + (f" of product {args.product_id}" if args.product_id else "")
        + (f" in {args.category}" if args.category else "")
    )
    r = forecast_series(s, h, args.freq, name=name, notes=notes)
    chart = r.pop("chart")
    name_zh = (
        (f"商品 {args.product_id} 的" if args.product_id else "")
        + (f"{args.category} 类的" if args.category else "")
        + METRIC_ZH[args.metric]
    )
    unit = "$" if args.metric == "revenue" else ""
    return ToolResult(data=r, summary=describe(r, unit, ctx.lang, series_zh=name_zh), chart=chart)
