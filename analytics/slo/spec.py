"""SLOs as code: our concise YAML and OpenSLO v1 documents, mapped to one frozen model.

One function, :func:`parse_slo`, turns a mapping in file units (percent targets, "28d" windows)
into an :class:`Slo` (ratios in [0, 1], timedeltas). Everything else that reads SLO files
(analytics.slo.files, the OpenSLO importer, :func:`revise` for what-if) goes through it, and
:func:`ratio_from_percent` is the only percent -> ratio conversion.

Our format (a YAML mapping with ``slos:`` and optional ``defaults:`` merged into each SLO)::

    defaults: {window: 28d, min_events: 50}
    slos:
      - name: chat-availability
        deployments: ["chat-*"]          # fnmatch patterns; also models:, regions:, kinds:
        sli: availability                # or {latency: {field: ttft_ms, threshold_ms: 500}}
        target: 99.9                     # percent (or target_ratio: 0.999)
        window: 28d                      # Nd, Nw, Nh, calendar-week, calendar-month
        timezone: UTC                    # calendar windows only (IANA name)
        budgeting: occurrences           # or {method: timeslices, slice: 5m, slice_target: 95}
        min_events: 100                  # alerts need this many valid events in the long window
        at_risk: {budget_remaining: 25, time_to_exhaustion: 3d}   # 'at risk' under either (Thresholds)
        partial_history_below: 95        # percent of the window the data must cover to judge the budget
        labels: {team: chat, service: assistant, tier: "1"}   # string keys and values; defaults' labels merge in
        policy: Freeze non-critical changes; reliability work first.   # what happens when the budget is spent
      - name: chat-journey               # a composite SLO of SLOs of the same file (see Composite)
        composite: {method: weighted_average, objectives: [{slo: chat-availability, weight: 2}, {slo: chat-ttft}]}
        target: 99.0                     # weighted_average: its own target, window and budgeting

SLIs: ``availability`` (good = status ok; valid = every request with a recorded outcome,
rejected ones included: load shedding is an unanswered user; status 'unknown' is neither good
nor bad), ``latency`` (good = field <= threshold; valid = ok
requests that have the field), ``goodput`` (DistServe, Zhong et al., OSDI'24: good = ttft <= a
AND tpot <= b per request; valid = ok requests with both fields).

OpenSLO v1 (kind: SLO, inline ``indicator`` or ``indicatorRef`` to a kind: SLI document in the
same files). OpenSLO metric sources are queries for someone else's system, so they are NOT run.
The mapping to our SLIs is by convention, read from the SLO's metadata (then the indicator's,
which wins):

- annotations ``mlserving.dev/sli`` (availability | latency | goodput), ``mlserving.dev/field``
  (a latency field), ``mlserving.dev/threshold-ms``, ``mlserving.dev/ttft-ms``,
  ``mlserving.dev/tpot-ms``, ``mlserving.dev/min-events``;
- labels ``deployment``, ``model``, ``region`` (string or list of fnmatch patterns); every other
  label (team, service, tier...) becomes one of the SLO's ``labels`` (string values);
- OpenSLO v1 has no error budget policy: the annotation ``mlserving.dev/policy`` carries it;
- a ``thresholdMetric`` indicator is a latency SLI whose threshold is the objective's ``value``
  (``op`` must be lte or lt: both mean "good = latency <= value" on our upper-inclusive
  buckets); a ``ratioMetric`` (good/total, bad/total or raw) needs the ``sli`` annotation.
- ``timeWindow``: rolling durations in m/h/d/w; calendar ``1w`` (ISO weeks, Monday 00:00) and
  ``1M`` (months) in ``calendar.timeZone``; ``calendar.startTime`` is accepted and not used
  (periods align to calendar boundaries).
- Each objective becomes one SLO (named ``<name>`` or ``<name>/<displayName>`` when several).
"""

from __future__ import annotations

import fnmatch
import re
import reprlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analytics.errors import SpecError
from analytics.store import conventions
from analytics.store.indicators import indicator

SLI_KINDS = ("availability", "latency", "goodput")
COMPOSITE = "composite"  # the SLI kind of a composite SLO (never written in a file: its SLI is its objectives')
COMPOSITE_METHODS = ("weighted_average", "least_healthy")
BUDGETING_METHODS = ("occurrences", "timeslices", "ratio_timeslices")
SLOT = timedelta(seconds=conventions.SLOT_SECONDS)
ANNOTATION_PREFIX = "mlserving.dev/"
_KEYS = {
    "name", "description", "deployments", "models", "regions", "kinds", "sli", "target", "target_ratio",
    "window", "timezone", "budgeting", "min_events", "at_risk", "partial_history_below", "labels", "policy",
    "composite",
}
# What a composite takes from its objectives instead of its own file keys (analytics.slo.composite):
# always the SLI and scope; a least_healthy one its target, window and budgeting as well.
_NOT_IN_COMPOSITE = ("sli", "deployments", "models", "regions", "kinds")
_NOT_IN_LEAST_HEALTHY = ("target", "target_ratio", "window", "timezone", "budgeting", "min_events", "at_risk",
                         "partial_history_below")
_LABEL_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$")  # a word a "Group by" menu and a CSV header can show
MAX_POLICY_CHARS = 1000  # a policy is a sentence or two for a table cell, not a document
_DURATION = re.compile(r"^(\d{1,9})([mhdw])$")
# The longest duration anything in an SLO file may say (windows have their own, shorter MAX_WINDOW):
# a century, far inside what a timedelta holds (999999999 days; 999999999w is past it).
MAX_DURATION = timedelta(days=36_525)
# The largest min_events: it is compared with event counts held as float64 (analytics.slo.alerts),
# which hold every whole number up to 2^53 exactly (IEEE 754 binary64: a 53-bit significand).
MAX_MIN_EVENTS = 2**53
# The longest rolling window (docs/limits.md, "SLO files"): history for an SLO is loaded as one grid
# of 5-minute slots, so a 100000d window meant 48 s and 4.7 GB before this limit.
MAX_WINDOW = timedelta(days=366)
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_INSTANT = timedelta(microseconds=1)  # the resolution of datetime: the last instant before a time


@dataclass(frozen=True)
class Selector:
    """Which deployments an SLO covers: fnmatch patterns per attribute; empty means all.

    ``kinds`` match the deployments table's ``kind`` (chat, code, embedding, classic): a
    deployment whose kind is unknown is outside any SLO that names kinds.
    """

    deployments: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def matches(self, deployment: str, model: str, region: str, kind: str = "") -> bool:
        """True when a deployment with this model, region and kind is in scope."""
        checks = ((self.deployments, deployment), (self.models, model), (self.regions, region),
                  (self.kinds, kind))
        return all(not pats or any(fnmatch.fnmatchcase(value or "", p) for p in pats) for pats, value in checks)

    def describe(self) -> str:
        """Human-readable scope, e.g. 'deployments chat-*; region eu-west'."""
        parts = [f"{k} {', '.join(v)}" for k, v in
                 (("deployments", self.deployments), ("models", self.models), ("regions", self.regions),
                  ("kinds", self.kinds)) if v]
        return "; ".join(parts) or "all deployments"


@dataclass(frozen=True)
class Sli:
    """What counts as a good and a valid event."""

    kind: str  # one of SLI_KINDS
    field: str | None = None  # latency
    threshold_ms: float | None = None  # latency
    ttft_ms: float | None = None  # goodput
    tpot_ms: float | None = None  # goodput

    @property
    def fields(self) -> tuple[str, ...]:
        """Latency fields whose histograms this SLI reads (its valid events carry them, analytics.store.indicators)."""
        if self.kind == COMPOSITE:  # read from its objectives' evaluations, never from the store
            return ()
        return indicator(self.kind, self.field).fields

    def describe(self) -> str:
        """E.g. 'ttft_ms <= 500 ms' or 'status ok'."""
        if self.kind == COMPOSITE:
            return "composite of other SLOs"
        if self.kind == "latency":
            return f"{self.field} <= {self.threshold_ms:g} ms"
        if self.kind == "goodput":
            return f"ttft_ms <= {self.ttft_ms:g} ms and tpot_ms <= {self.tpot_ms:g} ms"
        return "status ok (rejected counts as bad)"


@dataclass(frozen=True)
class Window:
    """A rolling window of fixed length, or a calendar week/month in a time zone."""

    label: str  # as written: "28d", "calendar-month"
    length: timedelta | None = None  # rolling
    unit: str | None = None  # "week" or "month" for calendar windows
    timezone: str = "UTC"

    @property
    def rolling(self) -> bool:
        """True for a rolling window, False for a calendar one."""
        return self.length is not None

    def start(self, at: datetime) -> datetime:
        """Start of the window that ends at `at` (aware UTC).

        A calendar window judged at `at` is the period holding the last instant before `at`:
        periods are (start, end] to an evaluation, which at `at` reads the slots that ended by
        then. So at a period boundary (Monday 00:00 for a week) it judges the whole period that
        ends there, its last slot included, never the empty period that starts there.
        """
        if self.length is not None:
            return at - self.length
        local = (at - _INSTANT).astimezone(ZoneInfo(self.timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.unit == "week":  # ISO week: Monday 00:00
            begin = midnight - timedelta(days=midnight.weekday())
        else:
            begin = midnight.replace(day=1)
        # rebuild from the wall clock so a DST change inside the period gets the right offset
        return datetime(begin.year, begin.month, begin.day, tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def end(self, at: datetime) -> datetime:
        """End of the budgeting period judged at `at` (see start; for rolling windows: `at`)."""
        if self.length is not None:
            return at
        start = self.start(at).astimezone(ZoneInfo(self.timezone))
        if self.unit == "week":
            nxt = start + timedelta(days=7)
        else:
            nxt = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def period(self, at: datetime) -> timedelta:
        """The budgeting period: the rolling length, or the whole calendar week/month at `at`."""
        return self.length if self.length is not None else self.end(at) - self.start(at)

    @property
    def max_period(self) -> timedelta:
        """The longest period this window can have (for how much history to load)."""
        return self.length if self.length is not None else timedelta(days=7 if self.unit == "week" else 31)


@dataclass(frozen=True)
class Budgeting:
    """OpenSLO budgeting method: Occurrences, Timeslices or RatioTimeslices."""

    method: str = "occurrences"
    slice: timedelta | None = None  # timeslices and ratio_timeslices
    slice_target: float | None = None  # ratio; timeslices only

    def describe(self) -> str:
        """E.g. 'timeslices of 5m, good when >= 95%'."""
        if self.method == "occurrences":
            return "occurrences"
        text = f"{self.method} of {format_duration(self.slice)}"
        if self.slice_target is not None:
            text += f", good when >= {Decimal(str(self.slice_target)) * 100:g}%"
        return text


@dataclass(frozen=True)
class Thresholds:
    """When an SLO whose budget is not spent is 'at risk', and when its history is too partial.

    SLO-file keys (percent and durations, as elsewhere in the file; under ``defaults`` or per
    SLO): ``at_risk: {budget_remaining: 25, time_to_exhaustion: 3d}`` and
    ``partial_history_below: 95``; the defaults below apply to what a file leaves out.

    - budget_remaining 25%: a quarter of a 28-day budget is 7 days of spending at burn rate 1,
      one weekly review cycle to act before the budget policy applies at 0 (the SRE Workbook's
      example error budget policy, appendix B, acts when the budget is exhausted).
    - time_to_exhaustion 3 days: the window of the SRE Workbook's slowest alert, the ticket tier
      (ch. 5, Table 5-8: 10% of the budget in 3 days). A budget that the current 1-hour burn
      spends within that window is gone before the slowest alert has seen a full window.
    - min_covered 95%: below it, the missing part of the window could change the budget verdict
      by more than the 5% of budget a page tier spends (Table 5-8: 5% in 6 h).
    """

    budget_remaining: float = 0.25
    time_to_exhaustion: timedelta = timedelta(days=3)
    min_covered: float = 0.95

    def __post_init__(self):
        if not 0.0 <= self.budget_remaining <= 1.0:
            raise ValueError(f"budget_remaining must be a ratio in [0, 1], got {self.budget_remaining}")
        if self.time_to_exhaustion < timedelta(0):
            raise ValueError(f"time_to_exhaustion must not be negative, got {self.time_to_exhaustion}")
        if not 0.0 <= self.min_covered <= 1.0:
            raise ValueError(f"min_covered must be a ratio in [0, 1], got {self.min_covered}")


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Component:
    """One objective of a composite SLO: another SLO of the file, and its weight."""

    slo: str
    weight: float = 1.0


@dataclass(frozen=True)
class Composite:
    """How a composite SLO combines its objectives (analytics.slo.composite): ``weighted_average``
    of their per-slot attainment, or ``least_healthy`` (the objective with the most budget spent).

    The two methods of OpenSLO's composite SLO proposal (OpenSLO/OpenSLO#142 and #182, v2alpha:
    objectives with a weight), named as Elastic's composite SLOs name them (weightedAverage,
    leastHealthy); Nobl9's composite SLOs weight their objectives the same way.
    """

    method: str
    components: tuple[Component, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The objectives' SLO names, in file order."""
        return tuple(c.slo for c in self.components)

    @property
    def members(self) -> str:
        """The objectives as a list: 'chat-availability (weight 2), chat-ttft (weight 1)' (no weights
        for least_healthy)."""
        if self.method == "least_healthy":
            return ", ".join(self.names)
        return ", ".join(f"{c.slo} (weight {c.weight:g})" for c in self.components)

    def describe(self) -> str:
        """E.g. 'weighted average of chat-availability (weight 2), chat-ttft (weight 1)'."""
        return f"{self.method.replace('_', ' ')} of {self.members}"


@dataclass(frozen=True)
class Slo:
    """One service level objective: an SLI over a scope, a target ratio and a window."""

    name: str
    sli: Sli
    target: float  # ratio in (0, 1)
    window: Window
    budgeting: Budgeting = field(default_factory=Budgeting)
    selector: Selector = field(default_factory=Selector)
    min_events: int = 0
    description: str = ""
    source: str = ""  # the file it came from, for messages
    thresholds: Thresholds = DEFAULT_THRESHOLDS  # when it is 'at risk' or has 'partial history'
    labels: tuple[tuple[str, str], ...] = ()  # (key, value), sorted by key: team, service, tier, ...
    policy: str = ""  # the error budget policy: what happens when the budget is exhausted
    composite: Composite | None = None  # set for a composite SLO (its sli is then Sli(COMPOSITE))
    # the SLO file's budget corrections for it (analytics.slo.corrections.Correction), set by the file loader
    corrections: tuple = ()

    def label(self, key: str) -> str | None:
        """The value of one label, None when the SLO does not have it."""
        return dict(self.labels).get(key)


def format_duration(value: timedelta) -> str:
    """Shortest exact shorthand: 5m, 1h, 6h, 1d, 3d (seconds only when needed)."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def target_digits(target: float) -> int:
    """Decimals that print a target ratio exactly as a percentage, at least 2
    (0.999 -> 2: '99.90%', 0.99999 -> 3: '99.999%', 0.999995 -> 4)."""
    exponent = (Decimal(str(target)) * 100).normalize().as_tuple().exponent
    return max(2, -int(exponent))


def ratio_from_percent(value, where: str = "target") -> float:
    """The one percent -> ratio conversion (99.9 -> 0.999), exact in decimal; checks 0 < p < 100."""
    try:
        percent = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise SpecError(f"{where}: {_show(value)} is not a number") from exc
    if isinstance(value, bool) or not percent.is_finite() or not 0 < percent < 100:
        raise SpecError(f"{where}: {_show(value)} must be a percentage strictly between 0 and 100")
    if percent <= 1:
        raise SpecError(f"{where}: {_show(value)} percent looks like a ratio; write e.g. 99.9 (percent) "
                        f"or use {where.rsplit('.', 1)[-1]}_ratio")
    return float(percent / 100)


def parse_duration(text, where: str, longest: timedelta = MAX_DURATION) -> timedelta:
    """Parse '5m', '6h', '28d', '4w' into a timedelta of at most ``longest``."""
    match = _DURATION.match(str(text).strip()) if isinstance(text, str | int) else None
    if not match or int(match.group(1)) == 0:
        raise SpecError(f"{where}: {_show(text)} is not a duration like 5m, 1h, 28d or 4w")
    count, unit = int(match.group(1)), _UNITS[match.group(2)]
    if count > longest // unit:  # compared as a count of units: the product may not fit a timedelta
        raise SpecError(f"{where}: {_show(text)} is longer than the {longest.days}d limit")
    return count * unit


def _show(value) -> str:
    """A short repr of a value from a file, for messages (never the whole of a huge value)."""
    return reprlib.repr(value)


def _fail(source: str, name: str, message: str) -> SpecError:
    """An error naming the file, the SLO and the field (messages start with 'field: ')."""
    prefix = f"{source}: " if source else ""
    return SpecError(f"{prefix}SLO {name!r}: {message}")


def _patterns(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise SpecError(f"{where}: expected a name or a list of names (fnmatch patterns)")
    return tuple(items)


def _positive_ms(value, where: str) -> float:
    # Python compares an int with a float exactly, so a 400-digit int is refused here, not by float()
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= sys.float_info.max:
        raise SpecError(f"{where}: {_show(value)} must be a positive, finite number of milliseconds")
    return float(value)


def _parse_sli(raw, where: str) -> Sli:
    if isinstance(raw, str):
        raw = {raw: {}}
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise SpecError(f"{where}: expected availability, {{latency: {{field, threshold_ms}}}} or "
                        "{goodput: {ttft_ms, tpot_ms}}")
    (kind, body), = raw.items()
    body = body or {}
    if kind not in SLI_KINDS:
        raise SpecError(f"{where}: unknown SLI {_show(kind)} (use one of {', '.join(SLI_KINDS)})")
    allowed = {"availability": set(), "latency": {"field", "threshold_ms"}, "goodput": {"ttft_ms", "tpot_ms"}}
    if not isinstance(body, Mapping):
        raise SpecError(f"{where}.{kind}: expected a mapping, got {_show(body)}")
    if set(body) - allowed[kind]:
        raise SpecError(f"{where}.{kind}: unknown keys {sorted(set(body) - allowed[kind])}")
    if kind == "latency":
        fld = body.get("field")
        if fld not in conventions.LATENCY_FIELDS:
            raise SpecError(f"{where}.latency.field: {_show(fld)} is not one of {', '.join(conventions.LATENCY_FIELDS)}")
        threshold = _positive_ms(body.get("threshold_ms"), f"{where}.latency.threshold_ms")
        return Sli("latency", field=fld, threshold_ms=threshold)
    if kind == "goodput":
        return Sli("goodput", ttft_ms=_positive_ms(body.get("ttft_ms"), f"{where}.goodput.ttft_ms"),
                   tpot_ms=_positive_ms(body.get("tpot_ms"), f"{where}.goodput.tpot_ms"))
    return Sli("availability")


def _parse_window(raw, timezone, where: str) -> Window:
    if timezone is not None and not isinstance(timezone, str):
        raise SpecError(f"timezone: {_show(timezone)} is not an IANA time zone name")
    tz = "UTC" if timezone is None else timezone
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SpecError(f"timezone: {_show(timezone)} is not an IANA time zone name") from exc
    text = raw.strip() if isinstance(raw, str) else raw
    if text in ("calendar-week", "calendar-month"):
        return Window(text, unit=text.removeprefix("calendar-"), timezone=tz)
    if timezone is not None and tz != "UTC":
        raise SpecError("timezone: only calendar windows take a time zone")
    length = parse_duration(text, where, MAX_WINDOW)
    if length % SLOT or length < timedelta(hours=1):
        raise SpecError(f"{where}: {_show(text)} must be at least 1h and a multiple of 5 minutes")
    return Window(text, length=length)


def _parse_budgeting(raw, where: str) -> Budgeting:
    if raw is None or isinstance(raw, str):
        raw = {"method": raw or "occurrences"}
    if not isinstance(raw, Mapping) or set(raw) - {"method", "slice", "slice_target", "slice_target_ratio"}:
        raise SpecError(f"{where}: expected occurrences or {{method, slice, slice_target}}")
    method = raw.get("method")
    if method not in BUDGETING_METHODS:
        raise SpecError(f"{where}.method: {_show(method)} is not one of {', '.join(BUDGETING_METHODS)}")
    if method == "occurrences":
        if set(raw) != {"method"}:
            raise SpecError(f"{where}: occurrences takes no slice or slice_target")
        return Budgeting()
    slice_ = parse_duration(raw.get("slice"), f"{where}.slice")
    if slice_ % SLOT or timedelta(days=1) % slice_:
        raise SpecError(f"{where}.slice: {_show(raw.get('slice'))} must be a multiple of 5m that divides 1d")
    target = None
    if method == "timeslices":
        target = _target(raw, "slice_target", f"{where}.")
    elif "slice_target" in raw or "slice_target_ratio" in raw:
        raise SpecError(f"{where}.slice_target: ratio_timeslices averages the slice ratios; "
                        "it takes no slice_target")
    return Budgeting(method, slice_, target)


def _percent_in_range(value, where: str) -> float:
    """A share given in percent, 0 and 100 included (0 turns a rule off), as a ratio."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise SpecError(f"{where}: {_show(value)} must be a percentage from 0 to 100")
    if 0 < value < 1:
        raise SpecError(f"{where}: {_show(value)} percent looks like a ratio; write e.g. 25 for 25%")
    return float(Decimal(str(value)) / 100)


def _parse_thresholds(merged: Mapping) -> Thresholds:
    """``at_risk: {budget_remaining: 25, time_to_exhaustion: 3d}`` and ``partial_history_below: 95``;
    what is left out keeps the documented default (Thresholds)."""
    raw = merged.get("at_risk") or {}
    if not isinstance(raw, Mapping) or set(raw) - {"budget_remaining", "time_to_exhaustion"}:
        raise SpecError("at_risk: expected {budget_remaining: <percent>, time_to_exhaustion: <duration like 3d>}")
    values = {}
    if "budget_remaining" in raw:
        values["budget_remaining"] = _percent_in_range(raw["budget_remaining"], "at_risk.budget_remaining")
    if raw.get("time_to_exhaustion") == 0:  # 0 turns the rule off, as for budget_remaining
        values["time_to_exhaustion"] = timedelta(0)
    elif "time_to_exhaustion" in raw:
        values["time_to_exhaustion"] = parse_duration(raw["time_to_exhaustion"], "at_risk.time_to_exhaustion")
    if "partial_history_below" in merged:
        values["min_covered"] = _percent_in_range(merged["partial_history_below"], "partial_history_below")
    return Thresholds(**values) if values else DEFAULT_THRESHOLDS


def _parse_labels(defaults: Mapping, raw: Mapping) -> tuple[tuple[str, str], ...]:
    """``labels: {team: chat, tier: "1"}``: the file defaults' labels, then the SLO's (which win)."""
    merged: dict = {}
    for labels in (defaults.get("labels"), raw.get("labels")):
        if labels is None:
            continue
        if not isinstance(labels, Mapping):
            raise SpecError(f"labels: expected a mapping of label to value, e.g. {{team: chat}}, got {_show(labels)}")
        merged |= labels
    for key, value in merged.items():
        if not isinstance(key, str) or not _LABEL_KEY.match(key):
            raise SpecError(f"labels: {_show(key)} is not a label name (a letter, then letters, digits, _ . -)")
        if not isinstance(value, str) or not value.strip():
            raise SpecError(f"labels.{key}: {_show(value)} must be a non-empty string (quote numbers: \"1\")")
    return tuple(sorted((key, value.strip()) for key, value in merged.items()))


def _parse_policy(value) -> str:
    """``policy: <text>``: what happens when the budget is exhausted (SRE Workbook, appendix B)."""
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"policy: {_show(value)} must be a non-empty text")
    if len(value) > MAX_POLICY_CHARS:
        raise SpecError(f"policy: {len(value)} characters is over the {MAX_POLICY_CHARS}-character limit")
    return " ".join(value.split())


def _min_events(merged: Mapping) -> int:
    min_events = merged.get("min_events", 0)
    if isinstance(min_events, bool) or not isinstance(min_events, int) or not 0 <= min_events <= MAX_MIN_EVENTS:
        raise SpecError(f"min_events: {_show(min_events)} must be a whole number from 0 to 2^53 ({MAX_MIN_EVENTS})")
    return min_events


def _parse_weight(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= sys.float_info.max:
        raise SpecError(f"{where}: {_show(value)} must be a positive, finite number")
    return float(value)


def _parse_composite(raw, known: Mapping[str, Slo | None]) -> Composite:
    """``composite: {method, objectives: [{slo, weight}, ...]}``; ``known``: the file's SLOs by name,
    None for a composite (a composite's objectives are SLOs with their own SLI, so composites
    never nest and never form a cycle)."""
    if not isinstance(raw, Mapping) or set(raw) != {"method", "objectives"}:
        raise SpecError("composite: expected {method: weighted_average | least_healthy, "
                        "objectives: [{slo: <name>, weight: <number>}, ...]}")
    method = raw["method"]
    if method not in COMPOSITE_METHODS:
        raise SpecError(f"composite.method: {_show(method)} is not one of {', '.join(COMPOSITE_METHODS)}")
    items = raw["objectives"]
    if not isinstance(items, list) or len(items) < 2:
        raise SpecError("composite.objectives: expected a list of at least two {slo: <name>, weight: <number>}")
    components = []
    for i, item in enumerate(items):
        where = f"composite.objectives[{i}]"
        if isinstance(item, str):
            item = {"slo": item}
        if not isinstance(item, Mapping) or "slo" not in item or set(item) - {"slo", "weight"}:
            raise SpecError(f"{where}: expected {{slo: <name>, weight: <number>}}, got {_show(item)}")
        name = item["slo"]
        if not isinstance(name, str) or name.strip() not in known:
            raise SpecError(f"{where}.slo: unknown SLO {_show(name)} (objectives are SLOs of the same file)")
        name = name.strip()
        if known[name] is None:
            raise SpecError(f"{where}.slo: {name!r} is a composite SLO; a composite's objectives are SLOs "
                            "with their own SLI (no composites of composites, so no cycles)")
        if name in (c.slo for c in components):
            raise SpecError(f"{where}.slo: {name!r} is listed twice")
        if method == "least_healthy" and "weight" in item:
            raise SpecError(f"{where}.weight: least_healthy takes no weights (the objective with the most "
                            "budget spent decides)")
        components.append(Component(name, _parse_weight(item.get("weight", 1), f"{where}.weight")))
    return Composite(method, tuple(components))


def _target(raw: Mapping, key: str, prefix: str = "") -> float:
    """A target given in percent (key) or as a ratio (key_ratio), exactly one of them."""
    has_pct, has_ratio = key in raw, f"{key}_ratio" in raw
    if has_pct == has_ratio:
        raise SpecError(f"{prefix}{key}: give exactly one of {key} (percent) or {key}_ratio")
    if has_pct:
        return ratio_from_percent(raw[key], f"{prefix}{key}")
    value = raw[f"{key}_ratio"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise SpecError(f"{prefix}{key}_ratio: {_show(value)} must be a ratio strictly between 0 and 1")
    return float(value)


def parse_slo(raw: Mapping, source: str = "", defaults: Mapping | None = None,
              known: Mapping[str, Slo | None] | None = None) -> Slo:
    """Map one SLO mapping in file units to the model (the only place that does so).

    ``known``: the other SLOs of the file by name (None for a composite), which a composite's
    objectives name; a least_healthy composite takes its target, window and budgeting from its
    first objective here and from its least healthy one when evaluated (analytics.slo.composite).
    """
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: each SLO must be a mapping, got {_show(raw)}")
    merged = {**(defaults or {}), **raw}
    name = merged.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SpecError(f"{source}: an SLO has no name (field 'name')")
    unknown = set(merged) - _KEYS
    if unknown:
        known = ", ".join(sorted(_KEYS))
        raise _fail(source, name, f"{', '.join(sorted(unknown))}: unknown field (known: {known})")
    try:
        if "composite" in raw:
            return _parse_composite_slo(raw, merged, source, defaults or {}, known or {})
        if "sli" not in merged:
            raise SpecError("sli: missing")
        sli = _parse_sli(merged["sli"], "sli")
        target = _target(merged, "target")
        if "window" not in merged:
            raise SpecError("window: missing")
        window = _parse_window(merged["window"], merged.get("timezone"), "window")
        budgeting = _parse_budgeting(merged.get("budgeting"), "budgeting")
        selector = Selector(*(_patterns(merged.get(k), k) for k in ("deployments", "models", "regions", "kinds")))
        min_events = _min_events(merged)
        thresholds = _parse_thresholds(merged)
        labels = _parse_labels(defaults or {}, raw)
        policy = _parse_policy(merged.get("policy"))
    except SpecError as exc:
        raise _fail(source, name, str(exc)) from None
    return Slo(name.strip(), sli, target, window, budgeting, selector, min_events,
               str(merged.get("description") or ""), source, thresholds, labels, policy)


def _parse_composite_slo(raw: Mapping, merged: Mapping, source: str, defaults: Mapping,
                         known: Mapping[str, Slo | None]) -> Slo:
    """A composite SLO: its objectives, and its own target, window and budgeting (weighted_average)
    or its first objective's (least_healthy; the least healthy one's once evaluated)."""
    for key in _NOT_IN_COMPOSITE:
        if key in raw:
            raise SpecError(f"{key}: a composite SLO takes its SLIs and scopes from its objectives")
    composite = _parse_composite(raw["composite"], known)
    name = merged["name"].strip()
    labels, policy = _parse_labels(defaults, raw), _parse_policy(merged.get("policy"))
    description = str(merged.get("description") or "")
    if composite.method == "least_healthy":
        for key in _NOT_IN_LEAST_HEALTHY:
            if key in raw:
                raise SpecError(f"{key}: a least_healthy composite has the target, window and budget of its "
                                "least healthy objective")
        first = known[composite.components[0].slo]
        return Slo(name, Sli(COMPOSITE), first.target, first.window, first.budgeting, Selector(), first.min_events,
                   description, source, first.thresholds, labels, policy, composite)
    if "window" not in merged:
        raise SpecError("window: missing")
    return Slo(name, Sli(COMPOSITE), _target(merged, "target"),
               _parse_window(merged["window"], merged.get("timezone"), "window"),
               _parse_budgeting(merged.get("budgeting"), "budgeting"), Selector(), _min_events(merged), description, source,
               _parse_thresholds(merged), labels, policy, composite)


def to_mapping(slo: Slo) -> dict:
    """The file-unit mapping of an SLO (targets as ratios, so no rounding happens)."""
    sli: object = slo.sli.kind
    if slo.sli.kind == "latency":
        sli = {"latency": {"field": slo.sli.field, "threshold_ms": slo.sli.threshold_ms}}
    elif slo.sli.kind == "goodput":
        sli = {"goodput": {"ttft_ms": slo.sli.ttft_ms, "tpot_ms": slo.sli.tpot_ms}}
    budgeting: object = slo.budgeting.method
    if slo.budgeting.method != "occurrences":
        budgeting = {"method": slo.budgeting.method, "slice": format_duration(slo.budgeting.slice)}
        if slo.budgeting.slice_target is not None:
            budgeting["slice_target_ratio"] = slo.budgeting.slice_target
    out = {"name": slo.name, "description": slo.description, "sli": sli, "target_ratio": slo.target,
           "window": slo.window.label, "budgeting": budgeting, "min_events": slo.min_events,
           "deployments": list(slo.selector.deployments), "models": list(slo.selector.models),
           "regions": list(slo.selector.regions), "kinds": list(slo.selector.kinds)}
    if not slo.window.rolling:
        out["timezone"] = slo.window.timezone
    t = slo.thresholds
    out["at_risk"] = {"budget_remaining": float(Decimal(str(t.budget_remaining)) * 100),
                      "time_to_exhaustion": format_duration(t.time_to_exhaustion) if t.time_to_exhaustion else 0}
    out["partial_history_below"] = float(Decimal(str(t.min_covered)) * 100)
    if slo.labels:
        out["labels"] = dict(slo.labels)
    if slo.policy:
        out["policy"] = slo.policy
    return out


def revise(slo: Slo, **changes) -> Slo:
    """A what-if copy of an SLO with fields changed in file units, parsed like a file.

    Keys: target (percent), threshold_ms (latency), ttft_ms / tpot_ms (goodput), window,
    min_events, budgeting. None values are ignored.
    """
    raw = to_mapping(slo)
    changes = {k: v for k, v in changes.items() if v is not None}
    if "target" in changes:
        raw.pop("target_ratio")
    for key in ("threshold_ms", "ttft_ms", "tpot_ms"):
        if key in changes:
            body = next(iter(raw["sli"].values())) if isinstance(raw["sli"], dict) else None
            if body is None or key not in body:
                raise SpecError(f"SLO {slo.name!r}: {key}: does not apply to a {slo.sli.kind} SLI")
            body[key] = changes.pop(key)
    if "window" in changes and str(changes["window"]).startswith("calendar-") and "timezone" not in raw:
        raw["timezone"] = "UTC"
    if "window" in changes and not str(changes["window"]).startswith("calendar-"):
        raw.pop("timezone", None)
    return parse_slo(raw | changes, slo.source)


def evaluation_time(at: datetime) -> datetime:
    """Floor an aware time to the 5-minute slot: SLOs are evaluated on whole rollup slots."""
    if at.tzinfo is None:
        raise SpecError("evaluation time must be timezone-aware")
    at = at.astimezone(UTC)
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % conventions.SLOT_SECONDS, UTC)
