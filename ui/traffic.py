"""Cached loaders for the Overview and Data pages (the place st.cache_data appears for them).

Cache keys are plain values (the filters, times, tuples of names); the store itself is a shared
resource. The Overview's numbers are one call, load(filters), and its charts another, charts_of:
the page, the server's warm-up (ui.warmup) and the bench call the same analytics pipeline
(analytics.traffic.pipeline), so a page opened during the warm-up waits on the same cache entry.
Loaders read rollups only; the Data page's table statistics read ClickHouse's system tables.
"""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from analytics import columns
from analytics.charts import base as charts
from analytics.charts.review import marker_layout
from analytics.store import queries
from analytics.times import Filters
from analytics.traffic import pipeline
from ui import review
from ui.connection import get_store

TTL_S = 60  # live dashboard: new telemetry shows within a minute


@st.cache_data(ttl=TTL_S, show_spinner=False)
def data_range() -> tuple[datetime, datetime, int] | None:
    """(start, end, requests) of the request data; None when the store is empty."""
    return queries.data_range(get_store())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def filter_options() -> pl.DataFrame:
    """(deployment, region) pairs for the sidebar filters."""
    return queries.filter_options(get_store())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def load(filters: Filters) -> pipeline.Overview:
    """The Overview's numbers (analytics.traffic.pipeline.load): the page, the warm-up and the
    bench's figures come from this one call."""
    return pipeline.load(get_store(), filters)


@st.cache_resource(ttl=TTL_S, max_entries=32, show_spinner=False)
def charts_of(filters: Filters, charted: tuple[str, ...]) -> tuple[dict[str, go.Figure], int]:
    """The Overview's four charts of the `charted` deployments, deploy markers on the error and
    latency charts, and the number of markers. Built once per view and shared by every session
    (building plotly figures costs more than the cached queries under them): read-only."""
    frame = pipeline.series(get_store(), filters, charted)
    markers = review.changes(filters.start, filters.end, charted)
    marks = marker_layout(markers, charted)
    figures = {
        # axis titles and hover values: the column registry's label, unit and decimals
        "rps": charts.time_series(frame, "rps", title=columns.chart_title("rps")),
        "errors": charts.time_series(frame, "error_rate", title=columns.chart_title("error_rate"), tick_format=".1%",
                                     marks=marks),
        "ttft": charts.time_series(frame, "ttft_p99_ms", title=columns.chart_title("ttft_p99_ms", "LLM deployments"), log_y=True, marks=marks),
        "e2e": charts.time_series(frame, "e2e_p99_ms", title=columns.chart_title("e2e_p99_ms"), log_y=True, marks=marks),
    }
    return figures, markers.height


@st.cache_data(ttl=TTL_S, show_spinner=False)
def table_stats() -> pl.DataFrame:
    """Rows, compressed and raw size of each table."""
    return queries.table_stats(get_store())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def freshness() -> pl.DataFrame:
    """Per deployment: first and last slot with requests, and the requests in between."""
    return queries.freshness(get_store())


def clear() -> None:
    """Drop every cached query result of this server process (after an upload): the loaders of
    every page (ui.traffic, slo, gpu, capacity, review), which every session shares, and the
    figures built from them."""
    st.cache_data.clear()
    charts_of.clear()
    review.figures.clear()
