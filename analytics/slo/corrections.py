"""Budget corrections: time windows whose events no SLO budget, burn rate, alert or review counts.

A maintenance window or a known exclusion (a load test, an upstream outage already paid for), as
Nobl9's "SLO corrections" and Datadog's "SLO status corrections" know them. One-off (a start and
a duration) or recurring (every day, or on given weekdays, at a wall-clock time in a time zone,
for a duration). They come from the SLO file's top-level ``corrections:`` list and from the SLOs
page (analytics.store.corrections), and both are merged here (:func:`for_slo`).

    corrections:
      - slos: all                          # or a list of SLO names
        reason: Weekly database maintenance
        every: [sun]                       # or "day"; weekdays mon tue wed thu fri sat sun
        at: "02:00"                        # quoted: YAML reads 02:00 unquoted as the number 120
        duration: 2h
        timezone: UTC                      # IANA name; the default
      - slos: [chat-llama3-8b-use-ttft]
        reason: Load test of the new replicas
        start: 2026-11-02T14:00:00Z        # a naive time is in the correction's timezone
        duration: 90m

The slot rule: a 5-minute slot [t, t + 5m) is excluded when it overlaps a window at all
(t < window end and t + 5m > window start). Events are counted per slot, so a slot cannot be
split; a window starting at 02:03 then also drops the first three minutes of its slot, rather
than charging the budget for the minutes of planned work that share a slot with them. Windows
on slot boundaries (the usual "02:00 for 2h") exclude exactly their own slots.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import PurePath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

from analytics.errors import InputError, SpecError
from analytics.slo.spec import SLOT, Slo, format_duration, parse_duration

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
DAILY = "day"
ALL_SLOS = "all"
MAX_REASON_CHARS = 200  # a reason is a chart label and a table cell
MAX_DURATION = timedelta(days=31)  # a correction longer than a month is a different SLO, not a correction
MAX_RECURRING = timedelta(days=7)  # a recurring window no longer than a week (its longest repeat)
_KEYS = {"slos", "reason", "start", "duration", "every", "at", "timezone"}
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Correction:
    """One correction: which SLOs, when, and why."""

    slos: tuple[str, ...]  # SLO names; empty = every SLO
    duration: timedelta
    reason: str
    start: datetime | None = None  # one-off: aware UTC
    every: tuple[int, ...] = ()  # recurring: weekdays (0 = Monday); all seven = daily
    at: time | None = None  # recurring: wall-clock start in `timezone`
    timezone: str = "UTC"
    source: str = ""  # the SLO file, or "page"
    added_by: str = ""  # who added it from the page
    added_at: datetime | None = None  # when it was added from the page: with start, what names it to withdraw it

    @property
    def recurring(self) -> bool:
        return bool(self.every)

    @property
    def origin(self) -> str:
        """Who added it on the page, or the name of the SLO file it is in."""
        return self.added_by or PurePath(self.source).name

    def applies_to(self, slo_name: str) -> bool:
        return not self.slos or slo_name in self.slos

    def describe(self) -> str:
        """'every sun 02:00 UTC for 2h' or '2026-11-02 14:00 UTC for 90m'."""
        length = format_duration(self.duration)
        if self.recurring:
            days = "day" if len(self.every) == 7 else ", ".join(WEEKDAYS[d] for d in self.every)
            return f"every {days} {self.at:%H:%M} {self.timezone} for {length}"
        return f"{self.start:%Y-%m-%d %H:%M} UTC for {length}"

    def windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The concrete [begin, end) windows (aware UTC) that overlap [start, end), in order.

        A recurring window begins at `at` on each chosen local date (the zone's offset that day,
        so "02:00 Europe/Berlin" stays 02:00 across DST) and lasts `duration` of real time.
        """
        if not self.recurring:
            begin = self.start
            return [(begin, begin + self.duration)] if begin < end and begin + self.duration > start else []
        zone = ZoneInfo(self.timezone)
        day = (start - self.duration).astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date()
        out = []
        while day <= last:
            if day.weekday() in self.every:
                begin = datetime.combine(day, self.at, tzinfo=zone).astimezone(UTC)
                if begin < end and begin + self.duration > start:
                    out.append((begin, begin + self.duration))
            day += timedelta(days=1)
        return out


def excluded_slots(corrections: Iterable[Correction], grid_start: datetime, n: int) -> np.ndarray:
    """Per slot of a grid of n 5-minute slots from grid_start: True when the slot overlaps a
    window of any correction (the module's slot rule)."""
    mask = np.zeros(n, dtype=bool)
    grid_end = grid_start + n * SLOT
    for correction in corrections:
        for begin, end in correction.windows(grid_start, grid_end):
            mask[slots_of(begin, end, grid_start, n)] = True
    return mask


def slots_of(begin: datetime, end: datetime, grid_start: datetime, n: int) -> slice:
    """The slots of a grid of n 5-minute slots from grid_start that [begin, end) overlaps."""
    first = max((begin - grid_start) // SLOT, 0)  # the slot holding the window's start
    stop = min(-((grid_start - end) // SLOT), n)  # ceil: the first slot starting at or after its end
    return slice(first, max(first, stop))


def for_slo(slo: Slo, page: Sequence[Correction] = ()) -> tuple[Correction, ...]:
    """The corrections that apply to an SLO: the file's (attached to it when parsed) and the
    page's (analytics.store.corrections) that name it or every SLO."""
    return (*slo.corrections, *(c for c in page if c.applies_to(slo.name)))


# --- parsing: the SLO file's `corrections:` list ---


def _where(source: str, index: int, raw) -> str:
    reason = raw.get("reason") if isinstance(raw, Mapping) else None
    named = f" ({reason!r})" if isinstance(reason, str) and reason.strip() else ""
    return f"{source}: correction {index + 1}{named}"


def _reason(value, where: str, purpose: str = "why these events do not count") -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{where}: reason: required ({purpose})")
    value = " ".join(value.split())
    if len(value) > MAX_REASON_CHARS:
        raise SpecError(f"{where}: reason: at most {MAX_REASON_CHARS} characters, got {len(value)}")
    return value


def _timezone(value, where: str) -> str:
    if value is None:
        return "UTC"
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise SpecError(f"{where}: timezone: {value!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
    return str(value)


def _start(value, zone: str, where: str) -> datetime:
    """A start time: a YAML timestamp or an ISO 8601 text; naive means in the correction's zone."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, datetime):
        raise SpecError(f"{where}: start: expected a time such as 2026-11-02T14:00:00Z")
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)


def _every(value, where: str) -> tuple[int, ...]:
    if value == DAILY:
        return tuple(range(7))
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise SpecError(f"{where}: every: expected '{DAILY}' or a list of weekdays ({', '.join(WEEKDAYS)})")
    days = set()
    for item in items:
        day = str(item).strip().lower()[:3] if isinstance(item, str) else None
        if day not in WEEKDAYS:
            raise SpecError(f"{where}: every: {item!r} is not a weekday ({', '.join(WEEKDAYS)}) or '{DAILY}'")
        days.add(WEEKDAYS.index(day))
    return tuple(sorted(days))


def _clock(value, where: str) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        raise SpecError(f"{where}: at: quote the time (\"02:00\"): YAML reads it unquoted as the number {value}")
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise SpecError(f"{where}: at: expected a wall-clock time HH:MM such as \"02:00\", got {value!r}")
    return time(int(match[1]), int(match[2]))


def _slos(value, known: set[str], composites: set[str], where: str) -> tuple[str, ...]:
    if value == ALL_SLOS:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise SpecError(f"{where}: slos: expected '{ALL_SLOS}' or a list of SLO names")
    for name in items:
        if name in composites:
            raise SpecError(f"{where}: slos: {name!r} is a composite SLO: correct its objectives, whose counts it reads")
        if name not in known:
            raise SpecError(f"{where}: slos: no SLO named {name!r} in this file")
    return tuple(dict.fromkeys(items))


def parse_correction(raw, known: set[str], source: str, index: int, composites: set[str] = frozenset()) -> Correction:
    """One entry of the file's ``corrections:`` list; a SpecError names the file, the entry and the field."""
    where = _where(source, index, raw)
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: expected a mapping with slos, reason, duration and start or every/at")
    unknown = sorted(str(k) for k in set(raw) - _KEYS)
    if unknown:
        raise SpecError(f"{where}: {unknown[0]}: unknown field (expected {', '.join(sorted(_KEYS))})")
    if "slos" not in raw:
        raise SpecError(f"{where}: slos: required ('{ALL_SLOS}' or a list of SLO names)")
    reason = _reason(raw.get("reason"), where)
    slos = _slos(raw["slos"], known, composites, where)
    zone = _timezone(raw.get("timezone"), where)
    if "duration" not in raw:
        raise SpecError(f"{where}: duration: required (e.g. 2h)")
    if ("start" in raw) == ("every" in raw):
        raise SpecError(f"{where}: start/every: give a start (one-off) or every and at (recurring), not both")
    if "every" in raw:
        if "at" not in raw:
            raise SpecError(f"{where}: at: required with every (a wall-clock time such as \"02:00\")")
        duration = parse_duration(raw["duration"], f"{where}: duration", MAX_RECURRING)
        return Correction(slos, duration, reason, every=_every(raw["every"], where), at=_clock(raw["at"], where),
                          timezone=zone, source=source)
    if "at" in raw:
        raise SpecError(f"{where}: at: only with every (a one-off correction has a start)")
    duration = parse_duration(raw["duration"], f"{where}: duration", MAX_DURATION)
    return Correction(slos, duration, reason, start=_start(raw["start"], zone, where), timezone=zone, source=source)


def parse_corrections(raw, slos: Sequence[Slo], source: str) -> tuple[Correction, ...]:
    """The file's ``corrections:`` list, checked against the names of its SLOs."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SpecError(f"{source}: corrections: expected a list")
    known = {s.name for s in slos if s.composite is None}
    composites = {s.name for s in slos if s.composite is not None}
    return tuple(parse_correction(item, known, source, i, composites) for i, item in enumerate(raw))


# --- the SLOs page's corrections (analytics.store.corrections, read and written by analytics.slo.pipeline) ---

MAX_WHO_CHARS = 100


def from_frame(frame: pl.DataFrame) -> tuple[Correction, ...]:
    """The page's corrections from the store's rows (slos, start, duration_s, reason, added_by, added_at)."""
    return tuple(Correction(tuple(r["slos"]), timedelta(seconds=r["duration_s"]), r["reason"], start=r["start"],
                            source="page", added_by=r["added_by"], added_at=r["added_at"])
                 for r in frame.iter_rows(named=True))


def checked(slos: Sequence[str], start: datetime, duration: str, reason: str, who: str,
            known: Iterable[str]) -> Correction:
    """A one-off correction from the page's inputs: ``slos`` empty means every SLO. InputError for an
    unknown SLO, a bad duration, an empty reason or name, or a naive start."""
    known = set(known)
    try:
        for name in slos:
            if name not in known:
                raise SpecError(f"slos: no SLO named {name!r}")
        if start.tzinfo is None:
            raise SpecError("start: must carry a time zone")
        length = parse_duration(duration, "duration", MAX_DURATION)
        text = _reason(reason, "correction")
    except SpecError as exc:
        raise InputError(str(exc).removeprefix("correction: ")) from None
    return Correction(tuple(dict.fromkeys(slos)), length, text, start=start.astimezone(UTC), source="page",
                      added_by=_who(who, "who is excluding these events"))


def checked_withdrawal(correction: Correction, reason: str, who: str) -> tuple[str, str]:
    """(reason, who) of withdrawing a page correction; InputError for a correction of the SLO file
    (edit the file instead), an empty reason or name."""
    if correction.added_at is None:
        raise InputError(f"correction: {correction.describe()} is in {correction.origin}: remove it there")
    try:
        text = _reason(reason, "withdrawal", "why these events count again")
    except SpecError as exc:
        raise InputError(str(exc).removeprefix("withdrawal: ")) from None
    return text, _who(who, "who is withdrawing it")


def _who(value, role: str) -> str:
    who = " ".join(str(value or "").split())
    if not who:
        raise InputError(f"who: required ({role})")
    if len(who) > MAX_WHO_CHARS:
        raise InputError(f"who: at most {MAX_WHO_CHARS} characters, got {len(who)}")
    return who


def bands(corrections: Iterable[Correction], start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    """Every window of the corrections inside [start, end), clipped to it, with its reason, in
    time order: what a chart shades."""
    return sorted((max(begin, start), min(stop, end), c.reason)
                  for c in corrections for begin, stop in c.windows(start, end))


def slo_list(c: Correction) -> str:
    """'all SLOs' or the names, comma-separated."""
    return ", ".join(c.slos) if c.slos else "all SLOs"


def table(corrections: Iterable[Correction]) -> pl.DataFrame:
    """One row per correction: which SLOs, when, why, and who added it (or the file it is in)."""
    rows = [{"slos": slo_list(c), "when": c.describe(), "correction_reason": c.reason,
             "added_by": c.origin} for c in corrections]
    return pl.DataFrame(rows, schema={"slos": pl.String, "when": pl.String, "correction_reason": pl.String,
                                      "added_by": pl.String})
