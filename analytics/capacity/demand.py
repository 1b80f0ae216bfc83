"""Hourly demand per deployment (requests/s, input and output tokens/s) and the fleet total, with explicit gaps.

Gap rule, per whole UTC hour in [start, end):
- no rollup row for ANY deployment in that hour: a collection gap, so demand is null (unknown)
  for every deployment and for the fleet;
- a deployment with no row in an hour where others have rows: true zero traffic (0), but only
  from the deployment's first row in the range on; before it, null (not yet serving or not yet
  reporting);
- the fleet total is the sum over deployments with a known value; null only in gap hours.
Gaps are detected on all deployments in the requested regions, whatever the deployment filter,
so a quiet deployment's zero hour is not mistaken for a gap. Partial hours at either end of the
range are dropped (a partial hour would read as a dip in demand).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from analytics.errors import InputError
from analytics.times import utc_time

HOUR = timedelta(hours=1)
FLEET = "(fleet)"
# Input tokens/s is the prefill demand (what TTFT answers to), output tokens/s the decode demand (TPOT).
METRICS = {"rps": "requests/s", "input_tps": "input tokens/s", "output_tps": "output tokens/s"}
COUNTS = {"rps": "requests", "input_tps": "input_tokens", "output_tps": "output_tokens"}  # the hourly count of each metric
DEMAND_COLUMNS = ("deployment", "ts", "requests", "input_tokens", "output_tokens", "rps", "input_tps", "output_tps")


def hour_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The whole UTC hours inside [start, end): start rounded up, end rounded down."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    floor = start.replace(minute=0, second=0, microsecond=0)
    first = floor if floor == start else floor + HOUR
    last = end.replace(minute=0, second=0, microsecond=0)
    return first, max(first, last)


def demand_from_counts(counts: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """Apply the gap rule to hourly ``request_counts`` rows (bucket, deployment, requests, ...).

    Returns one row per (deployment, hour) with requests, input_tokens, output_tokens and their rates per
    second (rps, input_tps, output_tps);
    all null in collection gaps and before the deployment's first row.
    """
    first, last = hour_range(start, end)
    hours = pl.datetime_range(first, last, HOUR, closed="left", time_unit="us", time_zone="UTC", eager=True)
    rows = counts.select(
        utc_time(counts, "bucket").alias("ts"),
        "deployment",
        *(pl.col(c).cast(pl.Float64) for c in COUNTS.values()),
    ).filter((pl.col("ts") >= first) & (pl.col("ts") < last))
    deployments = sorted(rows["deployment"].unique().to_list())
    if not deployments or hours.is_empty():
        return pl.DataFrame(schema={c: (pl.String if c == "deployment" else pl.Datetime("us", "UTC") if c == "ts" else pl.Float64) for c in DEMAND_COLUMNS})
    collected = rows.select("ts").unique().with_columns(pl.lit(True).alias("collected"))
    first_seen = rows.group_by("deployment").agg(pl.col("ts").min().alias("first_seen"))
    grid = (
        pl.DataFrame({"deployment": deployments})
        .join(pl.DataFrame({"ts": hours}), how="cross")
        .join(rows, on=["deployment", "ts"], how="left")
        .join(collected, on="ts", how="left")
        .join(first_seen, on="deployment", how="left")
    )
    known = pl.col("collected").fill_null(False) & (pl.col("ts") >= pl.col("first_seen"))
    seconds = HOUR.total_seconds()
    return (
        grid.with_columns(
            pl.when(known).then(pl.col(c).fill_null(0.0)).otherwise(None).alias(c) for c in COUNTS.values()
        )
        .with_columns((pl.col(count) / seconds).alias(rate) for rate, count in COUNTS.items())
        .select(DEMAND_COLUMNS)
        .sort("deployment", "ts")
    )


def fleet_total(demand: pl.DataFrame) -> pl.DataFrame:
    """The fleet's hourly demand: the sum over deployments with a known value (null in gaps)."""
    value_cols = DEMAND_COLUMNS[2:]
    return (
        demand.group_by("ts")
        .agg(
            *(pl.when(pl.col(c).is_not_null().any()).then(pl.col(c).sum()).otherwise(None).alias(c) for c in value_cols)
        )
        .with_columns(pl.lit(FLEET).alias("deployment"))
        .select(DEMAND_COLUMNS)
        .sort("ts")
    )


def series(demand: pl.DataFrame, deployment: str, metric: str = "rps") -> pl.DataFrame:
    """One deployment's (ts, y) series of a demand metric, as the forecast adapter takes it."""
    if metric not in METRICS:
        raise InputError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    return demand.filter(pl.col("deployment") == deployment).select("ts", pl.col(metric).alias("y")).sort("ts")
