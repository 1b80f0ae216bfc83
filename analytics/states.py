"""Every state a thing on the dashboard can be in, worst first, and how each one looks: the one
list the SLO rule set (analytics.slo.state), the fleet verdicts (analytics.review.verdicts), the
CLI, the pages and the weekly review share.

States, worst first (``STATES``):

- ``breached``: an SLO's window error budget is spent (remaining < 0).
- ``paging`` / ``ticket``: a multiwindow burn-rate tier of that severity fires now
  (analytics.slo.alerts.TIERS).
- ``short now``: a deployment's expected demand exceeds its SLO-compliant capacity within a day of
  the forecast start (the next daily peak), or a GPU pool needs more GPUs than it has this week.
- ``at risk``: the budget is not spent, but its remaining share or its time to exhaustion is
  under the thresholds of its SLO file (analytics.slo.spec.Thresholds).
- ``short soon``: capacity or headroom runs out later within the forecast horizon.
- ``partial history``: the loaded data covers too little of the window for its budget to judge.
- ``no data``: nothing was measured (no valid events; capacity throughput unknown).
- ``ok``: none of the above.

An SLO at risk (budget nearly gone, users already affected) outranks a capacity shortfall the
forecast puts days ahead; demand over capacity now outranks a ticket. Every state has a label, a
shape and a colour in ``STYLE``, so pages never tell states apart by colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

STATES = ("breached", "paging", "short now", "ticket", "at risk", "short soon", "partial history", "no data", "ok")
RANK = {state: i for i, state in enumerate(STATES)}
# The states a capacity outlook or a GPU pool can be short in: the Capacity page's headline and warnings.
SHORT = ("short now", "short soon")
# The states an SLO can be in (analytics.slo.state.judge), in the same order.
SLO_STATES = tuple(s for s in STATES if s not in SHORT)
# The state an alert tier of each severity (analytics.slo.alerts.SEVERITIES) puts an SLO in while it
# fires; charts draw a severity in its state's colour.
SEVERITY_STATES = {"page": "paging", "ticket": "ticket"}
# What the Overview's attention list shows: firing, at risk or short.
ATTENTION = ("breached", "paging", "short now", "ticket", "at risk", "short soon")


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
    "partial history": Style("Partial history", "◌", "#56B4E9", "blue"),  # sky blue
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
