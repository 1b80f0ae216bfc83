"""Cached loaders of the Weekly review page (the one place st.cache_data appears for it).

Cache keys are plain values: the ISO week and the SLO file in use as (text, name). Adding a note
clears the cache, so the page shows it at once.
"""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from analytics.capacity import cache as capacity_cache
from analytics.review import pipeline as review_pipeline
from analytics.review import report as review_report
from analytics.review import weekly as review_weekly
from ui import slo as slo_ui
from ui.connection import get_store

TTL_S = 60  # like ui.traffic: new telemetry shows within a minute


@st.cache_data(ttl=TTL_S, show_spinner="Building the weekly review…")
def report(week: str, slo_file: slo_ui.SloFile) -> review_weekly.WeeklyReport:
    """The week's review (analytics.review.pipeline.report); cached Prophet fits only, never a fit."""
    return review_pipeline.report(get_store(), slo_ui.parse(*slo_file), week, capacity_cache.DEFAULT_CACHE_DIR)


@st.cache_resource(ttl=TTL_S, max_entries=16, show_spinner=False)
def figures(week: str, slo_file: slo_ui.SloFile) -> dict[str, go.Figure]:
    """The review's figures, built once per week and SLO file and shared by every session: read-only."""
    return review_report.figures(report(week, slo_file))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def bundle_zip(week: str, slo_file: slo_ui.SloFile) -> bytes:
    """The export bundle (HTML + CSVs) as a zip, the same files as `python -m analytics report`."""
    return review_report.zip_bytes(report(week, slo_file))


def add_note(key: str, note: str, owner: str) -> None:
    """Store a note (the UI's only write besides ingestion) and drop cached reports."""
    review_pipeline.add_note(get_store(), key, note, owner)
    report.clear()
    figures.clear()
    bundle_zip.clear()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def changes(start: datetime, end: datetime, deployments: tuple = ()) -> pl.DataFrame:
    """Deploy markers (model version, GPU type, replicas) found in the telemetry in [start, end)."""
    return review_pipeline.find_changes(get_store(), start, end, deployments)
