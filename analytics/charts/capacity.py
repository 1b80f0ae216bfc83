"""Plotly figures for the capacity page: demand forecast with band, capacity and exhaustion; fleet GPUs;
a deployment's latency-vs-load curve."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import plotly.graph_objects as go
import polars as pl

from analytics import columns
from analytics.capacity.curve import Curve, amount
from analytics.charts.base import PALETTE, escaped, figure, layout, line_at, utc_text

ACTUAL = "#334155"
FORECAST = "#2563eb"
BASELINE = "#ca8a04"
CAPACITY = "#dc2626"
IN_SERVICE = "#111827"
OBSERVED = "#64748b"
CURVE_POINTS = 200  # points drawn along the fitted curve
SHOWN_LOADS = 4.0  # the load axis ends at this multiple of the highest load seen, at most
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


def load_curve_chart(curve: Curve, deployment: str) -> go.Figure:
    """One latency-vs-load curve: the observed hours as points, the fitted curve, the SLO threshold,
    the capacity where they meet with its bootstrap band, and an "extrapolated" note when the data
    never came near that capacity (analytics.capacity.curve)."""
    quantile = columns.percentile_name(curve.field, curve.quantile)
    latency = columns.axis_title(quantile if quantile in columns.REGISTRY else "slo_quantile_ms")
    load_title = columns.axis_title(f"{curve.load}_load_per_gpu")
    hover = "%{x:,.4g} tokens/s per GPU: %{y:,.0f} ms<extra></extra>"
    traces = [{"type": "scatter", "x": curve.x[curve.kept].tolist(), "y": curve.y[curve.kept].tolist(), "mode": "markers",
               "name": "Observed hours", "marker": {"color": OBSERVED, "size": 5, "opacity": 0.6}, "hovertemplate": hover}]
    if not curve.kept.all():
        traces.append({"type": "scatter", "x": curve.x[~curve.kept].tolist(), "y": curve.y[~curve.kept].tolist(),
                       "mode": "markers", "name": "Outlier hours (left out of the fit)", "hovertemplate": hover,
                       "marker": {"color": BASELINE, "size": 6, "symbol": "x"}})
    shapes, notes = [], []
    # Up to SHOWN_LOADS x the highest load seen: a far extrapolation would squeeze the hours into the left edge.
    right = min(max(curve.max_load, curve.capacity or 0.0, curve.band[1] if curve.band else 0.0),
                SHOWN_LOADS * curve.max_load) * 1.1 or 1.0
    if curve.fitted is not None:
        x = np.linspace(0.0, min(right, curve.fitted.c * 0.999), CURVE_POINTS)
        y = curve.fitted.latency(x)
        shown = y <= 3 * max(curve.threshold_ms, float(np.nanmax(curve.y[curve.kept])))  # the asymptote would flatten the rest
        traces.append({"type": "scatter", "x": x[shown].tolist(), "y": y[shown].tolist(), "mode": "lines",
                       "name": "Fitted t0 + a·x / (C − x)", "line": {"color": FORECAST, "width": 2},
                       "hovertemplate": "fitted %{y:,.0f} ms at %{x:,.4g}<extra></extra>"})
    threshold, threshold_notes = line_at("y", curve.threshold_ms, CAPACITY, dash="dot", width=1.5,
                                         text=f"SLO threshold {curve.threshold_ms:g} ms", position="top left",
                                         font=LABEL_FONT)
    shapes.append(threshold)
    notes += threshold_notes
    if curve.band is not None:
        shapes.append({"type": "rect", "xref": "x", "x0": curve.band[0], "x1": curve.band[1], "yref": "y domain",
                       "y0": 0, "y1": 1, "fillcolor": "rgba(220,38,38,0.12)", "line": {"width": 0}, "layer": "below"})
    if curve.capacity is not None:
        marker, marker_notes = line_at("x", curve.capacity, CAPACITY, width=1.5, position="top left", font=LABEL_FONT,
                                       text=f"capacity {amount(curve.capacity)}" + (
                                           f" (band {amount(curve.band[0])}–{amount(curve.band[1])})" if curve.band else ""))
        shapes.append(marker)
        notes += marker_notes
    if curve.extrapolated:
        why = (f"extrapolated: the highest load seen is {curve.max_load / curve.capacity:.0%} of the fitted capacity"
               + (f" ({amount(curve.capacity)}, beyond this chart)" if curve.capacity > right else "")
               if curve.capacity else f"no capacity: {curve.reason}")
        notes.append({"text": why, "showarrow": False, "xref": "x domain", "yref": "y domain", "x": 0.99, "y": 0.04,
                      "xanchor": "right", "yanchor": "bottom", "font": {"color": CAPACITY, "size": 12}})
    return figure(traces, layout(
        f"{deployment}: {curve.label} ({curve.slo}) vs {curve.load} load", latency, height=360, hovermode="closest",
        margin={"b": 90}, legend={"y": -0.25}, xaxis={"title": {"text": load_title}, "range": [0, right]},
        shapes=shapes, annotations=notes))
