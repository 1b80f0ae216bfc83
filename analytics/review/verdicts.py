"""One rule set for states: every SLO, every capacity outlook and the fleet get one, worst first.

States, worst first (``STATES``):

- ``breached``: the window's error budget is spent (remaining < 0).
- ``paging`` / ``ticket``: a multiwindow burn-rate tier of that severity fires now
  (analytics.slo.alerts.TIERS).
- ``short now``: a deployment's expected demand exceeds its SLO-compliant capacity within
  ``SHORT_NOW`` of the forecast start (the next daily peak), or a GPU pool needs more GPUs
  than it has this week.
- ``at risk``: the budget is not spent, but its remaining share or its time to exhaustion is
  under the thresholds of its SLO file (analytics.slo.spec.Thresholds).
- ``short soon``: capacity or headroom runs out later within the forecast horizon.
- ``partial history``: the loaded data covers too little of the window for its budget to judge.
- ``no data``: nothing was measured (no valid events; capacity throughput unknown).
- ``ok``: none of the above.

Firing tiers outrank a partial history (burn rates use windows of at most 3 days); a budget
verdict (breached, at risk) needs the window covered. Every state has a label, a shape and a
colour in ``STYLE``, so pages never tell states apart by colour alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import polars as pl

from analytics.capacity import plan as C
from analytics.slo.evaluation import Evaluation
from analytics.slo.state import STATES as SLO_STATES
from analytics.slo.state import judge

# Worst first. An SLO at risk (budget nearly gone, users already affected) outranks a capacity
# shortfall that the forecast puts days ahead; demand over capacity now outranks a ticket.
STATES = ("breached", "paging", "short now", "ticket", "at risk", "short soon", "partial history", "no data", "ok")
RANK = {state: i for i, state in enumerate(STATES)}
assert set(SLO_STATES) <= set(STATES), "every SLO state has a place in the fleet's order"
# What the Overview's attention list shows: firing, at risk or short (issue 10).
ATTENTION = ("breached", "paging", "short now", "ticket", "at risk", "short soon")


@dataclass(frozen=True)
class Style:
    """How a state looks on every page: a label, a shape and a colour."""

    label: str
    icon: str
    colour: str


# Shapes differ per state, so the state reads without colour (WCAG 2.1 SC 1.4.1 "Use of Color").
# Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), which stays
# distinguishable under protanopia, deuteranopia and tritanopia; states of one severity share a
# colour and differ in shape.
STYLE = {
    "breached": Style("Breached", "✖", "#D55E00"),  # vermillion
    "paging": Style("Paging", "▲", "#CC79A7"),  # reddish purple
    "short now": Style("Short now", "■", "#D55E00"),
    "ticket": Style("Ticket", "◆", "#E69F00"),  # orange
    "at risk": Style("At risk", "◐", "#F0E442"),  # yellow
    "short soon": Style("Short soon", "◪", "#F0E442"),
    "partial history": Style("Partial history", "◌", "#56B4E9"),  # sky blue
    "no data": Style("No data", "○", "#999999"),  # grey
    "ok": Style("OK", "✔", "#009E73"),  # bluish green
}


def badge(state: str) -> str:
    """A state as text with its shape, e.g. '▲ Paging' (for display only: data and CSVs keep the raw
    state word, the same as `slo --json`)."""
    style = STYLE[state]
    return f"{style.icon} {style.label}"


def with_badges(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as people see it: a text ``state`` column shows each state's badge ('paging' ->
    '▲ Paging'); other columns, and values that are not states, are left as they are. The one
    place page tables (ui.tables) and the HTML report (analytics.review.report) turn states into
    badges."""
    if "state" not in frame.columns or frame["state"].dtype != pl.String:
        return frame
    return frame.with_columns(pl.col("state").replace({s: badge(s) for s in STYLE}))


@dataclass(frozen=True)
class Verdict:
    """A state for one thing (an SLO, a deployment's capacity, a GPU pool) and why, in one sentence."""

    kind: str  # "slo" or "capacity"
    name: str
    state: str
    why: str
    page: str  # the page that explains it, e.g. "pages/1_SLOs.py"
    query: str  # URL query for that page, e.g. "slo=fleet-availability"

    @property
    def rank(self) -> int:
        """Position in STATES (0 is worst)."""
        return RANK[self.state]


def slo_verdict(e: Evaluation) -> Verdict:
    """An SLO's state and why (analytics.slo.state.judge, the one rule set, with the thresholds of
    its SLO file), linked to the SLOs page."""
    state, why = judge(e.status, e.firing, e.slo)
    return Verdict("slo", e.slo.name, state, why, "pages/1_SLOs.py", urlencode({"slo": e.slo.name}))


# A deployment is "short now" when expected demand exceeds capacity before the next daily peak.
SHORT_NOW = timedelta(days=1)


def capacity_verdict(o: C.CapacityOutlook, forecast_start: datetime) -> Verdict:
    """A deployment's capacity state from its outlook (analytics.capacity.plan.outlook)."""

    def verdict(state: str, why: str) -> Verdict:
        return Verdict("capacity", o.deployment, state, why, "pages/4_Capacity.py", urlencode({"dep": o.deployment}))

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
        fleet = C.fleet_by_week(members, deployments)
        for gpu_type in fleet["gpu_type"].unique().sort():
            rows = fleet.filter(pl.col("gpu_type") == gpu_type)
            name = f"{gpu_type} in {region}" if region else f"{gpu_type}, all regions"
            query = urlencode({"region": region}) if region else ""
            short = rows.filter(pl.col("short") > 0)
            if short.is_empty():
                peak = rows.sort("gpus_needed").row(-1, named=True) if rows.height else None
                why = (f"needs up to {peak['gpus_needed']:g} of {peak['gpus_current']} GPUs in the horizon"
                       if peak else "no forecast")
                out.append(Verdict("capacity", name, "ok", why, "pages/4_Capacity.py", query))
                continue
            first = short.row(0, named=True)
            state = "short now" if first["week"] <= week0 else "short soon"
            why = (f"week of {first['week']:%Y-%m-%d} needs {first['gpus_needed']:g} GPUs (forecast upper bound "
                   f"plus headroom), has {first['gpus_current']}: {first['short']:g} short")
            out.append(Verdict("capacity", name, state, why, "pages/4_Capacity.py", query))
    return out


def fleet_verdict(verdicts: Iterable[Verdict]) -> str:
    """The fleet's state: the worst state of any verdict, 'no data' when there is none."""
    ranks = [v.rank for v in verdicts]
    return STATES[min(ranks)] if ranks else "no data"


ATTENTION_SCHEMA = {
    "kind": pl.String, "name": pl.String, "state": pl.String, "label": pl.String, "icon": pl.String,
    "colour": pl.String, "why": pl.String, "page": pl.String, "query": pl.String,
}


def attention(verdicts: Sequence[Verdict], states: Sequence[str] = ATTENTION) -> pl.DataFrame:
    """What needs attention, worst first (then SLOs before capacity, then by name).

    Columns: kind ('slo' or 'capacity'), name, state, label, icon, colour (STYLE), why (one
    sentence with the numbers), page (a page script path for st.page_link) and query (its URL
    query string, e.g. 'slo=fleet-availability').
    """
    keep = sorted((v for v in verdicts if v.state in states), key=lambda v: (v.rank, v.kind != "slo", v.name))
    rows = [{"kind": v.kind, "name": v.name, "state": v.state, "label": STYLE[v.state].label,
             "icon": STYLE[v.state].icon, "colour": STYLE[v.state].colour, "why": v.why, "page": v.page,
             "query": v.query} for v in keep]
    return pl.DataFrame(rows, schema=ATTENTION_SCHEMA)
