"""Attribution: which dimension values are over-represented among an incident's bad events.

Input is an incident window's breakdown by the rollup keys (analytics.store.review.breakdown:
one row per deployment, region, gpu_type and model_version, with counts by status and latency
histograms), grouped by ClickHouse; everything here is arithmetic on those few rows.

Each row is judged by the incident's SLI (good and valid events, analytics.slo.sli.sli_counts;
availability counts only requests with a known outcome, analytics.store.conventions). For each
dimension value v, with B and G the bad and good events of the whole window:

    bad_share = bad_v / B,  good_share = good_v / G,  score = bad_share - good_share

the difference in proportions: how much larger v's share of the bad events is than its share of
the good ones, in [-1, 1]. It compares the same two distributions as Adtributor's "surprise"
(Bhagwan et al., NSDI'14: a value's share of the anomalous vs the expected data) without the
log, so it reads as percentage points. Being a difference of shares, it weighs support: a value
with 3 requests cannot top the list with an extreme ratio. The risk ratio of MacroBase (Bailis
et al., SIGMOD'17), (bad_v / valid_v) / (bad_rest / valid_rest), is shown beside it with the
counts, so a reader can judge both, and so is the two-proportion z statistic of the bad rate in
v against the rest (pooled standard error; e.g. Agresti, "Categorical Data Analysis", 3rd ed.,
sec. 3.1.3 / 1.4): |z| >= 3 says the difference is unlikely to be chance. Counts are in requests
(weighted): with sampled logs the number of logged rows is smaller, and z overstates the
evidence by the square root of the weight.

Which events: an incident's bad events are those of its burn (the slots where its budget burned,
analytics.review.incidents.burn_stretch); its good events are those of the burn and of as long
again before it (``with_context``). Adtributor compares the anomalous period with the data
expected of it; here the stretch before the burn stands for what traffic looked like, so a
value that is all the traffic during the burn (a model version rolled out just before it, a
region that took over the load) still stands out, and the share of a value that is only busier
during the burn is judged against its usual share.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.slo.sli import inputs_from_rows, sli_counts
from analytics.slo.spec import Sli

DIMENSIONS = ("deployment", "region", "gpu_type", "model_version")  # rollup keys
RAW_DIMENSIONS = ("replica", "input_band")  # from the raw requests (analytics.store.review.raw_breakdown)
AFFECTED_Z = 3.0  # standard errors above its allowance that make a deployment affected (as |z| >= 3 above)
ATTRIBUTION_SCHEMA = {
    "dimension": pl.String, "value": pl.String, "bad": pl.Float64, "good": pl.Float64,
    "bad_share": pl.Float64, "good_share": pl.Float64, "score": pl.Float64, "risk_ratio": pl.Float64,
    "z": pl.Float64,
}


def judge(breakdown: pl.DataFrame, sli: Sli) -> pl.DataFrame:
    """The breakdown with ``good`` and ``bad`` events per row under an SLI.

    Availability counts statuses ('unknown' outcomes are neither good nor bad), latency is judged
    on the merged histograms (estimates between bucket edges), goodput from the two 1-D
    histograms (analytics.slo.sli.histogram_counts).
    """
    if breakdown.is_empty():
        return breakdown.with_columns(pl.lit(0.0).alias("good"), pl.lit(0.0).alias("bad"))
    counts = sli_counts(inputs_from_rows(breakdown), sli)
    good, valid = np.asarray(counts.good, dtype=np.float64), np.asarray(counts.valid, dtype=np.float64)
    return breakdown.with_columns(pl.Series("good", good), pl.Series("bad", np.maximum(valid - good, 0.0)))


def with_context(burn: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """A burn's judged breakdown with the good events of the stretch before it added (that
    stretch's bad events are left out: they are not the incident's)."""
    if burn.is_empty() or before.is_empty():
        return burn
    return pl.concat([burn, before.with_columns(pl.lit(0.0).alias("bad"))], how="diagonal_relaxed")


def attribute(judged: pl.DataFrame, dimensions: tuple[str, ...] = DIMENSIONS) -> pl.DataFrame:
    """Every dimension value ranked by score (most over-represented among bad events first).

    Columns: dimension, value, bad, good (events), bad_share, good_share, score (bad_share -
    good_share), risk_ratio (null when undefined: no bad events outside the value, or none
    valid in it) and z (null without events outside the value). Empty when the window holds no
    bad events.
    """
    total_bad, total_good = float(judged["bad"].sum() or 0.0), float(judged["good"].sum() or 0.0)
    if judged.is_empty() or total_bad <= 0:
        return pl.DataFrame(schema=ATTRIBUTION_SCHEMA)
    parts = []
    for dim in dimensions:
        per = judged.group_by(dim).agg(pl.col("bad").sum(), pl.col("good").sum())
        parts.append(per.select(pl.lit(dim).alias("dimension"), pl.col(dim).cast(pl.String).alias("value"), "bad", "good"))
    frame = pl.concat(parts)
    rest_bad, rest_valid = total_bad - pl.col("bad"), total_bad + total_good - pl.col("bad") - pl.col("good")
    valid = pl.col("bad") + pl.col("good")
    rate, rest_rate = pl.col("bad") / valid, rest_bad / rest_valid
    pooled = total_bad / (total_bad + total_good)
    se = (pooled * (1.0 - pooled) * (1.0 / valid + 1.0 / rest_valid)).sqrt()
    return (frame.with_columns(
        (pl.col("bad") / total_bad).alias("bad_share"),
        (pl.col("good") / total_good if total_good > 0 else pl.lit(0.0)).alias("good_share"),
        pl.when((pl.col("bad") + pl.col("good") > 0) & (rest_valid > 0) & (rest_bad > 0))
        .then(rate / rest_rate).otherwise(None).alias("risk_ratio"),
        pl.when((valid > 0) & (rest_valid > 0) & (se > 0)).then((rate - rest_rate) / se).otherwise(None).alias("z"),
    ).with_columns((pl.col("bad_share") - pl.col("good_share")).alias("score"))
        .select(list(ATTRIBUTION_SCHEMA)).cast(ATTRIBUTION_SCHEMA).pipe(_ranked))


def _ranked(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(["score", "bad", "dimension", "value"], descending=[True, True, False, False])


def combine(*ranked: pl.DataFrame) -> pl.DataFrame:
    """Attributions of the same window over different dimensions (e.g. rollup keys and the raw
    replica and input band) as one ranking."""
    return _ranked(pl.concat([pl.DataFrame(schema=ATTRIBUTION_SCHEMA), *ranked]))


def affected(judged: pl.DataFrame, target: float) -> list[str]:
    """Deployments that burned budget faster than rate 1 (SRE Workbook ch. 5) beyond chance: their
    bad events exceed the SLO's allowance, (1 - target) x their valid events, by at least
    AFFECTED_Z standard errors (the binomial's, sqrt(n p (1 - p)) with p = 1 - target), so one
    error among a few dozen requests of a bystander in a short window does not count. When none
    did, the one with the most bad events (a scope-wide burn spread thinly). Empty without bad
    events."""
    per = (judged.group_by("deployment").agg(pl.col("bad").sum(), pl.col("good").sum())
           .filter(pl.col("bad") > 0).sort(["bad", "deployment"], descending=[True, False]))
    if per.is_empty():
        return []
    allowed = 1.0 - target
    valid = pl.col("bad") + pl.col("good")
    over = per.filter(pl.col("bad") - valid * allowed > AFFECTED_Z * (valid * allowed * (1.0 - allowed)).sqrt())
    return sorted((over if over.height else per.head(1))["deployment"].to_list())
