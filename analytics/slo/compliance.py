"""Did a slot meet its objective? The one answer, used by every view.

A slot is any time step (a 5-minute slot, an hour, a budgeting slice). It meets an objective
when its SLI, good events / valid events (Google SRE Workbook, ch. 2 "Implementing SLOs"),
reaches the objective's target; it is only judged when it holds at least ``min_events`` valid
events (fewer make the ratio noise). Between histogram bucket edges the SLI is only known
within bounds, so each verdict comes as the estimate and as the verdicts on both bounds.

Users: timeslice budgeting (analytics.slo.budget: a slice is good when it meets the slice
target, OpenSLO "Timeslices"), the SLO detail's hourly series, capacity (the hours whose load
counts as SLO-compliant throughput) and the GPU views (right-sizing evidence, goodput per GPU),
the last two over a deployment's objectives (analytics.slo.objectives).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics import histogram
from analytics.slo.sli import SliCounts, SliInputs, histogram_counts, sli_counts
from analytics.slo.spec import Slo
from analytics.store.conventions import LATENCY_FIELDS

# Fewer valid events than this in an hour: its attainment is noise, the hour is not judged.
MIN_EVENTS_PER_HOUR = 20


@dataclass(frozen=True)
class Compliance:
    """Per slot: SLI (estimate and bounds, NaN without valid events), judged, met."""

    attainment: np.ndarray
    attainment_lower: np.ndarray
    attainment_upper: np.ndarray
    evaluable: np.ndarray  # valid events >= min_events
    met: np.ndarray  # evaluable and the estimate reaches the target
    met_lower: np.ndarray  # evaluable and even the lower bound reaches it (met for certain)
    met_upper: np.ndarray  # evaluable and the upper bound reaches it (possibly met)


def slot_compliance(counts: SliCounts, target: float, min_events: float = 1) -> Compliance:
    """Per slot: attainment = good / valid and whether it reaches ``target`` (a ratio)."""
    valid = np.asarray(counts.valid, dtype=np.float64)
    evaluable = valid >= max(min_events, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = [np.where(valid > 0, np.asarray(g, dtype=np.float64) / np.where(valid > 0, valid, 1.0), np.nan)
                  for g in (counts.good, counts.good_lower, counts.good_upper)]
    met = [evaluable & (np.nan_to_num(r, nan=-1.0) >= target) for r in ratios]
    return Compliance(*ratios, evaluable, *met)


@dataclass(frozen=True)
class ObjectivesMet:
    """Per slot, over all of a deployment's objectives."""

    evaluable: np.ndarray  # every objective was judged
    met: np.ndarray  # judged and every objective met (estimate)
    attainment: np.ndarray  # the lowest attainment among the objectives (NaN without events)


def objectives_met(inputs: SliInputs, objectives: Sequence[Slo],
                   min_events: float = MIN_EVENTS_PER_HOUR) -> ObjectivesMet:
    """Per slot: whether every objective was met, each judged by :func:`slot_compliance` with
    its own SLI and target. Without objectives nothing is judged."""
    n = len(inputs.requests)
    if not objectives:
        return ObjectivesMet(np.zeros(n, bool), np.zeros(n, bool), np.full(n, np.nan))
    evaluable, met, worst = np.ones(n, bool), np.ones(n, bool), np.full(n, np.inf)
    for slo in objectives:
        c = slot_compliance(sli_counts(inputs, slo.sli), slo.target, min_events)
        evaluable &= c.evaluable
        met &= c.met
        worst = np.fmin(worst, c.attainment)
    worst = np.where(np.isinf(worst), np.nan, worst)
    return ObjectivesMet(evaluable, evaluable & met, worst)


def request_conditions(objectives: Sequence[Slo]) -> dict[str, float]:
    """The per-request latency conditions of a set of objectives: the strictest threshold per
    field (a request meeting ttft <= 600 ms also meets ttft <= 2000 ms). Availability adds none."""
    conditions: dict[str, float] = {}
    for slo in objectives:
        sli = slo.sli
        pairs = {"latency": ((sli.field, sli.threshold_ms),),
                 "goodput": (("ttft_ms", sli.ttft_ms), ("tpot_ms", sli.tpot_ms))}.get(sli.kind, ())
        for field, ms in pairs:
            conditions[field] = min(float(ms), conditions.get(field, float("inf")))
    return {f: conditions[f] for f in LATENCY_FIELDS if f in conditions}


def good_requests(inputs: SliInputs, objectives: Sequence[Slo]) -> np.ndarray:
    """Per slot: 'ok' requests meeting every latency condition of the objectives (DistServe's good
    requests, Zhong et al., OSDI'24), NaN where the objectives set no condition.

    The count is analytics.slo.sli.histogram_counts' estimate, the same function and bound a
    latency or goodput objective's verdict reads (:func:`objectives_met` via sli_counts): for a
    deployment judged by one latency or goodput objective, goodput per GPU counts exactly the good
    requests its hourly verdict judged. Exact for one field at a bucket edge; otherwise an estimate
    within the Frechet bounds (see histogram_counts for the bounds and the choice).
    """
    conditions = request_conditions(objectives)
    if not conditions:
        return np.full(len(inputs.requests), np.nan)
    return np.asarray(histogram_counts(inputs, conditions).good, dtype=np.float64)


def describe_conditions(objectives: Sequence[Slo]) -> str | None:
    """E.g. 'ttft_ms <= 600 ms and tpot_ms <= 30 ms (estimate)'; None without conditions."""
    conditions = request_conditions(objectives)
    if not conditions:
        return None
    text = " and ".join(f"{field} <= {ms:g} ms" for field, ms in conditions.items())
    if len(conditions) > 1 or not all(histogram.is_edge(ms) for ms in conditions.values()):
        text += " (estimate)"
    return text
