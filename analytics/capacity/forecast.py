"""Demand forecasts: the ONE Prophet adapter, the seasonal-naive baselines (same hour last week,
same hour yesterday) and the statsforecast models (AutoETS, MSTL, AutoTheta).

Frames in and out are polars with a timezone-aware UTC ``ts`` column; the timezone is removed
only at the Prophet boundary (Prophet wants naive pandas timestamps). A forecast frame has
``ts, yhat, yhat_lower, yhat_upper`` for the future steps after the last history row.
Caching and parallel fits live in analytics.capacity.cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import polars as pl

from analytics.errors import InputError, SpecError

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
MAX_HORIZON = timedelta(weeks=12)
MIN_HISTORY = timedelta(days=7)  # one weekly cycle: the floor Prophet's cross_validation puts on initial
FORECAST_COLUMNS = ("ts", "yhat", "yhat_lower", "yhat_upper")


@dataclass(frozen=True)
class Event:
    """A known event (launch, holiday) modelled as a Prophet holiday of whole UTC days."""

    name: str
    start: date
    days: int = 1

    def __post_init__(self):
        if not self.name.strip():
            raise SpecError("an event needs a name")
        if self.days < 1:
            raise SpecError(f"event {self.name!r}: days must be >= 1, got {self.days}")


@dataclass(frozen=True)
class ForecastParams:
    """Everything that shapes a forecast; ``growth`` is applied after the (cached) fit."""

    horizon: timedelta = timedelta(days=14)
    interval_width: float = 0.8
    events: tuple[Event, ...] = ()
    growth: float = 1.0  # demand multiplier reached at the end of the horizon (linear ramp)
    seasonality_mode: str = "multiplicative"
    uncertainty_samples: int = 1000
    seed: int = 0

    def __post_init__(self):
        if not timedelta(0) < self.horizon <= MAX_HORIZON:
            raise SpecError(f"horizon must be between 1 hour and 12 weeks, got {self.horizon}")
        if not 0.0 < self.interval_width < 1.0:
            raise SpecError(f"interval width must be in (0, 1), got {self.interval_width}")
        if not 0.0 < self.growth <= 10.0:
            raise SpecError(f"growth multiplier must be in (0, 10], got {self.growth}")
        if self.uncertainty_samples < 0:
            raise SpecError(f"uncertainty samples must be >= 0, got {self.uncertainty_samples}")
        if self.seasonality_mode not in ("additive", "multiplicative"):
            raise SpecError(f"seasonality mode must be additive or multiplicative, got {self.seasonality_mode!r}")

    def fit_key(self) -> dict:
        """The parameters that change a fit (all but growth), as plain JSON-able values."""
        d = asdict(replace(self, growth=1.0))
        d["horizon"] = self.horizon.total_seconds()
        d["events"] = [[e.name, e.start.isoformat(), e.days] for e in self.events]
        return d


def series_step(history: pl.DataFrame) -> timedelta:
    """The sampling step of a series: the median spacing of its timestamps."""
    diffs = history["ts"].diff().drop_nulls()
    if diffs.is_empty():
        raise InputError("a forecast needs at least two history rows")
    step = diffs.median()
    assert isinstance(step, timedelta)
    if step <= timedelta(0) or WEEK % step:
        raise InputError(f"the series step {step} does not divide a week; resample it first")
    return step


def check_history(history: pl.DataFrame) -> pl.DataFrame:
    """Validate a (ts, y) frame: UTC-aware ts, enough non-null history; return it sorted."""
    missing = {"ts", "y"} - set(history.columns)
    if missing:
        raise InputError(f"history needs columns ts and y; missing {sorted(missing)}")
    dtype = history.schema["ts"]
    if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
        raise InputError("history ts must be a timezone-aware datetime (UTC)")
    frame = history.select(
        pl.col("ts").dt.convert_time_zone("UTC").dt.cast_time_unit("us"), pl.col("y").cast(pl.Float64).fill_nan(None)
    ).sort("ts")
    known = frame.drop_nulls("y")
    # The span covered: first to last known row plus one step (168 hourly rows cover 7 days).
    span = known["ts"].max() - known["ts"].min() + series_step(frame) if known.height >= 2 else timedelta(0)
    if span < MIN_HISTORY:
        raise InputError(f"a forecast needs at least {MIN_HISTORY.days} days of data, got {span}")
    return frame


def _future(last, step: timedelta, horizon: timedelta) -> pl.Series:
    """The future timestamps after `last`, one per step, up to `last + horizon`."""
    n = int(horizon / step)
    return pl.datetime_range(last + step, last + n * step, step, time_unit="us", time_zone="UTC", eager=True)


def trim(forecast: pl.DataFrame, horizon: timedelta) -> pl.DataFrame:
    """The first ``horizon`` of a forecast frame."""
    if forecast.height < 2:
        return forecast
    return forecast.head(int(horizon / series_step(forecast)))


def apply_growth(forecast: pl.DataFrame, multiplier: float, horizon: timedelta) -> pl.DataFrame:
    """Scale a forecast by a growth scenario: x1 at the origin ramping linearly to x`multiplier`."""
    if multiplier == 1.0 or forecast.is_empty():
        return forecast
    origin = forecast["ts"].min() - series_step(forecast) if forecast.height > 1 else forecast["ts"].min()
    frac = ((pl.col("ts") - origin).dt.total_seconds() / horizon.total_seconds()).clip(0.0, 1.0)
    factor = 1.0 + (multiplier - 1.0) * frac
    return forecast.with_columns((pl.col(c) * factor).alias(c) for c in FORECAST_COLUMNS[1:])


def _silence_prophet() -> None:
    # Setting cmdstanpy's level is not enough (it re-adds a handler); disabling the logger works.
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").disabled = True


def prophet_forecast(history: pl.DataFrame, params: ForecastParams) -> pl.DataFrame:
    """Fit a fresh Prophet model to a (ts, y) series and forecast ``params.horizon`` ahead.

    Daily seasonality is on for sub-daily data, weekly always, yearly on Prophet's 'auto' rule;
    events become Prophet holidays (their effect is learned from occurrences in the history).
    Forecasts are clipped at 0 (demand is never negative). Reproducible: numpy's global random
    state, which Prophet's uncertainty sampling draws from, is seeded and then restored.
    """
    frame = check_history(history)
    step = series_step(frame)
    from prophet import Prophet  # lazy: prophet and its Stan backend take ~1 s to import

    _silence_prophet()
    holidays = None
    if params.events:
        import pandas as pd  # only at the prophet boundary

        holidays = pd.DataFrame(
            {
                "holiday": [e.name for e in params.events],
                "ds": pd.to_datetime([e.start for e in params.events]),
                "lower_window": 0,
                "upper_window": [e.days - 1 for e in params.events],
            }
        )
    train = (
        frame.drop_nulls("y")
        .select(pl.col("ts").dt.replace_time_zone(None).alias("ds"), "y")
        .to_pandas()
    )
    future = pl.DataFrame({"ts": _future(frame["ts"].max(), step, params.horizon)})
    state = np.random.get_state()
    np.random.seed(params.seed)
    try:
        model = Prophet(
            daily_seasonality=step < timedelta(days=1),
            weekly_seasonality=True,
            yearly_seasonality="auto",
            seasonality_mode=params.seasonality_mode,
            interval_width=params.interval_width,
            uncertainty_samples=params.uncertainty_samples,
            holidays=holidays,
        )
        model.fit(train)
        predicted = model.predict(future.select(pl.col("ts").dt.replace_time_zone(None).alias("ds")).to_pandas())
    finally:
        np.random.set_state(state)
    if params.uncertainty_samples == 0:  # no sampling, no interval: the band collapses to yhat
        predicted = predicted.assign(yhat_lower=predicted["yhat"], yhat_upper=predicted["yhat"])
    out = pl.from_pandas(predicted[["yhat", "yhat_lower", "yhat_upper"]])
    out = pl.concat([future, out], how="horizontal").with_columns(pl.col(FORECAST_COLUMNS[1:]).clip(lower_bound=0.0))
    return apply_growth(out, params.growth, params.horizon)


def regular_grid(frame: pl.DataFrame, step: timedelta) -> pl.DataFrame:
    """The series on a regular step grid from its first to last timestamp (missing y = null)."""
    ts = pl.datetime_range(frame["ts"].min(), frame["ts"].max(), step, time_unit="us", time_zone="UTC", eager=True)
    return pl.DataFrame({"ts": ts}).join(frame, on="ts", how="left")


def _seasonal_naive(history: pl.DataFrame, params: ForecastParams, season: timedelta) -> pl.DataFrame:
    """Seasonal-naive forecast: the value at the same time one season earlier (latest season seen).

    Intervals follow Hyndman & Athanasopoulos, FPP3 section 5.5: sigma_h = sigma * sqrt(k + 1)
    with k = floor((h - 1) / m), m = one season in steps, sigma the RMS of in-sample seasonal
    differences, normal quantiles for ``params.interval_width``.
    """
    frame = check_history(history)
    step = series_step(frame)
    m = int(season / step)
    grid = regular_grid(frame, step)
    n = grid.height
    y = grid["y"].to_numpy().astype(np.float64)  # nulls become NaN
    template = np.full(m, np.nan)
    for phase in range(m):  # latest observed value at each position of the season
        values = y[phase::m]
        values = values[~np.isnan(values)]
        if values.size:
            template[(phase - n) % m] = values[-1]
    diffs = y[m:] - y[:-m]
    diffs = diffs[~np.isnan(diffs)]
    sigma = float(np.sqrt(np.mean(diffs**2))) if diffs.size else float("nan")
    z = NormalDist().inv_cdf(0.5 + params.interval_width / 2.0)
    future = _future(frame["ts"].max(), step, params.horizon)
    h = np.arange(1, future.len() + 1)
    yhat = template[(h - 1) % m]
    spread = z * sigma * np.sqrt(np.floor((h - 1) / m) + 1.0)
    out = pl.DataFrame(
        {
            "ts": future,
            "yhat": yhat,
            "yhat_lower": np.maximum(yhat - spread, 0.0),
            "yhat_upper": yhat + spread,
        }
    ).with_columns(pl.col(FORECAST_COLUMNS[1:]).fill_nan(None))
    return apply_growth(out, params.growth, params.horizon)


def seasonal_naive(history: pl.DataFrame, params: ForecastParams) -> pl.DataFrame:
    """Weekly seasonal naive: the same hour last week (see _seasonal_naive)."""
    return _seasonal_naive(history, params, WEEK)


def seasonal_naive_daily(history: pl.DataFrame, params: ForecastParams) -> pl.DataFrame:
    """Daily seasonal naive: the same hour yesterday (see _seasonal_naive); needs sub-daily data."""
    if series_step(check_history(history)) >= DAY:
        raise InputError("a daily seasonal-naive forecast needs data finer than a day")
    return _seasonal_naive(history, params, DAY)


def _filled(frame: pl.DataFrame, step: timedelta) -> np.ndarray:
    """The series on its regular grid with gaps filled linearly between neighbours (edges: the
    nearest value), since the statsforecast models need a gapless series (Nixtla's guidance:
    fill missing values before fitting; linear interpolation as in FPP3 section 13.9's simplest repair)."""
    grid = regular_grid(frame, step)
    return grid["y"].interpolate().fill_null(strategy="forward").fill_null(strategy="backward").to_numpy().astype(np.float64)


def _statsforecast(history: pl.DataFrame, params: ForecastParams, build: Callable) -> pl.DataFrame:
    """Fit a statsforecast model made by ``build(day_steps, week_steps)`` and forecast ``params.horizon``
    ahead with its own prediction interval at ``params.interval_width`` (statsforecast's ``level=``).
    Forecasts and bounds are clipped at 0 like Prophet's."""
    frame = check_history(history)
    step = series_step(frame)
    y = _filled(frame, step)
    day, week = max(int(DAY / step), 1), int(WEEK / step)
    future = _future(frame["ts"].max(), step, params.horizon)
    level = round(params.interval_width * 100, 6)
    predicted = build(day, week).forecast(y=y, h=future.len(), level=[level])
    lower = next(v for k, v in predicted.items() if k.startswith("lo-"))
    upper = next(v for k, v in predicted.items() if k.startswith("hi-"))
    out = pl.DataFrame({"ts": future, "yhat": predicted["mean"], "yhat_lower": lower, "yhat_upper": upper})
    out = out.with_columns(pl.col(FORECAST_COLUMNS[1:]).cast(pl.Float64).fill_nan(None).clip(lower_bound=0.0))
    return apply_growth(out, params.growth, params.horizon)


def _ets(day: int, week: int):
    from statsforecast.models import AutoETS  # lazy: statsforecast imports numba and scipy

    # Hyndman et al. (2008) state-space ETS, error and trend selected by AICc, with an additive daily
    # season (statsforecast's ETS treats seasons over 24 as non-seasonal). The season is fixed: left to
    # AICc, hourly demand often got a non-seasonal ETS(M,A,N) whose trend, extrapolated a week, runs away.
    return AutoETS(season_length=day if day > 1 else week, model="ZZA")


def _mstl(day: int, week: int):
    from statsforecast.models import MSTL

    # Bandara, Hyndman & Bergmeir (2021): STL for each season in turn (daily, then weekly), the
    # seasonally adjusted rest forecast by AutoETS without season (statsforecast's default trend model).
    return MSTL(season_length=[m for m in (day, week) if m > 1])


def _theta(day: int, week: int):
    from statsforecast.models import AutoTheta

    # Assimakopoulos & Nikolopoulos (2000) Theta, variant chosen by in-sample MSE (Fiorucci et al. 2016),
    # classical multiplicative deseasonalising when the daily season tests significant.
    return AutoTheta(season_length=day if day > 1 else week)


def ets_forecast(history: pl.DataFrame, params: ForecastParams) -> pl.DataFrame:
    """AutoETS (statsforecast) forecast with its interval."""
    return _statsforecast(history, params, _ets)


def mstl_forecast(history: pl.DataFrame, params: ForecastParams) -> pl.DataFrame:
    """MSTL with daily and weekly seasons (statsforecast) forecast with its interval."""
    return _statsforecast(history, params, _mstl)


def theta_forecast(history: pl.DataFrame, params: ForecastParams) -> pl.DataFrame:
    """AutoTheta (statsforecast) forecast with its interval."""
    return _statsforecast(history, params, _theta)


METHODS: dict[str, Callable[[pl.DataFrame, ForecastParams], pl.DataFrame]] = {
    "prophet": prophet_forecast,
    "seasonal_naive": seasonal_naive,
    "seasonal_naive_daily": seasonal_naive_daily,
    "ets": ets_forecast,
    "mstl": mstl_forecast,
    "theta": theta_forecast,
}
NAIVE_METHODS = ("seasonal_naive", "seasonal_naive_daily")  # the baselines a model must beat
MODEL_LABELS = {  # short: a table column and a chart legend show them (same hour last week / yesterday)
    "prophet": "Prophet",
    "seasonal_naive": "Seasonal naive, last week",
    "seasonal_naive_daily": "Seasonal naive, yesterday",
    "ets": "AutoETS",
    "mstl": "MSTL",
    "theta": "AutoTheta",
}
