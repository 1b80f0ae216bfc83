"""One rule set for states: every SLO, every capacity outlook and the fleet get one of the states of
analytics.slo.state (worst first, each with its label, shape and colour).

A verdict names what it judges (``kind``: an SLO, capacity, a deployment no SLO covers, or a
deployment's GPU memory) and the URL query that selects it; which page explains each kind is the
UI's business (ui.attention.PAGES).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import polars as pl

from analytics import columns as column_registry
from analytics.capacity import plan as capacity_plan
from analytics.slo.evaluation import Evaluation
from analytics.slo.spec import Slo
from analytics.slo.state import ATTENTION, RANK, SHORT, STATES, STYLE, WATCH, judge
from analytics.traffic import summary as traffic_summary


@dataclass(frozen=True)
class Verdict:
    """A state for one thing (an SLO, a deployment's capacity, a GPU pool) and why, in one sentence."""

    kind: str  # "slo", "capacity", "uncovered" (a deployment no SLO covers) or "memory" (its GPUs' memory)
    name: str
    state: str
    why: str
    query: str  # URL query selecting it on the page of its kind, e.g. "slo=fleet-availability"

    @property
    def rank(self) -> int:
        """Position in STATES (0 is worst)."""
        return RANK[self.state]


def slo_verdict(e: Evaluation) -> Verdict:
    """An SLO's state and why (analytics.slo.state.judge, the one rule set, with the thresholds of
    its SLO file)."""
    state, why = judge(e.status, e.firing, e.slo)
    return Verdict("slo", e.slo.name, state, why, urlencode({"slo": e.slo.name}))


# A deployment is "short now" when expected demand exceeds capacity before the next daily peak.
SHORT_NOW = timedelta(days=1)


def capacity_verdict(o: capacity_plan.CapacityOutlook, forecast_start: datetime) -> Verdict:
    """A deployment's capacity state from its outlook (analytics.capacity.plan.outlook)."""

    def verdict(state: str, why: str) -> Verdict:
        return Verdict("capacity", o.deployment, state, why, urlencode({"dep": o.deployment}))

    if o.per_gpu is None:
        return verdict("no data", f"SLO-compliant throughput unknown: {o.reason or 'not measured'}")
    if o.gpus_needed_peak is None:
        return verdict("no data", "no forecast hours to plan on")
    need = f"needs up to {o.gpus_needed_peak:g} GPUs at peak, has {o.gpus_current}"
    if o.capacity_exhausted_at is not None and o.capacity_exhausted_at < forecast_start + SHORT_NOW:
        return verdict("short now", f"expected demand exceeds SLO capacity at {o.capacity_exhausted_at:%Y-%m-%d %H:%M} "
                                    f"UTC; {need}")
    if o.capacity_exhausted_at is not None:
        return verdict("short soon", f"expected demand exceeds SLO capacity from "
                                     f"{o.capacity_exhausted_at:%Y-%m-%d %H:%M} UTC; {need}")
    if o.headroom_breached_at is not None:
        return verdict("short soon", f"headroom runs out from {o.headroom_breached_at:%Y-%m-%d %H:%M} UTC; {need}")
    return verdict("ok", need)


def pool_verdicts(plans: Mapping[str, pl.DataFrame], deployments: pl.DataFrame, forecast_start: datetime) -> list[Verdict]:
    """States of GPU pools: each GPU type per region, and each GPU type pooled across regions.

    A GPU type's regions are listed apart because pooling hides a per-region shortage: spare
    H100s in one region do not serve another region's traffic. GPUs needed per pool and week
    are analytics.capacity.plan.fleet_by_week over that pool's deployments; a pool is short now
    when the week holding the forecast start is short.
    """
    region_of = dict(deployments.select("deployment", "region").iter_rows())
    pools: dict[str, dict[str, pl.DataFrame]] = {"": dict(plans)}
    for name, frame in plans.items():
        pools.setdefault(region_of.get(name) or "unknown region", {})[name] = frame
    # the ISO week (Monday 00:00 UTC) holding the forecast start, as fleet_by_week's weeks
    week0 = (forecast_start - timedelta(days=forecast_start.weekday())).replace(hour=0, minute=0, second=0,
                                                                                microsecond=0)
    out = []
    for region, members in sorted(pools.items()):
        fleet = capacity_plan.fleet_by_week(members, deployments)
        for gpu_type in fleet["gpu_type"].unique().sort():
            rows = fleet.filter(pl.col("gpu_type") == gpu_type)
            name = f"{gpu_type} in {region}" if region else f"{gpu_type}, all regions"
            query = urlencode({"region": region}) if region else ""
            short = rows.filter(pl.col("short") > 0)
            if short.is_empty():
                peak = rows.sort("gpus_needed").row(-1, named=True) if rows.height else None
                why = (f"needs up to {peak['gpus_needed']:g} of {peak['gpus_current']} GPUs in the horizon"
                       if peak else "no forecast")
                out.append(Verdict("capacity", name, "ok", why, query))
                continue
            first = short.row(0, named=True)
            state = "short now" if first["week"] <= week0 else "short soon"
            why = (f"week of {first['week']:%Y-%m-%d} needs {first['gpus_needed']:g} GPUs (forecast upper bound "
                   f"plus headroom), has {first['gpus_current']}: {first['short']:g} short")
            out.append(Verdict("capacity", name, state, why, query))
    return out


# What the verdicts of deployments no SLO covers judge: errors and latency, not traffic (a traffic
# change is demand, which the Capacity page judges).
UNCOVERED_METRICS = ("error_rate", "ttft_p99_ms", "e2e_p99_ms")
# ... and how much worse counts as sharp: a rise of 20% or more (or a rate that was nearly zero, 'new').
# Beyond chance is not enough on a busy deployment, where a 3% p99 rise is beyond chance; moves
# under 20% are within the week-to-week spread of a fleet's traffic mix.
SHARP_RISE = 0.2


def covered(slos: Sequence[Slo], catalog: pl.DataFrame) -> set[str]:
    """The deployments of a catalog (deployment, model, region, kind) some SLO's scope selects."""
    return {row["deployment"] for row in catalog.iter_rows(named=True)
            if any(slo.selector.matches(row["deployment"], row["model"], row["region"], row["kind"])
                   for slo in slos if slo.composite is None)}  # a composite covers through its objectives


def uncovered_verdicts(changes: pl.DataFrame, watched: set[str]) -> list[Verdict]:
    """'watch' for each deployment outside ``watched`` (the deployments an SLO covers) whose error
    rate or latency p99 got sharply and significantly worse than in the previous period, by the movers' rule
    (analytics.traffic.summary.changes: z >= SIGNIFICANT_Z on the counts). No SLO pages for them,
    so a sharp move (SHARP_RISE or 'new') is the only signal the fleet has; the strongest move
    names the why."""
    sharp = pl.col("change").is_null() | (pl.col("change") >= SHARP_RISE)
    worse = (changes.filter(pl.col("metric").is_in(UNCOVERED_METRICS) & ~pl.col("deployment").is_in(list(watched))
                            & (pl.col("z") >= traffic_summary.SIGNIFICANT_Z) & sharp)
             .sort("z", descending=True).unique("deployment", keep="first", maintain_order=True))
    out = []
    for r in worse.iter_rows(named=True):
        change = f"{r['change']:+.0%}" if r["change"] is not None else "new"
        why = (f"no SLO covers it; {column_registry.in_sentence(r['metric'])} "
               f"{column_registry.text(r['metric'], r['previous'])} → {column_registry.text(r['metric'], r['current'])} "
               f"({change}, z = {r['z']:.1f}) vs the previous period")
        out.append(Verdict("uncovered", r["deployment"], WATCH, why, urlencode({"dep": r["deployment"]})))
    return out


# GPU memory is short when a deployment's peak hour used more than this share of its GPUs' memory
# (DCGM FB used / total, analytics.gpu.efficiency). vLLM reserves 0.9 of a GPU's memory by default
# (`--gpu-memory-utilization`, vLLM engine arguments), so a healthy server sits near 90%; above 95%
# less than 5% is left for allocator fragmentation, CUDA graphs and other processes, and the next
# long prompt can fail with out-of-memory.
MEMORY_PEAK_LIMIT = 0.95


def memory_verdicts(peaks: pl.DataFrame, limit: float = MEMORY_PEAK_LIMIT) -> list[Verdict]:
    """'watch' for each deployment whose peak GPU memory is over ``limit``; ``peaks`` has deployment
    and peak_mem_fraction (analytics.gpu.pipeline.peak_memory)."""
    return [Verdict("memory", r["deployment"], WATCH,
                    f"GPU memory peaked at {column_registry.text('peak_mem_fraction', r['peak_mem_fraction'])} of total, "
                    f"over the {limit:.0%} limit: under {1 - limit:.0%} headroom left", urlencode({"dep": r["deployment"]}))
            for r in peaks.filter(pl.col("peak_mem_fraction") > limit).iter_rows(named=True)]


def shortfalls(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """The verdicts short now or short soon (SHORT), worst first, then by name."""
    return sorted((v for v in verdicts if v.state in SHORT), key=lambda v: (v.rank, v.name))


def fleet_verdict(verdicts: Iterable[Verdict]) -> str:
    """The fleet's state: the worst state of any verdict, 'no data' when there is none."""
    ranks = [v.rank for v in verdicts]
    return STATES[min(ranks)] if ranks else "no data"


ATTENTION_SCHEMA = {
    "kind": pl.String, "name": pl.String, "state": pl.String, "label": pl.String, "icon": pl.String,
    "colour": pl.String, "why": pl.String, "query": pl.String,
}


def attention(verdicts: Sequence[Verdict], states: Sequence[str] = ATTENTION) -> pl.DataFrame:
    """What needs attention, worst first (then SLOs before the rest, then by name).

    Columns: kind (Verdict.kind), name, state, label, icon, colour (STYLE), why (one
    sentence with the numbers) and query (the URL query selecting it on its kind's page, e.g.
    'slo=fleet-availability').
    """
    keep = sorted((v for v in verdicts if v.state in states), key=lambda v: (v.rank, v.kind != "slo", v.name))
    rows = [{"kind": v.kind, "name": v.name, "state": v.state, "label": STYLE[v.state].label,
             "icon": STYLE[v.state].icon, "colour": STYLE[v.state].colour, "why": v.why,
             "query": v.query} for v in keep]
    return pl.DataFrame(rows, schema=ATTENTION_SCHEMA)
