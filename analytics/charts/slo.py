"""Plotly figures for the SLO and What-if pages: pure functions of polars frames."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import polars as pl

from analytics import columns as C
from analytics.charts.base import PALETTE, base_layout, thin, utc_text

SEVERITY_COLOURS = {"page": "#dc2626", "ticket": "#ca8a04"}
SCENARIO_COLOURS = {"current": PALETTE[0], "proposed": PALETTE[3]}
LEGEND_BELOW_AXIS = {"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0}


def _layout(fig: go.Figure, title: str, y_title: str, **kwargs) -> go.Figure:
    """The shared layout, with the legend below the time axis title."""
    base_layout(fig, title, y_title, **kwargs)
    fig.update_xaxes(title_text=C.axis_title("ts"))
    fig.update_layout(legend=LEGEND_BELOW_AXIS, margin={"b": 90})
    return fig


def sli_chart(series: pl.DataFrame, target: float, title: str) -> go.Figure:
    """SLI per time step with its histogram bounds (when inexact) and the target line."""
    fig = go.Figure()
    x = utc_text(series["time"])
    if not series.is_empty() and (series["sli_upper"] - series["sli_lower"]).fill_nan(0).max() > 0:
        fig.add_trace(go.Scatter(x=x, y=series["sli_upper"].to_list(), mode="lines", line={"width": 0},
                                 name="bound (upper)", showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=series["sli_lower"].to_list(), mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor="rgba(37,99,235,0.15)", name="histogram bounds",
                                 hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=series["sli"].to_list(), mode="lines", name="SLI",
                             line={"color": PALETTE[0], "width": 1.5}, hovertemplate=C.hover("attainment")))
    fig.add_hline(y=target, line={"color": PALETTE[1], "dash": "dash"},
                  annotation_text=f"target {target:.2%}")
    _layout(fig, title, C.axis_title("attainment"))  # the SLI of a step: good / valid
    fig.update_yaxes(tickformat=".2%", rangemode="normal")
    return fig


def burn_down_chart(frames: dict[str, pl.DataFrame], period_end: datetime,
                    title: str = "Error budget remaining") -> go.Figure:
    """Budget remaining through the window per scenario, with the ideal straight line to zero."""
    fig = go.Figure()
    for i, (name, frame) in enumerate(frames.items()):
        colour = SCENARIO_COLOURS.get(name, PALETTE[i % len(PALETTE)])
        x = utc_text(frame["time"])
        fig.add_trace(go.Scatter(x=x, y=frame["remaining"].to_list(), mode="lines", name=f"{name} remaining",
                                 line={"color": colour, "width": 2}, hovertemplate=C.hover("budget_remaining")))
        ideal_x = [x[0], period_end.strftime("%Y-%m-%d %H:%M:%S")] if x else []
        ideal_y = [frame["ideal"][0], 0.0] if x else []
        fig.add_trace(go.Scatter(x=ideal_x, y=ideal_y, mode="lines", name=f"{name} ideal",
                                 line={"color": colour, "width": 1, "dash": "dot"}, hoverinfo="skip"))
    fig.add_hline(y=0, line={"color": "#6b7280", "width": 1})
    _layout(fig, title, C.axis_title("budget_remaining"))
    fig.update_yaxes(tickformat=".0%", rangemode="normal")
    return fig


def burn_rate_chart(frame: pl.DataFrame, thresholds: dict[str, float], title: str = "Burn rate") -> go.Figure:
    """Burn rate over each window (columns burn_<window>) and each tier's threshold line (log scale)."""
    fig = go.Figure()
    columns = [c for c in frame.columns if c.startswith("burn_")]
    full = utc_text(frame["time"])  # the threshold lines span the whole range
    frame = thin(frame, columns)  # a month of 5-minute slots: peaks kept, a few hundred points per line
    x = utc_text(frame["time"])
    for i, column in enumerate(columns):
        window = column.removeprefix("burn_")
        y = [v if v is not None and v > 0 else None for v in frame[column].fill_nan(None).to_list()]
        # SVG, not WebGL: with the points thinned it draws at once, while a WebGL context takes
        # seconds to start in a browser without a GPU.
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"burn over {window}",
                                   line={"color": PALETTE[i], "width": 1.3}, hovertemplate=C.hover("burn_rate")))
    for i, (label, value) in enumerate(thresholds.items()):
        # a line trace, not add_hline: shapes on a log axis take log10 coordinates
        fig.add_trace(go.Scatter(x=[full[0], full[-1]] if full else [], y=[value, value], mode="lines", name=label,
                                 line={"color": PALETTE[i % len(PALETTE)], "dash": "dash", "width": 1},
                                 hoverinfo="skip"))
    _layout(fig, title, C.axis_title("burn_rate", log=True))  # 1 = the budget lasts the period
    fig.update_yaxes(type="log", rangemode="normal", dtick=1)  # label decades only
    return fig


def episodes_timeline(episodes: pl.DataFrame, start: datetime, end: datetime,
                      title: str = "Alert episodes") -> go.Figure:
    """One bar per alert episode on a page/ticket lane between start and end."""
    fig = go.Figure()
    for severity in ("page", "ticket"):
        part = episodes.filter(pl.col("severity") == severity)
        if part.is_empty():
            continue
        begins = part["start"]
        ends = part["end"].fill_null(end)
        lengths = ((ends - begins).dt.total_milliseconds()).to_list()
        fig.add_trace(go.Bar(
            base=utc_text(begins), x=lengths, y=[severity] * part.height, orientation="h",
            name=severity, marker_color=SEVERITY_COLOURS[severity],
            customdata=list(zip(part["peak_burn"].to_list(), part["budget_consumed"].to_list(), strict=True)),
            hovertemplate=(f"{C.label('peak_burn')} {C.hover('peak_burn', 'customdata[0]')}, "
                           f"{C.label('budget_consumed')} {C.hover('budget_consumed', 'customdata[1]')}<extra></extra>"),
        ))
        # a marker at each start keeps five-minute episodes visible on a month-long axis
        fig.add_trace(go.Scatter(x=utc_text(begins), y=[severity] * part.height, mode="markers",
                                 marker={"symbol": "line-ns-open", "size": 18,
                                         "color": SEVERITY_COLOURS[severity]},
                                 showlegend=False, hoverinfo="skip"))
    _layout(fig, title, "", height=240)
    fig.update_xaxes(type="date", range=[start.strftime("%Y-%m-%d %H:%M"), end.strftime("%Y-%m-%d %H:%M")])
    fig.update_yaxes(categoryorder="array", categoryarray=["ticket", "page"], title_text=None)
    # legend above the lanes: below, it covers the time axis's year label in this short chart
    fig.update_layout(barmode="overlay", hovermode="closest",
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    return fig


def window_attainment_chart(windows: pl.DataFrame, target: float | None, current: float) -> go.Figure:
    """Attainment of each past window, with the current and the suggested target."""
    fig = go.Figure(go.Scatter(x=utc_text(windows["end"]), y=windows["attainment"].to_list(),
                               mode="lines", name="window attainment", line={"color": PALETTE[0]},
                               hovertemplate=C.hover("attainment")))
    fig.add_hline(y=current, line={"color": PALETTE[1], "dash": "dash"},
                  annotation_text=f"current {current:.2%}")
    if target is not None:
        fig.add_hline(y=target, line={"color": PALETTE[2], "dash": "dot"},
                      annotation_text=f"suggested {target:.2%}", annotation_position="bottom right")
    _layout(fig, "Attainment of past windows (by window end)", C.axis_title("attainment"))
    fig.update_yaxes(tickformat=".2%", rangemode="normal")
    fig.update_xaxes(title_text=C.axis_title("end"))
    return fig
