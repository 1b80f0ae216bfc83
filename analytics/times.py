"""Times inside analytics are aware UTC: parsing user input, normalising query columns."""

from __future__ import annotations

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
