"""SQL of exported burn-rate alert rules: one tier of one SLO, evaluated by another system.

The text runs in Grafana's ClickHouse data source, not through Store.query, so it cannot bind
parameters: the evaluation time is the data source's ``$__toTime`` macro (the end of the rule's
query range, i.e. the evaluation instant; Grafana ClickHouse plugin, "Macros"), and the scope
(deployment and region names, resolved when exporting) is rendered as literals by
:func:`string_literal`, the one place a name becomes SQL. Numbers are rendered with repr.

The arithmetic is analytics.slo.alerts / analytics.slo.budget's, for occurrence budgeting
(Google SRE Workbook, ch. 5 "Alerting on SLOs", "6: Multiwindow, Multi-Burn-Rate Alerts"):
- the instant is floored to the 5-minute slot (analytics.slo.spec.evaluation_time), and a window
  of length L holds the slots that started in [at - L, at) (analytics.slo.budget.trailing);
- burn rate = (bad / valid) / (1 - target) per window, NaN without valid events (burn_rates);
- the tier fires when both burns exceed the threshold and the long window holds at least
  max(min_events, 1) valid events (analytics.slo.alerts.states_at; NaN counts as 0 there).

Good and valid events per slot come from the rollups with the app's definitions
(analytics.indicators, analytics.slo.sli.sli_counts): availability counts the status columns of
requests_5m; latency reads the field's histogram of valid events, good = the cumulative count at
the threshold's bucket (exact on a bucket edge; between edges the same log-linear interpolation
inside the straddled bucket as analytics.histogram.count_le, linear in the counts, so the sum
over slots equals the app's per-slot sum).
"""

from __future__ import annotations

from analytics import histogram
from analytics.indicators import AVAILABILITY, LATENCY
from analytics.store import conventions
from analytics.store.conventions import hist_column
from analytics.store.schema import HIST_MERGE

EVALUATION_TIME = "$__toTime"  # Grafana ClickHouse data source macro: the end of the query range


def string_literal(value: str) -> str:
    """A ClickHouse string literal: backslashes and quotes escaped (ClickHouse SQL reference,
    "Syntax", string literals)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _names(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(string_literal(v) for v in values) + "]"


def slot_counts_sql(kind: str, field: str | None, threshold_ms: float | None) -> tuple[str, str]:
    """(valid, good) SQL expressions per slot over the rows of requests_5m grouped by slot."""
    if kind == "availability":
        valid = " - ".join(["sum(requests)", *(f"sum({s})" for s in AVAILABILITY.invalid_statuses)])
        good = " + ".join(f"sum({s})" for s in AVAILABILITY.good_statuses)
        return f"toFloat64({valid})", f"toFloat64({good})"
    if kind == "latency" and field in LATENCY:
        hist = f"{HIST_MERGE}({hist_column(field)})"
        place = histogram.locate(threshold_ms)
        # arraySum over the first k+1 buckets = cumulative count at bucket k (ClickHouse arrays are 1-based)
        upper = f"arraySum(arraySlice({hist}, 1, {place.bucket + 1}))"
        if place.exact:
            good = upper
        else:
            lower = f"arraySum(arraySlice({hist}, 1, {place.bucket}))" if place.bucket else "0"
            good = f"{lower} + {place.fraction!r} * ({upper} - {lower})"
        return f"toFloat64(arraySum({hist}))", f"toFloat64({good})"
    raise ValueError(f"no rollup SQL for a {kind} SLI")


def windows_sql(kind: str, field: str | None, threshold_ms: float | None, deployments: tuple[str, ...],
                regions: tuple[str, ...], target: float, long_seconds: int, short_seconds: int) -> str:
    """One row at the evaluation time: burn_long, burn_short (NaN without valid events) and
    events_long (valid events in the long window)."""
    valid, good = slot_counts_sql(kind, field, threshold_ms)
    region_filter = f"\n      AND has({_names(regions)}, region)" if regions else ""
    allowance = repr(1.0 - target)

    def burn(seconds: int) -> str:
        inside = f"slot >= at - INTERVAL {seconds} SECOND"
        return (f"if(sumIf(valid, {inside}) > 0, "
                f"(sumIf(valid, {inside}) - sumIf(good, {inside})) / sumIf(valid, {inside}) / {allowance}, nan)")

    return f"""WITH toDateTime64(toStartOfInterval({EVALUATION_TIME}, INTERVAL {conventions.SLOT_SECONDS} SECOND), 0, 'UTC') AS at
SELECT
  {burn(long_seconds)} AS burn_long,
  {burn(short_seconds)} AS burn_short,
  sumIf(valid, slot >= at - INTERVAL {long_seconds} SECOND) AS events_long
FROM (
  SELECT slot, {valid} AS valid, {good} AS good
  FROM {conventions.REQUESTS_5M}
  WHERE slot >= at - INTERVAL {long_seconds} SECOND AND slot < at
      AND has({_names(deployments)}, deployment){region_filter}
  GROUP BY slot
)"""


def rule_sql(windows: str, min_events: int) -> str:
    """One number for the alert rule's threshold: the smaller of the two burns (both exceed the
    threshold exactly when the smaller does; NaN counts as 0), 0 when the long window holds fewer
    than max(min_events, 1) valid events (the minimum-traffic guard)."""
    return f"""SELECT if(events_long >= {max(int(min_events), 1)}, least(if(isNaN(burn_long), 0, burn_long), if(isNaN(burn_short), 0, burn_short)), 0) AS burn
FROM (
{windows}
)"""
