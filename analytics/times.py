"""Times inside analytics are aware UTC: parsing user input, normalising query columns, and the global
filters as plain data (a time range with deployment/region selections): what every page's
load(filters) reads, and what the warm-up and the bench pass for a first visit (the sidebar's
widgets that set them live in ui.page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from analytics.errors import InputError

# The plausible range of a telemetry time, TS_EARLIEST .. now + TS_AHEAD: ingest refuses rows outside
# it (analytics.ingest.rules.implausible_time) and every time a user types is held to it (a year 1850,
# 2500 or 9999 is a broken clock or unit; near year 1 or 9999 a window before or after it overflows).
TS_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
TS_AHEAD = timedelta(days=1)  # clock skew allowance past the present
_OUTSIDE = f"is outside the plausible range {TS_EARLIEST:%Y-%m-%d} .. now + {TS_AHEAD.days} day"


def parse_time(text: str, what: str = "time") -> datetime:
    """Parse an ISO-8601 time ('Z' allowed; a time without a zone is UTC) in the plausible range."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{what}: not an ISO-8601 time: {text!r}") from exc
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise InputError(f"{what}: {text.strip()!r} {_OUTSIDE}") from None
    return plausible(value, what)


def plausible(value: datetime, what: str = "time") -> datetime:
    """The aware time, or an InputError when it is outside TS_EARLIEST .. now + TS_AHEAD."""
    if not TS_EARLIEST <= value <= datetime.now(UTC) + TS_AHEAD:
        shown = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "minutes")  # %Y drops a year's zeros
        raise InputError(f"{what}: {shown} UTC {_OUTSIDE}")
    return value


def utc_time(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A time column as aware UTC microseconds, whether it arrived as Datetime or epoch seconds."""
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Datetime):
        col = pl.col(column).dt.cast_time_unit("us")
        return col.dt.convert_time_zone("UTC") if dtype.time_zone else col.dt.replace_time_zone("UTC")
    # ClickHouse DateTime (not DateTime64) reaches polars as UInt32 epoch seconds through Arrow.
    return pl.from_epoch(pl.col(column).cast(pl.Int64), time_unit="s").dt.cast_time_unit("us").dt.replace_time_zone("UTC")


def as_utc(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """The frame with `column` made an aware UTC datetime[us] (see utc_time)."""
    return frame.with_columns(utc_time(frame, column).alias(column))


PRESETS = {"24h": ("Last 24 hours", 1), "7d": ("Last 7 days", 7), "28d": ("Last 28 days", 28),
           "all": ("All data", None), "custom": ("Custom dates", None)}
DEFAULT_RANGE = "7d"


@dataclass(frozen=True)
class Filters:
    """The global filters: [start, end) in UTC and deployment/region selections (empty = all), and the
    data's span (analytics.store.queries.data_range) they were chosen in."""

    start: datetime
    end: datetime
    deployments: tuple[str, ...]
    regions: tuple[str, ...]
    data_start: datetime
    data_end: datetime

    @property
    def seconds(self) -> float:
        """Length of the range in seconds."""
        return (self.end - self.start).total_seconds()

    @property
    def step_seconds(self) -> int:
        """A chart resolution giving at most ~200 points over the range."""
        for step in (300, 900, 3600, 3 * 3600, 6 * 3600, 86400):
            if self.seconds / step <= 200:
                return step
        return 86400


def preset_span(choice: str, data_start: datetime, data_end: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a preset time range (not "custom"): the last days of the data, or all of it."""
    days = PRESETS[choice][1]
    return (data_start, data_end) if days is None else (data_end - timedelta(days=days), data_end)


def default_filters(data_start: datetime, data_end: datetime) -> Filters:
    """The filters of a first visit without a link: the default range, every deployment and region."""
    return Filters(*preset_span(DEFAULT_RANGE, data_start, data_end), (), (), data_start, data_end)
