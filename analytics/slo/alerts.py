"""Multiwindow, multi-burn-rate alerts: the tier table, evaluation at a time, replay over history.

Evaluation happens at every 5-minute slot boundary: a tier fires when the burn rate over BOTH
its long and its short window exceeds the tier's threshold, and the long window holds at
least the SLO's ``min_events`` valid events (the minimum-traffic guard, so a quiet service
does not page on one error). Burn rates use the SLO's budget units (analytics.slo.budget): for
timeslice budgeting a window counts the slices that ended inside it, so windows shorter than
a slice see at most one slice. Thresholds use the period at the evaluation time (a calendar
month's length for calendar-month SLOs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from analytics.slo.budget import Units, burn_rates, prefix, slots_in, trailing
from analytics.slo.sli import SLOT, Grid
from analytics.slo.spec import format_duration

SEVERITIES = ("page", "ticket")


@dataclass(frozen=True)
class Tier:
    """One alert rule: spending `budget_fraction` of a period's budget within `long_window`."""

    severity: str
    budget_fraction: float
    long_window: timedelta
    short_window: timedelta

    def threshold(self, period: timedelta) -> float:
        """Burn rate that spends budget_fraction of the budget in long_window:
        budget_fraction x period / long_window (SRE Workbook ch. 5: 2% of 30 days in 1 h = 14.4)."""
        return self.budget_fraction * (period / self.long_window)

    @property
    def label(self) -> str:
        """Long/short windows, e.g. '1h/5m'."""
        return f"{format_duration(self.long_window)}/{format_duration(self.short_window)}"


# The one tier table. Google SRE Workbook, ch. 5 "Alerting on SLOs", "6: Multiwindow,
# Multi-Burn-Rate Alerts", Table 5-8, for a 30-day SLO: page at 2% of budget in 1h (burn 14.4,
# short window 5m), page at 5% in 6h (burn 6, 30m), ticket at 10% in 3d (burn 1, 6h); short
# window = 1/12 of the long one. The ticket at 10% in 1d (burn 3, 2h) completes the set as in
# Sloth's default 30-day window catalog (github.com/slok/sloth, alert windows "30d").
TIERS = (
    Tier("page", 0.02, timedelta(hours=1), timedelta(minutes=5)),
    Tier("page", 0.05, timedelta(hours=6), timedelta(minutes=30)),
    Tier("ticket", 0.10, timedelta(days=1), timedelta(hours=2)),
    Tier("ticket", 0.10, timedelta(days=3), timedelta(hours=6)),
)
LONGEST_WINDOW = max(t.long_window for t in TIERS)


def tiers_for(period: timedelta) -> tuple[Tier, ...]:
    """The tiers that fit an SLO period: a long window longer than the period would judge
    traffic outside the SLO's window (a 1h SLO keeps only the 1h/5m page)."""
    return tuple(t for t in TIERS if t.long_window <= period)


@dataclass(frozen=True)
class TierState:
    """A tier evaluated at one time."""

    tier: Tier
    threshold: float
    burn_long: float
    burn_short: float
    events_long: float
    firing: bool
    held_back: bool = False  # both burns exceed the threshold, but the long window has too few events

    def as_dict(self) -> dict:
        """JSON-ready: severity, burn_threshold, windows, the burns, events in the long window and
        whether the minimum-traffic guard holds the tier back."""
        return {
            "severity": self.tier.severity,
            "burn_threshold": round(self.threshold, 6),
            "long_window": format_duration(self.tier.long_window),
            "short_window": format_duration(self.tier.short_window),
            "burn_long": None if np.isnan(self.burn_long) else round(self.burn_long, 6),
            "burn_short": None if np.isnan(self.burn_short) else round(self.burn_short, 6),
            "events_long": self.events_long,
            "held_back": self.held_back,
        }


@dataclass(frozen=True)
class Signals:
    """Per tier, over boundary indices [i, j]: long-window burn and whether the tier fires."""

    index: np.ndarray
    burn_long: dict[Tier, np.ndarray]
    firing: dict[Tier, np.ndarray]


def signals(u: Units, target: float, period: timedelta, min_events: int, i: int, j: int,
            tiers: tuple[Tier, ...] = TIERS) -> Signals:
    """Evaluate every tier at each slot boundary in [i, j] (vectorised)."""
    idx = np.arange(i, j + 1)
    events = prefix(u.events)
    burn_long, firing = {}, {}
    for tier in tiers:
        thr = tier.threshold(period)
        long_ = burn_rates(u, target, slots_in(tier.long_window))[idx]
        short = burn_rates(u, target, slots_in(tier.short_window))[idx]
        enough = trailing(events, slots_in(tier.long_window))[idx] >= max(min_events, 1)
        burn_long[tier] = long_
        # both windows must exceed the threshold (SRE Workbook ch. 5, Table 5-8 rules use ">")
        firing[tier] = np.nan_to_num(long_) > thr
        firing[tier] &= np.nan_to_num(short) > thr
        firing[tier] &= enough
    return Signals(idx, burn_long, firing)


def states_at(u: Units, target: float, grid: Grid, at: datetime, period: timedelta, min_events: int,
              tiers: tuple[Tier, ...] = TIERS) -> list[TierState]:
    """Every tier's burns and firing state at `at`."""
    j = grid.index(at)
    events = prefix(u.events)
    out = []
    for tier in tiers:
        long_ = float(burn_rates(u, target, slots_in(tier.long_window))[j])
        short = float(burn_rates(u, target, slots_in(tier.short_window))[j])
        ev = float(trailing(events, slots_in(tier.long_window))[j])
        thr = tier.threshold(period)
        burning = bool(np.nan_to_num(long_) > thr and np.nan_to_num(short) > thr)
        enough = ev >= max(min_events, 1)
        out.append(TierState(tier, thr, long_, short, ev, burning and enough, burning and not enough))
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) positions of the runs of True in a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


EPISODE_SCHEMA = {
    "severity": pl.String, "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
    "ongoing": pl.Boolean, "duration_min": pl.Float64, "peak_burn": pl.Float64,
    "budget_consumed": pl.Float64, "tiers": pl.String,
}


def replay(u: Units, target: float, grid: Grid, period: timedelta, min_events: int,
           start: datetime, end: datetime, budget: float, tiers: tuple[Tier, ...] = TIERS) -> pl.DataFrame:
    """Alert episodes between start and end, one row per episode and severity.

    An episode runs from the first evaluation at which any tier of its severity fires to the
    first at which none does (``end`` is null and ``ongoing`` true when still firing at `end`).
    peak_burn is the highest long-window burn of a firing tier; budget_consumed is the bad
    units in the slots that ended while it fired, as a fraction of `budget`.
    """
    i, j = grid.index(start), grid.index(end)
    sig = signals(u, target, period, min_events, i, j, tiers)
    bad = prefix(u.bad)
    rows = []
    for severity in SEVERITIES:
        members = [t for t in tiers if t.severity == severity]
        if not members:
            continue
        mask = np.logical_or.reduce([sig.firing[t] for t in members])
        for a, b in _runs(mask):
            s_idx, e_idx = sig.index[a], sig.index[b - 1] + 1  # first boundary not firing
            peak = max(float(np.max(np.where(sig.firing[t][a:b], sig.burn_long[t][a:b], -np.inf)))
                       for t in members)
            fired = [t.label for t in members if sig.firing[t][a:b].any()]
            ongoing = b == len(mask)
            spent = bad[min(e_idx - 1, grid.n)] - bad[max(s_idx - 1, 0)]
            rows.append({
                "severity": severity, "start": grid.time(s_idx),
                "end": None if ongoing else grid.time(e_idx), "ongoing": ongoing,
                "duration_min": (min(e_idx, j) - s_idx) * SLOT.total_seconds() / 60.0,
                "peak_burn": peak, "budget_consumed": spent / budget if budget > 0 else float("nan"),
                "tiers": ", ".join(fired),
            })
    return pl.DataFrame(rows, schema=EPISODE_SCHEMA).sort("start")


def count_episodes(episodes: pl.DataFrame) -> dict[str, int]:
    """Number of episodes per severity (page, ticket)."""
    return {s: int((episodes["severity"] == s).sum()) for s in SEVERITIES}
