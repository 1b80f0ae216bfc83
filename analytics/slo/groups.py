"""SLO groups: the SLOs of a file rolled up by one of their labels (team, service, tier...).

Per label value: the worst state of its SLOs (analytics.slo.state.STATES order), the budget
spent weighted by valid events, and how many SLOs it holds. SLOs without the label form one
group whose value is missing (null).

Budget spent of one SLO = 1 - budget remaining = bad / ((1 - target) x valid) (SRE Workbook
ch. 2), in units of its own budget; a group's is the mean of its SLOs' weighted by their valid
events in the window, sum(spent_i x events_i) / sum(events_i), so a busy SLO counts for more
than a quiet one (SLOs with no valid events do not count; a group of them has none).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from analytics.slo.evaluation import Evaluation
from analytics.slo.spec import Slo
from analytics.slo.state import RANK

SCHEMA = {"group": pl.String, "state": pl.String, "budget_spent": pl.Float64, "slo_count": pl.Int64,
          "valid_events": pl.Float64, "slo_names": pl.String}


def label_keys(slos: Sequence[Slo]) -> list[str]:
    """Every label key some SLO has, sorted: what SLOs can be grouped by."""
    return sorted({key for slo in slos for key, _ in slo.labels})


def roll_up(evaluations: Sequence[Evaluation], key: str) -> pl.DataFrame:
    """One row per value of label ``key``, worst state first, then most budget spent."""
    members: dict[str | None, list[Evaluation]] = {}
    for e in evaluations:
        members.setdefault(e.slo.label(key), []).append(e)
    rows = []
    for value, group in members.items():
        weighted = [(1.0 - e.status.remaining, e.status.events) for e in group
                    if e.status.events > 0 and not math.isnan(e.status.remaining)]
        events = sum(n for _, n in weighted)
        rows.append({
            "group": value,
            "state": min((e.state for e in group), key=RANK.__getitem__),
            "budget_spent": sum(spent * n for spent, n in weighted) / events if events else None,
            "slo_count": len(group),
            "valid_events": sum(e.status.events for e in group),
            "slo_names": ", ".join(sorted(e.slo.name for e in group)),
        })
    frame = pl.DataFrame(rows, schema=SCHEMA)
    return (frame.with_columns(pl.col("state").replace_strict(RANK, return_dtype=pl.Int8).alias("_rank"))
            .sort(["_rank", "budget_spent", "group"], descending=[False, True, False], nulls_last=True)
            .drop("_rank"))
