"""An SLO's state: the one rule set the CLI, the SLOs page, the Overview's attention list and the
weekly review all use. Its states are analytics.states.SLO_STATES (the fleet's list without the
capacity states, in the same order):

- ``breached``: the window's error budget is spent (remaining < 0).
- ``paging`` / ``ticket``: a multiwindow burn-rate tier of that severity fires now
  (analytics.slo.alerts.TIERS).
- ``at risk``: the budget is not spent, but its remaining share or its time to exhaustion is
  under the SLO's thresholds (analytics.slo.spec.Thresholds, set per SLO file).
- ``partial history``: the loaded data covers too little of the window for its budget to judge.
- ``no data``: no valid events in the window (nothing was measured).
- ``ok``: none of the above.

A budget verdict (breached, at risk) needs the window covered; firing tiers outrank a partial
history (burn rates use windows of at most 3 days), and a breach outranks a firing tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from analytics.slo.alerts import TierState
from analytics.slo.budget import Status
from analytics.slo.spec import Slo
from analytics.states import SEVERITY_STATES


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
        return "breached", (f"budget overspent: {-s.remaining:.0%} beyond the budget; "
                            f"attainment {s.attainment:.3%} < target {s.target:.3%}")
    for severity, state in SEVERITY_STATES.items():
        tiers = [a for a in firing if a.tier.severity == severity]
        if tiers:
            worst = max(tiers, key=lambda a: a.burn_long / a.threshold if a.threshold else 0.0)
            return state, (f"burn rate {worst.burn_long:.1f}x over {worst.tier.label} "
                           f"(threshold {worst.threshold:.1f}x); budget remaining {s.remaining:.0%}")
    if not covered:
        return "partial history", (f"data covers {s.coverage:.0%} of the {window} window; attainment "
                                   f"{s.attainment:.3%} over that part (target {s.target:.3%})")
    tte = s.time_to_exhaustion
    if s.remaining < thresholds.budget_remaining:
        return "at risk", (f"budget remaining {s.remaining:.0%} < {thresholds.budget_remaining:.0%}"
                           + (f"; exhausted in {_hours(tte)} at the current burn" if tte is not None else ""))
    if tte is not None and tte < thresholds.time_to_exhaustion:
        return "at risk", (f"budget ({s.remaining:.0%} left) exhausted in {_hours(tte)} at the current 1h burn "
                           f"rate {s.burn_rate_1h:.1f}x (< {_hours(thresholds.time_to_exhaustion)})")
    return "ok", f"budget remaining {s.remaining:.0%}; attainment {s.attainment:.3%} (target {s.target:.3%})"
