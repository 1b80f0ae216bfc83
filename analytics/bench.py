"""`python -m analytics bench`: time what the dashboard does, on a store seeded to a given size.

Run it against a store of its own (e.g. `make bench`, which uses .data/bench): when the store
holds fewer requests than --requests, the demo fleet is seeded first and the ingest rate is
reported. Warm figures are the median of repeated runs; cold is the first run.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from analytics import demo, overview, queries
from analytics import names as N
from analytics.progress import ProgressBar

AREA_BENCHES = ("analytics.slo_bench", "analytics.gpu_bench", "analytics.forecast_bench")
Case = tuple[str, float, str]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the bench command."""
    parser.add_argument("--requests", type=int, default=100_000_000, help="seed up to this many requests")
    parser.add_argument("--days", type=int, default=30, help="days of history when seeding")
    parser.add_argument("--scrape-seconds", type=int, default=15, help="GPU sample interval when seeding")
    parser.add_argument("--repeat", type=int, default=5, help="warm repetitions per case")
    parser.add_argument("--only", choices=("core", "slo", "gpu", "forecast"), help="one area only")


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


def _seed_if_needed(store, args) -> list[Case]:
    have = store.scalar(f"SELECT count() FROM {N.REQUESTS}") or 0
    if have >= 0.9 * args.requests:
        return [("store already seeded", 0.0, f"{have:,} requests")]
    t0 = time.perf_counter()
    summary = demo.seed(store, days=args.days, requests=args.requests, seed=11,
                        scrape_seconds=args.scrape_seconds, progress=ProgressBar("seed"))
    seconds = time.perf_counter() - t0
    rows = summary.requests + summary.gpu_samples
    return [("seed demo (generate + insert + views)", seconds,
             f"{summary.requests:,} request rows + {summary.gpu_samples:,} GPU samples, "
             f"{rows / seconds / 1e6:.2f}M rows/s")]


def core_cases(store, repeat: int) -> list[Case]:
    """The Overview and Data pages' queries, and a raw scan for contrast."""
    span = queries.data_span(store).row(0, named=True)
    end = span["last_slot"] + timedelta(minutes=5)
    start = end - timedelta(days=7)
    cases: list[Case] = []
    raw = store.scalar(f"SELECT count() FROM {N.REQUESTS}")
    rollup = store.scalar(f"SELECT count() FROM {N.REQUESTS_5M}")
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
    cold, _ = timed(lambda: store.query(
        f"SELECT deployment, count(), quantile(0.99)(ttft_ms) FROM {N.REQUESTS} "
        "WHERE ts >= {s:DateTime64(3, 'UTC')} GROUP BY deployment", {"s": start}), 0)
    cases.append(("for contrast: raw scan, 7-day p99 per deployment", cold, "what the rollup avoids"))
    return cases


def run(args, store) -> int:
    """Seed if needed, run the cases and print a table."""
    cases = _seed_if_needed(store, args)
    if args.only in (None, "core"):
        cases += core_cases(store, args.repeat)
    for module_name in AREA_BENCHES:
        area = module_name.split(".")[1].removesuffix("_bench")
        if args.only not in (None, area):
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            cases.append((f"{area}: not built yet", 0.0, ""))
            continue
        cases += module.bench(store)
    width = max(len(name) for name, _, _ in cases)
    print(f"{'case':<{width}}  {'seconds':>9}  note")
    for name, seconds, note in cases:
        print(f"{name:<{width}}  {seconds:9.3f}  {note}")
    return 0
