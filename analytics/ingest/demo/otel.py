"""The demo fleet as OpenTelemetry data in the exporter's tables (`demo --as otel` / `--as otel-metrics`).

No second generator: the demo generator's request frames are converted, row for row, into the
spans vLLM would have exported for them (one `llm_request` SERVER span per request, its start at
the arrival, latencies in seconds under gen_ai.latency.*), with the resource attributes the
default attribute map reads (analytics.ingest.otel.DEFAULT_ATTRIBUTES), so the source view maps
them back to the same rows. Failed requests carry StatusCode Error and error.type (timeout,
rejected or error); sampled rows carry their weight as SampleRate.

GPU samples become DCGM exporter gauges (one row per GPU, field and scrape, labels Hostname, gpu,
modelName, UUID and the pod of a Kubernetes Deployment; framebuffer total as FB_FREE = total -
used), which the gauge source pivots back to the same rows. The 'ok' requests' latencies become
vLLM's cumulative histograms (vLLM's bucket bounds, one series per deployment and field, one point
at the end of every 5-minute slot, the replica restarting every day at 03:00 UTC: a counter reset
with a new StartTimeUnix), as the collector's Prometheus receiver would store them. Unlike vLLM,
whose time_per_output_token histogram observes every token gap, the demo observes each request's
mean TPOT once (with its weight), so the demo's histogram events are the spans' events.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

from analytics.errors import InputError
from analytics.ingest import gauges as ingest_gauges
from analytics.ingest import histograms as ingest_histograms
from analytics.ingest.demo import generator as demo_generator
from analytics.ingest.otel import DEFAULT_SPAN
from analytics.store import conventions
from analytics.store import otel as store_otel
from analytics.store import otel_metrics as store_otel_metrics
from analytics.store.client import Store
from analytics.store.journal import insert_chunk

SCOPE = "vllm.llm_engine"  # the tracer name vLLM's engine uses


def _seconds(column: str) -> pl.Expr:
    """Milliseconds (Float32) as seconds text; Float64 text round-trips, so the view gets the same Float32 back."""
    return (pl.col(column).cast(pl.Float64) / 1000).cast(pl.String)


def _map(frame: pl.DataFrame, pairs: dict[str, pl.Expr]) -> pa.MapArray:
    """An Arrow Map column (what the exporter's Map columns take) of `pairs`, null values left out."""
    n, keys = frame.height, list(pairs)
    columns = frame.select([e.cast(pl.String).alias(f"c{i}") for i, e in enumerate(pairs.values())])
    by_key = pa.concat_arrays([columns.to_series(i).to_arrow().cast(pa.string()) for i in range(len(keys))])
    row_major = (np.arange(len(keys))[None, :] * n + np.arange(n)[:, None]).ravel()  # row by row, key by key
    values = by_key.take(pa.array(row_major))
    present = values.is_valid().to_numpy(zero_copy_only=False)
    counts = present.reshape(n, len(keys)).sum(axis=1)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    key_index = pa.array(np.tile(np.arange(len(keys)), n)[present])
    return pa.MapArray.from_arrays(offsets, pa.array(keys, pa.string()).take(key_index),
                                   values.filter(pa.array(present)))


def spans(requests: pl.DataFrame, rng: np.random.Generator) -> pa.Table:
    """The exporter's span rows for the demo generator's request rows."""
    n = requests.height
    frame = requests.with_columns(id=pl.Series(np.frombuffer(rng.bytes(24 * n), dtype="S24")).bin.encode("hex"))
    failed = pl.col("status") != "ok"
    decode = pl.col("tpot_ms").cast(pl.Float64) * (pl.col("output_tokens").cast(pl.Float64) - 1)
    resource = _map(frame, {
        "service.name": pl.col("deployment"), "service.version": pl.col("model_version"),
        "service.instance.id": pl.col("replica"), "cloud.region": pl.col("region"), "gpu.type": pl.col("gpu_type"),
    })
    attributes = _map(frame, {
        "gen_ai.request.id": pl.col("id").str.slice(0, 16),
        "gen_ai.response.model": pl.col("model"),
        "gen_ai.usage.prompt_tokens": pl.col("input_tokens"),
        "gen_ai.usage.completion_tokens": pl.col("output_tokens"),
        "gen_ai.latency.time_in_queue": _seconds("queue_ms"),
        "gen_ai.latency.time_to_first_token": _seconds("ttft_ms"),
        "gen_ai.latency.e2e": _seconds("e2e_ms"),
        "gen_ai.latency.time_in_model_decode": (decode / 1000).cast(pl.String),
        "SampleRate": pl.when(pl.col("weight") != 1).then(pl.col("weight")),
        "error.type": pl.when(failed).then(pl.col("status")),
    })
    table = frame.select(
        Timestamp=pl.col("ts").cast(pl.Datetime("ns", "UTC")),
        TraceId=pl.col("id").str.slice(0, 32),
        SpanId=pl.col("id").str.slice(32, 16),
        SpanName=pl.lit(DEFAULT_SPAN),
        SpanKind=pl.lit("Server"),
        ServiceName=pl.col("deployment"),
        ScopeName=pl.lit(SCOPE),
        Duration=(pl.col("e2e_ms").cast(pl.Float64) * 1e6).round().cast(pl.UInt64),
        StatusCode=pl.when(failed).then(pl.lit("Error")).otherwise(pl.lit("Unset")),
    ).to_arrow()
    return table.append_column("ResourceAttributes", resource).append_column("SpanAttributes", attributes)


# gpu_metrics column -> the DCGM field the exporter names it by (fb_total_mib: as FB_FREE, below)
DCGM_NAMES = {column: name for name, (column, _low, _high) in ingest_gauges.FIELDS.items()}
POD_HASH = "6f7d9c8b5"  # a ReplicaSet's pod-template-hash; the gauge source strips it to the deployment


def gauges(gpu: pl.DataFrame) -> pa.Table:
    """DCGM exporter gauge rows (one per GPU, field and scrape) for gpu_metrics rows; NULL fields are
    not exported (as dcgm-exporter leaves out profiling fields that are off)."""
    frame = gpu.with_columns(
        DCGM_FI_DEV_FB_FREE=(pl.col("fb_total_mib").cast(pl.Float64) - pl.col("fb_used_mib").cast(pl.Float64)),
        pod=pl.concat_str([pl.col("deployment"), pl.lit(f"-{POD_HASH}-q"),
                           pl.col("node").str.extract(r"(\d+)$").str.zfill(4)]),
    ).rename(DCGM_NAMES)
    long = frame.unpivot(on=[*DCGM_NAMES.values(), "DCGM_FI_DEV_FB_FREE"],
                         index=["ts", "node", "gpu", "gpu_type", "region", "pod"],
                         variable_name="MetricName", value_name="Value").drop_nulls("Value")
    long = long.with_columns(uuid=pl.concat_str([pl.lit("GPU-"), pl.col("node"), pl.lit("-"),
                                                 pl.col("gpu").cast(pl.String)]))
    table = long.select(
        ServiceName=pl.lit("dcgm-exporter"),
        MetricName=pl.col("MetricName"),
        TimeUnix=pl.col("ts").cast(pl.Datetime("ns", "UTC")),
        Value=pl.col("Value").cast(pl.Float64),
    ).to_arrow()
    attributes = _map(long, {"Hostname": pl.col("node"), "gpu": pl.col("gpu").cast(pl.String),
                             "modelName": pl.col("gpu_type"), "UUID": pl.col("uuid"), "pod": pl.col("pod")})
    resource = _map(long, {"cloud.region": pl.col("region"), "service.name": pl.lit("dcgm-exporter")})
    return table.append_column("Attributes", attributes).append_column("ResourceAttributes", resource)


KEYS = ("deployment", "model", "region", "field", "slot", "bucket")
RESTART_SLOT = 36  # 03:00 UTC: the demo's vLLM replicas restart daily, resetting their counters


class HistogramWriter:
    """Collects the 'ok' requests' latencies per (deployment, field, slot, vLLM bucket) and writes
    them as cumulative histogram points once every request has been seen."""

    def __init__(self, start: datetime, n_slots: int):
        self.start, self.n_slots = start, n_slots
        self.parts: list[pl.DataFrame] = []

    def add(self, requests: pl.DataFrame) -> None:
        """Count a frame of request rows."""
        ok = requests.filter(pl.col("status") == "ok")
        base = int(self.start.timestamp())
        for field, bounds in ingest_histograms.VLLM_BOUNDS.items():
            rows = ok.filter(pl.col(field).is_not_null())
            edges = np.array(bounds) * ingest_histograms.SECONDS_TO_MS
            values = rows[field].cast(pl.Float64).to_numpy()
            # OTLP buckets are upper-inclusive: bucket i counts b[i-1] < x <= b[i] (metrics.proto)
            bucket = np.searchsorted(edges, values, side="left")
            slot = (rows["ts"].dt.epoch("s").to_numpy() - base) // conventions.SLOT_SECONDS
            self.parts.append(pl.DataFrame({  # summed per chunk: memory grows with slots, not requests
                "deployment": rows["deployment"], "model": rows["model"], "region": rows["region"],
                "field": field, "slot": slot, "bucket": bucket, "n": rows["weight"].cast(pl.Int64),
                "sum": values / ingest_histograms.SECONDS_TO_MS * rows["weight"].cast(pl.Float64).to_numpy(),
            }).group_by(KEYS).agg(pl.col("n").sum(), pl.col("sum").sum()))

    def table(self) -> pa.Table:
        """The histogram points: per series, one at the end of every slot from the start on."""
        if not self.parts:
            return pa.table({})
        grouped = pl.concat(self.parts).group_by(KEYS).agg(pl.col("n").sum(), pl.col("sum").sum())
        points = []
        for (deployment, model, region, field), part in grouped.group_by("deployment", "model", "region", "field"):
            width = len(ingest_histograms.VLLM_BOUNDS[field]) + 1
            counts = np.zeros((self.n_slots, width), dtype=np.int64)
            sums = np.zeros(self.n_slots)
            slot, bucket = part["slot"].to_numpy(), part["bucket"].to_numpy()
            keep = (slot >= 0) & (slot < self.n_slots)
            np.add.at(counts, (slot[keep], bucket[keep]), part["n"].to_numpy()[keep])
            np.add.at(sums, slot[keep], part["sum"].to_numpy()[keep])
            of_day = (int(self.start.timestamp()) // conventions.SLOT_SECONDS + np.arange(self.n_slots)) % (86400 // conventions.SLOT_SECONDS)
            run = np.maximum.accumulate(np.where(of_day == RESTART_SLOT, np.arange(self.n_slots), 0))
            cum, total = np.zeros_like(counts), np.zeros_like(sums)
            for first in np.unique(run):  # cumulative within each run of the counter
                rows = run == first
                cum[rows], total[rows] = np.cumsum(counts[rows], axis=0), np.cumsum(sums[rows])
            base = np.datetime64(self.start.astimezone(UTC).replace(tzinfo=None), "ms")
            slot_ms = np.arange(self.n_slots) * conventions.SLOT_SECONDS * 1000
            points.append(pl.DataFrame({
                "ServiceName": "vllm", "MetricName": ingest_histograms.DEFAULT_METRICS[field],
                "StartTimeUnix": pl.Series(base + (run * conventions.SLOT_SECONDS * 1000).astype("timedelta64[ms]")),
                "TimeUnix": pl.Series(base + (slot_ms + conventions.SLOT_SECONDS * 1000 - 1).astype("timedelta64[ms]")),
                "Count": cum.sum(axis=1).astype(np.uint64), "Sum": total,
                "BucketCounts": pl.Series(cum.astype(np.uint64)).cast(pl.List(pl.UInt64)),
                "ExplicitBounds": pl.Series(np.tile(np.array(ingest_histograms.VLLM_BOUNDS[field]), (self.n_slots, 1)))
                .cast(pl.List(pl.Float64)),
                "AggregationTemporality": np.full(self.n_slots, 2, dtype=np.int32),
                "deployment": deployment, "model": model, "region": region,
            }))
        frame = pl.concat(points).with_columns(pl.col("StartTimeUnix", "TimeUnix").cast(pl.Datetime("ns", "UTC")))
        table = frame.drop("deployment", "model", "region").to_arrow()
        attributes = _map(frame, {"model_name": pl.col("model")})
        resource = _map(frame, {"k8s.deployment.name": pl.col("deployment"), "cloud.region": pl.col("region"),
                                "service.name": pl.lit("vllm")})
        return table.append_column("Attributes", attributes).append_column("ResourceAttributes", resource)


def seed(store: Store, tables: dict[str, str], *, days: int, seed: int = 7, end: datetime | None = None,
         spans_too: bool = True, **options) -> demo_generator.SeedSummary:
    """Seed the demo in the exporter's tables (`tables`: "traces", "gauge", "histogram" -> name; each
    created with the exporter's DDL if missing): requests as spans (unless not `spans_too`), GPU
    samples as DCGM gauges, the 'ok' requests' latencies as vLLM histograms; deployments go to their
    own table as in the plain demo."""
    if spans_too:
        store_otel.create_traces_table(store, tables["traces"])
    store_otel_metrics.create_table(store, store_otel_metrics.gauge_table_ddl(tables["gauge"]))
    store_otel_metrics.create_table(store, store_otel_metrics.histogram_table_ddl(tables["histogram"]))
    for kind, table in tables.items():
        if (spans_too or kind != "traces") and store_otel.table_rows(store, table):
            raise InputError(f"demo --as otel: {table} already holds rows; seed into an empty store (--dsn)")
    rng = np.random.default_rng([seed, 99])
    parts = itertools.count()
    end = demo_generator.default_end() if end is None else end.astimezone(UTC)
    start = end - timedelta(days=days)
    histograms = HistogramWriter(start, days * 86400 // conventions.SLOT_SECONDS)

    def write_requests(frame: pl.DataFrame) -> None:
        histograms.add(frame)
        if spans_too:
            insert_chunk(store, tables["traces"], spans(frame, rng), f"demo_spans_{next(parts)}")

    def write_gpu(frame: pl.DataFrame) -> None:
        insert_chunk(store, tables["gauge"], gauges(frame), f"demo_gauges_{next(parts)}")

    summary = demo_generator.seed(store, days=days, seed=seed, end=end, write_requests=write_requests, write_gpu=write_gpu,
                     **options)
    points = histograms.table()
    for offset in range(0, points.num_rows, demo_generator.INSERT_ROWS):
        insert_chunk(store, tables["histogram"], points.slice(offset, demo_generator.INSERT_ROWS), f"demo_hist_{next(parts)}")
    return summary
