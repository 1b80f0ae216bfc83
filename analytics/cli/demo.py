"""`python -m analytics demo`: seed the demo fleet's telemetry."""

from __future__ import annotations

import argparse

from analytics.cli.common import ProgressBar
from analytics.ingest.demo import generator as demo
from analytics.store import conventions as N
from analytics.store import queries


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the demo command."""
    parser.add_argument("--days", type=int, default=35, help="days of history (default 35)")
    parser.add_argument("--requests", type=int, default=4_000_000, help="about this many requests")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same data)")
    parser.add_argument("--end", help="ISO time the data ends (default: start of this UTC hour)")
    parser.add_argument("--scrape-seconds", type=int, default=60, help="GPU sample interval")
    parser.add_argument("--sample-rate", type=float, default=0.01,
                        help="share of requests logged; each row stands for 1/rate requests (default 0.01)")
    parser.add_argument("--as", dest="as_", choices=["tables", "otel"], default="tables",
                        help="tables: straight into requests (default); otel: requests as vLLM-style OpenTelemetry "
                        "spans in otel_traces (the exporter's DDL), mapped by `source add otel-traces --backfill`; "
                        "GPU metrics go to gpu_metrics in both")
    parser.add_argument("--if-empty", action="store_true", help="do nothing if requests exist")
    parser.add_argument("--no-forecasts", action="store_true",
                        help="skip fitting the Capacity page's default forecasts into the cache")


def run(args, store) -> int:
    """Seed the store, or skip when --if-empty and data exists."""
    from analytics.times import parse_time

    if args.if_empty and store.target.engine != "chdb":
        print(f"demo: {store.target} is a ClickHouse server; demo data is only seeded there when "
              "asked for explicitly (python -m analytics demo)")
        return 0
    if args.if_empty and queries.row_count(store, N.REQUESTS):
        print("demo: the store already has requests; nothing to do")
        return 0
    end = parse_time(args.end) if args.end else None
    options = dict(days=args.days, requests=args.requests, seed=args.seed, end=end,
                   scrape_seconds=args.scrape_seconds, sample_rate=args.sample_rate, progress=ProgressBar("demo"))
    if args.as_ == "otel":
        from analytics.cli import source
        from analytics.ingest import otel
        from analytics.ingest.demo import otel as demo_otel

        summary = demo_otel.seed(store, otel.DEFAULT_TABLE, **options)
        print(f"demo: {summary.requests:,} request spans in {otel.DEFAULT_TABLE}")
        source.add(store, otel.source(), backfill=True)
    else:
        summary = demo.seed(store, **options)
    print(
        f"demo: {summary.requests:,} request rows (standing for {summary.represented:,} requests) "
        f"and {summary.gpu_samples:,} GPU samples for "
        f"{summary.deployments} deployments, {summary.start:%Y-%m-%d %H:%M} to "
        f"{summary.end:%Y-%m-%d %H:%M} UTC, into {store.target}"
    )
    if not args.no_forecasts:
        from analytics.capacity import cache as FC
        from analytics.capacity import pipeline as P

        fits = P.warm(store, FC.DEFAULT_CACHE_DIR, progress=ProgressBar("forecasts"))
        print(f"demo: {fits.computed + fits.cached} default forecasts in the cache ({fits.computed} fitted in "
              f"{fits.seconds:.0f} s), so the Capacity page opens without waiting for Prophet")
    return 0
