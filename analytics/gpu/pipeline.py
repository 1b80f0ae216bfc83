"""The GPU views' one pipeline: read the window's rollups, then efficiency, hourly view, right-sizing.

    data = load(store, start, end, objectives=objectives_by_deployment(deployments, slos))
    efficiency.efficiency(data, objectives)      # per deployment
    efficiency.deployment_hours(data, objectives)  # per deployment and hour
    rightsizing.suggestions(data, objectives)

    view(store, filters, objectives)             # the GPU page's load: the above for its filters

The command line, the GPU page (through view), the warm-up and the bench call these; the queries
are analytics.store.gpu and analytics.store.queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from analytics.gpu import efficiency as gpu_efficiency
from analytics.gpu import hours as gpu_hour_frames
from analytics.store import gpu as gpu_queries
from analytics.store import queries
from analytics.store.client import Store
from analytics.times import Filters, as_utc


def load(store: Store, start: datetime, end: datetime, deployments: Sequence[str] = (),
         regions: Sequence[str] = (), fields: tuple[str, ...] = gpu_hour_frames.QUANTILE_FIELDS,
         request_hours: pl.DataFrame | None = None) -> gpu_efficiency.GpuData:
    """Read the GPU rollup, the hourly request rollup and the deployments table for one window
    widened to whole hours. Only the histograms of ``fields`` are merged (each costs a pass over
    the rollup): pass ``analytics.gpu.hours.fields_of(objectives)``. ``request_hours``: the hourly
    request_slots frame (same filters and fields) of a window holding this one, when the caller
    has read it already; it is cut to this window."""
    start, end = gpu_efficiency.hour_window(start, end)
    if request_hours is None:
        request_hours = queries.request_slots(store, start, end, list(deployments), list(regions),
                                              step_seconds=3600, fields=tuple(fields))
    requests = as_utc(request_hours, "slot").filter((pl.col("slot") >= start) & (pl.col("slot") < end))
    gpu_hours = gpu_queries.gpu_hours(store, start, end, list(deployments), list(regions))
    return gpu_efficiency.GpuData(start, end, gpu_efficiency.merge_gpu_hours(gpu_hours), requests, queries.deployments_table(store))


def peak_memory(store: Store, start: datetime, end: datetime, deployments: Sequence[str] = (),
                regions: Sequence[str] = ()) -> pl.DataFrame:
    """Per deployment: the highest hourly peak of GPU memory used / total (DCGM FB used / total,
    analytics.gpu.efficiency.with_means) over [start, end) widened to whole hours; empty when no
    GPU telemetry was loaded."""
    start, end = gpu_efficiency.hour_window(start, end)
    hours = gpu_queries.gpu_hours(store, start, end, list(deployments), list(regions))
    if hours.is_empty():
        return pl.DataFrame(schema={"deployment": pl.String, "peak_mem_fraction": pl.Float64})
    return (gpu_efficiency.merge_gpu_hours(hours).group_by("deployment")
            .agg(pl.col("mem_peak_fraction").max().alias("peak_mem_fraction"))
            .filter(pl.col("peak_mem_fraction").is_not_null()).sort("deployment"))


@dataclass(frozen=True)
class GpuView:
    """What the GPU page's first view reads for one set of filters; its controls (prices, idle floor,
    right-sizing target) recompute tables from it without a query."""

    data: gpu_efficiency.GpuData
    requests: pl.DataFrame  # hours.hourly_requests: per (deployment, hour) requests, good, p99s
    hourly: pl.DataFrame  # efficiency.deployment_hours: per (deployment, hour) activity and latency
    prices: dict[str, float]  # cost per GPU-hour per GPU type in the window (the deployments table's mean)


def view(store: Store, filters: Filters, objectives: gpu_hour_frames.Objectives) -> GpuView:
    """The GPU page's load: the window of the filters (widened to whole hours) read once, with the
    histograms the objectives need, then the hourly tables every panel shares."""
    data = load(store, filters.start, filters.end, filters.deployments, filters.regions, gpu_hour_frames.fields_of(objectives))
    requests = gpu_hour_frames.hourly_requests(data.request_hours, objectives)
    return GpuView(data, requests, gpu_efficiency.deployment_hours(data, objectives, requests), default_prices(data))


def default_prices(data: gpu_efficiency.GpuData) -> dict[str, float]:
    """Cost per GPU-hour per GPU type in the window: the mean of its deployments' prices in the
    deployments table (types without a price are left out)."""
    types = data.gpu_hours.select("deployment", "gpu_type").unique()
    table = data.deployments.select("deployment", "cost_per_gpu_hour")
    per_type = (types.join(table, on="deployment", how="left").group_by("gpu_type")
                .agg(pl.col("cost_per_gpu_hour").mean()).sort("gpu_type"))
    return {row["gpu_type"]: row["cost_per_gpu_hour"] for row in per_type.iter_rows(named=True)
            if row["cost_per_gpu_hour"] is not None}
