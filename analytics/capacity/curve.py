"""Latency-vs-load curves per deployment, fitted from telemetry alone, and the capacity they imply.

For each latency objective on TTFT or TPOT, one point per hour: x = the load per GPU that the
latency answers to (prefill: input tokens/s per GPU for TTFT; decode: output tokens/s per GPU for
TPOT; tokens of the hour / 3600 s / that hour's GPUs, analytics.capacity.gpu_count), y = the
latency quantile the objective judges (the p95 for a 95% target), read from the hour's rollup
histogram and interpolated inside its bucket (analytics.histogram.quantile).

Slots are hours, not 5 minutes: a p95 needs enough requests per slot to be a p95 (a 5-minute slot
of a sampled request log holds ~20 rows at the demo's rates), and the hourly frame is the one the
throughput rule already reads (analytics.store.capacity.hourly_histograms), so no second query.
Hours with fewer than MIN_EVENTS_PER_HOUR latency values are left out, as the SLO rule does.

The curve is the saturating queueing shape latency = t0 + a x / (C - x): service time t0 at no
load, rising without bound as the load nears the saturation point C (the M/M/1 waiting time
rho / (1 - rho), Kleinrock, Queueing Systems vol. 1, with rho = x / C). DistServe (Zhong et al.,
OSDI'24) and NVIDIA Dynamo's SLA planner profile TTFT and ITL against load per GPU the same way;
llm-d's variant autoscaler fits the linear ITL = a + b x batch, the low-load limit of this curve.
It is fitted by least squares in numpy: for each C on a grid above the highest load seen, t0 and a
are linear (ordinary least squares with t0, a >= 0), and the C with the smallest squared error wins.
Hours whose latency is far off the first fit (|log(y / fit)| above OUTLIER_MADS robust standard
deviations, 1.4826 x the median absolute deviation: Rousseeuw & Croux 1993) are left out and the
curve is fitted once more: a latency regression or an incident is not load, and one bad day of
slow hours would otherwise lift the whole curve (a one-step trimmed least squares).

Capacity = the highest load at which the fitted curve meets the objective's threshold:
t0 + a x / (C - x) = T  =>  x = C (T - t0) / (T - t0 + a). Its uncertainty band is the 5th-95th
percentile of the same capacity refitted on BOOTSTRAPS resamples of the hours (seeded).
A capacity is "extrapolated" when the highest load seen is below NEAR_SATURATION of it, or of its
band's upper end: at half the saturation point the queueing term a x / (C - x) equals a, so below
it the rise is within the hour-to-hour noise and the data cannot tell a knee from a straight line
(a noisy low-load fit can put the knee anywhere; the bootstrap's upper end shows how far).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics import histogram
from analytics.slo.compliance import MIN_EVENTS_PER_HOUR
from analytics.slo.spec import Slo
from analytics.store.conventions import hist_column

SLOT_SECONDS = 3600
# The latency field each load drives, and the token count whose rate is that load.
LOADS = {"ttft_ms": ("prefill", "input_tokens"), "tpot_ms": ("decode", "output_tokens")}
LOAD_UNITS = {"prefill": "input tokens/s per GPU", "decode": "output tokens/s per GPU"}
MIN_SLOTS = 24  # fewer usable hours than this: no fit
NEAR_SATURATION = 0.5  # highest load seen / capacity below this: extrapolated (see the module docstring)
ROUNDING = 1e-9  # relative: a fitted rise smaller than this share of the mean latency is float noise
OUTLIER_MADS = 3.0
BOOTSTRAPS = 200
SEED = 0
BAND = (5.0, 95.0)  # percentiles of the bootstrap capacities
# Saturation points tried: from just above the highest load seen to 100x it, evenly in log.
C_GRID = np.exp(np.linspace(np.log(1.001), np.log(100.0), 400))


@dataclass(frozen=True)
class Fit:
    """Fitted latency = t0 + a x / (c - x), in ms and load units."""

    t0: float
    a: float
    c: float

    def latency(self, x: np.ndarray) -> np.ndarray:
        """The fitted latency at loads ``x`` (inf at and beyond saturation)."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.where(x < self.c, self.t0 + self.a * x / (self.c - x), np.inf)

    def capacity(self, threshold_ms: float) -> float:
        """The highest load at which the curve stays at or below the threshold (0 when even no load misses it)."""
        if threshold_ms <= self.t0:
            return 0.0
        return self.c * (threshold_ms - self.t0) / (threshold_ms - self.t0 + self.a)


def fit_each(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> list[Fit | None]:
    """Least-squares fits of latency = t0 + a x / (c - x), t0 >= 0, a > 0, one per column of
    ``weights`` (points x fits: bootstrap counts); None where latency does not rise with load (a = 0).

    For each c of the grid, t0 and a solve weighted ordinary least squares on f = x / (c - x); every
    sum is a matrix product of the grid's f with the weights, so all fits cost a few products."""
    x, y, w = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    if x.size == 0 or x.max() <= 0:
        return [None] * w.shape[1]
    c = x.max() * C_GRID  # (grid,)
    f = x[None, :] / (c[:, None] - x[None, :])  # the queueing term's shape, (grid, points)
    n, sy, syy = w.sum(axis=0), y @ w, (y * y) @ w  # (fits,)
    sf, sff, sfy = f @ w, (f * f) @ w, (f * y) @ w  # (grid, fits)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (n * sfy - sf * sy) / (n * sff - sf * sf)
        t0 = (sy - a * sf) / n
        # t0 < 0 is not a service time: refit through the origin (t0 = 0) there
        negative = t0 < 0
        a, t0 = np.where(negative, sfy / sff, a), np.where(negative, 0.0, t0)
    a = np.maximum(np.nan_to_num(a), 0.0)
    rise = a * f.max(axis=1)[:, None]  # the fitted rise over the loads seen
    a = np.where(rise > ROUNDING * np.abs(sy / n), a, 0.0)  # a rise within rounding is no rise
    t0 = np.where(a > 0, t0, sy / n)  # no rise: the flat mean
    # sum of w (y - t0 - a f)^2, expanded into the sums above
    error = syy - 2 * t0 * sy - 2 * a * sfy + t0 * t0 * n + 2 * t0 * a * sf + a * a * sff
    best = np.nanargmin(np.where(np.isfinite(error), error, np.nan), axis=0)
    columns = np.arange(w.shape[1])
    return [Fit(float(t0[g, k]), float(a[g, k]), float(c[g])) if a[g, k] > 0 and n[k] > 0 else None
            for k, g in zip(columns, best, strict=True)]


def fit(x: np.ndarray, y: np.ndarray) -> Fit | None:
    """The least-squares fit of latency = t0 + a x / (c - x) to every point (see fit_each)."""
    return fit_each(x, y, np.ones((np.size(x), 1)))[0]


def amount(value: float) -> str:
    """A load for a sentence: whole numbers from 100 up (12,345), three significant digits below."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


@dataclass(frozen=True)
class Curve:
    """One objective's latency-vs-load points, fit and capacity (per GPU, in the load's unit)."""

    field: str  # ttft_ms or tpot_ms
    load: str  # prefill or decode
    quantile: float
    threshold_ms: float
    slo: str
    x: np.ndarray  # load per GPU, one per usable hour
    y: np.ndarray  # the latency quantile of that hour, ms
    kept: np.ndarray  # bool per hour: False for the outliers left out of the fit
    fitted: Fit | None
    capacity: float | None
    band: tuple[float, float] | None
    reason: str | None = None

    @property
    def max_load(self) -> float:
        """The highest load per GPU seen in the hours fitted."""
        return float(self.x[self.kept].max()) if self.kept.any() else 0.0

    @property
    def extrapolated(self) -> bool:
        """True when the data never came near the capacity or its band's upper end (or there is no capacity)."""
        if self.capacity is None:
            return True
        return self.max_load < NEAR_SATURATION * max(self.capacity, self.band[1] if self.band else 0.0)

    @property
    def label(self) -> str:
        """E.g. 'TTFT p95 <= 500 ms'."""
        return f"{self.field.removesuffix('_ms').upper()} p{self.quantile * 100:g} <= {self.threshold_ms:g} ms"

    def describe(self) -> str:
        """E.g. 'TTFT p95 <= 500 ms at up to 1,020 input tokens/s per GPU (highest seen 1,100)'."""
        if self.capacity is None:
            return f"{self.label}: {self.reason}"
        return (f"{self.label} up to {amount(self.capacity)} {LOAD_UNITS[self.load]} "
                f"(highest seen {amount(self.max_load)}, {self.max_load / self.capacity:.0%} of it)"
                if self.capacity > 0 else f"{self.label}: missed even at the lowest load")


def points(hours: pl.DataFrame, gpus: pl.Series, field: str, quantile: float,
           min_events: int = MIN_EVENTS_PER_HOUR) -> tuple[np.ndarray, np.ndarray]:
    """(load per GPU, latency quantile) of each hour with at least ``min_events`` latency values and some load."""
    _, tokens = LOADS[field]
    if hours.height == 0:
        return np.zeros(0), np.zeros(0)
    counts = histogram.matrix(hours, hist_column(field))
    load = hours[tokens].cast(pl.Float64).to_numpy() / SLOT_SECONDS / gpus.to_numpy()
    keep = (counts.sum(axis=1) >= min_events) & (load > 0)
    return load[keep], histogram.quantile(counts[keep], quantile)


def bootstrap_band(x: np.ndarray, y: np.ndarray, threshold_ms: float, seed: int = SEED,
                   draws: int = BOOTSTRAPS) -> tuple[float, float] | None:
    """5th-95th percentile of the capacity refitted on resamples of the hours (with replacement)."""
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, x.size, x.size), minlength=x.size) for _ in range(draws)], axis=1)
    capacities = [one.capacity(threshold_ms) for one in fit_each(x, y, counts) if one is not None]
    if len(capacities) < draws / 2:  # most resamples show no rise: no band worth drawing
        return None
    low, high = np.percentile(capacities, BAND)
    return float(low), float(high)


def objective_curve(hours: pl.DataFrame, gpus: pl.Series, slo: Slo, min_slots: int = MIN_SLOTS) -> Curve:
    """The curve of one latency objective on TTFT or TPOT: points, fit, capacity and band."""
    field, threshold = slo.sli.field, float(slo.sli.threshold_ms)
    load, _ = LOADS[field]
    quantile = min(max(slo.target, 0.5), 0.999)
    x, y = points(hours, gpus, field, quantile)

    kept = np.ones(x.size, dtype=bool)

    def without(reason: str) -> Curve:
        return Curve(field, load, quantile, threshold, slo.name, x, y, kept, None, None, None, reason)

    if x.size < min_slots:
        return without(f"too few hours with load and latency ({x.size}, need {min_slots})")
    first = fit(x, y)
    if first is None:
        return without("latency does not rise with load in the hours seen")
    kept = inliers(y, first.latency(x))
    fitted = fit(x[kept], y[kept])
    if fitted is None:
        return without("latency does not rise with load in the hours seen (outliers left out)")
    return Curve(field, load, quantile, threshold, slo.name, x, y, kept, fitted, fitted.capacity(threshold),
                 bootstrap_band(x[kept], y[kept], threshold))


def inliers(y: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """True for the points within OUTLIER_MADS robust standard deviations of the fit, in log latency."""
    with np.errstate(divide="ignore", invalid="ignore"):
        residual = np.log(y / fitted)
    finite = np.isfinite(residual)
    if not finite.any():
        return finite
    centre = np.median(residual[finite])
    scale = max(1.4826 * np.median(np.abs(residual[finite] - centre)), ROUNDING)  # exact data: keep every point
    return finite & (np.abs(residual - centre) <= OUTLIER_MADS * scale)


def curves(hours: pl.DataFrame, gpus: pl.Series, objectives: Sequence[Slo]) -> tuple[Curve, ...]:
    """One curve per latency objective on TTFT or TPOT (none for other objectives or non-LLM deployments)."""
    return tuple(objective_curve(hours, gpus, slo) for slo in objectives
                 if slo.sli.kind == "latency" and slo.sli.field in LOADS)


@dataclass(frozen=True)
class Binding:
    """Which curve limits a deployment at its token mix, and its capacity in requests/s per GPU."""

    curve: Curve
    rps_per_gpu: float
    band_rps: tuple[float, float] | None


def binding(found: Sequence[Curve], tokens_per_request: dict[str, float]) -> Binding | None:
    """The curve that binds first at the token mix: GPUs needed = max over the curves of forecast
    tokens/s / capacity per GPU, i.e. the smallest capacity in requests/s per GPU (capacity /
    tokens per request). None when a curve has no capacity or the mix lacks its tokens."""
    best = None
    for one in found:
        per_request = tokens_per_request.get(LOADS[one.field][1], 0.0)
        if one.capacity is None or per_request <= 0:
            return None
        rps = one.capacity / per_request
        band = (one.band[0] / per_request, one.band[1] / per_request) if one.band else None
        if best is None or rps < best.rps_per_gpu:
            best = Binding(one, rps, band)
    return best
