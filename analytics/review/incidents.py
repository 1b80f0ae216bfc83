"""Incidents, fleet-wide: alert episodes of every SLO, flaps merged, grouped across SLOs.

Two steps, both on frames:

1. ``slo_spans``: per SLO, its page and ticket episodes (analytics.slo.alerts.replay) close
   together are one span: a flapping alert, and the ticket that outlives or re-fires after a
   page, are one event. An episode joins the span before it when it starts within ``gap`` of
   that span's end (page episodes), or within the ticket tiers' longest long window (ticket
   episodes: 3 days, analytics.slo.alerts.TIERS). A ticket re-firing that soon still has the
   span's bad events inside its own window, so it is the same burn, not a new one.
   A span's start and end are then where its budget burned, not when its alerts fired
   (``burn_stretch``): alerts fire after a burn starts and reset long after it stops (a 3d/6h
   ticket keeps re-firing for days after a 3-hour burst), so a span's alert times would make
   its incident, and the window its attribution reads, days too long.
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

import numpy as np
import polars as pl

from analytics.slo.alerts import TIERS
from analytics.slo.budget import prefix, slots_in
from analytics.slo.evaluation import Evaluation

GAP = timedelta(hours=1)
TICKET_GAP = max(t.long_window for t in TIERS if t.severity == "ticket")
LONG_WINDOWS = {t.label: t.long_window for t in TIERS}  # an episode's ``tiers`` label -> its windows
SHORT_WINDOWS = {t.label: t.short_window for t in TIERS}
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
    """Bad units in the slots of [start, end) (a week's first slot to its last, both included),
    as a share of the budget at the evaluation time."""
    if not e.status.budget > 0:
        return float("nan")
    bad = prefix(e.units.bad)
    return float(bad[e.grid.index(end)] - bad[e.grid.index(start)]) / e.status.budget


def burn_stretch(e: Evaluation, start: datetime, end: datetime,
                 ends_after: datetime | None = None) -> tuple[datetime, datetime] | None:
    """The stretch of [start, end) where the SLO's budget burned above rate 1 the most, ending at
    or after ``ends_after``, as (its first slot's start, its last slot's end); None when no such
    stretch burned above 1.

    A burn rate of 1 spends exactly the budget over the SLO's period (SRE Workbook ch. 5,
    "Alerting on SLOs", burn rate), so a slot burns above 1 when its bad units exceed the
    allowance (1 - target) x its valid units. The stretch is the run of slots whose excess
    (bad - allowance) sums highest: the maximum-sum subarray (Bentley, "Programming Pearls",
    2nd ed., column 8). It starts and ends on a slot burning above 1 and burns above 1 as a
    whole; a slot of background noise joins it only when the quieter slots between them do not
    cost more than it adds. For timeslice budgeting a slice's unit sits on its last slot
    (analytics.slo.budget.units), so the stretch starts at the first slice's first slot.
    """
    i, j = e.grid.index(start), e.grid.index(end)
    excess = prefix(e.units.bad[i:j] - (1.0 - e.slo.target) * e.units.valid[i:j])
    gain = excess - np.minimum.accumulate(excess)
    k = min(max(e.grid.index(ends_after) - i, 0), j - i) if ends_after else 0
    last = k + int(np.argmax(gain[k:]))  # the stretch ends at boundary `last` (the earliest best)
    if not gain[last] > 0:
        return None
    first = last - int(np.argmin(excess[last::-1]))  # from the latest lowest prefix before it
    per_unit = slots_in(e.slo.budgeting.slice) if e.slo.budgeting.slice else 1
    return e.grid.time(max(i + first - (per_unit - 1), 0)), e.grid.time(i + last)


def slo_spans(evaluations: Sequence[Evaluation], gap: timedelta = GAP) -> pl.DataFrame:
    """Per SLO, its alert episodes merged into spans (``gap`` for pages, TICKET_GAP for tickets),
    each running where its budget burned.

    Columns: slo, severity (the worst of its episodes), start and end (the span's burn_stretch
    within its alerts' reach: from one long window before its first alert, the longest of the
    tiers that fired in it, as a tier fires on the burn inside its long window, but not before
    the SLO's previous span ended, to its last alert's end; and ending no earlier than one
    short window before its first alert, as a tier fires only while its short window still sees
    the burn (SRE Workbook ch. 5, multiwindow alerts); the alert times when nothing there
    burned above rate 1; end is null while the alerts are ongoing at the evaluation time),
    ongoing, episodes (how many were merged), peak_burn, budget_consumed (bad units in the span
    as a share of the window's budget).
    """
    rows = []
    for e in evaluations:
        at = e.status.at
        current = None
        for ep in e.episodes.sort("start").iter_rows(named=True):
            end = ep["end"] or at
            tiers = {t for t in ep["tiers"].split(", ") if t}
            joins = gap if ep["severity"] == "page" else max(gap, TICKET_GAP)
            if current and ep["start"] <= current["_end"] + joins:
                current["_end"] = max(current["_end"], end)
                current["ongoing"] |= ep["ongoing"]
                current["episodes"] += 1
                current["peak_burn"] = max(current["peak_burn"], ep["peak_burn"])
                current["_tiers"] |= tiers
                if SEVERITY_ORDER.index(ep["severity"]) < SEVERITY_ORDER.index(current["severity"]):
                    current["severity"] = ep["severity"]
                continue
            floor = current["_end"] if current else e.grid.start  # the burn of an earlier span is its own
            current = {"slo": e.slo.name, "severity": ep["severity"], "start": ep["start"], "_end": end,
                       "ongoing": ep["ongoing"], "episodes": 1, "peak_burn": ep["peak_burn"], "_e": e,
                       "_tiers": tiers, "_floor": floor}
            rows.append(current)
    out = []
    for r in rows:
        reach = max((LONG_WINDOWS[t] for t in r["_tiers"]), default=timedelta(0))
        recent = max((SHORT_WINDOWS[t] for t in r["_tiers"]), default=timedelta(0))
        start, end = (burn_stretch(r["_e"], max(r["start"] - reach, r["_floor"]), r["_end"], r["start"] - recent)
                      or (r["start"], r["_end"]))
        out.append({k: v for k, v in r.items() if not k.startswith("_")}
                   | {"start": start, "end": None if r["ongoing"] else end,
                      "budget_consumed": budget_spent(r["_e"], start, end)})
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
