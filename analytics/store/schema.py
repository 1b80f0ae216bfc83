"""Versioned, idempotent DDL: raw tables, rollup tables and the materialized views feeding them.

Rollup layout, measured on this 2-core machine (see `python -m analytics bench` and the
foundation issue note):
- requests_5m: one row per (deployment, 5-minute slot, region, model, model_version, gpu_type),
  with counts by status, token sums and, for each latency field, a 61-bucket histogram of the
  'ok' requests stored as a ``sumResample`` state. Every count is a sum of the rows' `weight`
  (requests each row stands for), so sampled request logs roll up to real volumes. A row per minute and bucket gave almost no
  reduction (8.9M rollup rows for 10M requests); the 5-minute array layout gives ~170k rows
  for 20 deployments x 30 days whatever the request rate, and reading one deployment's 30 days
  of histograms takes tens of ms. ``countResampleState`` ingested about 3x faster than
  ``sumForEach`` over arrays and read much faster than a Map column; the weighted
  ``sumResampleState`` keeps that layout (ingest rate: see `python -m analytics bench`).
- Time keys are DateTime64(0, 'UTC'): ClickHouse's Arrow output turns DateTime into bare
  UInt32, DateTime64 into a zoned timestamp.
- gpu_metrics_1h: one row per GPU and hour with sums and non-null counts of every DCGM field
  (means are sum / n, so NULL profiling fields never drag a mean to zero) and the peak memory.
"""

from __future__ import annotations

from analytics.store import conventions as N
from analytics.store.client import Store
from analytics.store.conventions import hist_column

SCHEMA_VERSION = 1

# DCGM reports a blank (no data) value as a sentinel: integers >= 9223372036854775792 and
# floats >= 2^47 (DCGM API reference, "Blank values", dcgm_structs.h DCGM_FT_*_BLANK).
DCGM_FLOAT_BLANK = float(2**47)


COLUMN_DEFAULTS = {"weight": "1"}  # rows loaded without a weight stand for one request


def _columns(spec: dict[str, str]) -> str:
    return ",\n    ".join(
        f"{name} {type_}" + (f" DEFAULT {COLUMN_DEFAULTS[name]}" if name in COLUMN_DEFAULTS else "")
        for name, type_ in spec.items()
    )


def bucket_expr(field: str) -> str:
    """Histogram bucket of an 'ok' request's latency; 255 (outside the resample range) otherwise.

    roundDown(-x, -edges) finds the smallest edge >= x by binary search (17 ns/row measured,
    vs 106 ns/row for arrayCount over the edges); transform maps that edge to its bucket.
    """
    neg_edges = [-1e300] + [-float(e) for e in reversed(N.EDGES_MS)]
    indexes = [len(N.EDGES_MS)] + list(range(len(N.EDGES_MS) - 1, -1, -1))
    neg = "[" + ", ".join(repr(v) for v in neg_edges) + "]"
    idx = "[" + ", ".join(str(i) for i in indexes) + "]"
    return (
        f"toUInt8(if(status = 'ok' AND isNotNull({field}), "
        f"transform(roundDown(-toFloat64(assumeNotNull({field})), {neg}), {neg}, {idx}, 255), 255))"
    )


def _hist_state(field: str) -> str:
    return f"sumResampleState(0, {N.N_BUCKETS}, 1)(toUInt64(src.weight), {bucket_expr(field)}) AS {hist_column(field)}"


HIST_TYPE = f"AggregateFunction(sumResample(0, {N.N_BUCKETS}, 1), UInt64, UInt8)"
# Reads a histogram state column back as Array(UInt64) of weighted counts per bucket.
HIST_MERGE = f"sumResampleMerge(0, {N.N_BUCKETS}, 1)"
ROLLUP_KEYS = ("deployment", "slot", "region", "model", "model_version", "gpu_type")
STATUS_COLUMNS = {status: f"sumIf(src.weight, status = '{status}')" for status in N.STATUSES}
GPU_KEYS = ("deployment", "hour", "node", "gpu", "gpu_type", "region")


def _ddl() -> list[str]:
    sum_u64 = "SimpleAggregateFunction(sum, UInt64)"
    sum_f64 = "SimpleAggregateFunction(sum, Float64)"
    request_rollup_columns = {
        "slot": "DateTime64(0, 'UTC')",
        "deployment": "LowCardinality(String)",
        "region": "LowCardinality(String)",
        "model": "LowCardinality(String)",
        "model_version": "LowCardinality(String)",
        "gpu_type": "LowCardinality(String)",
        "requests": sum_u64,
        **{status: sum_u64 for status in N.STATUSES},
        "input_tokens": sum_u64,
        "output_tokens": sum_u64,
        "ok_output_tokens": sum_u64,
        "e2e_ms_sum": sum_f64,
        **{hist_column(f): HIST_TYPE for f in N.LATENCY_FIELDS},
    }
    request_rollup_select = ",\n    ".join(
        [
            "toStartOfInterval(ts, INTERVAL 5 MINUTE) AS slot",
            "deployment, region, model, model_version, gpu_type",
            "sum(src.weight) AS requests",
            *(f"{expr} AS {status}" for status, expr in STATUS_COLUMNS.items()),
            "sum(toUInt64(src.input_tokens) * src.weight) AS input_tokens",
            "sum(toUInt64(src.output_tokens) * src.weight) AS output_tokens",
            "sumIf(toUInt64(src.output_tokens) * src.weight, status = 'ok') AS ok_output_tokens",
            "sumIf(toFloat64(ifNull(e2e_ms, 0)) * src.weight, status = 'ok') AS e2e_ms_sum",
            *(_hist_state(f) for f in N.LATENCY_FIELDS),
        ]
    )
    gpu_rollup_columns = {
        "hour": "DateTime64(0, 'UTC')",
        "deployment": "LowCardinality(String)",
        "node": "LowCardinality(String)",
        "gpu": "UInt8",
        "gpu_type": "LowCardinality(String)",
        "region": "LowCardinality(String)",
        "samples": sum_u64,
        **{f"{m}_sum": sum_f64 for m in N.GPU_VALUE_COLUMNS},
        **{f"{m}_n": sum_u64 for m in N.GPU_VALUE_COLUMNS},
        "fb_used_mib_max": "SimpleAggregateFunction(max, Float64)",
    }
    valid = {m: f"isNotNull({m}) AND {m} < {DCGM_FLOAT_BLANK!r}" for m in N.GPU_VALUE_COLUMNS}
    gpu_rollup_select = ",\n    ".join(
        [
            "toStartOfHour(ts) AS hour",
            "deployment, node, gpu, gpu_type, region",
            "count() AS samples",
            *(f"sumIf(toFloat64(assumeNotNull({m})), {valid[m]}) AS {m}_sum" for m in valid),
            *(f"countIf({valid[m]}) AS {m}_n" for m in valid),
            f"maxIf(toFloat64(assumeNotNull(fb_used_mib)), {valid['fb_used_mib']}) AS fb_used_mib_max",
        ]
    )
    return [
        f"""CREATE TABLE IF NOT EXISTS {N.SCHEMA_VERSION_TABLE} (
    version UInt32, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree ORDER BY version""",
        f"""CREATE TABLE IF NOT EXISTS {N.REQUESTS} (
    {_columns(N.REQUEST_COLUMNS)}
) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (deployment, ts)""",
        f"""CREATE TABLE IF NOT EXISTS {N.GPU_METRICS} (
    {_columns(N.GPU_COLUMNS)}
) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (deployment, node, gpu, ts)""",
        f"""CREATE TABLE IF NOT EXISTS {N.DEPLOYMENTS} (
    {_columns(N.DEPLOYMENT_COLUMNS)}
) ENGINE = ReplacingMergeTree(updated_at) ORDER BY deployment""",
        f"""CREATE TABLE IF NOT EXISTS {N.REQUESTS_5M} (
    {_columns(request_rollup_columns)}
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(slot)
ORDER BY ({", ".join(ROLLUP_KEYS)})""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {N.REQUESTS_5M}_mv TO {N.REQUESTS_5M} AS
SELECT
    {request_rollup_select}
FROM {N.REQUESTS} AS src
GROUP BY {", ".join(ROLLUP_KEYS)}""",
        f"""CREATE TABLE IF NOT EXISTS {N.GPU_1H} (
    {_columns(gpu_rollup_columns)}
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(hour)
ORDER BY ({", ".join(GPU_KEYS)})""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {N.GPU_1H}_mv TO {N.GPU_1H} AS
SELECT
    {gpu_rollup_select}
FROM {N.GPU_METRICS}
GROUP BY {", ".join(GPU_KEYS)}""",
    ]


DDL = _ddl()


def ensure_schema(store: Store) -> None:
    """Create every table and view if missing, and record the schema version (idempotent)."""
    for statement in DDL:
        store.command(statement)
    current = store.scalar(f"SELECT max(version) FROM {N.SCHEMA_VERSION_TABLE}")
    if not current or current < SCHEMA_VERSION:
        store.command(
            f"INSERT INTO {N.SCHEMA_VERSION_TABLE} (version) VALUES ({{v:UInt32}})",
            {"v": SCHEMA_VERSION},
        )


def open_store(dsn: str) -> Store:
    """Open a store and make sure the schema exists."""
    store = Store(dsn)
    ensure_schema(store)
    return store
