"""The Capacity page's latency-vs-load curves of one deployment (analytics.capacity.curve), cached."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from analytics.capacity import pipeline as capacity_pipeline
from analytics.capacity import plan as capacity_plan
from analytics.capacity.curve import Curve
from analytics.charts import capacity as capacity_charts
from ui import capacity as capacity_ui
from ui import slo as slo_ui
from ui.connection import get_store


@st.cache_data(ttl=capacity_ui.TTL_S, show_spinner="Fitting latency-vs-load curves…")
def curves(start: datetime, end: datetime, regions: tuple, name: str, slo_file: tuple[str, str]) -> tuple[Curve, ...]:
    """One deployment's TTFT and TPOT curves, as the throughput step fits them (plan.load_curves)."""
    hours = capacity_pipeline.hourly_histograms(get_store(), start, end, (name,), regions)
    table_gpus, _, _ = capacity_plan.gpus(capacity_ui.deployments(), name)
    return capacity_plan.load_curves(hours, table_gpus, slo_ui.objectives(slo_file).get(name, ()))


def show(start: datetime, end: datetime, regions: tuple, name: str, slo_file: tuple[str, str]) -> None:
    """Draw each curve of a deployment side by side (nothing for a deployment without TTFT or TPOT objectives)."""
    found = curves(start, end, regions, name, slo_file)
    for i, (column, one) in enumerate(zip(st.columns(len(found)) if found else [], found, strict=True)):
        column.plotly_chart(capacity_charts.load_curve_chart(one, name), key=f"cap_curve_{i}")
    if found:
        st.caption("One point per hour: the latency quantile the SLO judges against the load per GPU it answers to "
                   "(that hour's tokens / 3600 s / the GPUs reporting DCGM gauges in it). Curve: latency = t0 + a·x / (C − x), "
                   "the queueing shape (DistServe, NVIDIA Dynamo's SLA planner); capacity where it meets the SLO threshold, "
                   "its band the 5th–95th percentile over 200 bootstrap resamples of the hours. Hours far off the first fit (an incident, a regression) are left out. Extrapolated (not used for "
                   "GPUs needed) when the highest load seen is under half of the capacity or of its band's upper end.")
