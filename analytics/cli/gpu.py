"""`python -m analytics gpu [--json]`: GPU-hours, cost, cost per 1M output tokens, idle GPU-hours,
mean SM activity and goodput per GPU for every deployment (default: the last 7 days of data)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import timedelta

import polars as pl

from analytics import columns
from analytics.cli.common import plain, registry_table
from analytics.errors import InputError
from analytics.gpu import efficiency as gpu
from analytics.gpu import pipeline
from analytics.gpu.hours import fields_of
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.objectives import objectives_by_deployment
from analytics.store import queries as store_queries
from analytics.times import parse_time

DEFAULT_DAYS = 7
COLUMNS = ("deployment", "gpu_type", "gpu_hours", "cost", "cost_per_1m_output_tokens", "idle_gpu_hours", "idle_cost",
           "mean_sm_active", "goodput_per_gpu", "not_available")  # column registry names
JSON_FIELDS = (
    "deployment", "gpu_type", "gpus", "gpu_hours", "gap_gpu_hours", "cost", "cost_per_gpu_hour",
    "output_tokens", "cost_per_1m_output_tokens", "idle_gpu_hours", "idle_cost", "mean_gpu_util",
    "mean_sm_active", "mean_tensor_active", "mem_used_fraction", "peak_mem_fraction",
    "output_tokens_per_gpu_s", "goodput_per_gpu", "slo", "mfu_estimate", "missing",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the gpu command."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--start", help="ISO time (default: 7 days before --end)")
    parser.add_argument("--end", help="ISO time (default: the end of the data, or now if earlier)")
    parser.add_argument("--deployment", action="append", default=[], help="only this deployment (repeatable)")
    parser.add_argument("--region", action="append", default=[], help="only this region (repeatable)")
    parser.add_argument("--idle-floor", type=float, default=gpu.IDLE_SM_FLOOR,
                        help=f"an idle GPU-hour has mean sm_active below this (default {gpu.IDLE_SM_FLOOR})")
    parser.add_argument("--price", action="append", default=[], metavar="GPU_TYPE=USD",
                        help="cost per GPU-hour for a GPU type, overriding the deployments table")
    parser.add_argument("--slo-file", default=str(PROJECT_SLO_FILE),
                        help="SLO file whose latency/goodput SLOs judge good requests "
                             "(default: the project's slos.yaml; deployments it does not cover use "
                             "defaults by kind)")


def parse_prices(items: list[str]) -> dict[str, float]:
    """Parse GPU_TYPE=USD options."""
    prices = {}
    for item in items:
        name, _, value = item.rpartition("=")
        try:
            price = float(value)
        except ValueError:
            price = float("nan")
        if not name or not math.isfinite(price) or price < 0:
            raise InputError(f"--price {item!r}: expected GPU_TYPE=USD with a non-negative number")
        prices[name] = price
    return prices


def run(args, store) -> int:
    """Print the per-deployment GPU efficiency table (or JSON)."""
    if not 0 <= args.idle_floor <= 1:
        raise InputError(f"--idle-floor must be a ratio in [0, 1], got {args.idle_floor}")
    prices = parse_prices(args.price)
    objectives = objectives_by_deployment(store_queries.deployments_table(store), load_slos(args.slo_file))
    end = parse_time(args.end, "--end") if args.end else store_queries.data_end(store)
    if end is None:
        print("error: no GPU telemetry in the store "
              "(run `python -m analytics demo` or ingest a DCGM CSV)", file=sys.stderr)
        return 1
    start = parse_time(args.start, "--start") if args.start else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InputError(f"--start {start.isoformat()} is not before --end {end.isoformat()}")
    data = pipeline.load(store, start, end, args.deployment, args.region, fields_of(objectives))
    table = gpu.efficiency(data, objectives, prices, args.idle_floor)
    if args.json:
        rows = [{k: plain(row.get(k)) for k in JSON_FIELDS} for row in table.iter_rows(named=True)]
        window = {"start": data.start.isoformat(), "end": data.end.isoformat()}
        print(json.dumps(window | {"deployments": rows}, indent=2))
        return 0
    print(f"GPU efficiency {data.start:%Y-%m-%d %H:%M} to {data.end:%Y-%m-%d %H:%M} UTC "
          f"(idle: mean SM activity < {args.idle_floor:g}; '{columns.MISSING}' = not available)")
    if table.is_empty():
        print("no GPU telemetry in this window")
        return 0
    shown = table.with_columns(pl.col("missing").map_elements(gpu.field_names, return_dtype=pl.String)
                               .alias("not_available"))
    print(registry_table(shown.iter_rows(named=True), COLUMNS))
    return 0
