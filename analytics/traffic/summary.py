"""Fleet and per-deployment traffic, errors and latency percentiles from the request rollup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from analytics import columns, histogram
from analytics.store.conventions import EDGES_MS
from analytics.store.indicators import AVAILABILITY

PERCENTILES = (0.50, 0.95, 0.99)
LATENCY_SUMMARY_FIELDS = ("ttft", "e2e")
HIST_FIELDS = ("ttft_ms", "e2e_ms")  # the histograms the overview reads
# Metrics compared between this period and the previous one, and whether higher is worse.
MOVER_METRICS = {"rps": False, "error_rate": True, "ttft_p99_ms": True, "e2e_p99_ms": True}


def error_rate() -> pl.Expr:
    """1 - the availability SLI (analytics.store.indicators.AVAILABILITY): 1 - ok / requests with a known
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


# --- movers: one rule for the Overview and the weekly review ---
# A change is ranked by a z statistic of a test on the counts behind the metric, not by its
# relative size: 0.000% -> 0.249% errors on a few hundred requests is a large ratio and no evidence.
#   error_rate: two-proportion z-test of errors / requests with a known outcome (pooled standard
#     error; NIST/SEMATECH e-Handbook of Statistical Methods, 7.3.3 "How can we determine whether
#     two processes produce the same proportion of defectives?").
#   rps: the conditional test of two Poisson counts over equal times: given c1 + c2 requests, c2 is
#     Binomial(c1 + c2, 1/2) when the rate did not change (Przyborowski & Wilenski 1940), whose
#     normal approximation is z = (c2 - c1) / sqrt(c1 + c2).
#   *_p99_ms: the p99 moved when the share of requests slower than the previous period's p99 moved:
#     the two-proportion z-test on the requests above the histogram edge at or over the previous p99
#     (counted exactly from the bucket counts, analytics.histogram), in both periods.
# The normal approximation needs about 10 events on each side (n p >= 10: Agresti & Coull 1998,
# "Approximate is better than exact"; NIST e-Handbook 7.2.4): a metric is compared only when the
# previous period holds MIN_EVENTS of what it counts, so a p99 needs MIN_EVENTS / 1% = 1000
# latency samples in each period (a p99 of 20 requests is noise). Below MIN_EVENTS errors (or
# requests) before, the relative change is not shown: the change is "new".
# The counts are the rollup's weighted counts: a trace sampled at rate r stores each request as 1/r,
# so its z overstates the evidence by sqrt(1/r) (the rollup keeps no unweighted count).
MIN_EVENTS = 10
P99 = 0.99
MIN_LATENCY_SAMPLES = round(MIN_EVENTS / (1 - P99))
# A change is a mover from |z| >= 3: three standard errors, the control limit of a Shewhart chart
# (NIST e-Handbook 6.3.1), about 1 in 370 by chance under no change.
SIGNIFICANT_Z = 3.0
# The tested rows of every compared deployment and metric, before ranking.
CHANGE_SCHEMA = {"deployment": pl.String, "metric": pl.String, "previous": pl.Float64, "current": pl.Float64,
                 "change": pl.Float64, "z": pl.Float64, "baseline": pl.String}


def proportion_z(bad_before: np.ndarray, n_before: np.ndarray, bad_now: np.ndarray, n_now: np.ndarray) -> np.ndarray:
    """Pooled two-proportion z statistic (NIST e-Handbook 7.3.3), positive when the share rose;
    0 where neither period has a bad event (nothing moved), NaN without events in a period."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (bad_before + bad_now) / (n_before + n_now)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_before + 1 / n_now))
        z = (bad_now / n_now - bad_before / n_before) / se
    return np.where((n_before > 0) & (n_now > 0), np.where(se > 0, z, 0.0), np.nan)


def poisson_z(count_before: np.ndarray, count_now: np.ndarray) -> np.ndarray:
    """z of two Poisson counts over equal times (conditional binomial test, normal approximation)."""
    total = count_before + count_now
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, (count_now - count_before) / np.sqrt(total), 0.0)


def _judged(totals: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(requests with a known outcome, errors among them), as error_rate counts them."""
    judged = totals.select(pl.col("requests") - pl.sum_horizontal(AVAILABILITY.invalid_statuses)).to_series()
    good = totals.select(pl.sum_horizontal(AVAILABILITY.good_statuses)).to_series()
    return judged.to_numpy().astype(float), (judged - good).to_numpy().astype(float)


def _tail(before: np.ndarray, now: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row: previous p99, current p99, samples and samples above the previous p99's bucket edge
    (the first edge at or over it) in each period. Rows are latency histograms (analytics.histogram)."""
    p99_before, p99_now = histogram.quantile(before, P99), histogram.quantile(now, P99)
    n_before, n_now = before.sum(axis=1).astype(float), now.sum(axis=1).astype(float)
    # bucket k counts EDGES[k-1] < x <= EDGES[k]: buckets after the one holding the p99 are slower
    bucket = np.searchsorted(EDGES_MS, np.nan_to_num(p99_before), side="left")
    slower = np.arange(before.shape[1])[None, :] > bucket[:, None]
    return (p99_before, p99_now, n_before, (before * slower).sum(axis=1).astype(float),
            n_now, (now * slower).sum(axis=1).astype(float))


def changes(current: pl.DataFrame, previous: pl.DataFrame, seconds: float,
            metrics: tuple[str, ...] = tuple(MOVER_METRICS)) -> pl.DataFrame:
    """Every (deployment, metric) of ``metrics`` compared between two periods of ``seconds`` each,
    from their request totals (queries.request_totals with HIST_FIELDS): previous and current
    value, the relative change (null, with baseline 'new', when the previous period held fewer
    than MIN_EVENTS of the counted events), and z, signed so that positive is worse (more errors,
    higher latency, less traffic). A metric without enough events in either period is left out."""
    if current.is_empty() or previous.is_empty():
        return pl.DataFrame(schema=CHANGE_SCHEMA)
    names = sorted(set(current["deployment"]) & set(previous["deployment"]))
    now = current.filter(pl.col("deployment").is_in(names)).sort("deployment")
    before = previous.filter(pl.col("deployment").is_in(names)).sort("deployment")
    parts = []

    def part(metric: str, prev, cur, z, baseline_events, enough) -> None:
        worse = z if MOVER_METRICS[metric] else -z
        parts.append(pl.DataFrame({
            "deployment": names, "metric": [metric] * len(names), "previous": prev, "current": cur,
            "z": worse, "baseline_events": baseline_events, "enough": enough,
        }, schema_overrides={"previous": pl.Float64, "current": pl.Float64, "z": pl.Float64,
                             "baseline_events": pl.Float64}))

    if "rps" in metrics:
        c1, c2 = before["requests"].to_numpy().astype(float), now["requests"].to_numpy().astype(float)
        part("rps", c1 / seconds, c2 / seconds, poisson_z(c1, c2), c1, (c1 + c2) > 0)
    if "error_rate" in metrics:
        (n1, x1), (n2, x2) = _judged(before), _judged(now)
        with np.errstate(divide="ignore", invalid="ignore"):
            part("error_rate", x1 / n1, x2 / n2, proportion_z(x1, n1, x2, n2), x1, (n1 > 0) & (n2 > 0))
    for field in LATENCY_SUMMARY_FIELDS:
        metric = columns.percentile_name(field, P99)
        if metric not in metrics:
            continue
        p1, p2, n1, t1, n2, t2 = _tail(histogram.matrix(before, f"{field}_hist"), histogram.matrix(now, f"{field}_hist"))
        enough = (n1 >= MIN_LATENCY_SAMPLES) & (n2 >= MIN_LATENCY_SAMPLES)
        part(metric, p1, p2, proportion_z(t1, n1, t2, n2), n1 * (1 - P99), enough)
    frame = pl.concat(parts).filter(pl.col("enough") & pl.col("z").is_not_nan())
    relative = (pl.col("current") - pl.col("previous")) / pl.col("previous")
    shown = pl.col("baseline_events") >= MIN_EVENTS
    return frame.select(
        "deployment", "metric", "previous", "current",
        pl.when(shown).then(relative).alias("change"), pl.col("z") + 0.0,  # + 0.0: no -0.0
        pl.when(shown).then(pl.lit(None, pl.String)).otherwise(pl.lit("new")).alias("baseline"),
    ).cast(CHANGE_SCHEMA)


def movers(changed: pl.DataFrame, top: int = 8) -> pl.DataFrame:
    """The ``top`` significant changes (|z| >= SIGNIFICANT_Z) of a changes() frame: what got worse
    first, then what got better, each the strongest evidence first."""
    return (changed.filter(pl.col("z").abs() >= SIGNIFICANT_Z)
            .sort(pl.col("z") < 0, pl.col("z").abs(), "deployment", "metric", descending=[False, True, False, False])
            .head(top))


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
