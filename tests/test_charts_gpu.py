"""GPU page figures (analytics.charts.gpu): the data behind them and readable labels."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from analytics.charts import gpu as charts_gpu
from analytics.gpu import efficiency as gpu
from analytics.gpu import pipeline
from analytics.ingest.demo import fleet
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.objectives import objectives_by_deployment
from tests import gpu_builders

ROWS = [
    gpu_builders.gpu_hour("chat", "chat-n0", 0, 0, sm_active=[0.2], fb_used_mib=[90], fb_total_mib=[100]),
    gpu_builders.gpu_hour("chat", "chat-n0", 1, 0, sm_active=[0.4], fb_used_mib=[50], fb_total_mib=[100]),
    gpu_builders.gpu_hour("chat", "chat-n0", 0, 1, sm_active=[0.6], fb_used_mib=[40], fb_total_mib=[100]),
    gpu_builders.gpu_hour("embed", "host-7", 0, 0, gpu_util=[50], fb_used_mib=[10], fb_total_mib=[100]),
]


def test_heatmap_rows_per_gpu_name_the_node_once():
    frame = charts_gpu.heatmap_frame(gpu_builders.gpu_hours(ROWS), "sm_active", "gpu")
    assert frame["row"].unique().sort().to_list() == ["chat-n0/gpu0", "chat-n0/gpu1", "embed · host-7/gpu0"]


@pytest.mark.parametrize(
    ("metric", "expected"),
    [("sm_active", 0.3), ("mem_peak_fraction", 0.9)],
    ids=["activity per node is the mean over its GPUs", "peak memory per node is the worst GPU"],
)
def test_heatmap_rows_per_node(metric, expected):
    frame = charts_gpu.heatmap_frame(gpu_builders.gpu_hours(ROWS), metric, "node")
    value = frame.filter((pl.col("row") == "chat-n0") & (pl.col("hour") == gpu_builders.hour(0)))["value"][0]
    assert value == pytest.approx(expected)


def test_the_heatmap_leaves_hours_without_data_blank_and_has_readable_titles():
    fig = charts_gpu.fleet_heatmap(gpu_builders.gpu_hours(ROWS), "sm_active", "gpu")
    heat = fig.data[0]
    assert list(heat.y) == ["chat-n0/gpu0", "chat-n0/gpu1", "embed · host-7/gpu0"]
    assert len(heat.x) == 2 and list(heat.z[0]) == pytest.approx([0.2, 0.6])
    assert math.isnan(heat.z[1][1])  # GPU 1 has no sample in hour 1
    assert math.isnan(heat.z[2][0])  # no sm_active at all: blank, not zero
    assert fig.layout.xaxis.title.text == "Hour (UTC)"
    assert heat.colorbar.title.text == "SM activity (%)"  # the registry's label and unit
    assert "sm_active" not in fig.layout.title.text


def test_an_unknown_heatmap_metric_is_refused():
    with pytest.raises(ValueError, match="unknown heatmap metric"):
        charts_gpu.heatmap_frame(gpu_builders.gpu_hours(ROWS), "fan_speed")


def test_the_comparison_marks_fields_that_were_not_collected():
    util = gpu.utilisation(gpu_builders.gpu_hours(ROWS))
    fig = charts_gpu.utilisation_comparison(util)
    assert [t.name for t in fig.data] == ["GPU utilisation (any kernel running)", "SM activity", "Tensor-pipe activity"]
    notes = [a.text for a in fig.layout.annotations]
    assert notes == [  # chat (sorted first) has no gpu_util samples; embed has no profiling fields
        "not collected: GPU utilisation, Tensor-pipe activity",
        "not collected: SM activity, Tensor-pipe activity",
    ]
    assert fig.layout.yaxis.tickformat == ".0%"


# --- the demo fleet (tests/conftest.py: 21 days ending 2026-11-01)

DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
PRESSURE = next(i for i in fleet.INCIDENTS if i.kind == "memory_pressure")


@pytest.fixture(scope="module")
def demo(demo_store):
    return pipeline.load(demo_store, DEMO_END - timedelta(days=21), DEMO_END)


def test_the_memory_pressure_incident_shows_on_the_heatmap_of_the_affected_gpus(demo):
    frame = charts_gpu.heatmap_frame(demo.gpu_hours, "mem_peak_fraction", "gpu")
    start = DEMO_END - PRESSURE.starts_before_end
    during = (pl.col("hour") >= start) & (pl.col("hour") < start + PRESSURE.duration)
    affected = pl.col("deployment").is_in(list(PRESSURE.deployments))
    hot = frame.filter(during & affected)
    assert hot.height == 6 * next(d.gpus for d in fleet.FLEET if d.deployment in PRESSURE.deployments)
    assert hot["value"].min() > 0.95
    assert frame.filter(~during & affected)["value"].max() < 0.9
    assert frame.filter(~affected)["value"].max() < 0.95


def test_the_scatter_has_one_series_per_profiled_deployment_and_names_the_rest(demo):
    objectives = objectives_by_deployment(demo.deployments, load_slos(PROJECT_SLO_FILE))
    fig = charts_gpu.utilisation_latency(gpu.deployment_hours(demo, objectives), "ttft_p99_ms")
    shown = {t.name for t in fig.data}
    llm = {d.deployment for d in fleet.FLEET if d.kind in ("chat", "code")}
    assert shown == llm  # embeddings and the classic model have no TTFT
    assert fleet.NO_PROFILING in fig.layout.annotations[-1].text
    assert fig.layout.xaxis.title.text == "SM activity (%)"
    assert fig.layout.yaxis.type == "log"
