"""Timings of the GPU efficiency page's work on a (large) seeded store, for `python -m analytics bench`.

The page reads only rollups (gpu_metrics_1h: one row per GPU-hour; requests_5m merged to hours),
so its cost grows with GPUs x hours and deployments x hours, not with raw requests or samples.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from analytics.charts import gpu as charts_gpu
from analytics.cli.bench.cases import Case, under
from analytics.gpu import efficiency as gpu
from analytics.gpu import pipeline
from analytics.gpu import rightsizing as gpu_rightsizing
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.objectives import objectives_by_deployment
from analytics.store.queries import data_range, deployments_table, gpu_samples
from analytics.times import Filters

WINDOW_DAYS = 30
WARM_RUNS = 3


def page(store, filters: Filters, *, figures: bool = True) -> dict:
    """Everything the GPU page computes for one set of filters: its load (analytics.gpu.pipeline.view,
    as ui.gpu.load: queries and hourly tables), then the tables and chart data of its default
    controls; without `figures`, the numbers only (the raw baseline's side computes numbers, no
    plotly figures)."""
    timings = {}
    t0 = time.perf_counter()
    objectives = objectives_by_deployment(deployments_table(store), load_slos(PROJECT_SLO_FILE))
    view = pipeline.view(store, filters, objectives)
    data = view.data
    timings["load"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    gpu.efficiency(data, objectives, view.prices, requests=view.requests)
    gpu_rightsizing.suggestions(data, objectives, view.prices, hourly=view.hourly)
    charts_gpu.heatmap_frame(data.gpu_hours, "sm_active", "gpu")
    if figures:
        charts_gpu.fleet_heatmap(data.gpu_hours, "mem_peak_fraction", "node")
        charts_gpu.utilisation_latency(view.hourly)
    timings["compute"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    timings["gpu_hours"] = data.gpu_hours.height
    timings["request_hours"] = data.request_hours.height
    return timings


def bench(store) -> list[Case]:
    """Cold and warm timings of the GPU page over the last 30 days of data."""
    span = data_range(store)
    if span is None:
        return [Case("gpu page", float("nan"), "no GPU telemetry in the store")]
    data_start, end, _ = span
    filters = Filters(end - timedelta(days=WINDOW_DAYS), end, (), (), data_start, end)
    samples = gpu_samples(store)
    cold = page(store, filters)
    warm = [page(store, filters) for _ in range(WARM_RUNS)]
    size = (f"{cold['gpu_hours']:,} GPU-hours, {cold['request_hours']:,} deployment-hours; "
            f"{samples:,} GPU samples stored")
    median = {k: statistics.median(w[k] for w in warm) for k in ("load", "compute", "total")}
    return [
        Case(f"gpu page, {WINDOW_DAYS} days, cold", cold["total"], size),
        Case(f"gpu page, {WINDOW_DAYS} days, warm (median of {WARM_RUNS})", median["total"], "",
             under(1, strict=True)),
        Case("gpu page load, warm", median["load"],
             "pipeline.view: gpu_metrics_1h + requests_5m by hour + deployments, hourly tables"),
        Case("gpu page compute, warm", median["compute"], "efficiency and right-sizing tables, heatmap and scatter data"),
    ]
