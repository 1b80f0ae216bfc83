"""Spec for analytics.histogram: counts and quantiles from fixed-bucket latency histograms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import histogram
from analytics.store.conventions import EDGES_MS, N_BUCKETS


def histogram_of(values) -> np.ndarray:
    """Reference binning straight from the bucket definition in analytics.store.conventions."""
    buckets = np.searchsorted(EDGES_MS, np.asarray(values, dtype=np.float64), side="left")
    return np.bincount(buckets, minlength=N_BUCKETS)


latencies = st.lists(
    st.floats(min_value=0.0, max_value=2e6, allow_nan=False, allow_infinity=False), max_size=200
)


@pytest.mark.parametrize(
    "threshold, bucket, exact",
    [
        pytest.param(1.0, 0, True, id="1 ms is the first edge"),
        pytest.param(0.5, 0, False, id="half a millisecond falls in bucket 0"),
        pytest.param(200.0, 23, True, id="200 ms is an edge"),
        pytest.param(250.0, 24, True, id="250 ms is an edge"),
        pytest.param(230.0, 24, False, id="230 ms straddles the 200-250 ms bucket"),
        pytest.param(800_000.0, 59, True, id="800 s is the last edge"),
        pytest.param(900_000.0, 60, False, id="beyond 800 s is the overflow bucket"),
    ],
)
def test_locate_finds_the_bucket_holding_the_threshold(threshold, bucket, exact):
    s = histogram.locate(threshold)
    assert (s.bucket, s.exact) == (bucket, exact)
    assert s.lower_edge_ms < threshold <= s.upper_edge_ms or (exact and threshold == s.upper_edge_ms)


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf")], ids=str)
def test_a_threshold_must_be_a_positive_number(bad):
    with pytest.raises(ValueError):
        histogram.locate(bad)


def test_log_linear_fraction_is_the_position_in_log_space():
    # 223.6 ms is the geometric mean of 200 and 250 ms: exactly half way in log space.
    assert histogram.locate(np.sqrt(200 * 250)).fraction == pytest.approx(0.5)


@settings(max_examples=60, deadline=None)
@given(values=latencies, edge=st.sampled_from(list(EDGES_MS)))
def test_counts_at_every_edge_are_exact(values, edge):
    cum = histogram.cumulative(histogram_of(values))
    b = histogram.count_le(cum, edge)
    truth = int(np.sum(np.asarray(values) <= edge))
    assert int(b.lower) == int(b.upper) == truth == b.estimate


@settings(max_examples=60, deadline=None)
@given(values=latencies, threshold=st.floats(min_value=0.01, max_value=1e6))
def test_between_edges_the_truth_lies_within_the_bounds(values, threshold):
    cum = histogram.cumulative(histogram_of(values))
    b = histogram.count_le(cum, threshold)
    truth = int(np.sum(np.asarray(values) <= threshold))
    assert b.lower <= truth <= b.upper
    assert b.lower <= b.estimate <= b.upper
    # the error bound is the count in the one straddled bucket
    assert b.upper - b.lower <= histogram_of(values)[histogram.locate(threshold).bucket]


@settings(max_examples=40, deadline=None)
@given(values=latencies, a=st.floats(0.01, 1e6), b=st.floats(0.01, 1e6))
def test_counts_never_decrease_as_the_threshold_rises(values, a, b):
    lo, hi = sorted((a, b))
    cum = histogram.cumulative(histogram_of(values))
    x, y = histogram.count_le(cum, lo), histogram.count_le(cum, hi)
    assert x.lower <= y.lower and x.estimate <= y.estimate + 1e-9 and x.upper <= y.upper


@pytest.mark.parametrize("threshold", [1.0, 0.3, 230.0, 500.0, 4321.0, 9e5], ids=lambda t: f"{t} ms")
def test_weights_give_the_same_counts_as_cumulative_sums(threshold):
    rng = np.random.default_rng(3)
    hist = rng.integers(0, 50, size=(7, N_BUCKETS))
    b = histogram.count_le(histogram.cumulative(hist), threshold)
    lower, estimate, upper = histogram.weights(threshold)
    np.testing.assert_array_equal(hist @ lower, b.lower)
    np.testing.assert_allclose(hist @ estimate, b.estimate)
    np.testing.assert_array_equal(hist @ upper, b.upper)


def test_count_le_works_on_many_slots_at_once_without_changing_the_input():
    rng = np.random.default_rng(1)
    hist = rng.integers(0, 9, size=(30, 24, N_BUCKETS))
    before = hist.copy()
    cum = histogram.cumulative(hist)
    b = histogram.count_le(cum, 300.0)
    assert b.lower.shape == (30, 24)
    np.testing.assert_array_equal(b.lower, hist[..., : 25 + 1].sum(axis=-1))  # EDGES[25] = 300 ms
    np.testing.assert_array_equal(hist, before)


def test_histograms_must_have_the_fixed_bucket_count():
    with pytest.raises(ValueError):
        histogram.cumulative(np.zeros((3, 10)))


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(0.05, 7e5, allow_nan=False), min_size=1, max_size=300),
    q=st.sampled_from([0.5, 0.9, 0.95, 0.99]),
)
def test_quantile_lies_in_the_bucket_of_the_true_quantile(values, q):
    hist = histogram_of(values)
    estimate = float(histogram.quantile(hist, q))
    # the smallest value v with count(x <= v) >= q * n
    ordered = np.sort(values)
    truth = ordered[int(np.ceil(q * len(values))) - 1]
    s = histogram.locate(truth)
    assert s.lower_edge_ms <= estimate <= s.upper_edge_ms


def test_quantile_of_an_empty_histogram_is_nan_and_rows_are_independent():
    hist = np.zeros((2, N_BUCKETS), dtype=np.int64)
    hist[1, 23] = 10  # ten values in (150, 200] ms (bucket 23)
    p50 = histogram.quantile(hist, 0.5)
    assert np.isnan(p50[0])
    # rank 5 of 10 inside the bucket: half way in log space between 150 and 200 ms
    assert p50[1] == pytest.approx(np.sqrt(150 * 200))


def test_overflow_quantile_reports_the_last_edge_as_a_lower_bound():
    hist = np.zeros(N_BUCKETS, dtype=np.int64)
    hist[-1] = 4
    assert float(histogram.quantile(hist, 0.99)) == EDGES_MS[-1]
