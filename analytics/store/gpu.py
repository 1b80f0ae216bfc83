"""SQL of the GPU views: GPU-hours from the hourly DCGM rollup."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from analytics.store import conventions
from analytics.store.client import Store
from analytics.times import as_utc

# FINAL merges the rollup's unmerged parts at read time (measured 3x faster than GROUP BY with
# 20 sums on 72k GPU-hours); rows still split by a changed gpu_type/region label are merged in polars.
GPU_HOURS_SQL = f"""
SELECT * REPLACE (toDateTime64(hour, 0, 'UTC') AS hour)
FROM {conventions.GPU_1H} FINAL
WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}
    AND (empty({{deployments:Array(String)}}) OR has({{deployments:Array(String)}}, deployment))
    AND (empty({{regions:Array(String)}}) OR has({{regions:Array(String)}}, region))
ORDER BY deployment, node, gpu, hour
"""


def gpu_hours(store: Store, start: datetime, end: datetime, deployments=None, regions=None) -> pl.DataFrame:
    """Per (deployment, node, gpu, hour) in [start, end): samples, per-metric sums and counts, peak memory."""
    params = {"start": start, "end": end,
              "deployments": list(deployments or []), "regions": list(regions or [])}
    return as_utc(store.query(GPU_HOURS_SQL, params), "hour")
