"""Latency-SLO-meeting requests from the request rollup's histograms, per slot and per hour.

A latency SLO for the GPU views is a dict ``{field: threshold_ms}`` per deployment (fields from
analytics.names.LATENCY_FIELDS). "Meets" is counted from the fixed-bucket histograms of 'ok'
requests (analytics.histogram): exact when the threshold is a bucket edge, otherwise the
conservative lower bound (values in buckets entirely at or below the threshold).

Goodput (DistServe, Zhong et al., OSDI'24): good requests are those meeting every latency
condition (e.g. ttft <= a AND tpot <= b). Per-field histograms do not say which request met
which condition, so for k > 1 conditions we count the Frechet/Bonferroni lower bound
max(0, sum of per-field good counts - (k - 1) x ok requests) per 5-minute slot (a request
failing any condition can be missed by at most one per-field count), then sum over slots.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from analytics import histogram as H
from analytics import names as N
from analytics.errors import InputError
from analytics.schema import hist_column

LatencySlos = Mapping[str, Mapping[str, float]]

# Default thresholds for the GPU views when no SLO is given, by deployment kind. All are bucket
# edges, so counts are exact. Chosen as interactive-serving norms: a chat reply starts within
# 2 s and streams faster than reading speed (80 ms/token ~ 12 tokens/s); code completion is
# tighter; embeddings and classic models are judged on end-to-end latency.
DEFAULT_THRESHOLDS_BY_KIND: dict[str, dict[str, float]] = {
    "chat": {"ttft_ms": 2000.0, "tpot_ms": 80.0},
    "code": {"ttft_ms": 1500.0, "tpot_ms": 50.0},
    "embedding": {"e2e_ms": 200.0},
    "classic": {"e2e_ms": 25.0},
}
LATENCY_QUANTILE = 0.99
QUANTILE_FIELDS = ("ttft_ms", "tpot_ms", "e2e_ms")


def default_latency_slos(deployments: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Default latency thresholds per deployment from its kind (DEFAULT_THRESHOLDS_BY_KIND)."""
    return {
        row["deployment"]: dict(DEFAULT_THRESHOLDS_BY_KIND[row["kind"]])
        for row in deployments.select("deployment", "kind").iter_rows(named=True)
        if row["kind"] in DEFAULT_THRESHOLDS_BY_KIND
    }


def check_slos(slos: LatencySlos) -> dict[str, dict[str, float]]:
    """Validate latency thresholds (known fields, positive ms); returns a plain-dict copy."""
    checked: dict[str, dict[str, float]] = {}
    for deployment, thresholds in slos.items():
        if not thresholds:
            raise InputError(f"latency SLO for {deployment!r}: no thresholds")
        checked[deployment] = {}
        for field, value in thresholds.items():
            if field not in N.LATENCY_FIELDS:
                raise InputError(
                    f"latency SLO for {deployment!r}: unknown field {field!r} "
                    f"(one of {', '.join(N.LATENCY_FIELDS)})"
                )
            try:
                ms = float(value)
            except (TypeError, ValueError):
                ms = float("nan")
            if not np.isfinite(ms) or ms <= 0:
                raise InputError(f"latency SLO for {deployment!r}: {field} must be a positive number of ms, got {value!r}")
            checked[deployment][field] = ms
    return checked


def describe(thresholds: Mapping[str, float]) -> str:
    """A readable condition, e.g. 'ttft_ms <= 2000 ms and tpot_ms <= 80 ms (lower bound)'."""
    text = " and ".join(f"{field} <= {ms:g} ms" for field, ms in thresholds.items())
    if len(thresholds) > 1 or not all(H.is_edge(ms) for ms in thresholds.values()):
        text += " (lower bound)"
    return text


def hist_matrix(frame: pl.DataFrame, field: str) -> np.ndarray:
    """The histogram column of a latency field as an (rows, N_BUCKETS) int64 array."""
    column = frame[hist_column(field)]
    if frame.height == 0:
        return np.zeros((0, N.N_BUCKETS), dtype=np.int64)
    flat = column.explode().fill_null(0).to_numpy().astype(np.int64)
    if flat.size != frame.height * N.N_BUCKETS:
        raise ValueError(f"{hist_column(field)}: expected {N.N_BUCKETS} buckets per row")
    return flat.reshape(frame.height, N.N_BUCKETS)


def good_counts(slots: pl.DataFrame, slos: LatencySlos) -> np.ndarray:
    """Requests meeting their deployment's latency SLO, per slot row (NaN where no SLO applies)."""
    slos = check_slos(slos)
    good = np.full(slots.height, np.nan)
    if slots.height == 0:
        return good
    deployment = slots["deployment"].to_numpy()
    ok = slots["ok"].to_numpy().astype(np.float64)
    cums: dict[str, np.ndarray] = {}
    for name, thresholds in slos.items():
        rows = deployment == name
        if not rows.any():
            continue
        total = np.zeros(int(rows.sum()))
        for field, ms in thresholds.items():
            if field not in cums:
                cums[field] = H.cumulative(hist_matrix(slots, field))
            total += H.count_le(cums[field][rows], ms).lower
        # Bonferroni lower bound for the joint condition (module docstring).
        good[rows] = np.maximum(0.0, total - (len(thresholds) - 1) * ok[rows])
    return good


def with_hour(slots: pl.DataFrame) -> pl.DataFrame:
    """The slots frame with an ``hour`` column (the slot's UTC hour)."""
    return slots.with_columns(pl.col("slot").dt.truncate("1h").alias("hour"))


def hourly_requests(slots: pl.DataFrame, slos: LatencySlos) -> pl.DataFrame:
    """Per (deployment, hour): requests, request rate, good requests, attainment and p99 latencies.

    attainment = good / ok requests (the latency SLI; failed requests belong to availability);
    good and attainment are NULL for deployments without a latency SLO. p99_<field> estimates
    the 99th percentile from the merged hourly histogram (analytics.histogram.quantile).
    """
    frame = with_hour(slots).with_columns(pl.Series("good", good_counts(slots, slos)))
    frame = frame.sort("deployment", "hour", "slot")
    run = frame.select(pl.struct("deployment", "hour").rle_id()).to_series().to_numpy()
    starts = np.flatnonzero(np.diff(run, prepend=-1)) if frame.height else np.zeros(0, dtype=np.int64)
    out = frame[starts.tolist()].select("deployment", "hour")

    def per_hour(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts, axis=0) if len(starts) else values[:0]

    counts = {c: per_hour(frame[c].to_numpy().astype(np.float64)) for c in ("requests", "ok", "input_tokens", "output_tokens")}
    good = per_hour(frame["good"].to_numpy())  # NaN (no SLO) propagates: every slot of a deployment shares it
    latency = {
        f"p99_{field}": H.quantile(per_hour(hist_matrix(frame, field)), LATENCY_QUANTILE)
        for field in QUANTILE_FIELDS
    }
    columns = {name: pl.Series(name, values, nan_to_null=True) for name, values in {**counts, "good": good, **latency}.items()}
    return out.with_columns(**columns).with_columns(
        (pl.col("requests") / 3600.0).alias("requests_per_s"),
        pl.when(pl.col("ok") > 0).then(pl.col("good") / pl.col("ok")).alias("attainment"),
    )


def slos_from_specs(specs, deployments: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Latency thresholds per deployment from SLO specs (analytics.slo_spec.Slo objects).

    Every latency or goodput SLO whose selector matches a deployment contributes its thresholds;
    when several set the same field, the strictest (smallest) threshold wins.
    """
    out: dict[str, dict[str, float]] = {}
    for row in deployments.select("deployment", "model", "region").iter_rows(named=True):
        for spec in specs:
            if not spec.selector.matches(row["deployment"], row["model"], row["region"]):
                continue
            sli = spec.sli
            pairs = {"latency": [(sli.field, sli.threshold_ms)], "goodput": [("ttft_ms", sli.ttft_ms), ("tpot_ms", sli.tpot_ms)]}
            for field, ms in pairs.get(sli.kind, []):
                current = out.setdefault(row["deployment"], {})
                current[field] = min(float(ms), current.get(field, float("inf")))
    return out
