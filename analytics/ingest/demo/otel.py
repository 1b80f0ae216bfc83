"""The demo fleet's requests as OpenTelemetry spans in the exporter's span table (`demo --as otel`).

No second generator: the demo generator's request frames are converted, row for row, into the
spans vLLM would have exported for them (one `llm_request` SERVER span per request, its start at
the arrival, latencies in seconds under gen_ai.latency.*), with the resource attributes the
default attribute map reads (analytics.ingest.otel.DEFAULT_ATTRIBUTES), so the source view maps
them back to the same rows. Failed requests carry StatusCode Error and error.type (timeout,
rejected or error); sampled rows carry their weight as SampleRate.
"""

from __future__ import annotations

import itertools
from datetime import datetime

import numpy as np
import polars as pl
import pyarrow as pa

from analytics.errors import InputError
from analytics.ingest.demo import generator as G
from analytics.ingest.otel import DEFAULT_SPAN
from analytics.store import otel as S
from analytics.store.client import Store
from analytics.store.journal import insert_chunk

SCOPE = "vllm.llm_engine"  # the tracer name vLLM's engine uses


def _seconds(column: str) -> pl.Expr:
    """Milliseconds (Float32) as seconds text; Float64 text round-trips, so the view gets the same Float32 back."""
    return (pl.col(column).cast(pl.Float64) / 1000).cast(pl.String)


def _map(frame: pl.DataFrame, pairs: dict[str, pl.Expr]) -> pa.MapArray:
    """An Arrow Map column (what the exporter's Map columns take) of `pairs`, null values left out."""
    n, keys = frame.height, list(pairs)
    values = frame.select(pl.concat_list([e.cast(pl.String) for e in pairs.values()]).alias("v")).to_series().explode()
    present = values.is_not_null().to_numpy()
    counts = present.reshape(n, len(keys)).sum(axis=1)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    key_index = pa.array(np.tile(np.arange(len(keys)), n)[present])
    return pa.MapArray.from_arrays(offsets, pa.array(keys, pa.string()).take(key_index),
                                   values.filter(pl.Series(present)).to_arrow().cast(pa.string()))


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


def seed(store: Store, table: str, *, days: int, seed: int = 7, end: datetime | None = None,
         **options) -> G.SeedSummary:
    """Seed the demo with its requests as spans in `table` (the exporter's DDL, created if missing);
    deployments and GPU metrics go to their own tables as in the plain demo."""
    S.create_traces_table(store, table)
    if S.table_rows(store, table):
        raise InputError(f"demo --as otel: {table} already holds spans; seed into an empty store (--dsn)")
    rng = np.random.default_rng([seed, 99])
    parts = itertools.count()

    def write(frame: pl.DataFrame) -> None:
        insert_chunk(store, table, spans(frame, rng), f"demo_spans_{next(parts)}")

    return G.seed(store, days=days, seed=seed, end=end, write_requests=write, **options)
