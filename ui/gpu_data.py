"""Cached loaders for the GPU efficiency page (the one place st.cache_data appears for it).

Cache keys are plain values: times, tuples of names, and prices as a sorted tuple of
(gpu_type, price) pairs. Everything is computed from one cached GpuData per window.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from analytics import gpu
from analytics import rightsizing as R
from ui import format as fmt
from ui.connection import get_store

TTL_S = 60  # like ui.data: new telemetry shows within a minute

# Readable column labels for the GPU tables (ui.tables.show_table reads ui.format.LABELS).
LABELS = {
    "gpus": "GPUs",
    "gpu_hours": "GPU-hours",
    "gap_gpu_hours": "GPU-hours missing (collection gaps)",
    "cost": "Cost ($)",
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
    "goodput_per_gpu": "Goodput (good req per GPU-s)",
    "slo": "Latency SLO used for goodput",
    "mfu_estimate": "MFU (estimate)",
    "missing": "Not available",
    "replicas": "Replicas",
    "gpus_per_replica": "GPUs per replica",
    "basis": "Activity metric",
    "peak_activity": "Peak-hour activity",
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
    "verdict": "Suggestion",
    "caveat": "Caveat",
    "hour": "Hour (UTC)",
    "activity": "Activity",
    "requests_per_s": "Requests/s",
    "ok": "Successful requests",
    "good": "Meeting the SLO",
    "p99_ttft_ms": "p99 TTFT (ms)",
    "p99_tpot_ms": "p99 TPOT (ms)",
    "p99_e2e_ms": "p99 E2E (ms)",
}
fmt.LABELS.update({k: v for k, v in LABELS.items() if k not in fmt.LABELS})


def _prices(prices: tuple[tuple[str, float], ...]) -> dict[str, float]:
    return dict(prices)


@st.cache_data(ttl=TTL_S, show_spinner="Reading GPU telemetry…")
def load(start: datetime, end: datetime, deployments: tuple, regions: tuple) -> gpu.GpuData:
    """GPU-hours, hourly request rollups and the deployments table for one window."""
    return gpu.load(get_store(), start, end, list(deployments), list(regions))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def default_prices(start: datetime, end: datetime, deployments: tuple, regions: tuple) -> dict[str, float]:
    """Cost per GPU-hour per GPU type in the window, from the deployments table."""
    data = load(start, end, deployments, regions)
    types = data.gpu_hours.select("deployment", "gpu_type").unique()
    priced = types.join(data.deployments.select("deployment", "cost_per_gpu_hour"), on="deployment", how="left")
    per_type = priced.group_by("gpu_type").agg(pl.col("cost_per_gpu_hour").mean()).sort("gpu_type")
    return {row["gpu_type"]: row["cost_per_gpu_hour"] for row in per_type.iter_rows(named=True)}


@st.cache_data(ttl=TTL_S, show_spinner=False)
def efficiency(start, end, deployments: tuple, regions: tuple, prices: tuple, idle_floor: float) -> pl.DataFrame:
    """Per-deployment utilisation, cost, idle and goodput table."""
    return gpu.efficiency(load(start, end, deployments, regions), None, _prices(prices), idle_floor)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def hourly(start, end, deployments: tuple, regions: tuple) -> pl.DataFrame:
    """Per (deployment, hour): activity, memory, requests, attainment and p99 latencies."""
    return gpu.deployment_hours(load(start, end, deployments, regions))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def rightsizing(start, end, deployments: tuple, regions: tuple, prices: tuple,
                target: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Right-sizing table and its evidence (the peak hours)."""
    data = load(start, end, deployments, regions)
    return R.suggestions(data, None, _prices(prices), target_activity=target,
                         hourly=hourly(start, end, deployments, regions))


def for_display(frame: pl.DataFrame) -> pl.DataFrame:
    """Round large float columns to integers so tables show 36,288 rather than 3.63e+04."""
    large = [c for c, t in frame.schema.items()
             if t.is_float() and frame.height and (frame[c].abs().max() or 0) >= 1000]
    return frame.with_columns(pl.col(large).round(0).cast(pl.Int64))
