"""GPU efficiency metrics (analytics.gpu) on hand-computed frames, then on the demo fleet.

The hand-made fleet (numbers worked out in the comments):
- alpha, A100 at $2.50/GPU-h, 7B params: GPU n1/0 in hours 0 and 1, GPU n1/1 in hours 0 and 2
  (hour 1 missing: a collection gap); GPU n1/1 hour 2 has no sm_active (profiling blank).
- beta, L4 at $0.80/GPU-h, no profiling fields at all (dcgm-exporter's default counters).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from analytics.gpu import efficiency as gpu
from analytics.gpu import pipeline
from analytics.ingest.demo import fleet
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.objectives import objectives_by_deployment
from analytics.store.client import Store
from analytics.store.queries import deployments_table
from tests import gpu_builders

ALPHA = [
    gpu_builders.gpu_hour("alpha", "n1", 0, 0, sm_active=[0.05, 0.05], gpu_util=[30, 50], tensor_active=[0.01, 0.03],
               fb_used_mib=[40000, 44000], fb_total_mib=[80000, 80000], power_w=[100, 120]),
    gpu_builders.gpu_hour("alpha", "n1", 0, 1, sm_active=[0.6, None], gpu_util=[90, 90], tensor_active=[0.4, None],
               fb_used_mib=[60000, 64000], fb_total_mib=[80000, 80000], power_w=[300, 300]),
    gpu_builders.gpu_hour("alpha", "n1", 1, 0, sm_active=[0.3, 0.5], gpu_util=[70, 70], tensor_active=[0.2, 0.2],
               fb_used_mib=[20000, 20000], fb_total_mib=[80000, 80000], power_w=[200, 200]),
    gpu_builders.gpu_hour("alpha", "n1", 1, 2, sm_active=[None, None], gpu_util=[10, 10], tensor_active=[None, None],
               fb_used_mib=[8000, 8000], fb_total_mib=[80000, 80000], power_w=[60, 60]),
]
BETA = [gpu_builders.gpu_hour("beta", "n2", 0, 0, gpu_type="L4-24GB", gpu_util=[20, 40], fb_used_mib=[6000, 6000],
                   fb_total_mib=[24000, 24000], power_w=[30, 30])]
DEPLOYMENTS = [
    {"deployment": "alpha", "kind": "chat", "params_b": 7.0, "replicas": 2, "cost_per_gpu_hour": 2.5},
    {"deployment": "beta", "kind": "classic", "gpu_type": "L4-24GB", "replicas": 1, "cost_per_gpu_hour": 0.8},
]
# alpha's requests: hour 0 has 10 ok (9 with ttft <= 500 ms, 8 with tpot <= 50 ms), hour 1 has 4 ok
# meeting both. Tokens: 140,000 in and 40,000 out.
REQUESTS = [
    gpu_builders.request_hour("alpha", 0, input_tokens=100_000, output_tokens=30_000,
                   ttft_ms=[100] * 8 + [400, 600], tpot_ms=[40] * 8 + [60, 60], e2e_ms=[900] * 10),
    gpu_builders.request_hour("alpha", 1, input_tokens=40_000, output_tokens=10_000,
                   ttft_ms=[200] * 4, tpot_ms=[20] * 4, e2e_ms=[500] * 4),
    gpu_builders.request_hour("beta", 0, requests=3, e2e_ms=[3, 4, 30]),
]
SLOS = {"alpha": gpu_builders.latency_slo("alpha", ttft_ms=500, tpot_ms=50), "beta": gpu_builders.latency_slo("beta", e2e_ms=25)}


@pytest.fixture(scope="module")
def hand():
    return gpu_builders.data(ALPHA + BETA, REQUESTS, DEPLOYMENTS)


@pytest.fixture(scope="module")
def util(hand):
    return {row["deployment"]: row for row in gpu.utilisation(hand.gpu_hours).iter_rows(named=True)}


@pytest.fixture(scope="module")
def table(hand):
    return {row["deployment"]: row for row in gpu.efficiency(hand, SLOS).iter_rows(named=True)}


def test_hourly_means_skip_null_samples_and_turn_percent_into_ratio():
    hours = gpu_builders.gpu_hours(ALPHA)
    second = hours.row(1, named=True)  # GPU n1/0, hour 1: sm_active samples 0.6 and NULL
    assert second["sm_active"] == pytest.approx(0.6)  # not (0.6 + 0) / 2
    assert second["gpu_util"] == pytest.approx(0.9)  # 90 % -> 0.9
    blank = hours.row(3, named=True)  # GPU n1/1, hour 2: profiling blank in every sample
    assert blank["sm_active"] is None and blank["tensor_active"] is None
    assert blank["mem_peak_fraction"] == pytest.approx(0.1)  # 8000 / 80000


def test_a_peak_memory_without_memory_samples_is_null_not_zero():
    hours = gpu_builders.gpu_hours([gpu_builders.gpu_hour("x", "n", 0, 0, gpu_util=[5])])
    assert hours["fb_used_mib_max"][0] is None and hours["mem_peak_fraction"][0] is None


@pytest.mark.parametrize(
    ("column", "expected", "why"),
    [
        ("gpus", 2, "two distinct (node, gpu)"),
        ("gpu_hours", 4, "four GPU-hours with samples"),
        ("gap_gpu_hours", 1, "GPU n1/1 has no sample in hour 1, inside its span 0..2"),
        ("mean_sm_active", 0.3, "(0.05 + 0.05 + 0.6 + 0.3 + 0.5) / 5 non-null samples"),
        ("mean_gpu_util", 0.525, "(30+50+90+90+70+70+10+10) / 8 / 100"),
        ("mean_tensor_active", 0.168, "(0.01 + 0.03 + 0.4 + 0.2 + 0.2) / 5"),
        ("mem_used_fraction", 0.4125, "mean used 33,000 MiB / mean total 80,000 MiB"),
        ("peak_mem_fraction", 0.8, "hour 1 peak 64,000 / 80,000"),
        ("min_mem_headroom", 0.2, "1 - peak fraction"),
        ("mean_power_w", 167.5, "(100+120+300+300+200+200+60+60) / 8"),
        ("idle_gpu_hours", 1, "only GPU n1/0 hour 0 (mean 0.05) is under 0.1; hour 2 of n1/1 is unknown"),
        ("profiled_gpu_hours", 3, "GPU-hours that carried sm_active"),
    ],
    ids=lambda v: str(v),
)
def test_utilisation_side_by_side_for_the_hand_made_deployment(util, column, expected, why):
    assert util["alpha"][column] == pytest.approx(expected), why


def test_a_deployment_without_profiling_reports_what_is_missing_and_fakes_nothing(util):
    beta = util["beta"]
    assert beta["mean_sm_active"] is None and beta["idle_gpu_hours"] is None
    assert beta["mean_gpu_util"] == pytest.approx(0.3)
    assert beta["missing"] == "sm_active, sm_occupancy, tensor_active, dram_active, temp_c"
    assert util["alpha"]["missing"] == "sm_occupancy, dram_active, temp_c"


@pytest.mark.parametrize(
    ("column", "expected", "arithmetic"),
    [
        ("cost", 10.0, "4 GPU-hours x $2.50"),
        ("cost_per_1m_output_tokens", 250.0, "$10 / 40,000 output tokens x 1e6"),
        ("idle_cost", 2.5, "1 idle GPU-hour x $2.50"),
        ("output_tokens_per_gpu_s", 40_000 / 14_400, "40,000 tokens / (4 GPU-hours x 3600 s)"),
        ("input_tokens_per_gpu_s", 140_000 / 14_400, "140,000 tokens / 14,400 GPU-seconds"),
        ("good_requests", 11.2, "hour 0: 10 x 9/10 x 8/10 = 7.2; hour 1: 4"),
        ("goodput_per_gpu", 11.2 / 14_400, "11.2 good requests / 14,400 GPU-seconds"),
        ("mfu_estimate", 2 * 7e9 * 180_000 / (4 * 3600 * 312e12), "2 x 7e9 x 180,000 tokens / (14,400 s x 312 TFLOP/s)"),
        ("cost_per_1k_requests", 10 / 14 * 1000, "$10 / 14 requests x 1000"),
    ],
    ids=lambda v: str(v),
)
def test_cost_and_throughput_arithmetic(table, column, expected, arithmetic):
    assert table["alpha"][column] == pytest.approx(expected), arithmetic


def test_a_price_override_per_gpu_type_replaces_the_table_price(hand):
    row = gpu.efficiency(hand, SLOS, prices={"A100-80GB": 4.0}).filter(pl.col("deployment") == "alpha").row(0, named=True)
    assert row["cost"] == pytest.approx(16.0)  # 4 GPU-hours x $4
    assert row["cost_per_1m_output_tokens"] == pytest.approx(400.0)  # $16 / 40,000 x 1e6
    assert row["cost_per_gpu_hour"] == pytest.approx(4.0)


def test_a_deployment_without_output_tokens_has_no_cost_per_token_and_no_params_no_mfu(table):
    beta = table["beta"]
    assert beta["cost"] == pytest.approx(0.8)  # 1 GPU-hour x $0.80
    assert beta["cost_per_1m_output_tokens"] is None
    assert beta["mfu_estimate"] is None
    assert beta["good_requests"] == 2  # e2e 3 and 4 ms <= 25 ms; 30 ms is not
    assert "params_b" in beta["missing"] and "sm_active" in beta["missing"]


def test_goodput_needs_a_latency_slo_and_says_so_when_absent(hand):
    row = gpu.efficiency(hand, {"alpha": SLOS["alpha"]}).filter(pl.col("deployment") == "beta").row(0, named=True)
    assert row["good_requests"] is None and row["goodput_per_gpu"] is None
    assert "latency_slo" in row["missing"]


def test_telemetry_from_a_deployment_missing_in_the_table_is_unpriced_not_free(hand):
    lone = gpu_builders.data(ALPHA, REQUESTS[:2], DEPLOYMENTS[1:])
    row = gpu.efficiency(lone, SLOS).row(0, named=True)
    assert row["cost"] is None and row["cost_per_1m_output_tokens"] is None
    assert "cost_per_gpu_hour" in row["missing"]


def test_deployment_hours_average_over_gpus_and_join_the_hours_requests(hand):
    hourly = gpu.deployment_hours(hand, SLOS).filter(pl.col("deployment") == "alpha")
    first = hourly.row(0, named=True)
    assert first["gpus"] == 2
    assert first["sm_active"] == pytest.approx((0.05 + 0.05 + 0.3 + 0.5) / 4)
    assert first["attainment"] == pytest.approx(8 / 10)  # the lower of ttft 9/10 and tpot 8/10
    assert first["good"] == pytest.approx(7.2)  # both conditions: 10 x 9/10 x 8/10, within [9 + 8 - 10, 8]
    assert first["evaluable"] is False and first["met_slo"] is False  # 10 requests: too few to judge
    assert first["rps"] == pytest.approx(10 / 3600)
    last = hourly.row(-1, named=True)  # hour 2: no requests at all
    assert last["requests"] == 0 and last["attainment"] is None and last["sm_active"] is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [("H100-80GB", 989.0), ("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0),
     ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L40S", 362.0), ("NVIDIA L4", 121.0),
     ("NVIDIA A10G", 70.0), ("Tesla T4", None)],
    ids=lambda v: str(v),
)
def test_peak_flops_by_gpu_type_most_specific_name_first(name, expected):
    assert gpu.peak_tflops(name) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ((10, 0), (12, 0), ((10, 0), (12, 0))),
        ((10, 25), (12, 5), ((10, 0), (13, 0))),
    ],
    ids=["whole hours stay", "partial hours widen to whole hours"],
)
def test_the_window_is_whole_utc_hours(start, end, expected):
    day = datetime(2026, 3, 2, tzinfo=UTC)
    at = lambda hm: day + timedelta(hours=hm[0], minutes=hm[1])  # noqa: E731
    assert gpu.hour_window(at(start), at(end)) == (at(expected[0]), at(expected[1]))


# --- the demo fleet (tests/conftest.py: 21 days ending 2026-11-01, GPU samples every 5 minutes)

DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(demo_store: Store) -> gpu.GpuData:
    return pipeline.load(demo_store, DEMO_END - timedelta(days=21), DEMO_END)


@pytest.fixture(scope="module")
def objectives(demo_store: Store) -> dict:
    return objectives_by_deployment(deployments_table(demo_store), load_slos(PROJECT_SLO_FILE))


def test_the_loader_means_match_a_direct_average_of_the_raw_samples(demo_store, demo):
    row = demo.gpu_hours.filter(pl.col("deployment") == fleet.OVER_PROVISIONED).row(5, named=True)
    raw = demo_store.query(
        "SELECT avg(sm_active) AS sm, avg(gpu_util) / 100 AS util, max(fb_used_mib) AS peak FROM gpu_metrics "
        "WHERE deployment = {d:String} AND node = {n:String} AND gpu = {g:UInt8} "
        "AND toStartOfHour(ts) = {h:DateTime('UTC')}",
        {"d": row["deployment"], "n": row["node"], "g": row["gpu"], "h": row["hour"]},
    ).row(0, named=True)
    assert row["sm_active"] == pytest.approx(raw["sm"], rel=1e-5)
    assert row["gpu_util"] == pytest.approx(raw["util"], rel=1e-5)
    assert row["fb_used_mib_max"] == pytest.approx(raw["peak"], rel=1e-6)


def test_on_the_demo_the_deployment_without_profiling_degrades_gracefully(demo, objectives):
    rows = {r["deployment"]: r for r in gpu.efficiency(demo, objectives).iter_rows(named=True)}
    assert set(rows) == {d.deployment for d in fleet.FLEET}
    blind = rows[fleet.NO_PROFILING]
    assert blind["mean_sm_active"] is None and blind["idle_gpu_hours"] is None and blind["idle_cost"] is None
    assert blind["mean_gpu_util"] > 0 and blind["cost"] > 0
    assert "sm_active" in blind["missing"]
    assert all(rows[d.deployment]["mean_sm_active"] is not None for d in fleet.FLEET if d.deployment != fleet.NO_PROFILING)


def test_on_the_demo_the_over_provisioned_deployment_wastes_the_largest_share_of_its_gpu_hours(demo, objectives):
    table = gpu.efficiency(demo, objectives).filter(pl.col("idle_fraction").is_not_null()).sort("idle_fraction", descending=True)
    assert table["deployment"][0] == fleet.OVER_PROVISIONED
    assert table["idle_fraction"][0] > 0.5


def test_on_the_demo_gpu_hours_count_every_gpu_of_the_fleet_every_hour(demo, objectives):
    table = gpu.efficiency(demo, objectives)
    hours = 21 * 24
    expected = {d.deployment: d.gpus * hours for d in fleet.FLEET}
    assert dict(zip(table["deployment"], table["gpu_hours"], strict=True)) == expected
