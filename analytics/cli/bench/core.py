"""Timings of the Overview and Data pages' queries, for `python -m analytics bench`.

Warm figures are the median of repeated runs; cold is the first run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from analytics.store import conventions as N
from analytics.store import queries
from analytics.traffic import summary as overview

Case = tuple[str, float, str]


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
    """The Overview and Data pages' queries, and a raw scan for contrast."""
    end = queries.data_end(store)
    start = end - timedelta(days=7)
    cases: list[Case] = []
    raw = queries.row_count(store, N.REQUESTS)
    rollup = queries.row_count(store, N.REQUESTS_5M)
    cases.append(("rollup size", 0.0, f"{rollup:,} rollup rows for {raw:,} request rows ({raw / max(rollup, 1):.0f}x)"))

    def overview_page():
        fields = overview.HIST_FIELDS
        overview.summarize(queries.request_totals(store, start, end, fields=fields), 7 * 86400)
        overview.summarize(queries.request_totals(store, start - timedelta(days=7), start, fields=fields),
                           7 * 86400)
        overview.series(queries.request_slots(store, start, end, step_seconds=3600, fields=fields), 3600)

    cold, warm = timed(overview_page, repeat)
    cases.append(("overview page queries, 7 days (cold)", cold, "3 rollup queries + percentiles"))
    cases.append(("overview page queries, 7 days (warm)", warm, "median"))
    cold, warm = timed(lambda: queries.request_totals(store, end - timedelta(days=30), end), repeat)
    cases.append(("30-day totals per deployment (warm)", warm, f"cold {cold:.3f}s"))
    cold, _ = timed(lambda: queries.raw_p99_scan(store, start), 0)
    cases.append(("for contrast: raw scan, 7-day p99 per deployment", cold, "what the rollup avoids"))
    return cases
