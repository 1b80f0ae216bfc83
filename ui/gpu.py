"""Cached loaders for the GPU efficiency page (the one place st.cache_data appears for it).

Cache keys are plain values: times, tuples of names, prices as a tuple of (gpu_type, price)
pairs, and the SLO file in use as (text, name) (ui.slo.config: the project's slos.yaml or the
session's upload, as on every page). Each deployment is judged by its objectives
(analytics.slo.objectives: its latency and goodput SLOs, else the packaged defaults for its kind).
Everything is computed from one cached GpuData per window.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from analytics.gpu import efficiency as gpu
from analytics.gpu import pipeline
from analytics.gpu import rightsizing as R
from analytics.gpu.hours import fields_of, hourly_requests
from ui import slo as slo_ui
from ui.connection import get_store

field_names = gpu.field_names  # the page's captions name missing fields as its tables do

TTL_S = 60  # like ui.traffic: new telemetry shows within a minute

# Generic analytics column names are renamed for display first, so the GPU labels in
# ui.format.LABELS never change another page's columns.
DISPLAY_NAMES = {"missing": "not_available", "slo": "goodput_slo", "hour": "peak_hour", "ok": "ok_requests",
                 "good": "good_requests", "activity": "hour_activity", "basis": "activity_metric",
                 "verdict": "suggestion"}

SloFile = slo_ui.SloFile


@st.cache_data(ttl=TTL_S, show_spinner="Reading GPU telemetry…")
def load(start: datetime, end: datetime, deployments: tuple, regions: tuple, slo_file: SloFile) -> gpu.GpuData:
    """GPU-hours, hourly request rollups (the histograms the objectives need) and the deployments table."""
    return pipeline.load(get_store(), start, end, deployments, regions, fields_of(slo_ui.objectives(slo_file)))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def default_prices(start, end, deployments: tuple, regions: tuple, slo_file: SloFile) -> dict[str, float]:
    """Cost per GPU-hour per GPU type in the window, from the deployments table."""
    data = load(start, end, deployments, regions, slo_file)
    types = data.gpu_hours.select("deployment", "gpu_type").unique()
    table = data.deployments.select("deployment", "cost_per_gpu_hour")
    priced = types.join(table, on="deployment", how="left")
    per_type = priced.group_by("gpu_type").agg(pl.col("cost_per_gpu_hour").mean()).sort("gpu_type")
    return {row["gpu_type"]: row["cost_per_gpu_hour"] for row in per_type.iter_rows(named=True)}


@st.cache_data(ttl=TTL_S, show_spinner=False)
def requests(start: datetime, end: datetime, deployments: tuple, regions: tuple, slo_file: SloFile) -> pl.DataFrame:
    """Per (deployment, hour): requests, tokens, good requests and p99 latencies (the efficiency
    table and the hourly table both read it)."""
    return hourly_requests(load(start, end, deployments, regions, slo_file).request_hours, slo_ui.objectives(slo_file))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def efficiency(start, end, deployments: tuple, regions: tuple, slo_file: SloFile, prices: tuple,
               idle_floor: float) -> pl.DataFrame:
    """Per-deployment utilisation, cost, idle and goodput table."""
    data = load(start, end, deployments, regions, slo_file)
    return gpu.efficiency(data, slo_ui.objectives(slo_file), dict(prices), idle_floor,
                          requests(start, end, deployments, regions, slo_file))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def hourly(start, end, deployments: tuple, regions: tuple, slo_file: SloFile) -> pl.DataFrame:
    """Per (deployment, hour): activity, memory, requests, SLO met, attainment and p99 latencies."""
    return gpu.deployment_hours(load(start, end, deployments, regions, slo_file), slo_ui.objectives(slo_file),
                                requests(start, end, deployments, regions, slo_file))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def rightsizing(start, end, deployments: tuple, regions: tuple, slo_file: SloFile, prices: tuple,
                target: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Right-sizing table and its evidence (the peak hours)."""
    data = load(start, end, deployments, regions, slo_file)
    return R.suggestions(data, slo_ui.objectives(slo_file), dict(prices), target_activity=target,
                         hourly=hourly(start, end, deployments, regions, slo_file))


def for_display(frame: pl.DataFrame) -> pl.DataFrame:
    """Rename generic columns (DISPLAY_NAMES) and name missing fields as people read them; values
    stay raw (the column registry formats them, and the CSV keeps them)."""
    named = [c for c in ("missing", "basis") if c in frame.columns]
    frame = frame.with_columns(pl.col(c).map_elements(gpu.field_names, return_dtype=pl.String) for c in named)
    return frame.rename({k: v for k, v in DISPLAY_NAMES.items() if k in frame.columns})
