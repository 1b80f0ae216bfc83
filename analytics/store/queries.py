"""Reads from the rollup tables that every page and command uses (never raw scans).

Each function takes an explicit time range [start, end) in UTC and optional deployment and
region filters; filters reach SQL only as bound parameters. An empty filter list means "all".
A range on whole hours read in steps of whole hours comes from requests_1h (requests_5m summed
to hours: the same rows, counts and histograms, float sums up to rounding; 12x fewer histogram
states to merge), any other from requests_5m.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import polars as pl

from analytics.store import conventions
from analytics.store.client import Store
from analytics.store.conventions import hist_column
from analytics.store.otel_metrics import HISTOGRAM_ROLLUP, histogram_rollup_exists
from analytics.store.schema import HIST_MERGE
from analytics.times import as_utc

HIST_COLUMNS = tuple(hist_column(f) for f in conventions.LATENCY_FIELDS)

# Columns are qualified (r.) because output aliases such as `slot` and `region` shadow them.
_FILTER = """
    r.slot >= {start:DateTime64(0, 'UTC')} AND r.slot < {end:DateTime64(0, 'UTC')}
    AND (empty({deployments:Array(String)}) OR has({deployments:Array(String)}, r.deployment))
    AND (empty({regions:Array(String)}) OR has({regions:Array(String)}, r.region))
"""

_COUNTS = """
    sum(r.requests) AS requests, sum(r.ok) AS ok, sum(r.error) AS error,
    sum(r.timeout) AS timeout, sum(r.rejected) AS rejected, sum(r.unknown) AS unknown,
    sum(r.input_tokens) AS input_tokens, sum(r.output_tokens) AS output_tokens,
    sum(r.ok_output_tokens) AS ok_output_tokens, sum(r.e2e_ms_sum) AS e2e_ms_sum"""


def _measures(fields: tuple[str, ...]) -> str:
    """Counts plus merged histograms of the given latency fields only: merging a histogram
    state costs ~50 ms per 40k rollup rows, so pages ask for the ones they show."""
    unknown = set(fields) - set(conventions.LATENCY_FIELDS)
    if unknown:
        raise ValueError(f"unknown latency fields {sorted(unknown)}")
    merges = [f"{HIST_MERGE}(r.{hist_column(f)}) AS {hist_column(f)}" for f in fields]
    return ",\n    ".join([_COUNTS, *merges])


def _table(start: datetime, end: datetime, step_seconds: int = 3600) -> str:
    """requests_1h when [start, end) and the step are whole hours (its rows are exactly the sums of
    requests_5m's rows in their hour), else requests_5m."""
    hours = step_seconds % 3600 == 0 and all(t.timestamp() % 3600 == 0 for t in (start, end))
    return conventions.REQUESTS_1H if hours else conventions.REQUESTS_5M


@functools.cache
def _slots_sql(fields: tuple[str, ...], table: str = conventions.REQUESTS_5M) -> str:
    return f"""
SELECT
    toDateTime64(toStartOfInterval(r.slot, toIntervalSecond({{step:UInt32}})), 0, 'UTC') AS slot,
    deployment,
    any(r.region) AS region, any(r.model) AS model, any(r.gpu_type) AS gpu_type,
    {_measures(fields)}
FROM {table} AS r
WHERE {_FILTER}
GROUP BY slot, deployment
ORDER BY deployment, slot
"""


@functools.cache
def _totals_sql(fields: tuple[str, ...], table: str = conventions.REQUESTS_5M) -> str:
    return f"""
SELECT
    deployment,
    any(r.region) AS region, any(r.model) AS model, any(r.gpu_type) AS gpu_type,
    {_measures(fields)}
FROM {table} AS r
WHERE {_FILTER}
GROUP BY deployment
ORDER BY deployment
"""


@functools.cache
def _counts_sql(table: str = conventions.REQUESTS_5M) -> str:
    return f"""
SELECT
    toDateTime64(toStartOfInterval(r.slot, toIntervalSecond({{step:UInt32}})), 0, 'UTC') AS bucket,
    deployment,
    sum(r.requests) AS requests, sum(r.ok) AS ok, sum(r.error) AS error,
    sum(r.timeout) AS timeout, sum(r.rejected) AS rejected, sum(r.unknown) AS unknown,
    sum(r.input_tokens) AS input_tokens, sum(r.output_tokens) AS output_tokens
FROM {table} AS r
WHERE {_FILTER}
GROUP BY bucket, deployment
ORDER BY deployment, bucket
"""


def _params(start: datetime, end: datetime, deployments, regions) -> dict:
    return {
        "start": start,
        "end": end,
        "deployments": list(deployments or []),
        "regions": list(regions or []),
    }


def request_slots(
    store: Store,
    start: datetime,
    end: datetime,
    deployments: list[str] | None = None,
    regions: list[str] | None = None,
    step_seconds: int = conventions.SLOT_SECONDS,
    fields: tuple[str, ...] = conventions.LATENCY_FIELDS,
) -> pl.DataFrame:
    """Per (deployment, time slot of step_seconds, default 5 minutes): counts by status, token
    sums and latency histograms.

    Histogram columns (ttft_hist, tpot_hist, e2e_hist, queue_hist) are lists of N.N_BUCKETS
    counts of 'ok' requests; see analytics.store.conventions.EDGES_MS for the bucket edges. `fields` limits
    the histograms to those latency fields.
    """
    params = _params(start, end, deployments, regions) | {"step": int(step_seconds)}
    return store.query(_slots_sql(tuple(fields), _table(start, end, step_seconds)), params)


def request_totals(
    store: Store,
    start: datetime,
    end: datetime,
    deployments: list[str] | None = None,
    regions: list[str] | None = None,
    fields: tuple[str, ...] = conventions.LATENCY_FIELDS,
) -> pl.DataFrame:
    """Per deployment over the whole range: the same measures as request_slots."""
    return store.query(_totals_sql(tuple(fields), _table(start, end)), _params(start, end, deployments, regions))


SPAN_SQL = f"""
SELECT min(slot) AS first_slot, max(slot) + INTERVAL {conventions.SLOT_SECONDS} SECOND AS last_end,
       sum(requests) AS requests, count() AS n
FROM {conventions.REQUESTS_5M}
"""


GPU_SPAN_SQL = f"""
SELECT min(hour) AS first_slot, max(hour) + INTERVAL 1 HOUR AS last_end, toUInt64(0) AS requests, count() AS n
FROM {conventions.GPU_1H}
"""
HISTOGRAM_SPAN_SQL = f"""
SELECT min(slot) AS first_slot, max(slot) + INTERVAL {conventions.SLOT_SECONDS} SECOND AS last_end, toUInt64(0) AS requests,
       count() AS n
FROM {HISTOGRAM_ROLLUP}
"""


def _span_of(store: Store, sql: str) -> tuple[datetime, datetime, int] | None:
    """(first slot, end of the last slot, requests) of one source; None when it holds nothing."""
    row = as_utc(as_utc(store.query(sql), "first_slot"), "last_end").row(0, named=True)
    return (row["first_slot"], row["last_end"], int(row["requests"])) if row["n"] else None


def data_range(store: Store, now: datetime | None = None) -> tuple[datetime, datetime, int] | None:
    """The data's (start, end, requests): the one "extent of the data" every command, page and the
    bench default to, so an ingested trace from 2023 is analysed at its own end. None when empty.

    The serving telemetry sets it: request rows (their 5-minute rollup) and exported histograms,
    from the earliest first slot to the latest end of a last slot of either, so a store holding
    only one of them has a span and a store holding both ends where the newer does. GPU samples set
    it only in a store without serving telemetry (a DCGM file alone): GPU views share the
    requests' window because they join GPU-hours with the requests served in them, and a window
    running on into GPU-hours without requests (the GPU rollup's last hour ends up to an hour after
    the last request slot) would count them as idle. The end is clamped to the end of the 5-minute
    slot holding `now` (default: the clock): rows stamped ahead of the clock (a skewed exporter)
    are kept in the store but do not move every view into the future."""
    spans = [span for span in (_span_of(store, SPAN_SQL),
                               _span_of(store, HISTOGRAM_SPAN_SQL) if histogram_rollup_exists(store) else None)
             if span is not None]
    if not spans:
        gpu = _span_of(store, GPU_SPAN_SQL)
        spans = [gpu] if gpu else []
    if not spans:
        return None
    clock = int((now or datetime.now(UTC)).timestamp())
    latest = datetime.fromtimestamp(clock - clock % conventions.SLOT_SECONDS + conventions.SLOT_SECONDS, UTC)
    end = min(max(span[1] for span in spans), latest)
    return min(min(span[0] for span in spans), end), end, sum(span[2] for span in spans)


def data_end(store: Store, now: datetime | None = None) -> datetime | None:
    """The end of the data (see data_range), None when empty."""
    found = data_range(store, now)
    return found[1] if found else None


def filter_options(store: Store) -> pl.DataFrame:
    """Every (deployment, region) pair seen in the rollup or the deployments table."""
    return store.query(
        f"""SELECT DISTINCT deployment, region FROM (
                SELECT DISTINCT deployment, region FROM {conventions.REQUESTS_5M}
                UNION ALL SELECT deployment, region FROM {conventions.DEPLOYMENTS})
            ORDER BY deployment, region"""
    )


def deployment_names(store: Store) -> list[str]:
    """Every deployment named in the request or GPU rollups or the deployments table."""
    return store.query(
        f"""SELECT DISTINCT deployment FROM (
                SELECT DISTINCT deployment FROM {conventions.REQUESTS_5M}
                UNION ALL SELECT DISTINCT deployment FROM {conventions.GPU_1H}
                UNION ALL SELECT deployment FROM {conventions.DEPLOYMENTS})
            ORDER BY deployment"""
    )["deployment"].to_list()


def request_counts(
    store: Store,
    start: datetime,
    end: datetime,
    step_seconds: int,
    deployments: list[str] | None = None,
    regions: list[str] | None = None,
) -> pl.DataFrame:
    """Per (deployment, time bucket of step_seconds): counts by status and token sums."""
    params = _params(start, end, deployments, regions) | {"step": int(step_seconds)}
    return store.query(_counts_sql(_table(start, end, step_seconds)), params)


def deployments_table(store: Store) -> pl.DataFrame:
    """The deployments table, one row per deployment (latest version)."""
    return store.query(f"SELECT * EXCEPT updated_at FROM {conventions.DEPLOYMENTS} FINAL ORDER BY deployment")


def table_stats(store: Store) -> pl.DataFrame:
    """Rows, compressed and raw bytes of each table of the current database (system.parts)."""
    return store.query(
        """SELECT table, sum(rows) AS rows,
                  sum(data_compressed_bytes) AS compressed_bytes,
                  sum(data_uncompressed_bytes) AS raw_bytes
           FROM system.parts
           WHERE active AND database = currentDatabase()
           GROUP BY table ORDER BY table"""
    )


def freshness(store: Store) -> pl.DataFrame:
    """Per deployment: its region, first and last 5-minute slot with requests, and requests."""
    return store.query(
        f"""SELECT r.deployment AS deployment, any(r.region) AS region, min(r.slot) AS first_ts,
                   max(r.slot) AS last_ts, sum(r.requests) AS requests
            FROM {conventions.REQUESTS_5M} AS r GROUP BY deployment ORDER BY deployment"""
    )


def row_count(store: Store, table: str) -> int:
    """Rows in one of the project's tables (analytics.store.conventions.TABLES)."""
    if table not in conventions.TABLES:
        raise ValueError(f"unknown table {table!r}")
    return int(store.scalar(f"SELECT count() FROM {table}") or 0)


def gpu_samples(store: Store) -> int:
    """GPU samples stored, counted from the hourly rollup."""
    return int(store.scalar(f"SELECT sum(samples) FROM {conventions.GPU_1H}") or 0)

