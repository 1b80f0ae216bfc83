"""Right-sizing suggestions (analytics.gpu.rightsizing) on a hand-made fleet, then on the demo fleet.

Hand-made fleet, each with 4 replicas of 1 GPU unless noted, target activity 0.7, one spare:
- big: peak hour sm_active 0.3 -> ceil(4 x 0.3 / 0.7) + 1 = ceil(1.71) + 1 = 3 replicas;
  saving (4 - 3) x 1 GPU x $2.00 x 720 h = $1,440 a month.
- blind: no sm_active, gpu_util 20 % -> same formula on gpu_util: ceil(1.14) + 1 = 3; saving
  1 x $0.80 x 720 = $576, with the gpu_util caveat.
- hot: 2 replicas at 0.65 -> ceil(1.86) + 1 = 3 > 2: keep every replica.
- slow: peak 0.1 but only 90 of 100 requests met e2e <= 100 ms (SLO target 99%) in its one
  peak hour: the hour missed the SLO, keep.
Each deployment's objective is e2e_ms <= 100 ms for 99%, judged per hour (analytics.slo.compliance);
blind and hot serve 30 requests an hour, above the 20 needed to judge an hour.
- ghost: GPU telemetry but no row in the deployments table: excluded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from analytics.gpu import pipeline
from analytics.gpu import rightsizing as gpu_rightsizing
from analytics.gpu.hours import fields_of
from analytics.ingest.demo import fleet
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.objectives import objectives_by_deployment
from analytics.store.queries import deployments_table
from tests import gpu_builders


def gpus(name: str, n: int, at: int, **samples) -> list[dict]:
    return [gpu_builders.gpu_hour(name, f"{name}-n0", g, at, **samples) for g in range(n)]


GPU_ROWS = [
    *gpus("big", 4, 0, sm_active=[0.3], gpu_util=[80]),
    *gpus("big", 4, 1, sm_active=[0.2], gpu_util=[70]),
    *gpus("big", 4, 2, sm_active=[0.1], gpu_util=[50]),
    *gpus("blind", 4, 0, gpu_util=[20]),
    *gpus("hot", 2, 0, sm_active=[0.65], gpu_util=[99]),
    *gpus("slow", 4, 0, sm_active=[0.1], gpu_util=[40]),
    *gpus("ghost", 1, 0, sm_active=[0.05], gpu_util=[10]),
]
REQUESTS = [
    gpu_builders.request_hour("big", 0, e2e_ms=[50] * 100),
    gpu_builders.request_hour("blind", 0, e2e_ms=[50] * 30),
    gpu_builders.request_hour("hot", 0, e2e_ms=[50] * 30),
    gpu_builders.request_hour("slow", 0, e2e_ms=[50] * 90 + [500] * 10),
]
DEPLOYMENTS = [
    {"deployment": "big", "replicas": 4, "cost_per_gpu_hour": 2.0},
    {"deployment": "blind", "replicas": 4, "gpu_type": "L4-24GB", "cost_per_gpu_hour": 0.8},
    {"deployment": "hot", "replicas": 2, "cost_per_gpu_hour": 2.0},
    {"deployment": "slow", "replicas": 4, "cost_per_gpu_hour": 2.0},
]
SLOS = {name: gpu_builders.latency_slo(name, e2e_ms=100) for name in ("big", "blind", "hot", "slow", "ghost")}


@pytest.fixture(scope="module")
def result():
    return gpu_rightsizing.suggestions(gpu_builders.data(GPU_ROWS, REQUESTS, DEPLOYMENTS), SLOS)


@pytest.fixture(scope="module")
def rows(result):
    return {row["deployment"]: row for row in result[0].iter_rows(named=True)}


def test_the_largest_saving_comes_first(result):
    assert result[0]["deployment"].to_list()[:2] == ["big", "blind"]


@pytest.mark.parametrize(
    ("name", "needed", "saving", "verdict"),
    [
        ("big", 3, 1440.0, "reduce to 3 replicas (from 4)"),
        ("blind", 3, 576.0, "reduce to 3 replicas (from 4)"),
        ("hot", 2, 0.0, "keep: peak activity needs every replica"),
        ("slow", 2, 0.0, "keep: latency SLO missed in 1 of 1 judged peak hours"),
    ],
    ids=["an idle-ish deployment frees one replica", "without sm_active gpu_util stands in",
         "a busy deployment keeps every replica", "a missed SLO blocks the cut"],
)
def test_replicas_needed_saving_and_verdict(rows, name, needed, saving, verdict):
    row = rows[name]
    assert (row["replicas_needed"], row["monthly_saving"], row["verdict"]) == (needed, pytest.approx(saving), verdict)


def test_the_gpu_util_fallback_carries_its_caveat(rows):
    assert rows["blind"]["basis"] == "gpu_util" and rows["blind"]["caveat"] == gpu_rightsizing.GPU_UTIL_CAVEAT
    assert rows["big"]["basis"] == "sm_active" and rows["big"]["caveat"] is None


def test_a_deployment_missing_from_the_table_is_excluded_with_the_reason(rows):
    assert rows["ghost"]["verdict"] == "excluded: not in the deployments table (replicas unknown)"
    assert rows["ghost"]["monthly_saving"] is None


def test_the_evidence_lists_the_peak_hours_highest_first(result):
    evidence = result[1].filter(pl.col("deployment") == "big")
    assert evidence["activity"].to_list() == pytest.approx([0.3, 0.2, 0.1])
    assert evidence["hour"][0] == gpu_builders.hour(0)
    assert evidence["rps"][0] == pytest.approx(100 / 3600)
    assert evidence["attainment"][0] == pytest.approx(1.0)


def test_peak_hours_too_quiet_to_judge_block_the_cut():
    quiet = [gpu_builders.request_hour("big", h, e2e_ms=[50] * 5) for h in range(3)]
    table, evidence = gpu_rightsizing.suggestions(gpu_builders.data(GPU_ROWS, quiet, DEPLOYMENTS), SLOS)
    big = table.filter(pl.col("deployment") == "big").row(0, named=True)
    assert big["verdict"] == "keep: too few requests in the peak hours to judge the latency SLO"
    assert big["slo_met_at_peak"] is None
    assert evidence.filter(pl.col("deployment") == "big")["evaluable"].to_list() == [False] * 3


def test_price_overrides_and_a_higher_target_change_the_saving():
    table, _ = gpu_rightsizing.suggestions(gpu_builders.data(GPU_ROWS, REQUESTS, DEPLOYMENTS), SLOS, prices={"A100-80GB": 3.0}, target_activity=0.9)
    big = table.filter(pl.col("deployment") == "big").row(0, named=True)
    # ceil(4 x 0.3 / 0.9) + 1 = 2 + 1 = 3 replicas; saving 1 x $3.00 x 720 h
    assert (big["replicas_needed"], big["monthly_saving"]) == (3, pytest.approx(2160.0))


def test_no_spare_replica_frees_more():
    table, _ = gpu_rightsizing.suggestions(gpu_builders.data(GPU_ROWS, REQUESTS, DEPLOYMENTS), SLOS, spare_replicas=0)
    big = table.filter(pl.col("deployment") == "big").row(0, named=True)
    assert (big["replicas_needed"], big["gpus_freed"]) == (2, 2)  # ceil(1.71) = 2


def test_on_the_demo_the_over_provisioned_deployment_is_the_top_suggestion(demo_store):
    demo_end = datetime(2026, 11, 1, tzinfo=UTC)  # tests/conftest.py: 21 days of demo data
    objectives = objectives_by_deployment(deployments_table(demo_store), load_slos(PROJECT_SLO_FILE))
    data = pipeline.load(demo_store, demo_end - timedelta(days=21), demo_end, fields=fields_of(objectives))
    table, evidence = gpu_rightsizing.suggestions(data, objectives)
    top = table.row(0, named=True)
    assert top["deployment"] == fleet.OVER_PROVISIONED
    assert top["monthly_saving"] > 0 and top["slo_met_at_peak"]
    assert evidence.filter(pl.col("deployment") == fleet.OVER_PROVISIONED).height == gpu_rightsizing.PEAK_HOURS
    blind = table.filter(pl.col("deployment") == fleet.NO_PROFILING).row(0, named=True)
    assert blind["basis"] == "gpu_util" and blind["caveat"] == gpu_rightsizing.GPU_UTIL_CAVEAT
