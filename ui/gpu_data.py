"""Cached loaders for the GPU efficiency page (the one place st.cache_data appears for it).

Cache keys are plain values: times, tuples of names, prices as a tuple of (gpu_type, price)
pairs and latency SLOs as a frozen tuple (see ``freeze``). Everything is computed from one
cached GpuData per window. Latency thresholds come from the project's slos.yaml where it covers
a deployment, else the defaults by kind (analytics.goodput), as on the Capacity page.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from analytics import goodput as G
from analytics import gpu, queries
from analytics import rightsizing as R
from analytics.config import PROJECT_ROOT
from analytics.errors import SpecError
from ui.connection import get_store

TTL_S = 60  # like ui.data: new telemetry shows within a minute
SLO_FILE = PROJECT_ROOT / "slos.yaml"

# Generic analytics column names are renamed for display first, so the GPU labels in
# ui.format.LABELS never change another page's columns.
DISPLAY_NAMES = {"missing": "not_available", "slo": "goodput_slo", "hour": "peak_hour", "ok": "ok_requests",
                 "good": "good_requests", "activity": "hour_activity", "basis": "activity_metric",
                 "verdict": "suggestion"}


Frozen = tuple[tuple[str, tuple[tuple[str, float], ...]], ...]


def freeze(slos: G.LatencySlos) -> Frozen:
    """Latency thresholds as a hashable cache key."""
    return tuple(sorted((d, tuple(sorted(t.items()))) for d, t in slos.items()))


def thaw(frozen: Frozen) -> dict[str, dict[str, float]]:
    """The thresholds dict back from ``freeze``."""
    return {d: dict(t) for d, t in frozen}


@st.cache_data(ttl=TTL_S, show_spinner=False)
def latency_slos() -> tuple[Frozen, str | None]:
    """Thresholds per deployment (slos.yaml over the defaults) and the file's error, if it is broken."""
    table = queries.deployments_table(get_store())
    try:
        return freeze(G.load_latency_slos(SLO_FILE, table)), None
    except SpecError as exc:
        return freeze(G.default_latency_slos(table)), str(exc)


@st.cache_data(ttl=TTL_S, show_spinner="Reading GPU telemetry…")
def load(start: datetime, end: datetime, deployments: tuple, regions: tuple, slos: Frozen) -> gpu.GpuData:
    """GPU-hours, hourly request rollups (the histograms the SLOs need) and the deployments table."""
    fields = G.fields_of(thaw(slos))
    return gpu.load(get_store(), start, end, list(deployments), list(regions), latency_fields=fields)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def default_prices(start, end, deployments: tuple, regions: tuple, slos: Frozen) -> dict[str, float]:
    """Cost per GPU-hour per GPU type in the window, from the deployments table."""
    data = load(start, end, deployments, regions, slos)
    types = data.gpu_hours.select("deployment", "gpu_type").unique()
    table = data.deployments.select("deployment", "cost_per_gpu_hour")
    priced = types.join(table, on="deployment", how="left")
    per_type = priced.group_by("gpu_type").agg(pl.col("cost_per_gpu_hour").mean()).sort("gpu_type")
    return {row["gpu_type"]: row["cost_per_gpu_hour"] for row in per_type.iter_rows(named=True)}


@st.cache_data(ttl=TTL_S, show_spinner=False)
def efficiency(start, end, deployments: tuple, regions: tuple, slos: Frozen, prices: tuple,
               idle_floor: float) -> pl.DataFrame:
    """Per-deployment utilisation, cost, idle and goodput table."""
    data = load(start, end, deployments, regions, slos)
    return gpu.efficiency(data, thaw(slos), dict(prices), idle_floor)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def hourly(start, end, deployments: tuple, regions: tuple, slos: Frozen) -> pl.DataFrame:
    """Per (deployment, hour): activity, memory, requests, attainment and p99 latencies."""
    return gpu.deployment_hours(load(start, end, deployments, regions, slos), thaw(slos))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def rightsizing(start, end, deployments: tuple, regions: tuple, slos: Frozen, prices: tuple,
                target: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Right-sizing table and its evidence (the peak hours)."""
    data = load(start, end, deployments, regions, slos)
    return R.suggestions(data, thaw(slos), dict(prices), target_activity=target,
                         hourly=hourly(start, end, deployments, regions, slos))


def for_display(frame: pl.DataFrame) -> pl.DataFrame:
    """Rename generic columns (DISPLAY_NAMES) and round large floats to integers, so a table
    shows 36,288 rather than 3.63e+04."""
    large = [c for c, t in frame.schema.items()
             if t.is_float() and frame.height and (frame[c].abs().max() or 0) >= 1000]
    rounded = frame.with_columns(pl.col(large).round(0).cast(pl.Int64))
    return rounded.rename({k: v for k, v in DISPLAY_NAMES.items() if k in frame.columns})
