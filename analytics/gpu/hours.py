"""Per (deployment, hour): requests, good requests and whether the hour met the deployment's objectives.

"Met" is the one per-slot rule of analytics.slo.compliance applied to each of the deployment's
objectives (analytics.slo.objectives: its latency and goodput SLOs, else the defaults for its
kind), so the GPU views, capacity and the SLO pages agree on which hours were compliant.
Good requests (DistServe's goodput, Zhong et al., OSDI'24) meet every per-request latency
condition of those objectives (analytics.slo.compliance.good_requests: the same estimate, within
Frechet bounds when two fields are joined, that the hour's verdict judged). p99 latencies are estimated from the hour's merged histogram
(analytics.histogram.quantile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from analytics import columns, histogram
from analytics.slo.compliance import MIN_EVENTS_PER_HOUR, good_requests, objectives_met
from analytics.slo.sli import inputs_from_rows, take
from analytics.slo.spec import Slo

LATENCY_QUANTILE = 0.99
QUANTILE_FIELDS = ("ttft_ms", "tpot_ms", "e2e_ms")
Objectives = Mapping[str, Sequence[Slo]]


def fields_of(objectives: Objectives) -> tuple[str, ...]:
    """Histograms the hourly views read: the quantile fields plus any the objectives judge (e.g. queue_ms)."""
    judged = (f for slos in objectives.values() for slo in slos for f in slo.sli.fields)
    return tuple(dict.fromkeys([*QUANTILE_FIELDS, *judged]))


def hourly_requests(hours: pl.DataFrame, objectives: Objectives) -> pl.DataFrame:
    """Per (deployment, hour) row of the hourly request rollup (column ``slot``): requests, ok,
    tokens, request rate, good requests, whether the hour was judged and met every objective,
    the lowest attainment among them, and p99 latencies.

    good, met_slo and attainment are null for deployments without objectives.
    """
    frame = hours.sort("deployment", "slot")
    n = frame.height
    good, attainment = np.full(n, np.nan), np.full(n, np.nan)
    evaluable, met = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    judged = np.zeros(n, dtype=bool)
    inputs = inputs_from_rows(frame)  # every histogram converted once, then sliced per deployment
    names = frame["deployment"].to_numpy()
    for name in np.unique(names):
        slos = objectives.get(str(name), ())
        if not slos:
            continue
        rows = np.flatnonzero(names == name)
        part = take(inputs, rows)
        verdict = objectives_met(part, slos, MIN_EVENTS_PER_HOUR)
        good[rows] = good_requests(part, slos)
        attainment[rows] = verdict.attainment
        evaluable[rows], met[rows], judged[rows] = verdict.evaluable, verdict.met, True
    latency = {
        columns.percentile_name(field, LATENCY_QUANTILE): histogram.quantile_of_cumulative(inputs.cum[field], LATENCY_QUANTILE)
        if n else np.zeros(0)
        for field in QUANTILE_FIELDS
        if field in inputs.cum
    }
    verdicts = pl.DataFrame({"evaluable": evaluable, "met_slo": met}).select(
        pl.when(pl.Series(judged)).then(pl.all()).name.keep())  # null where no objective judges
    return frame.select(
        "deployment", pl.col("slot").alias("hour"), "requests", "ok", "input_tokens", "output_tokens",
    ).with_columns(
        (pl.col("requests") / 3600.0).alias("rps"),
        pl.Series("good", good, nan_to_null=True),
        pl.Series("attainment", attainment, nan_to_null=True),
        *verdicts,
        *(pl.Series(name, values, nan_to_null=True) for name, values in latency.items()),
    )
