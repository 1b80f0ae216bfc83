"""The GPU views' one pipeline: read the window's rollups, then efficiency, hourly view, right-sizing.

    data = load(store, start, end, objectives=objectives_by_deployment(deployments, slos))
    efficiency.efficiency(data, objectives)      # per deployment
    efficiency.deployment_hours(data, objectives)  # per deployment and hour
    rightsizing.suggestions(data, objectives)

The command line, the GPU page and the bench call these; the queries are analytics.store.gpu and
analytics.store.queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from analytics.gpu import efficiency as E
from analytics.gpu import hours as G
from analytics.store import gpu as gpu_queries
from analytics.store import queries
from analytics.store.client import Store
from analytics.times import as_utc


def load(store: Store, start: datetime, end: datetime, deployments: Sequence[str] = (),
         regions: Sequence[str] = (), fields: tuple[str, ...] = G.QUANTILE_FIELDS,
         request_hours: pl.DataFrame | None = None) -> E.GpuData:
    """Read the GPU rollup, the hourly request rollup and the deployments table for one window
    widened to whole hours. Only the histograms of ``fields`` are merged (each costs a pass over
    the rollup): pass ``analytics.gpu.hours.fields_of(objectives)``. ``request_hours``: the hourly
    request_slots frame (same filters and fields) of a window holding this one, when the caller
    has read it already; it is cut to this window."""
    start, end = E.hour_window(start, end)
    if request_hours is None:
        request_hours = queries.request_slots(store, start, end, list(deployments), list(regions),
                                              step_seconds=3600, fields=tuple(fields))
    requests = as_utc(request_hours, "slot").filter((pl.col("slot") >= start) & (pl.col("slot") < end))
    gpu_hours = gpu_queries.gpu_hours(store, start, end, list(deployments), list(regions))
    return E.GpuData(start, end, E.merge_gpu_hours(gpu_hours), requests, queries.deployments_table(store))
