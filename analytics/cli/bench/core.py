"""Timings of the Overview and Data pages' queries, for `python -m analytics bench`.

Warm figures are the median of repeated runs; cold is the first run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from analytics.cli.bench.cases import Case
from analytics.store import conventions as N
from analytics.store import queries
from analytics.traffic import summary as overview


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
    end = queries.data_end(store)
    start = end - timedelta(days=7)
    cases: list[Case] = []
    raw = queries.row_count(store, N.REQUESTS)
    rollup = queries.row_count(store, N.REQUESTS_5M)
    cases.append(Case("rollup size", raw / max(rollup, 1), f"{rollup:,} rollup rows for {raw:,} request rows",
                      unit="x"))
    cold, warm = timed(lambda: overview_page(store, start, end), repeat)
    cases.append(Case("overview page queries, 7 days (cold)", cold, "3 rollup queries + percentiles"))
    cases.append(Case("overview page queries, 7 days (warm)", warm, "median"))
    cold, warm = timed(lambda: queries.request_totals(store, end - timedelta(days=30), end), repeat)
    cases.append(Case("30-day totals per deployment (warm)", warm, f"cold {cold:.3f}s"))
    return cases


def overview_page(store, start, end) -> None:
    """The Overview's numbers for [start, end) (as ui.traffic computes them): per-deployment totals of
    the range and of the period before it, and the hourly series."""
    fields = overview.HIST_FIELDS
    seconds = (end - start).total_seconds()
    overview.summarize(queries.request_totals(store, start, end, fields=fields), seconds)
    overview.summarize(queries.request_totals(store, start - (end - start), start, fields=fields), seconds)
    overview.series(queries.request_slots(store, start, end, step_seconds=3600, fields=fields), 3600)
