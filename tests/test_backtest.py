"""Rolling-origin backtests and accuracy measures (analytics.capacity.backtest) on real series."""

from __future__ import annotations

import glob
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics.capacity import backtest as capacity_backtest
from analytics.capacity.forecast import ForecastParams
from analytics.errors import InputError
from tests.conftest import shared_data

DATA = Path(__file__).parent / "data"
NAN = float("nan")


# --- Loaders for the excerpts in tests/data (attribution in each *.SOURCE.md) ---


def pedestrians() -> pl.DataFrame:
    raw = pl.read_csv(DATA / "prophet_pedestrians_hourly.csv", try_parse_dates=True)
    return raw.select(pl.col("ds").dt.replace_time_zone("UTC").alias("ts"), pl.col("location_4").cast(pl.Float64).alias("y"))


def peyton_manning(path: Path = DATA / "prophet_peyton_manning_daily.csv") -> pl.DataFrame:
    raw = pl.read_csv(path, try_parse_dates=True)
    return raw.select(pl.col("ds").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("ts"), pl.col("y"))


def servegen_hourly(model: str) -> pl.DataFrame:
    """ServeGen model-level request rate, 10-minute windows averaged to hours (req/s).

    A window where the whole model sums to 0 is a collection gap (shared SOURCE.md), so null.
    The trace starts at 00:00 local time; the date is arbitrary (day of week is not stated).
    """
    raw = pl.read_csv(DATA / f"servegen_{model}_rate_10min.csv")
    origin = datetime(2025, 1, 6, tzinfo=UTC)
    return (
        raw.with_columns(
            (pl.lit(origin) + pl.duration(seconds=pl.col("timestamp"))).dt.cast_time_unit("us").alias("ts"),
            pl.when(pl.col("rate") > 0).then(pl.col("rate")).alias("y"),
        )
        .group_by_dynamic("ts", every="1h")
        .agg(pl.col("y").mean())
    )


# --- Accuracy measures, hand-checked ---


@pytest.mark.parametrize(
    "fn, args, expected",
    [
        # |10|/100, |20|/200, |10|/50 -> (0.1 + 0.1 + 0.2) / 3
        pytest.param(capacity_backtest.mape, ([100, 200, 50], [110, 180, 60]), 0.4 / 3, id="MAPE averages absolute errors over actuals"),
        pytest.param(capacity_backtest.mape, ([100, 0, 50], [110, 7, 60]), 0.15, id="MAPE skips zero actuals where it is undefined"),
        pytest.param(capacity_backtest.mape, ([100, NAN], [110, 5]), 0.1, id="MAPE skips missing actuals"),
        # 10/105 + 20/190 + 10/55, divided by 3
        pytest.param(capacity_backtest.smape, ([100, 200, 50], [110, 180, 60]), (10 / 105 + 20 / 190 + 10 / 55) / 3, id="sMAPE uses the mean of both magnitudes"),
        pytest.param(capacity_backtest.smape, ([0, 100], [0, 110]), (0 + 10 / 105) / 2, id="sMAPE counts 0 vs 0 as a perfect point"),
        pytest.param(capacity_backtest.smape, ([0], [5]), 2.0, id="sMAPE is at most 2"),
        # 100 in [90, 120]; 200 in [190, 210]; 50 not in [55, 70]
        pytest.param(capacity_backtest.coverage, ([100, 200, 50], [90, 190, 55], [120, 210, 70]), 2 / 3, id="coverage counts actuals inside the band"),
        pytest.param(capacity_backtest.coverage, ([5], [5], [5]), 1.0, id="coverage includes the band's edges"),
        # in-sample lag-4 differences |2-1|, |2-2|, |5-3|, |4-4| -> mean 0.75
        pytest.param(capacity_backtest.seasonal_scale, ([1, 2, 3, 4, 2, 2, 5, 4], 4), 0.75, id="MASE scale is the in-sample seasonal-naive MAE"),
        pytest.param(capacity_backtest.seasonal_scale, ([1, 2, 3, 4, NAN, 2, 5, 4], 4), 2 / 3, id="MASE scale skips pairs with a missing value"),
        # errors 1 and 2 scaled by 0.75 -> (1.333 + 2.667) / 2
        pytest.param(capacity_backtest.mase, ([3, 5], [4, 3], 0.75), 2.0, id="MASE divides the forecast MAE by the scale"),
    ],
)
def test_accuracy_measures_match_hand_computed_values(fn, args, expected):
    arrays = [np.asarray(a, dtype=np.float64) if isinstance(a, list) else a for a in args]
    assert fn(*arrays) == pytest.approx(expected)


def test_mape_smape_and_coverage_agree_with_prophet_metrics():
    pd = pytest.importorskip("pandas")
    from prophet import metrics

    rng = np.random.default_rng(3)
    y = rng.uniform(10, 100, 50)
    yhat = y * rng.uniform(0.7, 1.3, 50)
    frame = pd.DataFrame({"y": y, "yhat": yhat, "yhat_lower": yhat * 0.9, "yhat_upper": yhat * 1.1, "horizon": np.arange(50)})
    assert capacity_backtest.mape(y, yhat) == pytest.approx(metrics.mape(frame, -1)["mape"].mean())
    assert capacity_backtest.smape(y, yhat) == pytest.approx(metrics.smape(frame, -1)["smape"].mean())
    assert capacity_backtest.coverage(y, yhat * 0.9, yhat * 1.1) == pytest.approx(metrics.coverage(frame, -1)["coverage"].mean())


@pytest.mark.parametrize(
    "horizon, initial, period",
    [
        pytest.param(timedelta(days=3), timedelta(days=14), timedelta(days=3), id="hourly, 3-day horizon every 3 days"),
        pytest.param(timedelta(days=7), timedelta(days=7), timedelta(hours=84), id="hourly, Prophet's default period of half the horizon"),
    ],
)
def test_cutoffs_follow_prophet_generate_cutoffs(horizon, initial, period):
    pd = pytest.importorskip("pandas")
    from prophet.diagnostics import generate_cutoffs

    series = pedestrians()
    ours = capacity_backtest.cutoffs(series["ts"], horizon, initial, period)
    theirs = generate_cutoffs(
        pd.DataFrame({"ds": series["ts"].dt.replace_time_zone(None).to_pandas()}),
        pd.Timedelta(horizon), pd.Timedelta(initial), pd.Timedelta(period),
    )
    assert [c.replace(tzinfo=None) for c in ours] == [c.to_pydatetime() for c in theirs]


def test_a_horizon_longer_than_the_data_is_refused():
    with pytest.raises(InputError, match="less data"):
        capacity_backtest.cutoffs(pedestrians()["ts"], timedelta(days=40), timedelta(days=7), timedelta(days=1))


def test_auto_params_fit_four_folds_into_the_history():
    params = capacity_backtest.auto_params(timedelta(days=21), timedelta(days=14), ForecastParams())
    assert (params.horizon, params.period, params.initial) == (timedelta(days=7), timedelta(hours=84), timedelta(days=7))


# --- Backtests on real series: metrics computed, coverage and MASE vs seasonal naive reported ---

REAL_SERIES = [
    pytest.param(pedestrians, capacity_backtest.BacktestParams(horizon=timedelta(days=3), initial=timedelta(days=14), period=timedelta(days=3)),
                 id="Prophet example: hourly Melbourne pedestrians"),
    pytest.param(peyton_manning, capacity_backtest.BacktestParams(horizon=timedelta(days=30), initial=timedelta(days=365), period=timedelta(days=30), max_cutoffs=3),
                 id="Prophet example: daily Peyton Manning page views"),
    pytest.param(lambda: servegen_hourly("m_large"), capacity_backtest.BacktestParams(horizon=timedelta(days=2), initial=timedelta(days=10), period=timedelta(days=1)),
                 id="ServeGen m-large request rate"),
    pytest.param(lambda: servegen_hourly("m_small"), capacity_backtest.BacktestParams(horizon=timedelta(days=2), initial=timedelta(days=10), period=timedelta(days=1)),
                 id="ServeGen m-small request rate with collection gaps"),
]


@pytest.mark.parametrize("load, params", REAL_SERIES)
def test_backtest_on_real_series_reports_accuracy_against_seasonal_naive(load, params, record_property):
    folds = capacity_backtest.run_backtest(load(), params)
    summary = capacity_backtest.summarize(folds)
    print(f"\n{summary.folds} folds, {summary.points} points: MAPE {summary.mape:.3f} sMAPE {summary.smape:.3f} "
          f"coverage {summary.coverage:.2f} (nominal 0.80) MASE {summary.mase:.2f} vs seasonal-naive {summary.baseline_mase:.2f}; "
          f"baseline MAPE {summary.baseline_mape:.3f}. {summary.message}")
    for key, value in asdict(summary).items():
        record_property(key, value)
    assert summary.folds >= 2
    for value in (summary.mape, summary.smape, summary.mase, summary.baseline_mape, summary.baseline_mase):
        assert np.isfinite(value) and value > 0
    assert 0.0 <= summary.coverage <= 1.0 and 0.0 <= summary.baseline_coverage <= 1.0
    assert summary.prophet_worse == (summary.mase > summary.baseline_mase)
    assert ("worse" in summary.message) == summary.prophet_worse


def test_every_fold_is_scored_only_after_its_cutoff_and_within_the_horizon():
    params = capacity_backtest.BacktestParams(horizon=timedelta(days=2), initial=timedelta(days=10), period=timedelta(days=1))
    folds = capacity_backtest.run_backtest(servegen_hourly("m_large"), params)
    lead = folds["ts"] - folds["cutoff"]
    assert lead.min() > timedelta(0) and lead.max() <= params.horizon
    assert folds.group_by("cutoff").len()["len"].to_list() == [48, 48]


def test_collection_gaps_are_not_scored():
    series = servegen_hourly("m_small")
    folds = capacity_backtest.run_backtest(series, capacity_backtest.BacktestParams(horizon=timedelta(days=7), initial=timedelta(days=6), period=timedelta(days=1), max_cutoffs=1))
    gaps = series.filter(pl.col("y").is_null())["ts"]
    assert gaps.len() > 0, "the excerpt has all-zero hours (collection gaps)"
    assert not folds["ts"].is_in(gaps.implode()).any()
    assert folds["y"].null_count() == 0


# --- The excerpts match the full shared data (skipped when ../shared/data is absent, not in CI) ---


def test_excerpts_match_the_shared_prophet_examples():
    full = shared_data("prophet-examples")
    assert (full / "example_pedestrians_multivariate.csv").read_bytes() == (DATA / "prophet_pedestrians_hourly.csv").read_bytes()
    excerpt = (DATA / "prophet_peyton_manning_daily.csv").read_bytes().split(b"\n", 1)[1]
    assert (full / "example_wp_log_peyton_manning.csv").read_bytes().endswith(excerpt)


@pytest.mark.parametrize("model", ["m-large", "m-small"])
def test_servegen_excerpts_are_the_sum_of_the_shared_client_traces(model):
    folder = shared_data(f"servegen/language/{model}")
    schema = {"timestamp": pl.Int64, "rate": pl.Float64, "cv": pl.Float64, "pat": pl.String, "a1": pl.Float64, "a2": pl.Float64}
    frames = [pl.read_csv(f, has_header=False, schema=schema) for f in sorted(glob.glob(str(folder / "chunk-*-trace.csv")))]
    total = pl.concat(frames).group_by("timestamp").agg(pl.col("rate").sum()).sort("timestamp")
    excerpt = pl.read_csv(DATA / f"servegen_{model.replace('-', '_')}_rate_10min.csv")
    assert excerpt["timestamp"].to_list() == total["timestamp"].to_list()
    assert np.allclose(excerpt["rate"].to_numpy(), total["rate"].to_numpy(), atol=1e-6)


def test_backtest_on_the_full_peyton_manning_series_with_yearly_seasonality():
    series = peyton_manning(shared_data("prophet-examples/example_wp_log_peyton_manning.csv"))
    assert series.height == 2905
    params = capacity_backtest.BacktestParams(horizon=timedelta(days=30), period=timedelta(days=90), max_cutoffs=2)
    summary = capacity_backtest.summarize(capacity_backtest.run_backtest(series, params))
    print(f"\nfull Peyton Manning: MAPE {summary.mape:.3f} coverage {summary.coverage:.2f} "
          f"MASE {summary.mase:.2f} vs seasonal-naive {summary.baseline_mase:.2f}")
    assert summary.folds == 2 and np.isfinite(summary.mase) and 0 <= summary.coverage <= 1
