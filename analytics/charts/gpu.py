"""Plotly figures for the GPU efficiency page: pure functions of the frames in analytics.gpu."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl

from analytics import columns
from analytics.charts.base import PALETTE, color_for, escaped, figure, layout, line_at, utc_text
from analytics.gpu.efficiency import SM_EFFECTIVE, SM_INEFFECTIVE

# Heatmap metrics: per-GPU-hour column -> (label, colour-bar title, tick format, fixed range); the
# label, title and format are the column registry's (analytics/columns.py), as tables show them.
_RANGES = {"sm_active": (0.0, 1.0), "mem_peak_fraction": (0.0, 1.0), "gpu_util": (0.0, 1.0),
           "tensor_active": (0.0, 1.0), "power_w": None}
HEATMAP_METRICS = {m: (columns.label(m), columns.axis_title(m), columns.d3_format(m), r) for m, r in _RANGES.items()}
# Memory: calm below 80 % used, alarming above 90 % (where KV-cache growth forces preemption).
MEMORY_SCALE = [[0.0, "#f1f5f9"], [0.6, "#cbd5e1"], [0.8, "#fdba74"], [0.9, "#ea580c"], [1.0, "#7f1d1d"]]
LATENCY_TICKS = [10**d * m for d in range(6) for m in (1, 2, 5)]  # 1 ms .. 500 s
LATENCY_FIELDS = {f: columns.label(f) for f in ("ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms")}
COMPARISON = (
    ("mean_gpu_util", columns.label("mean_gpu_util"), "#94a3b8"),
    ("mean_sm_active", columns.label("mean_sm_active"), PALETTE[0]),
    ("mean_tensor_active", columns.label("mean_tensor_active"), PALETTE[2]),
)


def heatmap_frame(gpu_hours: pl.DataFrame, metric: str = "sm_active", by: str = "gpu") -> pl.DataFrame:
    """Long frame (row, deployment, hour, value) for the fleet heatmap: one row per GPU or per node.

    Per node the value is the mean over its GPUs (the max for the peak memory fraction, so a
    single GPU running out of memory stays visible).
    """
    if metric not in HEATMAP_METRICS:
        raise ValueError(f"unknown heatmap metric {metric!r} (one of {', '.join(HEATMAP_METRICS)})")
    # Node names usually carry the deployment already; prefix it only when they do not.
    node = (
        pl.when(pl.col("node").str.contains(pl.col("deployment"), literal=True))
        .then(pl.col("node"))
        .otherwise(pl.format("{} · {}", "deployment", "node"))
    )
    if by == "gpu":
        frame = gpu_hours.select(
            "deployment", "hour", pl.col(metric).alias("value"),
            pl.format("{}/gpu{}", node, "gpu").alias("row"),
        )
    elif by == "node":
        agg = pl.col(metric).max() if metric == "mem_peak_fraction" else pl.col(metric).mean()
        frame = gpu_hours.group_by("deployment", "node", "hour").agg(agg.alias("value")).select(
            "deployment", "hour", "value", node.alias("row")
        )
    else:
        raise ValueError(f"heatmap rows are 'gpu' or 'node', not {by!r}")
    return frame.sort("row", "hour")


def fleet_heatmap(gpu_hours: pl.DataFrame, metric: str = "sm_active", by: str = "gpu") -> go.Figure:
    """GPUs (or nodes) x hours coloured by a metric; blank cells are hours without data."""
    label, bar_title, tick_format, z_range = HEATMAP_METRICS[metric]
    frame = heatmap_frame(gpu_hours, metric, by)
    rows = frame["row"].unique().sort()
    hours = frame["hour"].unique().sort()
    z = np.full((len(rows), len(hours)), np.nan)
    if frame.height:
        r = frame["row"].cast(pl.Enum(rows.to_list())).to_physical().to_numpy()
        h = np.searchsorted(hours.to_numpy(), frame["hour"].to_numpy())
        z[r, h] = frame["value"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    rows = rows.to_list()
    scale = MEMORY_SCALE if metric == "mem_peak_fraction" else "Viridis"
    trace = {"type": "heatmap", "z": z, "x": utc_text(hours), "y": rows, "colorscale": scale,
             "colorbar": {"title": {"text": bar_title}, "tickformat": tick_format},
             "hovertemplate": f"%{{y}}<br>%{{x}} UTC<br>{label}: {columns.hover(metric, 'z')}<extra></extra>"}
    if z_range:
        trace |= {"zmin": z_range[0], "zmax": z_range[1]}
    title = f"{label.split(' (')[0]} per {'GPU' if by == 'gpu' else 'node'} and hour"
    return figure([trace], layout(
        title, "", height=max(320, 14 * len(rows) + 120), hovermode="closest",
        xaxis={"title": {"text": columns.axis_title("peak_hour")}},  # 'Hour (UTC)'
        yaxis={"title": {"text": None}, "autorange": "reversed", "tickfont": {"size": 9}, "rangemode": "normal"}))


def utilisation_latency(hourly: pl.DataFrame, latency: str = "ttft_p99_ms") -> go.Figure:
    """Hourly points per deployment: SM activity (x) vs a p99 latency (y, log): where does latency climb?"""
    if latency not in LATENCY_FIELDS:
        raise ValueError(f"unknown latency column {latency!r} (one of {', '.join(LATENCY_FIELDS)})")
    points = hourly.filter(pl.col("sm_active").is_not_null() & pl.col(latency).is_not_null())
    names = sorted(points["deployment"].unique().to_list()) if points.height else []
    traces = []
    for name in names:
        part = points.filter(pl.col("deployment") == name)
        traces.append({
            "type": "scattergl", "x": part["sm_active"].to_numpy(), "y": part[latency].to_numpy(),
            "mode": "markers", "name": name,
            "marker": {"size": 5, "opacity": 0.6, "color": color_for(name, names)},
            "text": utc_text(part["hour"]), "customdata": part["rps"].to_numpy(),
            "hovertemplate": (
                f"{escaped(name)}<br>%{{text}} UTC<br>{columns.label('sm_active')} {columns.hover('sm_active', 'x')}<br>"
                f"{columns.label(latency)}: {columns.hover(latency)}<br>"
                f"{columns.label('rps')}: {columns.hover('rps', 'customdata')}<extra></extra>"
            ),
        })
    # NVIDIA DCGM "Profiling Metrics": >= 0.8 is needed for effective use, < 0.5 is likely ineffective.
    guides = [line_at("x", x, "#64748b", dash="dot", width=1, text=text, position="top left", font={"size": 10})
              for x, text in ((SM_INEFFECTIVE, "below: likely ineffective use"),
                              (SM_EFFECTIVE, "needed for effective use"))]
    notes = [label for _, labels in guides for label in labels]
    skipped = sorted(set(hourly["deployment"].unique().to_list()) - set(names)) if hourly.height else []
    if skipped:
        notes.append({"text": "Not shown (no SM activity or no such latency): " + ", ".join(skipped),
                      "xref": "paper", "yref": "paper", "x": 0, "y": -0.22, "showarrow": False,
                      "font": {"size": 10}, "align": "left"})
    name = LATENCY_FIELDS[latency].split(" (")[0]
    return figure(traces, layout(
        f"SM activity (mean over the deployment's GPUs) vs {name}, hourly", columns.axis_title(latency, log=True),
        height=420, hovermode="closest", shapes=[shape for shape, _ in guides], annotations=notes,
        xaxis={"title": {"text": columns.axis_title("sm_active")}, "tickformat": ".0%", "range": [0, 1]},
        yaxis={"type": "log", "rangemode": "normal", "tickvals": LATENCY_TICKS, "tickformat": ",d"},
        legend={"orientation": "v", "y": 1, "x": 1.02, "yanchor": "top"}))


def utilisation_comparison(util: pl.DataFrame) -> go.Figure:
    """GPU util vs SM activity vs tensor-pipe activity per deployment; gaps were not collected."""
    frame = util.sort("deployment")
    traces = [{"type": "bar", "x": frame["deployment"].to_list(), "y": frame[column].to_list(), "name": label,
               "marker": {"color": colour}, "hovertemplate": f"%{{x}}<br>{label}: {columns.hover(column)}<extra></extra>"}
              for column, label, colour in COMPARISON]
    notes = []
    for row in frame.iter_rows(named=True):
        gaps = [label.split(" (")[0] for column, label, _ in COMPARISON if row[column] is None]
        if gaps:
            notes.append({"x": row["deployment"], "y": 0.02, "yanchor": "bottom", "showarrow": False,
                          "textangle": -90, "text": "not collected: " + ", ".join(gaps),
                          "font": {"size": 10, "color": "#64748b"}})
    return figure(traces, layout(
        "Mean over the window: GPU utilisation vs SM and tensor-pipe activity", columns.unit_title("mean_sm_active"),
        height=420, barmode="group", hovermode="closest", annotations=notes,
        yaxis={"tickformat": ".0%", "range": [0, 1.05]}, xaxis={"tickangle": -30, "automargin": True},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 60, "r": 20, "t": 80, "b": 40}))
