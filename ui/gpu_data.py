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
from ui import format as fmt
from ui.connection import get_store

TTL_S = 60  # like ui.data: new telemetry shows within a minute
SLO_FILE = PROJECT_ROOT / "slos.yaml"

# Readable labels for the GPU tables' columns (ui.tables.show_table reads ui.format.LABELS). Only
# GPU-specific names are registered, so other pages' labels never change; generic analytics
# column names are renamed for display first (DISPLAY_NAMES).
DISPLAY_NAMES = {"missing": "not_available", "slo": "goodput_slo", "hour": "peak_hour", "ok": "ok_requests",
                 "good": "good_requests", "activity": "hour_activity", "basis": "activity_metric",
                 "verdict": "suggestion"}
LABELS = {
    "gpus": "GPUs",
    "gpu_hours": "GPU-hours",
    "gap_gpu_hours": "GPU-hours missing (collection gaps)",
    "cost_per_gpu_hour": "$ per GPU-hour",
    "cost_per_1m_output_tokens": "$ per 1M output tokens",
    "cost_per_1k_requests": "$ per 1k requests",
    "idle_gpu_hours": "Idle GPU-hours",
    "idle_cost": "Idle cost ($)",
    "idle_fraction": "Idle share of GPU-hours",
    "mean_gpu_util": "GPU util (any kernel)",
    "mean_sm_active": "SM active",
    "mean_sm_occupancy": "SM occupancy",
    "mean_tensor_active": "Tensor-pipe active",
    "mean_dram_active": "DRAM active",
    "mem_used_fraction": "Memory used (mean)",
    "peak_mem_fraction": "Memory used (peak hour)",
    "min_mem_headroom": "Memory headroom (worst hour)",
    "mean_power_w": "Power (mean W)",
    "peak_hour_power_w": "Power (peak hour W)",
    "output_tokens_per_gpu_s": "Output tokens per GPU-s",
    "input_tokens_per_gpu_s": "Input tokens per GPU-s",
    "good_requests": "Requests meeting the latency SLO",
    "ok_requests": "Successful requests",
    "goodput_per_gpu": "Goodput (good req per GPU-s)",
    "goodput_slo": "Latency SLO used for goodput",
    "mfu_estimate": "MFU (estimate)",
    "gpus_per_replica": "GPUs per replica",
    "activity_metric": "Activity metric",
    "peak_activity": "Peak-hour activity",
    "hour_activity": "Activity in that hour",
    "target_activity": "Target activity",
    "replicas_needed": "Replicas needed",
    "gpus_freed": "GPUs freed",
    "monthly_saving": "Saving per 30 days ($)",
    "peak_attainment": "SLO attainment at peak hours",
    "slo_met_at_peak": "SLO met at peak",
    "peak_p99_ttft_ms": "Peak-hour p99 TTFT (ms)",
    "peak_p99_e2e_ms": "Peak-hour p99 E2E (ms)",
    "first_peak_hour": "First peak hour",
    "last_peak_hour": "Last peak hour",
    "peak_hour": "Hour (UTC)",
    "p99_ttft_ms": "p99 TTFT (ms)",
    "p99_tpot_ms": "p99 TPOT (ms)",
    "p99_e2e_ms": "p99 E2E (ms)",
}
fmt.LABELS.update({k: v for k, v in LABELS.items() if k not in fmt.LABELS})


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
