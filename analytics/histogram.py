"""Numpy kernels over the fixed latency buckets (analytics.store.conventions.EDGES_MS, N_BUCKETS).

A histogram row holds N_BUCKETS counts: bucket 0 counts x <= EDGES[0] (1 ms), bucket i counts
EDGES[i-1] < x <= EDGES[i], the last bucket counts x > EDGES[-1] (800 s). Its cumulative sum
``cum`` answers "how many values are <= EDGES[i]" exactly: ``cum[i]``.

For a threshold t strictly between two edges, the count of values <= t is only known to lie
in [cum[k-1], cum[k]] where k is the bucket straddling t: the error bound is the count in
that one bucket. The estimate interpolates log-linearly inside the bucket (latencies are
roughly log-uniform within a bucket whose edges differ by at most 4/3), i.e. it assumes
values spread evenly in log(x) between the edges (the same assumption as Prometheus'
``histogram_quantile`` makes linearly, and HdrHistogram makes per log bucket).
Everything is vectorised over the leading axes (e.g. slots x buckets), so a what-if over
30 days of 5-minute slots (8,640 rows) is a column gather on an array computed once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics.store.conventions import EDGES_MS, N_BUCKETS

_LOG_EDGES = np.log(EDGES_MS)


@dataclass(frozen=True)
class Bounds:
    """Counts of values <= a threshold: exact lower and upper bounds and an estimate.

    All three are equal when the threshold is a bucket edge.
    """

    lower: np.ndarray
    estimate: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True)
class Straddle:
    """Where a threshold falls among the bucket edges."""

    threshold_ms: float
    bucket: int  # the bucket k with EDGES[k-1] < t <= EDGES[k]
    exact: bool  # t is an edge (or below the first edge with nothing below it)
    lower_edge_ms: float  # EDGES[k-1] (0 for bucket 0)
    upper_edge_ms: float  # EDGES[k] (inf for the last bucket)
    fraction: float  # log-linear position of t inside the bucket, in [0, 1]


def _check_threshold(threshold_ms: float) -> float:
    t = float(threshold_ms)
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"latency threshold must be a positive number of ms, got {threshold_ms!r}")
    return t


def locate(threshold_ms: float) -> Straddle:
    """Find the bucket a threshold falls in and its interpolation fraction."""
    t = _check_threshold(threshold_ms)
    k = int(np.searchsorted(EDGES_MS, t, side="left"))  # first edge >= t
    if k < len(EDGES_MS) and EDGES_MS[k] == t:
        return Straddle(t, k, True, float(EDGES_MS[k - 1]) if k else 0.0, t, 1.0)
    if k == 0:  # 0 < t < 1 ms: linear inside [0, 1 ms]
        return Straddle(t, 0, False, 0.0, float(EDGES_MS[0]), t / EDGES_MS[0])
    if k == len(EDGES_MS):  # beyond the last edge: nothing is known above 800 s
        return Straddle(t, k, False, float(EDGES_MS[-1]), float("inf"), 0.0)
    lo, hi = _LOG_EDGES[k - 1], _LOG_EDGES[k]
    fraction = float((np.log(t) - lo) / (hi - lo))
    return Straddle(t, k, False, float(EDGES_MS[k - 1]), float(EDGES_MS[k]), fraction)


def is_edge(threshold_ms: float) -> bool:
    """True when a threshold is one of the bucket edges (counts at it are exact)."""
    return locate(threshold_ms).exact


def matrix(frame: pl.DataFrame, column: str) -> np.ndarray:
    """A histogram column (lists of N_BUCKETS counts; null rows count as empty) as an int64 matrix."""
    if frame.height == 0:
        return np.zeros((0, N_BUCKETS), dtype=np.int64)
    lists = frame[column].fill_null(pl.lit([0] * N_BUCKETS, dtype=frame.schema[column]))
    if not (lists.list.len() == N_BUCKETS).all():
        raise ValueError(f"{column}: expected {N_BUCKETS} buckets per row")
    return lists.list.to_array(N_BUCKETS).to_numpy().astype(np.int64)


def cumulative(hist: np.ndarray) -> np.ndarray:
    """Cumulative counts along the bucket axis (last axis), as int64; the input is not changed."""
    hist = np.asarray(hist)
    if hist.shape[-1] != N_BUCKETS:
        raise ValueError(f"histograms need {N_BUCKETS} buckets on the last axis, got {hist.shape}")
    return np.cumsum(hist, axis=-1, dtype=np.int64)


def count_le(cum: np.ndarray, threshold_ms: float) -> Bounds:
    """Count values <= threshold from cumulative histograms (any leading shape).

    Exact at edges; between edges ``lower``/``upper`` are exact bounds and ``estimate`` is the
    log-linear interpolation (error <= the count in the straddled bucket).
    """
    s = locate(threshold_ms)
    upper = cum[..., s.bucket]
    if s.exact:
        return Bounds(upper, upper.astype(np.float64), upper)
    lower = cum[..., s.bucket - 1] if s.bucket > 0 else np.zeros_like(upper)
    estimate = lower + s.fraction * (upper - lower)
    return Bounds(lower, estimate, upper)


def weights(threshold_ms: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bucket weights (lower, estimate, upper) so that ``hist @ w`` counts values <= t.

    Used for joint (two-field) histograms, where cumulative sums along one axis do not apply.
    """
    s = locate(threshold_ms)
    lower = np.zeros(N_BUCKETS)
    lower[: s.bucket + (1 if s.exact else 0)] = 1.0
    upper = np.zeros(N_BUCKETS)
    upper[: s.bucket + 1] = 1.0
    estimate = lower.copy()
    if not s.exact:
        estimate[s.bucket] = s.fraction
    return lower, estimate, upper


def quantile(hist: np.ndarray, q: float) -> np.ndarray:
    """Estimate the q-quantile (0 < q < 1) of each histogram row, in ms (NaN for empty rows).

    The rank q x n falls in bucket k; the value interpolates log-linearly between its edges
    (linearly from 0 in bucket 0). Ranks in the overflow bucket return EDGES[-1], a lower
    bound. The true quantile lies in the same bucket, so the error is below one bucket width.
    """
    return quantile_of_cumulative(cumulative(hist), q)


def quantile_of_cumulative(cum: np.ndarray, q: float) -> np.ndarray:
    """``quantile`` from cumulative histograms (as ``cumulative`` returns them)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {q!r}")
    cum = np.asarray(cum, dtype=np.float64)
    flat = cum.reshape(-1, N_BUCKETS)
    total = flat[:, -1]
    rank = q * total
    # first bucket whose cumulative count reaches the rank
    k = np.minimum((flat < rank[:, None]).sum(axis=1), N_BUCKETS - 1)
    rows = np.arange(flat.shape[0])
    below = np.where(k > 0, flat[rows, np.maximum(k - 1, 0)], 0.0)
    inside = flat[rows, k] - below
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip(np.where(inside > 0, (rank - below) / inside, 0.0), 0.0, 1.0)
    kk = np.clip(k, 1, len(EDGES_MS) - 1)
    log_value = _LOG_EDGES[kk - 1] + frac * (_LOG_EDGES[kk] - _LOG_EDGES[kk - 1])
    value = np.clip(np.exp(log_value), EDGES_MS[kk - 1], EDGES_MS[kk])  # exp(log) may overshoot 1 ulp
    value = np.where(k == 0, frac * EDGES_MS[0], value)
    value = np.where(k >= len(EDGES_MS), EDGES_MS[-1], value)
    value = np.where(total > 0, value, np.nan)
    return value.reshape(cum.shape[:-1])
