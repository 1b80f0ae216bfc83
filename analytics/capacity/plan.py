"""From demand forecasts to GPUs: SLO-compliant throughput per GPU, GPUs needed, exhaustion dates.

- Throughput per GPU under the SLO, measured from history: the highest hourly offered load per GPU
  (all requests of the hour, whatever their status, / the deployment's GPUs) among hours in which
  the deployment met its latency SLO.
  An hour meets the SLO when it meets every objective of the deployment (its latency and
  goodput SLOs, else the defaults for its kind: analytics.slo.objectives), each judged by the
  one per-slot rule of analytics.slo.compliance (good / valid >= the SLO's target, hours with
  fewer than MIN_EVENTS_PER_HOUR valid events not judged). This is a lower bound on the true
  capacity (a deployment never pushed to its limit shows only the load it has seen).
- GPUs needed per forecast hour = forecast upper bound / throughput per GPU x (1 + headroom),
  rounded up to whole replicas (the design's capacity rule, DESIGN.md "The math").
- Capacity runs out at the first forecast hour whose expected demand (the point forecast)
  exceeds the SLO-compliant capacity of the current GPUs (GPUs x throughput per GPU). Where the
  throughput is only the highest load seen, an upper bound would cross it for any noisy flat
  series; the upper bound drives the headroom date instead: the first hour when the GPUs
  needed (upper bound, headroom included) exceed the current GPUs.
- GPUs: each hour's load per GPU divides by the GPUs that reported DCGM gauges in that hour, and
  the current GPUs are the latest hour's count; without DCGM, the deployments table
  (gpus_per_replica x replicas) for both (analytics.capacity.gpu_count).
- LLM deployments with a TTFT or TPOT objective are measured on their latency-vs-load curves
  instead (analytics.capacity.curve): the capacity of the curve that binds first at the recent
  token mix, converted into the demand metric. When the data never came near that capacity
  ("extrapolated") or no curve fits, the rule above is used and labelled so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import polars as pl

from analytics.capacity import curve as load_curve
from analytics.capacity import gpu_count
from analytics.capacity.demand import COUNTS, HOUR, METRICS
from analytics.errors import SpecError
from analytics.gpu import rightsizing as gpu_rightsizing
from analytics.slo.compliance import MIN_EVENTS_PER_HOUR, objectives_met
from analytics.slo.objectives import describe
from analytics.slo.sli import inputs_from_rows
from analytics.slo.spec import Slo
from analytics.store.conventions import hist_column

MIN_HOURS = 24  # fewer evaluable hours than this: throughput is "unknown"
MIN_ACTIVITY = 0.05  # below this SM activity a load / activity ratio is noise
RECENT_MIX = timedelta(days=7)  # the token mix (tokens per request) of the window's last week converts capacities


def hourly_compliance(hours: pl.DataFrame, objectives: Sequence[Slo],
                      min_requests: int = MIN_EVENTS_PER_HOUR) -> pl.DataFrame:
    """For one deployment's hourly rollup rows: per hour, whether it was judged and met every
    objective (analytics.slo.compliance.objectives_met), and the lowest attainment."""
    # only the histograms the objectives judge are converted (the others are not read)
    judged = {hist_column(f) for slo in objectives for f in slo.sli.fields}
    unread = [c for c in hours.columns if c.endswith("_hist") and c not in judged]
    verdict = objectives_met(inputs_from_rows(hours.drop(unread)), objectives, min_requests)
    optional = ("input_tokens", "sm_active", gpu_count.REPORTING)
    keep = ["hour", "requests", "output_tokens", *(c for c in optional if c in hours.columns)]
    return hours.select(keep).with_columns(
        pl.Series("evaluable", verdict.evaluable),
        pl.Series("met_slo", verdict.met),
        pl.Series("attainment", verdict.attainment, nan_to_null=True),
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
    basis: str = "the highest load seen"  # or how it was extrapolated from SM activity, or the binding curve
    binding: str | None = None  # "prefill" or "decode": the latency-vs-load curve that binds first
    extrapolated: bool = False  # the data never came near the capacity: it is a lower bound or an extrapolation
    band: tuple[float, float] | None = None  # 5th-95th percentile of the curve's capacity, per GPU in metric units


def measure_throughput(
    deployment: str,
    hours: pl.DataFrame,
    gpus: int,
    objectives: Sequence[Slo],
    metric: str = "rps",
    min_requests: int = MIN_EVENTS_PER_HOUR,
    min_hours: int = MIN_HOURS,
) -> Throughput:
    """SLO-compliant throughput per GPU (in ``metric`` units per GPU).

    Verified: the highest hourly load per GPU at which the SLO was met. A deployment never
    pushed near saturation shows only the load it has seen, so where DCGM SM activity is known
    the load is also extrapolated to TARGET_ACTIVITY: median over the PEAK_HOURS busiest
    SLO-met hours of load / sm_active x TARGET_ACTIVITY, assuming load scales with SM activity
    (the same assumption and target as analytics.gpu.rightsizing). The larger of the two is used.
    Each hour's load divides by that hour's GPUs and ``gpus`` (the deployments table's) is
    replaced by the latest DCGM count where GPUs report (analytics.capacity.gpu_count).
    """
    if metric not in METRICS:
        raise SpecError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    comp = hourly_compliance(hours, objectives, min_requests)
    slo = describe(objectives)
    n_eval, n_met = int(comp["evaluable"].sum()), int(comp["met_slo"].sum())

    table_gpus = gpus
    gpus, gpus_from = gpu_count.current(hours, table_gpus)

    def unknown(reason: str) -> Throughput:
        return Throughput(deployment, metric, None, gpus, n_eval, n_met, slo, reason)

    if gpus <= 0:
        return unknown("no GPUs: neither DCGM gauges nor the deployments table give it any")
    if not objectives:
        return unknown("no latency or goodput SLO covers it, and its kind has no default objective")
    if n_eval < min_hours:
        return unknown(f"too little data: {n_eval} hours with >= {min_requests} requests (need {min_hours})")
    if n_met == 0:
        return unknown(f"no hour met the latency SLO ({slo})")
    load = comp[COUNTS[metric]].cast(pl.Float64) / HOUR.total_seconds() / gpu_count.per_hour(comp, table_gpus)
    best = float(load.filter(comp["met_slo"]).max())
    if best <= 0:
        return unknown(f"every hour that met the SLO had zero {METRICS[metric]}")
    basis = "the highest load seen (a lower bound: no SM activity to extrapolate from)"
    extrapolated = False
    if "sm_active" in comp.columns:
        peaks = (comp.with_columns(load=load).filter(pl.col("met_slo") & (pl.col("sm_active") > MIN_ACTIVITY))
                 .sort("load", descending=True).head(gpu_rightsizing.PEAK_HOURS))
        if peaks.height:
            activity = float(peaks["sm_active"].median())
            estimate = float((peaks["load"] / peaks["sm_active"]).median()) * gpu_rightsizing.TARGET_ACTIVITY
            basis = f"the highest load seen, at {activity:.0%} SM activity"
            if estimate > best:
                best, extrapolated = estimate, True
                basis = (f"extrapolated from {activity:.0%} SM activity at peak to "
                         f"{gpu_rightsizing.TARGET_ACTIVITY:.0%} (load assumed proportional)")
    return Throughput(deployment, metric, best, gpus, n_eval, n_met, slo, basis=f"{basis}; GPUs: {gpus_from}",
                      extrapolated=extrapolated)


def token_mix(hours: pl.DataFrame, recent: timedelta = RECENT_MIX) -> dict[str, float]:
    """Tokens per request (input_tokens, output_tokens) over the last ``recent`` of the hours."""
    if hours.height == 0:
        return {}
    last = hours.filter(pl.col("hour") > hours["hour"].max() - recent)
    requests = float(last["requests"].sum())
    return {c: float(last[c].sum()) / requests for c in ("input_tokens", "output_tokens")
            if c in last.columns and requests > 0}


def conversion(metric: str, tokens: str, mix: dict[str, float]) -> str:
    """How a capacity in ``tokens`` per second became the demand metric's unit, for the basis text."""
    if COUNTS[metric] == tokens:
        return ""
    bound = f"{mix[tokens]:,.0f} {tokens.replace('_', ' ')}"
    if metric == "rps":
        return f", in requests/s at the last week's {bound} per request"
    return f", in {METRICS[metric]} at the last week's {mix[COUNTS[metric]]:,.0f} {COUNTS[metric].replace('_', ' ')} per {bound}"


def load_curves(hours: pl.DataFrame, gpus: int, objectives: Sequence[Slo]) -> tuple[load_curve.Curve, ...]:
    """The latency-vs-load curves of a deployment's TTFT and TPOT objectives (analytics.capacity.curve),
    each hour's load divided by that hour's GPUs."""
    return load_curve.curves(hours, gpu_count.per_hour(hours, gpus), objectives)


def measure(deployment: str, hours: pl.DataFrame, gpus: int, objectives: Sequence[Slo], metric: str = "rps",
            min_requests: int = MIN_EVENTS_PER_HOUR, min_hours: int = MIN_HOURS) -> Throughput:
    """SLO-compliant throughput per GPU from the latency-vs-load curves where they bind with data near
    saturation, else from the highest-load rule (measure_throughput), labelled extrapolated.

    The curve that binds first at the recent token mix sets the capacity in requests/s per GPU
    (analytics.capacity.curve.binding); it becomes the demand metric's unit through the same mix
    (x tokens per request; 1 for requests/s).
    """
    rule = measure_throughput(deployment, hours, gpus, objectives, metric, min_requests, min_hours)
    found = load_curves(hours, gpus, objectives) if rule.gpus > 0 else ()
    if not found:  # no TTFT or TPOT objective (a non-LLM deployment), or no GPUs: the rule
        return rule
    mix = token_mix(hours)
    limit = load_curve.binding(found, mix)
    per_request = 1.0 if metric == "rps" else mix.get(COUNTS[metric], 0.0)
    if limit is None or limit.curve.extrapolated or per_request <= 0:
        if rule.per_gpu is None:  # nothing to label: the rule's reason says why it is unknown
            return rule
        why = "; ".join(c.describe() for c in found)
        return replace(rule, extrapolated=True, basis=(
            f"latency-vs-load curve not trusted (data never came near saturation, or no fit: {why}), "
            f"so {rule.basis}"))
    band = (limit.band_rps[0] * per_request, limit.band_rps[1] * per_request) if limit.band_rps else None
    basis = (f"{limit.curve.load}-bound: the fitted latency-vs-load curve's capacity, {limit.curve.describe()}"
             + conversion(metric, load_curve.LOADS[limit.curve.field][1], mix)
             + f"; GPUs: {gpu_count.current(hours, gpus)[1]}")
    return replace(rule, per_gpu=limit.rps_per_gpu * per_request, reason=None, basis=basis, binding=limit.curve.load,
                   extrapolated=False, band=band)


def plan(forecast: pl.DataFrame, throughput: Throughput, gpus_per_replica: int, headroom: float) -> pl.DataFrame:
    """Per forecast hour: the current GPUs, capacity in demand units, GPUs needed (whole replicas) and flags.

    gpus_current = the throughput's GPU count (DCGM's latest hour, else the deployments table);
    capacity = gpus_current x throughput per GPU; gpus_needed = ceil(upper / per_gpu x (1 +
    headroom) / gpus_per_replica) x gpus_per_replica. Null when throughput is unknown.
    """
    if headroom < 0:
        raise SpecError(f"headroom must be >= 0, got {headroom}")
    per_gpu = throughput.per_gpu
    step = max(int(gpus_per_replica), 1)
    current = pl.lit(throughput.gpus, pl.Int64).alias("gpus_current")
    if per_gpu is None:
        return forecast.with_columns(
            current,
            pl.lit(None, pl.Float64).alias("capacity"),
            pl.lit(None, pl.Float64).alias("gpus_needed"),
            pl.lit(None, pl.Boolean).alias("over_capacity"),
        )
    raw = pl.col("yhat_upper") / per_gpu * (1.0 + headroom)
    return forecast.with_columns(
        current,
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
    weekly peak (pools are per deployment, so peaks add), beside the current GPUs of that type
    (each plan's ``gpus_current``: the count its throughput was measured with, so the fleet and the
    deployment's outlook say the same).

    Deployments whose throughput is unknown count with their current GPUs and are listed in
    ``unknown``; ``short`` is max(0, needed - current).
    """
    rows = []
    for name, frame in plans.items():
        dep = deployments.filter(pl.col("deployment") == name)
        if dep.is_empty() or frame.is_empty():
            continue
        gpus = int(frame["gpus_current"][0])
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


def gpus(deployments: pl.DataFrame, deployment: str) -> tuple[int, int, str]:
    """(current GPUs, GPUs per replica, GPU type) of a deployment from the deployments table."""
    row = deployments.filter(pl.col("deployment") == deployment)
    if row.is_empty():
        return 0, 1, "unknown"
    per = int(row["gpus_per_replica"][0])
    return per * int(row["replicas"][0]), per, str(row["gpu_type"][0])



# --- Composition used by the command line and the page (each step cacheable on its own). ---


def measure_all(
    hist: pl.DataFrame,
    deployments: pl.DataFrame,
    objectives: Mapping[str, Sequence[Slo]],
    metric: str = "rps",
    names: Sequence[str] | None = None,
) -> dict[str, Throughput]:
    """SLO-compliant throughput per GPU for every deployment (or the ones named), each judged by
    its objectives (analytics.slo.objectives.objectives_by_deployment)."""
    out = {}
    by_name = hist.sort("deployment", "hour").partition_by("deployment", as_dict=True)  # one pass, not one filter each
    for name in names if names is not None else deployments["deployment"].to_list():
        current, _, _ = gpus(deployments, name)
        hours = by_name.get((name,), hist.clear())
        out[name] = measure(name, hours, current, objectives.get(name, ()), metric)
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
        _, per_replica, gpu_type = gpus(deployments, name)
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
