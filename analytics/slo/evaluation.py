"""Evaluate SLOs on their scope's per-slot arrays, and tabulate the results (worst first).

Loading those arrays is analytics.slo.pipeline; the math is analytics.slo.budget (budgets,
burn rates), analytics.slo.alerts (multiwindow multi-burn-rate tiers and replay),
analytics.slo.sli (SLI counts) and analytics.histogram (bounds).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import polars as pl

from analytics.slo import alerts as slo_alerts
from analytics.slo import budget as slo_budget
from analytics.slo import composite as slo_composite
from analytics.slo.compliance import MIN_EVENTS_PER_HOUR, slot_compliance
from analytics.slo.sli import Grid, ScopeData, SliCounts, sli_counts
from analytics.slo.spec import Selector, Slo, evaluation_time
from analytics.slo.state import RANK, judge


@dataclass(frozen=True)
class Evaluation:
    """One SLO evaluated at a time: status, tiers at that time, and the alert history."""

    slo: Slo
    status: slo_budget.Status
    alerts: tuple[slo_alerts.TierState, ...]
    episodes: pl.DataFrame
    grid: Grid
    counts: SliCounts
    units: slo_budget.Units

    @property
    def state(self) -> str:
        """breached, paging, ticket, at risk, partial history, no data or ok (analytics.slo.state)."""
        return judge(self.status, self.firing, self.slo)[0]

    @property
    def firing(self) -> tuple[slo_alerts.TierState, ...]:
        """The tiers firing at the evaluation time."""
        return tuple(a for a in self.alerts if a.firing)

    @property
    def held_back(self) -> tuple[slo_alerts.TierState, ...]:
        """The tiers burning fast enough to fire but held back by the minimum-traffic guard."""
        return tuple(a for a in self.alerts if a.held_back)


def history_start(slos: tuple[Slo, ...] | list[Slo], at: datetime) -> datetime:
    """Earliest time the SLOs need: their longest possible window plus the longest alert window."""
    longest = max((s.window.max_period for s in slos), default=timedelta(days=30))
    return evaluation_time(at) - longest - slo_alerts.LONGEST_WINDOW


def evaluate(slo: Slo, data: ScopeData, at: datetime, replay_from: datetime | None = None) -> Evaluation:
    """Status and firing tiers at `at`, and alert episodes since `replay_from` (default: window start)."""
    at = evaluation_time(at)
    counts = sli_counts(data, slo.sli)
    units = slo_budget.units(counts, slo.budgeting, data.grid)
    return judged(slo, counts, units, data.grid, at, replay_from)


def judged(slo: Slo, counts: SliCounts, units: slo_budget.Units, grid: Grid, at: datetime,
           replay_from: datetime | None = None) -> Evaluation:
    """An SLO judged on its per-slot counts and budget units: status, tiers at `at`, episodes."""
    status = slo_budget.status(slo, counts, units, grid, at)
    period = slo.window.period(at)
    tiers = slo_alerts.tiers_for(period)
    alerts = slo_alerts.states_at(units, slo.target, grid, at, period, slo.min_events, tiers)
    start = replay_from or status.window_start
    episodes = slo_alerts.replay(units, slo.target, grid, period, slo.min_events, start, at, status.budget, tiers)
    return Evaluation(slo, status, tuple(alerts), episodes, grid, counts, units)


def evaluate_composite(slo: Slo, objectives: dict[str, Evaluation], at: datetime,
                       replay_from: datetime | None = None) -> Evaluation:
    """A composite SLO from its objectives' evaluations (analytics.slo.composite): weighted_average
    judged on its own counts like any SLO; least_healthy as its objective with the most budget spent."""
    composite = slo.composite
    if composite.method == "least_healthy":
        spent = {name: 1.0 - objectives[name].status.remaining for name in composite.names}
        worst = objectives[slo_composite.least_healthy(composite, spent)]
        # the objective's target, window, budgeting and thresholds, under the composite's name
        shown = replace(worst.slo, name=slo.name, sli=slo.sli, selector=Selector(), description=slo.description,
                        source=slo.source, labels=slo.labels, policy=slo.policy, composite=composite)
        return replace(worst, slo=shown)
    at = evaluation_time(at)
    grid = objectives[composite.names[0]].grid
    counts = slo_composite.weighted_counts(composite, {name: objectives[name].counts for name in composite.names})
    units = slo_budget.units(counts, slo.budgeting, grid)
    events = slo_composite.traffic(composite, {name: objectives[name].units.events for name in composite.names})
    return judged(slo, counts, replace(units, events=events), grid, at, replay_from)


def compliant_hours(e: Evaluation, start: datetime, end: datetime,
                    min_events: float = MIN_EVENTS_PER_HOUR) -> pl.DataFrame:
    """Per UTC hour in [start, end): the SLI and whether the hour met the SLO's target, judged by
    the one per-slot rule (analytics.slo.compliance) that capacity and the GPU views also use."""
    series = slo_budget.sli_series(e.counts, e.grid, start, end, timedelta(hours=1))
    counts = SliCounts(*(series[c].to_numpy() for c in ("good", "good_lower", "good_upper", "valid")),
                       e.counts.exact)
    c = slot_compliance(counts, e.slo.target, min_events)
    return series.select(pl.col("time").alias("hour"), "valid").with_columns(
        pl.Series("attainment", c.attainment, nan_to_null=True),
        pl.Series("evaluable", c.evaluable),
        pl.Series("met_slo", c.met),
    )


def evaluate_all(slos, data: dict[str, ScopeData], at: datetime,
                 replay_from: datetime | None = None) -> list[Evaluation]:
    """Every SLO evaluated at `at` on its scope's arrays (``data`` from analytics.slo.pipeline),
    composites from their objectives' evaluations; in the order of ``slos``."""
    done = {slo.name: evaluate(slo, data[slo.name], at, replay_from) for slo in slos if slo.composite is None}
    done |= {slo.name: evaluate_composite(slo, done, at, replay_from) for slo in slos if slo.composite is not None}
    return [done[slo.name] for slo in slos]


def _hours(span: timedelta | None) -> float | None:
    return None if span is None else span / timedelta(hours=1)


def status_frame(evaluations: list[Evaluation]) -> pl.DataFrame:
    """One row per SLO, worst first: state, attainment, budget remaining, current burn, alerts."""
    rows = []
    for e in evaluations:
        s, counts = e.status, slo_alerts.count_episodes(e.episodes)
        rows.append({
            "slo": e.slo.name, "state": e.state, "sli": e.slo.sli.describe(),
            "scope": e.slo.selector.describe(), "target": e.slo.target, "window": e.slo.window.label,
            "attainment": s.attainment, "attainment_lower": s.attainment_lower,
            "attainment_upper": s.attainment_upper, "budget_remaining": s.remaining,
            "burn_rate_1h": s.burn_rate_1h,
            "hours_to_exhaustion": _hours(s.time_to_exhaustion),
            "firing": ", ".join(f"{a.tier.severity} {a.tier.label}" for a in e.firing),
            "held_back": ", ".join(f"{a.tier.severity} {a.tier.label} "
                                   f"({a.events_long:.0f} of {e.slo.min_events} events)" for a in e.held_back),
            "window_covered": s.coverage,
            "budget_minutes": s.budget_minutes, "budget_remaining_minutes": s.remaining_minutes,
            "pages": counts["page"], "tickets": counts["ticket"],
            "good": s.good, "valid": s.valid, "exact": s.exact, "source": e.counts.source,
        })
    floats = ("hours_to_exhaustion", "attainment", "attainment_lower", "attainment_upper",
              "budget_remaining", "burn_rate_1h", "window_covered", "budget_minutes", "budget_remaining_minutes")
    frame = pl.DataFrame(rows, schema_overrides={c: pl.Float64 for c in floats})
    frame = frame.with_columns(pl.col(floats).fill_nan(None))  # not measured is null, not NaN
    if frame.is_empty():
        return frame
    return (frame.with_columns(pl.col("state").replace_strict(RANK, return_dtype=pl.Int8).alias("_rank"))
            .sort(["_rank", "budget_remaining", "slo"], nulls_last=True).drop("_rank"))
