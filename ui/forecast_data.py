"""Cached loaders for the Capacity page (the only place st.cache_data appears for forecasts).

Two cache layers: Prophet fits live on disk under .data/forecast-cache (analytics.forecast,
keyed by deployment, data fingerprint and fit parameters, shared with the command line), and
st.cache_data keeps this session's results keyed by plain values. Growth, horizon and headroom
are applied after the fit, so moving those controls never refits. A cold start fits every
deployment in scope in 2 processes behind a progress bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl
import streamlit as st

from analytics import backtest as B
from analytics import capacity as C
from analytics import demand as D
from analytics import forecast as F
from analytics import forecast_cache as FC
from analytics import queries
from analytics.config import PROJECT_ROOT
from analytics.errors import InputError, SpecError
from ui.connection import get_store

TTL_S = 300
HISTORY = timedelta(days=60)
SLO_FILE = PROJECT_ROOT / "slos.yaml"
METHOD_LABELS = {"prophet": "Prophet", "seasonal_naive": "Seasonal naive (same hour last week)"}


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

    def params(self) -> F.ForecastParams:
        """The forecast parameters of this scenario."""
        return F.ForecastParams(
            horizon=timedelta(weeks=self.weeks), interval_width=self.interval, growth=self.growth,
            events=tuple(F.Event(n, date.fromisoformat(d), k) for n, d, k in self.events),
        )


def history_window(end: datetime, data_start: datetime) -> tuple[datetime, datetime]:
    """Up to HISTORY of whole hours ending at `end`."""
    return D.hour_range(max(data_start, end - HISTORY), end)


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
            event = F.Event(parts[0], date.fromisoformat(parts[1]), int(parts[2]) if len(parts) == 3 else 1)
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
    """Hourly demand per deployment, gaps explicit (analytics.demand)."""
    return D.hourly_demand(get_store(), start, end, None, list(regions))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def slos() -> dict:
    """Latency SLOs per deployment from slos.yaml where it covers them (defaults otherwise)."""
    try:
        return C.load_latency_slos(SLO_FILE, deployments())
    except SpecError:
        return {}  # the SLO pages report a broken file; capacity falls back to the defaults


def _histories(s: Scenario) -> dict[str, pl.DataFrame]:
    frame = demand(s.start, s.end, s.regions)
    return {n: D.series(frame, n, s.metric) for n in s.names}


def _fill_cache(fn, histories: dict, params, label: str) -> None:
    """Fit whatever the disk cache lacks, in parallel, behind a progress bar."""
    missing = [n for n, h in histories.items() if not FC.is_cached(n, fn, h, params, FC.DEFAULT_CACHE_DIR)]
    if not missing:
        return
    bar = st.progress(0.0, text=f"{label}: {len(missing)} to fit")
    FC.cached_map(fn, {n: histories[n] for n in missing}, params, cache_dir=FC.DEFAULT_CACHE_DIR,
                 progress=lambda f, m: bar.progress(min(f, 1.0), text=f"{label}: {m}"))
    bar.empty()


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=64)
def _forecasts(s: Scenario) -> tuple[dict, dict]:
    fits = FC.cached_map(F.METHODS[s.method], _histories(s), s.params(), cache_dir=FC.DEFAULT_CACHE_DIR)
    return fits.results, fits.errors


def forecasts(s: Scenario) -> tuple[dict, dict]:
    """Forecast frames and one-line errors per deployment (fits cold deployments first)."""
    _fill_cache(F.METHODS[s.method], _histories(s), s.params(), "Fitting forecasts")
    return _forecasts(s)


@st.cache_data(ttl=TTL_S, show_spinner="Measuring SLO-compliant throughput…")
def throughputs(start: datetime, end: datetime, regions: tuple, names: tuple, metric: str) -> dict:
    """SLO-compliant throughput per GPU for each deployment."""
    hist = C.hourly_histograms(get_store(), start, end, list(names), list(regions))
    return C.measure_all(hist, deployments(), slos(), metric, list(names))


def assessment(s: Scenario) -> tuple[C.Assessment, dict, dict]:
    """(capacity assessment, forecasts, forecast errors): the cheap last step is not cached."""
    results, errors = forecasts(s)
    tps = throughputs(s.start, s.end, s.regions, s.names, s.metric)
    return C.assess(results, tps, deployments(), s.headroom), results, errors


@st.cache_data(ttl=TTL_S, show_spinner="Backtesting (rolling origin, Prophet vs seasonal naive)…", max_entries=64)
def backtest(start: datetime, end: datetime, regions: tuple, name: str, metric: str, interval: float,
             events: tuple, weeks: int) -> tuple[B.BacktestSummary | None, pl.DataFrame | None, str | None]:
    """Backtest summary, per-point folds and an error message for one deployment."""
    s = Scenario(start, end, regions, (name,), metric, "prophet", interval, events, weeks, 1.0, 0.0)
    history = _histories(s)[name]
    observed = history.filter(pl.col("y").is_not_null())["ts"]
    if observed.is_empty():
        return None, None, f"{name} has no demand in the range"
    history = history.filter(pl.col("ts") >= observed.min())  # no empty prefix before its first data
    try:
        params = B.auto_params(observed.max() - observed.min() + timedelta(hours=1), s.params().horizon,
                               s.params())
        fits = FC.cached_map(B.run_backtest, {name: history}, params, cache_dir=FC.DEFAULT_CACHE_DIR)
    except InputError as exc:
        return None, None, str(exc)
    if name in fits.errors:
        return None, None, fits.errors[name]
    folds = fits.results[name]
    return B.summarize(folds), folds, None


def baseline(s: Scenario, name: str) -> pl.DataFrame | None:
    """The seasonal-naive forecast of one deployment for the overlay."""
    other = Scenario(**{**s.__dict__, "method": "seasonal_naive", "names": (name,)})
    results, _ = forecasts(other)
    return results.get(name)


def actuals(s: Scenario, name: str) -> pl.DataFrame:
    """One deployment's hourly history (ts, y) for the chart."""
    return _histories(Scenario(**{**s.__dict__, "names": (name,)}))[name]


def clear() -> None:
    """Forget this session's cached results (the disk cache stays)."""
    for fn in (deployments, demand, slos, _forecasts, throughputs, backtest):
        fn.clear()
