"""Cached loaders for the Overview and Data pages (the place st.cache_data appears for them).

Cache keys are plain values (times, tuples of names); the store itself is a shared resource.
Loaders read rollups only; the Data page's table statistics read ClickHouse's system tables.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from analytics import columns
from analytics.charts import base as charts
from analytics.charts.review import marker_layout
from analytics.store import queries
from analytics.store.conventions import SLOT_SECONDS
from analytics.traffic import summary as overview
from ui import review
from ui.connection import get_store

TTL_S = 60  # live dashboard: new telemetry shows within a minute
CHARTED = 8  # the Overview charts the busiest deployments: more lines make the charts unreadable


@st.cache_data(ttl=TTL_S, show_spinner=False)
def data_range() -> tuple[datetime, datetime, int] | None:
    """(start, end, requests) of the request data; None when the store is empty."""
    return queries.data_range(get_store())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def filter_options() -> pl.DataFrame:
    """(deployment, region) pairs for the sidebar filters."""
    return queries.filter_options(get_store())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def totals(start: datetime, end: datetime, deployments: tuple, regions: tuple) -> pl.DataFrame:
    """Per-deployment measures and histograms over a range."""
    return queries.request_totals(get_store(), start, end, list(deployments), list(regions),
                                  fields=overview.HIST_FIELDS)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def summary(start: datetime, end: datetime, deployments: tuple, regions: tuple) -> pl.DataFrame:
    """Per-deployment summary (req/s, error rate, percentiles) over a range."""
    return overview.summarize(totals(start, end, deployments, regions), (end - start).total_seconds())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def fleet_summary(start: datetime, end: datetime, deployments: tuple, regions: tuple) -> dict:
    """The fleet as one row of the summary."""
    frame = totals(start, end, deployments, regions)
    if frame.is_empty():
        return {}
    merged = overview.fleet_totals(frame)
    return overview.summarize(merged, (end - start).total_seconds()).row(0, named=True)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def series(start: datetime, end: datetime, deployments: tuple, regions: tuple, step: int) -> pl.DataFrame:
    """Per-deployment time series at `step` seconds."""
    slots = queries.request_slots(get_store(), start, end, list(deployments), list(regions),
                                   step_seconds=step, fields=overview.HIST_FIELDS)
    return overview.series(slots, step)


@st.cache_resource(ttl=TTL_S, max_entries=32, show_spinner=False)
def charts_of(start: datetime, end: datetime, deployments: tuple, regions: tuple, step: int,
              charted: tuple) -> tuple[dict[str, go.Figure], int]:
    """The Overview's four charts of the `charted` deployments, deploy markers on the error and
    latency charts, and the number of markers. Built once per view and shared by every session
    (building plotly figures costs more than the cached queries under them): read-only."""
    frame = series(start, end, deployments, regions, step).filter(pl.col("deployment").is_in(charted))
    markers = review.changes(start, end, charted)
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


def busiest(per_deployment: pl.DataFrame) -> tuple[str, ...]:
    """The deployments the Overview charts: the CHARTED busiest of its per-deployment summary."""
    return tuple(per_deployment.sort("requests", descending=True)["deployment"].head(CHARTED).to_list())


def previous_period(start: datetime, end: datetime, deployments: tuple, regions: tuple,
                    per_deployment: pl.DataFrame) -> tuple[overview.Comparison | None, pl.DataFrame, dict, dict]:
    """What the Overview compares [start, end) with: the comparison (None when the previous period
    holds no data), the deployments' freshness, and the fleet summary before and after, over like
    hours of both periods cut to the part the data of the deployments in view covers in both."""
    seen = freshness()
    span = overview.span_of(seen, per_deployment["deployment"].to_list(), timedelta(seconds=SLOT_SECONDS))
    compared = overview.comparison(start, end, *span) if span else None
    if compared is None:
        return None, seen, {}, {}
    return (compared, seen, fleet_summary(*compared.previous, deployments, regions),
            fleet_summary(*compared.current, deployments, regions))


def top_movers(compared: overview.Comparison | None, seen: pl.DataFrame, deployments: tuple,
               regions: tuple) -> tuple[pl.DataFrame, list[str]]:
    """The Overview's movers between the compared periods, and the deployments new in the current
    one (not compared)."""
    if compared is None:
        return pl.DataFrame(), []
    fresh = overview.new_in_period(seen, compared.previous)
    current = summary(*compared.current, deployments, regions).filter(~pl.col("deployment").is_in(fresh))
    return overview.movers(current, summary(*compared.previous, deployments, regions)), fresh


def clear() -> None:
    """Drop every cached query result of this server process (after an upload): the loaders of
    every page (ui.traffic, slo, gpu, capacity, review), which every session shares, and the
    figures built from them."""
    st.cache_data.clear()
    charts_of.clear()
    review.figures.clear()
