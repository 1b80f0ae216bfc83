"""Capacity from each deployment's latency-vs-load curve (analytics.capacity.curve, plan.measure)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from analytics.capacity import curve as load_curve
from analytics.capacity import pipeline as capacity_pipeline
from analytics.capacity import plan as capacity_plan
from analytics.store import conventions
from tests.gpu_builders import T0, deployments, hour, latency_slo, request_hour, request_hours
from tests.slo_builders import delete_requests

GPUS = 4
TTFT_500 = latency_slo("knee", target=95, ttft_ms=500)
TRUE_CAPACITY = 1100.0  # input tokens/s per GPU where the p95 below crosses 500 ms


def knee_p95(load: float) -> float:
    """A TTFT p95 flat at 200 ms up to 1000 input tokens/s per GPU, then 3 ms more per token/s:
    200 + 3 x (1100 - 1000) = 500 ms at 1100 (the true capacity)."""
    return 200.0 if load <= 1000 else 200.0 + 3.0 * (load - 1000.0)


def knee_hours(loads: np.ndarray, seed: int = 1, requests: int = 200, slower: np.ndarray | None = None) -> pl.DataFrame:
    """Hourly rollup rows of one deployment on GPUS GPUs: each hour's prefill load per GPU and
    ``requests`` TTFT values whose p95 is knee_p95 (lognormal spread, sigma 0.1), times ``slower``."""
    rng = np.random.default_rng(seed)
    slower = np.ones(len(loads)) if slower is None else slower
    rows = []
    for i, load in enumerate(loads):
        ttft = slower[i] * knee_p95(load) * rng.lognormal(0.0, 0.1, requests) / np.exp(1.645 * 0.1)
        rows.append(request_hour("knee", i, requests=requests, input_tokens=round(load * 3600 * GPUS),
                                 output_tokens=100 * requests, ttft_ms=ttft.tolist()))
    return request_hours(rows).rename({"slot": "hour"})


def test_a_deployment_whose_ttft_rises_sharply_above_a_known_load_gets_that_capacity_within_10_percent():
    loads = np.random.default_rng(0).uniform(100.0, 1250.0, 300)
    tp = capacity_plan.measure("knee", knee_hours(loads), GPUS, TTFT_500, metric="input_tps")
    assert tp.binding == "prefill" and not tp.extrapolated
    assert tp.per_gpu == pytest.approx(TRUE_CAPACITY, rel=0.10)
    low, high = tp.band
    assert low <= tp.per_gpu <= high and high - low < 0.2 * TRUE_CAPACITY
    assert tp.basis.startswith("prefill-bound")


def test_capacity_in_requests_per_second_divides_by_the_recent_input_tokens_per_request():
    loads = np.random.default_rng(0).uniform(100.0, 1250.0, 300)
    hours = knee_hours(loads)
    by_tokens = capacity_plan.measure("knee", hours, GPUS, TTFT_500, metric="input_tps")
    by_requests = capacity_plan.measure("knee", hours, GPUS, TTFT_500, metric="rps")
    last_week = hours.filter(pl.col("hour") > hours["hour"].max() - timedelta(days=7))
    per_request = last_week["input_tokens"].sum() / last_week["requests"].sum()
    assert by_requests.per_gpu == pytest.approx(by_tokens.per_gpu / per_request)
    assert f"in requests/s at the last week's {per_request:,.0f} input tokens per request" in by_requests.basis
    assert "last week" not in by_tokens.basis, "capacity in the binding curve's own unit needs no conversion"


def test_a_deployment_never_loaded_past_30_percent_of_its_capacity_is_extrapolated_and_keeps_the_highest_load_rule():
    loads = np.random.default_rng(0).uniform(30.0, 0.3 * TRUE_CAPACITY, 300)
    hours = knee_hours(loads)
    tp = capacity_plan.measure("knee", hours, GPUS, TTFT_500, metric="input_tps")
    rule = capacity_plan.measure_throughput("knee", hours, GPUS, TTFT_500, metric="input_tps")
    assert tp.extrapolated and tp.binding is None and tp.band is None
    assert tp.per_gpu == rule.per_gpu == pytest.approx(loads.max(), rel=1e-6)
    assert "not trusted" in tp.basis and rule.basis in tp.basis


def test_a_deployment_without_ttft_or_tpot_objectives_keeps_the_rule_unlabelled():
    loads = np.random.default_rng(0).uniform(100.0, 1250.0, 60)
    e2e_only = latency_slo("knee", target=95, e2e_ms=500)
    hours = knee_hours(loads)
    assert capacity_plan.measure("knee", hours, GPUS, e2e_only) == capacity_plan.measure_throughput("knee", hours, GPUS, e2e_only)


def curve_with(field: str, capacity: float) -> load_curve.Curve:
    """A fitted curve of one field with a given capacity (only the capacity matters for binding)."""
    load, _ = load_curve.LOADS[field]
    return load_curve.Curve(field, load, 0.95, 500.0, "s", np.array([capacity]), np.array([100.0]), np.array([True]),
                            load_curve.Fit(100.0, 1.0, 2 * capacity), capacity, (0.9 * capacity, 1.1 * capacity))


@pytest.mark.parametrize(
    "mix, bound, rps",
    [
        # prefill: 1000 input tok/s/GPU / 1000 per request = 1 req/s; decode: 400 / 100 = 4 req/s
        pytest.param({"input_tokens": 1000.0, "output_tokens": 100.0}, "prefill", 1.0, id="long prompts are prefill-bound"),
        # prefill: 1000 / 100 = 10 req/s; decode: 400 / 400 = 1 req/s
        pytest.param({"input_tokens": 100.0, "output_tokens": 400.0}, "decode", 1.0, id="long answers are decode-bound"),
    ],
)
def test_the_curve_that_binds_first_at_the_token_mix_names_the_deployment(mix, bound, rps):
    found = (curve_with("ttft_ms", 1000.0), curve_with("tpot_ms", 400.0))
    limit = load_curve.binding(found, mix)
    assert limit.curve.load == bound and limit.rps_per_gpu == pytest.approx(rps)
    assert limit.band_rps == pytest.approx((0.9 * rps, 1.1 * rps))


@pytest.mark.parametrize(
    "t0, a, c, threshold, expected",
    [
        # 100 + 50 x / (1000 - x) = 200  =>  x = 1000 x 100 / (100 + 50) = 666.7
        pytest.param(100.0, 50.0, 1000.0, 200.0, 1000 * 100 / 150, id="the curve crosses the threshold below saturation"),
        pytest.param(300.0, 50.0, 1000.0, 200.0, 0.0, id="a threshold below the no-load latency gives zero"),
    ],
)
def test_capacity_is_where_the_fitted_curve_meets_the_threshold(t0, a, c, threshold, expected):
    fitted = load_curve.Fit(t0, a, c)
    assert fitted.capacity(threshold) == pytest.approx(expected)
    if expected:
        assert fitted.latency(np.array([expected]))[0] == pytest.approx(threshold)


def test_the_fit_recovers_a_queueing_curve_and_refuses_flat_latency():
    x = np.linspace(50.0, 900.0, 40)
    fitted = load_curve.fit(x, 200.0 + 100.0 * x / (1000.0 - x))
    assert (fitted.t0, fitted.a) == pytest.approx((200.0, 100.0), rel=0.02) and fitted.c == pytest.approx(1000.0, rel=0.02)
    assert load_curve.fit(x, np.full_like(x, 200.0)) is None


def test_hours_far_off_the_curve_such_as_a_latency_regression_are_left_out_of_the_fit():
    loads = np.random.default_rng(0).uniform(100.0, 1250.0, 300)
    regression = np.arange(300) < 36  # a day and a half of TTFT x 3 whatever the load
    hours = knee_hours(loads, slower=np.where(regression, 3.0, 1.0))
    (found,) = capacity_plan.load_curves(hours, GPUS, TTFT_500)
    assert (found.kept == ~regression).all(), "exactly the regression's hours are left out"
    assert found.capacity == pytest.approx(TRUE_CAPACITY, rel=0.02)


def test_the_bootstrap_band_is_the_same_for_the_same_data():
    loads = np.random.default_rng(0).uniform(100.0, 1250.0, 100)
    hours = knee_hours(loads)
    first = capacity_plan.measure("knee", hours, GPUS, TTFT_500, metric="input_tps")
    assert capacity_plan.measure("knee", hours, GPUS, TTFT_500, metric="input_tps").band == first.band


# --- GPUs per hour from DCGM gauges ---


def grown_hours() -> pl.DataFrame:
    """60 hours of a deployment that grew from 4 to 8 GPUs at hour 30: 4 req/s before (1 per GPU),
    6 req/s after (0.75 per GPU); every hour meets its TTFT objective."""
    rows = [request_hour("grown", i, requests=4 * 3600 if i < 30 else 6 * 3600, ttft_ms=[100.0] * 50) for i in range(60)]
    return request_hours(rows).rename({"slot": "hour"}).with_columns(
        gpus_reporting=pl.Series([4] * 30 + [8] * 30, dtype=pl.Int64))


def test_a_deployment_that_grew_from_4_to_8_gpus_is_judged_per_hour_on_the_gpus_it_had():
    slo = latency_slo("grown", target=95, ttft_ms=500)
    tp = capacity_plan.measure_throughput("grown", grown_hours(), 4, slo)  # the table still says 4
    # per hour: 4 req/s / 4 GPUs = 1.0 before, 6 / 8 = 0.75 after; the highest is 1.0 (not 6 / 4 = 1.5)
    assert tp.per_gpu == pytest.approx(1.0)
    assert tp.gpus == 8, "current GPUs: the latest hour's DCGM count, not the table's 4"
    assert "DCGM" in tp.basis


def test_without_dcgm_gauges_the_deployments_table_gives_the_gpus():
    slo = latency_slo("grown", target=95, ttft_ms=500)
    tp = capacity_plan.measure_throughput("grown", grown_hours().drop("gpus_reporting"), 4, slo)
    assert tp.per_gpu == pytest.approx(1.5) and tp.gpus == 4 and "deployments table" in tp.basis


# --- End to end through the store ---

PROBE = "probe-curve-"


def insert_probe(store, name: str, loads: np.ndarray, gpus_by_hour: list[int], requests: int = 60) -> None:
    """Raw requests (``requests`` per hour, TTFT whose p95 is knee_p95 of the hour's load per GPU) and one
    DCGM sample per GPU per hour, through the real tables and their materialized views."""
    rng = np.random.default_rng(3)
    rows, gpu_rows = [], []
    for i, (load, gpus) in enumerate(zip(loads, gpus_by_hour, strict=True)):
        ttft = knee_p95(load) * rng.lognormal(0.0, 0.1, requests) / np.exp(1.645 * 0.1)
        tokens = round(load * 3600 * gpus / requests)
        for k in range(requests):
            rows.append({"ts": hour(i) + timedelta(seconds=k * 3600 / requests), "ttft_ms": float(ttft[k]), "input_tokens": tokens})
        gpu_rows += [{"ts": hour(i) + timedelta(minutes=1), "node": f"{name}-n0", "gpu": g, "sm_active": 0.5} for g in range(gpus)]
    n = len(rows)
    store.insert(conventions.REQUESTS, pl.DataFrame({
        "ts": [r["ts"] for r in rows], "deployment": [name] * n, "model": ["probe"] * n, "model_version": ["v1"] * n,
        "region": ["probe-region"] * n, "gpu_type": ["A100-80GB"] * n, "replica": ["r0"] * n, "status": ["ok"] * n,
        "queue_ms": [None] * n, "ttft_ms": [r["ttft_ms"] for r in rows], "tpot_ms": [20.0] * n, "e2e_ms": [1000.0] * n,
        "input_tokens": [r["input_tokens"] for r in rows], "output_tokens": [100] * n,
    }, schema_overrides={"ts": pl.Datetime("ms", "UTC"), "queue_ms": pl.Float32, "ttft_ms": pl.Float32,
                         "tpot_ms": pl.Float32, "e2e_ms": pl.Float32, "input_tokens": pl.UInt32, "output_tokens": pl.UInt32}))
    m = len(gpu_rows)
    store.insert(conventions.GPU_METRICS, pl.DataFrame({
        "ts": [r["ts"] for r in gpu_rows], "node": [r["node"] for r in gpu_rows], "gpu": [r["gpu"] for r in gpu_rows],
        "gpu_type": ["A100-80GB"] * m, "deployment": [name] * m, "region": ["probe-region"] * m,
        **{c: [0.5] * m if c == "sm_active" else [None] * m for c in conventions.GPU_VALUE_COLUMNS},
    }, schema_overrides={"ts": pl.Datetime("ms", "UTC"), "gpu": pl.UInt8, **{c: pl.Float32 for c in conventions.GPU_VALUE_COLUMNS}}))


@pytest.fixture
def probe(store):
    yield store
    delete_requests(store, PROBE)
    store.command(f"DELETE FROM {conventions.GPU_METRICS} WHERE startsWith(deployment, {{p:String}})", {"p": PROBE})
    store.command(f"ALTER TABLE {conventions.GPU_1H} DELETE WHERE startsWith(deployment, {{p:String}}) "
                  "SETTINGS mutations_sync = 2", {"p": PROBE})


def test_capacity_from_the_store_counts_gpus_from_dcgm_and_finds_the_knee(probe):
    name = f"{PROBE}knee"
    loads = np.random.default_rng(0).uniform(100.0, 1250.0, 96)
    gpus = [4] * 48 + [8] * 48  # the pool doubled half way; the deployments table below still says 4
    insert_probe(probe, name, loads, gpus)
    hours = capacity_pipeline.hourly_histograms(probe, T0, hour(96), [name])
    assert hours.sort("hour")["gpus_reporting"].to_list() == gpus
    table = deployments([{"deployment": name, "replicas": 4}])
    tp = capacity_plan.measure_all(hours, table, {name: latency_slo(name, target=95, ttft_ms=500)}, "input_tps")[name]
    assert tp.gpus == 8 and tp.binding == "prefill" and not tp.extrapolated
    assert tp.per_gpu == pytest.approx(TRUE_CAPACITY, rel=0.10)


# --- The chart ---


@pytest.mark.parametrize("top, extrapolated", [(1250.0, False), (0.3 * TRUE_CAPACITY, True)],
                         ids=["loaded past the knee", "never loaded past 30%"])
def test_the_curve_chart_shows_hours_fit_threshold_capacity_and_says_when_it_is_extrapolated(top, extrapolated):
    from analytics.charts.capacity import load_curve_chart

    hours = knee_hours(np.random.default_rng(0).uniform(30.0, top, 200))
    (found,) = capacity_plan.load_curves(hours, GPUS, TTFT_500)
    fig = load_curve_chart(found, "knee")
    names = [t.name for t in fig.data]
    assert names[0] == "Observed hours" and names[-1] == "Fitted t0 + a·x / (C − x)"
    assert sum(len(t.x) for t in fig.data[:-1]) == 200, "every hour is drawn, outliers apart"
    assert fig.layout.xaxis.title.text == "Prefill load (input tokens/s per GPU)"
    assert fig.layout.yaxis.title.text == "TTFT p95 (ms)"
    texts = [a.text for a in fig.layout.annotations]
    assert "SLO threshold 500 ms" in texts and any(t.startswith("capacity ") for t in texts)
    assert any(t.startswith("extrapolated") for t in texts) == extrapolated
