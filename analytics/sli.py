"""SLI inputs per 5-minute slot for one SLO scope, loaded once and kept as numpy arrays.

Loading (measured warm on this 2-core machine): the rollup frame of
analytics.queries.request_slots for every deployment takes ~1.7 s for 14 deployments x 34 days,
nearly all of it moving 130k x 4 arrays of 61 UInt64 out of ClickHouse. So the SLO engine asks
ClickHouse to sum the scope's deployments per slot and returns only the histogram fields its
SLIs read, as UInt32 (~0.02 s for counts, ~0.1 s per histogram field over all deployments;
the twelve default SLOs load in 0.4 s from the rollup at 100M requests). The arithmetic is
then numpy over a regular slot grid: a what-if never touches the database.

Goodput (DistServe, Zhong et al., OSDI'24: good = ttft <= a AND tpot <= b per request) is
not in the 1-D rollup histograms. Three sources (measured warm, one deployment over 31 days;
4M-request demo: 420k raw rows; 20M: 1.3M; 100M: 6.7M):
- ``targeted`` (the SLO list and CLI): one raw GROUP BY slot counting ttft <= a AND tpot <= b
  over the scope and range. Exact at ANY (a, b). 0.04 s at 420k rows, 0.16-0.29 s at 1.3M,
  ~0.35 s at 6.7M.
- ``joint`` (the What-if page): one raw GROUP BY (slot, ttft bucket, tpot bucket), cached.
  Exact at bucket edges for any (a, b), bounded between edges like latency, so goodput
  thresholds can move without another scan. 0.12 s at 420k rows, 0.28-0.56 s at 1.3M,
  0.74 s at 6.7M (450k cells; a threshold move then costs 25 ms).
- ``rollup`` (no raw scan, e.g. when raw rows have expired): Frechet bounds from the two 1-D
  histograms, max(0, A + B - n) <= good <= min(A, B), where A and B count ttft <= a and
  tpot <= b and n is the valid count; the estimate A x B / n assumes independence in a slot.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from analytics import histogram as H
from analytics import names as N
from analytics.schema import HIST_MERGE, bucket_expr, hist_column
from analytics.slo_spec import Selector, Sli
from analytics.store import Store

SLOT = timedelta(seconds=N.SLOT_SECONDS)
GOODPUT_SOURCES = ("targeted", "joint", "rollup")

_RANGE = """slot >= {start:DateTime('UTC')} AND slot < {end:DateTime('UTC')}"""
_SCOPE = """
    AND has({deployments:Array(String)}, deployment)
    AND (empty({regions:Array(String)}) OR has({regions:Array(String)}, region))"""

CATALOG_SQL = f"""
SELECT deployment, model, region, sum(requests) AS requests
FROM {N.REQUESTS_5M}
WHERE {_RANGE}
GROUP BY deployment, model, region
ORDER BY deployment, model, region
"""

_MERGE = HIST_MERGE


@functools.cache
def scope_sql(fields: tuple[str, ...]) -> str:
    """Per-slot counts and histograms summed over a scope; fields choose among fixed columns
    (user values such as deployments, regions and times are bound parameters)."""
    unknown = set(fields) - set(N.LATENCY_FIELDS)
    if unknown:
        raise ValueError(f"unknown latency fields {sorted(unknown)}")
    hists = "".join(f",\n    arrayMap(x -> toUInt32(x), {_MERGE}({h})) AS {h}"
                    for h in (hist_column(f) for f in fields))
    return f"""
SELECT slot,
    sum(requests) AS requests, sum(ok) AS ok, sum(error) AS error,
    sum(timeout) AS timeout, sum(rejected) AS rejected{hists}
FROM {N.REQUESTS_5M}
WHERE {_RANGE} {_SCOPE}
GROUP BY slot
ORDER BY slot
"""


JOINT_SQL = f"""
SELECT toDateTime(toStartOfInterval(ts, INTERVAL 5 MINUTE), 'UTC') AS slot,
    {bucket_expr("ttft_ms")} AS ttft_bucket, {bucket_expr("tpot_ms")} AS tpot_bucket,
    toUInt32(sum(weight)) AS n
FROM {N.REQUESTS}
WHERE ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}} {_SCOPE}
    AND status = 'ok' AND isNotNull(ttft_ms) AND isNotNull(tpot_ms)
GROUP BY slot, ttft_bucket, tpot_bucket
"""

TARGETED_SQL = f"""
SELECT toDateTime(toStartOfInterval(ts, INTERVAL 5 MINUTE), 'UTC') AS slot,
    toUInt32(sum(weight)) AS valid,
    toUInt32(sumIf(weight, ttft_ms <= {{ttft_ms:Float64}} AND tpot_ms <= {{tpot_ms:Float64}})) AS good
FROM {N.REQUESTS}
WHERE ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}} {_SCOPE}
    AND status = 'ok' AND isNotNull(ttft_ms) AND isNotNull(tpot_ms)
GROUP BY slot
"""


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
    """Sparse joint (ttft bucket, tpot bucket) counts per slot, from the raw requests."""

    slot: np.ndarray  # grid index per row
    ttft_bucket: np.ndarray
    tpot_bucket: np.ndarray
    n: np.ndarray


@dataclass(frozen=True)
class Targeted:
    """Exact goodput counts per slot for one (ttft, tpot) threshold pair, from the raw requests."""

    ttft_ms: float
    tpot_ms: float
    good: np.ndarray
    valid: np.ndarray


@dataclass(frozen=True)
class ScopeData:
    """Per-slot arrays for one scope on a grid; computed once, never modified."""

    grid: Grid
    deployments: tuple[str, ...]
    regions: tuple[str, ...]
    requests: np.ndarray
    ok: np.ndarray
    error: np.ndarray
    timeout: np.ndarray
    rejected: np.ndarray
    cum: dict[str, np.ndarray] = field(default_factory=dict)  # latency field -> (n, N_BUCKETS)
    joint: Joint | None = None
    targeted: tuple[Targeted, ...] = ()


@dataclass(frozen=True)
class SliCounts:
    """Good and valid events per slot; good has exact bounds when thresholds fall between edges."""

    good: np.ndarray  # estimate
    good_lower: np.ndarray
    good_upper: np.ndarray
    valid: np.ndarray
    exact: bool


def day_grid(start: datetime, end: datetime) -> Grid:
    """Grid from start floored to its UTC day (so timeslices align) to end floored to a slot."""
    start = start.astimezone(UTC)
    first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    n = int((end.astimezone(UTC) - first) // SLOT)
    return Grid(first, max(n, 0))


def catalog(store: Store, start: datetime, end: datetime) -> pl.DataFrame:
    """Every (deployment, model, region) with requests in [start, end), from the rollup."""
    return store.query(CATALOG_SQL, {"start": start, "end": end})


def resolve(selector: Selector, catalog_frame: pl.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Deployments in scope and the region filter (empty: every region of those deployments).

    A deployment matching on any of its (model, region) rows is included whole, except that a
    region selector also filters rows by region (a deployment serves one model).
    """
    rows = [r for r in catalog_frame.iter_rows(named=True)
            if selector.matches(r["deployment"], r["model"], r["region"])]
    deployments = tuple(sorted({r["deployment"] for r in rows}))
    regions = tuple(sorted({r["region"] for r in rows})) if selector.regions else ()
    return deployments, regions


def _on_grid(grid: Grid, slots: pl.Series) -> np.ndarray:
    """Grid index of each slot (a Datetime column, or epoch seconds as DateTime arrives via Arrow)."""
    if slots.dtype.is_temporal():
        epoch = slots.dt.epoch("s").to_numpy()
    else:
        epoch = slots.cast(pl.Int64).to_numpy()
    return (epoch.astype(np.int64) - int(grid.start.timestamp())) // N.SLOT_SECONDS


def load_scope(
    store: Store,
    grid: Grid,
    deployments: tuple[str, ...],
    regions: tuple[str, ...] = (),
    fields: tuple[str, ...] = (),
    joint: bool = False,
    targeted: tuple[tuple[float, float], ...] = (),
) -> ScopeData:
    """Query the rollup for a scope on a grid, and for goodput the raw joint histogram and/or
    exact counts at given (ttft_ms, tpot_ms) pairs."""
    params = {"start": grid.start, "end": grid.end,
              "deployments": list(deployments), "regions": list(regions)}
    fields = tuple(f for f in N.LATENCY_FIELDS if f in fields)
    frames = [store.query(scope_sql(fields), params)]
    data = scope_from_frames(grid, deployments, regions, frames,
                             store.query(JOINT_SQL, params) if joint and deployments else None)
    exact = []
    for ttft_ms, tpot_ms in targeted:
        frame = store.query(TARGETED_SQL, params | {"ttft_ms": ttft_ms, "tpot_ms": tpot_ms})
        idx = _on_grid(grid, frame["slot"]) if frame.height else np.zeros(0, dtype=np.int64)
        keep = (idx >= 0) & (idx < grid.n)
        good, valid = np.zeros(grid.n), np.zeros(grid.n)
        good[idx[keep]] = frame["good"].to_numpy()[keep]
        valid[idx[keep]] = frame["valid"].to_numpy()[keep]
        exact.append(Targeted(ttft_ms, tpot_ms, good, valid))
    return replace(data, targeted=tuple(exact))


def scope_from_frames(
    grid: Grid,
    deployments: tuple[str, ...],
    regions: tuple[str, ...],
    frames: list[pl.DataFrame],
    joint_frame: pl.DataFrame | None = None,
) -> ScopeData:
    """Place per-slot frames (slot, counts, optional *_hist lists) on the grid as numpy arrays."""
    counts = {c: np.zeros(grid.n, dtype=np.int64) for c in ("requests", "ok", "error", "timeout", "rejected")}
    cum: dict[str, np.ndarray] = {}
    for i, frame in enumerate(frames):
        idx = _on_grid(grid, frame["slot"]) if frame.height else np.zeros(0, dtype=np.int64)
        keep = (idx >= 0) & (idx < grid.n)
        idx = idx[keep]
        if i == 0:
            for c in counts:
                counts[c][idx] = frame[c].to_numpy()[keep]
        for f in N.LATENCY_FIELDS:
            h = hist_column(f)
            if h in frame.columns:
                dense = np.zeros((grid.n, N.N_BUCKETS), dtype=np.int64)
                if frame.height:
                    dense[idx] = frame[h].list.to_array(N.N_BUCKETS).to_numpy()[keep]
                cum[f] = H.cumulative(dense)
    jt = None
    if joint_frame is not None:
        idx = _on_grid(grid, joint_frame["slot"]) if joint_frame.height else np.zeros(0, dtype=np.int64)
        keep = (idx >= 0) & (idx < grid.n)
        jt = Joint(idx[keep], joint_frame["ttft_bucket"].to_numpy()[keep].astype(np.int64),
                   joint_frame["tpot_bucket"].to_numpy()[keep].astype(np.int64),
                   joint_frame["n"].to_numpy()[keep].astype(np.float64))
    return ScopeData(grid, tuple(deployments), tuple(regions), cum=cum, joint=jt, **counts)


def sli_counts(data: ScopeData, sli: Sli) -> SliCounts:
    """Good and valid events per slot for an SLI (see analytics.slo_spec for the definitions)."""
    if sli.kind == "availability":
        # 'rejected' is valid and bad: the user got no answer (analytics.names.STATUSES).
        good = data.ok.astype(np.float64)
        return SliCounts(good, good, good, data.requests.astype(np.float64), True)
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
        j, n = data.joint, data.grid.n
        wa, wb = H.weights(sli.ttft_ms), H.weights(sli.tpot_ms)
        good = [np.bincount(j.slot, j.n * a[j.ttft_bucket] * b[j.tpot_bucket], minlength=n)
                for a, b in zip(wa, wb, strict=True)]
        valid = np.bincount(j.slot, j.n, minlength=n)
        return SliCounts(good[1], good[0], good[2], valid, exact)
    # Frechet bounds (Frechet 1951; Boole/Bonferroni for two events) from the 1-D histograms.
    ct, cp = data.cum["ttft_ms"], data.cum["tpot_ms"]
    valid = np.minimum(ct[:, -1], cp[:, -1]).astype(np.float64)
    a, b = H.count_le(ct, sli.ttft_ms), H.count_le(cp, sli.tpot_ms)
    lower = np.maximum(0.0, a.lower + b.lower - valid)
    upper = np.minimum(a.upper, b.upper).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        both = np.minimum(a.estimate, valid) * np.minimum(b.estimate, valid)
        estimate = np.where(valid > 0, both / np.where(valid > 0, valid, 1.0), 0.0)
    return SliCounts(np.clip(estimate, lower, upper), lower, upper, valid, False)
