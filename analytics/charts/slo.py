"""Plotly figures for the SLO and What-if pages: pure functions of polars frames."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import plotly.graph_objects as go
import polars as pl

from analytics import columns as column_registry
from analytics.charts.base import PALETTE, escaped_all, figure, layout, line_at, thin, utc_text
from analytics.slo.spec import target_digits
from analytics.slo.state import severity_colour

SCENARIO_COLOURS = {"current": PALETTE[0], "proposed": PALETTE[3]}
LEGEND_BELOW_AXIS = {"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0}


def _layout(title: str, y_title: str, **changes) -> dict:
    """The shared layout, with the legend below the time axis title."""
    return layout(title, y_title, **({"xaxis": {"title": {"text": column_registry.axis_title("ts")}}, "legend": LEGEND_BELOW_AXIS,
                                      "margin": {"b": 90}} | changes))


def sli_chart(series: pl.DataFrame, target: float, title: str) -> go.Figure:
    """SLI per time step with its histogram bounds (when inexact) and the target line."""
    traces = []
    x = utc_text(series["time"])
    if not series.is_empty() and (series["sli_upper"] - series["sli_lower"]).fill_nan(0).max() > 0:
        traces += [
            {"type": "scatter", "x": x, "y": series["sli_upper"].to_list(), "mode": "lines", "line": {"width": 0},
             "name": "bound (upper)", "showlegend": False, "hoverinfo": "skip"},
            {"type": "scatter", "x": x, "y": series["sli_lower"].to_list(), "mode": "lines", "line": {"width": 0},
             "fill": "tonexty", "fillcolor": "rgba(37,99,235,0.15)", "name": "histogram bounds", "hoverinfo": "skip"},
        ]
    traces.append({"type": "scatter", "x": x, "y": series["sli"].to_list(), "mode": "lines", "name": "SLI",
                   "line": {"color": PALETTE[0], "width": 1.5}, "hovertemplate": column_registry.hover("attainment")})
    line, label = line_at("y", target, PALETTE[1], dash="dash", text=f"target {target:.2%}")
    # the SLI of a step: good / valid
    return figure(traces, _layout(title, column_registry.axis_title("attainment"), shapes=[line], annotations=label,
                                  yaxis={"tickformat": ".2%", "rangemode": "normal"}))


def burn_down_chart(frames: dict[str, pl.DataFrame], period_end: datetime,
                    title: str = "Error budget remaining") -> go.Figure:
    """Budget remaining through the window per scenario, with the ideal straight line to zero."""
    traces = []
    for i, (name, frame) in enumerate(frames.items()):
        colour = SCENARIO_COLOURS.get(name, PALETTE[i % len(PALETTE)])
        x = utc_text(frame["time"])
        traces.append({"type": "scatter", "x": x, "y": frame["remaining"].to_list(), "mode": "lines",
                       "name": f"{name} remaining", "line": {"color": colour, "width": 2},
                       "hovertemplate": column_registry.hover("budget_remaining")})
        traces.append({"type": "scatter", "x": [x[0], period_end.strftime("%Y-%m-%d %H:%M:%S")] if x else [],
                       "y": [frame["ideal"][0], 0.0] if x else [], "mode": "lines", "name": f"{name} ideal",
                       "line": {"color": colour, "width": 1, "dash": "dot"}, "hoverinfo": "skip"})
    zero, _ = line_at("y", 0, "#6b7280", width=1)
    return figure(traces, _layout(title, column_registry.axis_title("budget_remaining"), shapes=[zero],
                                  yaxis={"tickformat": ".0%", "rangemode": "normal"}))


def burn_rate_chart(frame: pl.DataFrame, thresholds: dict[str, float], title: str = "Burn rate") -> go.Figure:
    """Burn rate over each window (columns burn_<window>) and each tier's threshold line (log scale)."""
    columns = [c for c in frame.columns if c.startswith("burn_")]
    full = utc_text(frame["time"])  # the threshold lines span the whole range
    frame = thin(frame, columns)  # a month of 5-minute slots: peaks kept, a few hundred points per line
    x = utc_text(frame["time"])
    traces = []
    for i, column in enumerate(columns):
        window = column.removeprefix("burn_")
        y = [v if v is not None and v > 0 else None for v in frame[column].fill_nan(None).to_list()]
        # SVG, not WebGL: with the points thinned it draws at once, while a WebGL context takes
        # seconds to start in a browser without a GPU.
        traces.append({"type": "scatter", "x": x, "y": y, "mode": "lines", "name": f"burn over {window}",
                       "line": {"color": PALETTE[i], "width": 1.3}, "hovertemplate": column_registry.hover("burn_rate")})
    for i, (label, value) in enumerate(thresholds.items()):
        # a line trace, not a shape: shapes on a log axis take log10 coordinates
        traces.append({"type": "scatter", "x": [full[0], full[-1]] if full else [], "y": [value, value],
                       "mode": "lines", "name": label, "hoverinfo": "skip",
                       "line": {"color": PALETTE[i % len(PALETTE)], "dash": "dash", "width": 1}})
    # 1 = the budget lasts the period; decades labelled only
    return figure(traces, _layout(title, column_registry.axis_title("burn_rate", log=True),
                                  yaxis={"type": "log", "rangemode": "normal", "dtick": 1}))


def episodes_timeline(episodes: pl.DataFrame, start: datetime, end: datetime,
                      title: str = "Alert episodes") -> go.Figure:
    """One bar per alert episode on a page/ticket lane between start and end."""
    traces = []
    for severity in ("page", "ticket"):
        part = episodes.filter(pl.col("severity") == severity)
        if part.is_empty():
            continue
        begins = utc_text(part["start"])
        ends = part["end"].fill_null(end)
        traces.append({
            "type": "bar", "base": begins, "x": ((ends - part["start"]).dt.total_milliseconds()).to_list(),
            "y": [severity] * part.height, "orientation": "h", "name": severity,
            "marker": {"color": severity_colour(severity)},
            "customdata": list(zip(part["peak_burn"].to_list(), part["budget_consumed"].to_list(), strict=True)),
            "hovertemplate": (f"{column_registry.label('peak_burn')} {column_registry.hover('peak_burn', 'customdata[0]')}, "
                              f"{column_registry.label('budget_consumed')} {column_registry.hover('budget_consumed', 'customdata[1]')}<extra></extra>"),
        })
        # a marker at each start keeps five-minute episodes visible on a month-long axis
        traces.append({"type": "scatter", "x": begins, "y": [severity] * part.height, "mode": "markers",
                       "marker": {"symbol": "line-ns-open", "size": 18, "color": severity_colour(severity)},
                       "showlegend": False, "hoverinfo": "skip"})
    return figure(traces, _layout(
        title, "", height=240, barmode="overlay", hovermode="closest",
        xaxis={"title": {"text": column_registry.axis_title("ts")}, "type": "date",
               "range": [start.strftime("%Y-%m-%d %H:%M"), end.strftime("%Y-%m-%d %H:%M")]},
        yaxis={"title": {"text": None}, "categoryorder": "array", "categoryarray": ["ticket", "page"]},
        # legend above the lanes: below, it covers the time axis's year label in this short chart
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"}))


def _target_text(target: float) -> str:
    """A target as the pages print it, with all its nines (99.00%, 99.999%)."""
    return column_registry.text("target", target, digits=target_digits(target))


def window_attainment_chart(windows: pl.DataFrame, suggested: float | None, current: float,
                            proposed: float) -> go.Figure:
    """Attainment of each past window, with the current SLO's target, the proposed one (when it
    differs) and the suggested target, each line labelled with its own value."""
    trace = {"type": "scatter", "x": utc_text(windows["end"]), "y": windows["attainment"].to_list(), "mode": "lines",
             "name": "window attainment", "line": {"color": PALETTE[0]}, "hovertemplate": column_registry.hover("attainment")}
    targets = [(current, PALETTE[1], "dash", "current")]
    if proposed != current:
        targets.append((proposed, SCENARIO_COLOURS["proposed"], "dash", "proposed"))
    if suggested is not None:
        targets.append((suggested, PALETTE[2], "dot", "suggested"))
    # the lowest line's label below it, the others above theirs, alternately left and right, so
    # labels of nearby lines (a suggestion 0.05 points above the current target) stay apart
    positions = ("bottom right", "top left", "top right")
    lines = [line_at("y", value, colour, dash=dash, text=f"{name} {_target_text(value)}", position=positions[i])
             for i, (value, colour, dash, name) in enumerate(sorted(targets, key=lambda t: t[0]))]
    return figure([trace], _layout(
        "Attainment of past windows (by window end)", column_registry.axis_title("attainment"),
        shapes=[shape for shape, _ in lines], annotations=[a for _, labels in lines for a in labels],
        xaxis={"title": {"text": column_registry.axis_title("end")}}, yaxis={"tickformat": ".2%", "rangemode": "normal"}))


CORRECTION_FILL = "rgba(107,114,128,0.18)"  # grey: time the budget does not count
CORRECTION_LABEL_CHARS = 40  # a band's label; the full reason is in the corrections table
CORRECTION_LABEL_STEP = 0.08  # each further reason's label this share of the plot's height lower


def correction_layout(bands: Sequence[tuple[datetime, datetime, str]]) -> dict[str, list]:
    """A grey shaded band per budget correction window (begin, end, reason), spanning the plot's
    height (analytics.slo.corrections.bands). Each reason is written once, at its first band, one
    line lower per reason: a weekly window repeats its label on no other band, and labels of
    different corrections do not overprint each other."""
    shapes, annotations, rows = [], [], {}
    for begin, end, reason in bands:
        x0, x1 = begin.strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S")
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
                       "fillcolor": CORRECTION_FILL, "line": {"width": 0}, "layer": "below"})
        if reason in rows:
            continue
        rows[reason] = len(rows)
        label = reason if len(reason) <= CORRECTION_LABEL_CHARS else reason[:CORRECTION_LABEL_CHARS - 1] + "…"
        annotations.append({"x": x0, "xref": "x", "y": 1 - CORRECTION_LABEL_STEP * rows[reason], "yref": "paper",
                            "text": label, "showarrow": False, "xanchor": "left", "yanchor": "top",
                            "font": {"size": 10, "color": "#4b5563"}})
    return {"shapes": shapes, "annotations": annotations}


def add_corrections(fig: go.Figure, bands: Sequence[tuple[datetime, datetime, str]], start: datetime,
                    end: datetime) -> go.Figure:
    """A copy of ``fig`` with correction_layout's bands added (their reasons escaped here, as user text)
    and its time axis fixed to [start, end]: plotly widens an automatic range to fit annotation text,
    which would stretch the axis past the data. The input figure is not changed."""
    spec = fig.to_dict()
    for key, items in correction_layout(bands).items():
        spec["layout"][key] = [*spec["layout"].get(key, []), *escaped_all(items)]
    if bands:
        spec["layout"].setdefault("xaxis", {})["range"] = [start.strftime("%Y-%m-%d %H:%M:%S"),
                                                         end.strftime("%Y-%m-%d %H:%M:%S")]
    return go.Figure(spec)
