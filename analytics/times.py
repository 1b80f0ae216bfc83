"""Times inside analytics are aware UTC: parsing user input, normalising query columns."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from analytics.errors import InputError


def parse_time(text: str, what: str = "time") -> datetime:
    """Parse an ISO-8601 time ('Z' allowed); a time without a zone is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{what}: not an ISO-8601 time: {text!r}") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
