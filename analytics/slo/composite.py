"""Composite SLOs: one SLO made of other SLOs of the file (analytics.slo.spec.Composite).

Two methods, those of OpenSLO's composite SLO proposal (OpenSLO/OpenSLO#142, #182: objectives
with weights) as Elastic names them (weightedAverage, leastHealthy):

- ``weighted_average``: per 5-minute slot, the composite's SLI is the weighted mean of its
  objectives' attainment in that slot, good_i / valid_i (each objective's own SLI counts, whatever
  its budgeting). It is fed to the budget and alert code as counts, so the composite has its own
  attainment, error budget, burn rates and alert tiers from the same functions as any SLO:

      valid_t = sum of w_i over the objectives with valid events in slot t
      good_t  = sum of w_i x good_i,t / valid_i,t over the same objectives

  Then good / valid over any window is the mean of the slots' weighted attainment, each slot
  weighted by the weight it measured, and budget = (1 - target) x valid (SRE Workbook ch. 2)
  is in weight-slots. An objective without valid events in a slot is left out of that slot's mean
  (its weight too): no events measure nothing, as a slice without events counts as neither good nor
  bad in OpenSLO's timeslice budgeting (analytics.slo.budget), so an idle objective neither props
  up nor drags down a busy one. A slot where no objective has events has valid 0.
  The minimum-traffic guard and the roll-ups count real events: the objectives' valid events summed.
- ``least_healthy``: the composite's state, budget, burn rates and alerts are those of its
  objective with the most budget spent (1 - budget remaining), under that objective's target,
  window and budgeting; objectives with nothing measured come last, ties go to file order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from analytics.slo.sli import SliCounts
from analytics.slo.spec import Composite

SOURCE = "composite"  # SliCounts.source of a composite's counts: its objectives' evaluations


def weighted_counts(composite: Composite, counts: Mapping[str, SliCounts]) -> SliCounts:
    """Per slot good and valid of a weighted_average composite from its objectives' SLI counts
    (module docstring): valid = the weights of the objectives with events, good = their weighted attainment."""
    first = counts[composite.components[0].slo]
    n = len(first.valid)
    valid = np.zeros(n)
    goods = [np.zeros(n) for _ in range(3)]  # estimate, lower and upper bound
    for component in composite.components:
        c = counts[component.slo]
        has = c.valid > 0
        safe = np.where(has, c.valid, 1.0)
        valid += np.where(has, component.weight, 0.0)
        for total, good in zip(goods, (c.good, c.good_lower, c.good_upper), strict=True):
            total += np.where(has, component.weight * good / safe, 0.0)
    exact = all(counts[c.slo].exact for c in composite.components)
    return SliCounts(*goods, valid, exact, SOURCE)


def traffic(composite: Composite, events: Mapping[str, np.ndarray]) -> np.ndarray:
    """Valid events per slot of the objectives summed: the composite's traffic, for the
    minimum-traffic guard and the event-weighted roll-ups."""
    return np.sum([np.asarray(events[c.slo], dtype=np.float64) for c in composite.components], axis=0)


def least_healthy(composite: Composite, spent: Mapping[str, float]) -> str:
    """The objective with the most budget spent (a share of its budget; NaN: nothing measured,
    ranked last); ties go to the first in the file."""
    def rank(i_name: tuple[int, str]) -> tuple[float, int]:
        i, name = i_name
        value = spent[name]
        return (-math.inf if math.isnan(value) else value, -i)

    return max(enumerate(composite.names), key=rank)[1]

