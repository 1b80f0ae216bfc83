"""Error budgets, burn rates and windows over per-slot SLI counts (OpenSLO budgeting methods).

Every budgeting method is reduced to "units" per 5-minute slot, so one set of window sums
serves attainment, budget, burn rates and alerts:

- Occurrences: a unit is an event; bad units = valid - good events.
- Timeslices: a unit is a slice (``slice`` long, aligned to UTC midnight) with at least one
  valid event; it is bad when its good/valid ratio is below ``slice_target`` (OpenSLO README,
  "budgetingMethod": "ratio of good time slices to total time slices"; examples/budgeting-
  method: a slice below timeSliceTarget "is counted as bad"). Slices without events count as
  neither good nor bad. A slice's unit sits at its last slot, so it counts once complete.
- RatioTimeslices: a unit is a slice with events; its bad part is 1 - good/valid, so the
  attainment is the mean of the slice ratios (OpenSLO: "an average of all time slices'
  success ratios").

Then (Google SRE Workbook, ch. 2 "Implementing SLOs" and ch. 5 "Alerting on SLOs"):
attainment = 1 - bad / valid; error budget = (1 - target) x valid; consumed = bad;
remaining = 1 - consumed / budget (negative when overspent, never clamped);
burn rate over a window = (bad / valid in the window) / (1 - target).

Budgets in time (SRE Workbook ch. 2, "an error budget of 99.9% over 30 days is 43.2 minutes",
and ch. 5): for timeslices a bad unit is a slice, so the budget in time is the bad-slice
allowance, budget units x slice length (99.9% of 30 days of 5-minute slices = 43.2 min); for
occurrences, the same at the window's mean rate: budget events / (valid events per minute over
the covered part of the window) = (1 - target) x the covered minutes.

Coverage: the share of the window (for calendar windows, of the period so far) from the first
slot holding valid events, so a store holding an hour of traffic does not pass as a month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from analytics.slo.compliance import slot_compliance
from analytics.slo.sli import SLOT, Grid, SliCounts
from analytics.slo.spec import Budgeting, Slo, format_duration

CURRENT_BURN_WINDOW = timedelta(hours=1)  # "current burn": the page tier's long window


@dataclass(frozen=True)
class Units:
    """Budget units per slot (events, or slices placed at their last slot) and valid events."""

    valid: np.ndarray
    bad: np.ndarray  # estimate
    bad_lower: np.ndarray
    bad_upper: np.ndarray
    events: np.ndarray  # valid events per slot, for the minimum-traffic guard


@dataclass(frozen=True)
class Status:
    """An SLO's numbers over its window ending at `at` (units as in Units)."""

    at: datetime
    window_start: datetime
    period_end: datetime
    target: float
    valid: float
    bad: float
    attainment: float  # NaN without valid units
    attainment_lower: float
    attainment_upper: float
    budget: float
    remaining: float  # NaN without budget; may be negative
    burn_rate_1h: float  # NaN without valid units in the last hour
    time_to_exhaustion: timedelta | None  # None: not burning (or no data)
    events: float  # valid events in the window
    coverage: float  # share of the window from the first slot with valid events (0 without any)
    data_start: datetime | None  # start of the first slot with valid events in the window (None: none)
    budget_minutes: float  # the budget as time (see the module docstring); NaN without valid units
    remaining_minutes: float  # budget_minutes - time of the bad units; may be negative
    exact: bool  # thresholds are bucket edges (or the SLI needs no histogram)
    time_basis: str = ""  # how budget_minutes was obtained, for labels

    @property
    def complete_history(self) -> bool:
        """The data covers the whole window (the SLO's numbers are not from a fraction of it)."""
        return self.coverage >= 1.0

    @property
    def good(self) -> float:
        """Good units: valid - bad."""
        return self.valid - self.bad

    @property
    def consumed(self) -> float:
        """Budget consumed: the bad units."""
        return self.bad


def prefix(values: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading 0: the sum over slots [i, j) is p[j] - p[i]."""
    out = np.zeros(len(values) + 1, dtype=np.float64)
    np.cumsum(values, out=out[1:])
    return out


def trailing(p: np.ndarray, width: int) -> np.ndarray:
    """Sums over the `width` slots before every boundary index 0..n (shorter at the start)."""
    ends = np.arange(len(p))
    return p - p[np.maximum(ends - width, 0)]


def slots_in(span: timedelta) -> int:
    """Whole 5-minute slots in a duration."""
    return int(span // SLOT)


def units(counts: SliCounts, budgeting: Budgeting, grid: Grid) -> Units:
    """Reduce per-slot SLI counts to budget units for a budgeting method."""
    valid = counts.valid.astype(np.float64)
    if budgeting.method == "occurrences":
        return Units(valid, valid - counts.good, valid - counts.good_upper, valid - counts.good_lower, valid)
    k = slots_in(budgeting.slice)
    n_slices = grid.n // k  # the grid starts at UTC midnight, so slices align; a partial tail is open
    cut = n_slices * k

    def per_slice(a: np.ndarray) -> np.ndarray:
        """Sum each complete slice."""
        return a[:cut].reshape(n_slices, k).sum(axis=1)

    sums = SliCounts(*(per_slice(g) for g in (counts.good, counts.good_lower, counts.good_upper)),
                     per_slice(valid), counts.exact)
    has = sums.valid > 0
    if budgeting.method == "timeslices":
        # A slice is bad when it misses the slice target (the one per-slot rule, analytics.slo.compliance).
        c = slot_compliance(sums, budgeting.slice_target)
        bads = [(has & ~met).astype(np.float64) for met in (c.met, c.met_upper, c.met_lower)]
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            bads = [np.where(has, 1.0 - g / np.where(has, sums.valid, 1.0), 0.0)
                    for g in (sums.good, sums.good_upper, sums.good_lower)]
    at_end = np.arange(n_slices) * k + (k - 1)

    def place(per: np.ndarray) -> np.ndarray:
        """Put each slice's value on its last slot."""
        out = np.zeros(grid.n)
        out[at_end] = per
        return out

    return Units(place(has.astype(np.float64)), place(bads[0]), place(bads[1]), place(bads[2]), valid)


def burn_rates(u: Units, target: float, width: int) -> np.ndarray:
    """Burn rate over the `width` slots before every boundary index (NaN without valid units)."""
    bad = trailing(prefix(u.bad), width)
    valid = trailing(prefix(u.valid), width)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid > 0, bad / valid / (1.0 - target), np.nan)


def time_to_exhaustion(remaining: float, burn: float, period: timedelta) -> timedelta | None:
    """Time until the budget is gone at a constant burn rate: remaining x period / burn.

    A burn rate of 1 spends a whole budget in exactly one period (SRE Workbook, ch. 5); this
    assumes traffic keeps the window's average rate. None when not burning; 0 when overspent.
    """
    if not np.isfinite(burn) or burn <= 0 or not np.isfinite(remaining):
        return None
    return max(remaining, 0.0) * period / burn


def coverage(u: Units, grid: Grid, start: datetime, at: datetime) -> tuple[float, datetime | None]:
    """Share of [start, at) from the first slot with valid events (1 when events precede the
    window in the loaded history), and that slot's start when it lies inside the window."""
    j = grid.index(at)
    seen = np.flatnonzero(u.events[:j] > 0)
    span = (at - start).total_seconds()
    if not len(seen) or span <= 0:
        return 0.0, None
    first = grid.time(int(seen[0]))
    if first <= start:
        return 1.0, None
    return min(max((at - first).total_seconds() / span, 0.0), 1.0), first


def budget_time(slo: Slo, budget: float, bad: float, valid: float,
                covered: timedelta) -> tuple[float, float, str]:
    """(budget, remaining) in minutes and the basis of the conversion (module docstring); ``valid``:
    the window's valid units."""
    if budget <= 0:
        return float("nan"), float("nan"), ""
    if slo.budgeting.method == "occurrences":
        if valid <= 0 or covered <= timedelta(0):
            return float("nan"), float("nan"), ""
        per_minute = valid / (covered / timedelta(minutes=1))  # the window's mean rate
        return budget / per_minute, (budget - bad) / per_minute, \
            f"at the window's mean rate ({per_minute:.3g} {'weight-slots' if slo.composite else 'events'}/min)"
    minutes = slo.budgeting.slice / timedelta(minutes=1)
    return budget * minutes, (budget - bad) * minutes, f"bad {format_duration(slo.budgeting.slice)} slices"


def minutes_text(left: float | None, total: float | None) -> str:
    """'12.3 of 43.2 min' (two significant digits below a minute); '-' when not measured."""
    if left is None or total is None or not (np.isfinite(left) and np.isfinite(total)):
        return "-"

    def one(x: float) -> str:
        return f"{x:.1f}" if abs(x) >= 1 or x == 0 else f"{x:.2g}"

    return f"{one(left)} of {one(total)} min"


def status(slo: Slo, counts: SliCounts, u: Units, grid: Grid, at: datetime) -> Status:
    """Attainment, budget, remaining, current burn and time to exhaustion at `at`."""
    j = grid.index(at)
    start = slo.window.start(at)
    i = grid.index(start)
    pv, pb = prefix(u.valid), prefix(u.bad)
    valid, bad = pv[j] - pv[i], pb[j] - pb[i]
    bad_lo = prefix(u.bad_lower)[j] - prefix(u.bad_lower)[i]
    bad_hi = prefix(u.bad_upper)[j] - prefix(u.bad_upper)[i]
    events = prefix(u.events)[j] - prefix(u.events)[i]
    nan = float("nan")
    attainment = 1.0 - bad / valid if valid > 0 else nan
    budget = (1.0 - slo.target) * valid  # SRE Workbook ch. 2: budget = (1 - SLO) x valid events
    remaining = 1.0 - bad / budget if budget > 0 else nan
    burn = float(burn_rates(u, slo.target, slots_in(CURRENT_BURN_WINDOW))[j]) if j > 0 else nan
    covered, data_start = coverage(u, grid, start, at)
    # the rate of valid units (events, for occurrences; a composite's weight-slots: analytics.slo.composite)
    minutes, minutes_left, basis = budget_time(slo, budget, bad, valid, covered * (at - start))
    return Status(
        at=at, window_start=start, period_end=slo.window.end(at),
        target=slo.target, valid=float(valid), bad=float(bad), attainment=attainment,
        attainment_lower=1.0 - bad_hi / valid if valid > 0 else nan,
        attainment_upper=1.0 - bad_lo / valid if valid > 0 else nan,
        budget=float(budget), remaining=remaining, burn_rate_1h=burn,
        time_to_exhaustion=time_to_exhaustion(remaining, burn, slo.window.period(at)),
        events=float(events), coverage=covered, data_start=data_start, budget_minutes=float(minutes),
        remaining_minutes=float(minutes_left), exact=counts.exact, time_basis=basis,
    )


def _times(grid: Grid, idx: np.ndarray) -> pl.Series:
    base = np.datetime64(grid.start.replace(tzinfo=None), "ms")
    values = base + idx.astype(np.int64) * np.timedelta64(int(SLOT.total_seconds() * 1000), "ms")
    return pl.Series("time", values).dt.replace_time_zone("UTC")


def sli_series(counts: SliCounts, grid: Grid, start: datetime, end: datetime,
               step: timedelta) -> pl.DataFrame:
    """SLI per time step in [start, end): good (and bounds), valid, sli and its bounds (NaN without events)."""
    k = max(slots_in(step), 1)
    i, j = grid.index(start), grid.index(end)
    i -= (i % k)  # align steps to the grid (which starts at UTC midnight)
    idx = np.arange(i, j)
    group = (idx - i) // k
    size = group.max() + 1 if len(group) else 0
    sums = {name: np.bincount(group, getattr(counts, name)[i:j], minlength=size)
            for name in ("good", "good_lower", "good_upper", "valid")}
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = {n: np.where(sums["valid"] > 0, sums[n] / sums["valid"], np.nan)
                 for n in ("good", "good_lower", "good_upper")}
    return pl.DataFrame({
        "time": _times(grid, i + np.arange(len(sums["valid"])) * k),
        "good": sums["good"], "good_lower": sums["good_lower"], "good_upper": sums["good_upper"],
        "valid": sums["valid"],
        "sli": ratio["good"], "sli_lower": ratio["good_lower"], "sli_upper": ratio["good_upper"],
    })


def burn_down(slo: Slo, u: Units, grid: Grid, at: datetime,
              step: timedelta = timedelta(hours=1)) -> pl.DataFrame:
    """Budget remaining through the window (against the budget at `at`) and the ideal straight line.

    The ideal line spends the budget evenly: 1 at the window start, 0 at the end of the period.
    """
    start, j = slo.window.start(at), grid.index(at)
    i = grid.index(start)
    budget = (1.0 - slo.target) * (prefix(u.valid)[j] - prefix(u.valid)[i])
    k = max(slots_in(step), 1)
    idx = np.unique(np.append(np.arange(i, j + 1, k), j))
    spent = prefix(u.bad)[idx] - prefix(u.bad)[i]
    period_s = slo.window.period(at).total_seconds()
    elapsed = (idx - i) * SLOT.total_seconds() + (grid.time(i) - start).total_seconds()
    with np.errstate(invalid="ignore", divide="ignore"):
        remaining = 1.0 - spent / budget if budget > 0 else np.full(len(idx), np.nan)
    return pl.DataFrame({"time": _times(grid, idx), "remaining": remaining,
                         "ideal": 1.0 - elapsed / period_s})


def burn_series(u: Units, target: float, grid: Grid, start: datetime, end: datetime,
                windows: tuple[timedelta, ...]) -> pl.DataFrame:
    """Burn rate over each window at every slot boundary in [start, end]: one column per window."""
    i, j = grid.index(start), grid.index(end)
    idx = np.arange(i, j + 1)
    return pl.DataFrame({"time": _times(grid, idx)} | {
        f"burn_{format_duration(w)}": burn_rates(u, target, slots_in(w))[idx] for w in windows
    })
