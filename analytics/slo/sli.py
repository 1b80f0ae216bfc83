"""SLI inputs per slot as numpy arrays, and good / valid event counts per slot for an SLI.

The queries that fill them live in analytics.store.slo.

Loading (warm, 2 cores; docs/bench.md): the rollup frame of
analytics.store.queries.request_slots for every deployment takes ~1.7 s for 14 deployments x 34 days,
nearly all of it moving 130k x 4 arrays of 61 UInt64 out of ClickHouse. So the SLO engine asks
ClickHouse to sum the scope's deployments per slot and returns only the histogram fields its
SLIs read, as UInt32 (~0.02 s for counts, ~0.1 s per histogram field over all deployments;
the twelve default SLOs load in 0.4 s from the rollup at 100M requests). The arithmetic is
then numpy over a regular slot grid: a what-if never touches the database.

Goodput (DistServe, Zhong et al., OSDI'24: good = ttft <= a AND tpot <= b per request) is
not in the 1-D rollup histograms; the joint rollup requests_goodput_5m holds it per (slot, ttft
bucket, tpot bucket) (analytics.store.schema). Three sources:
- ``targeted`` (the SLO list and CLI): good and valid per slot at (a, b), exact at ANY (a, b):
  from the joint rollup when both are bucket edges (0.1 CPU-s for one deployment's 30 days at
  100M requests), else one raw GROUP BY slot over the scope (1.4 CPU-s there: 8.7M raw rows).
- ``joint`` (the What-if page): the joint rollup's cells over the scope, cached. Exact at bucket
  edges for any (a, b), bounded between edges like latency, so goodput thresholds can move
  without another query (450k cells for 34 days at 100M: 0.4 CPU-s, the raw GROUP BY took
  2.6; a threshold move then costs 25 ms).
- ``rollup`` (no raw scan, e.g. when raw rows have expired): Frechet bounds from the two 1-D
  histograms (see :func:`histogram_counts`); the estimate assumes independence in a slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from analytics import histogram
from analytics.slo import exported as slo_exported
from analytics.slo.spec import Selector, Sli
from analytics.store import conventions
from analytics.store.conventions import hist_column
from analytics.store.indicators import AVAILABILITY, GOODPUT, indicator

SLOT = timedelta(seconds=conventions.SLOT_SECONDS)
# per-slot counts the SLIs read from the rollup: all requests, and the statuses availability
# counts as good or never counts (analytics.store.indicators.AVAILABILITY): requests, ok, unknown
COUNT_COLUMNS = ("requests", *AVAILABILITY.good_statuses, *AVAILABILITY.invalid_statuses)
GOODPUT_SOURCES = ("targeted", "joint", "rollup")


@dataclass(frozen=True)
class Grid:
    """A regular grid of 5-minute slots [start, start + n x 5m); index i is slot start + i x 5m."""

    start: datetime
    n: int

    @property
    def end(self) -> datetime:
        """The end of the last slot."""
        return self.start + self.n * SLOT

    def index(self, t: datetime) -> int:
        """Slot boundary index of an aware time (clipped to [0, n])."""
        i = int((t - self.start) // SLOT)
        return min(max(i, 0), self.n)

    def time(self, i: int) -> datetime:
        """The time of boundary index i."""
        return self.start + int(i) * SLOT

    def times(self) -> np.ndarray:
        """Slot start times as numpy datetime64[s] (naive UTC), length n."""
        base = np.datetime64(self.start.astimezone(UTC).replace(tzinfo=None), "s")
        return base + np.arange(self.n) * np.timedelta64(conventions.SLOT_SECONDS, "s")


@dataclass(frozen=True)
class Joint:
    """Sparse joint (ttft bucket, tpot bucket) counts per slot (the goodput rollup)."""

    slot: np.ndarray  # grid index per row
    ttft_bucket: np.ndarray
    tpot_bucket: np.ndarray
    n: np.ndarray


@dataclass(frozen=True)
class Targeted:
    """Exact goodput counts per slot for one (ttft, tpot) threshold pair."""

    ttft_ms: float
    tpot_ms: float
    good: np.ndarray
    valid: np.ndarray


@dataclass(frozen=True, kw_only=True)
class SliInputs:
    """Per slot: all requests, 'ok' requests, requests of 'unknown' status (outcome not recorded)
    and cumulative latency histograms of 'ok' requests (a slot is any time step: 5 minutes on
    the SLO pages, an hour for capacity and GPUs)."""

    requests: np.ndarray
    ok: np.ndarray
    unknown: np.ndarray | None = None  # None: every outcome was recorded
    cum: dict[str, np.ndarray] = field(default_factory=dict)  # latency field -> (n, N_BUCKETS)
    joint: Joint | None = None
    targeted: tuple[Targeted, ...] = ()
    # latency field -> exported histogram counts (analytics.slo.exported), read when the scope has
    # no request rows; latency SLIs then come from these, in the exporter's bounds
    exported: dict[str, slo_exported.Exported] = field(default_factory=dict)
    # per slot: True when a budget correction covers it (analytics.slo.corrections); None: none does
    excluded: np.ndarray | None = None


@dataclass(frozen=True, kw_only=True)
class ScopeData(SliInputs):
    """Per-slot arrays for one SLO scope on a grid of 5-minute slots; computed once, never modified."""

    grid: Grid
    deployments: tuple[str, ...]
    regions: tuple[str, ...]


@dataclass(frozen=True)
class SliCounts:
    """Good and valid events per slot; good has exact bounds when thresholds fall between edges."""

    good: np.ndarray  # estimate
    good_lower: np.ndarray
    good_upper: np.ndarray
    valid: np.ndarray
    exact: bool
    source: str = "requests"  # requests (spans or uploads: per-request rows) or histograms (exported)
    excluded_valid: np.ndarray | None = None  # per slot: the valid events a budget correction removed


def day_grid(start: datetime, end: datetime) -> Grid:
    """Grid from start floored to its UTC day (so timeslices align) to end floored to a slot."""
    start = start.astimezone(UTC)
    first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    n = int((end.astimezone(UTC) - first) // SLOT)
    return Grid(first, max(n, 0))


def resolve(selector: Selector, catalog_frame: pl.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Deployments in scope and the region filter (empty: every region of those deployments).

    A deployment matching on any of its (model, region) rows is included whole, except that a
    region selector also filters rows by region (a deployment serves one model).
    """
    rows = [r for r in catalog_frame.iter_rows(named=True)
            if selector.matches(r["deployment"], r["model"], r["region"], r.get("kind") or "")]
    deployments = tuple(sorted({r["deployment"] for r in rows}))
    regions = tuple(sorted({r["region"] for r in rows})) if selector.regions else ()
    return deployments, regions


def on_grid(grid: Grid, slots: pl.Series) -> np.ndarray:
    """Grid index of each slot (a Datetime column, or epoch seconds as DateTime arrives via Arrow)."""
    if slots.dtype.is_temporal():
        epoch = slots.dt.epoch("s").to_numpy()
    else:
        epoch = slots.cast(pl.Int64).to_numpy()
    return (epoch.astype(np.int64) - int(grid.start.timestamp())) // conventions.SLOT_SECONDS


def scope_from_frames(
    grid: Grid,
    deployments: tuple[str, ...],
    regions: tuple[str, ...],
    frames: list[pl.DataFrame],
    joint_frame: pl.DataFrame | None = None,
    goodput_frames: dict[tuple[float, float], pl.DataFrame] | None = None,
) -> ScopeData:
    """Place per-slot frames on the grid as numpy arrays: counts and optional *_hist lists, the
    raw joint (ttft, tpot) histogram, and exact goodput counts per (ttft_ms, tpot_ms) pair."""
    counts = {c: np.zeros(grid.n, dtype=np.int64) for c in COUNT_COLUMNS}
    cum: dict[str, np.ndarray] = {}
    for i, frame in enumerate(frames):
        idx = on_grid(grid, frame["slot"]) if frame.height else np.zeros(0, dtype=np.int64)
        keep = (idx >= 0) & (idx < grid.n)
        idx = idx[keep]
        if i == 0:
            for c in counts:
                if c in frame.columns:
                    counts[c][idx] = frame[c].to_numpy()[keep]
        for f in conventions.LATENCY_FIELDS:
            h = hist_column(f)
            if h in frame.columns:
                dense = np.zeros((grid.n, conventions.N_BUCKETS), dtype=np.int64)
                if frame.height:
                    dense[idx] = histogram.matrix(frame, h)[keep]
                cum[f] = histogram.cumulative(dense)
    jt = None
    if joint_frame is not None:
        idx = on_grid(grid, joint_frame["slot"]) if joint_frame.height else np.zeros(0, dtype=np.int64)
        keep = (idx >= 0) & (idx < grid.n)
        jt = Joint(idx[keep], joint_frame["ttft_bucket"].to_numpy()[keep].astype(np.int64),
                   joint_frame["tpot_bucket"].to_numpy()[keep].astype(np.int64),
                   joint_frame["n"].to_numpy()[keep].astype(np.float64))
    targeted = []
    for (ttft_ms, tpot_ms), frame in (goodput_frames or {}).items():
        idx = on_grid(grid, frame["slot"]) if frame.height else np.zeros(0, dtype=np.int64)
        keep = (idx >= 0) & (idx < grid.n)
        good, valid = np.zeros(grid.n), np.zeros(grid.n)
        good[idx[keep]] = frame["good"].to_numpy()[keep]
        valid[idx[keep]] = frame["valid"].to_numpy()[keep]
        targeted.append(Targeted(ttft_ms, tpot_ms, good, valid))
    return ScopeData(grid=grid, deployments=tuple(deployments), regions=tuple(regions), cum=cum, joint=jt,
                     targeted=tuple(targeted), **counts)


def inputs_from_rows(rows: pl.DataFrame) -> SliInputs:
    """SLI inputs from rollup rows taken as slots in frame order (counts and any *_hist columns)."""
    counts = {c: rows[c].cast(pl.Int64).to_numpy() for c in COUNT_COLUMNS if c in rows.columns}
    cum = {f: histogram.cumulative(histogram.matrix(rows, hist_column(f))) for f in conventions.LATENCY_FIELDS
           if hist_column(f) in rows.columns}
    return SliInputs(cum=cum, **counts)


def take(inputs: SliInputs, rows: np.ndarray) -> SliInputs:
    """Rollup inputs (counts and cumulative histograms) of some of the slots, e.g. one deployment's."""
    return SliInputs(requests=inputs.requests[rows], ok=inputs.ok[rows],
                     unknown=None if inputs.unknown is None else inputs.unknown[rows],
                     cum={f: c[rows] for f, c in inputs.cum.items()})


def _status_count(data: SliInputs, status: str) -> np.ndarray | int:
    """Requests of one status per slot, from the COUNT_COLUMNS SliInputs carries (an absent
    'unknown' count: every outcome was recorded)."""
    count = getattr(data, status)
    return 0 if count is None else count


def sli_counts(data: SliInputs, sli: Sli) -> SliCounts:
    """Good and valid events per slot for an SLI (:func:`counts_of`), with the slots a budget
    correction covers (``data.excluded``) removed from good AND valid: the one place corrections
    act, so budgets, burn rates, alerts, what-if and the review all count without them."""
    counts = counts_of(data, sli)
    if data.excluded is None or not data.excluded.any():
        return counts
    def kept(values: np.ndarray) -> np.ndarray:
        return np.where(data.excluded, 0.0, values)  # not values x 0: a slot's NaN estimate stays NaN

    return replace(counts, good=kept(counts.good), good_lower=kept(counts.good_lower),
                   good_upper=kept(counts.good_upper), valid=kept(counts.valid),
                   excluded_valid=np.where(data.excluded, counts.valid, 0.0))


def counts_of(data: SliInputs, sli: Sli) -> SliCounts:
    """Good and valid events per slot for an SLI, by its definition in analytics.store.indicators.

    Availability counts statuses. Latency and goodput count the rollup's histograms, which hold
    exactly their valid events (analytics.store.schema.bucket_expr renders the same definition):
    from the exported histograms or exact goodput counts when the scope has them, else the joint
    goodput rollup, else the 1-D histograms (:func:`histogram_counts`).
    """
    ind = indicator(sli.kind, sli.field)
    if not ind.fields:
        good = np.asarray(sum(_status_count(data, s) for s in ind.good_statuses), dtype=np.float64)
        valid = np.asarray(data.requests - sum(_status_count(data, s) for s in ind.invalid_statuses), dtype=np.float64)
        return SliCounts(good, good, good, valid, True)
    thresholds = ind.thresholds(sli)
    if sli.kind == "latency" and sli.field in data.exported:
        c = slo_exported.count_le(data.exported[sli.field], sli.threshold_ms)
        return SliCounts(c.estimate, c.lower, c.upper, c.total, c.exact, "histograms")
    if sli.kind == "goodput":
        for t in data.targeted:
            if (t.ttft_ms, t.tpot_ms) == (sli.ttft_ms, sli.tpot_ms):
                return SliCounts(t.good, t.good, t.good, t.valid, True)
        if data.joint is not None:
            return _joint_counts(data.joint, len(data.requests), thresholds)
    return histogram_counts(data, thresholds)


def _joint_counts(j: Joint, n: int, thresholds: dict[str, float]) -> SliCounts:
    """Goodput from the joint (ttft, tpot) rollup: exact when both thresholds are bucket edges."""
    wa, wb = (histogram.weights(thresholds[f]) for f in GOODPUT.fields)
    good = [np.bincount(j.slot, j.n * a[j.ttft_bucket] * b[j.tpot_bucket], minlength=n)
            for a, b in zip(wa, wb, strict=True)]
    valid = np.bincount(j.slot, j.n, minlength=n)
    return SliCounts(good[1], good[0], good[2], valid, all(histogram.is_edge(ms) for ms in thresholds.values()))


def histogram_counts(data: SliInputs, thresholds: dict[str, float]) -> SliCounts:
    """'ok' requests per slot carrying every field and meeting every ``field <= ms`` condition,
    from the 1-D histograms of 'ok' requests (no raw scan): a latency SLI (one field), goodput
    (ttft and tpot), and a deployment's good requests over all its objectives
    (analytics.slo.compliance.good_requests) are all this one count.

    Valid events are the ok requests with every field (V); field i's histogram counts the n_i ok
    requests carrying it, A_i of them within its threshold. |V| is known only to lie in
    [v_min, v_max] with v_max = min n_i and v_min = max(0, sum n_i - (k - 1) ok). Frechet bounds
    (Frechet 1951; Boole/Bonferroni for k events), minimised over |V| = v: a request of V fails
    condition i for at most n_i - A_i of them, so good >= max(0, v - sum (n_i - A_i)), and
    bad = v - good >= max(0, v - min A_i), both smallest at v = v_min. valid is reported as v_max,
    so good_lower = the least good and good_upper = v_max - the least bad bound the attainment of
    any set of slots (sum good / sum |V|) from below and above. With one field these are the
    histogram's own bounds (exact at bucket edges); with v_min = v_max (every ok request carries
    every field) the usual max(0, sum A_i - (k - 1) n) <= good <= min A_i.

    The estimate (``good``) is the product of the per-field shares times v_max, each share
    interpolated inside its bucket (analytics.histogram.count_le), clipped to the bounds: the
    fields treated as independent within a slot. It is the one good count of a slot: the met
    verdict (analytics.slo.compliance) and goodput per GPU (analytics.gpu) both read it, so an
    hour never has two good counts. Independence is the cautious side of the truth when ttft and
    tpot rise together (both grow with queueing): for associated latencies
    P(ttft <= a, tpot <= b) >= P(ttft <= a) P(tpot <= b), as associated variables have
    Cov(f, g) >= 0 for any f, g monotone the same way (Esary, Proschan and Walkup 1967,
    "Association of random variables, with applications", Ann. Math. Statist. 38(5)); the lower
    bound alone collapses fast (two 90 % shares give 80 %) and would fail hours that the exact
    joint counts of the SLO pages pass. A latency SLI's own verdicts read the same estimate
    between bucket edges (analytics.histogram.count_le), so one rule holds for every kind.
    """
    cums = [data.cum[f] for f in thresholds]
    n = [c[:, -1].astype(np.float64) for c in cums]
    counts = [histogram.count_le(c, ms) for c, ms in zip(cums, thresholds.values(), strict=True)]
    v_max = np.minimum.reduce(n)
    v_min = np.maximum(0.0, sum(n) - (len(n) - 1) * np.asarray(data.ok, dtype=np.float64))
    lower = np.maximum(0.0, v_min - sum(ni - c.lower for ni, c in zip(n, counts, strict=True)))
    upper = v_max - np.maximum(0.0, v_min - np.minimum.reduce([c.upper for c in counts]))
    if len(counts) == 1:  # one field: the histogram's own estimate (v_max = n, no share to multiply)
        estimate = counts[0].estimate
    else:
        estimate = v_max
        with np.errstate(invalid="ignore", divide="ignore"):
            for ni, c in zip(n, counts, strict=True):
                estimate = estimate * (c.estimate / np.where(ni > 0, ni, 1.0))
    exact = len(counts) == 1 and histogram.is_edge(next(iter(thresholds.values())))
    return SliCounts(np.clip(estimate, lower, upper), lower, upper, v_max, exact)
