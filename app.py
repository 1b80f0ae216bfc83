"""Overview: traffic, errors and latency for the fleet and each deployment, vs the previous period."""

import polars as pl
import streamlit as st

from analytics.charts import base as charts
from analytics.traffic.summary import movers
from ui import format as fmt
from ui import traffic as data
from ui.page import panel, setup
from ui.tables import show_table

filters = setup("Overview")
args = (filters.deployments, filters.regions)
with panel("Fleet summary", stop=True):  # every panel below needs it
    now = data.fleet_summary(filters.start, filters.end, *args)
    before = data.fleet_summary(*filters.previous, *args)
    per_deployment = data.summary(filters.start, filters.end, *args)
    previous = data.summary(*filters.previous, *args)
if not now:
    st.info("No requests in this range. Widen the time range or clear the filters.")
    st.stop()
st.caption(f"{filters.start:%Y-%m-%d %H:%M} → {filters.end:%Y-%m-%d %H:%M} UTC, compared with the "
           "period of equal length before it. Latency percentiles are of successful requests.")


def delta(key: str, render) -> str | None:
    """The change vs the previous period, formatted like the value."""
    if not before or before.get(key) is None or now.get(key) is None:
        return None
    diff = now[key] - before[key]
    return ("+" if diff >= 0 else "-") + render(abs(diff))


kpis = [
    ("Requests/s", "rps", fmt.rate, "normal"),
    ("Error rate", "error_rate", lambda v: fmt.pct(v, 3), "inverse"),
    ("TTFT p50", "ttft_p50_ms", fmt.ms, "inverse"),
    ("TTFT p95", "ttft_p95_ms", fmt.ms, "inverse"),
    ("TTFT p99", "ttft_p99_ms", fmt.ms, "inverse"),
    ("E2E p50", "e2e_p50_ms", fmt.ms, "inverse"),
    ("E2E p95", "e2e_p95_ms", fmt.ms, "inverse"),
    ("E2E p99", "e2e_p99_ms", fmt.ms, "inverse"),
]
for column, (title, key, render, colour) in zip(st.columns(len(kpis)), kpis, strict=True):
    column.metric(title, render(now.get(key)), delta(key, render), delta_color=colour)

step = filters.step_seconds
CHARTED = 8  # more lines than this make the charts unreadable
with panel("Charts"):  # a failed chart query leaves the tables below
    series = data.series(filters.start, filters.end, *args, step)
    busiest = per_deployment.sort("requests", descending=True)["deployment"].head(CHARTED).to_list()
    series = series.filter(pl.col("deployment").is_in(busiest))
    left, right = st.columns(2)
    left.plotly_chart(charts.time_series(series, "rps", title="Requests per second",
                                         y_title="requests/s"), key="chart_rps")
    right.plotly_chart(charts.time_series(series, "error_rate", title="Error rate (non-ok / all)",
                                          y_title="error rate", tick_format=".1%", hover_format=".2%"),
                       key="chart_errors")
    left.plotly_chart(charts.time_series(series, "ttft_p99_ms", title="TTFT p99 (LLM deployments)",
                                         y_title="ms (log scale)", log_y=True, hover_format=",.0f"),
                      key="chart_ttft")
    right.plotly_chart(charts.time_series(series, "e2e_p99_ms", title="End-to-end latency p99",
                                          y_title="ms (log scale)", log_y=True, hover_format=",.0f"),
                       key="chart_e2e")
    shown = (f"The {CHARTED} busiest of {per_deployment.height} deployments; choose deployments in the "
             "sidebar to chart others. " if per_deployment.height > CHARTED else "")
    st.caption(f"{shown}One point per {step // 60} minutes. Drag on a chart or use the buttons to zoom.")

st.subheader("Top movers vs the previous period")
moved = movers(per_deployment, previous)
if moved.is_empty():
    st.caption("No previous period to compare with.")
else:
    # One unit per row: error rates shown in percent so the value columns read naturally.
    in_percent = pl.col("metric") == "error_rate"
    shown = moved.with_columns(
        pl.when(in_percent).then(pl.col(c) * 100).otherwise(pl.col(c)).alias(c) for c in ("previous", "current")
    ).with_columns(metric=pl.col("metric").replace_strict(
        {"rps": "Requests/s", "error_rate": "Error rate (%)", "ttft_p99_ms": "TTFT p99 (ms)",
         "e2e_p99_ms": "E2E p99 (ms)"}))
    show_table(shown, "top movers",
               caption="Change is relative to the previous period; the list is ordered by how much worse "
                       "(more errors, higher latency, less traffic) or better each metric got.")

st.subheader("Per deployment")
show_table(per_deployment.sort("error_rate", descending=True), "deployments overview")
