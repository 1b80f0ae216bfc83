"""Cached loaders for the Capacity page (the only place st.cache_data appears for forecasts).

Each loader wraps one step of analytics.capacity.pipeline, the same steps the `forecast`
command runs, so the page and the command give the same numbers for the same window. Two cache
layers: fits live on disk under .data/forecast-cache (analytics.capacity.cache, keyed by
deployment, data fingerprint and fit parameters, shared with the command line), and
st.cache_data keeps this session's results keyed by plain values. Growth, horizon and headroom
are applied after the fit, so moving those controls never refits.

Nobody waits for the fits: `analytics demo` backtests and fits the default scenario (method auto:
each deployment's model chosen by backtest) ahead of the first visit
(analytics.capacity.pipeline.warm), and backtests and fits the disk cache lacks run in one
background thread per server process (worker subprocesses under it) while the page shows
seasonal-naive forecasts for those deployments and says so; it reruns itself when they are in.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import polars as pl
import streamlit as st

from analytics.capacity import backtest as capacity_backtest
from analytics.capacity import cache as capacity_cache
from analytics.capacity import forecast as capacity_forecast
from analytics.capacity import pipeline as capacity_pipeline
from analytics.capacity import plan as capacity_plan
from analytics.capacity import selection as capacity_selection
from analytics.errors import InputError, SpecError
from analytics.review import verdicts as review_verdicts
from analytics.store import queries
from ui import slo as slo_ui
from ui.connection import get_store

TTL_S = 300
METHOD_LABELS = {capacity_pipeline.AUTO: "Chosen by backtest", **capacity_forecast.MODEL_LABELS}


@dataclass(frozen=True)
class Scenario:
    """The page's controls as plain values (hashable, so usable as cache keys)."""

    start: datetime
    end: datetime
    regions: tuple[str, ...]
    names: tuple[str, ...]
    metric: str
    method: str
    interval: float
    events: tuple[tuple[str, str, int], ...]
    weeks: int
    growth: float
    headroom: float

    def params(self) -> capacity_forecast.ForecastParams:
        """The forecast parameters of this scenario."""
        return capacity_forecast.ForecastParams(
            horizon=timedelta(weeks=self.weeks), interval_width=self.interval, growth=self.growth,
            events=tuple(capacity_forecast.Event(n, date.fromisoformat(d), k) for n, d, k in self.events),
        )


def default_scenario(start: datetime, end: datetime, regions: tuple, names: tuple) -> Scenario:
    """The Capacity page's scenario before anyone moves a control (the Overview judges capacity by it)."""
    return Scenario(start, end, regions, names, capacity_pipeline.DEFAULT_METRIC, capacity_pipeline.DEFAULT_METHOD, capacity_pipeline.DEFAULT_INTERVAL, (),
                    capacity_pipeline.DEFAULT_WEEKS, 1.0, capacity_pipeline.DEFAULT_HEADROOM)


def shortages(assessment: capacity_plan.Assessment, end: datetime) -> list[review_verdicts.Verdict]:
    """Capacity verdicts of the deployments short now or within the horizon, worst first."""
    return review_verdicts.shortfalls(review_verdicts.capacity_verdict(o, end) for o in assessment.outlooks.values())


def default_deployment(assessment: capacity_plan.Assessment, outlooks: pl.DataFrame, end: datetime, names: tuple) -> str:
    """The deployment the page details first: the worst short one, else the first to run out of capacity,
    else the first."""
    short = shortages(assessment, end)
    running_out = outlooks.filter(pl.col("capacity_exhausted_at").is_not_null()).sort("capacity_exhausted_at")
    return short[0].name if short else (running_out["deployment"][0] if running_out.height else names[0])


def parse_events(text: str) -> tuple[tuple[str, str, int], ...]:
    """Lines 'name, YYYY-MM-DD[, days]' -> ((name, iso date, days), ...); InputError names the line."""
    events = []
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            if len(parts) not in (2, 3):
                raise ValueError("expected 'name, YYYY-MM-DD[, days]'")
            event = capacity_forecast.Event(parts[0], date.fromisoformat(parts[1]), int(parts[2]) if len(parts) == 3 else 1)
        except (ValueError, SpecError) as exc:
            raise InputError(f"event line {number} ({line.strip()!r}): {exc}") from None
        events.append((event.name, event.start.isoformat(), event.days))
    return tuple(events)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def deployments() -> pl.DataFrame:
    """The deployments table."""
    return queries.deployments_table(get_store())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def demand(start: datetime, end: datetime, regions: tuple) -> pl.DataFrame:
    """Hourly demand per deployment, gaps explicit (analytics.capacity.demand)."""
    return capacity_pipeline.hourly_demand(get_store(), start, end, regions)


def _histories(s: Scenario) -> dict[str, pl.DataFrame]:
    return capacity_pipeline.histories(demand(s.start, s.end, s.regions), s.names, s.metric)


@dataclass
class Background:
    """Fits running behind the page: one thread per server process, jobs keyed by what they fit."""

    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="fits"))
    jobs: dict[tuple, Future] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    finished: int = 0  # jobs done so far: results judged before a fit landed are keyed on it

    def submit(self, key: tuple, fn, *args) -> None:
        """Start fn(*args) unless the same job is queued or running."""
        with self.lock:
            job = self.jobs.get(key)
            started = job is None or job.done()
            if started:
                job = self.jobs[key] = self.pool.submit(fn, *args)
        if started:  # outside the lock: a job already done calls back at once, in this thread
            job.add_done_callback(self._count)

    def _count(self, _job: Future) -> None:
        with self.lock:
            self.finished += 1

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job submitted so far is done (for scripts and tests)."""
        with self.lock:
            jobs = list(self.jobs.values())
        for job in jobs:
            job.result(timeout)

    def busy(self) -> bool:
        """True while any job is queued or running."""
        with self.lock:
            return any(not job.done() for job in self.jobs.values())


@st.cache_resource
def background() -> Background:
    """This server process's background fitter (shared by every session)."""
    return Background()


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=64)
def _forecasts(s: Scenario) -> tuple[dict, dict, dict]:
    fits, chosen = capacity_pipeline.planned(s.method, _histories(s), s.params(), capacity_cache.DEFAULT_CACHE_DIR)
    return fits.results, fits.errors, chosen


def plan(s: Scenario) -> tuple[dict, dict, tuple[str, ...], dict[str, capacity_selection.Selection]]:
    """Forecasts, errors, deployments still fitting (backtests or fits running in the background, shown
    meanwhile with the seasonal-naive forecast, which is instant) and the selections of the others."""
    histories, params = _histories(s), s.params()
    if s.method in capacity_forecast.NAIVE_METHODS:
        return *_forecasts(s)[:2], (), {}
    ready = capacity_pipeline.cached_plans(s.method, histories, params, capacity_cache.DEFAULT_CACHE_DIR)
    missing = tuple(n for n in s.names if n not in ready)
    if not missing:
        results, errors, chosen = _forecasts(s)
        return results, errors, (), chosen
    background().submit(("forecasts", s), capacity_pipeline.planned, s.method, {n: histories[n] for n in missing},
                        params, capacity_cache.DEFAULT_CACHE_DIR, 2, None, True)
    done = tuple(n for n in s.names if n in ready)
    results, errors, chosen = _forecasts(replace(s, names=done)) if done else ({}, {}, {})
    naive, naive_errors, _ = _forecasts(replace(s, names=missing, method="seasonal_naive"))
    return {**results, **naive}, {**errors, **naive_errors}, missing, chosen


@st.cache_data(ttl=TTL_S, show_spinner="Measuring SLO-compliant throughput…")
def throughputs(start: datetime, end: datetime, regions: tuple, names: tuple, metric: str,
                slo_file: tuple[str, str]) -> dict:
    """SLO-compliant throughput per GPU for each deployment, judged by its objectives."""
    hours = capacity_pipeline.hourly_histograms(get_store(), start, end, names, regions)
    return capacity_plan.measure_all(hours, deployments(), slo_ui.objectives(slo_file), metric, names)


def assessment(s: Scenario, slo_file: tuple[str, str]) -> tuple[capacity_plan.Assessment, dict, dict, tuple[str, ...],
                                                                 dict[str, capacity_selection.Selection]]:
    """(capacity assessment, forecasts, forecast errors, deployments still fitting, the selections of
    the others (method auto)): the plan is read once; the cheap last step is not cached."""
    results, errors, fitting, chosen = plan(s)
    tps = throughputs(s.start, s.end, s.regions, s.names, s.metric, slo_file)
    return capacity_plan.assess(results, tps, deployments(), s.headroom), results, errors, fitting, chosen


def selection(s: Scenario, name: str) -> capacity_selection.Selection | None:
    """One deployment's backtest of every model and the model it selects (whatever the method shown);
    None while the backtest runs in the background (its Prophet folds take seconds)."""
    one = replace(s, names=(name,), method=capacity_pipeline.AUTO, growth=1.0, headroom=0.0)
    history = _histories(one)[name]
    if not capacity_cache.is_cached(name, capacity_backtest.candidates_observed, history,
                                    capacity_pipeline.backtest_params(one.params()), capacity_cache.DEFAULT_CACHE_DIR):
        background().submit(("selection", one), capacity_pipeline.selections, {name: history}, one.params(),
                            capacity_cache.DEFAULT_CACHE_DIR, 1, None, True)
        return None
    return _selection(one)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=64)
def _selection(one: Scenario) -> capacity_selection.Selection:
    return capacity_pipeline.selections(_histories(one), one.params(), capacity_cache.DEFAULT_CACHE_DIR, workers=1)[one.names[0]]


def models(s: Scenario, fitting: tuple[str, ...], chosen: dict[str, capacity_selection.Selection]) -> dict[str, str]:
    """Per deployment, the label of the model its plan shows now (the seasonal naive while fitting)."""
    return {name: "Seasonal naive, meanwhile" if name in fitting else
            capacity_forecast.MODEL_LABELS[chosen[name].winner if name in chosen else s.method] for name in s.names}


def baseline(s: Scenario, name: str) -> pl.DataFrame | None:
    """The seasonal-naive forecast of one deployment for the overlay."""
    other = Scenario(**{**s.__dict__, "method": "seasonal_naive", "names": (name,)})
    return _forecasts(other)[0].get(name)  # seasonal naive: instant, never in the background


def actuals(s: Scenario, name: str) -> pl.DataFrame:
    """One deployment's hourly history (ts, y) for the chart."""
    return _histories(Scenario(**{**s.__dict__, "names": (name,)}))[name]


def clear() -> None:
    """Forget this session's cached results (the disk cache stays)."""
    for fn in (deployments, demand, slo_ui.objectives, _forecasts, throughputs, _selection):
        fn.clear()
