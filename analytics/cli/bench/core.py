"""Timings of the Overview and Data pages' queries, for `python -m analytics bench`.

Warm figures are the median of repeated runs; cold is the first run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from analytics.cli.bench.cases import Case
from analytics.store import conventions, queries
from analytics.times import Filters, default_filters
from analytics.traffic import pipeline


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(cold seconds, median warm seconds) of calling fn."""
    t0 = time.perf_counter()
    fn()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    return cold, statistics.median(warm) if warm else cold


def core_cases(store, repeat: int) -> list[Case]:
    """The Overview and Data pages' queries (the raw-table contrast is in baselines.py)."""
    data_start, end, _ = queries.data_range(store)
    filters = default_filters(data_start, end)
    cases: list[Case] = []
    raw = queries.row_count(store, conventions.REQUESTS)
    rollup = queries.row_count(store, conventions.REQUESTS_5M)
    cases.append(Case("rollup size", raw / max(rollup, 1), f"{rollup:,} rollup rows for {raw:,} request rows",
                      unit="x"))
    cold, warm = timed(lambda: overview_page(store, filters), repeat)
    days = filters.seconds / 86400
    cases.append(Case(f"overview page queries, {days:g} days (cold)", cold,
                      "traffic.pipeline load + chart series, as the page"))
    cases.append(Case(f"overview page queries, {days:g} days (warm)", warm, "median"))
    cold, warm = timed(lambda: queries.request_totals(store, end - timedelta(days=30), end), repeat)
    cases.append(Case("30-day totals per deployment (warm)", warm, f"cold {cold:.3f}s"))
    return cases


def overview_page(store, filters: Filters) -> pipeline.Overview:
    """The Overview's numbers and chart series for `filters`: the page's own calls
    (ui.traffic.load and charts_of run analytics.traffic.pipeline's load and series)."""
    overview = pipeline.load(store, filters)
    pipeline.series(store, filters, overview.charted)
    return overview
