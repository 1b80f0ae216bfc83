"""Deploy markers on time-series figures, as Grafana draws annotations: a vertical line per change
with a short label on top and the full description on hover."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

from analytics import columns
from analytics.charts.base import escaped_all, figure, layout, utc_text
from analytics.slo.state import severity_colour

# Dash per marker kind, so kinds differ without colour; one neutral colour keeps the series readable.
MARKER_DASH = {"model_version": "dash", "gpu_type": "dashdot", "replicas": "dot"}
MARKER_COLOUR = "#555555"


def _label(row: dict) -> str:
    """A short label: 'v2', 'H100-80GB', '6 replicas'; '+v3' / '-v1' for values starting or stopping beside another."""
    if row["kind"] == "replicas":
        return f"{row['after']} replicas"
    if row["before"] is None:
        return f"+{row['after']}"
    if row["after"] is None:
        return f"-{row['before']}"
    return str(row["after"])


def marker_layout(changes: pl.DataFrame, deployments: Sequence[str] | None = None) -> dict[str, list[dict]]:
    """Layout shapes and annotations for the deploy markers (analytics.review.changes CHANGE_SCHEMA),
    optionally only those of ``deployments``: a vertical line and a label per marker, to pass to a
    chart builder (charts.base.layout) or add_markers.

    The text is raw: the figure builder (charts.base.figure) or add_markers escapes it.
    """
    if deployments is not None:
        changes = changes.filter(pl.col("deployment").is_in(list(deployments)))
    shapes, annotations = [], []
    for x, row in zip(utc_text(changes["ts"]), changes.iter_rows(named=True), strict=True):
        shapes.append({"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "paper",
                       "line": {"color": MARKER_COLOUR, "width": 1, "dash": MARKER_DASH.get(row["kind"], "dash")}})
        annotations.append({"x": x, "xref": "x", "y": 1, "yref": "paper", "yanchor": "bottom", "showarrow": False,
                            "text": _label(row), "font": {"size": 10, "color": MARKER_COLOUR},
                            "hovertext": f"{row['deployment']}: {row['description']} at {x} UTC"})
    return {"shapes": shapes, "annotations": annotations}


def add_markers(fig: go.Figure, changes: pl.DataFrame, deployments: Sequence[str] | None = None) -> go.Figure:
    """A copy of ``fig`` with the deploy markers of marker_layout added; the input figure is not
    changed. The figure's own text was escaped when it was built; the markers' text is escaped here."""
    spec = fig.to_dict()  # a copy; one go.Figure of it validates once, add_shape per marker every time
    for key, items in marker_layout(changes, deployments).items():
        spec["layout"][key] = [*spec["layout"].get(key, []), *escaped_all(items)]
    return go.Figure(spec)


def _grouped_bars(frame: pl.DataFrame, label: str, series: tuple[tuple[str, str, str, str], ...], title: str,
                  hover: str, row_height: int, x_axis: dict) -> go.Figure:
    """Horizontal grouped bars, one bar per (column, name, colour, pattern) series and row of
    ``label``; patterns tell the series apart without colour. ``x_axis``: the value axis's layout."""
    traces = [{"type": "bar", "y": frame[label].to_list(), "x": frame[column].to_list(), "name": name,
               "orientation": "h", "marker": {"color": colour, "pattern": {"shape": pattern}},
               "hovertemplate": hover + "<extra>" + name + "</extra>"}
              for column, name, colour, pattern in series]
    return figure(traces, layout(title, "", height=max(260, row_height * frame.height + 130), barmode="group",
                                 hovermode="closest", xaxis=x_axis))


def budget_spent(slos: pl.DataFrame) -> go.Figure:
    """Error budget spent per SLO this week beside the week before (analytics.review.weekly.slo_table)."""
    frame = slos.filter(pl.col("budget_spent_this_week").is_not_null()).sort("budget_spent_this_week")
    return _grouped_bars(frame, "slo", (("budget_spent_previous_week", "previous week", "#999999", "/"),
                                        ("budget_spent_this_week", "this week", "#0072B2", "")),
                         "Error budget spent", f"%{{y}}: {columns.hover('budget_consumed', 'x')} of the budget", 28,
                         {"tickformat": ".0%", "title": {"text": columns.axis_title("budget_consumed")}})


def incident_timeline(incidents: pl.DataFrame, changes: pl.DataFrame, start, end) -> go.Figure:
    """The week's incidents as bars over time (one row each, by lead SLO) with the deploy markers."""
    rows = incidents.with_columns(pl.col("end").fill_null(end))
    traces = []
    for x0, x1, r in zip(utc_text(rows["start"]), utc_text(rows["end"]), rows.iter_rows(named=True), strict=True):
        label = f"#{r['incident']} {r['incident_key'].split('@')[0]}"
        traces.append({"type": "scatter", "x": [x0, x1], "y": [label, label], "mode": "lines+markers",
                       "name": label, "showlegend": False, "hoverinfo": "text",
                       "line": {"width": 10, "color": severity_colour(r["severity"])},
                       "hovertext": f"{r['severity']}: {r['slos']} ({r['duration_min']:.0f} min)"})
    return figure(traces, layout(
        "Incidents and changes", "", height=max(240, 40 * rows.height + 160), hovermode="closest",
        xaxis={"range": utc_text(pl.Series([start, end])), "title": {"text": columns.axis_title("ts")}},
        yaxis={"rangemode": "normal"}, **marker_layout(changes)))


def gpu_cost(gpu: pl.DataFrame, top: int = 12) -> go.Figure:
    """GPU cost and idle cost per deployment this week beside the week before (the costliest ``top``)."""
    frame = gpu.filter(pl.col("cost").is_not_null()).sort("cost", descending=True).head(top).sort("cost")
    return _grouped_bars(frame, "deployment", (("cost_previous", "cost, previous week", "#999999", "/"),
                                               ("cost", "cost, this week", "#0072B2", ""),
                                               ("idle_cost", "idle cost, this week", "#E69F00", "x")),
                         "GPU cost", f"%{{y}}: {columns.hover('cost', 'x')}", 30,
                         {"tickprefix": "$", "title": {"text": columns.axis_title("cost")}})
