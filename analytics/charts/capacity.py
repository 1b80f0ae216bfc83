"""Plotly figures for the capacity page: demand forecast with band, capacity and exhaustion; fleet GPUs."""

from __future__ import annotations

from datetime import datetime, timedelta

import plotly.graph_objects as go
import polars as pl

from analytics import columns
from analytics.charts.base import PALETTE, escaped, figure, layout, line_at, utc_text

ACTUAL = "#334155"
FORECAST = "#2563eb"
BASELINE = "#ca8a04"
CAPACITY = "#dc2626"
IN_SERVICE = "#111827"
SHOWN_HISTORY = timedelta(weeks=3)
LABEL_FONT = {"color": CAPACITY, "size": 11}  # the capacity line's and exhaustion marker's labels


def _band(forecast: pl.DataFrame, name: str, band: str, color: str, fill: str, hover: str = "%{y:,.4g}") -> list[dict]:
    """A forecast's upper and lower bounds (the band between them filled) and its line, as traces."""
    x = utc_text(forecast["ts"])
    return [
        {"type": "scatter", "x": x, "y": forecast["yhat_upper"].to_list(), "mode": "lines", "line": {"width": 0},
         "name": f"{name} upper", "legendgroup": name, "showlegend": False, "hovertemplate": f"upper {hover}"},
        {"type": "scatter", "x": x, "y": forecast["yhat_lower"].to_list(), "mode": "lines", "line": {"width": 0},
         "fill": "tonexty", "fillcolor": fill, "name": f"{name}: {band}", "legendgroup": name,
         "hovertemplate": f"lower {hover}"},
        {"type": "scatter", "x": x, "y": forecast["yhat"].to_list(), "mode": "lines", "name": name,
         "legendgroup": name, "line": {"color": color, "width": 1.6}, "hovertemplate": hover},
    ]


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
    hover = columns.hover(metric) if metric else "%{y:,.4g}"
    traces = [{"type": "scatter", "x": utc_text(actuals["ts"]), "y": actuals["y"].to_list(), "mode": "lines",
               "name": "Actual", "line": {"color": ACTUAL, "width": 1.2}, "connectgaps": False,
               "hovertemplate": hover}]
    band = f"{interval_width:.0%} interval"
    if baseline is not None and not baseline.is_empty():
        traces += _band(baseline, "Seasonal naive", band, BASELINE, "rgba(202,138,4,0.15)", hover)
    if not forecast.is_empty():
        traces += _band(forecast, method, band, FORECAST, "rgba(37,99,235,0.18)", hover)
    lines = []
    if capacity is not None:
        lines.append(line_at("y", capacity, CAPACITY, dash="dot", width=1.5, text="SLO capacity of current GPUs",
                             position="top left", font=LABEL_FONT))
    if exhausted_at is not None:
        lines.append(line_at("x", utc_text(pl.Series([exhausted_at]))[0], CAPACITY, width=1.5,
                             text=f"capacity runs out {exhausted_at:%Y-%m-%d %H:%M} UTC", font=LABEL_FONT))
    x_axis = {"title": {"text": columns.axis_title("ts")}}
    if not forecast.is_empty() and actuals.height:
        # Open on the last SHOWN_HISTORY of history and the whole forecast; zoom out for the rest.
        first = max(actuals["ts"].min(), forecast["ts"].min() - SHOWN_HISTORY)
        x_axis["range"] = utc_text(pl.Series([first, forecast["ts"].max()]))
    return figure(traces, layout(
        title, columns.axis_title(metric) if metric else f"Demand ({unit})", height=420, margin={"b": 90},
        legend={"y": -0.22}, xaxis=x_axis, shapes=[shape for shape, _ in lines],
        annotations=[note for _, notes in lines for note in notes]))


def fleet_chart(fleet: pl.DataFrame) -> go.Figure:
    """GPUs needed (bars) against GPUs in service (a dark tick on each bar) by GPU type and week."""
    traces = []
    for i, gpu_type in enumerate(sorted(fleet["gpu_type"].unique().to_list()) if fleet.height else []):
        part = fleet.filter(pl.col("gpu_type") == gpu_type).sort("week")
        weeks = part["week"].dt.strftime("%Y-%m-%d").to_list()
        traces += [
            {"type": "bar", "x": weeks, "y": part["gpus_needed"].to_list(), "name": f"{gpu_type} needed",
             "marker": {"color": PALETTE[i % len(PALETTE)]}, "offsetgroup": gpu_type,
             "hovertemplate": f"{escaped(gpu_type)}: %{{y:.0f}} GPUs needed<extra></extra>"},
            {"type": "scatter", "x": weeks, "y": part["gpus_current"].to_list(), "name": "GPUs in service",
             "legendgroup": "in service", "showlegend": i == 0, "offsetgroup": gpu_type, "mode": "markers",
             "marker": {"symbol": "line-ew", "size": 34, "line": {"width": 4, "color": IN_SERVICE}},
             "hovertemplate": f"{escaped(gpu_type)}: %{{y:.0f}} GPUs in service<extra></extra>"},
        ]
    return figure(traces, layout(
        "GPUs needed by GPU type and week (peak hour, headroom included)", columns.axis_title("gpus"), height=360,
        barmode="group", scattermode="group", hovermode="x", margin={"b": 90}, legend={"y": -0.25},
        xaxis={"title": {"text": columns.axis_title("week")}, "type": "category"}))
