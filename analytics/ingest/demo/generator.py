"""Deterministic demo telemetry for the fleet in analytics.ingest.demo.fleet: requests, GPU metrics, deployments.

One seeded generator serves the demo, the tests and the benchmark. Traffic is an inhomogeneous
Poisson process per 5-minute slot with diurnal (local time) and weekly seasonality and optional
compound growth; latency and GPU activity follow each slot's utilisation, so the SLO, GPU and
capacity views tell one consistent story. The incidents in analytics.ingest.demo.fleet.INCIDENTS are injected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from analytics.errors import InputError
from analytics.ingest import deployments as deployments_file
from analytics.ingest.demo import fleet as demo_fleet
from analytics.ingest.load import loading
from analytics.store import conventions
from analytics.store.client import Store
from analytics.times import plausible

Progress = Callable[[float, str], None]

SLOT_S = conventions.SLOT_SECONDS
UTC_OFFSET_H = {"us-east": -5.0, "eu-west": 0.0, "ap-south": 5.5}
WEEKEND_FACTOR = {"chat": 0.72, "code": 0.45, "embedding": 0.85, "classic": 0.9}
TIMEOUT_MS = {"chat": 120_000.0, "code": 60_000.0, "embedding": 5_000.0, "classic": 2_000.0}
BASE_ERROR_RATE = 0.0004
INSERT_ROWS = 250_000  # rows per staged chunk, as a file load's (journal.PUBLISH_FILES)
# Request rows generated at once (~0.3 GB of intermediate arrays), so memory does not grow with
# --requests: seeding 5M and 10M requests (30 days) peaked at 945 and 927 MiB RSS, chDB included.
# Generating a whole deployment at once (up to 16% of the rows) took 8.5 GB at 100M.
WINDOW_ROWS = 1_000_000
# The longest history: the longest SLO window (analytics.slo.spec.MAX_WINDOW), 366 days, which at the
# default 60 s scrape is 64M GPU samples; 100000 days ran for minutes before anything was written.
MAX_DAYS = 366
QUIET_TRAFFIC = 0.01  # traffic share below which a deployment's requests are all logged


@dataclass(frozen=True)
class SeedSummary:
    """What a demo seed wrote."""

    start: datetime
    end: datetime
    requests: int  # rows stored
    represented: int  # requests they stand for (sum of weights)
    gpu_samples: int
    deployments: int


def default_end(now: datetime | None = None) -> datetime:
    """The demo's end: the start of the current UTC hour."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _slot_starts(start: datetime, n_slots: int) -> np.ndarray:
    return np.datetime64(start.replace(tzinfo=None), "s") + np.arange(n_slots) * np.timedelta64(SLOT_S, "s")


def _shape(dep: demo_fleet.DemoDeployment, slots: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Relative demand per slot: diurnal x weekly x growth x slow noise, 1.0 = first week's peak."""
    hours_utc = (slots.astype("datetime64[m]").astype(np.int64) / 60.0) % 24
    local_h = (hours_utc + UTC_OFFSET_H[dep.region]) % 24
    diurnal = 0.25 + 0.75 * (0.5 - 0.5 * np.cos(2 * np.pi * (local_h - 4.0) / 24.0)) ** 1.6
    weekday = ((slots.astype("datetime64[D]").astype(np.int64) + 3) % 7)  # 0 = Monday
    local_weekday = np.where(local_h < hours_utc - 12, (weekday + 1) % 7, weekday)
    weekly = np.where(local_weekday >= 5, WEEKEND_FACTOR[dep.kind], 1.0)
    days = np.arange(len(slots)) * SLOT_S / 86400.0
    growth = (1.0 + dep.growth_per_day) ** days
    # AR(1) noise on log demand (hour-scale wobble), so no two days look alike.
    eps = rng.normal(0.0, 0.04, len(slots))
    noise = np.empty_like(eps)
    acc = 0.0
    for i, e in enumerate(eps):  # 10k slots: fast enough, and clearer than a filter call
        acc = 0.97 * acc + e
        noise[i] = acc
    return diurnal * weekly * growth * np.exp(noise)


def _incident_masks(dep: demo_fleet.DemoDeployment, slots: np.ndarray, end: datetime) -> dict[str, np.ndarray]:
    masks = {}
    for inc in demo_fleet.INCIDENTS:
        if dep.deployment not in inc.deployments:
            continue
        t0 = np.datetime64((end - inc.starts_before_end).replace(tzinfo=None), "s")
        t1 = t0 + np.timedelta64(int(inc.duration.total_seconds()), "s")
        masks[inc.kind] = (slots >= t0) & (slots < t1)
    return masks


def _windows(counts: np.ndarray, rows: int) -> list[tuple[int, int]]:
    """Consecutive slot ranges [lo, hi) holding about `rows` requests each (one range when all fit)."""
    total = np.cumsum(counts)
    cuts = np.unique(np.searchsorted(total, np.arange(rows, int(total[-1]) if len(total) else 0, rows), side="right"))
    bounds = [0, *(int(c) for c in cuts if 0 < c < len(counts)), len(counts)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _requests_for(dep, slots, load, util, masks, rng) -> Iterator[pl.DataFrame]:
    """Per-request rows for one deployment given expected requests and utilisation per slot, in
    time order, as frames of about WINDOW_ROWS rows (memory stays flat whatever the volume)."""
    counts = rng.poisson(load)
    for lo, hi in _windows(counts, WINDOW_ROWS):
        yield _requests_in(dep, slots, counts, lo, hi, util, masks, rng)


def _requests_in(dep, slots, counts, lo, hi, util, masks, rng) -> pl.DataFrame:
    """The requests of slots lo .. hi-1 (the same draws, in the same order, when lo .. hi is every slot)."""
    slot_idx = np.repeat(np.arange(lo, hi), counts[lo:hi])
    n = len(slot_idx)
    ts = slots[slot_idx].astype("datetime64[ms]") + (rng.uniform(0, SLOT_S * 1000, n)).astype("timedelta64[ms]")
    rho = util[slot_idx]
    none = np.zeros(len(slots), dtype=bool)
    regress = masks.get("latency_regression", none)[slot_idx]
    burst = masks.get("error_burst", none)[slot_idx]
    outage = masks.get("region_outage", none)[slot_idx]
    pressure = masks.get("memory_pressure", none)[slot_idx]

    llm = dep.kind in ("chat", "code")
    input_tokens = np.maximum(1, rng.lognormal(np.log(max(dep.input_tokens, 1)), 0.7, n)).astype(np.uint32)
    if dep.kind == "classic":
        input_tokens[:] = 0
    rho_c = np.minimum(rho, 0.97)
    # Queueing delay grows like rho / (1 - rho) (M/M/1 waiting-time shape; Kleinrock vol. 1).
    service_ms = dep.ttft_ms if llm else (12.0 if dep.kind == "embedding" else 3.0)
    queue_ms = rng.exponential(1.0, n) * service_ms * 0.3 * rho_c / (1.0 - rho_c)
    if llm:
        output_tokens = np.clip(rng.lognormal(np.log(dep.output_tokens), 0.8, n), 1, 4096).astype(np.uint32)
        prefill = dep.ttft_ms * (input_tokens / dep.input_tokens) ** 0.5
        ttft = prefill * rng.lognormal(0.0, 0.35, n) * (1.0 + 0.8 * rho_c**2)
        tpot = dep.tpot_ms * rng.lognormal(0.0, 0.18, n) * (1.0 + 0.6 * rho_c)
        ttft = np.where(regress, ttft * 2.5, ttft)
        tpot = np.where(regress, tpot * 1.6, tpot)
        ttft = np.where(pressure, ttft * 3.0, ttft)
        ttft = ttft + queue_ms
        e2e = ttft + tpot * (output_tokens.astype(np.float64) - 1)
    else:
        output_tokens = np.zeros(n, dtype=np.uint32)
        per_item = service_ms * (1.0 + input_tokens / 512.0)
        e2e = per_item * rng.lognormal(0.0, 0.3, n) * (1.0 + 0.3 * rho_c / (1.0 - rho_c)) + queue_ms
        ttft = np.full(n, np.nan)
        tpot = np.full(n, np.nan)

    u = rng.uniform(0, 1, n)
    status = np.full(n, "ok", dtype=object)
    # Overload beyond capacity is shed: a fraction 1 - 1/rho of arrivals is rejected.
    shed = np.where(rho > 1.0, 1.0 - 1.0 / np.maximum(rho, 1.0), 0.0)
    status[u < BASE_ERROR_RATE] = "error"
    status[burst & (u < 0.30)] = "error"
    status[outage & (u < 0.60)] = "error"
    status[outage & (u >= 0.60) & (u < 0.85)] = "timeout"
    status[pressure & (u < 0.10)] = "timeout"
    status[(status == "ok") & (rng.uniform(0, 1, n) < shed)] = "rejected"
    limit = TIMEOUT_MS[dep.kind]
    status[(status == "ok") & (e2e > limit)] = "timeout"

    failed = status != "ok"
    e2e = np.where(status == "timeout", limit, e2e)
    e2e = np.where((status == "error"), np.minimum(e2e, ttft if llm else e2e) * 0.2, e2e)
    e2e = np.where(status == "rejected", 2.0, e2e)
    ttft = np.where(failed & llm, np.nan, ttft)
    tpot = np.where(failed & llm, np.nan, tpot)
    output_tokens = np.where(failed, 0, output_tokens).astype(np.uint32)
    version = np.where(regress, "v2", "v1")
    replica = rng.integers(0, dep.replicas, n)
    return pl.DataFrame(
        {
            "ts": pl.Series(ts).dt.replace_time_zone("UTC"),
            "deployment": dep.deployment,
            "model": dep.model,
            "model_version": version,
            "region": dep.region,
            "gpu_type": dep.gpu_type,
            "replica": pl.Series(replica).cast(pl.String).str.replace(r"^", "r"),
            "status": pl.Series(status, dtype=pl.String),
            "queue_ms": queue_ms.astype(np.float32),
            "ttft_ms": pl.Series(ttft.astype(np.float32), nan_to_null=True),
            "tpot_ms": pl.Series(tpot.astype(np.float32), nan_to_null=True),
            "e2e_ms": e2e.astype(np.float32),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
        }
    ).sort("ts")


def _gpu_for(dep, slots, util, masks, rng, scrape_s: int) -> pl.DataFrame:
    """Per-GPU DCGM samples every scrape_s seconds, driven by the slot's utilisation."""
    gpu_type = demo_fleet.GPU_TYPES[dep.gpu_type]
    per_slot = SLOT_S // scrape_s
    n_t = len(slots) * per_slot
    times = np.repeat(slots, per_slot) + np.tile(np.arange(per_slot) * scrape_s, len(slots)).astype("timedelta64[s]")
    rho_t = np.repeat(util, per_slot)
    none = np.zeros(len(slots), dtype=bool)
    keep = ~np.repeat(masks.get("region_outage", none), per_slot)  # collection gap
    pressure = np.repeat(masks.get("memory_pressure", none), per_slot)
    frames = []
    weights_mib = (dep.params_b or 0.5) * 2.0 * 1024 / dep.gpus_per_replica  # bf16 weights
    for g in range(dep.gpus):
        imbalance = rng.lognormal(0.0, 0.08)
        rho = np.clip(rho_t * imbalance + rng.normal(0, 0.03, n_t), 0.0, 1.2)
        sm = np.clip(0.02 + 0.85 * np.minimum(rho, 1.0) ** 0.9 + rng.normal(0, 0.02, n_t), 0.0, 1.0)
        # GPU_UTIL only says "a kernel was running": it saturates long before the SMs do.
        util = np.clip(100.0 * (1.0 - np.exp(-5.0 * (rho + 0.03))) + rng.normal(0, 1.5, n_t), 0, 100)
        total = gpu_type.fb_total_mib
        kv = (0.85 * total - weights_mib) * (0.25 + 0.6 * np.minimum(rho, 1.0))
        fb = np.minimum(weights_mib + kv + rng.normal(0, 150, n_t), 0.99 * total)
        fb = np.where(pressure, total * rng.uniform(0.97, 0.99, n_t), fb)
        power = gpu_type.idle_w + (gpu_type.tdp_w - gpu_type.idle_w) * (0.1 + 0.85 * sm) + rng.normal(0, 5, n_t)
        temp = 32.0 + 45.0 * power / gpu_type.tdp_w + rng.normal(0, 1.0, n_t)
        tensor_share = {"chat": 0.6, "code": 0.6, "embedding": 0.35, "classic": 0.05}[dep.kind]
        profiling = dep.deployment != demo_fleet.NO_PROFILING
        null = np.full(n_t, np.nan)
        frames.append(
            pl.DataFrame(
                {
                    "ts": pl.Series(times[keep].astype("datetime64[ms]")).dt.replace_time_zone("UTC"),
                    "node": f"{dep.deployment}-n{g // 8}",
                    "gpu": np.full(keep.sum(), g % 8, dtype=np.uint8),
                    "gpu_type": dep.gpu_type,
                    "deployment": dep.deployment,
                    "region": dep.region,
                    "gpu_util": util[keep].astype(np.float32),
                    "sm_active": pl.Series((sm if profiling else null)[keep].astype(np.float32), nan_to_null=True),
                    "sm_occupancy": pl.Series((sm * 0.55 if profiling else null)[keep].astype(np.float32), nan_to_null=True),
                    "tensor_active": pl.Series((sm * tensor_share if profiling else null)[keep].astype(np.float32), nan_to_null=True),
                    "dram_active": pl.Series((sm * 0.7 if profiling else null)[keep].astype(np.float32), nan_to_null=True),
                    "fb_used_mib": fb[keep].astype(np.float32),
                    "fb_total_mib": np.full(keep.sum(), total, dtype=np.float32),
                    "power_w": power[keep].astype(np.float32),
                    "temp_c": temp[keep].astype(np.float32),
                }
            )
        )
    return pl.concat(frames)


def deployments_frame(updated_at: datetime) -> pl.DataFrame:
    """The demo fleet as rows of the deployments table."""
    return pl.DataFrame(
        [
            {
                "deployment": d.deployment,
                "model": d.model,
                "kind": d.kind,
                "params_b": d.params_b,
                "region": d.region,
                "gpu_type": d.gpu_type,
                "gpus_per_replica": d.gpus_per_replica,
                "replicas": d.replicas,
                "cost_per_gpu_hour": demo_fleet.GPU_TYPES[d.gpu_type].cost_per_gpu_hour,
                "owner": d.owner,
                "updated_at": updated_at,
            }
            for d in demo_fleet.FLEET
        ],
        schema_overrides={"params_b": pl.Float32, "gpus_per_replica": pl.UInt16, "replicas": pl.UInt16,
                          "updated_at": pl.Datetime("ms", "UTC")},
    )


def generate(
    *,
    days: int = 35,
    requests: int = 4_000_000,
    seed: int = 7,
    end: datetime | None = None,
    scrape_seconds: int = 60,
    sample_rate: float = 0.01,
    progress: Progress | None = None,
) -> Iterator[tuple[str, pl.DataFrame]]:
    """Yield (table, frame) pairs of the demo fleet's telemetry for the `days` before `end`.

    About `requests` request rows in all, logged at `sample_rate` as production request logs
    are: each row has weight 1 / sample_rate, so 4M rows at 1% stand for 400M requests, the
    volume a fleet of this many GPUs serves. GPU samples every `scrape_seconds` (a divisor of
    300; DCGM exporters scrape every 15-60 s) for every GPU. Same arguments, same data.
    """
    if days < 1 or requests < 1000 or scrape_seconds < 1 or SLOT_S % scrape_seconds:
        raise InputError("demo: needs days >= 1, requests >= 1000 and scrape seconds dividing 300")
    if days > MAX_DAYS:
        raise InputError(f"demo: at most {MAX_DAYS} days of history, got {days}")
    if not 0 < sample_rate <= 1:
        raise InputError(f"demo: the sample rate must be in (0, 1], got {sample_rate}")
    weight = round(1 / sample_rate)
    end = default_end() if end is None else end.astimezone(UTC)
    plausible(end, "demo: the end")
    plausible(end - timedelta(days=days), f"demo: the start ({days} days before the end)")
    n_slots = days * 86400 // SLOT_S
    slots = _slot_starts(end - timedelta(days=days), n_slots)
    shapes = [_shape(d, slots, np.random.default_rng([seed, i, 0])) for i, d in enumerate(demo_fleet.FLEET)]
    expected = sum(d.traffic * s.sum() for d, s in zip(demo_fleet.FLEET, shapes, strict=True))
    per_slot_scale = requests / expected  # expected requests per slot per unit of traffic x shape
    yield conventions.DEPLOYMENTS, deployments_frame(end)
    for i, (dep, shape) in enumerate(zip(demo_fleet.FLEET, shapes, strict=True)):
        rng = np.random.default_rng([seed, i, 1])
        load = dep.traffic * shape * per_slot_scale
        # Utilisation: the first week's daily peak uses peak_util of capacity.
        first_week_peak = shape[: 7 * 86400 // SLOT_S].max()
        util = shape / first_week_peak * dep.peak_util
        masks = _incident_masks(dep, slots, end)
        if "memory_pressure" in masks:
            util = np.where(masks["memory_pressure"], np.minimum(util * 1.4, 0.99), util)
        if progress:
            progress(i / len(demo_fleet.FLEET), f"{dep.deployment}: requests")
        # Dynamic sampling (as in Honeycomb's Refinery): busy deployments are logged at the
        # sample rate, quiet ones in full, so every deployment keeps enough rows to judge.
        dep_weight = weight if dep.traffic >= QUIET_TRAFFIC else 1
        for frame in _requests_for(dep, slots, load / dep_weight * weight, util, masks, rng):
            yield conventions.REQUESTS, frame.with_columns(weight=pl.lit(dep_weight, dtype=pl.UInt32))
        if progress:
            progress((i + 0.6) / len(demo_fleet.FLEET), f"{dep.deployment}: GPU metrics")
        yield conventions.GPU_METRICS, _gpu_for(dep, slots, util, masks, rng, scrape_seconds)
    if progress:
        progress(1.0, "done")


def seed(store: Store, *, days: int = 35, end: datetime | None = None,
         write_requests: Callable[[pl.DataFrame], None] | None = None,
         write_gpu: Callable[[pl.DataFrame], None] | None = None, **options) -> SeedSummary:
    """Write the demo telemetry (see generate() for the options) all or nothing; say what was written.

    With `write_requests`, request frames go to it instead of the requests table (the demo as
    OpenTelemetry spans, analytics.ingest.demo.otel), and with `write_gpu` GPU frames instead of
    gpu_metrics (as DCGM gauges); they are outside the all-or-nothing load.
    """
    end = default_end() if end is None else end.astimezone(UTC)
    counts = {conventions.REQUESTS: 0, conventions.GPU_METRICS: 0, conventions.DEPLOYMENTS: 0}
    represented = 0
    with loading(store, ["demo"]) as load:
        for table, frame in generate(days=days, end=end, **options):
            for offset in range(0, frame.height, INSERT_ROWS):
                if table == conventions.DEPLOYMENTS:  # no rollup, and rewriting a deployment replaces it
                    deployments_file.replace(store, [frame.slice(offset, INSERT_ROWS)], "demo_deployments")
                elif table == conventions.REQUESTS and write_requests is not None:
                    write_requests(frame.slice(offset, INSERT_ROWS))
                elif table == conventions.GPU_METRICS and write_gpu is not None:
                    write_gpu(frame.slice(offset, INSERT_ROWS))
                else:
                    load.add(table, frame.slice(offset, INSERT_ROWS))
            counts[table] += frame.height
            if table == conventions.REQUESTS:
                represented += int(frame["weight"].sum())
    return SeedSummary(end - timedelta(days=days), end, counts[conventions.REQUESTS], represented,
                       counts[conventions.GPU_METRICS], counts[conventions.DEPLOYMENTS])
