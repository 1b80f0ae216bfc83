"""vLLM's request-latency histograms in the OpenTelemetry exporter's histogram table as an SLI source.

`add_source` DESCs the histogram table, refuses one it cannot read, and creates the rollup
otel_histogram_5m and a materialized view into it (analytics.store.otel_metrics: per series, run
and 5-minute slot, the first and last cumulative bucket counts). The SLO engine differences them
when it reads (analytics.slo.exported: per series, a counter reset is a changed StartTimeUnix or a
count that went down) and uses them for a scope whose deployments have no request rows (spans or
uploads) in the window: latency SLIs are then exact at the exporter's bucket bounds and bounded
between them, and the output names the source (`source` in `slo --json`).

What the histograms cannot give: availability (vLLM counts finished requests, not failed ones) and
goodput (no joint TTFT x TPOT distribution); those SLIs have no data from histograms alone. And
`vllm:time_per_output_token_seconds` observes every inter-token gap, so its events are tokens, not
requests (the spans' tpot is one mean per request).

`backfill` rolls up what was there before the cut-off, batch by batch; re-rolling a point changes
nothing (argMin / argMax of the same points), so a rerun is harmless and no journal is needed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from analytics.errors import InputError
from analytics.ingest import otel as ingest_otel
from analytics.ingest import otel_backfill as ingest_otel_backfill
from analytics.ingest.gauges import check_columns
from analytics.store import otel as store_otel
from analytics.store import otel_metrics as store_otel_metrics
from analytics.store.client import Store

DEFAULT_TABLE = "otel_metrics_histogram"
# Our latency field -> vLLM's histogram (vllm/engine/metrics.py; unit seconds).
DEFAULT_METRICS: dict[str, str] = {
    "ttft_ms": "vllm:time_to_first_token_seconds",
    "tpot_ms": "vllm:time_per_output_token_seconds",
    "e2e_ms": "vllm:e2e_request_latency_seconds",
    "queue_ms": "vllm:request_queue_time_seconds",
}
DEFAULT_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "deployment": ("deployment", "k8s.deployment.name"),  # else the ServiceName (the scrape job)
    "model": ("model_name",),  # vLLM's label
    "region": ("region", "cloud.region"),
}
SECONDS_TO_MS = 1000.0
# vLLM's bucket bounds in seconds (vllm/engine/metrics.py, v0.6-v0.8), for the demo and docs.
VLLM_BOUNDS: dict[str, tuple[float, ...]] = {
    "ttft_ms": (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0, 160.0, 640.0, 2560.0),
    "tpot_ms": (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0),
    "e2e_ms": (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
               480.0, 960.0, 1920.0, 7680.0),
    "queue_ms": (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
                 480.0, 960.0, 1920.0, 7680.0),
}

_STRING = ("String", "LowCardinality(String)")
_MAP = ("Map(LowCardinality(String), String)", "Map(String, String)")
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "TimeUnix": ("DateTime64(",),
    "StartTimeUnix": ("DateTime64(",),
    "ServiceName": _STRING,
    "MetricName": _STRING,
    "BucketCounts": ("Array(UInt64)",),
    "ExplicitBounds": ("Array(Float64)",),
    "Attributes": _MAP,
    "ResourceAttributes": _MAP,
}
TEMPORALITY_COLUMNS = ("AggregationTemporality", "AggTemp")  # the newer name first (notes/otel-clickhouse.md)


@dataclass(frozen=True)
class HistogramSource:
    """Which histogram table feeds otel_histogram_5m, which metric is which field, and the labels."""

    table: str = DEFAULT_TABLE
    metrics: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_METRICS))
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ATTRIBUTES))

    @property
    def view(self) -> str:
        """The materialized view feeding the histogram rollup from this table."""
        return f"{store_otel_metrics.HISTOGRAM_ROLLUP}_from_{self.table.rpartition('.')[2]}_mv"


def source(table: str = DEFAULT_TABLE, attribute_map: Path | None = None) -> HistogramSource:
    """The histogram source from command-line values and an optional map file: label fields
    (deployment, model, region) name attributes, latency fields (ttft_ms, ...) a metric name ([] = unused)."""
    defaults = {**DEFAULT_ATTRIBUTES, **{f: (m,) for f, m in DEFAULT_METRICS.items()}}
    overrides = ingest_otel.read_attribute_map(attribute_map, defaults) if attribute_map is not None else {}
    merged = {**defaults, **overrides}
    for name in DEFAULT_METRICS:
        if len(merged[name]) > 1:
            raise InputError(f"{attribute_map}: key {name!r}: one metric name (or []), got {list(merged[name])}")
    metrics = {f: merged[f][0] for f in DEFAULT_METRICS if merged[f]}
    attributes = {k: merged[k] for k in DEFAULT_ATTRIBUTES}
    return HistogramSource(ingest_otel.check_table_name(table), metrics, attributes)


def _temporality(table: str, columns: Mapping[str, str]) -> str:
    for name in TEMPORALITY_COLUMNS:
        if name in columns:
            return name
    raise InputError(f"{table}: no column AggregationTemporality (or AggTemp); is this the exporter's histogram table?")


def _select(store: Store, src: HistogramSource, time_filter: str) -> tuple[str, dict]:
    columns = store_otel.describe(store, src.table)
    if columns is None:
        raise InputError(f"--table {src.table}: no such table in {store.target} "
                         "(the exporter creates otel_metrics_histogram unless create_schema is false)")
    check_columns(src.table, columns, REQUIRED_COLUMNS, "histogram")
    return store_otel_metrics.histogram_select(src.table, src.attributes, src.metrics, _temporality(src.table, columns),
                              SECONDS_TO_MS, store_otel_metrics.GPU_TIME_FILTERS[time_filter])


def _definition(src: HistogramSource) -> str:
    return json.dumps({"table": src.table, "kind": "otel-histograms", "metrics": dict(src.metrics),
                       "attributes": {k: list(v) for k, v in src.attributes.items()}}, sort_keys=True)


def add_source(store: Store, src: HistogramSource, now_ns: int) -> ingest_otel_backfill.Added:
    """Create the rollup and the view feeding it from `src`'s histograms, from `now_ns` on (idempotent)."""
    select, params = _select(store, src, "view")
    return ingest_otel_backfill.add_view(store, src.view, src.table, _definition(src), now_ns,
                      lambda cutoff: store_otel_metrics.create_histogram_view(store, src.view, select, params, cutoff))


def backfill(store: Store, src: HistogramSource, batch_hours: int = ingest_otel_backfill.DEFAULT_BATCH_HOURS,
             progress: ingest_otel_backfill.Progress | None = None) -> ingest_otel_backfill.Backfilled:
    """Roll up the histogram points from before the source's cut-off, batch by batch."""
    started = time.monotonic()
    cutoff = ingest_otel_backfill.cutoff_of(store, src.view, src.table)
    if batch_hours < 1:
        raise InputError(f"--batch-hours {batch_hours}: must be at least 1")
    select, params = _select(store, src, "batch")
    span = store_otel_metrics.histogram_range(store, src.table, list(src.metrics.values()), cutoff)
    step = batch_hours * 3600 * ingest_otel_backfill.NS
    bounds = [] if span is None else list(range(span[0] - span[0] % step, span[1] + 1, step))
    for i, lo in enumerate(bounds):
        store_otel_metrics.insert_histograms(store, select, params, lo, min(lo + step, cutoff))
        if progress:
            progress((i + 1) / len(bounds), f"batch {i + 1} of {len(bounds)}")
    rows = 0 if span is None else span[2]
    if progress:
        progress(1.0, f"{rows:,} histogram points")
    return ingest_otel_backfill.Backfilled(rows, len(bounds), 0, time.monotonic() - started)
