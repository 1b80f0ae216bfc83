"""Plotly figures for the capacity page: demand forecast with band, capacity and exhaustion; fleet GPUs."""

from __future__ import annotations

from datetime import datetime, timedelta

import plotly.graph_objects as go
import polars as pl

from analytics import columns as C
from analytics.charts.base import PALETTE, base_layout, utc_text

ACTUAL = "#334155"
FORECAST = "#2563eb"
BASELINE = "#ca8a04"
CAPACITY = "#dc2626"
IN_SERVICE = "#111827"
SHOWN_HISTORY = timedelta(weeks=3)


def _band(fig: go.Figure, forecast: pl.DataFrame, name: str, band: str, color: str, fill: str,
          hover: str = "%{y:,.4g}") -> None:
    x = utc_text(forecast["ts"])
    fig.add_trace(go.Scatter(x=x, y=forecast["yhat_upper"].to_list(), mode="lines", line={"width": 0},
                             name=f"{name} upper", legendgroup=name, showlegend=False,
                             hovertemplate=f"upper {hover}"))
    fig.add_trace(go.Scatter(x=x, y=forecast["yhat_lower"].to_list(), mode="lines", line={"width": 0},
                             fill="tonexty", fillcolor=fill, name=f"{name}: {band}", legendgroup=name,
                             hovertemplate=f"lower {hover}"))
    fig.add_trace(go.Scatter(x=x, y=forecast["yhat"].to_list(), mode="lines", name=name, legendgroup=name,
                             line={"color": color, "width": 1.6}, hovertemplate=hover))


def forecast_chart(
    actuals: pl.DataFrame,
    forecast: pl.DataFrame,
    *,
    title: str,
    unit: str,
    interval_width: float,
    capacity: float | None = None,
    exhausted_at: datetime | None = None,
    baseline: pl.DataFrame | None = None,
    method: str = "Prophet",
    metric: str | None = None,
) -> go.Figure:
    """Actual hourly demand, the forecast with its interval band, the SLO capacity of the current
    GPUs as a horizontal line, and a marker where the forecast's upper bound first exceeds it.

    ``actuals``: (ts, y) with nulls for gaps (drawn as breaks); ``forecast`` and ``baseline``:
    (ts, yhat, yhat_lower, yhat_upper). ``metric``: the demand's registry column (rps, output_tps),
    which names the y axis as tables do; without it the axis says Demand ({unit}).
    """
    fig = go.Figure()
    hover = C.hover(metric) if metric else "%{y:,.4g}"
    fig.add_trace(go.Scatter(x=utc_text(actuals["ts"]), y=actuals["y"].to_list(), mode="lines", name="Actual",
                             line={"color": ACTUAL, "width": 1.2}, connectgaps=False, hovertemplate=hover))
    band = f"{interval_width:.0%} interval"
    if baseline is not None and not baseline.is_empty():
        _band(fig, baseline, "Seasonal naive", band, BASELINE, "rgba(202,138,4,0.15)", hover)
    if not forecast.is_empty():
        _band(fig, forecast, method, band, FORECAST, "rgba(37,99,235,0.18)", hover)
    if capacity is not None:
        fig.add_hline(y=capacity, line={"color": CAPACITY, "width": 1.5, "dash": "dot"},
                      annotation_text="SLO capacity of current GPUs", annotation_position="top left",
                      annotation_font={"color": CAPACITY, "size": 11})
    if exhausted_at is not None:
        x = utc_text(pl.Series([exhausted_at]))[0]
        fig.add_vline(x=x, line={"color": CAPACITY, "width": 1.5})
        fig.add_annotation(x=x, y=1, yref="paper", text=f"capacity runs out {exhausted_at:%Y-%m-%d %H:%M} UTC",
                           showarrow=False, xanchor="left", yanchor="bottom", font={"color": CAPACITY, "size": 11})
    base_layout(fig, title, C.axis_title(metric) if metric else f"Demand ({unit})", height=420)
    fig.update_layout(margin={"b": 90}, legend={"y": -0.22})
    fig.update_xaxes(title_text=C.axis_title("ts"))
    if not forecast.is_empty() and actuals.height:
        # Open on the last SHOWN_HISTORY of history and the whole forecast; zoom out for the rest.
        first = max(actuals["ts"].min(), forecast["ts"].min() - SHOWN_HISTORY)
        fig.update_xaxes(range=utc_text(pl.Series([first, forecast["ts"].max()])))
    return fig


def fleet_chart(fleet: pl.DataFrame) -> go.Figure:
    """GPUs needed (bars) against GPUs in service (a dark tick on each bar) by GPU type and week."""
    fig = go.Figure()
    for i, gpu_type in enumerate(sorted(fleet["gpu_type"].unique().to_list()) if fleet.height else []):
        part = fleet.filter(pl.col("gpu_type") == gpu_type).sort("week")
        weeks = part["week"].dt.strftime("%Y-%m-%d").to_list()
        fig.add_trace(go.Bar(x=weeks, y=part["gpus_needed"].to_list(), name=f"{gpu_type} needed",
                             marker_color=PALETTE[i % len(PALETTE)], offsetgroup=gpu_type,
                             hovertemplate=f"{gpu_type}: %{{y:.0f}} GPUs needed<extra></extra>"))
        fig.add_trace(go.Scatter(x=weeks, y=part["gpus_current"].to_list(), name="GPUs in service",
                                 legendgroup="in service", showlegend=i == 0, offsetgroup=gpu_type, mode="markers",
                                 marker={"symbol": "line-ew", "size": 34, "line": {"width": 4, "color": IN_SERVICE}},
                                 hovertemplate=f"{gpu_type}: %{{y:.0f}} GPUs in service<extra></extra>"))
    base_layout(fig, "GPUs needed by GPU type and week (peak hour, headroom included)", C.axis_title("gpus"),
                height=360)
    fig.update_layout(barmode="group", scattermode="group", hovermode="x", margin={"b": 90}, legend={"y": -0.25})
    fig.update_xaxes(title_text=C.axis_title("week"), type="category")
    return fig
