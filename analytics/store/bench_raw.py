"""Raw-table SQL for the bench's honest baselines (`python -m analytics bench`):
the numbers each page shows, computed straight from `requests` and `gpu_samples` as a dashboard
with one SQL query per panel over raw rows (e.g. Grafana's ClickHouse plugin) would, so the bench
can print what the rollups save per page. No page or command reads these.

Quantiles are ClickHouse's weighted t-digest (quantilesTDigestWeighted, approximate, the cheap
choice such a dashboard would make; rows carry `weight`, the requests each stands for). Where a
per-panel dashboard would run one query per chart, these run one query per group of charts
sharing a GROUP BY, so the raw side is if anything flattered.
"""

from __future__ import annotations

import functools
from datetime import datetime

import polars as pl

from analytics.store import conventions
from analytics.store.client import Store
from analytics.store.indicators import LATENCY, indicator
from analytics.store.schema import DCGM_FLOAT_BLANK

_WHERE = f"""
FROM {conventions.REQUESTS} AS r
WHERE r.ts >= {{start:DateTime64(3, 'UTC')}} AND r.ts < {{end:DateTime64(3, 'UTC')}}
    AND (empty({{deployments:Array(String)}}) OR has({{deployments:Array(String)}}, r.deployment))
    AND (empty({{regions:Array(String)}}) OR has({{regions:Array(String)}}, r.region))"""

_COUNTS = ",\n    ".join(["sum(r.weight) AS requests",
                          *(f"sumIf(r.weight, r.status = '{s}') AS {s}" for s in conventions.STATUSES)])


def _quantiles(field: str, levels: tuple[float, ...]) -> str:
    """Quantiles of a field over its latency SLI's valid requests, as the rollup's histograms hold them."""
    if field not in LATENCY:
        raise ValueError(f"unknown latency field {field!r}")
    return (f"quantilesTDigestWeightedIf({', '.join(map(str, levels))})"
            f"(r.{field}, r.weight, {LATENCY[field].valid_sql('r.')}) AS {field}_q")


@functools.cache
def totals_sql(fields: tuple[str, ...], levels: tuple[float, ...] = (0.5, 0.95, 0.99)) -> str:
    """Per deployment over a range: counts by status and quantiles of `fields` (the Overview's KPIs
    and per-deployment table; the weekly review's movers)."""
    measures = ",\n    ".join([_COUNTS, *(_quantiles(f, levels) for f in fields)])
    return f"SELECT r.deployment AS deployment,\n    {measures}{_WHERE}\nGROUP BY deployment"


@functools.cache
def series_sql(fields: tuple[str, ...]) -> str:
    """Per (deployment, step): counts by status and p99 of `fields` (the Overview's four charts,
    capacity's hourly demand and per-hour latency)."""
    measures = ",\n    ".join([_COUNTS, *(_quantiles(f, (0.99,)) for f in fields)])
    return (f"SELECT r.deployment AS deployment, toStartOfInterval(r.ts, toIntervalSecond({{step:UInt32}})) AS t,"
            f"\n    {measures}{_WHERE}\nGROUP BY deployment, t")


@functools.cache
def sli_sql(kind: str, field: str | None = None) -> str:
    """Good and valid requests per 5-minute slot under an SLI, over a scope (one SLO's panel;
    valid and good events: analytics.store.indicators)."""
    sli = indicator(kind, field)
    good, valid = sli.good_sql("r."), sli.valid_sql("r.")
    return (f"SELECT toStartOfInterval(r.ts, INTERVAL 5 MINUTE) AS slot,\n"
            f"    sumIf(r.weight, {good}) AS good, sumIf(r.weight, {valid}) AS valid{_WHERE}\nGROUP BY slot")


# Means are named <field>_mean (an alias equal to a column name would shadow the column inside
# the other aggregates); DCGM blanks are skipped as the rollup skips them (analytics.store.schema).
_VALID = {m: f"isNotNull({m}) AND {m} < {DCGM_FLOAT_BLANK!r}" for m in conventions.GPU_VALUE_COLUMNS}
_GPU_WHERE = f"""
FROM {conventions.GPU_METRICS}
WHERE ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}}"""
GPU_HOURS_SQL = f"""
SELECT deployment, node, gpu, toStartOfHour(ts) AS hour, count() AS samples,
    {", ".join(f"avgIf({m}, {v}) AS {m}_mean" for m, v in _VALID.items())},
    maxIf(fb_used_mib, {_VALID["fb_used_mib"]}) AS fb_used_mib_max{_GPU_WHERE}
GROUP BY deployment, node, gpu, hour
"""
ACTIVITY_SQL = f"""
SELECT deployment, toStartOfHour(ts) AS hour, avgIf(sm_active, {_VALID["sm_active"]}) AS sm_active_mean{_GPU_WHERE}
GROUP BY deployment, hour
"""


def _params(start: datetime, end: datetime, deployments=(), regions=()) -> dict:
    return {"start": start, "end": end, "deployments": list(deployments), "regions": list(regions)}


def totals(store: Store, start: datetime, end: datetime, fields: tuple[str, ...]) -> pl.DataFrame:
    """Per deployment: counts and p50/p95/p99 of `fields`, from the raw requests."""
    return store.query(totals_sql(tuple(fields)), _params(start, end))


def series(store: Store, start: datetime, end: datetime, step_seconds: int, fields: tuple[str, ...]) -> pl.DataFrame:
    """Per (deployment, step): counts and p99 of `fields`, from the raw requests."""
    return store.query(series_sql(tuple(fields)), _params(start, end) | {"step": int(step_seconds)})


def sli_slots(store: Store, start: datetime, end: datetime, deployments, regions, kind: str,
              field: str | None = None, threshold_ms: float | None = None, ttft_ms: float | None = None,
              tpot_ms: float | None = None) -> pl.DataFrame:
    """Per 5-minute slot: good and valid requests under an SLI, from the raw requests of its scope."""
    params = _params(start, end, deployments, regions)
    params |= {k: v for k, v in (("threshold_ms", threshold_ms), ("ttft_ms", ttft_ms), ("tpot_ms", tpot_ms))
               if v is not None}
    return store.query(sli_sql(kind, field), params)


def gpu_hours(store: Store, start: datetime, end: datetime) -> pl.DataFrame:
    """Per (deployment, node, GPU, hour): sample count, mean of every DCGM field, peak memory, from
    the raw samples."""
    return store.query(GPU_HOURS_SQL, {"start": start, "end": end})


def activity(store: Store, start: datetime, end: datetime) -> pl.DataFrame:
    """Per (deployment, hour): mean SM activity of its GPUs, from the raw samples."""
    return store.query(ACTIVITY_SQL, {"start": start, "end": end})
