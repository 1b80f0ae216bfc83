"""The column registry: every column a page table, metric, CSV export, the weekly report or a CLI
table shows, with its label, kind (unit), display format and CSV name/format.

    from analytics import columns
    columns.label("error_rate")              # 'Error rate'
    columns.text("error_rate", 0.00068)      # '0.07%'      (what a person reads: metrics, HTML, CLI)
    columns.text("ttft_p99_ms", None)        # '—'          (missing: an em dash, never 'None')
    columns.csv_name("idle_cost")            # 'idle_cost_usd'
    columns.csv_frame(frame)                 # CSV names, raw values in one unit, rounded per kind

Rules:
- CSVs carry raw values in one unit per column, named `name_unit` in snake case (error_rate_ratio,
  idle_cost_usd, ttft_p99_ms). Counts and dimensionless factors (burn rates, MASE, z) carry no
  suffix: their name is the unit. Fractions stay fractions (suffix `_ratio`), never percents.
- Floats in CSVs are rounded per kind (CSV_DIGITS), so no noise such as 14.646464646464633.
- Times in CSVs are UTC written as spreadsheets parse them (CSV_TIME: 2026-11-26 03:00:00), the
  header saying UTC (start_utc); days as 2026-11-23.
- The same column shows the same decimals everywhere (Kind.digits, or Column.digits), rounded by
  one rule (rounded: half away from zero on the decimal value as written) in every view: page
  tables (rounded_frame), metric cards, the HTML report and the CLI (text).
- Rates keep two significant digits below the kind's decimals (Kind.significant): 803 requests in a
  week is 0.0013/s, never 0.00/s. A table column takes the decimals its smallest rate needs.
- A missing value shows as an em dash; each column says why a cell can be empty (Column.missing).
- A column the registry does not know raises UnknownColumn: pages cannot show unlabelled names.
- Long tables (one row per metric, e.g. top movers, the what-if comparison) hold registry names in
  their key column; their value columns take each row's unit (Kind "per_row").
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import polars as pl

from analytics.errors import InputError

MISSING = "—"  # em dash


class UnknownColumn(InputError):
    """A column shown to people that the registry does not know."""


@dataclass(frozen=True)
class Kind:
    """How a kind of value is shown and exported."""

    unit: str  # CSV name suffix ('' when the name is the unit); also the JSON/CLI unit word
    digits: int  # decimals shown
    csv_digits: int | None  # decimals kept in CSVs (None: as is)
    symbol: str = ""  # appended in text (metrics, HTML, CLI): ' ms', '/s'
    style: str = "number"  # number | ratio | usd | text | time | bool | per_row
    significant: int = 0  # significant digits kept where the decimals would show fewer (low rates)


KINDS = {
    "ratio": Kind("ratio", 2, 6, style="ratio"),  # a fraction in [0, 1], shown as a percentage
    "ms": Kind("ms", 0, 1, " ms"),
    "usd": Kind("usd", 2, 2, style="usd"),
    "count": Kind("", 0, 0),
    "quantity": Kind("", 1, 2),  # a count with a fractional part (GPUs needed, GPU-hours)
    "rate": Kind("per_s", 2, 8, "/s", significant=2),  # CSV: the decimals a low rate shows (MAX_DECIMALS)
    "gpu_rate": Kind("per_gpu_s", 2, 8, "/GPU-s", significant=2),  # per GPU-second
    "factor": Kind("", 2, 4, "×"),  # a multiple (burn rate, compression ratio, MASE)
    "score": Kind("", 2, 4),  # a dimensionless statistic (z)
    "hours": Kind("h", 1, 2, " h"),
    "minutes": Kind("min", 0, 1, " min"),
    "watts": Kind("w", 0, 1, " W"),
    "mib": Kind("mib", 1, 2, " MiB"),
    "celsius": Kind("c", 0, 1, " °C"),
    "tflops": Kind("tflops", 0, 1, " TFLOP/s"),
    "billions": Kind("b", 1, 3, " B"),  # billions of a thing (model parameters)
    "time": Kind("utc", 0, None, style="time"),  # UTC; CSV: 2026-11-26 03:00:00 under name_utc (CSV_TIME)
    "date": Kind("", 0, None, style="date"),  # a day (a week's Monday) held as midnight UTC; CSV: 2026-11-23
    "text": Kind("", 0, None, style="text"),
    "bool": Kind("", 0, None, style="bool"),
    "per_row": Kind("", 0, None, style="per_row"),  # unit from the row's key column (see module doc)
}

MAX_DECIMALS = 8  # a rate of 1e-8/s is one event in three years: below it, shown as zero

NO_DATA = "no data in the range"
NOT_MEASURED = "not measured (no requests or no telemetry for it)"
NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: str
    digits: int | None = None  # overrides the kind's display decimals
    csv: str | None = None  # overrides name + '_' + unit
    missing: str = NO_DATA  # why a cell can be empty (the header's tooltip says it)
    help: str = ""
    detail: bool = False  # hidden in page tables by default (in the CSV; the table's column menu shows it)
    short: str | None = None  # a table header shorter than the label (the header's tooltip gives the label)
    formula: str = ""  # how the value is computed, in a few words (chart titles and tooltips state it)

    @property
    def spec(self) -> Kind:
        return KINDS[self.kind]

    @property
    def decimals(self) -> int:
        return self.spec.digits if self.digits is None else self.digits

    def decimals_for(self, value: float) -> int:
        """The decimals ``value`` shows with: the column's, or more where a kind keeps significant
        digits and the value is small (0.0013/s, not 0.00/s), at most MAX_DECIMALS."""
        significant = self.spec.significant
        if not significant or not value or not math.isfinite(value):
            return self.decimals
        needed = significant - 1 - math.floor(math.log10(abs(value)))
        return min(MAX_DECIMALS, max(self.decimals, needed))

    @property
    def csv_name(self) -> str:
        if self.csv:
            return self.csv
        unit = self.spec.unit
        return self.name if not unit or self.name.endswith(f"_{unit}") else f"{self.name}_{unit}"

    @property
    def header(self) -> str:
        """The table header: the short label when there is one (tables are narrow), else the label."""
        return self.short or self.label

    @property
    def tooltip(self) -> str:
        why = f"{MISSING} = {self.missing}."
        full = f"{self.label}." if self.short else ""
        formula = f"{self.label} = {self.formula}." if self.formula else ""
        return " ".join(t for t in (full, formula, self.help, why) if t)


def _c(kind: str, entries: dict[str, str | tuple]) -> list[Column]:
    """Columns of one kind: name -> label, or name -> (label, {field: value})."""
    out = []
    for name, spec in entries.items():
        label, extra = (spec, {}) if isinstance(spec, str) else spec
        out.append(Column(name, label, kind, **extra))
    return out


_NA = {"missing": NOT_APPLICABLE}
_NM = {"missing": NOT_MEASURED}
_D = {"detail": True}

_COLUMNS = [
    *_c("text", {
        "deployment": "Deployment", "model": "Model", "region": "Region", "gpu_type": "GPU type",
        "metric": "Metric", "table": "Table", "slo": "SLO", "state": "State", "sli": ("SLI", _D), "scope": ("Scope", _D),
        "window": "Window", "firing": ("Firing now", _NA), "held_back": ("Held back", {**_NA, **_D}),
        "severity": "Severity", "tiers": "Tiers", "measure": "Measure",
        "goodput_slo": ("Latency conditions for goodput", _NA), "not_available": ("Not available", _NA),
        "activity_metric": ("Activity metric", {**_NA, **_D}), "suggestion": ("Suggestion", _NA), "caveat": ("Caveat", {**_NA, **_D}),
        "reason": ("Why unknown", _NA), "unknown": ("Throughput unknown", _NA), "method": "Method",
        "forecast_model": "Forecast model",
        "incident_key": ("Incident key", _D), "slos": "SLOs", "deployments": "Deployments",
        "top_cause": ("Top cause", _NA), "preceding_changes": ("Preceding changes", _NA),
        "note": ("Note", {"missing": "no note yet"}), "owner": ("Owner", {"missing": "no note yet"}),
        "dimension": "Dimension", "value": "Value", "model_version": "Model version", "replica": "Replica",
        "input_band": "Input tokens", "kind": "Kind", "before": ("Before", _NA),
        "after": ("After", _NA), "description": "Description", "direction": "Direction", "why": ("Why", _NA),
        # the SLOs page's roll-up by a label (analytics.slo.groups)
        "group": ("Label value", {"missing": "SLOs without this label"}),
        "slo_names": ("Which SLOs", _D),
        # budget corrections (analytics.slo.corrections)
        "when": "When", "correction_reason": "Reason",
        "added_by": ("Added by", {"help": "Who added it on the SLOs page, or the SLO file it comes from."}),
        "policy": ("Budget policy", {"missing": "budget not exhausted, or no policy in the SLO file",
                                     "help": "The SLO file's error budget policy: what happens now the budget is "
                                             "exhausted."}),
        # a mover's baseline (analytics.traffic.summary.changes): 'new' when too few events came before
        "baseline": ("Baseline", {"missing": "enough events before for a relative change",
                                  "help": "'new': under 10 errors (or requests, or slow requests) in the previous "
                                          "period, so no relative change is shown."}),
        "subject": "What", "deployments_forecast": "Deployments forecast",
        "latency_slo": ("A latency SLO", _NA),
        "source": ("SLI from", {"detail": True, "help": "requests: per-request rows (spans or uploads); histograms: "
                                "the exporter's cumulative histograms (vLLM), exact at their bucket bounds"}),
    }),
    *_c("time", {
        "start": "Start (UTC)", "end": ("End (UTC)", {"missing": "ongoing"}), "first_ts": "First request (UTC)",
        "last_ts": "Last request (UTC)", "capacity_exhausted_at": ("Capacity runs out (UTC)", {
            "missing": "not within the forecast horizon, or throughput unknown"}),
        "headroom_breached_at": ("Headroom breached (UTC)", {
            "missing": "not within the forecast horizon, or throughput unknown"}),
        "first_peak_hour": ("First peak hour (UTC)", {**_NM, **_D}),
        "last_peak_hour": ("Last peak hour (UTC)", {**_NM, **_D}), "peak_hour": "Hour (UTC)",
        "noted_at": ("Noted at (UTC)", {"missing": "no note yet", **_D}), "ts": "Time (UTC)",
    }),
    *_c("date", {"week": "Week (Mon, UTC)"}),
    *_c("bool", {
        "exact": ("Exact", _D), "ongoing": "Ongoing", "evaluable": ("Enough requests to judge", _D),
        "met_slo": ("Hour met the SLO", _NM), "slo_met_at_peak": ("SLO met at peak", _NM),
        "winner": "Drives the plan",
    }),
    *_c("ratio", {
        # analytics.traffic.summary.error_rate; 'unknown' is an outcome not recorded (analytics.store.conventions.STATUSES)
        "error_rate": ("Error rate", {"digits": 3, "formula": "non-ok / requests with a known outcome", **_NM,
                                      "help": "Requests of status 'unknown' (outcome not recorded) are left out."}), "availability": ("Availability", _NM),
        "window_covered": ("Covered", {"digits": 2, "help": "Share of the window from the first slot with data."}),
        "attainment": ("Attainment", {"digits": 3, **_NM}),
        "attainment_lower": ("Attainment, lower bound", {"digits": 3, **_NM}),
        "attainment_upper": ("Attainment, upper bound", {"digits": 3, **_NM}),
        "target": ("Target", {"digits": 3}),
        "budget_remaining": ("Budget left", {"digits": 1, **_NM}),
        "budget_consumed": ("Budget consumed", {"digits": 1}),
        "budget_spent": ("Budget spent", {"digits": 1, **_NM,
                                          "formula": "sum of each SLO's budget spent x its valid events / sum of "
                                                     "valid events (spent = 1 - budget left)"}),
        "budget_spent_this_week": ("Budget spent this week", {"digits": 1, **_NM}),
        "budget_spent_previous_week": ("Budget spent the week before", {"digits": 1, **_NM}),
        "spent_change": ("Change in budget spent", {"digits": 1, **_NM,
                                                    "help": "This week minus the week before."}),
        "change": ("Change", {"digits": 1, "missing": "nothing to compare with",
                              "help": "Relative change: (current - previous) / previous."}),
        "cost_change": ("Cost change", {"digits": 1, "missing": "no cost the week before"}),
        "idle_fraction": ("Idle share of GPU-hours", {"digits": 1, **_NM}),
        "mean_gpu_util": ("GPU utilisation (any kernel running)", {"digits": 1, **_NM}),
        "mean_sm_active": ("SM activity", {"digits": 1, **_NM}),
        "mean_sm_occupancy": ("SM occupancy", {"digits": 1, **_NM}),
        "mean_tensor_active": ("Tensor-pipe activity", {"digits": 1, **_NM}),
        "mean_dram_active": ("Memory-bandwidth activity", {"digits": 1, **_NM}),
        "mem_used_fraction": ("Memory used (mean)", {"digits": 1, **_NM}),
        "peak_mem_fraction": ("Memory used (peak hour)", {"digits": 1, **_NM}),
        "min_mem_headroom": ("Memory headroom (worst hour)", {"digits": 1, **_NM}),
        "fleet_sm_active": ("Fleet SM activity", {"digits": 1, **_NM, "help": (
            "GPU-hour-weighted mean; NVIDIA: >= 80% needed for effective use, < 50% likely ineffective")}),
        "suggested_target": ("Strictest target met that often", {"digits": 2}),
        "mfu_estimate": ("MFU (estimate)", {"digits": 1, "missing": "model size or FLOPs unknown"}),
        # one GPU (or one deployment) in one hour: the fleet heatmap and the latency scatter
        "sm_active": ("SM activity", {"digits": 0, **_NM}), "gpu_util": ("GPU utilisation (any kernel running)", {"digits": 0, **_NM}),
        "tensor_active": ("Tensor-pipe activity", {"digits": 0, **_NM}),
        "sm_occupancy": ("SM occupancy", {"digits": 0, **_NM}), "dram_active": ("Memory-bandwidth activity", {"digits": 0, **_NM}),
        "mem_peak_fraction": ("Peak GPU memory used", {"digits": 0, **_NM}),
        "peak_activity": ("Peak-hour activity", {"digits": 1, **_NM}),
        "target_activity": ("Target activity", {"digits": 0, **_D}),
        "hour_activity": ("Activity in that hour", {"digits": 1, **_NM}),
        "peak_attainment": ("SLO attainment at peak hours", {"digits": 2, **_NM}),
        "bad_share": ("Share of bad events", {"digits": 1}), "good_share": ("Share of good events", {"digits": 1}),
        "score": ("Score (bad share - good share)", {"digits": 1}),
        "mape": ("MAPE", {"digits": 1}), "smape": ("sMAPE", {"digits": 1}),
        "interval_coverage": ("Interval coverage", {"digits": 1}),
    }),
    *_c("ms", {
        "ttft_p50_ms": ("TTFT p50 (ms)", _NM), "ttft_p95_ms": ("TTFT p95 (ms)", _NM),
        "ttft_p99_ms": ("TTFT p99 (ms)", _NM), "e2e_p50_ms": ("E2E p50 (ms)", _NM),
        "e2e_p95_ms": ("E2E p95 (ms)", _NM), "e2e_p99_ms": ("E2E p99 (ms)", _NM),
        "peak_ttft_p99_ms": ("Peak-hour TTFT p99 (ms)", _NM), "peak_e2e_p99_ms": ("Peak-hour E2E p99 (ms)", _NM),
        "tpot_p99_ms": ("TPOT p99 (ms)", {"digits": 1, **_NM}),
        "tpot_p95_ms": ("TPOT p95 (ms)", {"digits": 1, **_NM}),
        "slo_quantile_ms": ("Latency at the SLO's quantile (ms)", {"short": "SLO quantile (ms)", **_NM}),
    }),
    *_c("usd", {
        "cost": ("GPU cost ($)", _NM), "cost_previous": ("Cost the week before ($)", _NM),
        "idle_cost": ("Idle cost ($)", _NM), "idle_cost_previous": ("Idle cost the week before ($)", _NM),
        "monthly_saving": ("Saving per 30 days ($)", {"missing": "no right-sizing suggestion"}),
        "monthly_saving_previous": ("Saving per 30 days, week before ($)", {"missing": "no right-sizing suggestion"}),
        "cost_per_gpu_hour": ("$ per GPU-hour", {"missing": "no price for the GPU type", **_D}),
        "cost_per_1m_output_tokens": ("$ per 1M output tokens", {"missing": "no output tokens"}),
        "cost_per_1k_requests": ("$ per 1k requests", {"missing": "no requests", **_D}),
    }),
    *_c("count", {
        "requests": "Requests", "output_tokens": "Output tokens", "input_tokens": ("Input tokens", _D), "rows": "Rows",
        "pages": ("Pages", {"help": "Page episodes in the window."}), "tickets": ("Tickets", {"help": "Ticket episodes in the window."}), "gpus": "GPUs", "gpus_current": "GPUs now",
        "replicas": "Replicas", "gpus_per_replica": ("GPUs per replica", _D),
        "replicas_needed": ("Replicas needed", {"missing": "no suggestion (SLO missed at peak or no data)"}),
        "gpus_freed": ("GPUs freed", {"missing": "no suggestion (SLO missed at peak or no data)"}),
        "ok_requests": ("Successful requests", _D), "good_requests": ("Requests meeting the latency SLO", _NM),
        "incidents": "Incidents", "incident": "Incident", "rank": "Rank",
        "excluded_events": ("Excluded events", {"help": "Valid events of its SLOs in the window that no budget, "
                                                        "burn rate or alert counted, summed over the SLOs."}),
        "good": ("Good (units)", {**_NM, **_D}), "valid": ("Valid (units)", {**_NM, **_D}), "bad": ("Bad (units)", _NM),
        "error_budget": ("Error budget (units)", _NM),
        "valid_events": ("Valid events", {"help": "Valid events in the SLOs' windows."}),
        "valid_events_this_week": ("Valid events this week", {"short": "Valid events (week)", "help": "Valid events of the SLOs in the week."}),
        "slos_breached": ("SLOs breached", {"help": "SLOs of the group whose error budget is overspent."}),
        # metric cards that count things in view (the SLOs page, the Capacity page)
        "slo_count": ("SLOs", {"help": "SLOs whose scope meets the filters."}),
        "capacity_unknown": ("Capacity unknown", {
            "help": "No hour met the latency SLO, or too few busy hours to measure throughput."}),
    }),
    *_c("quantity", {
        "gpus_needed_peak": ("GPUs needed (peak)", {"missing": "throughput unknown"}),
        "gpus_needed": ("GPUs needed", {"digits": 0}), "short": ("GPUs short", {"digits": 0}),
        "gpu_hours": ("GPU-hours", {"digits": 0}), "idle_gpu_hours": ("Idle GPU-hours", {"digits": 0, **_NM}),
        "gap_gpu_hours": ("GPU-hours missing (collection gaps)", {"digits": 0, **_D}),
    }),
    *_c("rate", {
        "rps": ("Requests/s", {"csv": "requests_per_s", **_NM}),
        "input_tps": ("Input tokens/s", {"csv": "input_tokens_per_s", **_NM}),
        "output_tps": ("Output tokens/s", {"csv": "output_tokens_per_s", **_NM}),
        "per_gpu": ("SLO-compliant requests/s per GPU", {"csv": "per_gpu_requests_per_s",
                                                         "missing": "throughput unknown (see Why unknown)"}),
        "per_gpu_output_tps": ("SLO-compliant output tokens/s per GPU", {
            "csv": "per_gpu_output_tokens_per_s", "missing": "throughput unknown (see Why unknown)"}),
        "per_gpu_input_tps": ("SLO-compliant input tokens/s per GPU", {
            "csv": "per_gpu_input_tokens_per_s", "missing": "throughput unknown (see Why unknown)"}),
    }),
    *_c("gpu_rate", {
        "output_tokens_per_gpu_s": ("Output tokens per GPU-s", _NM),
        "input_tokens_per_gpu_s": ("Input tokens per GPU-s", _NM),
        "prefill_load_per_gpu": ("Prefill load (input tokens/s per GPU)", {"short": "Prefill tok/s/GPU", **_NM}),
        "decode_load_per_gpu": ("Decode load (output tokens/s per GPU)", {"short": "Decode tok/s/GPU", **_NM}),
        "goodput_per_gpu": ("Goodput (good requests per GPU-s)", {"digits": 3, "csv": "goodput_per_gpu_s", **_NM}),
    }),
    *_c("factor", {
        "burn_rate_1h": ("Burn rate (1h)", _NM),
        "burn_rate": ("Burn rate", {**_NM, "help": "1 = the error budget lasts exactly the SLO period."}), "peak_burn": ("Peak burn rate", {"digits": 1}),
        "compression_ratio": "Compression ratio", "mase": "MASE", "baseline_mase": "MASE, seasonal naive", "risk_ratio": ("Risk ratio", {"digits": 1}),
    }),
    *_c("score", {"z": "z score"}),
    *_c("hours", {"hours_to_exhaustion": ("Budget gone in (h)", {"csv": "time_to_exhaustion_h",
        "missing": "not burning (no budget spent in the last hour) or not measured"})}),
    *_c("minutes", {
        "duration_min": "Duration (min)", "budget_remaining_minutes": ("Budget left as time (min)", {**_NM, **_D, "csv": "budget_remaining_min"}),
        "budget_minutes": ("Budget (min)", {**_NM, **_D, "csv": "budget_min"}),
        "minutes_behind_newest": ("Minutes behind newest", {"csv": "behind_newest_min"}),
    }),
    *_c("watts", {"power_w": ("Power draw (W)", _NM), "mean_power_w": ("Power, mean (W)", _NM), "peak_hour_power_w": ("Power, peak hour (W)", _NM)}),
    *_c("mib", {"on_disk_mib": "On disk (MiB)", "fb_used_mib": ("Memory used (MiB)", _NM),
                "fb_total_mib": ("Memory size (MiB)", _NM)}),
    *_c("celsius", {"temp_c": ("Temperature (°C)", _NM)}),
    # deployment and GPU facts that MFU needs (analytics.gpu.efficiency)
    *_c("tflops", {"peak_flops": ("GPU peak dense BF16 (TFLOP/s)", {"missing": "GPU model not in the datasheet table"})}),
    *_c("billions", {"params_b": ("Model size (billions)", {"missing": "not in the deployments table"})}),
    *_c("per_row", {
        "previous": ("Previous period", {"missing": "no data in the previous period"}),
        "current": ("This period", {"missing": "no data"}),
        "current_slo": ("Current SLO", _NM), "proposed_slo": ("Proposed SLO", _NM),
    }),
]
# Table headers shorter than the label: page tables have about 800 px at a 1280 px window, so a
# header costs what its values cost; the header's tooltip gives the full label.
_SHORT = {
    "goodput_slo": "Goodput SLO", "first_ts": "First (UTC)", "last_ts": "Last (UTC)",
    "capacity_exhausted_at": "Runs out (UTC)", "headroom_breached_at": "Headroom gone (UTC)",
    "first_peak_hour": "First peak (UTC)", "last_peak_hour": "Last peak (UTC)", "evaluable": "Judged",
    "attainment_lower": "Attainment low", "attainment_upper": "Attainment high",
    "budget_spent_this_week": "Spent this week", "budget_spent_previous_week": "Spent week before",
    "spent_change": "Spent change", "idle_fraction": "Idle share", "mean_gpu_util": "GPU util",
    "mean_tensor_active": "Tensor active", "mean_dram_active": "DRAM active", "mem_used_fraction": "Mem used",
    "peak_mem_fraction": "Mem peak", "gpu_util": "GPU util", "sm_active": "SM activity", "tensor_active": "Tensor active",
    "mem_peak_fraction": "Mem peak", "min_mem_headroom": "Mem headroom", "hour_activity": "Activity",
    "peak_attainment": "Peak attainment", "bad_share": "Bad share", "good_share": "Good share", "score": "Score",
    "peak_ttft_p99_ms": "Peak TTFT p99 (ms)", "peak_e2e_p99_ms": "Peak E2E p99 (ms)",
    "cost_previous": "Cost before ($)", "idle_cost_previous": "Idle before ($)",
    "monthly_saving": "Saving/30 d ($)", "monthly_saving_previous": "Saving before ($)",
    "cost_per_1m_output_tokens": "$/1M out tokens", "cost_per_1k_requests": "$/1k requests",
    "ok_requests": "OK requests", "good_requests": "Good requests", "error_budget": "Budget (units)",
    "gap_gpu_hours": "Gap GPU-hours", "per_gpu": "Req/s per GPU", "per_gpu_output_tps": "Tok/s per GPU",
    "per_gpu_input_tps": "In tok/s per GPU",
    "output_tokens_per_gpu_s": "Out tok/GPU-s", "input_tokens_per_gpu_s": "In tok/GPU-s",
    "goodput_per_gpu": "Goodput/GPU-s", "baseline_mase": "MASE (naive)", "minutes_behind_newest": "Behind (min)",
    "peak_hour_power_w": "Peak power (W)", "mean_power_w": "Power (W)", "budget_remaining_minutes": "Left (min)",
    "hours_to_exhaustion": "Gone in (h)", "window_covered": "Covered", "mean_sm_occupancy": "SM occupancy",
    "compression_ratio": "Compression", "interval_coverage": "Coverage", "preceding_changes": "Changes before",
    "peak_activity": "Peak activity", "target_activity": "Target activity", "not_available": "Not available",
    "mfu_estimate": "MFU (est.)", "gpus_needed_peak": "GPUs needed", "replicas_needed": "Replicas needed",
    "gpus_per_replica": "GPUs/replica", "suggested_target": "Suggested target", "dram_active": "DRAM active",
    "peak_flops": "Peak TFLOP/s", "params_b": "Model size (B)", "output_tps": "Out tok/s", "duration_min": "Duration (min)",
}
_SHORT["met_slo"] = "Met SLO"
_COLUMNS = [replace(c, short=_SHORT[c.name]) if c.name in _SHORT else c for c in _COLUMNS]
REGISTRY: dict[str, Column] = {c.name: c for c in _COLUMNS}
# What a page table shows first, by table name (ui.tables.show_table), most important first: the
# columns that answer the page's question. A table shows the longest prefix of its list that fits
# the page's width; every other column of the frame stays in the CSV and the table's Show/hide
# columns menu. A table not listed shows its columns in frame order, Column.detail ones hidden.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "deployments overview": ("deployment", "rps", "error_rate", "ttft_p99_ms", "e2e_p99_ms", "requests", "region",
                             "ttft_p50_ms", "e2e_p50_ms", "ttft_p95_ms", "e2e_p95_ms", "output_tps"),
    "SLO status": ("slo", "state", "budget_remaining", "burn_rate_1h", "hours_to_exhaustion", "attainment", "target",
                   "firing", "window_covered", "pages", "tickets", "window"),
    # the SLO status rolled up by a label (the SLOs page's Group by)
    "SLO groups": ("group", "state", "budget_spent", "slo_count", "slos_breached", "valid_events", "slo_names"),
    # the weekly review's roll-up by a label (analytics.review.weekly.group_table)
    "SLO groups this week": ("group", "state", "budget_spent_this_week", "slo_count", "slos_breached",
                             "valid_events_this_week", "slo_names"),
    "alert episodes": ("severity", "start", "end", "duration_min", "peak_burn", "budget_consumed", "tiers", "ongoing"),
    "proposed alert episodes": ("severity", "start", "end", "duration_min", "peak_burn", "budget_consumed", "tiers",
                                "ongoing"),
    # the GPU page's cost table and the weekly review's (this week against the week before)
    "GPU cost": ("deployment", "cost", "cost_change", "idle_cost", "idle_fraction", "monthly_saving",
                 "cost_per_1m_output_tokens", "gpu_hours", "gpus", "cost_previous", "idle_cost_previous",
                 "monthly_saving_previous", "gpu_type", "goodput_per_gpu", "output_tokens_per_gpu_s", "mfu_estimate",
                 "output_tokens", "idle_gpu_hours"),
    "GPU utilisation": ("deployment", "mean_sm_active", "mean_gpu_util", "mean_tensor_active", "mem_used_fraction",
                        "peak_mem_fraction", "min_mem_headroom", "mean_power_w", "mean_sm_occupancy",
                        "mean_dram_active", "peak_hour_power_w", "not_available"),
    "right-sizing": ("deployment", "replicas", "replicas_needed", "gpus_freed", "monthly_saving", "peak_activity",
                     "slo_met_at_peak", "gpu_type", "peak_attainment", "peak_ttft_p99_ms", "peak_e2e_p99_ms",
                     "suggestion"),
    "right-sizing evidence": ("deployment", "peak_hour", "hour_activity", "gpus", "rps", "attainment",
                              "met_slo", "ttft_p99_ms", "e2e_p99_ms", "tpot_p99_ms"),
    "capacity outlook": ("deployment", "gpus_current", "gpus_needed_peak", "capacity_exhausted_at",
                         "headroom_breached_at", "forecast_model", "per_gpu", "per_gpu_output_tps", "per_gpu_input_tps", "gpu_type",
                         "reason"),
    "SLOs this week": ("slo", "state", "budget_spent_this_week", "spent_change", "budget_remaining", "incidents",
                       "policy", "attainment", "budget_spent_previous_week", "target", "window", "why"),
    # the review's core: what burned, why, who owns it and what they found; the rest in the Show/hide menu
    "Incidents this week": ("incident", "start", "severity", "slos", "top_cause", "owner", "note", "duration_min",
                            "budget_consumed", "peak_burn", "deployments", "preceding_changes"),
    "Capacity outlook": ("deployment", "state", "gpus_current", "gpus_needed_peak", "capacity_exhausted_at",
                         "headroom_breached_at", "forecast_model", "per_gpu", "gpu_type", "reason"),
}


def table_columns(table: str, names) -> list[str]:
    """The columns of ``names`` a table shows first (TABLE_COLUMNS), most important first."""
    if table in TABLE_COLUMNS:
        return [n for n in TABLE_COLUMNS[table] if n in names]
    return [n for n in names if not column(n).detail]


# Long tables: the key column whose values name the row's registry column.
ROW_KEYS = ("metric", "measure")
# Columns whose values are registry names (an attribution's dimension): shown as their labels.
NAME_VALUED = ("dimension",)


def column(name: str) -> Column:
    """The registry entry of a column; UnknownColumn names it when there is none."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownColumn(f"column {name!r} is not in the column registry (analytics/columns.py): add its "
                            "label, kind and CSV name there") from None


def label(name: str) -> str:
    return column(name).label


# The unit a label ends with, by kind: a metric card or a sentence drops it, since the value
# written beside it carries the unit ('TTFT p99 (ms)' -> 'TTFT p99' over '1,402 ms').
LABEL_UNITS = {"ms": " (ms)", "usd": " ($)", "hours": " (h)", "minutes": " (min)", "watts": " (W)", "mib": " (MiB)",
               "celsius": " (°C)", "tflops": " (TFLOP/s)", "billions": " (billions)"}


def percentile_name(field: str, q: float) -> str:
    """The one name of a latency field's percentile: ('ttft_ms', 0.99) or ('ttft', 0.99) -> 'ttft_p99_ms'."""
    return f"{field.removesuffix('_ms')}_p{round(q * 100)}_ms"


def card_label(name: str) -> str:
    """A column's label where its value is written beside it with its unit (metric cards, the
    weekly paragraph): the label without the unit it ends with."""
    c = column(name)
    return c.label.removesuffix(LABEL_UNITS.get(c.kind, ""))


def in_sentence(name: str) -> str:
    """A column's card label inside a sentence: lower case first, unless it starts with an acronym
    ('Error rate' -> 'error rate', 'TTFT p99 (ms)' -> 'TTFT p99')."""
    words = card_label(name).split(" ", 1)
    word = words[0]
    first = word if len(word) > 1 and (word.isupper() or word[1].isupper()) else word.lower()
    return " ".join([first, *words[1:]])


def chart_title(name: str, scope: str = "") -> str:
    """A chart's title for one column: its label, its formula when it has one, e.g. 'Error rate
    (non-ok / requests with a known outcome)', and ``scope`` after it (e.g. 'LLM deployments')."""
    c = column(name)
    notes = ", ".join(t for t in (c.formula, scope) if t)
    return f"{c.label.removesuffix(LABEL_UNITS.get(c.kind, ''))} ({notes})" if notes else c.label


def header(name: str) -> str:
    """A column's table header (its short label, or the label)."""
    return column(name).header


def axis_title(name: str, *, log: bool = False) -> str:
    """A chart axis (or colour bar) title for a column: its label with its unit, the name a table
    and a CSV give it. Ratios are fractions drawn as percentages, so their title says (%); money
    ($), ms, /s and the like are in the label already. ``log``: the axis has a log scale."""
    c = column(name)
    title = c.label
    if c.spec.style == "ratio" and "%" not in title:
        title = f"{title[:-1]}, %)" if title.endswith(")") else f"{title} (%)"
    return f"{title}, log scale" if log else title


# Unit-only titles for an axis that carries several columns of one kind (the legend names them).
UNIT_TITLES = {"ratio": "%", "usd": "$", "ms": "ms", "count": "count", "watts": "W"}


def unit_title(name: str) -> str:
    """The axis title of several columns of ``name``'s kind drawn on one axis: the unit alone."""
    return UNIT_TITLES[column(name).kind]


def d3_format(name: str) -> str:
    """The column's display format as a d3 format (Plotly tick and hover formats)."""
    c = column(name)
    d = c.decimals
    return {"ratio": f".{d}%", "usd": f"$,.{d}f"}.get(c.spec.style, f",.{d}f")


def hover(name: str, var: str = "y") -> str:
    """A Plotly hovertemplate value for the column: its format and unit symbol, e.g.
    '%{y:,.0f} ms', '%{y:.2%}', '%{x:$,.2f}'."""
    return f"%{{{var}:{d3_format(name)}}}{column(name).spec.symbol}"


def csv_name(name: str) -> str:
    return column(name).csv_name


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# The one rounding rule of every view (page tables, metric cards, the HTML report, the CLI): half
# away from zero on the decimal value as written, the rule taught in school. Python's round() and
# format() round the binary value half to even, so 0.125 shows '0.12' and 2.675 '2.67' (its binary
# value is 2.67499999...); Streamlit's number columns cut (ui.tables). The decimal value as written
# is the float's shortest repr (the digits Python prints for it); decimal.ROUND_HALF_UP is "round to
# nearest with ties going away from zero" (Python's decimal module documentation).
_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)


def rounded(value: float, digits: int) -> decimal.Decimal:
    """``value`` rounded to ``digits`` decimals (negative: tens, hundreds) half away from zero on
    its decimal value: 0.125 -> 0.13, -0.125 -> -0.13, 2.675 -> 2.68; -0.001 to 2 decimals -> 0.00
    (never -0.00)."""
    exact = decimal.Decimal(repr(float(value)))
    out = exact.quantize(decimal.Decimal(1).scaleb(-digits), context=_CONTEXT)
    return out.copy_abs() if out.is_zero() else out


def text(name: str, value, *, symbol: bool = True, compact: bool = False, digits: int | None = None) -> str:
    """A value as people read it (metrics, HTML report, CLI, long tables): the column's decimals
    (rounded by the one rule, ``rounded``), thousands separators, % for ratios, $ for money, the
    unit's symbol (unless symbol=False). Rates show at least two significant digits (0.0013/s).
    compact=True (metric cards, a few characters wide) writes milliseconds of 1 s and more in
    seconds: 15.1 s, 1.40 s. ``digits`` overrides the column's decimals where a value needs more
    or fewer (a target's nines, whole dollars in a sentence)."""
    c = column(name)
    k = c.spec
    if _missing(value):
        return MISSING
    if k.style == "bool":
        return "yes" if value else "no"
    if k.style == "date" and isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    if k.style == "time":
        if isinstance(value, datetime):
            return f"{value.astimezone(UTC) if value.tzinfo else value:%Y-%m-%d %H:%M}"
        return f"{value:%Y-%m-%d}" if isinstance(value, date) else str(value)
    if k.style in ("text", "per_row"):
        return str(value)
    if isinstance(value, timedelta):
        value = value.total_seconds() / 60
    if not math.isfinite(value):
        return f"{value:,}"
    d = c.decimals_for(value) if digits is None else digits
    if compact and c.kind == "ms" and abs(value) >= 1000:
        d = 1 if abs(value) >= 10_000 else 2
        return f"{rounded(value, d - 3).scaleb(-3):.{d}f} s"  # ms rounded to 0.01 s (10 ms), in seconds
    if k.style == "ratio":
        return f"{rounded(value, d + 2).scaleb(2):,.{d}f}%"  # the fraction to d + 2 decimals, in percent
    shown = rounded(value, d)
    if k.style == "usd":
        return f"-${-shown:,.{d}f}" if shown < 0 else f"${shown:,.{d}f}"
    return f"{shown:,.{d}f}{k.symbol if symbol else ''}"


def table_decimals(name: str, values: pl.Series) -> int:
    """The decimals a table column shows (one format per column): the column's, or what its
    smallest value needs where the kind keeps significant digits (Kind.significant)."""
    c = column(name)
    if not c.spec.significant or not values.dtype.is_float():
        return c.decimals
    return max((c.decimals_for(v) for v in values.drop_nulls().drop_nans()), default=c.decimals)


def rounded_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A wide table's numbers as the table shows them: every float column of a numeric kind rounded
    to the decimals it shows (table_decimals; a ratio's fraction to two more, as it shows in
    percent) by the one rule (``rounded``). Streamlit's number columns cut a value to the decimals
    shown, so an unrounded 0.26596 would read 26.5% where text() writes 26.6%."""
    out = []
    for name, dtype in frame.schema.items():
        c = column(name)
        if not dtype.is_float() or c.spec.style not in ("number", "ratio", "usd"):
            continue
        d = table_decimals(name, frame[name]) + (2 if c.spec.style == "ratio" else 0)
        out.append(pl.Series(name, [v if _missing(v) or not math.isfinite(v) else float(rounded(v, d))
                                    for v in frame[name]], dtype=dtype))
    return frame.with_columns(out)


def no_negative_zero(expr: pl.Expr) -> pl.Expr:
    """A rounded value that came out -0.0 (a tiny negative) as 0.0: no '-0.0' or '-0.0%' cell."""
    return pl.when(expr == 0).then(pl.lit(0.0)).otherwise(expr)


# What Excel, LibreOffice and Google Sheets all read as a date and time (ISO 8601's date and time
# with a space, no offset: the header's _utc says the zone); polars' default for a zoned time,
# 2026-11-26T03:00:00.000000+0000, is read as text.
CSV_TIME, CSV_DATE = "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"


def _csv_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    c = column(name)
    digits = c.spec.csv_digits
    expr = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        utc = expr.dt.convert_time_zone("UTC") if dtype.time_zone else expr  # a naive time is UTC already
        return utc.dt.strftime(CSV_DATE if c.spec.style == "date" else CSV_TIME).alias(c.csv_name)
    if dtype.is_float() and digits is not None:
        expr = no_negative_zero(expr.round(digits))
        if digits == 0:
            expr = expr.cast(pl.Int64)
    return expr.alias(c.csv_name)


def csv_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame as CSVs carry it: registry CSV names, raw values rounded per kind. In a long table
    (a ROW_KEYS column naming each row's registry column) each value is rounded as its row's kind
    and the key's values become CSV names too, so every row states its unit."""
    key = row_key(frame)
    if key is not None:
        names = [n for n in frame[key].unique().to_list() if n in REGISTRY]
        per_row = [c for c, t in frame.schema.items() if column(c).kind == "per_row" and t.is_float()]

        def rounded(c: str) -> pl.Expr:
            expr = pl.col(c)
            for n in names:
                digits = column(n).spec.csv_digits
                if digits is not None:
                    expr = pl.when(pl.col(key) == n).then(pl.col(c).round(digits)).otherwise(expr)
            return expr.alias(c)

        frame = frame.with_columns(*(rounded(c) for c in per_row),
                                   pl.col(key).replace({n: column(n).csv_name for n in names}))
    return frame.select(_csv_expr(c, t) for c, t in frame.schema.items())


def row_key(frame: pl.DataFrame) -> str | None:
    """The key column of a long table (one row per registry column), or None for a wide table."""
    return next((k for k in ROW_KEYS if k in frame.columns and frame[k].dtype == pl.String), None)


def display_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as a table shows it: in a long table the per-row value columns become text in each
    row's own unit and the key shows the row's label. Wide tables are returned as they are (their
    formats come from the column's kind)."""
    frame = frame.with_columns(
        pl.col(c).replace({n: label(n) for n in frame[c].unique().drop_nulls() if n in REGISTRY})
        for c in NAME_VALUED if c in frame.columns and frame[c].dtype == pl.String)
    key = row_key(frame)
    if key is None:
        return frame
    per_row = [c for c in frame.columns if column(c).kind == "per_row"]
    names = frame[key].to_list()
    return frame.with_columns(
        *(pl.Series(c, [text(n if n in REGISTRY else c, v) for n, v in zip(names, frame[c], strict=True)],
                    dtype=pl.String) for c in per_row),
        pl.Series(key, [label(n) if n in REGISTRY else n for n in names], dtype=pl.String),
    )


def unknown(names) -> list[str]:
    """The names the registry does not know."""
    return [n for n in names if n not in REGISTRY]
