"""The SLO engine's front door: load the data a set of SLOs needs, evaluate them, tabulate.

    slos = load_slos("slos.yaml")
    data = load_data(store, slos, at)          # one rollup query per distinct scope
    evaluations = [evaluate(s, data[s.name], at) for s in slos]
    status_frame(evaluations)                   # worst first

Math: analytics.burn (budgets, burn rates), analytics.alerts (multiwindow multi-burn-rate
tiers and replay), analytics.sli (SLI counts from the rollup), analytics.histogram (bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from analytics import alerts as A
from analytics import burn as B
from analytics.sli import (
    GOODPUT_SOURCES,
    Grid,
    ScopeData,
    SliCounts,
    catalog,
    day_grid,
    load_scope,
    resolve,
    sli_counts,
)
from analytics.slo_spec import Slo, evaluation_time
from analytics.store import Store

STATES = ("breached", "page", "ticket", "ok", "no data")  # worst first


@dataclass(frozen=True)
class Evaluation:
    """One SLO evaluated at a time: status, tiers at that time, and the alert history."""

    slo: Slo
    status: B.Status
    alerts: tuple[A.TierState, ...]
    episodes: pl.DataFrame
    grid: Grid
    counts: SliCounts
    units: B.Units

    @property
    def state(self) -> str:
        """breached, page, ticket, ok or no data."""
        if not self.status.valid:
            return "no data"
        if self.status.remaining < 0:
            return "breached"
        for severity in A.SEVERITIES:
            if any(a.firing and a.tier.severity == severity for a in self.alerts):
                return severity
        return "ok"

    @property
    def firing(self) -> tuple[A.TierState, ...]:
        """The tiers firing at the evaluation time."""
        return tuple(a for a in self.alerts if a.firing)


def history_start(slos: tuple[Slo, ...] | list[Slo], at: datetime) -> datetime:
    """Earliest time the SLOs need: their longest possible window plus the longest alert window."""
    longest = max((s.window.max_period for s in slos), default=timedelta(days=30))
    return evaluation_time(at) - longest - A.LONGEST_WINDOW


def load_data(store: Store, slos, at: datetime, goodput_source: str = "targeted",
              start: datetime | None = None) -> dict[str, ScopeData]:
    """Per SLO name, its scope's per-slot arrays; SLOs sharing a scope share one query.

    goodput_source: "targeted" (exact at the SLOs' thresholds), "joint" (exact at any edge
    pair, for what-if) or "rollup" (bounds, no raw scan); see analytics.sli.
    """
    if goodput_source not in GOODPUT_SOURCES:
        raise ValueError(f"goodput_source must be one of {GOODPUT_SOURCES}, got {goodput_source!r}")
    at = evaluation_time(at)
    grid = day_grid(start or history_start(slos, at), at)
    cat = catalog(store, grid.start, grid.end)
    scopes: dict[tuple, dict] = {}
    keys = {}
    for slo in slos:
        key = resolve(slo.selector, cat)
        keys[slo.name] = key
        need = scopes.setdefault(key, {"fields": set(), "joint": False, "targeted": set()})
        need["fields"].update(slo.sli.fields)
        if slo.sli.kind == "goodput":
            need["joint"] |= goodput_source == "joint"
            if goodput_source == "targeted":
                need["targeted"].add((slo.sli.ttft_ms, slo.sli.tpot_ms))
    loaded = {key: load_scope(store, grid, key[0], key[1], tuple(sorted(n["fields"])), n["joint"],
                              tuple(sorted(n["targeted"])))
              for key, n in scopes.items()}
    return {name: loaded[key] for name, key in keys.items()}


def evaluate(slo: Slo, data: ScopeData, at: datetime, replay_from: datetime | None = None) -> Evaluation:
    """Status and firing tiers at `at`, and alert episodes since `replay_from` (default: window start)."""
    at = evaluation_time(at)
    counts = sli_counts(data, slo.sli)
    units = B.units(counts, slo.budgeting, data.grid)
    status = B.status(slo, counts, units, data.grid, at)
    period = slo.window.period(at)
    alerts = A.states_at(units, slo.target, data.grid, at, period, slo.min_events)
    start = replay_from or status.window_start
    episodes = A.replay(units, slo.target, data.grid, period, slo.min_events, start, at, status.budget)
    return Evaluation(slo, status, tuple(alerts), episodes, data.grid, counts, units)


def evaluate_all(store: Store, slos, at: datetime, goodput_source: str = "targeted") -> list[Evaluation]:
    """Load and evaluate every SLO at `at`."""
    data = load_data(store, slos, at, goodput_source)
    return [evaluate(slo, data[slo.name], at) for slo in slos]


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _hours(span: timedelta | None) -> float | None:
    return None if span is None else span / timedelta(hours=1)


def status_frame(evaluations: list[Evaluation]) -> pl.DataFrame:
    """One row per SLO, worst first: state, attainment, budget remaining, current burn, alerts."""
    rows = []
    for e in evaluations:
        s, counts = e.status, A.count_episodes(e.episodes)
        rows.append({
            "slo": e.slo.name, "state": e.state, "sli": e.slo.sli.describe(),
            "scope": e.slo.selector.describe(), "target": e.slo.target, "window": e.slo.window.label,
            "attainment": _num(s.attainment), "attainment_lower": _num(s.attainment_lower),
            "attainment_upper": _num(s.attainment_upper), "budget_remaining": _num(s.remaining),
            "burn_rate_1h": _num(s.burn_rate_1h),
            "hours_to_exhaustion": _hours(s.time_to_exhaustion),
            "firing": ", ".join(f"{a.tier.severity} {a.tier.label}" for a in e.firing),
            "pages": counts["page"], "tickets": counts["ticket"],
            "good": s.good, "valid": s.valid, "exact": s.exact,
        })
    floats = ("hours_to_exhaustion", "attainment", "attainment_lower", "attainment_upper",
              "budget_remaining", "burn_rate_1h")
    frame = pl.DataFrame(rows, schema_overrides={c: pl.Float64 for c in floats})
    if frame.is_empty():
        return frame
    rank = {state: i for i, state in enumerate(STATES)}
    return (frame.with_columns(pl.col("state").replace_strict(rank, return_dtype=pl.Int8).alias("_rank"))
            .sort(["_rank", "budget_remaining", "slo"], nulls_last=True).drop("_rank"))


def to_json(e: Evaluation) -> dict:
    """JSON-ready summary of one evaluation (the `slo --json` contract)."""
    s = e.status
    return {
        "name": e.slo.name,
        "target": e.slo.target,
        "window": e.slo.window.label,
        "sli": e.slo.sli.describe(),
        "budgeting": e.slo.budgeting.describe(),
        "state": e.state,
        "attainment": _num(s.attainment),
        "attainment_bounds": [_num(s.attainment_lower), _num(s.attainment_upper)],
        "exact": s.exact,
        "good": s.good,
        "valid": s.valid,
        "budget": s.budget,
        "budget_remaining": _num(s.remaining),
        "burn_rate_1h": _num(s.burn_rate_1h),
        "hours_to_exhaustion": _hours(s.time_to_exhaustion),
        "window_start": s.window_start.isoformat(),
        "at": s.at.isoformat(),
        "complete_history": s.complete_history,
        "alerts": [a.as_dict() for a in e.firing],
        "episodes": A.count_episodes(e.episodes),
    }
