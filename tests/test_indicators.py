"""One definition of valid and good events (analytics.store.indicators), counted two ways that must agree.

Hand-built requests go through the real store: the SQL predicates rendered from the definition
count them over the raw table, and the numpy counters (analytics.slo.sli) count the rollups the
materialized views built from them (requests_5m histograms, the goodput rollup). Both are
checked against a plain Python count of the rows below, for every SLI kind, at thresholds on
bucket edges (all equal) and between edges (SQL exact, numpy's bounds contain it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from analytics.gpu.hours import hourly_requests
from analytics.slo.compliance import objectives_met
from analytics.slo.pipeline import load_scope
from analytics.slo.sli import day_grid, histogram_counts, inputs_from_rows, on_grid, sli_counts
from analytics.slo.spec import Sli, parse_slo
from analytics.store import bench_raw, conventions, review
from analytics.store.indicators import GOODPUT, LATENCY, indicator
from analytics.store.queries import request_slots
from analytics.store.slo import goodput_slots
from tests.slo_builders import delete_requests

DEPLOYMENT = "indicators-probe"
T0 = datetime(2019, 3, 4, tzinfo=UTC)  # long before the demo fleet; deleted after the module
SLOTS = 2

# (slot, status, ttft_ms, tpot_ms, e2e_ms, queue_ms, weight). Edges used: 1, 5, 30, 40, 60, 100,
# 250, 500, 1000, 4000 ms; 100.01 / 99.99 sit just above / below the 100 ms edge (as Float32 too).
ROWS = [
    (0, "ok", 100, 30, 1000, 5, 1),  # exactly at edges: good at those thresholds
    (0, "ok", 100.01, 30.01, 1000.1, 5.01, 2),  # just above the edges
    (0, "ok", 99.99, 29.99, 999.9, 4.99, 3),  # just below
    (0, "ok", 110, 45, 1100, 7, 1),  # between edges
    (0, "ok", None, 30, 1000, None, 4),  # no ttft, no queue: not valid for them, nor for goodput
    (0, "ok", 250, None, None, 1, 2),  # no tpot, no e2e
    (0, "error", 50, 10, 500, 1, 5),  # a latency recorded on an error is never a latency event
    (0, "timeout", None, None, None, None, 1),
    (0, "rejected", None, None, None, None, 3),  # load shed: valid and bad for availability
    (0, "unknown", 100, 30, 1000, 5, 6),  # outcome not recorded: never valid, latencies or not
    (1, "ok", 350, 45, 3000, 12, 7),
    (1, "ok", 500, 60, 4000, 15, 1),
    (1, "ok", 700, 80, 5000, 25, 2),
    (1, "ok", 250, 40, 2500, 10, 3),
    (1, "unknown", None, None, None, None, 2),
    (1, "rejected", None, None, None, None, 1),
]
FIELD_INDEX = {"ttft_ms": 2, "tpot_ms": 3, "e2e_ms": 4, "queue_ms": 5}
AT_EDGES = (1, 5, 30, 100, 250, 1000, 4000)
BETWEEN_EDGES = (7, 45, 110, 350, 1100)
GOODPUT_AT_EDGES = ((100, 30), (250, 40), (500, 60), (1, 1))
GOODPUT_BETWEEN_EDGES = ((110, 45), (350, 35), (100, 45))


def frame() -> pl.DataFrame:
    n = len(ROWS)
    slot, status, ttft, tpot, e2e, queue, weight = (list(c) for c in zip(*ROWS, strict=True))
    return pl.DataFrame({
        "ts": [T0 + timedelta(seconds=s * conventions.SLOT_SECONDS + 7 * i) for i, s in enumerate(slot)],
        "deployment": [DEPLOYMENT] * n, "model": ["probe"] * n, "model_version": ["v1"] * n,
        "region": ["probe-region"] * n, "gpu_type": ["L4-24GB"] * n, "replica": ["r0"] * n, "status": status,
        "queue_ms": queue, "ttft_ms": ttft, "tpot_ms": tpot, "e2e_ms": e2e,
        "input_tokens": [100] * n, "output_tokens": [20] * n, "weight": weight,
    }, schema_overrides={"ts": pl.Datetime("ms", "UTC"), **{f: pl.Float32 for f in FIELD_INDEX},
                         "input_tokens": pl.UInt32, "output_tokens": pl.UInt32, "weight": pl.UInt32})


@pytest.fixture(scope="module")
def probe(store):
    """The session store holding ROWS; the probe deployment is removed once the module is done."""
    delete_requests(store, DEPLOYMENT)
    store.insert(conventions.REQUESTS, frame())
    grid = day_grid(T0, T0 + timedelta(days=1))
    data = load_scope(store, grid, (DEPLOYMENT,), (), conventions.LATENCY_FIELDS, joint=True)
    yield store, grid, data
    delete_requests(store, DEPLOYMENT)


def python_count(sli: Sli) -> tuple[np.ndarray, np.ndarray]:
    """Good and valid requests per slot, counted from ROWS as the definitions read in words."""
    good, valid = np.zeros(SLOTS), np.zeros(SLOTS)
    for row in ROWS:
        slot, status, weight = row[0], row[1], row[6]
        if sli.kind == "availability":
            is_valid, is_good = status != "unknown", status == "ok"
        else:
            limits = ({sli.field: sli.threshold_ms} if sli.kind == "latency"
                      else {"ttft_ms": sli.ttft_ms, "tpot_ms": sli.tpot_ms})
            values = {f: row[FIELD_INDEX[f]] for f in limits}
            is_valid = status == "ok" and all(v is not None for v in values.values())
            # values are stored as Float32: 100.01 is 100.01000213623047, still above 100
            is_good = is_valid and all(float(np.float32(values[f])) <= ms for f, ms in limits.items())
        valid[slot] += weight * is_valid
        good[slot] += weight * is_good
    return good, valid


def sql_count(store, sli: Sli) -> tuple[np.ndarray, np.ndarray]:
    """Good and valid requests per slot from the raw table, by the generated predicates."""
    ind = indicator(sli.kind, sli.field)
    query = f"""
SELECT intDiv(toUnixTimestamp(ts) - {{t0:Int64}}, {conventions.SLOT_SECONDS}) AS slot,
    toFloat64(sumIf(weight, ({ind.valid_sql()}) AND ({ind.good_sql()}))) AS good,
    toFloat64(sumIf(weight, {ind.valid_sql()})) AS valid
FROM {conventions.REQUESTS} WHERE deployment = {{d:String}}
GROUP BY slot ORDER BY slot"""
    params = {"t0": int(T0.timestamp()), "d": DEPLOYMENT} | dict(zip(ind.params, ind.thresholds(sli).values(),
                                                                    strict=True))
    raw = store.query(query, params)
    good, valid = np.zeros(SLOTS), np.zeros(SLOTS)
    good[raw["slot"].to_numpy()], valid[raw["slot"].to_numpy()] = raw["good"].to_numpy(), raw["valid"].to_numpy()
    return good, valid


def slis(thresholds, pairs) -> list[Sli]:
    return [*(Sli("latency", field=f, threshold_ms=float(ms)) for f in conventions.LATENCY_FIELDS for ms in thresholds),
            *(Sli("goodput", ttft_ms=float(a), tpot_ms=float(b)) for a, b in pairs)]


def name(sli: Sli) -> str:
    return sli.describe()


@pytest.mark.parametrize("sli", [Sli("availability"), *slis(AT_EDGES, GOODPUT_AT_EDGES)], ids=name)
def test_at_bucket_edges_sql_and_the_rollup_count_the_same_good_and_valid_requests(probe, sli):
    store, _grid, data = probe
    expected = python_count(sli)
    np.testing.assert_array_equal(sql_count(store, sli), expected)
    counts = sli_counts(data, sli)
    assert counts.exact
    np.testing.assert_array_equal(counts.good[:SLOTS], expected[0])
    np.testing.assert_array_equal(counts.valid[:SLOTS], expected[1])
    assert counts.valid[SLOTS:].sum() == 0


@pytest.mark.parametrize("sli", slis(BETWEEN_EDGES, GOODPUT_BETWEEN_EDGES), ids=name)
def test_between_bucket_edges_the_sql_count_lies_within_the_rollups_bounds(probe, sli):
    store, _grid, data = probe
    good, valid = python_count(sli)
    np.testing.assert_array_equal(sql_count(store, sli), (good, valid))
    counts = sli_counts(data, sli)
    assert not counts.exact
    np.testing.assert_array_equal(counts.valid[:SLOTS], valid)
    assert np.all(counts.good_lower[:SLOTS] <= good) and np.all(good <= counts.good_upper[:SLOTS])
    assert np.all(counts.good_lower <= counts.good) and np.all(counts.good <= counts.good_upper)


@pytest.mark.parametrize("sli", slis((), GOODPUT_AT_EDGES + GOODPUT_BETWEEN_EDGES), ids=name)
def test_goodput_from_the_1d_histograms_brackets_the_exact_count(probe, sli):
    _store, _grid, data = probe
    good, valid = python_count(sli)
    counts = histogram_counts(data, GOODPUT.thresholds(sli))
    assert np.all(counts.good_lower[:SLOTS] <= good) and np.all(good <= counts.good_upper[:SLOTS])
    assert np.all(valid <= counts.valid[:SLOTS])  # valid is reported as its largest possible value


@pytest.mark.parametrize("sli", slis((), GOODPUT_AT_EDGES + GOODPUT_BETWEEN_EDGES), ids=name)
def test_goodput_read_for_one_threshold_pair_is_exact_anywhere(probe, sli):
    store, grid, _data = probe
    good, valid = python_count(sli)
    rows = goodput_slots(store, grid.start, grid.end, (DEPLOYMENT,), (), sli.ttft_ms, sli.tpot_ms)
    read = np.zeros((2, grid.n))
    read[:, on_grid(grid, rows["slot"])] = rows["good"].to_numpy(), rows["valid"].to_numpy()
    np.testing.assert_array_equal(read[:, :SLOTS], (good, valid))
    assert read[:, SLOTS:].sum() == 0


def test_availability_counts_rejected_as_bad_and_unknown_nowhere(probe):
    _store, _grid, data = probe
    counts = sli_counts(data, Sli("availability"))
    # slot 0: ok 1+2+3+1+4+2 = 13 of 13 + error 5 + timeout 1 + rejected 3 = 22 (unknown's 6 left out)
    # slot 1: ok 7+1+2+3 = 13 of 13 + rejected 1 = 14 (unknown's 2 left out)
    assert counts.good[:SLOTS].tolist() == [13, 13] and counts.valid[:SLOTS].tolist() == [22, 14]


def test_a_latency_on_an_error_or_unknown_request_is_not_a_latency_event(probe):
    _store, _grid, data = probe
    counts = sli_counts(data, Sli("latency", field="ttft_ms", threshold_ms=100.0))
    # slot 0 ok with a ttft: 1 + 2 + 3 + 1 + 2 = 9; <= 100 ms: 100 (1) and 99.99 (3)
    assert counts.good[0] == 4 and counts.valid[0] == 9


@pytest.mark.parametrize("sli", [Sli("availability"), *slis(AT_EDGES[2:4] + BETWEEN_EDGES[1:3],
                                                             GOODPUT_AT_EDGES[:2] + GOODPUT_BETWEEN_EDGES[:1])],
                         ids=name)
def test_the_raw_breakdown_and_the_bench_baseline_count_the_same_requests(probe, sli):
    store, grid, _data = probe
    good, valid = python_count(sli)
    thresholds = {"threshold_ms": sli.threshold_ms, "ttft_ms": sli.ttft_ms, "tpot_ms": sli.tpot_ms}
    window = (store, grid.start, grid.end, [DEPLOYMENT], [], sli.kind, sli.field)
    breakdown = review.raw_breakdown(*window, **thresholds)
    assert (breakdown["good"].sum(), breakdown["bad"].sum()) == (good.sum(), valid.sum() - good.sum())
    baseline = bench_raw.sli_slots(*window, **thresholds)
    assert (baseline["good"].sum(), baseline["valid"].sum()) == (good.sum(), valid.sum())


def test_the_rollup_histograms_hold_exactly_each_latency_slis_valid_requests(probe):
    _store, _grid, data = probe
    for field, ind in LATENCY.items():
        _good, valid = python_count(Sli("latency", field=field, threshold_ms=1.0))
        assert data.cum[field][:SLOTS, -1].tolist() == valid.tolist(), (field, ind.valid_sql())


def test_an_hours_goodput_per_gpu_counts_the_good_requests_its_verdict_judged(probe):
    store, _grid, _data = probe
    goodput = parse_slo({"name": "g", "deployments": DEPLOYMENT, "sli": {"goodput": {"ttft_ms": 250, "tpot_ms": 45}},
                         "target": 50, "window": "28d"})
    hours = request_slots(store, T0, T0 + timedelta(hours=1), [DEPLOYMENT], step_seconds=3600)
    hourly = hourly_requests(hours, {DEPLOYMENT: (goodput,)})
    counts = sli_counts(inputs_from_rows(hours), goodput.sli)
    verdict = objectives_met(inputs_from_rows(hours), (goodput,), min_events=1)
    # the hour's 1-D histograms: 22 ok with a ttft, 12 of them <= 250 ms; 24 ok with a tpot, 13 <= 40 ms
    # and 21 <= 50 ms; so 22 x 12/22 x (13 + 8 x log(45/40)/log(50/40)) / 24 (the exact count is 10)
    expected = 12 * (13 + 8 * np.log(45 / 40) / np.log(50 / 40)) / 24
    assert hourly["good"].to_list() == pytest.approx([expected])
    assert hourly["good"].to_list() == counts.good.tolist()
    assert hourly["attainment"].to_list() == pytest.approx((counts.good / counts.valid).tolist())
    assert hourly["attainment"].to_list() == pytest.approx(verdict.attainment.tolist())
