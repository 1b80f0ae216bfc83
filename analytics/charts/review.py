"""Deploy markers on time-series figures, as Grafana draws annotations: a vertical line per change
with a short label on top and the full description on hover."""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

from analytics.charts.base import utc_text

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


def add_markers(fig: go.Figure, changes: pl.DataFrame, deployments: Sequence[str] | None = None) -> go.Figure:
    """A copy of ``fig`` with a vertical line and label per deploy marker (analytics.review.changes
    CHANGE_SCHEMA), optionally only those of ``deployments``; the input figure is not changed.

    Plotly renders a subset of HTML in annotation text, so labels from telemetry are escaped.
    """
    out = go.Figure(fig)
    if deployments is not None:
        changes = changes.filter(pl.col("deployment").is_in(list(deployments)))
    if changes.is_empty():
        return out
    times = utc_text(changes["ts"])
    for x, row in zip(times, changes.iter_rows(named=True), strict=True):
        out.add_shape(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="paper",
                      line={"color": MARKER_COLOUR, "width": 1, "dash": MARKER_DASH.get(row["kind"], "dash")})
        out.add_annotation(x=x, xref="x", y=1, yref="paper", yanchor="bottom", showarrow=False,
                           text=html.escape(_label(row)), font={"size": 10, "color": MARKER_COLOUR},
                           hovertext=html.escape(f"{row['deployment']}: {row['description']} at {x} UTC"))
    return out
