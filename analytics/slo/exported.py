"""Latency SLIs from exported cumulative histograms (vLLM's Prometheus histograms through the
OpenTelemetry exporter), in the exporter's own bucket bounds.

Input: per (field, series, run, bounds, 5-minute slot) the first and last cumulative bucket
counts seen in the slot (analytics.store.otel_metrics). A run is one StartTimeUnix: OpenTelemetry
cumulative points carry the start of the counting period, which changes when the counter restarts
(opentelemetry-proto metrics.proto, "start_time_unix_nano"; the collector's Prometheus receiver
sets it and moves it on a reset). Per series, in time order, the events of a slot are:
- same run as the slot before: last - last of the slot before; if any bucket went down (a reset
  the start time does not show), the slot's last counts from zero;
- a new run after an earlier one (a restart): last, counted from zero;
- the first run seen: last - first (the first point is the baseline: what it counts happened before
  we looked), unless the run started inside the slot and before its first point, then last.
Counts between the last point before a restart and the restart are lost, as in Prometheus'
increase(); a run whose previous slot is older than the lookback loaded counts from its first
point in the window.

OTLP buckets (metrics.proto): bucket i counts values in (b[i-1], b[i]], the last one (b[-1], +inf):
cumulative over buckets, cum[i] counts values <= b[i] exactly. For a threshold t between bounds the
count <= t lies in [cum[k-1], cum[k]] (k the bucket straddling t); the estimate interpolates
linearly inside the bucket, as Prometheus' histogram_quantile does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl

# How far before a window the rollup is read, so that the window's first slot has the slot before
# it to difference against (scrapes are 15-60 s apart; an hour covers a missed scrape or several).
LOOKBACK = timedelta(hours=1)


@dataclass(frozen=True)
class Exported:
    """Per slot of a grid, cumulative (over buckets) event counts in the exporter's bounds."""

    bounds_ms: np.ndarray  # ascending upper bounds, length B
    cum: np.ndarray  # (n slots, B + 1): cum[:, i] counts values <= bounds_ms[i]; cum[:, B] all values


def slot_deltas(frame: pl.DataFrame) -> pl.DataFrame:
    """Events per (field, series, bounds, slot) from first/last cumulative bucket counts (module docstring).

    `frame`: field, series, start_ns, bounds_ms, slot, first_ns, first, last, sorted by field, series,
    start_ns, slot. Returns field, bounds_ms, slot and `events` (list of per-bucket counts).
    """
    if frame.is_empty():
        return pl.DataFrame(schema={"field": pl.String, "bounds_ms": pl.List(pl.Float64),
                                    "slot": frame.schema.get("slot", pl.Datetime("ms", "UTC")),
                                    "events": pl.List(pl.Int64)})
    out = []
    for _, part in frame.group_by(["field", "series", "bounds_ms"], maintain_order=True):
        width = len(part["bounds_ms"][0]) + 1
        first = _matrix(part["first"], width)
        last = _matrix(part["last"], width)
        start = part["start_ns"].to_numpy()
        slot_ns = _epoch_ns(part["slot"])
        same_run = np.zeros(part.height, dtype=bool)
        same_run[1:] = start[1:] == start[:-1]
        previous = np.vstack([np.zeros((1, width), dtype=np.int64), last[:-1]])
        events = np.where(same_run[:, None], last - previous, last)
        dropped = same_run & (events < 0).any(axis=1)
        events[dropped] = last[dropped]
        # The first run seen: its first point is the baseline unless the run began inside the slot.
        began_here = (start[0] >= slot_ns[0]) and (start[0] < part["first_ns"][0])
        if not began_here:
            events[0] = last[0] - first[0]
        out.append(part.select("field", "bounds_ms", "slot").with_columns(
            events=pl.Series(events.tolist(), dtype=pl.List(pl.Int64))))
    return pl.concat(out)


def _matrix(column: pl.Series, width: int) -> np.ndarray:
    if not (column.list.len() == width).all():
        raise ValueError(f"bucket counts of another length than {width} in one series")
    return column.list.to_array(width).to_numpy().astype(np.int64)


def _epoch_ns(slots: pl.Series) -> np.ndarray:
    if slots.dtype.is_temporal():
        return slots.dt.epoch("ns").to_numpy().astype(np.int64)
    return slots.cast(pl.Int64).to_numpy() * 1_000_000_000


def on_bounds(events: pl.DataFrame, index: np.ndarray, n: int) -> Exported | None:
    """Sum one field's events onto n slots (`index`: the grid slot of each row, -1 or >= n dropped).

    Series with different bounds are summed at the bounds they share (exact there); None when
    there are no events.
    """
    if events.is_empty():
        return None
    bound_sets = [tuple(b) for b in events["bounds_ms"].unique(maintain_order=True).to_list()]
    shared = sorted(set(bound_sets[0]).intersection(*bound_sets[1:]))
    cum = np.zeros((n, len(shared) + 1), dtype=np.int64)
    keep = (index >= 0) & (index < n)
    row_bounds = [tuple(r) for r in events["bounds_ms"].to_list()]
    for bounds in bound_sets:
        mask = np.array([r == bounds for r in row_bounds]) & keep
        if not mask.any():
            continue
        per_bucket = _matrix(events["events"].filter(pl.Series(mask)), len(bounds) + 1)
        full = np.cumsum(per_bucket, axis=1)
        columns = [bounds.index(b) for b in shared] + [len(bounds)]
        np.add.at(cum, index[mask], full[:, columns])
    return Exported(np.array(shared, dtype=np.float64), cum)


@dataclass(frozen=True)
class Counted:
    """Events <= a threshold per slot: exact lower and upper bounds and an estimate, and all events."""

    lower: np.ndarray
    estimate: np.ndarray
    upper: np.ndarray
    total: np.ndarray
    exact: bool


def count_le(h: Exported, threshold_ms: float) -> Counted:
    """Events <= threshold per slot, exact when the threshold is one of the exporter's bounds."""
    b, cum = h.bounds_ms, h.cum.astype(np.float64)
    total = cum[:, -1]
    k = int(np.searchsorted(b, threshold_ms, side="left"))  # first bound >= threshold
    if k < len(b) and b[k] == threshold_ms:
        return Counted(cum[:, k], cum[:, k], cum[:, k], total, True)
    lower = cum[:, k - 1] if k > 0 else np.zeros_like(total)
    upper = cum[:, k]  # k == len(b): the +inf bucket, i.e. every event
    if k == len(b):
        estimate = lower  # nothing is known above the last bound
    else:
        low_edge = b[k - 1] if k > 0 else 0.0
        estimate = lower + (threshold_ms - low_edge) / (b[k] - low_edge) * (upper - lower)
    return Counted(lower, estimate, upper, total, False)
