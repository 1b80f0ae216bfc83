"""`python -m analytics source add otel-traces`: map telemetry that already lives in ClickHouse."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from analytics.cli.common import ProgressBar
from analytics.ingest import otel as O
from analytics.ingest import spans


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the source command."""
    parser.add_argument("action", choices=["add"], help="add a source (a materialized view into requests)")
    parser.add_argument("kind", choices=["otel-traces"],
                        help="otel-traces: request spans in the OpenTelemetry ClickHouse exporter's span table")
    parser.add_argument("--table", default=O.DEFAULT_TABLE, help=f"span table, [database.]name (default {O.DEFAULT_TABLE})")
    parser.add_argument("--service", action="append", default=[], metavar="NAME",
                        help="only spans of this ServiceName (repeatable; default: every service)")
    parser.add_argument("--span", default=O.DEFAULT_SPAN, help=f"SpanName of request spans (default {O.DEFAULT_SPAN}, vLLM's)")
    parser.add_argument("--attribute-map", type=Path, metavar="FILE",
                        help="YAML `field: attribute` (or a list, first present wins) overriding the vLLM defaults")
    parser.add_argument("--backfill", action="store_true",
                        help="also map the spans already in the table (batches journaled: a rerun adds nothing twice)")
    parser.add_argument("--batch-hours", type=int, default=spans.DEFAULT_BATCH_HOURS,
                        help=f"backfill batch width in hours of span time (default {spans.DEFAULT_BATCH_HOURS})")


def add(store, source: O.SpanSource, backfill: bool, batch_hours: int = spans.DEFAULT_BATCH_HOURS) -> None:
    """Add a span source, optionally backfill it, and say what was done (shared with `demo --as otel`)."""
    added = spans.add_source(store, source, time.time_ns())
    cutoff = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(added.cutoff_ns // spans.NS))
    verb = "created" if added.created else "already there:"
    print(f"source: {verb} view {added.view}: {source.span!r} spans of {source.table} from {cutoff} UTC on "
          "go to requests as they arrive")
    if backfill:
        done = spans.backfill(store, source, batch_hours, ProgressBar("backfill"))
        rate = done.rows / done.seconds if done.seconds else 0.0
        print(f"source: backfilled {done.rows:,} requests from spans before {cutoff} UTC in {done.batches} batches "
              f"({done.skipped} done by an earlier run) in {done.seconds:.1f} s ({rate:,.0f} rows/s)")


def run(args, store) -> int:
    """Add the source named on the command line."""
    source = O.source(args.table, args.span, args.service, args.attribute_map)
    add(store, source, args.backfill, args.batch_hours)
    return 0
