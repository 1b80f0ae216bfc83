"""Fleet and per-deployment traffic, errors and latency percentiles from the request rollup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from analytics import columns, histogram
from analytics.indicators import AVAILABILITY

PERCENTILES = (0.50, 0.95, 0.99)
LATENCY_SUMMARY_FIELDS = ("ttft", "e2e")
HIST_FIELDS = ("ttft_ms", "e2e_ms")  # the histograms the overview reads
# Metrics compared between this period and the previous one, and whether higher is worse.
MOVER_METRICS = {"rps": False, "error_rate": True, "ttft_p99_ms": True, "e2e_p99_ms": True}


def error_rate() -> pl.Expr:
    """1 - the availability SLI (analytics.indicators.AVAILABILITY): 1 - ok / requests with a known
    outcome; null ("not measured") when no request has one.

    Requests of status 'unknown' (arrival-only traces) are neither good nor bad
    (analytics.store.conventions.STATUSES): counting them as ok would report 0% errors for a
    trace that never recorded an outcome.
    """
    # The availability SLI's valid events: every request but those of a status it does not judge.
    judged = pl.col("requests") - pl.sum_horizontal(AVAILABILITY.invalid_statuses)
    good = pl.sum_horizontal(AVAILABILITY.good_statuses)
    return pl.when(judged > 0).then(1 - good / judged).otherwise(None)


def _percentile_columns(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    out = {}
    for field in LATENCY_SUMMARY_FIELDS:
        matrix = histogram.matrix(frame, f"{field}_hist")
        for q in PERCENTILES:
            out[columns.percentile_name(field, q)] = (
                histogram.quantile(matrix, q) if len(matrix) else np.zeros(0)
            )
    return out


def summarize(totals: pl.DataFrame, seconds: float) -> pl.DataFrame:
    """Per deployment: requests, req/s, error rate, output tokens/s and TTFT/E2E percentiles.

    Error rate = 1 - ok / requests with a known outcome (every non-ok status is an error for the
    user; see error_rate); percentiles are estimated from the latency histograms of ok requests
    (analytics.histogram.quantile) and are null where no latency was measured.
    """
    if totals.is_empty():
        return pl.DataFrame(schema={"deployment": pl.String, "requests": pl.UInt64})
    base = totals.select(
        "deployment",
        "region",
        "requests",
        (pl.col("requests") / seconds).alias("rps"),
        error_rate().alias("error_rate"),
        (pl.col("output_tokens") / seconds).alias("output_tps"),
    )
    return base.with_columns(
        pl.Series(name, values, nan_to_null=True) for name, values in _percentile_columns(totals).items()
    )


def fleet_totals(totals: pl.DataFrame) -> pl.DataFrame:
    """All deployments merged into one row (histograms summed bucket by bucket)."""
    sums = totals.select(
        pl.sum("requests", "ok", "error", "timeout", "rejected", "unknown", "input_tokens", "output_tokens")
    )
    hists = {
        f"{f}_hist": [histogram.matrix(totals, f"{f}_hist").sum(axis=0).astype(np.uint64).tolist()]
        for f in LATENCY_SUMMARY_FIELDS
    }
    return sums.with_columns(deployment=pl.lit("fleet"), region=pl.lit("")).with_columns(
        pl.Series(k, v, dtype=pl.List(pl.UInt64)) for k, v in hists.items()
    )


@dataclass(frozen=True)
class Comparison:
    """This period against the one of equal length before it, both cut to the offsets where the
    data covers both (hour h of this period is compared with hour h of the previous one)."""

    current: tuple[datetime, datetime]
    previous: tuple[datetime, datetime]
    length: timedelta  # of the whole period

    @property
    def compared(self) -> timedelta:
        """How much of each period is compared."""
        return self.current[1] - self.current[0]

    @property
    def partial(self) -> bool:
        """True when the data covers only part of the two periods."""
        return self.compared < self.length


def comparison(start: datetime, end: datetime, data_start: datetime, data_end: datetime) -> Comparison | None:
    """The comparable parts of [start, end) and the period before it, given the data's span; None
    when the data covers no common offset (e.g. the previous period holds no data at all).

    Comparing a 28-day period with a previous one holding 7 days of data would report every
    rate as up ~4x; comparing like offsets of both periods keeps a mover a real change.
    """
    length = end - start
    previous_start = start - length
    lo = max(timedelta(0), data_start - previous_start)
    hi = min(length, data_end - start)
    if hi <= lo:
        return None
    return Comparison((start + lo, start + hi), (previous_start + lo, previous_start + hi), length)


def span_of(seen: pl.DataFrame, deployments: list[str], slot: timedelta) -> tuple[datetime, datetime] | None:
    """[first slot, end of the last slot] of the given deployments' data; seen has deployment,
    first_ts and last_ts (slot starts). Scoping the span to the deployments in view keeps an
    unrelated old trace from making an empty previous period look covered."""
    rows = seen.filter(pl.col("deployment").is_in(deployments))
    if rows.is_empty():
        return None
    return rows["first_ts"].min(), rows["last_ts"].max() + slot


NEW_AFTER_SHARE = 0.1  # a deployment whose data starts this share of the window late is new


def new_in_period(first_seen: pl.DataFrame, window: tuple[datetime, datetime]) -> list[str]:
    """Deployments whose first data comes more than NEW_AFTER_SHARE of the compared previous window
    after its start: they have no previous values to move from (a quiet deployment's first
    request a few minutes late is not new). first_seen has deployment and first_ts."""
    since = window[0] + (window[1] - window[0]) * NEW_AFTER_SHARE
    return sorted(first_seen.filter(pl.col("first_ts") > since)["deployment"].to_list())


def movers(current: pl.DataFrame, previous: pl.DataFrame, top: int = 8) -> pl.DataFrame:
    """Largest changes vs the previous period, worst first (relative change of each metric)."""
    if current.is_empty() or previous.is_empty():
        return pl.DataFrame()
    joined = current.join(previous, on="deployment", how="inner", suffix="_prev")
    rows = []
    for metric, higher_is_worse in MOVER_METRICS.items():
        frame = joined.select(
            "deployment",
            pl.lit(metric).alias("metric"),
            pl.col(f"{metric}_prev").alias("previous"),
            pl.col(metric).alias("current"),
        ).filter(pl.col("previous").is_not_null() & pl.col("current").is_not_null())
        change = (pl.col("current") - pl.col("previous")) / pl.col("previous").abs().clip(lower_bound=1e-9)
        # "Worse" is positive: a rise in errors or latency, or a fall in traffic.
        worse = change if higher_is_worse else -change
        rows.append(frame.with_columns(change.alias("change"), worse.alias("worse")))
    if not rows:
        return pl.DataFrame()
    return (
        pl.concat(rows)
        .filter(pl.col("change").is_finite())
        .sort(pl.col("worse").abs(), descending=True)
        .head(top)
        .drop("worse")
    )


def series(slots: pl.DataFrame, step_seconds: int) -> pl.DataFrame:
    """Per (deployment, time step): req/s, error rate and TTFT/E2E p99 (for time-series charts)."""
    if slots.is_empty():
        return pl.DataFrame(schema={"slot": pl.Datetime("ms", "UTC"), "deployment": pl.String})
    p99 = {
        f"{f}_p99_ms": histogram.quantile(histogram.matrix(slots, f"{f}_hist"), 0.99)
        for f in LATENCY_SUMMARY_FIELDS
    }
    return slots.select(
        "slot",
        "deployment",
        (pl.col("requests") / step_seconds).alias("rps"),
        error_rate().alias("error_rate"),
    ).with_columns(pl.Series(k, v, nan_to_null=True) for k, v in p99.items())
