"""Human formatting of numbers and column labels for every page."""

from __future__ import annotations

import math
import re

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
    # SLO pages
    "slo": "SLO",
    "state": "State",
    "sli": "SLI",
    "scope": "Scope",
    "target": "Target",
    "window": "Window",
    "attainment_lower": "Attainment (lower bound)",
    "attainment_upper": "Attainment (upper bound)",
    "budget_remaining": "Budget remaining",
    "burn_rate_1h": "Burn rate (1h)",
    "hours_to_exhaustion": "Hours to exhaustion",
    "firing": "Firing now",
    "pages": "Pages in window",
    "tickets": "Tickets in window",
    "good": "Good",
    "valid": "Valid",
    "exact": "Exact",
    "severity": "Severity",
    "start": "Start (UTC)",
    "end": "End (UTC)",
    "ongoing": "Ongoing",
    "duration_min": "Duration (min)",
    "peak_burn": "Peak burn rate",
    "budget_consumed": "Budget consumed",
    "tiers": "Tiers",
    "measure": "Measure",
    "proposed": "Proposed",
    "current_slo": "Current SLO",
    "proposed_slo": "Proposed SLO",
    # GPU efficiency page (ui.gpu renames generic analytics columns first)
    "gpus": "GPUs",
    "gpu_hours": "GPU-hours",
    "gap_gpu_hours": "GPU-hours missing (collection gaps)",
    "cost_per_gpu_hour": "$ per GPU-hour",
    "cost_per_1m_output_tokens": "$ per 1M output tokens",
    "cost_per_1k_requests": "$ per 1k requests",
    "idle_gpu_hours": "Idle GPU-hours",
    "idle_cost": "Idle cost ($)",
    "idle_fraction": "Idle share of GPU-hours",
    "mean_gpu_util": "GPU util (any kernel)",
    "mean_sm_active": "SM active",
    "mean_sm_occupancy": "SM occupancy",
    "mean_tensor_active": "Tensor-pipe active",
    "mean_dram_active": "DRAM active",
    "mem_used_fraction": "Memory used (mean)",
    "peak_mem_fraction": "Memory used (peak hour)",
    "min_mem_headroom": "Memory headroom (worst hour)",
    "mean_power_w": "Power (mean W)",
    "peak_hour_power_w": "Power (peak hour W)",
    "output_tokens_per_gpu_s": "Output tokens per GPU-s",
    "input_tokens_per_gpu_s": "Input tokens per GPU-s",
    "good_requests": "Requests meeting the latency SLO",
    "met_slo": "Hour met the SLO",
    "evaluable": "Enough requests to judge",
    "ok_requests": "Successful requests",
    "goodput_per_gpu": "Goodput (good req per GPU-s)",
    "goodput_slo": "Latency conditions for goodput",
    "mfu_estimate": "MFU (estimate)",
    "gpus_per_replica": "GPUs per replica",
    "activity_metric": "Activity metric",
    "peak_activity": "Peak-hour activity",
    "hour_activity": "Activity in that hour",
    "target_activity": "Target activity",
    "replicas_needed": "Replicas needed",
    "gpus_freed": "GPUs freed",
    "monthly_saving": "Saving per 30 days ($)",
    "peak_attainment": "SLO attainment at peak hours",
    "slo_met_at_peak": "SLO met at peak",
    "peak_p99_ttft_ms": "Peak-hour p99 TTFT (ms)",
    "peak_p99_e2e_ms": "Peak-hour p99 E2E (ms)",
    "first_peak_hour": "First peak hour",
    "last_peak_hour": "Last peak hour",
    "peak_hour": "Hour (UTC)",
    "p99_ttft_ms": "p99 TTFT (ms)",
    "p99_tpot_ms": "p99 TPOT (ms)",
    "p99_e2e_ms": "p99 E2E (ms)",
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


# What makes Streamlit's markdown do something inside a line: emphasis (* _ ~), code (`), links and
# images, colours, emoji and directives (! [ ], ":red[", ":smile:"), LaTeX ($), HTML (< >), tables (|),
# escapes (\\). At the start of the text, block markers (# > - + or "1.") too.
_INLINE = re.compile(r"([\\`*_~\[\]<>$|]|:(?=\S))")
_BLOCK_START = re.compile(r"^(\s*)([#>+\-]|\d+(?=[.)]))")


def text(value: object) -> str:
    """User data (deployment and file names, values quoted in errors) made literal for any
    markdown-rendering element (st.caption, st.markdown, st.error...): every character markdown
    acts on is backslash-escaped and line breaks become spaces, so a name such as
    ![x](http://...) shows as typed and no image, link, LaTeX or colour is rendered."""
    line = _INLINE.sub(r"\\\1", " ".join(str(value).split()))
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2) if not m.group(2).isdigit()
                            else m.group(1) + m.group(2) + "\\", line, count=1)
