"""Forecasts: statsforecast models chosen by backtest, intervals, horizons in words, user CSVs.

Bad input we tried: a series too short for the horizon, a CSV with an unreadable
row, a gappy CSV, an unreadable horizon, an all-zero series, a product with no orders.
"""

import json

import pandas as pd
import pytest

from tools.forecast import ForecastError, describe, forecast_series, orders_series, parse_horizon, read_series_csv
from tools.train import evaluate_forecasts, public_series


@pytest.mark.parametrize(
    "text,freq,n",
    [
        ("next quarter", "W", 13),
        ("next quarter", "D", 91),
        ("next quarter", "M", 3),
        ("6 weeks", "D", 42),
        ("two months", "W", 9),
        ("next year", "M", 12),
        ("8", "W", 8),
    ],
)
def test_horizons_in_words(text, freq, n):
    assert parse_horizon(text, freq) == n


def test_unreadable_horizon_is_refused():
    with pytest.raises(ForecastError, match="horizon"):
        parse_horizon("soonish", "W")


def test_weekly_orders_forecast_has_ordered_intervals(demo_ws):
    from workspace import Workspace

    with Workspace.open(demo_ws, read_only=True) as ws:
        s, notes = orders_series(ws, "W", "orders", with_notes=True)
        lo, hi = s["ds"].min(), s["ds"].max() + pd.Timedelta(days=7)
        truth = ws.query("SELECT count(*) AS n FROM orders WHERE order_date >= ? AND order_date < ?", [lo, hi])[0]["n"]
        first, last = ws.query("SELECT min(order_date) AS a, max(order_date) AS b FROM orders")[0].values()
    assert s["y"].sum() == truth  # every order of the complete weeks counted once, no week missing
    assert (s["ds"].diff().dropna() == pd.Timedelta(days=7)).all()
    # CDNOW starts on a Wednesday and ends on a Monday: both weeks are partial, left out, and said so
    assert pd.Timestamp(first).weekday() != 0 and lo > pd.Timestamp(first) and hi <= pd.Timestamp(last)
    assert len(notes) == 2 and "incomplete" in notes[0]
    r = forecast_series(s, 13, "W", name="orders", notes=notes)
    assert r["left_out"] == notes
    assert len(r["forecast"]) == 13 and r["model"] in r["backtest"] and "SeasonalNaive" in r["backtest"]
    for p in r["forecast"]:
        assert 0 <= p["lo_95"] <= p["lo_80"] <= p["yhat"] <= p["hi_80"] <= p["hi_95"]  # a count never goes below 0
    assert r["chart"]["type"] == "forecast" and r["chart"]["forecast"] == r["forecast"]
    assert "Combo" in r["backtest"]  # the combination of the models is a candidate beside each model


def test_a_partial_last_week_is_left_out_and_counts_stay_nonnegative(tmp_path):
    """Daily counts that stop on a Tuesday: the last week has two days, and must not read as a collapse."""
    days = pd.date_range("2023-01-02", "2024-03-05", freq="D")  # a Monday to a Tuesday
    rng = __import__("numpy").random.default_rng(0)
    y = rng.poisson(3, len(days))  # small counts with zeros: an unconstrained model's 95% band dips below 0
    f = tmp_path / "daily.csv"
    pd.DataFrame({"day": days.strftime("%Y-%m-%d"), "orders": y}).to_csv(f, index=False)
    s, notes = read_series_csv(f, "W", with_notes=True)
    assert s["ds"].iloc[-1] == pd.Timestamp("2024-02-26") and notes == [
        "the last week (from 2024-03-04) is incomplete: the data ends 2024-03-05"
    ]
    assert s["y"].iloc[-1] == y[(days >= "2024-02-26") & (days < "2024-03-04")].sum()
    r = forecast_series(s, 8, "W", notes=notes)
    assert all(p["lo_95"] >= 0 for p in r["forecast"]) and "incomplete" in describe(r)
    d = read_series_csv(f, "D")  # at its own frequency nothing is partial
    assert len(d) == len(days)


def test_quarterly_and_yearly_series(settings_factory, tmp_path):
    monthly = public_series(settings_factory(tmp_path).cache_dir)["AirPassengers"]
    f = tmp_path / "air.csv"
    monthly.to_csv(f, index=False)
    q = read_series_csv(f, "Q")
    assert len(q) == len(monthly) // 3 and q["y"].sum() == monthly["y"].sum()
    r = forecast_series(q, parse_horizon("next year", "Q"), "Q", name="air")
    assert len(r["forecast"]) == 4 and r["season_length"] == 4 and "next 4 quarters" in describe(r)
    yr = read_series_csv(f, "Y")
    assert len(yr) == 12 and forecast_series(yr, 2, "Y")["freq"] == "Y"


def test_backtested_choice_beats_seasonal_naive_on_held_out_months(settings_factory, tmp_path):
    series = {k: (v, 12, "M") for k, v in public_series(settings_factory(tmp_path).cache_dir).items()}
    m = evaluate_forecasts(series)
    assert m["mean_mase"] < m["mean_mase_seasonal_naive"], m
    assert all(0 <= r["coverage_95"] <= 1 for r in m["series"].values())


def test_short_series_gets_a_clear_message():
    s = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=6, freq="W-MON"), "y": [1.0, 2, 3, 4, 5, 6]})
    with pytest.raises(ForecastError, match="at least"):
        forecast_series(s, 4, "W")
    zeros = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=30, freq="D"), "y": 0.0})
    with pytest.raises(ForecastError, match="all zeros"):
        forecast_series(zeros, 7, "D")


def test_csv_errors_name_the_row_and_the_gaps(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("day,sales\n2024-01-01,5\n2024-01-02,lots\n")
    with pytest.raises(ForecastError, match="row 3"):
        read_series_csv(bad, "D")
    gappy = tmp_path / "gappy.csv"
    days = pd.date_range("2024-01-01", periods=60, freq="D")[::3]
    pd.DataFrame({"day": days, "sales": range(len(days))}).to_csv(gappy, index=False)
    with pytest.raises(ForecastError, match="--fill-gaps"):
        read_series_csv(gappy, "D")
    filled = read_series_csv(gappy, "D", fill_gaps=True)
    assert len(filled) == 58 and filled["y"].sum() == sum(range(len(days)))


def test_cli_forecasts_a_csv_and_saves_the_chart(tmp_path, capsys):
    from bots.cli import main

    f = tmp_path / "sales.csv"
    ds = pd.date_range("2022-01-01", periods=36, freq="MS")
    pd.DataFrame({"month": ds, "units": [100 + 10 * (i % 12) + i for i in range(36)]}).to_csv(f, index=False)
    png = tmp_path / "fc.png"
    assert main(["forecast", "--csv", str(f), "--freq", "M", "--horizon", "next quarter", "--json", "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["data"]["horizon"] == 3 and len(out["data"]["forecast"]) == 3
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert main(["forecast", "--csv", str(tmp_path / "missing.csv")]) == 1


def test_tool_refuses_a_product_with_no_orders(toolbox):
    from tools import ToolError

    with pytest.raises(ToolError, match="no orders"):
        toolbox.call("forecast", {"product_id": "1078"})
    r = toolbox.call("forecast", {"metric": "orders", "horizon": "next month", "freq": "W"})
    assert r.data["horizon"] == 4 and "MASE" in r.summary


def test_fixed_combinations_are_scored_on_the_dev_series_never_the_reported_ones(settings_factory, tmp_path):
    """``python -m evals.forecast_dev --pools`` on one dev series: each model alone and each combination, held out."""
    from evals.forecast_dev import DEV_SERIES, POOLS, pools
    from tools.train import PUBLIC_SERIES

    assert not set(DEV_SERIES) & set(PUBLIC_SERIES)
    series = public_series(settings_factory(tmp_path).cache_dir, {"USAccDeaths": DEV_SERIES["USAccDeaths"]})
    row = pools(series).loc["USAccDeaths"]
    singles = ["AutoETS", "AutoTheta", "AutoARIMA", "CES", "DynamicOptimizedTheta"]
    assert set(row.index) == {*singles, *POOLS} and (row > 0).all()
    # MAE is convex, so the mean forecast's MASE is at most the mean of its members'
    for label, (how, names) in POOLS.items():
        if how == "mean":
            assert row[label] <= row[names].mean() + 1e-9, label


def test_every_subset_mean_is_a_candidate_and_the_lowest_backtest_wins(settings_factory, tmp_path):
    """Real monthly series: the backtest scores each model and the mean of every subset of two or more; the
    lowest mean MASE is refitted, and the forecast is the mean of the chosen members' own forecasts."""
    from statsforecast import StatsForecast

    from tools.forecast import COMBO, _models, forecast_many

    chosen = []
    for name in ("AirPassengers", "h02"):  # the first picks one model, the second a combination
        s = public_series(settings_factory(tmp_path).cache_dir)[name].iloc[:-12].assign(unique_id=name)
        r = forecast_many(s, 12, "M", log=False)
        bt = r["backtest"].set_index("model")["mase"]
        combos = {m for m in bt.index if "+" in m}
        assert {"AutoETS", "AutoTheta", "CES", "DynamicOptimizedTheta", "SeasonalNaive"} <= set(bt.index)
        # 2^4 - 1 - 4 subsets; the baseline is scored, never chosen
        assert len(combos) == 11 and r["windows"] == 4 and r["chosen"][name] == bt.drop("SeasonalNaive").idxmin()
        members = r["chosen"][name].split("+")
        fc = StatsForecast(models=[m for m in _models(12, 1) if repr(m) in members], freq="MS").forecast(df=s, h=12)
        assert abs(fc[members].mean(axis=1).to_numpy() - r["forecast"]["yhat"].to_numpy()).max() < 1e-6
        one = forecast_series(s[["ds", "y"]], 12, "M", name=name)
        assert COMBO in one["backtest"] and not any("+" in m for m in one["backtest"]) and len(one["combo_of"]) >= 2
        assert (one["model"] == COMBO) == (len(members) > 1)
        chosen.append(len(members))
    assert chosen[0] == 1 and chosen[1] > 1
    alone = forecast_many(s, 12, "M", log=False, combo=False)
    assert not any("+" in m for m in alone["backtest"]["model"]) and "+" not in alone["chosen"]["h02"]


def test_the_naive_baseline_is_scored_but_never_chosen(settings_factory, tmp_path):
    """Daily flights from Newark (nycflights13) up to 3 Dec 2013: the seasonal naive wins the backtest (it
    repeats last week), but repeating the Thanksgiving week into December missed by a MASE of 8.8 where
    the fitted models miss by 2.1-4.9. The baseline is the bar, not a candidate: the best fitted candidate is chosen."""
    from evals.forecast_dev import other_series
    from tools.forecast import forecast_many

    df, h, freq = other_series(settings_factory(tmp_path).cache_dir)["flights from EWR"]
    r = forecast_many(df.iloc[:-h].assign(unique_id="EWR"), h, freq)
    bt = r["backtest"].set_index("model")["mase"]
    assert h == 28 and freq == "D" and r["season"] == 7
    assert bt.idxmin() == "SeasonalNaive" and r["chosen"]["EWR"] == bt.drop("SeasonalNaive").idxmin()
    assert (r["forecast"]["model"] == r["chosen"]["EWR"]).all()
