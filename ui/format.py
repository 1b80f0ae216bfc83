"""Human formatting of numbers and column labels for every page."""

from __future__ import annotations

import math

# Column name -> label shown to people. SQL aliases equal polars names; only the UI renames.
LABELS = {
    "deployment": "Deployment",
    "model": "Model",
    "region": "Region",
    "gpu_type": "GPU type",
    "requests": "Requests",
    "rps": "Requests/s",
    "error_rate": "Error rate",
    "availability": "Availability",
    "ttft_p50_ms": "TTFT p50 (ms)",
    "ttft_p95_ms": "TTFT p95 (ms)",
    "ttft_p99_ms": "TTFT p99 (ms)",
    "e2e_p50_ms": "E2E p50 (ms)",
    "e2e_p95_ms": "E2E p95 (ms)",
    "e2e_p99_ms": "E2E p99 (ms)",
    "output_tokens": "Output tokens",
    "input_tokens": "Input tokens",
    "output_tps": "Output tokens/s",
    "metric": "Metric",
    "previous": "Previous period",
    "current": "This period",
    "change": "Change",
    "table": "Table",
    "rows": "Rows",
    "first": "First",
    "last": "Last",
    "freshness": "Last data",
    "lag": "Behind newest",
    "on_disk_mib": "On disk (MiB)",
    "compression_ratio": "Compression ratio",
    "minutes_behind_newest": "Minutes behind newest",
    "gpus_current": "GPUs now",
    "per_gpu": "Throughput per GPU",
    "gpus_needed_peak": "GPUs needed (peak)",
    "capacity_exhausted_at": "Capacity runs out",
    "headroom_breached_at": "Headroom breached",
    "gpus_needed": "GPUs needed",
    "short": "GPUs short",
    "unknown": "Throughput unknown",
    "week": "Week (Mon, UTC)",
    "method": "Method",
    "mape": "MAPE",
    "smape": "sMAPE",
    "mase": "MASE",
    "interval_coverage": "Interval coverage",
    "first_ts": "First request",
    "last_ts": "Last request",
}


def label(column: str) -> str:
    """A readable label for a column name."""
    return LABELS.get(column, column.replace("_", " ").capitalize())


def count(value: float | None) -> str:
    """1234567 -> '1.23M'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"


def pct(ratio: float | None, digits: int = 2) -> str:
    """A ratio in [0, 1] as a percentage."""
    if ratio is None or (isinstance(ratio, float) and math.isnan(ratio)):
        return "–"
    return f"{ratio * 100:.{digits}f}%"


def ms(value: float | None) -> str:
    """Milliseconds below 1 s, seconds above."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.3g} ms"


def rate(value: float | None) -> str:
    """A per-second rate."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.3g}/s" if value < 100 else f"{value:,.0f}/s"
