"""`python -m analytics source add KIND`: map telemetry that already lives in ClickHouse.

otel-traces: request spans into requests (analytics.ingest.spans); otel-gpu-metrics: DCGM gauges
into gpu_metrics (analytics.ingest.gauges); otel-histograms: vLLM's latency histograms into the
histogram rollup the SLO engine reads for deployments without spans (analytics.ingest.histograms).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from analytics.cli.common import ProgressBar
from analytics.ingest import gauges, histograms, spans
from analytics.ingest import otel as ingest_otel
from analytics.ingest import otel_backfill as ingest_otel_backfill
from analytics.store.otel_metrics import HISTOGRAM_ROLLUP

KINDS = {"otel-traces": ingest_otel.DEFAULT_TABLE, "otel-gpu-metrics": gauges.DEFAULT_TABLE,
         "otel-histograms": histograms.DEFAULT_TABLE}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the source command."""
    parser.add_argument("action", choices=["add"], help="add a source (a materialized view from an exporter table)")
    parser.add_argument("kind", choices=list(KINDS),
                        help="otel-traces: request spans into requests; otel-gpu-metrics: DCGM exporter gauges into "
                        "gpu_metrics; otel-histograms: vLLM latency histograms, the SLIs of deployments without spans")
    parser.add_argument("--table", help="exporter table, [database.]name (default: otel_traces, otel_metrics_gauge, "
                        "otel_metrics_histogram by kind)")
    parser.add_argument("--service", action="append", default=[], metavar="NAME",
                        help="otel-traces: only spans of this ServiceName (repeatable; default: every service)")
    parser.add_argument("--span", default=ingest_otel.DEFAULT_SPAN,
                        help=f"otel-traces: SpanName of request spans (default {ingest_otel.DEFAULT_SPAN}, vLLM's)")
    parser.add_argument("--attribute-map", type=Path, metavar="FILE",
                        help="YAML `field: attribute` (or a list, first present wins) overriding the defaults "
                        "(docs/otel.md)")
    parser.add_argument("--backfill", action="store_true",
                        help="also map the rows already in the table (in batches; a rerun adds nothing twice)")
    parser.add_argument("--batch-hours", type=int, default=ingest_otel_backfill.DEFAULT_BATCH_HOURS,
                        help=f"backfill batch width in hours of data time (default {ingest_otel_backfill.DEFAULT_BATCH_HOURS})")


def _say(added: ingest_otel_backfill.Added, what: str) -> str:
    cutoff = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(added.cutoff_ns // ingest_otel_backfill.NS))
    verb = "created" if added.created else "already there:"
    print(f"source: {verb} view {added.view}: {what} from {cutoff} UTC on go through it as they arrive")
    return cutoff


def _said(done: ingest_otel_backfill.Backfilled, what: str, cutoff: str) -> None:
    rate = done.rows / done.seconds if done.seconds else 0.0
    print(f"source: backfilled {done.rows:,} {what} before {cutoff} UTC in {done.batches} batches "
          f"({done.skipped} done by an earlier run) in {done.seconds:.1f} s ({rate:,.0f} rows/s)")


def add(store, source: ingest_otel.SpanSource, backfill: bool, batch_hours: int = ingest_otel_backfill.DEFAULT_BATCH_HOURS) -> None:
    """Add a span source, optionally backfill it, and say what was done (shared with `demo --as otel`)."""
    cutoff = _say(spans.add_source(store, source, time.time_ns()),
                  f"{source.span!r} spans of {source.table} (into requests)")
    if backfill:
        _said(spans.backfill(store, source, batch_hours, ProgressBar("backfill")), "requests from spans", cutoff)


def add_gauges(store, source: gauges.GaugeSource, backfill: bool, batch_hours: int = ingest_otel_backfill.DEFAULT_BATCH_HOURS) -> None:
    """Add a DCGM gauge source, optionally backfill it, and say what was done."""
    cutoff = _say(gauges.add_source(store, source, time.time_ns()),
                  f"DCGM gauges of {source.table} (into gpu_metrics)")
    if backfill:
        _said(gauges.backfill(store, source, batch_hours, ProgressBar("backfill")), "GPU samples from gauges", cutoff)


def add_histograms(store, source: histograms.HistogramSource, backfill: bool,
                   batch_hours: int = ingest_otel_backfill.DEFAULT_BATCH_HOURS) -> None:
    """Add a vLLM histogram source, optionally backfill it, and say what was done."""
    names = ", ".join(source.metrics.values())
    cutoff = _say(histograms.add_source(store, source, time.time_ns()),
                  f"{names} points of {source.table} (into {HISTOGRAM_ROLLUP})")
    if backfill:
        _said(histograms.backfill(store, source, batch_hours, ProgressBar("backfill")), "histogram points", cutoff)


def run(args, store) -> int:
    """Add the source named on the command line."""
    table = args.table or KINDS[args.kind]
    if args.kind == "otel-traces":
        add(store, ingest_otel.source(table, args.span, args.service, args.attribute_map), args.backfill, args.batch_hours)
    elif args.kind == "otel-gpu-metrics":
        add_gauges(store, gauges.source(table, args.attribute_map), args.backfill, args.batch_hours)
    else:
        add_histograms(store, histograms.source(table, args.attribute_map), args.backfill, args.batch_hours)
    return 0
