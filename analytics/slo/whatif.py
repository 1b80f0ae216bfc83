"""What-if: re-evaluate an SLO with a changed target, threshold or window from cached arrays.

Nothing here queries the database: a proposed SLO (analytics.slo.spec.revise) is evaluated
on the same analytics.slo.sli.ScopeData as the current one, so a slider move costs a histogram
column gather, prefix sums and an alert replay over ~10k slots (milliseconds; see
analytics/cli/bench/slo.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import polars as pl

from analytics.histogram import locate
from analytics.slo import alerts as slo_alerts
from analytics.slo import budget as slo_budget
from analytics.slo.evaluation import Evaluation, evaluate
from analytics.slo.sli import ScopeData, sli_counts
from analytics.slo.spec import Slo, evaluation_time
from analytics.store.conventions import EDGES_MS

# History a what-if needs: the longest window it offers (a 31-day calendar month) plus the
# longest alert window, so any proposed window is complete and its alerts can be replayed.
HISTORY = timedelta(days=31) + slo_alerts.LONGEST_WINDOW
TARGET_STEP = 1e-4  # suggestions are floored to 0.01 percentage points

# Slider stops for a target: a log scale over the miss 1 - target ("nines": 90% is one nine,
# 99.9% three), from 90% to 99.999%. Per decade of miss, the near-geometric 1-1.5-2-2.5-3-4-5-6-8
# series (the latency edges' mantissas, analytics/store/conventions.EDGES_MS, without 1.2), so
# one arrow key is the same step in nines anywhere: 99 -> 99.2 as 99.9 -> 99.92.
_MISS_PER_DECADE = ("10", "8", "6", "5", "4", "3", "2.5", "2", "1.5")  # percent, in the first decade
_DECADES = 4  # 90% ... 99.99% (then 99.999% closes the scale)
THRESHOLD_SPAN = 4.0  # threshold sliders reach from current / 4 to current x 4


def target_stops() -> tuple[float, ...]:
    """Target slider stops in percent, ascending: 90, 92, 94, 95, ..., 99, 99.2, ..., 99.99, 99.999.

    Computed in decimal so every stop is the float nearest its decimal (99.95, not 99.95000000001).
    """
    stops = [100 - Decimal(m) / 10**d for d in range(_DECADES) for m in _MISS_PER_DECADE]
    return tuple(float(s) for s in [*stops, 100 - Decimal("0.001")])


def nines(target_percent: float) -> float:
    """A target's position on the log scale: -log10(1 - target), e.g. 99.9% -> 3.0 (SRE "nines")."""
    miss = 1 - float(target_percent) / 100
    if not 0 < miss < 1:
        raise ValueError(f"target must be strictly between 0 and 100 percent, got {target_percent!r}")
    return -math.log10(miss)


def nearest_target_stop(target_percent: float, stops: tuple[float, ...] | None = None) -> float:
    """The stop closest in nines to a target (typed, or the SLO's own); the scale's end beyond it."""
    stops = stops or target_stops()
    position = nines(target_percent)
    return min(stops, key=lambda s: abs(nines(s) - position))


def threshold_stops(current_ms: float, span: float = THRESHOLD_SPAN) -> tuple[float, ...]:
    """Threshold slider stops: the histogram's bucket edges from current / span to current x span
    (what-if counts are exact only on edges, analytics.histogram.count_le), always including the
    edge nearest the current threshold."""
    low, high = current_ms / span, current_ms * span
    edges = {float(e) for e in EDGES_MS if low <= e <= high} | {nearest_edge(current_ms)}
    return tuple(sorted(edges))


def nearest_edge(ms: float, stops: tuple[float, ...] | None = None) -> float:
    """The bucket edge (or given stop) closest to a threshold on a log scale (edges are log-spaced)."""
    if not math.isfinite(ms) or ms <= 0:
        raise ValueError(f"latency threshold must be a positive number of ms, got {ms!r}")
    candidates = stops or tuple(float(e) for e in EDGES_MS)
    return min(candidates, key=lambda e: abs(math.log(e / ms)))


@dataclass(frozen=True)
class Outcome:
    """An SLO evaluated for what-if: its evaluation, alert counts and burn-down."""

    evaluation: Evaluation
    pages: int
    tickets: int
    burn_down: pl.DataFrame

    @property
    def slo(self) -> Slo:
        """The scenario's SLO."""
        return self.evaluation.slo


@dataclass(frozen=True)
class Suggestion:
    """The strictest target met in at least `share` of past windows (None without windows)."""

    target: float | None
    share: float
    windows: pl.DataFrame  # end, attainment


def outcome(slo: Slo, data: ScopeData, at: datetime, replay_from: datetime | None = None) -> Outcome:
    """Evaluate one scenario; alerts are replayed from `replay_from` (default: its window start)."""
    e = evaluate(slo, data, at, replay_from)
    counts = slo_alerts.count_episodes(e.episodes)
    return Outcome(e, counts["page"], counts["ticket"], slo_budget.burn_down(slo, e.units, e.grid, e.status.at))


def compare(current: Slo, proposed: Slo, data: ScopeData, at: datetime) -> tuple[Outcome, Outcome]:
    """Both scenarios with alerts replayed over the same history (the longer of the two windows)."""
    at = evaluation_time(at)
    start = min(current.window.start(at), proposed.window.start(at))
    return outcome(current, data, at, start), outcome(proposed, data, at, start)


def _paging_minutes(o: Outcome) -> float:
    """Minutes the scenario's page episodes lasted in all."""
    return float(o.evaluation.episodes.filter(pl.col("severity") == "page")["duration_min"].sum())


def fewer_pages_note(current: Outcome, proposed: Outcome) -> str | None:
    """One line on why a stricter target gives fewer pages, else None.

    A burn rate is the bad share over the budget share 1 - target (SRE Workbook ch. 5), so with
    the same SLI, window and budgeting a stricter target raises every burn rate and every slot
    that fires at the current target fires at the stricter one too (analytics.slo.alerts.signals):
    fewer page episodes can only be episodes that merged across the quieter slots between them.
    """
    only_target_stricter = (replace(proposed.slo, target=current.slo.target) == current.slo
                            and proposed.slo.target > current.slo.target)
    if not only_target_stricter or proposed.pages >= current.pages:
        return None
    return (f"Fewer pages at a stricter target because episodes merge: its smaller budget burns faster, so pages "
            f"also fire between bursts and run together ({current.pages} pages, {_paging_minutes(current):,.0f} min "
            f"in all, become {proposed.pages}, {_paging_minutes(proposed):,.0f} min).")


def _bounds_note(slo: Slo) -> str:
    notes = []
    named = (("threshold", slo.sli.threshold_ms), ("ttft", slo.sli.ttft_ms), ("tpot", slo.sli.tpot_ms))
    for name, t in named:
        if t is None:
            continue
        s = locate(t)
        if not s.exact:
            notes.append(f"{name} {t:g} ms lies between edges {s.lower_edge_ms:g} and {s.upper_edge_ms:g} ms")
    return "; ".join(notes)


def error_bound_note(slo: Slo) -> str | None:
    """A sentence on histogram error bounds when a threshold lies between bucket edges, else None."""
    text = _bounds_note(slo)
    if not text:
        return None
    return (f"{text}: good events are only known to lie between the counts at those edges; the estimate "
            "interpolates log-linearly inside the straddled bucket (analytics/histogram.py).")


def comparison_frame(current: Outcome, proposed: Outcome) -> pl.DataFrame:
    """Side-by-side table: one row per measure, columns current and proposed (text-free numbers)."""

    def measures(o: Outcome) -> dict:
        """The numbers compared, in the engine's units."""
        s = o.evaluation.status
        return {
            "target": s.target,
            "attainment": s.attainment,
            "attainment_lower": s.attainment_lower,
            "attainment_upper": s.attainment_upper,
            "error_budget": s.budget,
            "bad": s.bad,
            "budget_remaining": s.remaining,
            "burn_rate_1h": s.burn_rate_1h,
            "pages": float(o.pages),
            "tickets": float(o.tickets),
        }

    a, b = measures(current), measures(proposed)
    return pl.DataFrame({"measure": list(a), "current": list(a.values()), "proposed": list(b.values())},
                        schema={"measure": pl.String, "current": pl.Float64, "proposed": pl.Float64},
                        ).with_columns(pl.col("current", "proposed").fill_nan(None))


def window_attainments(slo: Slo, data: ScopeData, at: datetime,
                       step: timedelta = timedelta(hours=1)) -> pl.DataFrame:
    """Attainment of every full past window of the SLO's period ending on a `step` grid up to `at`."""
    at = evaluation_time(at)
    u = slo_budget.units(sli_counts(data, slo.sli), slo.budgeting, data.grid)
    width, k = slo_budget.slots_in(slo.window.period(at)), max(slo_budget.slots_in(step), 1)
    j = data.grid.index(at)
    ends = np.arange(j, width - 1, -k)[::-1]
    pv, pb = slo_budget.prefix(u.valid), slo_budget.prefix(u.bad)
    valid = pv[ends] - pv[ends - width]
    bad = pb[ends] - pb[ends - width]
    keep = valid > 0
    times = [data.grid.time(int(e)) for e in ends[keep]]
    return pl.DataFrame({"end": pl.Series(times, dtype=pl.Datetime("us", "UTC")),
                         "attainment": 1.0 - bad[keep] / valid[keep]})


def suggest_target(slo: Slo, data: ScopeData, at: datetime, share: float,
                   step: timedelta = timedelta(hours=1)) -> Suggestion:
    """The strictest target met in at least `share` of past windows, floored to 0.01 points.

    A target T is met in a window when its attainment >= T, so the strictest T met in a share
    s of m windows is the ceil(s x m)-th highest attainment.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    windows = window_attainments(slo, data, at, step)
    if windows.is_empty():
        return Suggestion(None, share, windows)
    ordered = np.sort(windows["attainment"].to_numpy())[::-1]
    best = ordered[math.ceil(share * len(ordered)) - 1]
    target = math.floor(best / TARGET_STEP + 1e-9) * TARGET_STEP
    target = min(max(target, TARGET_STEP), 1.0 - TARGET_STEP)
    return Suggestion(round(target, 6), share, windows)
