"""The Prophet adapter, the seasonal-naive baselines, the statsforecast models and the fit cache (analytics.capacity.forecast)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics.capacity import cache as capacity_cache
from analytics.capacity import forecast as capacity_forecast
from analytics.errors import InputError, SpecError

DATA = Path(__file__).parent / "data"
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def pedestrians() -> pl.DataFrame:
    """Real hourly counts (Prophet's example data, 30 days), as an aware-UTC (ts, y) series."""
    raw = pl.read_csv(DATA / "prophet_pedestrians_hourly.csv", try_parse_dates=True)
    return raw.select(pl.col("ds").dt.replace_time_zone("UTC").alias("ts"), pl.col("location_4").cast(pl.Float64).alias("y"))


@pytest.fixture(scope="module")
def week_ahead(pedestrians) -> pl.DataFrame:
    return capacity_forecast.prophet_forecast(pedestrians, capacity_forecast.ForecastParams(horizon=timedelta(days=7)))


def hourly(values, start=datetime(2026, 1, 5, tzinfo=UTC)) -> pl.DataFrame:
    """A (ts, y) hourly series from a list (None = missing)."""
    ts = pl.datetime_range(start, start + (len(values) - 1) * HOUR, HOUR, time_unit="us", time_zone="UTC", eager=True)
    return pl.DataFrame({"ts": ts, "y": pl.Series(values, dtype=pl.Float64)})


def test_prophet_forecast_returns_the_horizon_in_aware_utc_after_the_history(pedestrians, week_ahead):
    assert week_ahead.columns == list(capacity_forecast.FORECAST_COLUMNS)
    assert week_ahead.schema["ts"] == pl.Datetime("us", "UTC")
    assert week_ahead.height == 7 * 24
    assert week_ahead["ts"].min() == pedestrians["ts"].max() + HOUR
    assert week_ahead["ts"].diff().drop_nulls().unique().to_list() == [HOUR]
    assert (week_ahead["yhat_lower"] <= week_ahead["yhat"]).all()
    assert (week_ahead["yhat"] <= week_ahead["yhat_upper"]).all()
    assert (week_ahead["yhat_lower"] >= 0).all(), "demand forecasts are clipped at zero"


def test_prophet_forecast_is_reproducible_and_restores_numpy_random_state(pedestrians, week_ahead):
    np.random.seed(123)
    expected_next = np.random.random()
    np.random.seed(123)
    again = capacity_forecast.prophet_forecast(pedestrians, capacity_forecast.ForecastParams(horizon=timedelta(days=7)))
    assert np.random.random() == expected_next, "the caller's global random stream is untouched"
    assert again.equals(week_ahead)


def test_prophet_forecast_does_not_mutate_its_input(pedestrians):
    before = pedestrians.clone()
    capacity_forecast.prophet_forecast(pedestrians, capacity_forecast.ForecastParams(horizon=timedelta(days=1), uncertainty_samples=0))
    assert pedestrians.equals(before)


def test_prophet_forecast_is_silent(pedestrians, caplog, capfd):
    with caplog.at_level(logging.DEBUG):
        capacity_forecast.prophet_forecast(pedestrians, capacity_forecast.ForecastParams(horizon=timedelta(days=1), uncertainty_samples=0))
    assert not [r for r in caplog.records if r.name.split(".")[0] in ("cmdstanpy", "prophet")]
    assert logging.getLogger("cmdstanpy").disabled
    assert "cmdstanpy" not in capfd.readouterr().err


def test_a_known_event_in_the_history_raises_the_forecast_on_its_next_occurrence():
    # 3 weeks of a flat 100/h with a 3x "launch day" on three irregular days (different weekdays,
    # so weekly seasonality cannot absorb them); the event recurs on day 23, in the forecast.
    start = datetime(2026, 1, 5, tzinfo=UTC)
    event_days = (3, 11, 16)
    values = [300.0 if i // 24 in event_days else 100.0 for i in range(21 * 24)]
    series = hourly(values, start)
    events = tuple(capacity_forecast.Event("launch", (start + timedelta(days=d)).date()) for d in (*event_days, 23))
    base = capacity_forecast.ForecastParams(horizon=timedelta(days=7), seasonality_mode="additive", uncertainty_samples=0)
    on_day_23 = pl.col("ts").dt.date() == (start + timedelta(days=23)).date()
    with_events = capacity_forecast.prophet_forecast(series, replace(base, events=events)).filter(on_day_23)
    without = capacity_forecast.prophet_forecast(series, base).filter(on_day_23)
    assert with_events["yhat"].mean() == pytest.approx(300.0, rel=0.1)
    assert without["yhat"].mean() < 200.0


@pytest.mark.parametrize(
    "series, message",
    [
        pytest.param(hourly([1.0] * 48).with_columns(pl.col("ts").dt.replace_time_zone(None)), "timezone-aware",
                     id="naive timestamps are refused"),
        pytest.param(hourly([1.0] * 100), "at least 7 days", id="less than a week of history is refused"),
        pytest.param(hourly([None] * 400), "at least 7 days", id="an all-missing series is refused"),
        pytest.param(pl.DataFrame({"ts": [1, 2]}), "columns ts and y", id="a frame without y is refused"),
    ],
)
def test_bad_history_is_refused_with_a_clear_message(series, message):
    with pytest.raises(InputError, match=message):
        capacity_forecast.seasonal_naive(series, capacity_forecast.ForecastParams())


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"horizon": timedelta(weeks=13)}, id="horizon above 12 weeks"),
        pytest.param({"interval_width": 80}, id="interval width given in percent"),
        pytest.param({"growth": 0}, id="zero growth multiplier"),
        pytest.param({"seasonality_mode": "log"}, id="unknown seasonality mode"),
    ],
)
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(SpecError):
        capacity_forecast.ForecastParams(**kwargs)


def test_seasonal_naive_repeats_the_latest_value_seen_at_each_hour_of_the_week():
    # Two weeks: week 1 = hour index, week 2 = hour index + 1000, except one missing hour,
    # where the baseline falls back to the week before.
    values = [float(i) for i in range(168)] + [float(i + 1000) for i in range(168)]
    values[168 + 5] = None
    out = capacity_forecast.seasonal_naive(hourly(values), capacity_forecast.ForecastParams(horizon=timedelta(days=8)))
    yhat = out["yhat"].to_list()
    assert yhat[0] == 1000.0 and yhat[4] == 1004.0
    assert yhat[5] == 5.0, "missing last week: same hour two weeks ago"
    assert yhat[168] == 1000.0, "beyond one week the last week repeats"


def test_seasonal_naive_interval_follows_fpp3_sigma_sqrt_k_plus_1():
    # Seasonal differences y_t - y_{t-168} are +2 and -2 alternating, so sigma = 2 (RMS);
    # at 80% the normal quantile is 1.2815516; beyond one week k = 1, so the spread grows by sqrt(2).
    week = [100.0] * 168
    second = [100.0 + (2.0 if i % 2 else -2.0) for i in range(168)]
    out = capacity_forecast.seasonal_naive(hourly(week + second), capacity_forecast.ForecastParams(horizon=timedelta(days=14), interval_width=0.8))
    z = 1.2815515655446004
    first, later = out.row(0, named=True), out.row(168, named=True)
    assert first["yhat_upper"] - first["yhat"] == pytest.approx(z * 2.0)
    assert later["yhat_upper"] - later["yhat"] == pytest.approx(z * 2.0 * np.sqrt(2.0))


def test_daily_seasonal_naive_repeats_the_same_hour_yesterday_with_the_fpp3_interval():
    # Eight days: day d holds d * 100 + hour. Yesterday's hour is day 7's; seasonal differences are all
    # +100, so sigma = 100, and from the second day ahead k = 1 (spread x sqrt 2).
    values = [float(d * 100 + h) for d in range(8) for h in range(24)]
    out = capacity_forecast.seasonal_naive_daily(hourly(values), capacity_forecast.ForecastParams(horizon=timedelta(days=2)))
    z = 1.2815515655446004
    assert out["yhat"].to_list()[:3] == [700.0, 701.0, 702.0] and out["yhat"][24] == 700.0
    assert out["yhat_upper"][0] - out["yhat"][0] == pytest.approx(z * 100)
    assert out["yhat_upper"][24] - out["yhat"][24] == pytest.approx(z * 100 * np.sqrt(2.0))


@pytest.mark.parametrize("method", ["ets", "mstl", "theta"])
def test_statsforecast_models_forecast_after_the_history_with_an_interval_at_the_requested_width(method):
    rng = np.random.default_rng(1)
    t = np.arange(21 * 24)
    values = list(50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 2, t.size))
    values[100] = None  # a collection gap is filled, not fatal
    history = hourly(values)
    params = capacity_forecast.ForecastParams(horizon=timedelta(days=2), interval_width=0.8)
    out = capacity_forecast.METHODS[method](history, params)
    assert out.columns == list(capacity_forecast.FORECAST_COLUMNS) and out.height == 48
    assert out["ts"][0] == history["ts"].max() + HOUR
    assert (out["yhat_lower"] <= out["yhat"]).all() and (out["yhat"] <= out["yhat_upper"]).all()
    wider = capacity_forecast.METHODS[method](history, replace(params, interval_width=0.95))
    assert (wider["yhat_upper"] - wider["yhat_lower"] > out["yhat_upper"] - out["yhat_lower"]).all()
    assert abs(out["yhat"][6] - 60) < 5, "06:00 is the daily peak (50 + 10)"


def test_growth_ramps_linearly_from_one_at_the_origin_to_the_multiplier_at_the_horizon():
    flat = hourly([10.0] * 4).rename({"y": "yhat"}).with_columns(yhat_lower=pl.lit(5.0), yhat_upper=pl.lit(20.0))
    grown = capacity_forecast.apply_growth(flat, 2.0, timedelta(hours=4))
    # hour k of 4 after the origin gets factor 1 + (2 - 1) * k / 4
    assert grown["yhat"].to_list() == pytest.approx([12.5, 15.0, 17.5, 20.0])
    assert grown["yhat_upper"].to_list()[-1] == pytest.approx(40.0)
    assert flat["yhat"].to_list() == [10.0] * 4, "the input is not changed"


def test_the_cache_returns_the_same_result_without_refitting_and_applies_growth_after_it(tmp_path):
    series = {"a": hourly([float(i % 24) for i in range(15 * 24)]), "b": hourly([5.0] * (15 * 24))}
    params = capacity_forecast.ForecastParams(horizon=timedelta(days=2))
    seen = []
    cold = capacity_cache.cached_map(capacity_forecast.seasonal_naive, series, params, cache_dir=tmp_path, workers=1, progress=lambda f, m: seen.append(f))
    warm = capacity_cache.cached_map(capacity_forecast.seasonal_naive, series, params, cache_dir=tmp_path, workers=1)
    assert (cold.computed, cold.cached, warm.computed, warm.cached) == (2, 0, 0, 2)
    assert all(cold.results[k].equals(warm.results[k]) for k in series)
    assert cold.results["a"].height == 48 and seen[-1] == 1.0
    grown = capacity_cache.cached_map(capacity_forecast.seasonal_naive, series, replace(params, growth=1.5, horizon=timedelta(days=7)), cache_dir=tmp_path)
    assert (grown.computed, grown.cached) == (0, 2), "growth and horizon are applied after the cache"
    assert grown.results["b"]["yhat"].to_list()[-1] == pytest.approx(7.5)


def test_changed_data_misses_the_cache(tmp_path):
    series = hourly([1.0] * (8 * 24))
    params = capacity_forecast.ForecastParams(horizon=timedelta(days=1))
    capacity_cache.cached_map(capacity_forecast.seasonal_naive, {"a": series}, params, cache_dir=tmp_path)
    changed = series.with_columns(pl.when(pl.col("ts") == pl.col("ts").max()).then(2.0).otherwise(pl.col("y")).alias("y"))
    assert capacity_cache.fingerprint(changed) != capacity_cache.fingerprint(series)
    assert capacity_cache.cached_map(capacity_forecast.seasonal_naive, {"a": changed}, params, cache_dir=tmp_path).computed == 1


def test_parallel_fits_in_two_processes_match_in_process_fits_and_report_errors(tmp_path):
    series = {f"s{i}": hourly([float((j * (i + 1)) % 24) for j in range(8 * 24)]) for i in range(3)}
    series["short"] = hourly([1.0] * 24)
    params = capacity_forecast.ForecastParams(horizon=timedelta(days=1))
    parallel = capacity_cache.cached_map(capacity_forecast.seasonal_naive, series, params, cache_dir=None, workers=2)
    serial = capacity_cache.cached_map(capacity_forecast.seasonal_naive, series, params, cache_dir=None, workers=1)
    assert sorted(parallel.results) == ["s0", "s1", "s2"]
    assert "at least 7 days" in parallel.errors["short"]
    assert all(parallel.results[k].equals(serial.results[k]) for k in parallel.results)


def test_a_series_too_short_to_fit_is_remembered_not_refitted_on_every_visit(tmp_path):
    short = {"short": hourly([1.0] * 24)}
    params = capacity_forecast.ForecastParams(horizon=timedelta(days=1))
    first = capacity_cache.cached_map(capacity_forecast.seasonal_naive, short, params, cache_dir=tmp_path)
    again = capacity_cache.cached_map(capacity_forecast.seasonal_naive, short, params, cache_dir=tmp_path)
    assert (first.computed, again.computed, again.cached) == (1, 0, 1)
    assert again.errors == first.errors and "at least 7 days" in again.errors["short"]
    assert capacity_cache.is_cached("short", capacity_forecast.seasonal_naive, short["short"], params, tmp_path)


def test_an_isolated_single_fit_runs_in_a_worker_process_with_the_same_result(tmp_path):
    """A server thread fits in a subprocess (isolate) even for one series, and gets what an in-process fit gets."""
    series = {"a": hourly([float(i % 24) for i in range(8 * 24)])}
    params = capacity_forecast.ForecastParams(horizon=timedelta(days=1))
    isolated = capacity_cache.cached_map(capacity_forecast.seasonal_naive, series, params, cache_dir=None, workers=2, isolate=True)
    local = capacity_cache.cached_map(capacity_forecast.seasonal_naive, series, params, cache_dir=None, workers=1)
    assert isolated.results["a"].equals(local.results["a"])
