"""SQL of the OpenTelemetry metric sources: the exporter's metric tables, DCGM gauges into
gpu_metrics, and vLLM's cumulative histograms into a rollup of their own.

Gauges (analytics.ingest.gauges): DCGM exporter writes one gauge row per (GPU, field, scrape); the
view pivots them per (deployment, node, gpu, time) with one `maxIf` per field, *within the block
the exporter inserted*. A materialized view sees one insert block at a time, so a scrape split
over two inserts gives two gpu_metrics rows for the same time, each with the fields of its block
and NULL elsewhere. That is harmless for every figure the app shows: gpu_metrics_1h keeps a sum
and a count of non-NULL values per field (means are sum / n, analytics.store.schema), so a split
scrape changes no mean, no peak and no GPU-hour; only `samples` (rows) counts it twice, and the
framebuffer total (used + free) is left NULL on a row that lacks either part. A long staging table
with a pivot on read or a second refresh step would avoid that, at the price of a step that is not
live (a refreshable view or a command), which is what a source is meant to avoid.

Histograms (analytics.ingest.histograms): a cumulative histogram cannot be differenced inside a
view (the previous point is in an earlier block), so the view keeps, per series (a hash of its
service, attributes and resource attributes), run (StartTimeUnix, which changes on a counter
reset) and 5-minute slot, the first and last cumulative bucket counts (argMin / argMax by time,
AggregatingMergeTree). Re-inserting the same points changes nothing (the arg of the same time is
the same array), so a backfill needs no journal. The differences are taken when reading
(analytics.slo.exported): ~300 rows per series and day, in the exporter's own bucket bounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from analytics.store import conventions
from analytics.store.client import Store
from analytics.store.ddl import Engine, Layout, layout_of
from analytics.store.otel import first_attribute

ATTRS = "Map(LowCardinality(String), String)"
_COMMON = f"""    ResourceAttributes {ATTRS} CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes {ATTRS} CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes {ATTRS} CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),"""
_EXEMPLARS = f"""    Exemplars Nested (
        FilteredAttributes {ATTRS},
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),"""
_TAIL = """    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""


def gauge_table_ddl(table: str) -> str:
    """The exporter's gauge table (internal/sqltemplates/metrics_gauge_table.sql,
    opentelemetry-collector-contrib @e3bd2d1d), plain MergeTree. `table` must be a checked identifier."""
    return f"""CREATE TABLE IF NOT EXISTS {table} (
{_COMMON}
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
{_EXEMPLARS}
{_TAIL}"""


def histogram_table_ddl(table: str) -> str:
    """The exporter's histogram table (internal/sqltemplates/metrics_histogram_table.sql,
    opentelemetry-collector-contrib @61540ced), plain MergeTree. `table` must be a checked identifier."""
    return f"""CREATE TABLE IF NOT EXISTS {table} (
{_COMMON}
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
{_EXEMPLARS}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
{_TAIL}"""


def create_table(store: Store, ddl: str) -> None:
    """Create an exporter table from its DDL (gauge_table_ddl / histogram_table_ddl)."""
    store.command(ddl)


_FROM = "TimeUnix >= fromUnixTimestamp64Nano({lo:Int64})"
_BEFORE = "TimeUnix < fromUnixTimestamp64Nano({hi:Int64})"


def _attribute(names: Sequence[str], params: dict) -> str:
    return first_attribute(names, params, {}, own="Attributes")  # Map columns (the exporter's default)


# --- DCGM gauges -> gpu_metrics -----------------------------------------------------------------

def gpu_select(table: str, attributes: Mapping[str, Sequence[str]], fields: Mapping[str, tuple[str, float, float]],
               fb_parts: Sequence[str], blanks: tuple[float, int, int], tolerance: float,
               unknown_region: str, time_filter: str) -> tuple[str, dict]:
    """SELECT of gpu_metrics rows pivoted from DCGM gauge rows of `table`, and its parameters.

    fields: DCGM metric name -> (gpu_metrics column, low, high); fb_parts: the framebuffer names
    summed into fb_total_mib (FB_FREE, FB_RESERVED, FB_TOTAL); blanks: (float blank, int32 blank
    low, int32 blank high), values at or over them are NULL (DCGM's "no data", as the CSV reader);
    a value outside [low, high] is left out too (a view must not fail the exporter's insert); ratios
    up to `tolerance` over 1 are clipped to 1. `time_filter` is _FROM, _BEFORE or both.
    """
    a = {k: list(v) for k, v in attributes.items()}
    p: dict = {"metrics": [*fields, *fb_parts]}
    fp_blank, int_lo, int_hi = blanks
    present = (f"isFinite(Value) AND Value < {fp_blank!r} AND NOT (Value >= {int_lo} AND Value <= {int_hi})")

    def value(name: str, low: float, high: float) -> str:
        key = f"m{len(p)}"
        p[key] = name
        top = high + tolerance if high == 1.0 else high
        clipped = "least(Value, 1.0)" if high == 1.0 else "Value"
        bound = f" AND Value <= {top!r}" if top != float("inf") else ""
        return (f"maxIf(toNullable({clipped}), MetricName = {{{key}:String}} AND {present} "
                f"AND Value >= {low!r}{bound})")

    columns = {name: value(metric, low, high) for metric, (name, low, high) in fields.items()}
    free, reserved, total = (value(part, 0.0, float("inf")) for part in fb_parts)
    columns["fb_total_mib"] = f"coalesce({total}, {columns['fb_used_mib']} + {free} + coalesce({reserved}, 0))"
    deployment = _attribute(a["deployment"], p)
    # A Kubernetes Deployment's pods are named <deployment>-<pod-template-hash>-<5 characters>
    # (kube-controller-manager: ReplicaSet name = deployment + hash, pod = generateName + 5 random).
    pod = f"replaceRegexpOne({_attribute(a['pod'], p)}, '-[a-z0-9]{{1,10}}-[a-z0-9]{{5}}$', '')"
    region = _attribute(a["region"], p)
    p["unknown_region"] = unknown_region
    keys = {
        "ts": "toDateTime64(TimeUnix, 3, 'UTC')",
        "node": _attribute(a["node"], p),
        "gpu": f"toUInt8OrNull({_attribute(a['gpu'], p)})",  # an index 0-255, as the CSV reader takes
        "gpu_type": _attribute(a["gpu_type"], p),
        "deployment": f"multiIf({deployment} != '', {deployment}, {pod} != '', {pod}, ServiceName)",
        "region": f"if({region} = '', {{unknown_region:String}}, {region})",
    }
    values = {c: f"toFloat32({columns[c]})" for c in conventions.GPU_VALUE_COLUMNS if c in columns}
    select = ",\n    ".join([*(f"{e} AS {c}" for c, e in keys.items()), *(f"{e} AS {c}" for c, e in values.items())])
    sql = (f"SELECT\n    {select}\nFROM {table}\nWHERE has({{metrics:Array(String)}}, MetricName) AND {time_filter}\n"
           f"GROUP BY {', '.join(keys)}\nHAVING isNotNull(gpu) AND node != ''")
    return sql, p


GPU_TIME_FILTERS = {"view": _FROM, "batch": f"{_FROM} AND {_BEFORE}", "before": _BEFORE}


def create_gpu_view(store: Store, view: str, select: str, params: dict, cutoff_ns: int) -> None:
    """The view pivoting gauges from `cutoff_ns` on into gpu_metrics (select built with the "view" filter).
    On a cluster (analytics.store.ddl) it is created on every host and writes to the Distributed
    gpu_metrics, as the span view does to requests."""
    store.command(layout_of(store).materialized_view(view, conventions.GPU_METRICS, select), {**params, "lo": cutoff_ns})


def gauge_range(store: Store, table: str, metrics: Sequence[str], before_ns: int) -> tuple[int, int] | None:
    """(first, last) TimeUnix in ns of the DCGM gauge rows before `before_ns`; None when there are none."""
    frame = store.query(f"SELECT toInt64(toUnixTimestamp64Nano(min(TimeUnix))) AS lo, "
                        f"toInt64(toUnixTimestamp64Nano(max(TimeUnix))) AS hi, count() AS n FROM {table} "
                        f"WHERE has({{metrics:Array(String)}}, MetricName) AND {_BEFORE}",
                        {"metrics": list(metrics), "hi": before_ns})
    return (frame.item(0, 0), frame.item(0, 1)) if frame.item(0, 2) else None


def insert_gpu(store: Store, target: str, select: str, params: dict, lo_ns: int, hi_ns: int) -> None:
    """Pivot the gauges in [lo_ns, hi_ns) into `target` (a staging copy of gpu_metrics; "batch" filter)."""
    columns = ", ".join(conventions.GPU_COLUMNS)
    store.command(f"INSERT INTO {target} ({columns})\n{select}", {**params, "lo": lo_ns, "hi": hi_ns})


# --- vLLM histograms -> otel_histogram_5m -------------------------------------------------------

HISTOGRAM_ROLLUP = "otel_histogram_5m"
_SERIES_KEYS = ("slot", "deployment", "model", "region", "field", "series", "start_ns", "bounds_ms")
_HISTOGRAM_COLUMNS = """slot DateTime64(0, 'UTC'),
    deployment LowCardinality(String),
    model LowCardinality(String),
    region LowCardinality(String),
    field LowCardinality(String),
    series UInt64,
    start_ns Int64,
    bounds_ms Array(Float64),
    first_ns SimpleAggregateFunction(min, Int64),
    last_ns SimpleAggregateFunction(max, Int64),
    first_buckets AggregateFunction(argMin, Array(UInt64), Int64),
    last_buckets AggregateFunction(argMax, Array(UInt64), Int64)"""


def histogram_rollup_ddl(layout: Layout) -> list[str]:
    """CREATE statements of the histogram rollup (one node, or Replicated + Distributed on a cluster,
    sharded by deployment as the request rollup is: analytics.store.ddl)."""
    engine = Engine("AggregatingMergeTree", "", " PARTITION BY toYYYYMM(slot)\n"
                    "ORDER BY (deployment, field, slot, series, start_ns, bounds_ms, model, region)")
    return layout.create_table(HISTOGRAM_ROLLUP, _HISTOGRAM_COLUMNS, engine, "cityHash64(deployment)")

_NS = "toInt64(toUnixTimestamp64Nano(TimeUnix))"


def histogram_select(table: str, attributes: Mapping[str, Sequence[str]], metrics: Mapping[str, str],
                     temporality: str, scale_to_ms: float, time_filter: str) -> tuple[str, dict]:
    """SELECT of otel_histogram_5m rows from the cumulative histogram points of `table`.

    metrics: our latency field -> metric name; temporality: the column holding the aggregation
    temporality (AggregationTemporality, AggTemp in older exporters); only cumulative points (2,
    opentelemetry-proto metrics.proto) with len(BucketCounts) = len(ExplicitBounds) + 1 are kept.
    Bounds are stored in ms (`scale_to_ms` x the exporter's unit), rounded to 1 ns.
    """
    a = {k: list(v) for k, v in attributes.items()}
    p: dict = {"metrics": list(metrics.values()), "fields": list(metrics)}
    deployment = _attribute(a["deployment"], p)
    region = _attribute(a["region"], p)
    p["unknown_region"] = "unknown"
    series = ("cityHash64(ServiceName, MetricName, "
              "arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), "
              "arraySort(arrayZip(mapKeys(ResourceAttributes), mapValues(ResourceAttributes))))")
    columns = {
        "slot": "toStartOfInterval(toDateTime(TimeUnix, 'UTC'), INTERVAL 5 MINUTE)",
        "deployment": f"if({deployment} = '', ServiceName, {deployment})",
        "model": _attribute(a["model"], p),
        "region": f"if({region} = '', {{unknown_region:String}}, {region})",
        "field": "transform(MetricName, {metrics:Array(String)}, {fields:Array(String)}, '')",
        "series": series,
        "start_ns": "toInt64(toUnixTimestamp64Nano(StartTimeUnix))",
        "bounds_ms": f"arrayMap(b -> round(b * {float(scale_to_ms)!r}, 6), ExplicitBounds)",
    }
    aggregates = [f"min({_NS}) AS first_ns", f"max({_NS}) AS last_ns",
                  f"argMinState(BucketCounts, {_NS}) AS first_buckets",
                  f"argMaxState(BucketCounts, {_NS}) AS last_buckets"]
    select = ",\n    ".join([*(f"{e} AS {c}" for c, e in columns.items()), *aggregates])
    sql = (f"SELECT\n    {select}\nFROM {table}\nWHERE has({{metrics:Array(String)}}, MetricName) "
           f"AND {temporality} = 2 AND length(BucketCounts) = length(ExplicitBounds) + 1 AND {time_filter}\n"
           f"GROUP BY {', '.join(_SERIES_KEYS)}")
    return sql, p


def create_histogram_view(store: Store, view: str, select: str, params: dict, cutoff_ns: int) -> None:
    """The rollup table, and the view filling it from `cutoff_ns` on (select built with the "view" filter)."""
    layout = layout_of(store)
    for statement in histogram_rollup_ddl(layout):
        store.command(statement)
    store.command(layout.materialized_view(view, HISTOGRAM_ROLLUP, select), {**params, "lo": cutoff_ns})


def histogram_range(store: Store, table: str, metrics: Sequence[str], before_ns: int) -> tuple[int, int, int] | None:
    """(first, last TimeUnix in ns, count) of the histogram points before `before_ns`; None when there are none."""
    frame = store.query(f"SELECT toInt64(toUnixTimestamp64Nano(min(TimeUnix))) AS lo, "
                        f"toInt64(toUnixTimestamp64Nano(max(TimeUnix))) AS hi, count() AS n FROM {table} "
                        f"WHERE has({{metrics:Array(String)}}, MetricName) AND {_BEFORE}",
                        {"metrics": list(metrics), "hi": before_ns})
    return (frame.item(0, 0), frame.item(0, 1), frame.item(0, 2)) if frame.item(0, 2) else None


def insert_histograms(store: Store, select: str, params: dict, lo_ns: int, hi_ns: int) -> None:
    """Roll the points in [lo_ns, hi_ns) up into otel_histogram_5m ("batch" filter).
    Idempotent: argMin / argMax of points already rolled up are the same points."""
    store.command(f"INSERT INTO {HISTOGRAM_ROLLUP}\n{select}", {**params, "lo": lo_ns, "hi": hi_ns})


def histogram_rollup_exists(store: Store) -> bool:
    """Whether a histogram source was ever added (its rollup table exists): asked of the store until
    it does (each SLO load asks), then known."""
    if HISTOGRAM_ROLLUP not in store.tables_found and store.scalar(
            "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
            {"t": HISTOGRAM_ROLLUP}):
        store.tables_found.add(HISTOGRAM_ROLLUP)
    return HISTOGRAM_ROLLUP in store.tables_found


_H_RANGE = "slot >= {start:DateTime('UTC')} AND slot < {end:DateTime('UTC')}"

HISTOGRAM_CATALOG_SQL = f"""
SELECT h.deployment AS deployment, h.model AS model, h.region AS region,
    ifNull(d.kind, '') AS kind, toUInt64(0) AS requests
FROM (SELECT DISTINCT deployment, model, region FROM {HISTOGRAM_ROLLUP} WHERE {_H_RANGE}) AS h
LEFT JOIN (SELECT deployment, toNullable(toString(kind)) AS kind FROM {conventions.DEPLOYMENTS} FINAL) AS d
    ON d.deployment = h.deployment
ORDER BY deployment, model, region
"""

HISTOGRAM_SLOTS_SQL = f"""
SELECT field, series, start_ns, bounds_ms, slot, min(first_ns) AS first_ns, max(last_ns) AS last_ns,
    argMinMerge(first_buckets) AS first, argMaxMerge(last_buckets) AS last
FROM {HISTOGRAM_ROLLUP}
WHERE {_H_RANGE} AND has({{deployments:Array(String)}}, deployment)
    AND (empty({{regions:Array(String)}}) OR has({{regions:Array(String)}}, region))
    AND has({{fields:Array(String)}}, field)
GROUP BY field, series, start_ns, bounds_ms, slot
ORDER BY field, series, start_ns, slot
"""


def histogram_catalog(store: Store, start, end):
    """(deployment, model, region, kind, requests=0) of the histogram series in [start, end)."""
    return store.query(HISTOGRAM_CATALOG_SQL, {"start": start, "end": end})


def histogram_slots(store: Store, start, end, deployments: Sequence[str], regions: Sequence[str],
                    fields: Sequence[str]):
    """Per (field, series, run, bounds, slot) in [start, end): first and last cumulative bucket counts."""
    return store.query(HISTOGRAM_SLOTS_SQL, {"start": start, "end": end, "deployments": list(deployments),
                                             "regions": list(regions), "fields": list(fields)})
