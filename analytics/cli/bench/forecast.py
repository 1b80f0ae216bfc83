"""Timings of the capacity forecasts for `python -m analytics bench`.

Targets: cold fit of 20 deployments x 60 days hourly under 30 s on 2 cores; the warm
(cached) page data path under 1 s. Model selection (method auto: every model backtested per
series, then the winner fitted) is timed cold (empty cache) and warm for 20 synthetic
deployments and cold for 200, with peak memory: the largest sum of resident memory of this
process and its worker processes, sampled from /proc (Linux) while the step runs. (getrusage's
RUSAGE_CHILDREN cannot tell it: a worker's ru_maxrss starts at the parent's size when it is forked.)
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from analytics.capacity import cache as capacity_cache
from analytics.capacity import forecast as capacity_forecast
from analytics.capacity import pipeline as capacity_pipeline
from analytics.cli.bench.cases import Case, under
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.store.client import Store
from analytics.store.queries import data_range, deployments_table

WORKERS = 2


def synthetic_series(n_series: int = 20, days: int = 60, seed: int = 11) -> dict[str, pl.DataFrame]:
    """Deterministic hourly demand series with daily and weekly cycles, trend and noise."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    hours = np.arange(days * 24)
    ts = pl.datetime_range(start, start + timedelta(hours=len(hours) - 1), "1h", time_unit="us", time_zone="UTC", eager=True)
    out = {}
    for i in range(n_series):
        daily = 0.6 + 0.4 * np.sin(2 * np.pi * (hours - 6 - i) / 24)
        weekly = np.where((hours // 24) % 7 >= 5, 0.7, 1.0)
        trend = (1 + rng.uniform(0, 0.01)) ** (hours / 24)
        y = (1 + i) * daily * weekly * trend * np.exp(rng.normal(0, 0.08, len(hours)))
        out[f"synthetic-{i:02d}"] = pl.DataFrame({"ts": ts, "y": y})
    return out


def _timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return 0


def _descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, theirs (Prophet's Stan runs as a worker's child) and so on."""
    pids = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:  # ended meanwhile
        return pids
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as children:
                pids += [int(c) for c in children.read().split()]
        except FileNotFoundError:
            pass
    return pids + [d for child in pids for d in _descendants(child)]


@contextmanager
def peak_memory(interval: float = 0.2):
    """Yield a dict whose "gib" is, after the block, the largest resident memory of this process plus
    its descendant processes seen every ``interval`` seconds while the block ran (Linux /proc)."""
    peak, done, me = {"gib": 0.0}, threading.Event(), os.getpid()

    def sample() -> None:
        while not done.wait(interval):
            total = _rss_bytes(me) + sum(_rss_bytes(c) for c in _descendants(me))
            peak["gib"] = max(peak["gib"], total / 2**30)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def selection_cases(n_series: int, cache: Path, warm: bool) -> list[Case]:
    """Forecast + selection (method auto) of ``n_series`` synthetic 60-day hourly deployments into an
    empty cache folder, then, with ``warm``, again from that cache."""
    series = synthetic_series(n_series)
    params = capacity_forecast.ForecastParams(horizon=timedelta(days=14))
    with peak_memory() as peak:
        (fits, chosen), seconds = _timed(lambda: capacity_pipeline.planned(capacity_pipeline.AUTO, series, params, cache,
                                                                           workers=WORKERS))
    winners = {}
    for pick in chosen.values():
        winners[pick.winner] = winners.get(pick.winner, 0) + 1
    folds = max((pick.folds for pick in chosen.values()), default=0)
    cases = [Case(f"forecast + selection: {n_series} deployments x 60 d hourly, cold", seconds,
                  f"{n_series} backtests of {len(capacity_forecast.METHODS)} models x {folds} folds + {fits.computed} "
                  f"final fits in {WORKERS} processes; winners {dict(sorted(winners.items()))}"),
             Case(f"forecast + selection: {n_series} deployments, peak memory", peak["gib"],
                  f"resident memory of the bench process (store included) + its {WORKERS} workers and their children, sampled", unit="GiB")]
    if warm:
        (fits, _), seconds = _timed(lambda: capacity_pipeline.planned(capacity_pipeline.AUTO, series, params, cache,
                                                                      workers=WORKERS))
        cases.append(Case(f"forecast + selection: {n_series} deployments, warm (disk cache)", seconds,
                          f"{fits.cached} cached fits, backtests read back", under(1, strict=True)))
    return cases


def page_path(store: Store, start: datetime, end: datetime, params: capacity_forecast.ForecastParams, cache_dir: Path) -> capacity_pipeline.Result:
    """What the capacity page computes when nothing is in Streamlit's cache (fits on disk)."""
    names = tuple(deployments_table(store)["deployment"])
    request = capacity_pipeline.Request(start, end, names, params=params)
    return capacity_pipeline.run(store, request, load_slos(PROJECT_SLO_FILE), cache_dir=cache_dir, workers=WORKERS)


def bench(store: Store) -> list[Case]:
    """Cold and warm timings of the forecast pipeline on the store, plus the 20 x 60-day target case."""
    results = []
    params = capacity_forecast.ForecastParams(horizon=timedelta(days=14))
    with tempfile.TemporaryDirectory(prefix="forecast-bench-") as folder:
        cache = Path(folder)
        synthetic = synthetic_series()
        fits, seconds = _timed(lambda: capacity_cache.cached_map(capacity_forecast.prophet_forecast, synthetic, params, cache_dir=cache / "syn", workers=WORKERS))
        results.append(Case("forecast: cold fit 20 series x 60 d hourly (synthetic)", seconds,
                            f"{fits.computed} Prophet fits in {WORKERS} processes", under(30, strict=True)))
        results += selection_cases(20, cache / "select-20", warm=True)
        results += selection_cases(200, cache / "select-200", warm=False)
        span = data_range(store)
        if span is None:
            return results + [Case("forecast: demo store", float("nan"), "skipped: the store has no requests")]
        start, end = capacity_pipeline.window(span[0], span[1])
        days = (end - start) / timedelta(days=1)
        result, seconds = _timed(lambda: page_path(store, start, end, params, cache / "store"))
        fits = result.fits
        results.append(Case(f"forecast: cold page, {len(fits.results) + len(fits.errors)} deployments x {days:.0f} d", seconds,
                        f"query + {fits.computed} fits + capacity; errors: {len(fits.errors)}"))
        result, seconds = _timed(lambda: page_path(store, start, end, params, cache / "store"))
        results.append(Case("forecast: warm page (fits from disk cache)", seconds,
                            f"{result.fits.cached} cached fits (Streamlit's cache makes reruns faster still)",
                            under(1, strict=True)))
        name = result.request.names[0]
        series = capacity_pipeline.histories(capacity_pipeline.hourly_demand(store, start, end), [name], "rps")
        chosen, seconds = _timed(lambda: capacity_pipeline.selections(series, params, cache_dir=None, workers=1))
        results.append(Case(f"forecast: select the model of one deployment ({chosen[name].folds} folds x "
                            f"{len(chosen[name].scores)} models)", seconds, f"{name}: {chosen[name].winner}"))
    return results
