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

Good and valid events per slot come from the stores the app reads, with its definitions
(analytics.store.indicators, analytics.slo.sli.sli_counts): availability counts the status columns of
requests_5m; latency reads the field's histogram of valid events, good = the cumulative count at
the threshold's bucket (exact on a bucket edge; between edges the same log-linear interpolation
inside the straddled bucket as analytics.histogram.count_le, linear in the counts, so the sum
over slots equals the app's per-slot sum); goodput counts the joint rollup's cells when both
thresholds are bucket edges, else the raw requests, exact either way (analytics.store.slo).
"""

from __future__ import annotations

from datetime import UTC, datetime

from analytics import histogram
from analytics.store import conventions
from analytics.store import corrections as store_corrections
from analytics.store.conventions import hist_column
from analytics.store.indicators import AVAILABILITY, GOODPUT, LATENCY, bucket_column
from analytics.store.schema import HIST_MERGE

EVALUATION_TIME = "$__toTime"  # Grafana ClickHouse data source macro: the end of the query range


def string_literal(value: str) -> str:
    """A ClickHouse string literal: backslashes and quotes escaped (ClickHouse SQL reference,
    "Syntax", string literals)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _names(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(string_literal(v) for v in values) + "]"


def _inline(sql: str, values: dict[str, str]) -> str:
    """SQL of analytics.store.indicators with its bound parameters ``{name:Type}`` replaced by literals."""
    for placeholder, literal in values.items():
        sql = sql.replace(placeholder, literal)
    if "{" in sql:
        raise ValueError(f"a bound parameter is left in {sql!r}")
    return sql


def slot_rows_sql(kind: str, field: str | None, thresholds_ms: tuple[float, ...], scope: str,
                  lookback_seconds: int) -> str:
    """Per 5-minute slot in [at - lookback, at): valid and good events of the SLI over the scope.

    Availability and latency read requests_5m; goodput the joint rollup when both thresholds are
    bucket edges, else the raw requests (as analytics.store.slo.goodput_slots)."""
    in_range = f"slot >= at - INTERVAL {lookback_seconds} SECOND AND slot < at"
    if kind == "availability":
        valid = " - ".join(["sum(requests)", *(f"sum({s})" for s in AVAILABILITY.invalid_statuses)])
        good = " + ".join(f"sum({s})" for s in AVAILABILITY.good_statuses)
        return _grouped(f"toFloat64({valid})", f"toFloat64({good})", conventions.REQUESTS_5M, in_range, scope)
    if kind == "latency" and field in LATENCY:
        hist = f"{HIST_MERGE}({hist_column(field)})"
        (threshold_ms,) = thresholds_ms
        place = histogram.locate(threshold_ms)
        # arraySum over the first k+1 buckets = cumulative count at bucket k (ClickHouse arrays are 1-based)
        upper = f"arraySum(arraySlice({hist}, 1, {place.bucket + 1}))"
        if place.exact:
            good = upper
        else:
            lower = f"arraySum(arraySlice({hist}, 1, {place.bucket}))" if place.bucket else "0"
            good = f"{lower} + {place.fraction!r} * ({upper} - {lower})"
        return _grouped(f"toFloat64(arraySum({hist}))", f"toFloat64({good})", conventions.REQUESTS_5M, in_range, scope)
    if kind == "goodput":
        located = {f: histogram.locate(ms) for f, ms in zip(GOODPUT.fields, thresholds_ms, strict=True)}
        if all(p.exact for p in located.values()):
            good = _inline(GOODPUT.bucket_good_sql(),
                           {f"{{{bucket_column(f)}:UInt8}}": str(p.bucket) for f, p in located.items()})
            return _grouped("toFloat64(sum(n))", f"toFloat64(sumIf(n, {good}))", conventions.GOODPUT_5M, in_range, scope)
        good = _inline(GOODPUT.good_sql(), {f"{{{p}:Float64}}": repr(float(ms))
                                            for p, ms in zip(GOODPUT.params, thresholds_ms, strict=True)})
        return f"""SELECT toDateTime64(toStartOfInterval(ts, INTERVAL {conventions.SLOT_SECONDS} SECOND), 0, 'UTC') AS slot,
      toFloat64(sum(weight)) AS valid, toFloat64(sumIf(weight, {good})) AS good
  FROM {conventions.REQUESTS}
  WHERE ts >= at - INTERVAL {lookback_seconds} SECOND AND ts < at AND {GOODPUT.valid_sql()}{scope}
  GROUP BY slot"""
    raise ValueError(f"no rollup SQL for a {kind} SLI")


def _grouped(valid: str, good: str, table: str, in_range: str, scope: str) -> str:
    return f"""SELECT slot, {valid} AS valid, {good} AS good
  FROM {table}
  WHERE {in_range}{scope}
  GROUP BY slot"""


def calendar_period_sql(unit: str, timezone: str) -> str:
    """Seconds in the calendar week or month judged at `at` in a time zone: the period holding the
    last instant before `at` (analytics.slo.spec.Window.start/end; `at` is slot-aligned, so one
    second before it lies in the same local day as one microsecond before), from local midnight
    to local midnight, so a DST change inside it counts."""
    zone = string_literal(timezone)
    local = f"toDateTime(at - INTERVAL 1 SECOND, {zone})"
    start = f"toStartOfWeek({local}, 1)" if unit == "week" else f"toStartOfMonth({local})"  # mode 1: Monday
    step = "INTERVAL 1 WEEK" if unit == "week" else "INTERVAL 1 MONTH"
    return f"dateDiff('second', toDateTime({start}, {zone}), toDateTime({start} + {step}, {zone}))"


def windows_sql(kind: str, field: str | None, thresholds_ms: tuple[float, ...], deployments: tuple[str, ...],
                regions: tuple[str, ...], target: float, long_seconds: int, short_seconds: int,
                period_seconds: str, method: str = "occurrences", slice_seconds: int = 0,
                slice_target: float | None = None, excluded: str = "") -> str:
    """One row at the evaluation time: burn_long, burn_short (NaN without valid units), events_long
    (valid events in the long window) and period_seconds (the SLO's period: a number for a rolling
    window, :func:`calendar_period_sql` for a calendar one). thresholds_ms: latency (threshold,),
    goodput (ttft, tpot), availability (). No deployments: every deployment. method, slice_seconds
    and slice_target: the SLO's budgeting (analytics.slo.spec.Budgeting; slices dividing a day).
    excluded: a predicate on ``slot`` true for the slots budget corrections cover (corrected_sql),
    whose events then count nowhere, as analytics.slo.sli.sli_counts drops them."""
    scope = f"\n      AND has({_names(deployments)}, deployment)" if deployments else ""
    if regions:
        scope += f"\n      AND has({_names(regions)}, region)"
    if excluded:
        scope += f"\n      AND NOT ({excluded})"
    allowance = repr(1.0 - target)
    if method == "occurrences":
        return _occurrence_windows(slot_rows_sql(kind, field, thresholds_ms, scope, long_seconds), allowance,
                                   long_seconds, short_seconds, period_seconds)
    rows = slot_rows_sql(kind, field, thresholds_ms, scope, long_seconds + slice_seconds)
    return _slice_windows(rows, allowance, long_seconds, short_seconds, period_seconds, method, slice_seconds,
                          slice_target)


_AT = f"WITH toDateTime64(toStartOfInterval({EVALUATION_TIME}, INTERVAL {conventions.SLOT_SECONDS} SECOND), 0, 'UTC') AS at"


def _occurrence_windows(rows: str, allowance: str, long_seconds: int, short_seconds: int, period_seconds: str) -> str:
    """Units are events: bad = valid - good per window."""
    def burn(seconds: int) -> str:
        inside = f"slot >= at - INTERVAL {seconds} SECOND"
        return (f"if(sumIf(valid, {inside}) > 0, "
                f"(sumIf(valid, {inside}) - sumIf(good, {inside})) / sumIf(valid, {inside}) / {allowance}, nan)")

    return f"""{_AT}
SELECT
  {burn(long_seconds)} AS burn_long,
  {burn(short_seconds)} AS burn_short,
  sumIf(valid, slot >= at - INTERVAL {long_seconds} SECOND) AS events_long,
  {period_seconds} AS period_seconds
FROM (
  {rows}
)"""


def _slice_windows(rows: str, allowance: str, long_seconds: int, short_seconds: int, period_seconds: str,
                   method: str, slice_seconds: int, slice_target: float | None) -> str:
    """Units are slices (analytics.slo.budget.units): a slice with valid events is one unit, placed at
    its last slot, so a window counts the complete slices whose last slot started inside it; its
    bad part is 1 when good / valid misses the slice target (timeslices; a slice is judged with
    >= 1 valid event, analytics.slo.compliance.slot_compliance) or 1 - good / valid
    (ratio_timeslices). Slices are aligned to UTC midnight, as the app's grid."""
    if method == "timeslices":
        bad = (f"toFloat64(slice_valid > 0 AND NOT (slice_valid >= 1 AND slice_good / slice_valid "
               f">= {float(slice_target)!r}))")
    elif method == "ratio_timeslices":
        bad = "if(slice_valid > 0, 1 - slice_good / slice_valid, 0)"
    else:
        raise ValueError(f"unknown budgeting method {method!r}")

    def burn(seconds: int) -> str:
        inside = f"last >= at - INTERVAL {seconds} SECOND AND last < at"
        return (f"if(sumIf(unit, {inside}) > 0, sumIf(bad, {inside}) / sumIf(unit, {inside}) / {allowance}, nan)")

    return f"""{_AT}
SELECT
  {burn(long_seconds)} AS burn_long,
  {burn(short_seconds)} AS burn_short,
  sum(events) AS events_long,
  {period_seconds} AS period_seconds
FROM (
  SELECT last, toFloat64(slice_valid > 0) AS unit, {bad} AS bad, events
  FROM (
    SELECT toStartOfInterval(slot, INTERVAL {slice_seconds} SECOND) + INTERVAL {slice_seconds - conventions.SLOT_SECONDS} SECOND AS last,
        sum(valid) AS slice_valid, sum(good) AS slice_good,
        sumIf(valid, slot >= at - INTERVAL {long_seconds} SECOND) AS events
    FROM (
      {rows}
    )
    GROUP BY last
  )
)"""


def rule_sql(windows: str, min_events: int, reference_seconds: int | None = None) -> str:
    """One number for the alert rule's threshold: the smaller of the two burns (both exceed the
    threshold exactly when the smaller does; NaN counts as 0), 0 when the long window holds fewer
    than max(min_events, 1) valid events (the minimum-traffic guard).

    Calendar windows (``reference_seconds`` given): a tier's threshold is budget_fraction x period /
    long window, and the period varies (a month's length, a DST change), so the number is the burn
    scaled by reference / period: it exceeds the threshold computed for the reference period
    exactly when the burn exceeds the threshold of the period at `at`."""
    scale = "" if reference_seconds is None else f" * {int(reference_seconds)} / period_seconds"
    return f"""SELECT if(events_long >= {max(int(min_events), 1)}, least(if(isNaN(burn_long), 0, burn_long), if(isNaN(burn_short), 0, burn_short)){scale}, 0) AS burn
FROM (
{windows}
)"""


# --- budget corrections (analytics.slo.corrections): predicates on a 5-minute slot's start ---
# A slot [slot, slot + 5m) is excluded when it overlaps a window [begin, end) at all:
# slot < end AND slot + 5m > begin (analytics.slo.corrections, "The slot rule").


def _instant(value: datetime) -> str:
    """An aware time as a ClickHouse DateTime64(3, 'UTC') literal (from a datetime, never user text)."""
    return f"fromUnixTimestamp64Milli(toInt64({round(value.astimezone(UTC).timestamp() * 1000)}), 'UTC')"


def one_off_sql(begin: datetime, end: datetime) -> str:
    """True for the slots overlapping [begin, end)."""
    return (f"(slot < {_instant(end)} AND slot + INTERVAL {conventions.SLOT_SECONDS} SECOND > "
            f"{_instant(begin)})")


def recurring_sql(weekdays: tuple[int, ...], clock: str, duration_seconds: int, timezone: str) -> str:
    """True for the slots overlapping a window that starts at wall-clock ``clock`` (HH:MM) in
    ``timezone`` on each local date whose weekday (0 = Monday) is in ``weekdays``, lasting
    duration_seconds. A window starting on local date d overlaps the slot when it begins in
    (slot - duration, slot + 5m): d ranges from the slot's local date + 1 back over the duration."""
    zone = string_literal(timezone)
    days = ", ".join(str(d + 1) for d in weekdays)  # toDayOfWeek: Monday = 1 .. Sunday = 7
    wall = string_literal(f" {clock}:00")
    terms = []
    for back in range(-1, duration_seconds // 86400 + 2):
        day = f"addDays(toDate(slot, {zone}), {-back})"
        begin = f"toDateTime64(concat(toString({day}), {wall}), 0, {zone})"
        terms.append(f"(toDayOfWeek({day}) IN ({days}) AND {begin} > slot - INTERVAL {int(duration_seconds)} SECOND"
                     f" AND {begin} < slot + INTERVAL {conventions.SLOT_SECONDS} SECOND)")
    return "(" + " OR ".join(terms) + ")"


def stored_corrections_sql(slo_name: str) -> str:
    """True for the slots the page's corrections of the SLO (or of every SLO) cover: read from the
    corrections table, less the withdrawn ones, when the rule runs, so a correction added or
    withdrawn later applies at once."""
    ms = conventions.SLOT_SECONDS * 1000
    start = "toUInt64(toUnixTimestamp64Milli(c.start))"
    return (f"slot IN (SELECT toDateTime64(i * {conventions.SLOT_SECONDS}, 0, 'UTC') "
            f"FROM {conventions.BUDGET_CORRECTIONS} AS c "
            f"ARRAY JOIN range(intDiv({start}, {ms}), intDiv({start} + 1000 * c.duration_s + {ms - 1}, {ms})) AS i "
            f"WHERE (empty(c.slos) OR has(c.slos, {string_literal(slo_name)})) AND {store_corrections.NOT_WITHDRAWN})")
