"""How many GPUs a deployment ran on, hour by hour: the GPUs reporting DCGM gauges, else the deployments table.

The hourly capacity frame (analytics.store.capacity.hourly_histograms) carries ``gpus_reporting``,
the distinct GPUs with DCGM samples in each hour. Load per GPU divides each hour's load by that
hour's count, so a pool that grew from 4 to 8 GPUs is not judged on 8 GPUs for the hours it ran on 4.
Hours without DCGM samples (no exporter, a collection gap) fall back to the deployments table.
"""

from __future__ import annotations

import polars as pl

REPORTING = "gpus_reporting"


def per_hour(hours: pl.DataFrame, table_gpus: int) -> pl.Series:
    """GPUs of each hour of ``hours``: the DCGM count where GPUs reported, else ``table_gpus``."""
    if REPORTING not in hours.columns:
        return pl.Series("gpus", [float(table_gpus)] * hours.height, dtype=pl.Float64)
    reported = pl.col(REPORTING).cast(pl.Float64)
    return hours.select(pl.when(reported > 0).then(reported).otherwise(float(table_gpus)).alias("gpus")).to_series()


def current(hours: pl.DataFrame, table_gpus: int) -> tuple[int, str]:
    """(GPUs now, where the number comes from): the latest hour's DCGM count where DCGM exists,
    else the deployments table."""
    if REPORTING in hours.columns:
        reported = hours.filter(pl.col(REPORTING) > 0).sort("hour")
        if reported.height:
            at = reported["hour"][-1]
            return int(reported[REPORTING][-1]), f"GPUs reporting DCGM gauges in the latest hour ({at:%Y-%m-%d %H:00} UTC)"
    return int(table_gpus), "the deployments table (no DCGM gauges)"
