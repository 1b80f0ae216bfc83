"""One place for table, column and status names, and the fixed latency bucket edges."""

from __future__ import annotations

import numpy as np

# Tables
REQUESTS = "requests"
GPU_METRICS = "gpu_metrics"
DEPLOYMENTS = "deployments"
REQUESTS_5M = "requests_5m"
GPU_1H = "gpu_metrics_1h"
REQUESTS_1H = "requests_1h"  # requests_5m summed to hours (fed from requests_5m): hourly reads merge 12x fewer states
GOODPUT_5M = "requests_goodput_5m"  # 'ok' requests per (slot, ttft bucket, tpot bucket): goodput without raw scans
SCHEMA_VERSION_TABLE = "schema_version"
OTEL_SOURCES = "otel_sources"  # span tables mapped into requests by a view (analytics.store.otel)
REVIEW_NOTES = "review_notes"  # reviewers' notes and owners on incidents (the UI's one write besides uploads)
BUDGET_CORRECTIONS = "budget_corrections"  # budget corrections added from the SLOs page (analytics.store.corrections)
CORRECTION_WITHDRAWALS = "budget_correction_withdrawals"  # page corrections withdrawn from the SLOs page, who and why
TABLES = (REQUESTS, GPU_METRICS, DEPLOYMENTS, REQUESTS_5M, REQUESTS_1H, GPU_1H, GOODPUT_5M)

# Request statuses. 'rejected' (load shedding / HTTP 429) counts as bad for availability:
# the user did not get an answer. 'unknown' is a request whose outcome was not recorded (an
# arrival-only trace such as Azure's or Mooncake's): it counts toward demand, never toward
# availability, in either direction. See analytics/store/schema.py for how each is rolled up.
STATUSES = ("ok", "error", "timeout", "rejected", "unknown")
KNOWN_STATUSES = STATUSES[:-1]  # the statuses availability judges

LATENCY_FIELDS = ("ttft_ms", "tpot_ms", "e2e_ms", "queue_ms")


def hist_column(field: str) -> str:
    """Rollup column holding the histogram of a latency field (e.g. ttft_ms -> ttft_hist)."""
    return field.removesuffix("_ms") + "_hist"


REQUEST_COLUMNS = {
    "ts": "DateTime64(3, 'UTC')",
    "deployment": "LowCardinality(String)",
    "model": "LowCardinality(String)",
    "model_version": "LowCardinality(String)",
    "region": "LowCardinality(String)",
    "gpu_type": "LowCardinality(String)",
    "replica": "LowCardinality(String)",
    "status": "LowCardinality(String)",
    "queue_ms": "Nullable(Float32)",
    "ttft_ms": "Nullable(Float32)",
    "tpot_ms": "Nullable(Float32)",
    "e2e_ms": "Nullable(Float32)",
    "input_tokens": "UInt32",
    "output_tokens": "UInt32",
    # Requests this row stands for: 1 when every request is logged, 1/rate under sampling
    # (head-sampled request logs, as Honeycomb's per-event sample rate). Rollups sum weights, so
    # every count and rate downstream is in real requests.
    "weight": "UInt32",
}

GPU_COLUMNS = {
    "ts": "DateTime64(3, 'UTC')",
    "node": "LowCardinality(String)",
    "gpu": "UInt8",
    "gpu_type": "LowCardinality(String)",
    "deployment": "LowCardinality(String)",
    "region": "LowCardinality(String)",
    "gpu_util": "Nullable(Float32)",  # percent 0-100, as DCGM reports it (analytics.gpu reads it as a ratio)
    "sm_active": "Nullable(Float32)",
    "sm_occupancy": "Nullable(Float32)",
    "tensor_active": "Nullable(Float32)",
    "dram_active": "Nullable(Float32)",
    "fb_used_mib": "Nullable(Float32)",
    "fb_total_mib": "Nullable(Float32)",
    "power_w": "Nullable(Float32)",
    "temp_c": "Nullable(Float32)",
}
GPU_VALUE_COLUMNS = tuple(c for c in GPU_COLUMNS if GPU_COLUMNS[c].startswith("Nullable"))

DEPLOYMENT_COLUMNS = {
    "deployment": "String",
    "model": "String",
    "kind": "LowCardinality(String)",  # chat, code, embedding, classic
    "params_b": "Nullable(Float32)",  # model parameters, billions (for MFU estimates)
    "region": "LowCardinality(String)",
    "gpu_type": "LowCardinality(String)",
    "gpus_per_replica": "UInt16",
    "replicas": "UInt16",
    "cost_per_gpu_hour": "Float64",
    "owner": "String",
    "updated_at": "DateTime64(3, 'UTC')",
}

# Rollup slot: 5 minutes. Measured (see schema.py) so that the rollup stays ~1/20 of raw rows
# at demo rates and the SRE Workbook's shortest alert window (5m) is exactly one slot.
SLOT_SECONDS = 300

# Latency histogram edges in milliseconds: a "nice number" log series, 10 edges per decade
# (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k) from 1 ms to 800 s. Common SLO thresholds
# (100, 200, 250, 300, 500 ms, 1 s, 2 s, ...) are edges, so they are exact from the rollup;
# between edges the widest ratio is 4/3, which bounds the error (see analytics/histogram.py).
# Bucket 0 holds x <= 1 ms; bucket i holds EDGES[i-1] < x <= EDGES[i]; the last bucket holds
# x > 800 s. Upper-inclusive buckets match the SLI "good = latency <= threshold".
_MANTISSAS_TENTHS = (10, 12, 15, 20, 25, 30, 40, 50, 60, 80)  # integers: every edge is the nearest double
EDGES_MS = np.array([m * 10**d / 10 for d in range(6) for m in _MANTISSAS_TENTHS], dtype=np.float64)
N_BUCKETS = len(EDGES_MS) + 1
