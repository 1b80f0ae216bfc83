"""GPU efficiency per deployment from the hourly GPU rollup, the request rollup and the deployments table.

Counting GPU-hours (samples-based): every (GPU, UTC hour) of gpu_metrics_1h with at least one
sample is one GPU-hour. A GPU that appears or disappears mid-hour, or whose collection paused for
part of an hour, still counts the whole hour (cloud GPUs bill while provisioned). An hour
without any sample counts nothing; such hours inside a GPU's observed span are reported as
``gap_gpu_hours`` so that a collection gap shows instead of looking cheap. The analysis window is
widened to whole UTC hours (start floored, end ceiled), because GPU telemetry is hourly.

Means are sum / n over the samples that carried the field (gpu_metrics_1h keeps both), so NULL
profiling fields and DCGM blanks never count as zero. gpu_util is stored in DCGM's percent and
turned into a ratio here. A field no sample of a deployment carried is listed in ``missing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from analytics import columns
from analytics.gpu import hours as gpu_hour_frames
from analytics.slo.compliance import describe_conditions
from analytics.store import conventions

SECONDS_PER_HOUR = 3600
# NVIDIA DCGM User Guide, "Profiling Metrics" (SM Activity): sm_active >= 0.8 is necessary but
# not sufficient for effective use of the GPU; < 0.5 likely indicates ineffective use. An hour
# whose mean is under the (much lower) idle floor did essentially no work.
IDLE_SM_FLOOR = 0.1
SM_EFFECTIVE = 0.8
SM_INEFFECTIVE = 0.5
METRICS = conventions.GPU_VALUE_COLUMNS
PROFILING_METRICS = ("sm_active", "sm_occupancy", "tensor_active", "dram_active")
# What the 'missing' list can name: telemetry fields and deployment facts, each a registry column.
MISSABLE = (*conventions.GPU_VALUE_COLUMNS, "cost_per_gpu_hour", "params_b", "peak_flops", "latency_slo")


def field_names(missing: str | None) -> str | None:
    """A 'missing' list as people read it, by the column registry: 'sm_active, params_b' ->
    'SM activity, model size'."""
    if not missing:
        return None
    return ", ".join(columns.in_sentence(f) for f in missing.split(", "))
SCALE = {"gpu_util": 0.01}  # stored as DCGM's percent; ratios inside analytics

# Peak dense BF16 tensor FLOP/s (TFLOP/s) by GPU model, vendor datasheets. Matched by substring
# of the DCGM modelName or gpu_type label, most specific first.
PEAK_TFLOPS = (
    ("H200", 989.0),
    ("H100 PCIE", 756.0),
    ("H100", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
)

GPU_KEYS = ("deployment", "node", "gpu", "hour")


def hour_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Widen [start, end) to whole UTC hours."""
    floor = start.replace(minute=0, second=0, microsecond=0)
    ceil = end.replace(minute=0, second=0, microsecond=0)
    if ceil < end:
        ceil += timedelta(hours=1)
    return floor, ceil


def merge_gpu_hours(frame: pl.DataFrame) -> pl.DataFrame:
    """GPU-hour rows (analytics.store.gpu.gpu_hours) with rows still split by a changed gpu_type or
    region label merged, and the per-GPU-hour means added."""
    if frame.select(pl.struct(GPU_KEYS).is_duplicated().any()).item():
        frame = frame.group_by(GPU_KEYS, maintain_order=True).agg(
            pl.col("gpu_type", "region").first(),
            pl.col("samples", *(f"{m}_{s}" for m in METRICS for s in ("sum", "n"))).sum(),
            pl.col("fb_used_mib_max").max(),
        )
    return with_means(frame)


def with_means(hours: pl.DataFrame) -> pl.DataFrame:
    """Add per-GPU-hour means (sum / n, NULL when n = 0) and memory fractions."""
    means = [_mean(m).alias(m) for m in METRICS]
    return hours.with_columns(means).with_columns(
        # maxIf over no valid sample is 0 in ClickHouse: only trust the peak when samples exist.
        pl.when(pl.col("fb_used_mib_n") > 0).then(pl.col("fb_used_mib_max")).alias("fb_used_mib_max"),
    ).with_columns(
        (pl.col("fb_used_mib") / pl.col("fb_total_mib")).alias("mem_used_fraction"),
        (pl.col("fb_used_mib_max") / pl.col("fb_total_mib")).alias("mem_peak_fraction"),
    )


def peak_tflops(gpu_type: str) -> float | None:
    """Peak dense BF16 TFLOP/s of a GPU type (PEAK_TFLOPS, by substring of its name), or None."""
    upper = gpu_type.upper()
    for name, tflops in PEAK_TFLOPS:
        if name in upper:
            return tflops
    return None


def _ratio(numerator: str, denominator: str) -> pl.Expr:
    return pl.when(pl.col(denominator) > 0).then(pl.col(numerator) / pl.col(denominator))


def _mean(metric: str) -> pl.Expr:
    """sum / n over the samples carrying the metric (NULL when none did), in analytics units."""
    return _ratio(f"{metric}_sum", f"{metric}_n") * SCALE.get(metric, 1.0)


def utilisation(hours: pl.DataFrame, idle_floor: float = IDLE_SM_FLOOR) -> pl.DataFrame:
    """Per deployment: GPUs, GPU-hours, mean of every metric side by side, memory headroom, idle hours.

    mean = sum / n over all samples of the deployment; mem_used_fraction = mean used / mean total;
    peak_mem_fraction = the highest hourly peak used / total; headroom = 1 - fraction.
    idle_gpu_hours counts GPU-hours whose mean sm_active < idle_floor (GPU-hours without
    sm_active are unknown, not idle: see profiled_gpu_hours).
    """
    spans = hours.group_by("deployment", "node", "gpu").agg(
        ((pl.col("hour").max() - pl.col("hour").min()).dt.total_hours() + 1 - pl.len()).alias("gaps")
    )
    per_deployment = hours.group_by("deployment").agg(
        pl.col("gpu_type").unique().sort().str.join(", "),
        pl.col("region").unique().sort().str.join(", "),
        pl.struct("node", "gpu").n_unique().alias("gpus"),
        pl.len().alias("gpu_hours"),
        pl.col("samples").sum(),
        *(pl.col(f"{m}_sum").sum() for m in METRICS),
        *(pl.col(f"{m}_n").sum() for m in METRICS),
        pl.col("mem_peak_fraction").max().alias("peak_mem_fraction"),
        pl.col("power_w").max().alias("peak_hour_power_w"),
        (pl.col("sm_active") < idle_floor).sum().alias("idle_gpu_hours"),
        pl.col("sm_active").is_not_null().sum().alias("profiled_gpu_hours"),
    )
    means = [_mean(m).alias(f"mean_{m}") for m in METRICS]
    missing = pl.concat_str(
        [pl.when(pl.col(f"{m}_n") == 0).then(pl.lit(m)) for m in METRICS], separator=", ", ignore_nulls=True
    ).alias("missing")
    return (
        per_deployment.with_columns(*means, missing)
        .join(spans.group_by("deployment").agg(pl.col("gaps").sum().alias("gap_gpu_hours")), on="deployment")
        .with_columns(
            (pl.col("mean_fb_used_mib") / pl.col("mean_fb_total_mib")).alias("mem_used_fraction"),
        )
        .with_columns(
            (1 - pl.col("mem_used_fraction")).alias("mem_headroom"),
            (1 - pl.col("peak_mem_fraction")).alias("min_mem_headroom"),
            pl.when(pl.col("profiled_gpu_hours") > 0).then(pl.col("idle_gpu_hours")).alias("idle_gpu_hours"),
        )
        .drop([f"{m}_{s}" for m in METRICS for s in ("sum", "n")])
        .sort("deployment")
    )


@dataclass(frozen=True)
class GpuData:
    """Everything the GPU views read for one window: GPU-hours, hourly request rollups, deployments."""

    start: datetime
    end: datetime
    gpu_hours: pl.DataFrame
    request_hours: pl.DataFrame
    deployments: pl.DataFrame


def priced(
    hours: pl.DataFrame, deployments: pl.DataFrame, prices: Mapping[str, float] | None = None
) -> pl.DataFrame:
    """Add ``cost_per_gpu_hour`` to GPU-hour rows: prices[gpu_type] if given, else the deployments table."""
    table = deployments.select(
        "deployment", pl.col("cost_per_gpu_hour").cast(pl.Float64).alias("_table_price")
    )
    override = pl.DataFrame(
        {"gpu_type": list((prices or {}).keys()), "_override": [float(v) for v in (prices or {}).values()]},
        schema={"gpu_type": pl.String, "_override": pl.Float64},
    )
    return (
        hours.join(table, on="deployment", how="left")
        .join(override, on="gpu_type", how="left")
        .with_columns(pl.coalesce("_override", "_table_price").alias("cost_per_gpu_hour"))
        .drop("_override", "_table_price")
    )


def efficiency(
    data: GpuData,
    objectives: gpu_hour_frames.Objectives,
    prices: Mapping[str, float] | None = None,
    idle_floor: float = IDLE_SM_FLOOR,
    requests: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per deployment: utilisation, GPU-hours, cost, tokens per GPU-second, cost per 1M output
    tokens, idle GPU-hours and their cost, goodput per GPU and an MFU estimate.

    Parameters
    ----------
    objectives : deployment -> its objectives (analytics.slo.objectives); good requests meet them.
    prices : gpu_type -> cost per GPU-hour, overriding the deployments table.
    idle_floor : an idle GPU-hour has mean sm_active below this.
    requests : analytics.gpu.hours.hourly_requests(data.request_hours, objectives), when the caller
        has it (deployment_hours needs it too); computed here otherwise.
    """
    types = data.gpu_hours["gpu_type"].unique().to_list()
    peaks = pl.DataFrame({"gpu_type": types, "_peak_tflops": [peak_tflops(t) for t in types]},
                         schema={"gpu_type": pl.String, "_peak_tflops": pl.Float64})
    hours = priced(data.gpu_hours, data.deployments, prices).join(peaks, on="gpu_type", how="left")
    costs = hours.group_by("deployment").agg(
        pl.col("cost_per_gpu_hour").sum().alias("cost"),
        pl.col("cost_per_gpu_hour").mean().alias("cost_per_gpu_hour"),
        pl.col("cost_per_gpu_hour").filter(pl.col("sm_active") < idle_floor).sum().alias("idle_cost"),
        pl.col("cost_per_gpu_hour").is_null().any().alias("_unpriced"),
        # Peak FLOPs over the GPU-hours: sum of 3600 s x peak FLOP/s (NULL if any type is unknown).
        (pl.col("_peak_tflops") * 1e12 * SECONDS_PER_HOUR).sum().alias("_peak_flop"),
        pl.col("_peak_tflops").is_null().any().alias("_unknown_peak"),
    )
    if requests is None:
        requests = gpu_hour_frames.hourly_requests(data.request_hours, objectives)
    requests = _request_totals(requests, objectives)
    table = (
        utilisation(data.gpu_hours, idle_floor)
        .join(costs, on="deployment", how="left")
        .join(requests, on="deployment", how="left")
        .join(
            data.deployments.select("deployment", "kind", "params_b", "replicas", "gpus_per_replica"),
            on="deployment",
            how="left",
        )
        .with_columns(pl.col("requests", "ok", "input_tokens", "output_tokens").fill_null(0))
    )
    gpu_seconds = pl.col("gpu_hours") * SECONDS_PER_HOUR
    return table.with_columns(
        pl.when(~pl.col("_unpriced")).then(pl.col("cost")).alias("cost"),
        pl.when(~pl.col("_unpriced") & pl.col("idle_gpu_hours").is_not_null())
        .then(pl.col("idle_cost"))
        .alias("idle_cost"),
        (pl.col("output_tokens") / gpu_seconds).alias("output_tokens_per_gpu_s"),
        (pl.col("input_tokens") / gpu_seconds).alias("input_tokens_per_gpu_s"),
        # Good requests (meeting the latency SLO) per GPU-second: goodput per GPU (DistServe).
        (pl.col("good_requests") / gpu_seconds).alias("goodput_per_gpu"),
        _ratio("idle_gpu_hours", "profiled_gpu_hours").alias("idle_fraction"),
        # MFU estimate (PaLM, Chowdhery et al. 2022, appendix B): achieved FLOP/s / peak FLOP/s,
        # with a forward pass costing 2 x params FLOPs per token (input and output), attention ignored.
        pl.when(~pl.col("_unknown_peak") & (pl.col("_peak_flop") > 0))
        .then(
            2 * pl.col("params_b") * 1e9 * (pl.col("input_tokens") + pl.col("output_tokens"))
            / pl.col("_peak_flop")
        )
        .alias("mfu_estimate"),
    ).with_columns(
        # GPU cost per 1M output tokens = GPU-hours x cost per GPU-hour / output tokens x 1e6 (DESIGN.md).
        (pl.col("cost") / pl.col("output_tokens").replace(0, None) * 1e6).alias("cost_per_1m_output_tokens"),
        (pl.col("cost") / pl.col("requests").replace(0, None) * 1e3).alias("cost_per_1k_requests"),
        pl.concat_str(
            [
                pl.col("missing").replace("", None),
                pl.when(pl.col("_unpriced")).then(pl.lit("cost_per_gpu_hour")),
                pl.when(pl.col("params_b").is_null()).then(pl.lit("params_b")),
                pl.when(pl.col("_unknown_peak")).then(pl.lit("peak_flops")),
                pl.when(pl.col("slo").is_null()).then(pl.lit("latency_slo")),
            ],
            separator=", ",
            ignore_nulls=True,
        ).alias("missing"),
    ).drop("_unpriced", "_peak_flop", "_unknown_peak").sort("deployment")


def _request_totals(hourly: pl.DataFrame, objectives: gpu_hour_frames.Objectives) -> pl.DataFrame:
    """Per deployment, from its hourly requests (G.hourly_requests): requests, ok, tokens, good
    requests (NULL without objectives) and their conditions."""
    conditions = pl.DataFrame(
        {"deployment": list(objectives), "slo": [describe_conditions(s) for s in objectives.values()]},
        schema={"deployment": pl.String, "slo": pl.String},
    )
    return (
        hourly
        .group_by("deployment")
        .agg(
            pl.col("requests", "ok", "input_tokens", "output_tokens").sum(),
            pl.when(pl.col("good").is_not_null().any()).then(pl.col("good").sum()).alias("good_requests"),
        )
        .join(conditions, on="deployment", how="left")
    )


def deployment_hours(data: GpuData, objectives: gpu_hour_frames.Objectives, requests: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per (deployment, hour): GPUs reporting, mean activity metrics over them, memory peak, and the
    hour's requests, request rate, whether it met the objectives, attainment and p99 latencies
    (NULL where no requests). ``requests``: as for efficiency."""
    gpu = data.gpu_hours.group_by("deployment", "hour").agg(
        pl.len().alias("gpus"),
        *(pl.col(f"{m}_sum").sum() for m in METRICS),
        *(pl.col(f"{m}_n").sum() for m in METRICS),
        pl.col("mem_peak_fraction").max(),
    ).with_columns(
        _mean(m).alias(m) for m in METRICS
    ).drop([f"{m}_{s}" for m in METRICS for s in ("sum", "n")])
    if requests is None:
        requests = gpu_hour_frames.hourly_requests(data.request_hours, objectives)
    requests = requests.drop("input_tokens", "output_tokens")
    has_slo = pl.col("deployment").is_in([name for name, slos in objectives.items() if slos])
    return (
        gpu.join(requests, on=["deployment", "hour"], how="left")
        .with_columns(
            pl.col("requests", "ok", "rps").fill_null(0),
            pl.when(has_slo).then(pl.col("good").fill_null(0)).alias("good"),
        )
        .sort("deployment", "hour")
    )
