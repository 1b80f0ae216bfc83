"""Overview: the fleet's verdict and what needs attention, then traffic, errors and latency for the
fleet and each deployment, vs the previous period."""

import streamlit as st

from analytics import columns
from analytics.errors import SpecError
from analytics.traffic import summary as traffic_summary
from analytics.traffic.pipeline import CHARTED
from ui import attention
from ui import format as fmt
from ui import slo as slo_ui
from ui import traffic as data
from ui.page import panel, setup
from ui.tables import show_table

filters = setup("Overview")
args = (filters.deployments, filters.regions)
with panel("Fleet summary", stop=True):  # every panel below needs it
    overview = data.load(filters)
now, per_deployment, compared = overview.fleet, overview.per_deployment, overview.compared
before, after = overview.before, overview.after
if not now:
    st.info("No requests in this range. Widen the time range or clear the filters.")
    st.stop()
with panel("What needs attention"):
    try:
        judged = attention.judge(slo_ui.config(), filters.data_start, filters.end, *args)
        peaks = attention.peak_memory(filters.start, filters.end, *args)
        attention.show(attention.with_deployments(judged, overview, peaks))
    except SpecError as exc:
        st.error(f"The SLO file is invalid: {fmt.text(exc)} (fix it, or load another one on the SLOs page)")
st.subheader("Traffic, errors and latency")


def duration(length) -> str:
    hours = length.total_seconds() / 3600
    return f"{hours / 24:.3g} days" if hours >= 48 else f"{hours:.3g} hours"


if compared is None:
    versus = "The previous period holds no data: there is nothing to compare with."
elif compared.partial:
    versus = (f"Changes compare {duration(compared.compared)} of each period, the part the data covers in both "
              f"({compared.current[0]:%Y-%m-%d %H:%M} → {compared.current[1]:%Y-%m-%d %H:%M} against "
              f"{compared.previous[0]:%Y-%m-%d %H:%M} → {compared.previous[1]:%Y-%m-%d %H:%M}), "
              f"not the whole {duration(compared.length)}.")
else:
    versus = "Changes compare it with the period of equal length before it."
st.caption(f"{filters.start:%Y-%m-%d %H:%M} → {filters.end:%Y-%m-%d %H:%M} UTC. {versus} "
           "Latency percentiles are of successful requests.")


def delta(key: str, render) -> str | None:
    """The change vs the previous period (over the compared parts), formatted like the value."""
    if before.get(key) is None or after.get(key) is None:
        return None
    diff = after[key] - before[key]
    return ("+" if diff >= 0 else "-") + render(abs(diff))


def measured(render):
    """A value that was not measured (e.g. errors of an arrival-only trace) says so."""
    return lambda v: "not measured" if v is None else render(v)


kpis = [(key, "inverse" if key != "rps" else "normal") for key in
        ("rps", "error_rate", "ttft_p50_ms", "ttft_p95_ms", "ttft_p99_ms", "e2e_p50_ms", "e2e_p95_ms", "e2e_p99_ms")]
# two rows of four: eight cards in one row cut their values ("135…") at a 1280 px window
for column, (key, colour) in zip([*st.columns(4), *st.columns(4)], kpis, strict=True):
    render = measured(lambda v, key=key: columns.text(key, v, compact=True))
    column.metric(columns.card_label(key), render(now.get(key)), delta(key, render), delta_color=colour,
                  help=columns.column(key).tooltip)

step = filters.step_seconds
with panel("Charts"):  # a failed chart query leaves the tables below
    figures, markers = data.charts_of(filters, overview.charted)
    left, right = st.columns(2)
    left.plotly_chart(figures["rps"], key="chart_rps")
    right.plotly_chart(figures["errors"], key="chart_errors")
    left.plotly_chart(figures["ttft"], key="chart_ttft")
    right.plotly_chart(figures["e2e"], key="chart_e2e")
    shown = (f"The {CHARTED} busiest of {per_deployment.height} deployments; choose deployments in the "
             "sidebar to chart others. " if per_deployment.height > CHARTED else "")
    st.caption(f"{shown}One point {fmt.per_step(step)}. Dashed lines: deploy markers ({markers} "
               "model version, GPU type or replica changes found in the telemetry). Drag on a chart or use the "
               "buttons to zoom.")

st.subheader("Top movers vs the previous period")
with panel("Top movers"):
    moved, fresh = overview.movers, overview.fresh
    new = f" New since then, so not compared: {fmt.text(', '.join(fresh))}." if fresh else ""
    if compared is None:
        st.caption("No previous period to compare with.")
    elif moved.is_empty():
        st.caption(f"No deployment's traffic, error rate or latency changed by more than chance (|z| < "
                   f"{traffic_summary.SIGNIFICANT_Z:g}).{new}")
    else:
        show_table(moved, "top movers",
                   caption="What got worse first (z > 0: more errors, higher latency, less traffic), then what "
                           "got better, each ordered by the evidence of the change (z of a test on the counts: errors "
                           "among requests, requests, requests slower than the previous p99); only changes with "
                           f"|z| >= {traffic_summary.SIGNIFICANT_Z:g} are listed. Change is "
                           f"relative; 'new' where the previous period had under {traffic_summary.MIN_EVENTS} "
                           "errors (or requests, or slow requests), too few for a ratio. A p99 needs "
                           f"{traffic_summary.MIN_LATENCY_SAMPLES:,} requests in each period.{new}")

st.subheader("Per deployment")
show_table(per_deployment.sort("error_rate", descending=True), "deployments overview")
