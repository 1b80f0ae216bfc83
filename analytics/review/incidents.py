"""Incidents, fleet-wide: alert episodes of every SLO, flaps merged, grouped across SLOs.

Two steps, both on frames:

1. ``slo_spans``: per SLO, its page and ticket episodes (analytics.slo.alerts.replay) close
   together are one span: a flapping alert, and the ticket that outlives or re-fires after a
   page, are one event. An episode joins the span before it when it starts within ``gap`` of
   that span's end (page episodes), or within the ticket tiers' longest long window (ticket
   episodes: 3 days, analytics.slo.alerts.TIERS). A ticket re-firing that soon still has the
   span's bad events inside its own window, so it is the same burn, not a new one.
2. ``group``: spans of different SLOs that overlap in time (or are closer than ``gap``) and
   share an affected deployment are one incident (transitively): a regional outage that fires
   the regional and the fleet-wide availability SLOs is one incident, not two.

GAP is 1 hour, the long window of the fastest page tier (SRE Workbook ch. 5, Table 5-8): a page
that fires again within an hour of resolving still has the earlier bad events inside its own
window. It plays the part of Prometheus' ``keep_firing_for`` (added in Prometheus 2.42 against
flapping alerts) and of PagerDuty's time-based alert grouping window, both chosen per rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import polars as pl

from analytics.slo.alerts import TIERS
from analytics.slo.budget import prefix
from analytics.slo.evaluation import Evaluation

GAP = timedelta(hours=1)
TICKET_GAP = max(t.long_window for t in TIERS if t.severity == "ticket")
SEVERITY_ORDER = ("page", "ticket")  # worst first

SPAN_SCHEMA = {
    "slo": pl.String, "severity": pl.String, "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
    "ongoing": pl.Boolean, "episodes": pl.Int64, "peak_burn": pl.Float64, "budget_consumed": pl.Float64,
}
INCIDENT_SCHEMA = {
    "incident": pl.Int64, "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"), "ongoing": pl.Boolean,
    "duration_min": pl.Float64, "severity": pl.String, "slos": pl.String, "lead_slo": pl.String,
    "budget_consumed": pl.Float64, "budget_by_slo": pl.String, "peak_burn": pl.Float64, "deployments": pl.String,
}


def budget_spent(e: Evaluation, start: datetime, end: datetime) -> float:
    """Bad units in the slots that ended in (start, end], as a share of the budget at the
    evaluation time (as analytics.slo.alerts.replay counts an episode's budget_consumed)."""
    if not e.status.budget > 0:
        return float("nan")
    bad = prefix(e.units.bad)
    i, j = e.grid.index(start), e.grid.index(end)
    return float(bad[max(j - 1, 0)] - bad[max(i - 1, 0)]) / e.status.budget


def slo_spans(evaluations: Sequence[Evaluation], gap: timedelta = GAP) -> pl.DataFrame:
    """Per SLO, its alert episodes merged into spans (``gap`` for pages, TICKET_GAP for tickets).

    Columns: slo, severity (the worst of its episodes), start, end (null while ongoing at the
    evaluation time), ongoing, episodes (how many were merged), peak_burn, budget_consumed
    (bad units in the span as a share of the window's budget).
    """
    rows = []
    for e in evaluations:
        at = e.status.at
        current = None
        for ep in e.episodes.sort("start").iter_rows(named=True):
            end = ep["end"] or at
            joins = gap if ep["severity"] == "page" else max(gap, TICKET_GAP)
            if current and ep["start"] <= current["_end"] + joins:
                current["_end"] = max(current["_end"], end)
                current["ongoing"] |= ep["ongoing"]
                current["episodes"] += 1
                current["peak_burn"] = max(current["peak_burn"], ep["peak_burn"])
                if SEVERITY_ORDER.index(ep["severity"]) < SEVERITY_ORDER.index(current["severity"]):
                    current["severity"] = ep["severity"]
                continue
            current = {"slo": e.slo.name, "severity": ep["severity"], "start": ep["start"], "_end": end,
                       "ongoing": ep["ongoing"], "episodes": 1, "peak_burn": ep["peak_burn"], "_e": e}
            rows.append(current)
    out = [{k: v for k, v in r.items() if not k.startswith("_")}
           | {"end": None if r["ongoing"] else r["_end"], "budget_consumed": budget_spent(r["_e"], r["start"], r["_end"])}
           for r in rows]
    return pl.DataFrame(out, schema=SPAN_SCHEMA).sort("start", "slo")


def group(spans: pl.DataFrame, at: datetime, gap: timedelta = GAP) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Group SLO spans into incidents; returns (incidents, spans with an ``incident`` column).

    ``spans`` is ``slo_spans`` plus ``deployments`` (List[String]: the deployments the span
    affected) and ``scope_size`` (deployments in the SLO's scope). Spans overlapping in time
    within ``gap`` and sharing a deployment are one incident; ongoing spans run to ``at``.

    Incident columns: incident (1, 2, ... by start), start, end (null while ongoing), ongoing,
    duration_min, severity (page or ticket, the worst), slos (by budget consumed), lead_slo
    (the SLO with the widest scope, then the most budget consumed: the one attribution judges),
    budget_consumed (the largest share of one SLO's budget), budget_by_slo (text), peak_burn,
    deployments (affected, comma-separated).
    """
    if spans.is_empty():
        return pl.DataFrame(schema=INCIDENT_SCHEMA), spans.with_columns(pl.lit(None, pl.Int64).alias("incident"))
    rows = spans.with_columns(pl.col("end").fill_null(at).alias("_end")).sort("start", "slo").to_dicts()
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(rows):
        for j in range(i + 1, len(rows)):
            b = rows[j]
            if b["start"] > a["_end"] + gap:
                continue
            if a["start"] <= b["_end"] + gap and set(a["deployments"]) & set(b["deployments"]):
                parent[find(j)] = find(i)
    members: dict[int, list[dict]] = {}
    for i, r in enumerate(rows):
        members.setdefault(find(i), []).append(r)
    incidents = []
    ids = []
    for n, (_, group_rows) in enumerate(sorted(members.items(), key=lambda kv: min(r["start"] for r in kv[1])), 1):
        start, end = min(r["start"] for r in group_rows), max(r["_end"] for r in group_rows)
        ongoing = any(r["ongoing"] for r in group_rows)
        by_budget = sorted(group_rows, key=lambda r: -(r["budget_consumed"] or 0.0))
        lead = max(group_rows, key=lambda r: (r["scope_size"], r["budget_consumed"] or 0.0))
        incidents.append({
            "incident": n, "start": start, "end": None if ongoing else end, "ongoing": ongoing,
            "duration_min": (end - start) / timedelta(minutes=1),
            "severity": min((r["severity"] for r in group_rows), key=SEVERITY_ORDER.index),
            "slos": ", ".join(r["slo"] for r in by_budget), "lead_slo": lead["slo"],
            "budget_consumed": by_budget[0]["budget_consumed"],
            "budget_by_slo": ", ".join(f"{r['slo']} {r['budget_consumed']:.0%}" for r in by_budget),
            "peak_burn": max(r["peak_burn"] for r in group_rows),
            "deployments": ", ".join(sorted({d for r in group_rows for d in r["deployments"]})),
        })
        ids += [(r["slo"], r["start"], n) for r in group_rows]
    key = pl.DataFrame(ids, schema={"slo": pl.String, "start": pl.Datetime("us", "UTC"), "incident": pl.Int64},
                       orient="row")
    return pl.DataFrame(incidents, schema=INCIDENT_SCHEMA), spans.join(key, on=["slo", "start"], how="left")
