"""From demand forecasts to GPUs: SLO-compliant throughput per GPU, GPUs needed, exhaustion dates.

- Throughput per GPU under the SLO, measured from history: the highest hourly offered load per GPU
  (all requests of the hour, whatever their status, / the deployment's GPUs) among hours in which
  the deployment met its latency SLO.
  An hour meets the SLO when, for every field of the SLO, the share of 'ok' requests with
  latency <= threshold is >= target; counts come from the rollup histograms and are exact at
  bucket edges (analytics.names.EDGES_MS); between edges the exact lower bound is used, so a
  threshold off an edge can only make the measure stricter. This is a lower bound on the true
  capacity (a deployment never pushed to its limit shows only the load it has seen).
- GPUs needed per forecast hour = forecast upper bound / throughput per GPU x (1 + headroom),
  rounded up to whole replicas (the design's capacity rule, DESIGN.md "The math").
- Capacity runs out at the first forecast hour whose expected demand (the point forecast)
  exceeds the SLO-compliant capacity of the current GPUs (GPUs x throughput per GPU). Where the
  throughput is only the highest load seen, an upper bound would cross it for any noisy flat
  series; the upper bound drives the headroom date instead: the first hour when the GPUs
  needed (upper bound, headroom included) exceed the current GPUs.
- Current GPUs come from the deployments table (gpus_per_replica x replicas); history is
  assumed to have run on the same count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from analytics import histogram, queries
from analytics import names as N
from analytics import rightsizing as RS
from analytics.demand import HOUR, METRICS, hour_range
from analytics.errors import SpecError
from analytics.latency_defaults import DEFAULT_SLOS
from analytics.schema import hist_column
from analytics.store import Store
from analytics.times import utc_time

MIN_REQUESTS_PER_HOUR = 20  # fewer 'ok' requests than this: the hour's attainment is noise
MIN_HOURS = 24  # fewer evaluable hours than this: throughput is "unknown"
MIN_ACTIVITY = 0.05  # below this SM activity a load / activity ratio is noise

@dataclass(frozen=True)
class LatencySLO:
    """Latency objectives (field, threshold_ms, target): an hour meets the SLO when, for every
    objective, the share of requests with field <= threshold reaches the target."""

    objectives: tuple[tuple[str, float, float], ...]

    def describe(self) -> str:
        """Human-readable form, e.g. 'ttft <= 2000 ms for 95.0% and tpot <= 100 ms for 95.0%'."""
        return " and ".join(f"{f.removesuffix('_ms')} <= {t:g} ms for {q:.1%}" for f, t, q in self.objectives)


def parse_slo(deployment: str, spec: Mapping[str, float]) -> LatencySLO:
    """Map one ``{field: threshold_ms, ..., "target": ratio}`` dict to a LatencySLO."""
    if "target" not in spec:
        raise SpecError(f"{deployment}: the latency SLO needs a 'target' (a ratio such as 0.95)")
    target = float(spec["target"])
    if not 0.0 < target < 1.0:
        raise SpecError(f"{deployment}: target must be a ratio in (0, 1), got {spec['target']!r}")
    objectives = []
    for name, value in spec.items():
        if name == "target":
            continue
        if name not in N.LATENCY_FIELDS:
            raise SpecError(f"{deployment}: unknown latency field {name!r} (use {', '.join(N.LATENCY_FIELDS)})")
        if not float(value) > 0:
            raise SpecError(f"{deployment}: threshold for {name} must be > 0 ms, got {value!r}")
        objectives.append((name, float(value), target))
    if not objectives:
        raise SpecError(f"{deployment}: the latency SLO names no latency field")
    return LatencySLO(tuple(sorted(objectives)))


def latency_slos_from_specs(specs, deployments: pl.DataFrame) -> dict[str, LatencySLO]:
    """Per deployment, the latency SLOs of analytics.slo_spec that cover it, as one LatencySLO.

    Goodput SLOs (ttft AND tpot per request) need the joint distribution, which per-field
    histograms do not give, so they are left out; availability SLOs are not about load.
    """
    out = {}
    for row in deployments.iter_rows(named=True):
        objectives = [
            (slo.sli.field, float(slo.sli.threshold_ms), float(slo.target))
            for slo in specs
            if slo.sli.kind == "latency" and slo.selector.matches(row["deployment"], row.get("model") or "", row.get("region") or "")
        ]
        if objectives:
            out[row["deployment"]] = LatencySLO(tuple(sorted(set(objectives))))
    return out


def load_latency_slos(path: Path, deployments: pl.DataFrame) -> dict[str, LatencySLO]:
    """Latency SLOs per deployment from an SLO file (analytics.slo_spec format); {} when absent."""
    if not Path(path).is_file():
        return {}
    from analytics.slo_spec import load_slos  # YAML parsing only when a file is used

    return latency_slos_from_specs(load_slos(path), deployments)


def slo_for(deployment: str, kind: str | None, slos: Mapping | None) -> LatencySLO:
    """The deployment's SLO from ``slos`` (LatencySLO or spec dict), else the default for its kind."""
    if slos and deployment in slos:
        given = slos[deployment]
        return given if isinstance(given, LatencySLO) else parse_slo(deployment, given)
    return parse_slo(deployment, DEFAULT_SLOS.get(kind or "", DEFAULT_SLOS["chat"]))


ACTIVITY_SQL = f"""
SELECT toDateTime64(g.hour, 0, 'UTC') AS hour, g.deployment AS deployment,
    sum(g.sm_active_sum) / nullIf(sum(g.sm_active_n), 0) AS sm_active
FROM {N.GPU_1H} AS g
WHERE g.hour >= {{start:DateTime64(0, 'UTC')}} AND g.hour < {{end:DateTime64(0, 'UTC')}}
    AND (empty({{deployments:Array(String)}}) OR has({{deployments:Array(String)}}, g.deployment))
    AND (empty({{regions:Array(String)}}) OR has({{regions:Array(String)}}, g.region))
GROUP BY hour, deployment
"""


def hourly_histograms(store: Store, start: datetime, end: datetime, deployments=None, regions=None) -> pl.DataFrame:
    """Per (deployment, hour): request and output-token counts, a latency histogram per field,
    and the mean SM activity of the deployment's GPUs (null where DCGM profiling is off)."""
    first, last = hour_range(start, end)
    frame = queries.request_slots(store, first, last, deployments, regions, step_seconds=3600)
    frame = frame.rename({"slot": "hour", "requests": "n_requests", "output_tokens": "n_output_tokens"}
                         | {hist_column(f): f"h_{f}" for f in N.LATENCY_FIELDS})
    frame = frame.with_columns(utc_time(frame, "hour").alias("hour"))
    activity = store.query(ACTIVITY_SQL, {"start": first, "end": last, "deployments": list(deployments or []),
                                          "regions": list(regions or [])})
    activity = activity.with_columns(utc_time(activity, "hour").alias("hour"))
    return frame.join(activity, on=["deployment", "hour"], how="left")


def hourly_compliance(hours: pl.DataFrame, slo: LatencySLO, min_requests: int = MIN_REQUESTS_PER_HOUR) -> pl.DataFrame:
    """For one deployment's hourly histograms: per hour, whether it was evaluable and met the SLO.

    Attainment per field = count(latency <= threshold) / count(latency measured), the SLI of
    the SRE Workbook ("good events / valid events"); counts from cumulative histograms.
    """
    evaluable = np.ones(hours.height, dtype=bool)
    met = np.ones(hours.height, dtype=bool)
    worst = np.ones(hours.height)
    for field, threshold, target in slo.objectives:
        hist = hours[f"h_{field}"].list.to_array(N.N_BUCKETS).to_numpy() if hours.height else np.zeros((0, N.N_BUCKETS))
        cum = histogram.cumulative(hist)
        valid = cum[:, -1]
        good = histogram.count_le(cum, threshold).lower
        with np.errstate(invalid="ignore", divide="ignore"):
            attainment = np.where(valid > 0, good / np.maximum(valid, 1), np.nan)
        evaluable &= valid >= min_requests
        met &= np.nan_to_num(attainment, nan=0.0) >= target
        worst = np.fmin(worst, attainment)
    keep = ["hour", "n_requests", "n_output_tokens"] + (["sm_active"] if "sm_active" in hours.columns else [])
    return hours.select(keep).with_columns(
        pl.Series("evaluable", evaluable),
        pl.Series("met_slo", evaluable & met),
        pl.Series("attainment", worst),
    )


@dataclass(frozen=True)
class Throughput:
    """SLO-compliant throughput per GPU of one deployment, or None with the reason."""

    deployment: str
    metric: str
    per_gpu: float | None
    gpus: int
    hours_evaluable: int
    hours_met: int
    slo: str
    reason: str | None = None
    basis: str = "the highest load seen"  # or how it was extrapolated from SM activity


def measure_throughput(
    deployment: str,
    hours: pl.DataFrame,
    gpus: int,
    slo: LatencySLO,
    metric: str = "rps",
    min_requests: int = MIN_REQUESTS_PER_HOUR,
    min_hours: int = MIN_HOURS,
) -> Throughput:
    """SLO-compliant throughput per GPU (in ``metric`` units per GPU).

    Verified: the highest hourly load per GPU at which the SLO was met. A deployment never
    pushed near saturation shows only the load it has seen, so where DCGM SM activity is known
    the load is also extrapolated to TARGET_ACTIVITY: median over the PEAK_HOURS busiest
    SLO-met hours of load / sm_active x TARGET_ACTIVITY, assuming load scales with SM activity
    (the same assumption and target as analytics.rightsizing). The larger of the two is used.
    """
    if metric not in METRICS:
        raise SpecError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    comp = hourly_compliance(hours, slo, min_requests)
    n_eval, n_met = int(comp["evaluable"].sum()), int(comp["met_slo"].sum())

    def unknown(reason: str) -> Throughput:
        return Throughput(deployment, metric, None, gpus, n_eval, n_met, slo.describe(), reason)

    if gpus <= 0:
        return unknown("the deployments table gives it no GPUs")
    if n_eval < min_hours:
        return unknown(f"too little data: {n_eval} hours with >= {min_requests} requests (need {min_hours})")
    if n_met == 0:
        return unknown(f"no hour met the latency SLO ({slo.describe()})")
    counts = comp["n_requests"] if metric == "rps" else comp["n_output_tokens"]
    load = counts.cast(pl.Float64) / HOUR.total_seconds() / gpus
    best = float(load.filter(comp["met_slo"]).max())
    if best <= 0:
        return unknown(f"every hour that met the SLO had zero {METRICS[metric]}")
    basis = "the highest load seen (a lower bound: no SM activity to extrapolate from)"
    if "sm_active" in comp.columns:
        peaks = (comp.with_columns(load=load).filter(pl.col("met_slo") & (pl.col("sm_active") > MIN_ACTIVITY))
                 .sort("load", descending=True).head(RS.PEAK_HOURS))
        if peaks.height:
            activity = float(peaks["sm_active"].median())
            estimate = float((peaks["load"] / peaks["sm_active"]).median()) * RS.TARGET_ACTIVITY
            basis = f"the highest load seen, at {activity:.0%} SM activity"
            if estimate > best:
                best = estimate
                basis = (f"extrapolated from {activity:.0%} SM activity at peak to "
                         f"{RS.TARGET_ACTIVITY:.0%} (load assumed proportional)")
    return Throughput(deployment, metric, best, gpus, n_eval, n_met, slo.describe(), basis=basis)


def plan(forecast: pl.DataFrame, throughput: Throughput, gpus_per_replica: int, headroom: float) -> pl.DataFrame:
    """Per forecast hour: capacity in demand units, GPUs needed (whole replicas) and flags.

    capacity = current GPUs x throughput per GPU; gpus_needed = ceil(upper / per_gpu x (1 +
    headroom) / gpus_per_replica) x gpus_per_replica. Null when throughput is unknown.
    """
    if headroom < 0:
        raise SpecError(f"headroom must be >= 0, got {headroom}")
    per_gpu = throughput.per_gpu
    step = max(int(gpus_per_replica), 1)
    if per_gpu is None:
        return forecast.with_columns(
            pl.lit(None, pl.Float64).alias("capacity"),
            pl.lit(None, pl.Float64).alias("gpus_needed"),
            pl.lit(None, pl.Boolean).alias("over_capacity"),
        )
    raw = pl.col("yhat_upper") / per_gpu * (1.0 + headroom)
    return forecast.with_columns(
        pl.lit(throughput.gpus * per_gpu).alias("capacity"),
        ((raw / step).ceil() * step).alias("gpus_needed"),
        (pl.col("yhat") > throughput.gpus * per_gpu).alias("over_capacity"),
    )


def first_time(frame: pl.DataFrame, condition: pl.Expr) -> datetime | None:
    """The earliest ts where a condition holds, or None."""
    hit = frame.filter(condition)
    return hit["ts"].min() if hit.height else None


@dataclass(frozen=True)
class CapacityOutlook:
    """One deployment's capacity outlook over the forecast horizon."""

    deployment: str
    gpu_type: str
    gpus_current: int
    per_gpu: float | None
    gpus_needed_peak: float | None
    capacity_exhausted_at: datetime | None
    headroom_breached_at: datetime | None
    reason: str | None


def outlook(deployment: str, gpu_type: str, planned: pl.DataFrame, throughput: Throughput) -> CapacityOutlook:
    """Summarise a ``plan`` frame: peak GPUs needed and the exhaustion dates."""
    known = throughput.per_gpu is not None and planned.height > 0
    peak = planned["gpus_needed"].max() if known else None
    return CapacityOutlook(
        deployment,
        gpu_type,
        throughput.gpus,
        throughput.per_gpu,
        float(peak) if peak is not None else None,
        first_time(planned, pl.col("over_capacity")) if known else None,
        first_time(planned, pl.col("gpus_needed") > throughput.gpus) if known else None,
        throughput.reason,
    )


def fleet_by_week(plans: Mapping[str, pl.DataFrame], deployments: pl.DataFrame) -> pl.DataFrame:
    """GPUs needed by GPU type and ISO week (Monday 00:00 UTC): the sum of each deployment's
    weekly peak (pools are per deployment, so peaks add), beside the current GPUs of that type.

    Deployments whose throughput is unknown count with their current GPUs and are listed in
    ``unknown``; ``short`` is max(0, needed - current).
    """
    rows = []
    for name, frame in plans.items():
        dep = deployments.filter(pl.col("deployment") == name)
        if dep.is_empty() or frame.is_empty():
            continue
        gpus = int(dep["gpus_per_replica"][0]) * int(dep["replicas"][0])
        weekly = frame.group_by(pl.col("ts").dt.truncate("1w").alias("week")).agg(pl.col("gpus_needed").max().alias("needed"))
        rows.append(weekly.with_columns(
            pl.lit(name).alias("deployment"), pl.lit(dep["gpu_type"][0]).alias("gpu_type"), pl.lit(gpus).alias("current"),
        ))
    if not rows:
        return pl.DataFrame(schema={"gpu_type": pl.String, "week": pl.Datetime("us", "UTC"), "gpus_needed": pl.Float64,
                                    "gpus_current": pl.Int64, "short": pl.Float64, "unknown": pl.String})
    return (
        pl.concat(rows)
        .group_by("gpu_type", "week")
        .agg(
            pl.col("needed").fill_null(pl.col("current").cast(pl.Float64)).sum().alias("gpus_needed"),
            pl.col("current").sum().cast(pl.Int64).alias("gpus_current"),
            pl.col("deployment").filter(pl.col("needed").is_null()).sort().str.join(", ").alias("unknown"),
        )
        .with_columns((pl.col("gpus_needed") - pl.col("gpus_current")).clip(lower_bound=0).alias("short"))
        .select("gpu_type", "week", "gpus_needed", "gpus_current", "short", "unknown")
        .sort("gpu_type", "week")
    )


def exhaustion_by_gpu_type(fleet: pl.DataFrame) -> dict[str, datetime | None]:
    """The first week in which a GPU type's fleet needs more GPUs than it has (None: never)."""
    out = {}
    for gpu_type in fleet["gpu_type"].unique().sort():
        rows = fleet.filter((pl.col("gpu_type") == gpu_type) & (pl.col("short") > 0))
        out[gpu_type] = rows["week"].min() if rows.height else None
    return out


def gpus(deployments: pl.DataFrame, deployment: str) -> tuple[int, int, str, str | None]:
    """(current GPUs, GPUs per replica, GPU type, kind) of a deployment from the deployments table."""
    row = deployments.filter(pl.col("deployment") == deployment)
    if row.is_empty():
        return 0, 1, "unknown", None
    per = int(row["gpus_per_replica"][0])
    kind = row["kind"][0] if "kind" in row.columns else None
    return per * int(row["replicas"][0]), per, str(row["gpu_type"][0]), kind



# --- Composition used by the command line and the page (each step cacheable on its own). ---


def measure_all(
    hist: pl.DataFrame,
    deployments: pl.DataFrame,
    slos: Mapping[str, Mapping[str, float]] | None = None,
    metric: str = "rps",
    names: list[str] | None = None,
) -> dict[str, Throughput]:
    """SLO-compliant throughput per GPU for every deployment (or the ones named)."""
    out = {}
    for name in names if names is not None else deployments["deployment"].to_list():
        current, _, _, kind = gpus(deployments, name)
        hours = hist.filter(pl.col("deployment") == name)
        out[name] = measure_throughput(name, hours, current, slo_for(name, kind, slos), metric)
    return out


@dataclass
class Assessment:
    """Per-deployment plans and outlooks plus the fleet table by GPU type and week."""

    plans: dict[str, pl.DataFrame]
    outlooks: dict[str, CapacityOutlook]
    fleet: pl.DataFrame
    fleet_exhaustion: dict[str, datetime | None]


def assess(
    forecasts: Mapping[str, pl.DataFrame],
    throughputs: Mapping[str, Throughput],
    deployments: pl.DataFrame,
    headroom: float = 0.2,
) -> Assessment:
    """Turn forecasts and measured throughputs into GPUs needed and exhaustion dates."""
    plans, outlooks = {}, {}
    for name, forecast in forecasts.items():
        if name not in throughputs:
            continue
        _, per_replica, gpu_type, _ = gpus(deployments, name)
        plans[name] = plan(forecast, throughputs[name], per_replica, headroom)
        outlooks[name] = outlook(name, gpu_type, plans[name], throughputs[name])
    fleet = fleet_by_week(plans, deployments)
    return Assessment(plans, outlooks, fleet, exhaustion_by_gpu_type(fleet))


def outlook_table(assessment: Assessment, forecast_errors: Mapping[str, str] | None = None) -> pl.DataFrame:
    """One row per deployment: GPUs now, throughput per GPU, peak GPUs needed, dates, reason."""
    rows = [
        {
            "deployment": o.deployment, "gpu_type": o.gpu_type, "gpus_current": o.gpus_current,
            "per_gpu": o.per_gpu, "gpus_needed_peak": o.gpus_needed_peak,
            "capacity_exhausted_at": o.capacity_exhausted_at, "headroom_breached_at": o.headroom_breached_at,
            "reason": o.reason,
        }
        for o in assessment.outlooks.values()
    ]
    for name, error in (forecast_errors or {}).items():
        rows.append({"deployment": name, "reason": f"no forecast: {error}"})
    schema = {
        "deployment": pl.String, "gpu_type": pl.String, "gpus_current": pl.Int64, "per_gpu": pl.Float64,
        "gpus_needed_peak": pl.Float64, "capacity_exhausted_at": pl.Datetime("us", "UTC"),
        "headroom_breached_at": pl.Datetime("us", "UTC"), "reason": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).sort("deployment")
