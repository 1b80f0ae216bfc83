"""SLO groups: the SLOs of a file rolled up by one of their labels (team, service, tier...).

Per label value: the worst state of its SLOs (analytics.slo.state.STATES order), the budget
spent weighted by valid events, how many SLOs it holds and how many of them are breached. SLOs
without the label form one group whose value is missing (null).

Budget spent of one SLO = 1 - budget remaining = bad / ((1 - target) x valid) (SRE Workbook
ch. 2), in units of its own budget; a group's is the mean of its SLOs' weighted by their valid
events in the window, sum(spent_i x events_i) / sum(events_i), so a busy SLO counts for more
than a quiet one (SLOs with no valid events do not count; a group of them has none). The SLOs
page rolls up the whole window (window_spent); the weekly review one week (analytics.review.weekly).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import polars as pl

from analytics.slo.evaluation import Evaluation
from analytics.slo.spec import Slo
from analytics.slo.state import RANK

SCHEMA = {"group": pl.String, "state": pl.String, "budget_spent": pl.Float64, "slo_count": pl.Int64,
          "slos_breached": pl.Int64, "valid_events": pl.Float64, "slo_names": pl.String}
Spent = Callable[[Evaluation], tuple[float, float]]  # an SLO's (budget spent, valid events) over some span


def label_keys(slos: Sequence[Slo]) -> list[str]:
    """Every label key some SLO has, sorted: what SLOs can be grouped by."""
    return sorted({key for slo in slos for key, _ in slo.labels})


def window_spent(e: Evaluation) -> tuple[float, float]:
    """Budget spent over the SLO's window (1 - budget remaining) and its valid events there."""
    return 1.0 - e.status.remaining, e.status.events


def roll_up(evaluations: Sequence[Evaluation], key: str, spent: Spent = window_spent) -> pl.DataFrame:
    """One row per value of label ``key``, worst state first, then most budget spent; ``spent``
    gives each SLO's budget spent and valid events (default: over its window)."""
    members: dict[str | None, list[Evaluation]] = {}
    for e in evaluations:
        members.setdefault(e.slo.label(key), []).append(e)
    rows = []
    for value, group in members.items():
        measured = [spent(e) for e in group]
        weighted = [(share, n) for share, n in measured if n > 0 and not math.isnan(share)]
        events = sum(n for _, n in weighted)
        rows.append({
            "group": value,
            "state": min((e.state for e in group), key=RANK.__getitem__),
            "budget_spent": sum(share * n for share, n in weighted) / events if events else None,
            "slo_count": len(group),
            "slos_breached": sum(e.state == "breached" for e in group),
            "valid_events": sum(n for _, n in measured),
            "slo_names": ", ".join(sorted(e.slo.name for e in group)),
        })
    frame = pl.DataFrame(rows, schema=SCHEMA)
    return (frame.with_columns(pl.col("state").replace_strict(RANK, return_dtype=pl.Int8).alias("_rank"))
            .sort(["_rank", "budget_spent", "group"], descending=[False, True, False], nulls_last=True)
            .drop("_rank"))
