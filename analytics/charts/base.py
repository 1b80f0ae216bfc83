"""Plotly figure builders shared by pages: pure functions of polars frames."""

from __future__ import annotations

import html
import re

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from analytics import columns as column_registry

# Every chart is drawn on plotly_white, made plotly's default: plotly applies its default template
# as already valid, while an explicit template= is validated again, property by property, on every
# figure (0.1-0.2 s each, most of the time a what-if slider move took).
pio.templates.default = "plotly_white"

# One colour per deployment, stable across charts (Plotly's qualitative "Alphabet"-like set).
PALETTE = (
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
    "#4f46e5", "#65a30d", "#0d9488", "#b91c1c", "#7c3aed", "#c2410c", "#0369a1", "#a16207",
)
RANGE_BUTTONS = [
    {"count": 1, "label": "1d", "step": "day", "stepmode": "backward"},
    {"count": 7, "label": "7d", "step": "day", "stepmode": "backward"},
    {"step": "all", "label": "all"},
]


def utc_text(times: pl.Series) -> list[str]:
    """Times as ISO text in UTC (Plotly encodes datetime arrays as bare numbers)."""
    if isinstance(times.dtype, pl.Datetime) and times.dtype.time_zone:
        times = times.dt.convert_time_zone("UTC")
    return times.dt.strftime("%Y-%m-%d %H:%M:%S").to_list()


MAX_POINTS = 1000  # per line: about two per pixel column of a chart as wide as the page


def thin(frame: pl.DataFrame, columns: list[str], points: int = MAX_POINTS) -> pl.DataFrame:
    """At most about `points` rows of an ordered frame, for a line chart: the rows are cut into
    buckets of consecutive rows and each bucket keeps its first row and the rows holding each
    column's minimum and maximum (min-max decimation), so every peak and dip a pixel column can
    show is kept. Frames that short already are returned as they are."""
    if frame.height <= points or not columns:
        return frame
    size = -(-frame.height * 2 * (len(columns) + 1) // points)  # rows per bucket
    indexed = frame.with_row_index("_row").with_columns((pl.col("_row") // size).alias("_bucket"))
    picks = [pl.col("_row").first().alias("_first")] + [
        pl.col("_row").get(pl.col(c).fill_nan(None).arg_max() if extreme == "max" else
                           pl.col(c).fill_nan(None).arg_min()).alias(f"_{c}_{extreme}")
        for c in columns for extreme in ("min", "max")]
    kept = indexed.group_by("_bucket").agg(picks).drop("_bucket")
    rows = pl.concat([kept.get_column(c) for c in kept.columns]).drop_nulls().append(
        pl.Series([frame.height - 1], dtype=pl.UInt32)).unique().sort()
    return frame[rows.to_list()]


def color_for(name: str, names: list[str]) -> str:
    """A stable colour for a series name within a sorted list of names."""
    return PALETTE[sorted(names).index(name) % len(PALETTE)]


def layout(title: str, y_title: str, *, height: int = 340, **changes) -> dict:
    """The common layout as a dict: title, axis titles, legend below, compact margins, unified hover.
    ``y_title``: C.axis_title(column) of what the axis plots (or '' for none), so a chart and a table
    name a value alike. ``changes`` replace layout keys; a dict is merged into the key's dict (one
    level: ``margin={"b": 90}`` keeps the other margins)."""
    spec = {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0, "font": {"size": 11}},
        "hovermode": "x unified",
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
    }
    for key, value in changes.items():
        spec[key] = {**spec[key], **value} if isinstance(value, dict) and isinstance(spec.get(key), dict) else value
    return spec


# Plotly draws chart text (trace names, tick labels, hover labels, annotations, titles) as a subset
# of HTML: <a href> becomes a link, <span style="fill:url(...)"> fetches a URL. Entities are decoded
# back to text when drawn (plotly.js svg_text_utils, convertEntities), so '&', '<' and '>' written as
# &amp; &lt; &gt; show as typed. Templates are the chart's own markup (<br>, <extra>): left as they are.
TEMPLATE_KEYS = frozenset({"hovertemplate", "texttemplate"})
_MARKUP = re.compile("[&<>]")
_PLAIN = frozenset({int, float, bool, type(None)})


def escaped(value: str) -> str:
    """Text drawn by plotly as it was typed: '&', '<' and '>' as entities, so no markup takes effect."""
    return html.escape(value, quote=False)


def escaped_all(value):
    """A copy of trace or layout data (dicts, lists, tuples, arrays) with every string escaped
    (escaped()) except the values of TEMPLATE_KEYS; numbers and other values as they are."""
    if isinstance(value, str):
        return escaped(value)
    if isinstance(value, dict):
        return {key: item if key in TEMPLATE_KEYS else escaped_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        kinds = {type(item) for item in value}
        if kinds <= _PLAIN or (kinds == {str} and not _MARKUP.search("".join(value))):
            return list(value)  # a line's numbers or timestamps: one look at the list, not one call per point
        return [escaped_all(item) for item in value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
        return [escaped_all(item) for item in value.tolist()]
    return value


def figure(traces: list[dict], spec: dict) -> go.Figure:
    """A figure made in one step from trace and layout dicts, every user-derived string in them
    escaped (escaped_all): plotly validates it once, where building it call by call (add_trace,
    update_layout, add_hline) validates again on every call, about five times the time (50 ms
    against 10 ms for a what-if burn-down). A hovertemplate is not escaped: a builder puts data in
    one only through escaped(), or as a %{...} variable of escaped trace data."""
    return go.Figure({"data": escaped_all(traces), "layout": escaped_all(spec)})


def line_at(axis: str, at: float, colour: str, *, dash: str | None = None, width: float | None = None,
            text: str | None = None, position: str = "top right", font: dict | None = None) -> tuple[dict, list[dict]]:
    """A line across the plot at ``at`` on the "x" axis (vertical) or "y" axis (horizontal), as
    plotly's add_vline / add_hline draw it, and its label placed as their annotation_position does
    ("top right", "top left", "bottom right", "bottom left"), in ``font`` (plotly's font dict) when given:
    (shape, [annotation] or [])."""
    line = {"color": colour} | ({"dash": dash} if dash else {}) | ({"width": width} if width else {})
    other = "y" if axis == "x" else "x"
    shape = {"type": "line", f"{axis}ref": axis, f"{axis}0": at, f"{axis}1": at,
             f"{other}ref": f"{other} domain", f"{other}0": 0, f"{other}1": 1, "line": line}
    if text is None:
        return shape, []
    vertical, horizontal = position.split()
    if axis == "x":  # beside the line's top (or bottom) end
        place = {"x": at, "xref": "x", "xanchor": "right" if horizontal == "left" else "left",
                 "y": 0 if vertical == "bottom" else 1, "yref": "y domain",
                 "yanchor": "bottom" if vertical == "bottom" else "top"}
    else:  # above (or below) the line at its left or right end
        place = {"x": 0 if horizontal == "left" else 1, "xref": "x domain", "xanchor": horizontal,
                 "y": at, "yref": "y", "yanchor": "top" if vertical == "bottom" else "bottom"}
    return shape, [{"text": text, "showarrow": False, **place} | ({"font": font} if font else {})]


def time_series(
    frame: pl.DataFrame,
    y: str,
    *,
    title: str,
    y_title: str | None = None,
    tick_format: str | None = None,
    hover_format: str | None = None,
    log_y: bool = False,
    by: str = "deployment",
    time: str = "slot",
    marks: dict[str, list[dict]] | None = None,
) -> go.Figure:
    """One line per `by` value over time, with range-selector buttons. The axis title and the hover
    value come from the column registry (label, unit, decimals) unless given; ``marks``: layout
    shapes and annotations to draw too (e.g. charts.review.marker_layout's deploy markers)."""
    hover = column_registry.hover(y) if hover_format is None else f"%{{y:{hover_format}}}"
    names = sorted(frame[by].unique().to_list()) if not frame.is_empty() else []
    traces = []
    for name in names:
        part = frame.filter(pl.col(by) == name).sort(time)
        # SVG, not WebGL: a few hundred points per line draw at once, while every WebGL chart
        # starts its own context (seconds in a browser without a GPU).
        traces.append({"type": "scatter", "x": utc_text(part[time]), "y": part[y].to_list(), "name": name,
                       "mode": "lines", "line": {"width": 1.4, "color": color_for(name, names)},
                       "hovertemplate": hover})
    y_axis = {"title": {"text": column_registry.axis_title(y, log=log_y) if y_title is None else y_title}}
    if tick_format:
        y_axis["tickformat"] = tick_format
    if log_y:
        y_axis |= {"type": "log", "rangemode": "normal", "dtick": 1}  # label decades only
    return figure(traces, layout(
        title, "", height=360, yaxis=y_axis,
        xaxis={"title": {"text": column_registry.axis_title("ts")}, "rangeselector": {"buttons": RANGE_BUTTONS, "y": 1.02}},
        legend={"orientation": "v", "y": 1, "x": 1.02, "yanchor": "top", "font": {"size": 10}},
        margin={"l": 60, "r": 10, "t": 70, "b": 40}, **(marks or {})))
