"""Cached loaders for the GPU efficiency page (the one place st.cache_data appears for it).

Cache keys are plain values: times, tuples of names, prices as a tuple of (gpu_type, price)
pairs, and the SLO file in use as (text, name) (ui.slo.config: the project's slos.yaml or the
session's upload, as on every page). Each deployment is judged by its objectives
(analytics.slo.objectives: its latency and goodput SLOs, else the packaged defaults for its kind).
Everything is computed from one cached load(filters, slo_file) (analytics.gpu.pipeline.view), which
the page, the warm-up and the bench call; the page's controls recompute tables from it, no query.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics.gpu import efficiency as gpu
from analytics.gpu import pipeline
from analytics.gpu import rightsizing as gpu_rightsizing
from analytics.times import Filters
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
def load(filters: Filters, slo_file: SloFile) -> pipeline.GpuView:
    """The page's load (analytics.gpu.pipeline.view): GPU-hours, hourly requests (the histograms the
    objectives need), the deployments table, the hourly tables and the default prices."""
    return pipeline.view(get_store(), filters, slo_ui.objectives(slo_file))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def efficiency(filters: Filters, slo_file: SloFile, prices: tuple, idle_floor: float) -> pl.DataFrame:
    """Per-deployment utilisation, cost, idle and goodput table (no query: from the page's load)."""
    view = load(filters, slo_file)
    return gpu.efficiency(view.data, slo_ui.objectives(slo_file), dict(prices), idle_floor, view.requests)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def rightsizing(filters: Filters, slo_file: SloFile, prices: tuple, target: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Right-sizing table and its evidence (the peak hours; no query: from the page's load)."""
    view = load(filters, slo_file)
    return gpu_rightsizing.suggestions(view.data, slo_ui.objectives(slo_file), dict(prices), target_activity=target,
                         hourly=view.hourly)


def for_display(frame: pl.DataFrame) -> pl.DataFrame:
    """Rename generic columns (DISPLAY_NAMES) and name missing fields as people read them; values
    stay raw (the column registry formats them, and the CSV keeps them)."""
    named = [c for c in ("missing", "basis") if c in frame.columns]
    frame = frame.with_columns(pl.col(c).map_elements(gpu.field_names, return_dtype=pl.String) for c in named)
    return frame.rename({k: v for k, v in DISPLAY_NAMES.items() if k in frame.columns})
