"""SLI inputs per slot as numpy arrays, and good / valid event counts per slot for an SLI.

The queries that fill them live in analytics.store.slo.

Loading (measured warm on this 2-core machine): the rollup frame of
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
  histograms (see :func:`rollup_goodput`); the estimate assumes independence in a slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from analytics import histogram as H
from analytics.slo import exported as E
from analytics.slo.spec import Selector, Sli
from analytics.store import conventions as N
from analytics.store.conventions import hist_column

SLOT = timedelta(seconds=N.SLOT_SECONDS)
COUNT_COLUMNS = ("requests", "ok", "unknown")  # per-slot counts the SLIs read from the rollup
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
        return base + np.arange(self.n) * np.timedelta64(N.SLOT_SECONDS, "s")


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
    exported: dict[str, E.Exported] = field(default_factory=dict)


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
    return (epoch.astype(np.int64) - int(grid.start.timestamp())) // N.SLOT_SECONDS


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
        for f in N.LATENCY_FIELDS:
            h = hist_column(f)
            if h in frame.columns:
                dense = np.zeros((grid.n, N.N_BUCKETS), dtype=np.int64)
                if frame.height:
                    dense[idx] = H.matrix(frame, h)[keep]
                cum[f] = H.cumulative(dense)
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
    cum = {f: H.cumulative(H.matrix(rows, hist_column(f))) for f in N.LATENCY_FIELDS
           if hist_column(f) in rows.columns}
    return SliInputs(cum=cum, **counts)


def take(inputs: SliInputs, rows: np.ndarray) -> SliInputs:
    """Rollup inputs (counts and cumulative histograms) of some of the slots, e.g. one deployment's."""
    return SliInputs(requests=inputs.requests[rows], ok=inputs.ok[rows],
                     unknown=None if inputs.unknown is None else inputs.unknown[rows],
                     cum={f: c[rows] for f, c in inputs.cum.items()})


def known(data: SliInputs) -> np.ndarray:
    """Requests per slot whose outcome was recorded: availability's valid events
    (analytics.store.conventions: 'unknown' is neither good nor bad)."""
    unknown = 0 if data.unknown is None else data.unknown
    return (data.requests - unknown).astype(np.float64)


def sli_counts(data: SliInputs, sli: Sli) -> SliCounts:
    """Good and valid events per slot for an SLI (see analytics.slo.spec for the definitions)."""
    if sli.kind == "availability":
        # 'rejected' is valid and bad: the user got no answer; 'unknown' is not valid
        # (analytics.store.conventions.STATUSES).
        good = data.ok.astype(np.float64)
        return SliCounts(good, good, good, known(data), True)
    if sli.kind == "latency" and sli.field in data.exported:
        c = E.count_le(data.exported[sli.field], sli.threshold_ms)
        return SliCounts(c.estimate, c.lower, c.upper, c.total, c.exact, "histograms")
    if sli.kind == "latency":
        cum = data.cum[sli.field]
        b = H.count_le(cum, sli.threshold_ms)
        return SliCounts(b.estimate, b.lower.astype(np.float64), b.upper.astype(np.float64),
                         cum[:, -1].astype(np.float64), H.is_edge(sli.threshold_ms))
    for t in data.targeted:
        if (t.ttft_ms, t.tpot_ms) == (sli.ttft_ms, sli.tpot_ms):
            return SliCounts(t.good, t.good, t.good, t.valid, True)
    exact = H.is_edge(sli.ttft_ms) and H.is_edge(sli.tpot_ms)
    if data.joint is not None:
        j, n = data.joint, len(data.requests)
        wa, wb = H.weights(sli.ttft_ms), H.weights(sli.tpot_ms)
        good = [np.bincount(j.slot, j.n * a[j.ttft_bucket] * b[j.tpot_bucket], minlength=n)
                for a, b in zip(wa, wb, strict=True)]
        valid = np.bincount(j.slot, j.n, minlength=n)
        return SliCounts(good[1], good[0], good[2], valid, exact)
    return rollup_goodput(data, sli)


def rollup_goodput(data: SliInputs, sli: Sli) -> SliCounts:
    """Goodput bounds per slot from the two 1-D histograms of 'ok' requests (no raw scan).

    Valid events are the ok requests with both fields (V); the histograms count ttft over the
    n_t ok requests with a ttft and tpot over the n_p with a tpot, and A, B of them are within
    the thresholds. |V| is known only to lie in [v_min, v_max] with v_max = min(n_t, n_p) and
    v_min = max(0, n_t + n_p - ok). Frechet bounds (Frechet 1951; Boole/Bonferroni for two
    events), minimised over |V| = v: good >= max(0, A + B - n_t - n_p + v) and
    bad = v - good >= max(0, v - min(A, B)), both smallest at v = v_min. valid is reported as
    v_max, so good_lower = the least good and good_upper = v_max - the least bad bound the
    attainment of any set of slots (sum good / sum |V|) from below and above. With v_min = v_max
    (every ok request carries both fields) these are the usual max(0, A + B - n) <= good <= min(A, B).
    """
    ct, cp = data.cum["ttft_ms"], data.cum["tpot_ms"]
    n_t, n_p = ct[:, -1].astype(np.float64), cp[:, -1].astype(np.float64)
    v_max = np.minimum(n_t, n_p)
    v_min = np.maximum(0.0, n_t + n_p - data.ok)
    a, b = H.count_le(ct, sli.ttft_ms), H.count_le(cp, sli.tpot_ms)
    lower = np.maximum(0.0, a.lower + b.lower - n_t - n_p + v_min)
    upper = v_max - np.maximum(0.0, v_min - np.minimum(a.upper, b.upper))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (a.estimate / np.where(n_t > 0, n_t, 1.0)) * (b.estimate / np.where(n_p > 0, n_p, 1.0))
    return SliCounts(np.clip(share * v_max, lower, upper), lower, upper, v_max, False)
