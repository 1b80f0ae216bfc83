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
from analytics.latency_defaults import DEFAULT_SLOS
from analytics.schema import hist_column

LatencySlos = Mapping[str, Mapping[str, float]]

# Default thresholds when no SLO file covers a deployment, by kind: the shared defaults
# (analytics.latency_defaults) without their targets.
DEFAULT_THRESHOLDS_BY_KIND: dict[str, dict[str, float]] = {
    kind: {field: value for field, value in slo.items() if field != "target"}
    for kind, slo in DEFAULT_SLOS.items()
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
                raise InputError(
                    f"latency SLO for {deployment!r}: {field} must be a positive number of ms, got {value!r}"
                )
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
    if hist_column(field) not in frame.columns:
        raise InputError(
            f"the {field} histogram was not loaded: pass it in latency_fields to analytics.gpu.load"
        )
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

    counts = {
        c: per_hour(frame[c].to_numpy().astype(np.float64))
        for c in ("requests", "ok", "input_tokens", "output_tokens")
    }
    good = per_hour(frame["good"].to_numpy())  # NaN (no SLO) propagates: every slot of a deployment shares it
    latency = {
        f"p99_{field}": H.quantile(per_hour(hist_matrix(frame, field)), LATENCY_QUANTILE)
        for field in QUANTILE_FIELDS
        if hist_column(field) in frame.columns
    }
    columns = {
        name: pl.Series(name, values, nan_to_null=True)
        for name, values in {**counts, "good": good, **latency}.items()
    }
    return out.with_columns(**columns).with_columns(
        (pl.col("requests") / 3600.0).alias("requests_per_s"),
        pl.when(pl.col("ok") > 0).then(pl.col("good") / pl.col("ok")).alias("attainment"),
    )


def slos_from_specs(specs, deployments: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Latency thresholds per deployment from SLO specs (analytics.slo_spec.Slo objects).

    A deployment covered by a goodput SLO uses its ttft/tpot pair (goodput is what DistServe
    defines per GPU); otherwise every latency SLO covering it contributes its field. When several
    SLOs set the same field, the strictest (smallest) threshold wins. Availability SLOs are ignored.
    """
    out: dict[str, dict[str, float]] = {}
    for row in deployments.select("deployment", "model", "region").iter_rows(named=True):
        covering = [s for s in specs if s.selector.matches(row["deployment"], row["model"] or "", row["region"] or "")]
        goodput = [s.sli for s in covering if s.sli.kind == "goodput"]
        if goodput:
            pairs = [(f, ms) for sli in goodput for f, ms in (("ttft_ms", sli.ttft_ms), ("tpot_ms", sli.tpot_ms))]
        else:
            pairs = [(s.sli.field, s.sli.threshold_ms) for s in covering if s.sli.kind == "latency"]
        for field, ms in pairs:
            current = out.setdefault(row["deployment"], {})
            current[field] = min(float(ms), current.get(field, float("inf")))
    return out


def load_latency_slos(path, deployments: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Thresholds per deployment: defaults by kind, overridden by an SLO file's where it covers them.

    A missing file gives the defaults; a broken one raises SpecError (naming the SLO and field).
    """
    from pathlib import Path

    slos = default_latency_slos(deployments)
    if path is not None and Path(path).is_file():
        from analytics.slo_spec import load_slos  # YAML parsing only when a file is used

        slos |= slos_from_specs(load_slos(path), deployments)
    return slos


def fields_of(slos: LatencySlos) -> tuple[str, ...]:
    """Histograms a set of thresholds needs beyond the quantile fields (e.g. queue_ms)."""
    return tuple(dict.fromkeys([*QUANTILE_FIELDS, *(f for t in slos.values() for f in t)]))
