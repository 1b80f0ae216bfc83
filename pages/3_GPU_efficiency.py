"""GPU efficiency: real utilisation, memory, cost per token, idle GPU-hours and right-sizing."""

import polars as pl
import streamlit as st

from analytics.charts import gpu as charts_gpu
from analytics.errors import SourceError
from analytics.gpu import efficiency as gpu
from analytics.gpu import rightsizing as gpu_rightsizing
from ui import format as fmt
from ui import gpu as gpu_ui
from ui import slo as slo_ui
from ui.page import linked, setup
from ui.tables import show_table

filters = setup("GPU efficiency")
slo_ui.slos_or_stop()
slo_file = slo_ui.config()
try:
    view = gpu_ui.load(filters, slo_file)
except SourceError as exc:
    st.error(f"Cannot read GPU telemetry: {fmt.text(exc)}")
    st.stop()
data = view.data
if data.gpu_hours.is_empty():
    st.info("No GPU telemetry in this range. Widen the time range, clear the filters, or load a "
            "DCGM-exporter CSV on the Data page.")
    st.stop()
st.caption(f"{data.start:%Y-%m-%d %H:%M} → {data.end:%Y-%m-%d %H:%M} UTC (whole hours). A GPU-hour "
           "is a GPU with at least one sample in that hour. SM activity (DCGM_FI_PROF_SM_ACTIVE) is the "
           "share of cycles with work on the SMs; GPU util only says some kernel ran.")

with st.expander("Assumptions: cost per GPU-hour, idle floor, right-sizing target"):
    defaults = view.prices
    cols = st.columns(max(len(defaults), 1) + 2)
    prices = tuple((t, float(cols[i].number_input(f"{fmt.text(t)} ($/GPU-hour)", min_value=0.0, value=float(p),
                                                 step=0.1, format="%.2f", key=f"gpu_price_{t}")))
                   for i, (t, p) in enumerate(defaults.items()))
    idle_floor = linked(cols[-2].number_input, "Idle below SM activity", 0.0, 1.0, step=0.05, key="gpu_idle",
                        param="idle", default=gpu.IDLE_SM_FLOOR, parse=float, allowed=lambda v: 0 <= v <= 1)
    target = linked(cols[-1].number_input, "Right-sizing target activity", 0.1, 1.0, step=0.05, key="gpu_target",
                    param="target", default=gpu_rightsizing.TARGET_ACTIVITY, parse=float, allowed=lambda v: 0.1 <= v <= 1)

table = gpu_ui.efficiency(filters, slo_file, prices, idle_floor)
hourly = view.hourly
suggestions, evidence = gpu_ui.rightsizing(filters, slo_file, prices, target)

saving = suggestions["monthly_saving"].fill_null(0).sum()
k = st.columns(5)
fmt.metric(k[0], "gpu_hours", table["gpu_hours"].sum())
fmt.metric(k[1], "cost", table["cost"].sum(), digits=0)
fmt.metric(k[2], "idle_cost", table["idle_cost"].fill_null(0).sum(), digits=0,
           help=f"GPU-hours with mean SM activity below {idle_floor:.0%}, at their GPU type's price")
profiled = table.filter(pl.col("mean_sm_active").is_not_null())
fleet_sm = (profiled["mean_sm_active"] * profiled["gpu_hours"]).sum() / max(profiled["gpu_hours"].sum(), 1)
fmt.metric(k[3], "fleet_sm_active", fleet_sm if profiled.height else None)
fmt.metric(k[4], "monthly_saving", saving, digits=0, help=f"Per 30 days ({gpu_rightsizing.HOURS_PER_MONTH} h) if every "
            "right-sizing suggestion below were taken")  # '/30 d' in the value is cut at a 1280 px window

st.subheader("Fleet heatmap")
c1, c2 = st.columns([3, 1])
metric = linked(c1.radio, "Colour by", list(charts_gpu.HEATMAP_METRICS), horizontal=True, key="gpu_heat_metric",
                param="heat", default=next(iter(charts_gpu.HEATMAP_METRICS)), allowed=charts_gpu.HEATMAP_METRICS,
                format_func=lambda m: charts_gpu.HEATMAP_METRICS[m][0])
by = linked(c2.radio, "Rows", ["node", "gpu"], horizontal=True, key="gpu_heat_rows", param="rows", default="node",
            allowed=("node", "gpu"), format_func=lambda b: "per node" if b == "node" else "per GPU")
st.plotly_chart(charts_gpu.fleet_heatmap(data.gpu_hours, metric, by), width="stretch")

st.subheader("Utilisation: what GPU util hides")
st.plotly_chart(charts_gpu.utilisation_comparison(table), width="stretch")
missing = table.filter(pl.col("missing") != "").select("deployment", "missing")
for row in missing.iter_rows(named=True):
    st.caption(f"**{fmt.text(row['deployment'])}**: not available: {fmt.text(gpu_ui.field_names(row['missing']))}")

st.subheader("Where does latency climb?")
latency = linked(st.radio, "Latency", list(charts_gpu.LATENCY_FIELDS), horizontal=True, key="gpu_scatter_latency",
                 param="latency", default=next(iter(charts_gpu.LATENCY_FIELDS)), allowed=charts_gpu.LATENCY_FIELDS,
                 format_func=lambda f: charts_gpu.LATENCY_FIELDS[f])
st.plotly_chart(charts_gpu.utilisation_latency(hourly, latency), width="stretch")

st.subheader("Cost and waste")
cost_columns = ["deployment", "gpu_type", "gpus", "gpu_hours", "cost", "output_tokens", "input_tokens",
                "cost_per_1m_output_tokens", "cost_per_1k_requests", "idle_gpu_hours", "idle_cost",
                "idle_fraction", "output_tokens_per_gpu_s", "goodput_per_gpu", "slo", "mfu_estimate",
                "missing"]
show_table(gpu_ui.for_display(table.sort("idle_cost", descending=True, nulls_last=True).select(cost_columns)),
           "GPU cost", caption="Sorted by idle cost. Cost per 1M output tokens = GPU-hours x $/GPU-hour "
           "/ output tokens x 1e6. Goodput counts successful requests meeting every latency condition of "
           "the deployment's SLOs (an estimate when two conditions are joined: docs/slos.md). MFU estimate = 2 x parameters x tokens/s / peak dense "
           "BF16 FLOP/s (PaLM, appendix B); it ignores attention FLOPs.")
util_columns = ["deployment", "mean_gpu_util", "mean_sm_active", "mean_sm_occupancy", "mean_tensor_active",
                "mean_dram_active", "mem_used_fraction", "peak_mem_fraction", "min_mem_headroom",
                "mean_power_w", "peak_hour_power_w", "gap_gpu_hours", "missing"]
show_table(gpu_ui.for_display(table.select(util_columns)), "GPU utilisation")

st.subheader("Right-sizing suggestions")
st.caption(f"Replicas needed = ceil(replicas x peak-hour activity / {target:.0%}) + {gpu_rightsizing.SPARE_REPLICAS} "
           f"spare, if every judged hour among the {gpu_rightsizing.PEAK_HOURS} busiest met the deployment's latency "
           "SLOs (each at its own target; deployments no SLO covers use the defaults for their kind); "
           f"assumes load spreads evenly over replicas. Saving = GPUs freed x $/GPU-hour x "
           f"{gpu_rightsizing.HOURS_PER_MONTH} h.")
show_table(gpu_ui.for_display(suggestions), "right-sizing")
st.markdown("**Evidence: the busiest hours behind each suggestion**")
show_table(gpu_ui.for_display(evidence), "right-sizing evidence")
