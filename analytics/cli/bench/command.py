"""`python -m analytics bench`: time what the dashboard does, on a store seeded to a given size.

Run it against a store of its own (e.g. `make bench`, which uses .data/bench): when the store
holds fewer requests than --requests, the demo fleet is seeded first and the ingest rate is
reported. Warm figures are the median of repeated runs; cold is the first run. The ingest area
(analytics.cli.bench.ingest) runs on crafted files in child processes and needs no seeded store.
"""

from __future__ import annotations

import argparse
import time

from analytics.cli.bench import core, forecast, gpu, ingest, review, slo
from analytics.cli.common import ProgressBar, text_table
from analytics.ingest.demo import generator as demo
from analytics.store import conventions as N
from analytics.store import queries

AREAS = {"slo": slo.bench, "gpu": gpu.bench, "forecast": forecast.bench, "review": review.bench,
         "ingest": ingest.bench}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the bench command."""
    parser.add_argument("--requests", type=int, default=100_000_000, help="seed up to this many requests")
    parser.add_argument("--days", type=int, default=30, help="days of history when seeding")
    parser.add_argument("--scrape-seconds", type=int, default=15, help="GPU sample interval when seeding")
    parser.add_argument("--repeat", type=int, default=5, help="warm repetitions per case")
    parser.add_argument("--only", choices=("core", *AREAS), help="one area only (ingest: load rows/s and peak memory "
                                                                   "from Parquet and CSV files, and on crafted bombs; needs no seeding)")


def _seed_if_needed(store, args) -> list[core.Case]:
    have = queries.row_count(store, N.REQUESTS)
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


def run(args, store) -> int:
    """Seed if needed, run the cases and print a table."""
    cases = [] if args.only == "ingest" else _seed_if_needed(store, args)
    if args.only in (None, "core"):
        cases += core.core_cases(store, args.repeat)
    for area, bench in AREAS.items():
        if args.only in (None, area):
            cases += bench(store)
    print(text_table(("case", "seconds", "note"),
                     [(name, f"{seconds:.3f}", note) for name, seconds, note in cases], right=(1,)))
    return 0
