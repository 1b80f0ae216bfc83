"""`python -m analytics demo`: seed the demo fleet's telemetry."""

from __future__ import annotations

import argparse

from analytics.cli.common import ProgressBar
from analytics.ingest.demo import generator as demo
from analytics.store import conventions, queries


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the demo command."""
    parser.add_argument("--days", type=int, default=35, help="days of history (default 35)")
    parser.add_argument("--requests", type=int, default=4_000_000, help="about this many requests")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same data)")
    parser.add_argument("--end", help="ISO time the data ends (default: start of this UTC hour)")
    parser.add_argument("--scrape-seconds", type=int, default=60, help="GPU sample interval")
    parser.add_argument("--sample-rate", type=float, default=0.01,
                        help="share of requests logged; each row stands for 1/rate requests (default 0.01)")
    parser.add_argument("--as", dest="as_", choices=["tables", "otel", "otel-metrics"], default="tables",
                        help="tables: straight into our tables (default); otel: the exporter's tables (its DDL): "
                        "requests as vLLM spans in otel_traces, GPU samples as DCGM gauges in otel_metrics_gauge, "
                        "latencies as vLLM histograms in otel_metrics_histogram, mapped by `source add` of each "
                        "with --backfill; otel-metrics: the same without spans (SLIs from the histograms)")
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
    if args.if_empty and queries.row_count(store, conventions.REQUESTS):
        print("demo: the store already has requests; nothing to do")
        return 0
    end = parse_time(args.end, "--end") if args.end else None
    options = dict(days=args.days, requests=args.requests, seed=args.seed, end=end,
                   scrape_seconds=args.scrape_seconds, sample_rate=args.sample_rate, progress=ProgressBar("demo"))
    if args.as_ in ("otel", "otel-metrics"):
        from analytics.cli import source
        from analytics.ingest import gauges, histograms, otel
        from analytics.ingest.demo import otel as demo_otel

        tables = {"traces": otel.DEFAULT_TABLE, "gauge": gauges.DEFAULT_TABLE, "histogram": histograms.DEFAULT_TABLE}
        spans_too = args.as_ == "otel"
        summary = demo_otel.seed(store, tables, spans_too=spans_too, **options)
        print(f"demo: {summary.requests:,} requests as {'spans and ' if spans_too else ''}histograms, "
              f"{summary.gpu_samples:,} GPU samples as DCGM gauges, in the exporter's tables")
        if spans_too:
            source.add(store, otel.source(), backfill=True)
        source.add_gauges(store, gauges.source(), backfill=True)
        source.add_histograms(store, histograms.source(), backfill=True)
    else:
        summary = demo.seed(store, **options)
    print(
        f"demo: {summary.requests:,} request rows (standing for {summary.represented:,} requests) "
        f"and {summary.gpu_samples:,} GPU samples for "
        f"{summary.deployments} deployments, {summary.start:%Y-%m-%d %H:%M} to "
        f"{summary.end:%Y-%m-%d %H:%M} UTC, into {store.target}"
    )
    if not args.no_forecasts:
        from analytics.capacity import cache as capacity_cache
        from analytics.capacity import pipeline as capacity_pipeline

        fits = capacity_pipeline.warm(store, capacity_cache.DEFAULT_CACHE_DIR, progress=ProgressBar("forecasts"))
        print(f"demo: {fits.computed + fits.cached} default forecasts in the cache ({fits.computed} fitted in "
              f"{fits.seconds:.0f} s), so the Capacity page opens without waiting for Prophet")
    return 0
