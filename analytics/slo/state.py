"""Every state a thing on the dashboard can be in, worst first, how each one looks, and the rule
set that gives an SLO its state: the one list the CLI, the SLOs page, the fleet verdicts
(analytics.review.verdicts, which judge capacity with the capacity states), the Overview's
attention list and the weekly review all use.

States, worst first (``STATES``):

- ``breached``: an SLO's window error budget is spent (remaining < 0).
- ``paging`` / ``ticket``: a multiwindow burn-rate tier of that severity fires now
  (analytics.slo.alerts.TIERS).
- ``short now``: a deployment's expected demand exceeds its SLO-compliant capacity within a day of
  the forecast start (the next daily peak), or a GPU pool needs more GPUs than it has this week.
- ``at risk``: the budget is not spent, but its remaining share or its time to exhaustion is
  under the thresholds of its SLO file (analytics.slo.spec.Thresholds).
- ``short soon``: capacity or headroom runs out later within the forecast horizon.
- ``watch``: a deployment no SLO watches: its error rate or a latency p99 got significantly
  worse than in the previous period, or its GPUs' peak memory leaves under the headroom floor
  (analytics.review.verdicts.uncovered_verdicts, memory_verdicts).
- ``partial history``: the loaded data covers too little of the window for its budget to judge.
- ``no data``: nothing was measured (no valid events; capacity throughput unknown).
- ``ok``: none of the above.

An SLO at risk (budget nearly gone, users already affected) outranks a capacity shortfall the
forecast puts days ahead; demand over capacity now outranks a ticket. For an SLO (``judge``), a
budget verdict (breached, at risk) needs the window covered; firing tiers outrank a partial
history (burn rates use windows of at most 3 days), and a breach outranks a firing tier. Every
state has a label, a shape and a colour in ``STYLE``, so pages never tell states apart by colour
alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from analytics import columns  # numbers in a reason read as in every table and card
from analytics.slo.alerts import TierState
from analytics.slo.budget import Status
from analytics.slo.spec import Slo

STATES = ("breached", "paging", "short now", "ticket", "at risk", "short soon", "watch", "partial history", "no data",
          "ok")
RANK = {state: i for i, state in enumerate(STATES)}
# The states a capacity outlook or a GPU pool can be short in: the Capacity page's headline and warnings.
SHORT = ("short now", "short soon")
# What a deployment outside every SLO, or its GPUs' memory, can need: a look.
WATCH = "watch"
# The states an SLO can be in (judge, below), in the same order.
SLO_STATES = tuple(s for s in STATES if s not in (*SHORT, WATCH))
# The state an alert tier of each severity (analytics.slo.alerts.SEVERITIES) puts an SLO in while it
# fires; charts draw a severity in its state's colour.
SEVERITY_STATES = {"page": "paging", "ticket": "ticket"}
# What the Overview's attention list shows: firing, at risk, short, or worth a look.
ATTENTION = ("breached", "paging", "short now", "ticket", "at risk", "short soon", "watch")


@dataclass(frozen=True)
class Style:
    """How a state looks on every page: a label, a shape, a colour, and the nearest of the colours
    Streamlit's markdown knows (``:red[...]``), for badges in page text."""

    label: str
    icon: str
    colour: str
    markdown: str


# Shapes differ per state, so the state reads without colour (WCAG 2.1 SC 1.4.1 "Use of Color").
# Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), which stays
# distinguishable under protanopia, deuteranopia and tritanopia; states of one severity share a
# colour and differ in shape.
STYLE = {
    "breached": Style("Breached", "✖", "#D55E00", "red"),  # vermillion
    "paging": Style("Paging", "▲", "#CC79A7", "violet"),  # reddish purple
    "short now": Style("Short now", "■", "#D55E00", "red"),
    "ticket": Style("Ticket", "◆", "#E69F00", "orange"),  # orange
    "at risk": Style("At risk", "◐", "#F0E442", "orange"),  # yellow
    "short soon": Style("Short soon", "◪", "#F0E442", "orange"),
    "watch": Style("Watch", "◇", "#E69F00", "orange"),
    "partial history": Style("Partial history", "◔", "#56B4E9", "blue"),  # sky blue; part-filled (a dotted circle read as "No data" at text size)
    "no data": Style("No data", "○", "#999999", "gray"),  # grey
    "ok": Style("OK", "✔", "#009E73", "green"),  # bluish green
}


def severity_colour(severity: str) -> str:
    """The colour of an alert severity ('page', 'ticket'): its firing state's colour."""
    return STYLE[SEVERITY_STATES[severity]].colour


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


def _hours(span: timedelta) -> str:
    hours = span / timedelta(hours=1)
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def judge(s: Status, firing: Sequence[TierState], slo: Slo) -> tuple[str, str]:
    """An SLO's state at its evaluation time and why, in one sentence with the numbers.

    s: its budget status (analytics.slo.budget.Status; coverage is the share of the window the
    data covers); firing: the alert tiers firing now; slo: gives the window and the thresholds
    (``slo.thresholds``, from its SLO file).
    """
    window, thresholds = slo.window.label, slo.thresholds
    if not s.valid:
        return "no data", f"no valid events in the {window} window"
    covered = s.coverage >= thresholds.min_covered
    if covered and s.remaining < 0:
        return "breached", (f"budget overspent: {columns.text('budget_remaining', -s.remaining)} beyond the budget; "
                            f"attainment {columns.text('attainment', s.attainment)} < target {columns.text('target', s.target)}")
    for severity, state in SEVERITY_STATES.items():
        tiers = [a for a in firing if a.tier.severity == severity]
        if tiers:
            worst = max(tiers, key=lambda a: a.burn_long / a.threshold if a.threshold else 0.0)
            return state, (f"burn rate {columns.text('burn_rate', worst.burn_long)} over {worst.tier.label} "
                           f"(threshold {columns.text('burn_rate', worst.threshold)}); "
                           f"budget remaining {columns.text('budget_remaining', s.remaining)}")
    if not covered:
        return "partial history", (f"data covers {columns.text('window_covered', s.coverage)} of the {window} window; "
                                   f"attainment {columns.text('attainment', s.attainment)} over that part "
                                   f"(target {columns.text('target', s.target)})")
    tte = s.time_to_exhaustion
    if s.remaining < thresholds.budget_remaining:
        return "at risk", (f"budget remaining {columns.text('budget_remaining', s.remaining)} < "
                           f"{columns.text('budget_remaining', thresholds.budget_remaining)}"
                           + (f"; exhausted in {_hours(tte)} at the current burn" if tte is not None else ""))
    if tte is not None and tte < thresholds.time_to_exhaustion:
        return "at risk", (f"budget ({columns.text('budget_remaining', s.remaining)} left) exhausted in {_hours(tte)} at "
                           f"the current 1h burn rate {columns.text('burn_rate', s.burn_rate_1h)} "
                           f"(< {_hours(thresholds.time_to_exhaustion)})")
    return "ok", (f"budget remaining {columns.text('budget_remaining', s.remaining)}; attainment "
                  f"{columns.text('attainment', s.attainment)} (target {columns.text('target', s.target)})")
