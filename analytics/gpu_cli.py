"""`python -m analytics gpu [--json]`: GPU-hours, cost, cost per 1M output tokens, idle GPU-hours,
mean SM activity and goodput per GPU for every deployment (default: the last 7 days of data)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime, timedelta
from pathlib import Path

from analytics import goodput as G
from analytics import gpu
from analytics import names as N
from analytics import queries as Q
from analytics.config import PROJECT_ROOT
from analytics.errors import InputError
from analytics.times import as_utc

DEFAULT_DAYS = 7
SLO_FILE = PROJECT_ROOT / "slos.yaml"
COLUMNS = (
    ("deployment", "deployment", "{}"),
    ("gpu_type", "GPU type", "{}"),
    ("gpu_hours", "GPU-h", "{:,.0f}"),
    ("cost", "cost $", "{:,.0f}"),
    ("cost_per_1m_output_tokens", "$/1M out tok", "{:,.2f}"),
    ("idle_gpu_hours", "idle GPU-h", "{:,.0f}"),
    ("idle_cost", "idle $", "{:,.0f}"),
    ("mean_sm_active", "SM active", "{:.1%}"),
    ("goodput_per_gpu", "good req/GPU-s", "{:.4f}"),
    ("missing", "missing", "{}"),
)
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
    parser.add_argument("--end", help="ISO time (default: the end of the GPU data)")
    parser.add_argument("--deployment", action="append", default=[], help="only this deployment (repeatable)")
    parser.add_argument("--region", action="append", default=[], help="only this region (repeatable)")
    parser.add_argument("--idle-floor", type=float, default=gpu.IDLE_SM_FLOOR,
                        help=f"an idle GPU-hour has mean sm_active below this (default {gpu.IDLE_SM_FLOOR})")
    parser.add_argument("--price", action="append", default=[], metavar="GPU_TYPE=USD",
                        help="cost per GPU-hour for a GPU type, overriding the deployments table")
    parser.add_argument("--slo-file", default=str(SLO_FILE),
                        help="SLO file whose latency/goodput SLOs set goodput thresholds "
                             "(default: the project's slos.yaml; deployments it does not cover use "
                             "defaults by kind)")
    parser.add_argument("--slo", action="append", default=[], metavar="DEPLOYMENT:FIELD=MS[,FIELD=MS]",
                        help="latency thresholds for one deployment, overriding the SLO file")


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


def parse_slos(items: list[str]) -> dict[str, dict[str, float]]:
    """Parse DEPLOYMENT:FIELD=MS[,FIELD=MS] options."""
    slos: dict[str, dict[str, float]] = {}
    for item in items:
        name, _, spec = item.partition(":")
        if not name or not spec:
            raise InputError(f"--slo {item!r}: expected DEPLOYMENT:FIELD=MS[,FIELD=MS]")
        for part in spec.split(","):
            field, _, value = part.partition("=")
            try:
                slos.setdefault(name, {})[field.strip()] = float(value)
            except ValueError:
                raise InputError(f"--slo {item!r}: {value!r} is not a number of ms") from None
    return G.check_slos(slos)


def data_end(store) -> datetime | None:
    """The end of the GPU data: one hour after the last hour with samples (None when empty)."""
    frame = as_utc(store.query(f"SELECT max(hour) AS last, count() AS n FROM {N.GPU_1H}"), "last")
    if not frame.height or not frame["n"][0]:
        return None
    return frame["last"][0] + timedelta(hours=1)


def run(args, store) -> int:
    """Print the per-deployment GPU efficiency table (or JSON)."""
    from analytics.times import parse_time

    if not 0 <= args.idle_floor <= 1:
        raise InputError(f"--idle-floor must be a ratio in [0, 1], got {args.idle_floor}")
    prices = parse_prices(args.price)
    if Path(args.slo_file) != SLO_FILE and not Path(args.slo_file).is_file():
        raise InputError(f"--slo-file {args.slo_file}: no such file")
    slos = G.load_latency_slos(args.slo_file, Q.deployments_table(store)) | parse_slos(args.slo)
    end = parse_time(args.end) if args.end else data_end(store)
    if end is None:
        print("error: no GPU telemetry in the store "
              "(run `python -m analytics demo` or ingest a DCGM CSV)", file=sys.stderr)
        return 1
    start = parse_time(args.start) if args.start else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InputError(f"--start {start.isoformat()} is not before --end {end.isoformat()}")
    data = gpu.load(store, start, end, args.deployment, args.region, latency_fields=G.fields_of(slos))
    table = gpu.efficiency(data, slos, prices, args.idle_floor)
    if args.json:
        rows = [{k: _plain(row.get(k)) for k in JSON_FIELDS} for row in table.iter_rows(named=True)]
        window = {"start": data.start.isoformat(), "end": data.end.isoformat()}
        print(json.dumps(window | {"deployments": rows}, indent=2))
        return 0
    print(f"GPU efficiency {data.start:%Y-%m-%d %H:%M} to {data.end:%Y-%m-%d %H:%M} UTC "
          f"(idle: mean sm_active < {args.idle_floor:g}; '-' = not available)")
    if table.is_empty():
        print("no GPU telemetry in this window")
        return 0
    cells = [[h for _, h, _ in COLUMNS]]
    for row in table.iter_rows(named=True):
        cells.append([_cell(row.get(k), fmt) for k, _, fmt in COLUMNS])
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    for r in cells:
        print("  ".join(c.ljust(w) if i in (0, 1, len(COLUMNS) - 1) else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    return 0


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value != "" else None


def _cell(value, fmt: str) -> str:
    if value is None or value == "" or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return fmt.format(value)
