"""Demand series with explicit gaps (analytics.capacity.demand) and capacity from forecasts (analytics.capacity.plan)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from analytics.capacity import cache as capacity_cache
from analytics.capacity import demand as capacity_demand
from analytics.capacity import forecast as capacity_forecast
from analytics.capacity import pipeline as capacity_pipeline
from analytics.capacity import plan as capacity_plan
from analytics.ingest.demo import fleet
from analytics.slo.objectives import objectives_by_deployment
from analytics.store import conventions
from analytics.store.queries import deployments_table
from tests.gpu_builders import latency_slo

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)


# --- Demand: the gap rule ---


def counts(rows: list[tuple[int, str, int]], epoch_seconds: bool = False) -> pl.DataFrame:
    """request_counts-like rows (hour offset, deployment, requests); input tokens = 100 x requests,
    output tokens = 10 x requests."""
    frame = pl.DataFrame(
        {
            "bucket": [T0 + h * HOUR for h, _, _ in rows],
            "deployment": [d for _, d, _ in rows],
            "requests": pl.Series([r for _, _, r in rows], dtype=pl.UInt64),
            "input_tokens": pl.Series([100 * r for _, _, r in rows], dtype=pl.UInt64),
            "output_tokens": pl.Series([10 * r for _, _, r in rows], dtype=pl.UInt64),
        }
    )
    if epoch_seconds:  # DateTime can arrive from the Arrow path as UInt32 epoch seconds
        frame = frame.with_columns(pl.col("bucket").dt.epoch("s").cast(pl.UInt32))
    return frame


ROWS = [(0, "a", 3600), (0, "b", 7200), (1, "a", 3600), (3, "a", 3600), (3, "b", 3600), (3, "c", 36), (4, "b", 3600)]


@pytest.mark.parametrize("epoch_seconds", [False, True], ids=["Datetime buckets", "epoch-second buckets"])
def test_missing_rows_are_gaps_when_no_deployment_reported_and_zero_otherwise(epoch_seconds):
    demand = capacity_demand.demand_from_counts(counts(ROWS, epoch_seconds), T0, T0 + 5 * HOUR)
    rps = {d: demand.filter(pl.col("deployment") == d)["rps"].to_list() for d in "abc"}
    assert rps["a"] == [1.0, 1.0, None, 1.0, 0.0], "hour 2 has no row at all: a collection gap"
    assert rps["b"] == [2.0, 0.0, None, 1.0, 1.0], "hour 1: others reported, so b had zero traffic"
    assert rps["c"] == [None, None, None, 0.01, 0.0], "before its first row c is unknown, then zero"
    first = demand.filter(pl.col("deployment") == "a").row(0, named=True)
    assert (first["input_tps"], first["output_tps"]) == (100.0, 10.0), "prefill and decode demand beside requests/s"


def test_fleet_total_sums_known_values_and_keeps_gaps():
    demand = capacity_demand.demand_from_counts(counts(ROWS), T0, T0 + 5 * HOUR)
    assert capacity_demand.fleet_total(demand)["rps"].to_list() == [3.0, 1.0, None, 2.01, 1.0]


@pytest.mark.parametrize(
    "start, end, expected",
    [
        pytest.param(T0, T0 + 3 * HOUR, (T0, T0 + 3 * HOUR), id="whole hours are kept"),
        pytest.param(T0 + timedelta(minutes=5), T0 + 3 * HOUR + timedelta(minutes=59), (T0 + HOUR, T0 + 3 * HOUR),
                     id="partial hours at both ends are dropped"),
        pytest.param(T0 + timedelta(minutes=5), T0 + timedelta(minutes=30), (T0 + HOUR, T0 + HOUR), id="no whole hour gives an empty range"),
    ],
)
def test_hour_range_keeps_only_whole_hours(start, end, expected):
    assert capacity_demand.hour_range(start, end) == expected


# --- Hourly SLO compliance from histograms (exact at bucket edges) ---


def hist(at_ms: dict[float, int]) -> list[int]:
    """A 61-bucket histogram with `count` values exactly at each edge (edge values sit in its bucket)."""
    h = [0] * conventions.N_BUCKETS
    for edge, count in at_ms.items():
        h[int(np.flatnonzero(conventions.EDGES_MS == edge)[0])] += count
    return h


def hours_frame(ttft: list[dict], tpot: list[dict] | None = None, requests: list[int] | None = None) -> pl.DataFrame:
    """Hourly rollup rows of one deployment (analytics.store.capacity.hourly_histograms), all requests ok."""
    n = len(ttft)
    empty = [hist({})] * n
    ok = [sum(h.values()) for h in ttft]
    return pl.DataFrame(
        {
            "hour": [T0 + i * HOUR for i in range(n)],
            "deployment": ["d"] * n,
            "requests": requests or ok,
            "ok": ok,
            "output_tokens": [0] * n,
            "ttft_hist": [hist(h) for h in ttft],
            "tpot_hist": [hist(h) for h in tpot] if tpot else empty,
            "e2e_hist": empty,
            "queue_hist": empty,
        },
        schema_overrides={c: pl.List(pl.UInt64) for c in ("ttft_hist", "tpot_hist", "e2e_hist", "queue_hist")},
    )


TTFT_2S = latency_slo("d", target=95, ttft_ms=2000)


@pytest.mark.parametrize(
    "slo, ttft, tpot, met",
    [
        pytest.param(TTFT_2S, {2000: 95, 2500: 5}, None, True, id="95 of 100 at exactly the threshold edge meet a 95% target"),
        pytest.param(TTFT_2S, {2000: 94, 2500: 6}, None, False, id="94 of 100 miss a 95% target"),
        pytest.param(latency_slo("d", target=95, ttft_ms=2200), {2000: 94, 2500: 6}, None, True,
                     id="between edges the estimate interpolates log-linearly: 94 + 6 x 0.43 = 96.6 of 100 meet"),
        pytest.param(latency_slo("d", target=95, ttft_ms=2050), {2000: 94, 2500: 6}, None, False,
                     id="closer to the lower edge: 94 + 6 x 0.11 = 94.7 of 100 miss"),
        pytest.param(latency_slo("d", target=95, ttft_ms=2000, tpot_ms=100), {1000: 100}, {100: 90, 120: 10}, False,
                     id="every objective must meet its target"),
        pytest.param(TTFT_2S, {1000: 10}, None, False, id="an hour with too few requests is not evaluated"),
    ],
)
def test_hourly_compliance(slo, ttft, tpot, met):
    out = capacity_plan.hourly_compliance(hours_frame([ttft], [tpot] if tpot else None), slo, min_requests=20)
    assert out["met_slo"].to_list() == [met]


def test_throughput_is_the_highest_load_per_gpu_among_hours_that_met_the_slo():
    # 1, 2 and 3 requests/s on 2 GPUs; the 3 req/s hour misses the SLO -> 2 / 2 = 1.0 req/s per GPU.
    good, bad = {1000: 100}, {1000: 50, 4000: 50}
    hours = hours_frame([good, good, bad], requests=[3600, 7200, 10800])
    tp = capacity_plan.measure_throughput("d", hours, 2, TTFT_2S, min_hours=1)
    assert (tp.per_gpu, tp.hours_evaluable, tp.hours_met, tp.reason) == (1.0, 3, 2, None)


@pytest.mark.parametrize(
    "ttft, gpus, reason",
    [
        pytest.param([{1000: 50, 4000: 50}] * 30, 2, "no hour met", id="no hour met the SLO"),
        pytest.param([{1000: 100}] * 3, 2, "too little data", id="fewer evaluable hours than required"),
        pytest.param([{1000: 100}] * 30, 0, "no GPUs", id="no GPUs in the deployments table"),
    ],
)
def test_throughput_is_unknown_with_a_reason_instead_of_a_made_up_number(ttft, gpus, reason):
    tp = capacity_plan.measure_throughput("d", hours_frame(ttft, requests=[3600] * len(ttft)), gpus, TTFT_2S, min_hours=24)
    assert tp.per_gpu is None and reason in tp.reason


# --- GPUs needed and exhaustion ---


def forecast_frame(upper: list[float]) -> pl.DataFrame:
    ts = [T0 + (i + 1) * HOUR for i in range(len(upper))]
    return pl.DataFrame({"ts": ts, "yhat": upper, "yhat_lower": upper, "yhat_upper": upper}).with_columns(
        pl.col("ts").dt.cast_time_unit("us")
    )


def test_gpus_needed_is_upper_bound_over_throughput_plus_headroom_in_whole_replicas():
    tp = capacity_plan.Throughput("d", "rps", 1.0, 8, 100, 100, "x")
    planned = capacity_plan.plan(forecast_frame([5.0, 10.0, 10.5]), tp, gpus_per_replica=4, headroom=0.2)
    # 5 x 1.2 = 6 -> 8; 10 x 1.2 = 12 -> 12; 10.5 x 1.2 = 12.6 -> 16 (replicas of 4 GPUs)
    assert planned["gpus_needed"].to_list() == [8.0, 12.0, 16.0]
    assert planned["capacity"].to_list() == [8.0] * 3
    o = capacity_plan.outlook("d", "L4", planned, tp)
    assert o.capacity_exhausted_at == T0 + 2 * HOUR, "first hour whose upper bound (10) exceeds 8 GPUs x 1.0"
    assert o.headroom_breached_at == T0 + 2 * HOUR and o.gpus_needed_peak == 16.0


def test_a_forecast_within_capacity_has_no_exhaustion_date():
    tp = capacity_plan.Throughput("d", "rps", 1.0, 8, 100, 100, "x")
    o = capacity_plan.outlook("d", "L4", capacity_plan.plan(forecast_frame([6.0, 7.9]), tp, 1, 0.0), tp)
    assert o.capacity_exhausted_at is None and o.headroom_breached_at is None


def test_fleet_table_adds_weekly_peaks_by_gpu_type_and_counts_unknown_deployments_as_they_are():
    deployments = pl.DataFrame({
        "deployment": ["a", "b", "c"], "gpu_type": ["L4", "L4", "L4"], "gpus_per_replica": [1, 1, 2], "replicas": [4, 2, 1],
    })
    known = capacity_plan.Throughput("a", "rps", 1.0, 4, 100, 100, "x")
    plans = {
        "a": capacity_plan.plan(forecast_frame([3.0, 5.0]), known, 1, 0.0),
        "b": capacity_plan.plan(forecast_frame([1.0, 2.0]), capacity_plan.Throughput("b", "rps", 1.0, 2, 100, 100, "x"), 1, 0.0),
        "c": capacity_plan.plan(forecast_frame([1.0, 1.0]), capacity_plan.Throughput("c", "rps", None, 2, 0, 0, "x", "no data"), 2, 0.0),
    }
    table = capacity_plan.fleet_by_week(plans, deployments)
    row = table.row(0, named=True)
    # peaks: a 5, b 2, c unknown -> its current 2: 9 needed vs 4 + 2 + 2 = 8 current
    assert (row["gpus_needed"], row["gpus_current"], row["short"], row["unknown"]) == (9.0, 8, 1.0, "c")
    assert capacity_plan.exhaustion_by_gpu_type(table) == {"L4": row["week"]}


def test_the_fleet_counts_the_gpus_a_deployment_runs_on_now_not_the_deployments_table():
    deployments = pl.DataFrame({"deployment": ["a"], "gpu_type": ["L4"], "gpus_per_replica": [1], "replicas": [4]})
    grown = capacity_plan.Throughput("a", "rps", 1.0, 8, 100, 100, "x")  # DCGM: 8 GPUs report in the latest hour
    plans = {"a": capacity_plan.plan(forecast_frame([6.0, 7.0]), grown, 1, 0.0)}
    row = capacity_plan.fleet_by_week(plans, deployments).row(0, named=True)
    assert (row["gpus_needed"], row["gpus_current"], row["short"]) == (7.0, 8, 0.0), "the outlook's 8, not the table's 4"


# --- On the demo fleet ---


@pytest.fixture(scope="module")
def demo_assessment(demo_store, tmp_path_factory):
    end = demo_store.scalar(f"SELECT max(slot) FROM {conventions.REQUESTS_5M}")
    end = (datetime.fromtimestamp(end, UTC) if isinstance(end, int) else end.astimezone(UTC)) + timedelta(minutes=5)
    start = end - timedelta(days=21)
    deployments = deployments_table(demo_store)
    demand = capacity_pipeline.hourly_demand(demo_store, start, end)
    histories = {n: capacity_demand.series(demand, n) for n in deployments["deployment"]}
    # Four weeks: Prophet's linear trend reaches the growing deployment's verified peak after ~2.
    fits = capacity_cache.cached_map(capacity_forecast.prophet_forecast, histories, capacity_forecast.ForecastParams(horizon=timedelta(days=28)),
                        cache_dir=tmp_path_factory.mktemp("forecast-cache"), workers=2)
    # No SLO file: every deployment is judged by the packaged defaults for its kind.
    objectives = objectives_by_deployment(deployments, ())
    throughputs = capacity_plan.measure_all(capacity_pipeline.hourly_histograms(demo_store, start, end, deployments["deployment"]), deployments,
                                objectives)
    return demand, fits, capacity_plan.assess(fits.results, throughputs, deployments, headroom=0.2)


def test_demo_demand_has_every_hour_and_quiet_hours_are_zero_not_missing(demo_assessment):
    demand, _, _ = demo_assessment
    assert demand.group_by("deployment").len()["len"].unique().to_list() == [21 * 24]
    quiet = demand.filter(pl.col("deployment") == fleet.LOW_TRAFFIC)
    assert (quiet["requests"] == 0).sum() > 0
    missing = quiet.filter(pl.col("requests").is_null())["ts"]
    assert missing.is_empty() or missing.max() < quiet.drop_nulls("requests")["ts"].min(), "only before its first request"


def test_the_growing_demo_deployment_runs_out_of_capacity_and_flat_ones_do_not(demo_assessment):
    _, fits, assessment = demo_assessment
    assert not fits.errors
    outlooks = assessment.outlooks
    growing = outlooks[fleet.GROWING]
    assert growing.capacity_exhausted_at is not None
    # Without DCGM SM activity (fleet.NO_PROFILING) the throughput is only the highest load seen,
    # a lower bound that a flat forecast may cross; the page says so for that deployment.
    flat = [d.deployment for d in fleet.FLEET if d.growth_per_day == 0 and outlooks[d.deployment].per_gpu is not None
            and d.deployment != fleet.NO_PROFILING]
    assert len(flat) >= 10
    assert {d: outlooks[d].capacity_exhausted_at for d in flat} == {d: None for d in flat}


def test_the_low_traffic_demo_deployment_has_unknown_capacity_with_a_reason(demo_assessment):
    _, _, assessment = demo_assessment
    o = assessment.outlooks[fleet.LOW_TRAFFIC]
    assert o.per_gpu is None and o.gpus_needed_peak is None and "too little data" in o.reason
    table = capacity_plan.outlook_table(assessment)
    assert table.height == len(fleet.FLEET)
    assert table.filter(pl.col("deployment") == fleet.LOW_TRAFFIC)["reason"].item().startswith("too little data")


def test_warming_fits_the_capacity_pages_default_scenario_so_a_first_visit_reads_the_cache(store, tmp_path):
    from analytics.store.queries import data_range

    warmed = capacity_pipeline.warm(store, tmp_path, method="seasonal_naive")  # the same scenario as Prophet's, fitted fast
    assert warmed.computed + warmed.cached == len(fleet.FLEET)
    first, last, _ = data_range(store)
    start, end = capacity_pipeline.window(first, last)
    names = deployments_table(store)["deployment"].to_list()
    page = capacity_pipeline.histories(capacity_pipeline.hourly_demand(store, start, end), names, capacity_pipeline.DEFAULT_METRIC)
    fn = capacity_forecast.METHODS["seasonal_naive"]
    assert all(capacity_cache.is_cached(n, fn, h, capacity_pipeline.default_params(), tmp_path) for n, h in page.items())
