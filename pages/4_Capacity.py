"""Capacity: demand forecasts per deployment, their measured accuracy, and the GPUs they need."""

import polars as pl
import streamlit as st

from analytics.capacity import pipeline as capacity_pipeline
from analytics.capacity import selection as capacity_selection
from analytics.capacity.demand import HOUR, METRICS
from analytics.capacity.plan import outlook_table
from analytics.charts import capacity as charts
from analytics.errors import InputError
from analytics.review import verdicts as review_verdicts
from analytics.slo.state import STYLE
from ui import capacity as fd
from ui import capacity_curve
from ui import format as fmt
from ui import slo as slo_ui
from ui.page import linked, panel, setup
from ui.tables import show_table

filters = setup("Capacity")
slo_ui.slos_or_stop()
slo_file = slo_ui.config()
start, end = capacity_pipeline.window(filters.data_start, filters.end)
st.caption(
    f"Forecasts fit on hourly demand from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC (up to "
    f"{capacity_pipeline.HISTORY.days} days before the end of the selected range), each deployment by the model that "
    "wins its backtest. GPUs needed = forecast upper bound / SLO-compliant throughput per GPU, plus headroom. For an "
    "LLM deployment that throughput is where its fitted latency-vs-load curve (TTFT vs prefill tokens/s, TPOT vs "
    "decode tokens/s per GPU) meets the SLO threshold, whichever binds first. Where the data never came near that "
    "load (extrapolated), and for other deployments, it is the highest load per GPU at which the deployment met its "
    "latency SLOs in an hour or, where DCGM SM activity is known and the peak used less than 70% of it, that load "
    "extrapolated to 70% SM activity (load assumed proportional)."
)

with st.expander("Scenario", expanded=True):
    c1, c2, c3, c4 = st.columns(4)
    weeks = linked(c1.slider, "Horizon (weeks)", 1, 12, key="cap_weeks", param="weeks", default=capacity_pipeline.DEFAULT_WEEKS,
                   parse=int, allowed=range(1, 13))
    growth = linked(c2.number_input, "Growth multiplier by the horizon", 0.5, 5.0, step=0.1, key="cap_growth",
                    param="growth", default=1.0, parse=float, allowed=lambda g: 0.5 <= g <= 5.0,
                    help="Demand at the end of the horizon = this x the forecast, ramping linearly from now.")
    headroom = linked(c3.slider, "Headroom (%)", 0, 100, step=5, key="cap_headroom", param="headroom",
                      default=round(capacity_pipeline.DEFAULT_HEADROOM * 100), parse=int, allowed=range(0, 101, 5))
    interval = linked(c4.slider, "Interval width (%)", 50, 95, step=5, key="cap_interval", param="interval",
                      default=round(capacity_pipeline.DEFAULT_INTERVAL * 100), parse=int, allowed=range(50, 96, 5))
    c5, c6, c7 = st.columns([2, 1, 1])
    events_text = c5.text_area("Known events (one per line: name, YYYY-MM-DD, days)", key="cap_events",
                               placeholder="launch, 2026-11-20, 2", height=80,
                               help="Prophet holidays: the effect is learned from the event's past occurrences (the other "
                                    "models ignore events).")
    metric = linked(c6.radio, "Demand", list(METRICS), format_func=METRICS.get, key="cap_metric", param="metric",
                    default=next(iter(METRICS)), allowed=METRICS)
    method = linked(c7.radio, "Forecast with", list(fd.METHOD_LABELS), format_func=fd.METHOD_LABELS.get,
                    key="cap_method", param="method", default=capacity_pipeline.DEFAULT_METHOD, allowed=fd.METHOD_LABELS,
                    help="Chosen by backtest: per deployment, the model with the lowest backtest MASE if it beats "
                         "the better seasonal naive by 5%, else that seasonal naive.")
    overlay = linked(c7.toggle, "Show the baseline too", key="cap_overlay", param="baseline", default=False,
                     parse={"yes": True, "no": False}.get, show=lambda on: "yes" if on else "no")

try:
    events = fd.parse_events(events_text)
except InputError as exc:
    st.error(fmt.text(exc))
    st.stop()

with panel("Deployments", stop=True):
    table = fd.deployments()
in_scope = table.filter(pl.col("region").is_in(filters.regions)) if filters.regions else table
names = tuple(n for n in in_scope["deployment"].to_list() if not filters.deployments or n in filters.deployments)
if not names or end - start < 7 * 24 * HOUR:
    st.info("Forecasts need at least 7 days of hourly data for a deployment in scope: widen the filters.")
    st.stop()
scenario = fd.Scenario(start, end, filters.regions, names, metric, method, interval / 100, events, weeks,
                       float(growth), headroom / 100)
with panel("Capacity assessment", stop=True):  # every panel below needs it
    assessment, forecasts, errors, fitting, chosen = fd.assessment(scenario, slo_file)
outlooks = outlook_table(assessment, errors)
model_labels = fd.models(scenario, fitting, chosen)
unit = METRICS[metric]


@st.fragment(run_every=3)
def refresh_when_fitted() -> None:
    """While fits run in the background, check every few seconds and rerun the page when they are in."""
    if fitting or st.session_state.get("cap_waiting"):
        if fd.background().busy():
            st.session_state["cap_waiting"] = True
            st.caption(f"⏳ Backtests and fits are running in the background for {len(fitting) or 'some'} "
                       "deployment(s); meanwhile they show the seasonal-naive forecast (same hour last week). "
                       "This page updates itself when they are in.")
        elif st.session_state.pop("cap_waiting", False):
            st.rerun(scope="app")


if fitting or st.session_state.get("cap_waiting"):  # otherwise nothing to wait for: no rerun every 3 s
    refresh_when_fitted()

# The headline counts the states of analytics.review.verdicts (the Overview's attention list uses the
# same): short now, or short soon (capacity or headroom runs out within the horizon).
verdicts = [review_verdicts.capacity_verdict(o, end) for o in assessment.outlooks.values()]
pools = review_verdicts.shortfalls(review_verdicts.pool_verdicts(assessment.plans, table, end))
short = fd.shortages(assessment, end)
k1, k2, k3, k4 = st.columns(4)
fmt.metric(k1, "deployments_forecast", f"{len(forecasts)} of {len(names)}")
fmt.state_count(k2, "short now", sum(v.state == "short now" for v in verdicts),
                help="Expected demand exceeds the SLO capacity of the current GPUs within a day.")
fmt.state_count(k3, "short soon", sum(v.state == "short soon" for v in verdicts),
                help="Capacity, or the headroom above the forecast's upper bound, runs out later within the horizon.")
fmt.metric(k4, "capacity_unknown", outlooks.filter(pl.col("per_gpu").is_null()).height)
for v in [*short, *pools][:8]:
    st.warning(f"{STYLE[v.state].icon} **{fmt.text(v.name)}** ({STYLE[v.state].label.lower()}): {fmt.text(v.why)} "
               f"(GPUs needed include {headroom}% headroom).")

@st.fragment  # choosing another deployment reruns this part only, not the fleet tables and charts below
def one_deployment() -> None:
    """One deployment's forecast chart, SLO-compliant throughput and model scoreboard."""
    st.subheader("One deployment")
    name = linked(st.selectbox, "Deployment", names, key="cap_deployment", param="deployment",
                  default=fd.default_deployment(assessment, outlooks, end, names),
                  allowed=names)
    plan = assessment.plans.get(name)
    if name in errors:
        st.error(f"No forecast for {fmt.text(name)}: {fmt.text(errors[name])}")
    else:
        o = assessment.outlooks[name]
        shown_model = model_labels[name]
        base = fd.baseline(scenario, name) if overlay and not shown_model.startswith("Seasonal naive") else None
        fig = charts.forecast_chart(
            fd.actuals(scenario, name), plan, title=f"{name}: hourly demand and {weeks}-week forecast", unit=unit,
            interval_width=interval / 100, capacity=plan["capacity"][0] if plan["capacity"][0] is not None else None,
            exhausted_at=o.capacity_exhausted_at, baseline=base, metric=metric, method=shown_model.split(",")[0],
        )
        st.plotly_chart(fig, key="cap_chart")
        tp = fd.throughputs(start, end, filters.regions, names, metric, slo_file)[name]
        if tp.per_gpu is None:
            st.info(f"SLO-compliant throughput unknown: {fmt.text(tp.reason)}. GPUs needed cannot be computed.")
        else:
            st.caption(f"SLO: {fmt.text(tp.slo)}. SLO-compliant throughput: {tp.per_gpu:.4g} {unit} per GPU, {tp.basis} "
                       f"({tp.hours_met} of {tp.hours_evaluable} evaluable hours met the SLO).")
        model_scoreboard(name)
        capacity_curve.show(start, end, filters.regions, name, slo_file)


def model_scoreboard(name: str) -> None:
    """Every model's rolling-origin backtest on this deployment and the one that drives the plan."""
    chosen = fd.selection(scenario, name)
    if chosen is None:
        st.session_state["cap_waiting"] = True
        st.info("Backtesting every model in the background (rolling origin); the scoreboard appears here when "
                "it is done.")
        return
    shown = ("" if method == capacity_pipeline.AUTO else
             f" That is with '{fd.METHOD_LABELS[capacity_pipeline.AUTO]}'; this view forecasts with "
             f"{fd.METHOD_LABELS[method]}, as chosen above.")
    if not chosen.scores:
        st.info(fmt.text(chosen.reason + shown))
        return
    st.success(fmt.text(chosen.reason + shown))
    show_table(capacity_selection.scoreboard(chosen), f"model scoreboard {name}",
               caption=f"Rolling origin, {chosen.folds} cutoffs, {chosen.points} hourly points per model. MASE < 1 "
                       "beats the in-sample seasonal-naive error (Hyndman & Koehler 2006); a model drives the plan "
                       f"only when its MASE is {capacity_selection.MARGIN:.0%} below the better seasonal naive's. "
                       f"Coverage = share of actuals inside the {interval}% interval (nominal {interval / 100:.2f}); "
                       "sMAPE as a ratio. MSTL models daily and weekly seasons, AutoETS and AutoTheta the daily one.")


one_deployment()

st.subheader("Every deployment")
show_table(outlooks.rename({"per_gpu": "per_gpu" if metric == "rps" else f"per_gpu_{metric}"}).with_columns(
               pl.col("deployment").replace_strict(model_labels, default=None).alias("forecast_model")), "capacity outlook",
           caption="Capacity runs out = first hour the expected demand exceeds the SLO capacity of the current "
                   "GPUs; headroom breached = first hour the GPUs needed for the forecast upper bound "
                   "(headroom included) exceed them.")

st.subheader("Fleet: GPUs needed by GPU type and week")
if assessment.fleet.is_empty():
    st.info("No deployment in scope has a measured SLO-compliant throughput.")
else:
    st.plotly_chart(charts.fleet_chart(assessment.fleet), key="cap_fleet_chart")
    for gpu_type, week in assessment.fleet_exhaustion.items():
        if week is not None:
            st.markdown(f"- **{fmt.text(gpu_type)}**: short of GPUs from the week of {week:%Y-%m-%d} (headroom included).")
    show_table(assessment.fleet, "gpus by type and week",
               caption="Per GPU type, the sum of each deployment's peak-hour need in the week (pools are per "
                       "deployment); deployments with unknown throughput count with their current GPUs.")
st.caption(f"Forecast numbers: {fmt.count(sum(f.height for f in forecasts.values()))} hourly points. "
           "Fits are cached on disk (.data/forecast-cache); growth, horizon and headroom never refit.")
