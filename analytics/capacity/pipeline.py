"""Capacity planning as one pipeline: demand -> forecasts -> SLO-compliant throughput -> GPUs needed.

The command line (``forecast``), the Capacity page and the bench all run these steps; the page
wraps each in Streamlit's cache, the command line and the bench call :func:`run`. So for the
same window, SLO file and parameters they compute the same numbers:

1. the window: whole hours of up to HISTORY ending at the end of the data (``window``);
2. hourly demand per deployment with the gap rule (analytics.capacity.demand);
3. forecasts per deployment, cached on disk and fitted in parallel (analytics.capacity.cache); with
   the method "auto" (the default) each deployment's model is chosen by a rolling-origin backtest of
   every candidate (analytics.capacity.selection), backtests cached like fits;
4. each deployment's objectives (analytics.slo.objectives) and its SLO-compliant throughput per
   GPU, judged hour by hour (analytics.capacity.plan.measure_all);
5. GPUs needed, exhaustion dates and the fleet by GPU type and week (analytics.capacity.plan.assess);
6. optionally, a rolling-origin backtest per deployment sized to its observed data
   (analytics.capacity.backtest.backtest_observed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from analytics.capacity import backtest as capacity_backtest
from analytics.capacity import cache as capacity_cache
from analytics.capacity import demand as capacity_demand
from analytics.capacity import forecast as capacity_forecast
from analytics.capacity import plan as capacity_plan
from analytics.capacity import selection as capacity_selection
from analytics.errors import InputError
from analytics.slo.objectives import objectives_by_deployment
from analytics.slo.spec import Slo
from analytics.store import capacity as capacity_queries
from analytics.store import queries
from analytics.store.client import Store

HISTORY = timedelta(days=60)  # at most this much history is fitted
# The Capacity page's default scenario (what `warm` fits ahead of the first visit).
DEFAULT_WEEKS = 2
DEFAULT_INTERVAL = 0.8
DEFAULT_METRIC = "rps"
AUTO = "auto"  # the method that picks each series' model by backtest
DEFAULT_METHOD = AUTO
DEFAULT_HEADROOM = 0.2


def window(data_start: datetime, data_end: datetime, history: timedelta = HISTORY) -> tuple[datetime, datetime]:
    """Whole UTC hours of up to ``history`` ending at ``data_end``, not before ``data_start``."""
    return capacity_demand.hour_range(max(data_start, data_end - history), data_end)


def hourly_demand(store: Store, start: datetime, end: datetime, regions: Sequence[str] = ()) -> pl.DataFrame:
    """Hourly demand per deployment in [start, end), gaps explicit (analytics.capacity.demand)."""
    first, last = capacity_demand.hour_range(start, end)
    counts = queries.request_counts(store, first, last, int(capacity_demand.HOUR.total_seconds()), None, list(regions))
    return capacity_demand.demand_from_counts(counts, first, last)


def histories(demand: pl.DataFrame, names: Sequence[str], metric: str) -> dict[str, pl.DataFrame]:
    """Per deployment, its (ts, y) series of the demand metric."""
    return {name: capacity_demand.series(demand, name, metric) for name in names}


def hourly_histograms(store: Store, start: datetime, end: datetime, names: Sequence[str],
                      regions: Sequence[str] = ()) -> pl.DataFrame:
    """Per (deployment, hour): counts, latency histograms and mean SM activity (the throughput input)."""
    return capacity_queries.hourly_histograms(store, start, end, list(names), list(regions))


def forecasts(method: str, series: dict[str, pl.DataFrame], params: capacity_forecast.ForecastParams, cache_dir: Path | None,
              workers: int = 2, progress: capacity_cache.Progress | None = None, isolate: bool = False) -> capacity_cache.Fits:
    """Forecast every series with one model of analytics.capacity.forecast.METHODS, from the disk cache
    when possible (``isolate``: fit only in worker subprocesses, see analytics.capacity.cache.cached_map)."""
    if method not in capacity_forecast.METHODS:
        raise InputError(f"forecast method must be one of {sorted(capacity_forecast.METHODS)}, got {method!r}")
    return capacity_cache.cached_map(capacity_forecast.METHODS[method], series, params, cache_dir=cache_dir, workers=workers,
                         progress=progress, isolate=isolate)


def backtest_params(params: capacity_forecast.ForecastParams) -> capacity_backtest.BacktestParams:
    """The backtest template of a forecast's parameters (folds are sized per series later). Folds reach
    at most a week (capacity_backtest.auto_params), so horizons past a week share one cached backtest."""
    return capacity_backtest.BacktestParams(horizon=min(params.horizon, capacity_forecast.WEEK), forecast=params)


def backtests(series: dict[str, pl.DataFrame], params: capacity_forecast.ForecastParams, cache_dir: Path | None,
              workers: int = 2, progress: capacity_cache.Progress | None = None, isolate: bool = False) -> capacity_cache.Fits:
    """Rolling-origin backtest folds (Prophet vs weekly seasonal naive) per series, sized to each
    series' observed span."""
    return capacity_cache.cached_map(capacity_backtest.backtest_observed, series, backtest_params(params), cache_dir=cache_dir,
                         workers=workers, progress=progress, isolate=isolate)


def selections(series: dict[str, pl.DataFrame], params: capacity_forecast.ForecastParams, cache_dir: Path | None,
               workers: int = 2, progress: capacity_cache.Progress | None = None,
               isolate: bool = False) -> dict[str, capacity_selection.Selection]:
    """Per series, the model chosen by backtesting every candidate on the same folds (at most
    BacktestParams.max_cutoffs folds: that many Prophet fits per series, plus its final fit if it wins).
    A series too short to backtest keeps the weekly seasonal naive, saying why."""
    folds = capacity_cache.cached_map(capacity_backtest.candidates_observed, series, backtest_params(params),
                                      cache_dir=cache_dir, workers=workers, progress=progress, isolate=isolate)
    return {name: capacity_selection.select(folds.results[name]) if name in folds.results
            else capacity_selection.unscored(folds.errors[name]) for name in series}


def cached_plans(method: str, series: dict[str, pl.DataFrame], params: capacity_forecast.ForecastParams,
                 cache_dir: Path | None) -> dict[str, capacity_selection.Selection | None]:
    """The series whose plan ``planned`` would read from the disk cache without fitting, each with its
    selection (None for an explicit method); nothing is fitted here."""
    if method != AUTO:
        fn = capacity_forecast.METHODS[method]
        return {name: None for name, history in series.items() if capacity_cache.is_cached(name, fn, history, params, cache_dir)}
    backtested = {name: history for name, history in series.items() if capacity_cache.is_cached(
        name, capacity_backtest.candidates_observed, history, backtest_params(params), cache_dir)}
    chosen = selections(backtested, params, cache_dir, workers=1) if backtested else {}
    return {name: pick for name, pick in chosen.items() if capacity_cache.is_cached(
        name, capacity_forecast.METHODS[pick.winner], series[name], params, cache_dir)}


def planned(method: str, series: dict[str, pl.DataFrame], params: capacity_forecast.ForecastParams, cache_dir: Path | None,
            workers: int = 2, progress: capacity_cache.Progress | None = None,
            isolate: bool = False) -> tuple[capacity_cache.Fits, dict[str, capacity_selection.Selection]]:
    """The forecasts a plan uses and, for ``auto``, each series' selection (empty for an explicit
    method): with ``auto`` the backtests run first, then each series is forecast by its winner."""
    if method != AUTO:
        return forecasts(method, series, params, cache_dir, workers, progress, isolate), {}
    t0 = time.perf_counter()
    chosen = selections(series, params, cache_dir, workers, progress, isolate)
    fits = capacity_cache.Fits()
    for model in capacity_forecast.METHODS:
        group = {name: history for name, history in series.items() if chosen[name].winner == model}
        if group:
            part = forecasts(model, group, params, cache_dir, workers, progress, isolate)
            fits.results |= part.results
            fits.errors |= part.errors
            fits.cached += part.cached
            fits.computed += part.computed
    fits.seconds = time.perf_counter() - t0  # backtests and final fits
    return fits, chosen


def default_params(weeks: int = DEFAULT_WEEKS, interval: float = DEFAULT_INTERVAL) -> capacity_forecast.ForecastParams:
    """Forecast parameters of the page's default scenario (no growth, no events)."""
    return capacity_forecast.ForecastParams(horizon=timedelta(weeks=weeks), interval_width=interval)


def warm(store: Store, cache_dir: Path, workers: int = 2, progress: capacity_cache.Progress | None = None,
         method: str = DEFAULT_METHOD) -> capacity_cache.Fits:
    """Fit the default scenario (every deployment, every region, the whole data window) into the
    disk cache (with ``auto``, the backtests and the winners' fits), so the Capacity page opens on
    cached plans instead of waiting for the fits."""
    span = queries.data_range(store)
    if span is None:
        return capacity_cache.Fits()
    start, end = window(span[0], span[1])
    names = queries.deployments_table(store)["deployment"].to_list()
    series = histories(hourly_demand(store, start, end), names, DEFAULT_METRIC)
    return planned(method, series, default_params(), cache_dir, workers, progress)[0]


@dataclass(frozen=True)
class Request:
    """What to plan: the window, deployments, demand metric, forecast method and parameters."""

    start: datetime
    end: datetime
    names: tuple[str, ...]
    metric: str = "rps"
    method: str = DEFAULT_METHOD
    params: capacity_forecast.ForecastParams = field(default_factory=capacity_forecast.ForecastParams)
    headroom: float = 0.2
    regions: tuple[str, ...] = ()


@dataclass
class Result:
    """Everything a capacity plan computed."""

    request: Request
    fits: capacity_cache.Fits
    throughputs: dict[str, capacity_plan.Throughput]
    assessment: capacity_plan.Assessment
    backtests: dict[str, capacity_backtest.BacktestSummary] = field(default_factory=dict)
    backtest_errors: dict[str, str] = field(default_factory=dict)
    selections: dict[str, capacity_selection.Selection] = field(default_factory=dict)

    def model(self, name: str) -> str:
        """The model that drives a deployment's plan (the winner with ``auto``)."""
        chosen = self.selections.get(name)
        return chosen.winner if chosen else self.request.method


def run(store: Store, request: Request, slos: Sequence[Slo], *, cache_dir: Path | None, workers: int = 2,
        with_backtests: bool = False, progress: Callable[[str], capacity_cache.Progress] | None = None) -> Result:
    """Every step for the requested deployments; ``progress`` maps a step label to a callback."""
    deployments = queries.deployments_table(store)
    demand = hourly_demand(store, request.start, request.end, request.regions)
    series = histories(demand, request.names, request.metric)
    fits, chosen = planned(request.method, series, request.params, cache_dir, workers,
                           progress("forecast") if progress else None)
    hours = hourly_histograms(store, request.start, request.end, request.names, request.regions)
    throughputs = capacity_plan.measure_all(hours, deployments, objectives_by_deployment(deployments, slos), request.metric, request.names)
    assessment = capacity_plan.assess(fits.results, throughputs, deployments, request.headroom)
    result = Result(request, fits, throughputs, assessment, selections=chosen)
    if with_backtests:
        folds = backtests(series, request.params, cache_dir, workers, progress("backtest") if progress else None)
        result.backtests = {name: capacity_backtest.summarize(frame) for name, frame in folds.results.items()}
        result.backtest_errors = folds.errors
    return result
