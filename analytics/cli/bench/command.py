"""`python -m analytics bench`: time what the dashboard does, on a store seeded to a given size.

Run it against a store of its own (e.g. `make bench`, which uses .data/bench): when the store
holds fewer requests than --requests, the demo fleet is seeded first and the ingest rate is
reported. Warm figures are the median of repeated runs; cold is the first run. The ingest area
(analytics.cli.bench.ingest) runs on crafted files in child processes and needs no seeded store.
The baselines area times each page's pipeline against the same numbers from the raw tables.
With --browser, the bench drives the app itself in headless Chromium (analytics.cli.bench.browser).
Every figure with a target prints it and whether it is met.
"""

from __future__ import annotations

import argparse
import time

from analytics.capacity import cache as capacity_cache
from analytics.capacity import pipeline as capacity
from analytics.cli.bench import baselines, browser, core, forecast, gpu, ingest, review, slo
from analytics.cli.bench import cases as bench_cases
from analytics.cli.common import ProgressBar
from analytics.ingest.demo import generator as demo
from analytics.store import conventions, queries
from analytics.store.dsn import resolve_dsn

AREAS = {"slo": slo.bench, "gpu": gpu.bench, "forecast": forecast.bench, "review": review.bench,
         "ingest": ingest.bench}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the bench command."""
    parser.add_argument("--requests", type=int, default=100_000_000, help="seed up to this many requests")
    parser.add_argument("--days", type=int, default=30, help="days of history when seeding")
    parser.add_argument("--scrape-seconds", type=int, default=15, help="GPU sample interval when seeding")
    parser.add_argument("--repeat", type=int, default=5, help="warm repetitions per case")
    parser.add_argument("--only", choices=("core", *AREAS, "baselines"),
                        help="one area only (ingest: load rows/s and peak memory from Parquet and CSV files, and "
                             "on crafted bombs; needs no seeding; baselines: each page's rollup pipeline vs the raw "
                             "tables)")
    parser.add_argument("--skip", action="append", default=[], choices=("core", *AREAS, "baselines"),
                        help="leave an area out (repeatable), e.g. the slow ingest and forecast areas in a smoke run")
    parser.add_argument("--browser", action="store_true",
                        help="instead, time the app in headless Chromium: cold and warm page loads, what-if slider, "
                             "filter change, server memory (needs playwright and /usr/bin/chromium)")


def _seed_if_needed(store, args) -> list[bench_cases.Case]:
    have = queries.row_count(store, conventions.REQUESTS)
    if have >= 0.9 * args.requests:
        return [bench_cases.Case("store already seeded", float("nan"), f"{have:,} request rows")]
    t0 = time.perf_counter()
    summary = demo.seed(store, days=args.days, requests=args.requests, seed=11,
                        scrape_seconds=args.scrape_seconds, progress=ProgressBar("seed"))
    seconds = time.perf_counter() - t0
    rows = summary.requests + summary.gpu_samples
    return [bench_cases.Case("seed demo (generate + insert + views)", seconds,
                   f"{summary.requests:,} request rows + {summary.gpu_samples:,} GPU samples"),
            bench_cases.Case("seed demo: rows per second", rows / seconds, "every rollup view maintained",
                   bench_cases.Target(1e6, at_least=True), unit="rows/s")]


def _fit_ahead(store) -> list[bench_cases.Case]:
    """The Capacity page's default forecasts fitted into the cache, as `python -m analytics demo` does
    after seeding, so the browser's cold pages are those of a demo store (cached fits are reused)."""
    t0 = time.perf_counter()
    fits = capacity.warm(store, capacity_cache.DEFAULT_CACHE_DIR, progress=ProgressBar("forecasts"))
    return [bench_cases.Case("forecasts fitted ahead (as the demo command does)", time.perf_counter() - t0,
                   f"{fits.computed} fitted, {fits.cached} already cached")]


def run(args, store) -> int:
    """Seed if needed, run the cases and print a table."""
    if args.browser:
        browser.check_available()
    cases = [] if args.only == "ingest" else _seed_if_needed(store, args)
    if args.browser:
        cases += _fit_ahead(store)
        store.close()  # an embedded store has one process at a time: the app's server opens it next
        cases += browser.bench(resolve_dsn(args.dsn), args.repeat)
        print(bench_cases.table(cases))
        return 0

    def wanted(area: str) -> bool:
        return args.only in (None, area) and area not in args.skip

    if wanted("core"):
        cases += core.core_cases(store, args.repeat)
    for area, bench in AREAS.items():
        if wanted(area):
            cases += bench(store)
    if wanted("baselines"):
        cases += baselines.bench(store, args.repeat)
    print(bench_cases.table(cases))
    return 0
