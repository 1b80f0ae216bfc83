"""SQL of capacity planning: hourly request counts and histograms per deployment, joined with
the mean SM activity of the deployment's GPUs in the same hour and how many GPUs reported DCGM
gauges in it (a GPU counts once per hour however many samples it sent, so a pool that grew
mid-hour counts its new GPUs for that whole hour)."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from analytics.store import conventions
from analytics.store.client import Store
from analytics.store.queries import request_slots
from analytics.times import as_utc

HOUR_SECONDS = 3600

ACTIVITY_SQL = f"""
SELECT toDateTime64(g.hour, 0, 'UTC') AS hour, g.deployment AS deployment,
    sum(g.sm_active_sum) / nullIf(sum(g.sm_active_n), 0) AS sm_active,
    toInt64(uniqExact(g.node, g.gpu)) AS gpus_reporting
FROM {conventions.GPU_1H} AS g
WHERE g.hour >= {{start:DateTime64(0, 'UTC')}} AND g.hour < {{end:DateTime64(0, 'UTC')}}
    AND (empty({{deployments:Array(String)}}) OR has({{deployments:Array(String)}}, g.deployment))
    AND (empty({{regions:Array(String)}}) OR has({{regions:Array(String)}}, g.region))
GROUP BY hour, deployment
"""


def hourly_histograms(store: Store, start: datetime, end: datetime, deployments=None, regions=None,
                      fields: tuple[str, ...] = conventions.LATENCY_FIELDS, slots: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per (deployment, hour) in [start, end) (whole hours): the request rollup's counts and the
    histograms of ``fields``, the mean SM activity of the deployment's GPUs (null where DCGM
    profiling is off) and ``gpus_reporting``, the distinct GPUs with DCGM samples in the hour (null
    where none reported). ``slots``: the hourly request_slots frame of these filters and fields, when
    the caller has read it already (rows outside the window and the deployments are dropped)."""
    if slots is None:
        slots = request_slots(store, start, end, deployments, regions, step_seconds=HOUR_SECONDS, fields=fields)
    frame = as_utc(slots.rename({"slot": "hour"}), "hour").filter(
        (pl.col("hour") >= start) & (pl.col("hour") < end)
        & (pl.col("deployment").is_in(list(deployments)) if deployments else pl.lit(True)))
    activity = store.query(ACTIVITY_SQL, {"start": start, "end": end, "deployments": list(deployments or []),
                                          "regions": list(regions or [])})
    return frame.join(as_utc(activity, "hour"), on=["deployment", "hour"], how="left")
