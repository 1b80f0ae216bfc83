"""Small hand-made frames shaped like the GPU and request rollups, for the GPU tests.

Values are given per sample, the way the materialized views see them; the builders sum and count
them exactly like gpu_metrics_1h (sum / non-null count) and requests_5m (histograms of 'ok'
requests on analytics.store.conventions.EDGES_MS, upper-inclusive buckets).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from analytics.gpu import efficiency as gpu
from analytics.slo.spec import Slo, parse_slo
from analytics.store import conventions
from analytics.store.conventions import hist_column

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, far from the demo data


def hour(i: int) -> datetime:
    """The i-th hour after T0."""
    return T0 + timedelta(hours=i)


def gpu_hour(deployment: str, node: str, gpu_index: int, at: int, *, gpu_type: str = "A100-80GB",
             region: str = "us-east", **samples: list) -> dict:
    """One gpu_metrics_1h row from per-sample values (None = NULL or a DCGM blank, excluded)."""
    n_samples = max((len(v) for v in samples.values()), default=1)
    row = {"hour": hour(at), "deployment": deployment, "node": node, "gpu": gpu_index,
           "gpu_type": gpu_type, "region": region, "samples": n_samples}
    for metric in conventions.GPU_VALUE_COLUMNS:
        values = [v for v in samples.get(metric, []) if v is not None]
        row[f"{metric}_sum"] = float(sum(values))
        row[f"{metric}_n"] = len(values)
    used = [v for v in samples.get("fb_used_mib", []) if v is not None]
    row["fb_used_mib_max"] = float(max(used)) if used else 0.0  # maxIf over nothing is 0 in ClickHouse
    return row


def gpu_hours(rows: list[dict]) -> pl.DataFrame:
    """A GPU-hours frame as analytics.gpu.efficiency.merge_gpu_hours returns it."""
    frame = pl.DataFrame(rows, schema_overrides={"hour": pl.Datetime("us", "UTC"), "gpu": pl.UInt8,
                                                 "samples": pl.UInt64,
                                                 **{f"{m}_n": pl.UInt64 for m in conventions.GPU_VALUE_COLUMNS}})
    return gpu.with_means(frame)


def histogram(values: list[float]) -> list[int]:
    """Counts per bucket: bucket i holds EDGES[i-1] < x <= EDGES[i] (analytics.store.conventions)."""
    counts = np.zeros(conventions.N_BUCKETS, dtype=np.int64)
    for v in values:
        counts[int(np.searchsorted(conventions.EDGES_MS, v, side="left"))] += 1
    return counts.tolist()


def request_hour(deployment: str, at: int, *, requests: int | None = None, input_tokens: int = 0,
                 output_tokens: int = 0, **latencies: list[float]) -> dict:
    """One hourly request-rollup row; latencies are the 'ok' requests' values per field."""
    ok = max((len(v) for v in latencies.values()), default=0)
    row = {"slot": hour(at), "deployment": deployment, "requests": requests if requests is not None else ok,
           "ok": ok, "input_tokens": input_tokens, "output_tokens": output_tokens}
    for field in conventions.LATENCY_FIELDS:
        row[hist_column(field)] = histogram(latencies.get(field, []))
    return row


def request_hours(rows: list[dict]) -> pl.DataFrame:
    """An hourly request frame as analytics.store.queries.request_slots(step_seconds=3600) returns it."""
    schema = {"slot": pl.Datetime("us", "UTC"), "deployment": pl.String, "requests": pl.UInt64, "ok": pl.UInt64,
              "input_tokens": pl.UInt64, "output_tokens": pl.UInt64,
              **{hist_column(f): pl.List(pl.UInt64) for f in conventions.LATENCY_FIELDS}}
    return pl.DataFrame(rows, schema=schema)


def deployments(rows: list[dict]) -> pl.DataFrame:
    """A deployments table frame (defaults fill the columns a test does not care about)."""
    defaults = {"model": "m", "kind": "chat", "params_b": None, "region": "us-east", "gpu_type": "A100-80GB",
                "gpus_per_replica": 1, "replicas": 1, "cost_per_gpu_hour": 1.0, "owner": "o"}
    return pl.DataFrame([defaults | r for r in rows],
                        schema_overrides={"params_b": pl.Float32, "gpus_per_replica": pl.UInt16, "replicas": pl.UInt16})


def data(gpu_rows: list[dict], request_rows: list[dict], deployment_rows: list[dict], hours: int = 24) -> gpu.GpuData:
    """A GpuData bundle over [T0, T0 + hours)."""
    return gpu.GpuData(T0, hour(hours), gpu_hours(gpu_rows), request_hours(request_rows), deployments(deployment_rows))


def latency_slo(deployment: str, target: float = 99, **thresholds: float) -> tuple[Slo, ...]:
    """One latency SLO per field (e.g. ttft_ms=500) covering one deployment, as parsed from a file."""
    return tuple(
        parse_slo({"name": f"{deployment}-{field}", "deployments": deployment, "target": target, "window": "28d",
                   "sli": {"latency": {"field": field, "threshold_ms": ms}}})
        for field, ms in thresholds.items()
    )
