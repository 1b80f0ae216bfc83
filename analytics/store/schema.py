"""Versioned, idempotent DDL: raw tables, rollup tables and the materialized views feeding them.

Opening a store creates what is missing, migrates a store of an older version (new columns,
views whose SELECT changed) and rolls back loads a killed process left unfinished
(analytics.store.journal). Each rollup's SELECT is written once, in ROLLUPS: its view runs it
on every insert, and a rollback reruns it, restricted, to rebuild the rows a load touched.

Rollup layout, chosen by measurement (figures from a 2-core machine; `python -m analytics bench`
re-measures them, docs/bench.md records them):
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
- requests_1h: requests_5m summed to hours by a view on requests_5m (its states merged with
  -MergeState), same columns. Merging a histogram state is what an hourly read costs (~0.2 CPU-s
  per field for 30 days of 20 deployments from requests_5m at 100M requests: 12 states per hour);
  the GPU page, capacity and the weekly review read hours, so they read this table
  (analytics.store.queries picks it for hour-aligned ranges and steps).
- requests_goodput_5m: the 'ok' requests carrying both a ttft and a tpot, per (deployment, 5-minute
  slot, region, ttft bucket, tpot bucket): the joint histogram DistServe goodput (ttft <= a AND
  tpot <= b) needs, exact for thresholds on bucket edges. Sparse: ~45 cells per LLM deployment
  and slot (4.9M rows for 100M requests); reading one deployment's 30 days takes ~0.1 CPU-s where
  the raw GROUP BY took ~1.4 (see `python -m analytics bench`, "slo list").
- gpu_metrics_1h: one row per GPU and hour with sums and non-null counts of every DCGM field
  (means are sum / n, so NULL profiling fields never drag a mean to zero) and the peak memory.
"""

from __future__ import annotations

from analytics.store import conventions
from analytics.store.client import Store
from analytics.store.conventions import hist_column
from analytics.store.ddl import SINGLE, Engine, Layout, layout_of
from analytics.store.indicators import GOODPUT, LATENCY, bucket_column
from analytics.store.journal import LOAD_ID, Rollup, journal_ddl, recover

# 2: load_id on raw tables, the ingest journal, requests_5m.unknown; 3: requests_goodput_5m; 4: requests_1h
SCHEMA_VERSION = 4

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
    """Histogram bucket of a latency SLI's valid request (analytics.store.indicators: 'ok' with the field);
    255 (outside the resample range) otherwise.

    roundDown(-x, -edges) finds the smallest edge >= x by binary search (17 ns/row measured,
    vs 106 ns/row for arrayCount over the edges); transform maps that edge to its bucket.
    """
    neg_edges = [-1e300] + [-float(e) for e in reversed(conventions.EDGES_MS)]
    indexes = [len(conventions.EDGES_MS)] + list(range(len(conventions.EDGES_MS) - 1, -1, -1))
    neg = "[" + ", ".join(repr(v) for v in neg_edges) + "]"
    idx = "[" + ", ".join(str(i) for i in indexes) + "]"
    return (
        f"toUInt8(if({LATENCY[field].valid_sql()}, "
        f"transform(roundDown(-toFloat64(assumeNotNull({field})), {neg}), {neg}, {idx}, 255), 255))"
    )


def _hist_state(field: str) -> str:
    return f"sumResampleState(0, {conventions.N_BUCKETS}, 1)(toUInt64(src.weight), {bucket_expr(field)}) AS {hist_column(field)}"


HIST_TYPE = f"AggregateFunction(sumResample(0, {conventions.N_BUCKETS}, 1), UInt64, UInt8)"
# Reads a histogram state column back as Array(UInt64) of weighted counts per bucket.
HIST_MERGE = f"sumResampleMerge(0, {conventions.N_BUCKETS}, 1)"
ROLLUP_KEYS = ("deployment", "slot", "region", "model", "model_version", "gpu_type")
STATUS_COLUMNS = {status: f"sumIf(src.weight, status = '{status}')" for status in conventions.STATUSES}
GPU_KEYS = ("deployment", "hour", "node", "gpu", "gpu_type", "region")
GOODPUT_KEYS = ("deployment", "slot", "region", *(bucket_column(f) for f in GOODPUT.fields))


_SUM_U64 = "SimpleAggregateFunction(sum, UInt64)"
_SUM_F64 = "SimpleAggregateFunction(sum, Float64)"
REQUEST_ROLLUP_COLUMNS = {
    "slot": "DateTime64(0, 'UTC')",
    "deployment": "LowCardinality(String)",
    "region": "LowCardinality(String)",
    "model": "LowCardinality(String)",
    "model_version": "LowCardinality(String)",
    "gpu_type": "LowCardinality(String)",
    "requests": _SUM_U64,
    **{status: _SUM_U64 for status in conventions.STATUSES},
    "input_tokens": _SUM_U64,
    "output_tokens": _SUM_U64,
    "ok_output_tokens": _SUM_U64,
    "e2e_ms_sum": _SUM_F64,
    **{hist_column(f): HIST_TYPE for f in conventions.LATENCY_FIELDS},
}
GPU_ROLLUP_COLUMNS = {
    "hour": "DateTime64(0, 'UTC')",
    "deployment": "LowCardinality(String)",
    "node": "LowCardinality(String)",
    "gpu": "UInt8",
    "gpu_type": "LowCardinality(String)",
    "region": "LowCardinality(String)",
    "samples": _SUM_U64,
    **{f"{m}_sum": _SUM_F64 for m in conventions.GPU_VALUE_COLUMNS},
    **{f"{m}_n": _SUM_U64 for m in conventions.GPU_VALUE_COLUMNS},
    "fb_used_mib_max": "SimpleAggregateFunction(max, Float64)",
}
GOODPUT_ROLLUP_COLUMNS = {
    "slot": "DateTime64(0, 'UTC')",
    "deployment": "LowCardinality(String)",
    "region": "LowCardinality(String)",
    "ttft_bucket": "UInt8",
    "tpot_bucket": "UInt8",
    "n": _SUM_U64,
}
# Raw tables carry the id of the load that wrote each row, so an unfinished load can be undone.
_LOAD_ID = {LOAD_ID: "LowCardinality(String)"}
TABLE_COLUMNS = {
    conventions.REQUESTS: {**conventions.REQUEST_COLUMNS, **_LOAD_ID},
    conventions.GPU_METRICS: {**conventions.GPU_COLUMNS, **_LOAD_ID},
    conventions.DEPLOYMENTS: conventions.DEPLOYMENT_COLUMNS,
    conventions.REQUESTS_5M: REQUEST_ROLLUP_COLUMNS,
    conventions.REQUESTS_1H: REQUEST_ROLLUP_COLUMNS,
    conventions.GPU_1H: GPU_ROLLUP_COLUMNS,
    conventions.GOODPUT_5M: GOODPUT_ROLLUP_COLUMNS,
}


def _request_rollup() -> Rollup:
    select = ",\n    ".join(
        [
            "toStartOfInterval(ts, INTERVAL 5 MINUTE) AS slot",
            "deployment, region, model, model_version, gpu_type",
            "sum(src.weight) AS requests",
            *(f"{expr} AS {status}" for status, expr in STATUS_COLUMNS.items()),
            "sum(toUInt64(src.input_tokens) * src.weight) AS input_tokens",
            "sum(toUInt64(src.output_tokens) * src.weight) AS output_tokens",
            "sumIf(toUInt64(src.output_tokens) * src.weight, status = 'ok') AS ok_output_tokens",
            "sumIf(toFloat64(ifNull(e2e_ms, 0)) * src.weight, status = 'ok') AS e2e_ms_sum",
            *(_hist_state(f) for f in conventions.LATENCY_FIELDS),
        ]
    )
    return Rollup(conventions.REQUESTS, conventions.REQUESTS_5M, "slot", conventions.SLOT_SECONDS, f"SELECT\n    {select}", ", ".join(ROLLUP_KEYS),
                  " AS src")


def _gpu_rollup() -> Rollup:
    valid = {m: f"isNotNull({m}) AND {m} < {DCGM_FLOAT_BLANK!r}" for m in conventions.GPU_VALUE_COLUMNS}
    select = ",\n    ".join(
        [
            "toStartOfHour(ts) AS hour",
            "deployment, node, gpu, gpu_type, region",
            "count() AS samples",
            *(f"sumIf(toFloat64(assumeNotNull({m})), {valid[m]}) AS {m}_sum" for m in valid),
            *(f"countIf({valid[m]}) AS {m}_n" for m in valid),
            f"maxIf(toFloat64(assumeNotNull(fb_used_mib)), {valid['fb_used_mib']}) AS fb_used_mib_max",
        ]
    )
    return Rollup(conventions.GPU_METRICS, conventions.GPU_1H, "hour", 3600, f"SELECT\n    {select}", ", ".join(GPU_KEYS))


def _hourly_request_rollup() -> Rollup:
    """requests_1h from requests_5m: sums of the sums, histogram states merged into states."""
    sums = [c for c, t in REQUEST_ROLLUP_COLUMNS.items() if t in (_SUM_U64, _SUM_F64)]
    select = ",\n    ".join([
        "toStartOfHour(src.slot) AS slot",
        ", ".join(k for k in ROLLUP_KEYS if k != "slot"),
        *(f"sum(src.{c}) AS {c}" for c in sums),
        *(f"sumResampleMergeState(0, {conventions.N_BUCKETS}, 1)(src.{hist_column(f)}) AS {hist_column(f)}"
          for f in conventions.LATENCY_FIELDS),
    ])
    return Rollup(conventions.REQUESTS_5M, conventions.REQUESTS_1H, "slot", 3600, f"SELECT\n    {select}", ", ".join(ROLLUP_KEYS),
                  " AS src", source_time="src.slot")


def _goodput_rollup() -> Rollup:
    """requests_goodput_5m: goodput's valid events (analytics.store.indicators.GOODPUT) by the buckets of its fields."""
    buckets = ", ".join(f"{bucket_expr(f)} AS {bucket_column(f)}" for f in GOODPUT.fields)
    select = (f"SELECT\n    toStartOfInterval(ts, INTERVAL 5 MINUTE) AS slot, deployment, region,\n"
              f"    {buckets},\n"
              f"    sum(src.weight) AS n")
    return Rollup(conventions.REQUESTS, conventions.GOODPUT_5M, "slot", conventions.SLOT_SECONDS, select, ", ".join(GOODPUT_KEYS), " AS src",
                  GOODPUT.valid_sql())


# Rollup table -> its Rollup. The views and the rebuild after an unfinished load share one SELECT.
# requests_1h is fed by requests_5m's inserts, so it comes after it (journal.rollback rebuilds in this order).
ROLLUPS = {r.table: r for r in (_request_rollup(), _hourly_request_rollup(), _gpu_rollup(), _goodput_rollup())}


# On a cluster, the sharding key of each Distributed table (analytics.store.ddl). A hash of the
# deployment keeps one deployment's raw rows, and so every rollup row its views make, on one shard:
# a rollup key is then complete on its shard (FINAL and per-key reads are exact there, and
# optimize_distributed_group_by_sharding_key may skip the merge on the initiator), a rollback's
# DELETE and rebuild of one deployment touch one shard, and a query for a few deployments
# reads mostly one shard per deployment. rand() would spread the load evenly even when one
# deployment dominates, but would put partial rows of every rollup key on every shard and make a
# per-deployment rebuild reach every shard; skew is bounded by the number of deployments per shard
# (the demo fleet: 20 deployments), which is why it is the hash here.
BY_DEPLOYMENT = "cityHash64(deployment)"


def tables_ddl(layout: Layout = SINGLE) -> list[str]:
    """CREATE statements of every table, on one node or a cluster."""
    def create(table: str, engine: Engine, shard_by: str = BY_DEPLOYMENT, columns: str = "") -> list[str]:
        return layout.create_table(table, columns or _columns(TABLE_COLUMNS[table]), engine, shard_by)

    return [
        *create(conventions.SCHEMA_VERSION_TABLE, Engine("ReplacingMergeTree", "", " ORDER BY version"), "version",
                "version UInt32, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)"),
        *create(conventions.REQUESTS, Engine("MergeTree", "", " PARTITION BY toYYYYMM(ts) ORDER BY (deployment, ts)")),
        *create(conventions.GPU_METRICS, Engine("MergeTree", "", " PARTITION BY toYYYYMM(ts) ORDER BY (deployment, node, gpu, ts)")),
        *create(conventions.DEPLOYMENTS, Engine("ReplacingMergeTree", "updated_at", " ORDER BY deployment")),
        *create(conventions.REQUESTS_5M, Engine("AggregatingMergeTree", "",
                                      f" PARTITION BY toYYYYMM(slot)\nORDER BY ({', '.join(ROLLUP_KEYS)})")),
        *create(conventions.REQUESTS_1H, Engine("AggregatingMergeTree", "",
                                      f" PARTITION BY toYYYYMM(slot)\nORDER BY ({', '.join(ROLLUP_KEYS)})")),
        *create(conventions.GPU_1H, Engine("AggregatingMergeTree", "", f" PARTITION BY toYYYYMM(hour)\nORDER BY ({', '.join(GPU_KEYS)})")),
        *create(conventions.GOODPUT_5M, Engine("AggregatingMergeTree", "",
                                     f" PARTITION BY toYYYYMM(slot)\nORDER BY ({', '.join(GOODPUT_KEYS)})")),
        *journal_ddl(layout),
        # Append-only: the latest note per incident wins when read (analytics.store.review).
        *create(conventions.REVIEW_NOTES, Engine("MergeTree", "", " ORDER BY (incident_key, written_at)"), "cityHash64(incident_key)",
                "incident_key String, note String, owner String, written_at DateTime64(3, 'UTC')"),
        # Append-only: every row is one correction (analytics.store.corrections); slos empty = every SLO.
        *create(conventions.BUDGET_CORRECTIONS, Engine("MergeTree", "", " ORDER BY (start, added_at)"), "rand()",
                "slos Array(String), start DateTime64(3, 'UTC'), duration_s UInt32, reason String, "
                "added_by String, added_at DateTime64(3, 'UTC')"),
        # Append-only: a row withdraws the correction added at (start, added_at); it stays in the table above.
        *create(conventions.CORRECTION_WITHDRAWALS, Engine("MergeTree", "", " ORDER BY (start, added_at)"), "rand()",
                "start DateTime64(3, 'UTC'), added_at DateTime64(3, 'UTC'), reason String, withdrawn_by String, "
                "withdrawn_at DateTime64(3, 'UTC')"),
    ]


TABLES_DDL = tables_ddl()


def schema_ddl(layout: Layout = SINGLE) -> list[str]:
    """Every CREATE statement of the schema, tables then the rollup views, as ensure_schema runs them."""
    return tables_ddl(layout) + [rollup.view_ddl(layout) for rollup in ROLLUPS.values()]


def _add_missing_columns(store: Store, layout: Layout) -> None:
    """Add the columns a store made by an older version lacks (new columns go last)."""
    present = store.query(
        "SELECT table, name FROM system.columns WHERE database = currentDatabase() AND has({t:Array(String)}, table)",
        {"t": list(TABLE_COLUMNS)},
    )
    have = set(present.iter_rows())
    for table, spec in TABLE_COLUMNS.items():
        for name, type_ in spec.items():
            if (table, name) not in have:
                default = f" DEFAULT {COLUMN_DEFAULTS[name]}" if name in COLUMN_DEFAULTS else ""
                for statement in layout.add_column(table, f"{name} {type_}{default}"):
                    store.command(statement)


def ensure_schema(store: Store) -> None:
    """Create or migrate every table and view, then roll back loads a killed process left unfinished.

    Idempotent, and safe to interrupt: the version is recorded after the last migration step,
    and every step is a no-op when done already.
    """
    layout = layout_of(store)
    for statement in tables_ddl(layout):
        store.command(statement)
    current = store.scalar(f"SELECT max(version) FROM {conventions.SCHEMA_VERSION_TABLE}")
    if current and current < 2:
        # v1 -> v2: raw tables gain load_id, requests_5m the 'unknown' count; the request view's
        # SELECT changed, so the views are recreated (their SELECT is the one in ROLLUPS).
        _add_missing_columns(store, layout)
        for rollup in ROLLUPS.values():
            store.command(layout.drop("VIEW", rollup.view))
    for rollup in ROLLUPS.values():
        store.command(rollup.view_ddl(layout))
    # v2 -> v3 (requests_goodput_5m, from the raw requests) and v3 -> v4 (requests_1h, from
    # requests_5m): each new rollup is emptied, then filled from its source, so a kill during the
    # backfill is redone from scratch on the next open (nothing else writes meanwhile).
    for version, table in ((3, conventions.GOODPUT_5M), (4, conventions.REQUESTS_1H)):
        if current and current < version:
            store.command(f"TRUNCATE TABLE {layout.local(table)}{layout.on}")
            store.command(f"INSERT INTO {table} {ROLLUPS[table].query()}")
    if not current or current < SCHEMA_VERSION:
        store.command(
            f"INSERT INTO {conventions.SCHEMA_VERSION_TABLE} (version) VALUES ({{v:UInt32}})",
            {"v": SCHEMA_VERSION},
        )
    recover(store, ROLLUPS)


def open_store(dsn: str) -> Store:
    """Open a store and make sure the schema exists."""
    store = Store(dsn)
    ensure_schema(store)
    return store
