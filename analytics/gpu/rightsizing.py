"""Right-sizing: deployments that could run on fewer replicas while keeping their latency SLO.

Method, per deployment over the window (analytics.gpu.efficiency.deployment_hours gives the hourly inputs):
1. Activity per hour = mean sm_active over the deployment's GPUs. Assumption: load spreads evenly
   across replicas (round-robin or least-load balancing), so the mean GPU stands for every replica.
   Where sm_active was not collected, gpu_util is used with a caveat: it counts any kernel
   running and overstates real activity, so the suggestion is conservative (NVIDIA DCGM User
   Guide, "Profiling Metrics").
2. Peak hours = the ``peak_hours`` hours with the highest activity; peak = the highest of them.
3. replicas_needed = ceil(replicas x peak / target_activity) + spare_replicas, at most replicas:
   the peak hour's work at the target activity per replica, plus spare replicas so that losing
   one at peak still keeps the rest at the target (N+1 redundancy; the Google SRE book, ch. 18
   "Intent-Based Capacity Planning", states intents such as N+2 the same way).
4. A cut is suggested only if every judged peak hour met the deployment's objectives (the one
   per-hour rule, analytics.slo.compliance, with each SLO's own target): with a missed SLO,
   fewer replicas would make it worse. Peak hours with too few requests to judge do not count;
   with none judged, the cut is not suggested.
5. Monthly saving = (replicas - replicas_needed) x gpus_per_replica x cost_per_gpu_hour x 720 h
   (a 30-day month).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import polars as pl

from analytics.gpu import hours as gpu_hours
from analytics.gpu.efficiency import GpuData, deployment_hours

TARGET_ACTIVITY = 0.7
PEAK_HOURS = 5
SPARE_REPLICAS = 1
HOURS_PER_MONTH = 30 * 24
GPU_UTIL_CAVEAT = (
    "sm_active not collected: based on GPU utilisation, which counts any kernel running and "
    "overstates real activity, so the suggestion is conservative"
)


def evidence(hourly: pl.DataFrame, peak_hours: int = PEAK_HOURS) -> pl.DataFrame:
    """The peak hours per deployment: activity (sm_active, else gpu_util), request rate, attainment, p99s."""
    with_activity = hourly.with_columns(
        pl.coalesce("sm_active", "gpu_util").alias("activity"),
        pl.when(pl.col("sm_active").is_not_null())
        .then(pl.lit("sm_active"))
        .otherwise(pl.lit("gpu_util"))
        .alias("basis"),
    )
    # A deployment with any sm_active hour is judged on sm_active only (no mixing of the two bases).
    profiled = with_activity.group_by("deployment").agg(
        pl.col("sm_active").is_not_null().any().alias("_profiled")
    )
    return (
        with_activity.join(profiled, on="deployment")
        .filter(pl.col("activity").is_not_null() & (pl.col("basis").eq("sm_active") | ~pl.col("_profiled")))
        .sort(["deployment", "activity", "hour"], descending=[False, True, False])
        .group_by("deployment", maintain_order=True)
        .head(peak_hours)
        .select(
            "deployment", "hour", "basis", "activity", "gpus", "rps", "ok", "good", "attainment",
            "evaluable", "met_slo",
            "ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms",
        )
    )


def suggestions(
    data: GpuData,
    objectives: gpu_hours.Objectives,
    prices: Mapping[str, float] | None = None,
    target_activity: float = TARGET_ACTIVITY,
    peak_hours: int = PEAK_HOURS,
    spare_replicas: int = SPARE_REPLICAS,
    hourly: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Right-sizing per deployment (largest monthly saving first) and the peak hours it rests on
    (in the same deployment order, busiest hour first).

    Returns (table, evidence). The table has one row per deployment with GPU telemetry:
    replicas, basis, peak_activity, replicas_needed, gpus_freed, monthly_saving, the pooled
    attainment at the peak hours, a verdict and a caveat. See the module docstring for the method.
    ``hourly`` may pass analytics.gpu.efficiency.deployment_hours(data, objectives) when the caller has it.
    """
    if not 0 < target_activity <= 1:
        raise ValueError(f"target activity must be in (0, 1], got {target_activity!r}")
    hourly = deployment_hours(data, objectives) if hourly is None else hourly
    peaks = evidence(hourly, peak_hours)
    summary = peaks.group_by("deployment").agg(
        pl.col("basis").first(),
        pl.col("activity").max().alias("peak_activity"),
        pl.col("hour").min().alias("first_peak_hour"),
        pl.col("hour").max().alias("last_peak_hour"),
        pl.col("met_slo").is_not_null().any().alias("_judged"),
        pl.col("met_slo").sum().alias("_met"),
        (pl.col("met_slo").is_not_null() & pl.col("evaluable")).sum().alias("_evaluable"),
        pl.col("attainment").min().alias("_worst"),
        pl.col("ttft_p99_ms").max().alias("peak_ttft_p99_ms"),
        pl.col("e2e_p99_ms").max().alias("peak_e2e_p99_ms"),
    )
    prices = dict(prices or {})
    fleet = data.deployments.select(
        "deployment", "gpu_type", "replicas", "gpus_per_replica", "cost_per_gpu_hour"
    )
    rows = []
    observed = hourly.select("deployment").unique().sort("deployment")["deployment"].to_list()
    by_name = {row["deployment"]: row for row in fleet.iter_rows(named=True)}
    peak_by_name = {row["deployment"]: row for row in summary.iter_rows(named=True)}
    for name in observed:
        rows.append(_row(name, by_name.get(name), peak_by_name.get(name), prices,
                         target_activity, spare_replicas))
    table = pl.DataFrame(rows, schema=_SCHEMA, orient="row").sort(
        ["monthly_saving", "deployment"], descending=[True, False], nulls_last=True
    )
    rank = table.select("deployment").with_row_index("_rank")
    ordered = (
        peaks.join(rank, on="deployment")
        .sort(["_rank", "activity"], descending=[False, True])
        .drop("_rank")
    )
    return table, ordered


_SCHEMA = {
    "deployment": pl.String,
    "gpu_type": pl.String,
    "replicas": pl.Int64,
    "gpus_per_replica": pl.Int64,
    "basis": pl.String,
    "peak_activity": pl.Float64,
    "target_activity": pl.Float64,
    "replicas_needed": pl.Int64,
    "gpus_freed": pl.Int64,
    "cost_per_gpu_hour": pl.Float64,
    "monthly_saving": pl.Float64,
    "peak_attainment": pl.Float64,
    "slo_met_at_peak": pl.Boolean,
    "peak_ttft_p99_ms": pl.Float64,
    "peak_e2e_p99_ms": pl.Float64,
    "first_peak_hour": pl.Datetime("us", "UTC"),
    "last_peak_hour": pl.Datetime("us", "UTC"),
    "verdict": pl.String,
    "caveat": pl.String,
}


def _row(name, fleet_row, peak, prices, target, spare) -> dict:
    """One deployment's suggestion (see the module docstring for each step)."""
    row = dict.fromkeys(_SCHEMA)
    row.update(deployment=name, target_activity=target)
    if fleet_row is None:
        return row | {"verdict": "excluded: not in the deployments table (replicas unknown)"}
    replicas, per_replica = int(fleet_row["replicas"]), int(fleet_row["gpus_per_replica"])
    price = prices.get(fleet_row["gpu_type"], fleet_row["cost_per_gpu_hour"])
    row.update(gpu_type=fleet_row["gpu_type"], replicas=replicas, gpus_per_replica=per_replica,
               cost_per_gpu_hour=price)
    if peak is None:
        return row | {"verdict": "excluded: neither sm_active nor gpu_util was collected"}
    judged, met = peak["_evaluable"], peak["_met"]
    slo_met = None if not peak["_judged"] or not judged else bool(met == judged)
    needed = min(replicas, max(1, math.ceil(replicas * peak["peak_activity"] / target - 1e-9) + spare))
    freed = replicas - needed
    row.update(
        basis=peak["basis"],
        peak_activity=peak["peak_activity"],
        replicas_needed=needed,
        peak_attainment=peak["_worst"],
        slo_met_at_peak=slo_met,
        peak_ttft_p99_ms=peak["peak_ttft_p99_ms"],
        peak_e2e_p99_ms=peak["peak_e2e_p99_ms"],
        first_peak_hour=peak["first_peak_hour"],
        last_peak_hour=peak["last_peak_hour"],
        caveat=GPU_UTIL_CAVEAT if peak["basis"] == "gpu_util" else None,
    )
    if not peak["_judged"]:
        return row | _keep("keep: no latency SLO to check the cut against")
    if slo_met is None:
        return row | _keep("keep: too few requests in the peak hours to judge the latency SLO")
    if not slo_met:
        return row | _keep(f"keep: latency SLO missed in {judged - met} of {judged} judged peak hours")
    if freed <= 0:
        return row | _keep("keep: peak activity needs every replica")
    saving = freed * per_replica * price * HOURS_PER_MONTH if price is not None else None
    return row | {"gpus_freed": freed * per_replica, "monthly_saving": saving,
                  "verdict": f"reduce to {needed} replicas (from {replicas})"}


def _keep(verdict: str) -> dict:
    return {"gpus_freed": 0, "monthly_saving": 0.0, "verdict": verdict}
