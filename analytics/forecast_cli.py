"""`python -m analytics forecast`: demand forecasts, backtests and capacity outlook per deployment."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from analytics import backtest as B
from analytics import capacity as C
from analytics import demand as D
from analytics import forecast as F
from analytics import forecast_cache as FC
from analytics.config import PROJECT_ROOT
from analytics.errors import InputError, SpecError
from analytics.progress import ProgressBar
from analytics.queries import deployments_table
from analytics.slo_spec import parse_duration
from analytics.store import Store
from analytics.times import parse_time

DEFAULT_SLO_FILE = PROJECT_ROOT / "slos.yaml"
def parse_horizon(text: str) -> timedelta:
    """Parse '14d', '2w' or '36h' into a timedelta between 1 hour and 12 weeks."""
    try:
        value = parse_duration(text or "", "--horizon")
    except SpecError as exc:
        raise InputError(f"--horizon: expected a duration like 14d, 2w or 36h, got {text!r}") from exc
    if not timedelta(hours=1) <= value <= F.MAX_HORIZON:
        raise InputError(f"--horizon must be between 1h and 12w, got {text!r}")
    return value


def parse_event(text: str) -> F.Event:
    """Parse NAME:YYYY-MM-DD[:DAYS] into an Event."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise InputError(f"--event: expected NAME:YYYY-MM-DD[:DAYS], got {text!r}")
    try:
        start = date.fromisoformat(parts[1])
        days = int(parts[2]) if len(parts) == 3 else 1
    except ValueError as exc:
        raise InputError(f"--event {text!r}: {exc}") from exc
    try:
        return F.Event(parts[0], start, days)
    except SpecError as exc:
        raise InputError(f"--event {text!r}: {exc}") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the forecast command."""
    parser.add_argument("--deployment", action="append", metavar="NAME", help="forecast only this deployment (repeatable)")
    parser.add_argument("--horizon", default="14d", help="forecast horizon, 1h..12w (default 14d)")
    parser.add_argument("--backtest", action="store_true", help="also run the rolling-origin backtest (MAPE, sMAPE, coverage, MASE)")
    parser.add_argument("--json", action="store_true", help="print JSON (per deployment, with the forecast rows)")
    parser.add_argument("--metric", choices=sorted(D.METRICS), default="rps", help="demand metric (default rps)")
    parser.add_argument("--days", type=int, default=60, help="days of history to fit on (default 60)")
    parser.add_argument("--end", help="end of history, ISO time (default: now, floored to the hour)")
    parser.add_argument("--interval", type=float, default=80.0, help="interval width in percent (default 80)")
    parser.add_argument("--growth", type=float, default=1.0, help="demand multiplier reached at the end of the horizon")
    parser.add_argument("--headroom", type=float, default=20.0, help="capacity headroom in percent (default 20)")
    parser.add_argument("--event", action="append", default=[], metavar="NAME:YYYY-MM-DD[:DAYS]", help="known event (repeatable)")
    parser.add_argument("--slos", default=str(DEFAULT_SLO_FILE), metavar="FILE",
                        help="SLO file whose latency SLOs define SLO-compliant throughput (default: slos.yaml "
                             "in the project, when present; deployments it does not cover get defaults by kind)")
    parser.add_argument("--method", choices=sorted(F.METHODS), default="prophet", help="forecast method (default prophet)")
    parser.add_argument("--workers", type=int, default=2, help="parallel fit processes (default 2)")
    parser.add_argument("--no-cache", action="store_true", help="refit even when a cached fit exists")


@dataclass
class Result:
    """Everything the forecast command computed, for printing."""

    names: list[str]
    metric: str
    params: F.ForecastParams
    fits: FC.Fits
    assessment: C.Assessment
    throughputs: dict[str, C.Throughput]
    backtests: dict[str, B.BacktestSummary]
    backtest_errors: dict[str, str]


def compute(store: Store, args, progress=None) -> Result:
    """Run demand -> forecasts (cached, parallel) -> throughput -> capacity (-> backtests).

    ``progress``: None, or a function of a label returning a progress(fraction, message) callable.
    """
    if args.days < 8:
        raise InputError(f"--days must be at least 8, got {args.days}")
    if args.headroom < 0:
        raise InputError(f"--headroom must be >= 0 percent, got {args.headroom}")
    if args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    try:
        params = F.ForecastParams(
            horizon=parse_horizon(args.horizon),
            interval_width=args.interval / 100.0,
            events=tuple(parse_event(e) for e in args.event),
            growth=args.growth,
        )
    except SpecError as exc:
        raise InputError(str(exc)) from exc
    end = parse_time(args.end, "--end") if args.end else datetime.now(UTC)
    end = end.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=args.days)
    deployments = deployments_table(store)
    known = deployments["deployment"].to_list()
    names = args.deployment or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"unknown deployment {unknown[0]!r} (known: {', '.join(known) or 'none'})")
    demand = D.hourly_demand(store, start, end)
    histories = {n: D.series(demand, n, args.metric) for n in names}
    cache_dir = None if args.no_cache else FC.DEFAULT_CACHE_DIR
    fits = FC.cached_map(F.METHODS[args.method], histories, params, cache_dir=cache_dir, workers=args.workers,
                        progress=progress("forecast") if progress else None)
    hist = C.hourly_histograms(store, start, end, names)
    slos = C.load_latency_slos(Path(args.slos), deployments) if args.slos else {}
    throughputs = C.measure_all(hist, deployments, slos, args.metric, names)
    assessment = C.assess(fits.results, throughputs, deployments, args.headroom / 100.0)
    backtests, bt_errors = {}, {}
    if args.backtest:
        bt_params = B.auto_params(end - start, params.horizon, params)
        bts = FC.cached_map(B.run_backtest, histories, bt_params, cache_dir=cache_dir, workers=args.workers,
                           progress=progress("backtest") if progress else None)
        backtests = {n: B.summarize(frame) for n, frame in bts.results.items()}
        bt_errors = bts.errors
    return Result(names, args.metric, params, fits, assessment, throughputs, backtests, bt_errors)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _clean(value):
    """NaN -> None, so the JSON is strict."""
    return None if isinstance(value, float) and value != value else value


def to_json(result: Result) -> list[dict]:
    """Per deployment: the issue's fields plus the forecast rows (times as ISO strings)."""
    out = []
    for name in result.names:
        o = result.assessment.outlooks.get(name)
        bt = result.backtests.get(name)
        metrics = bt.as_dict() if bt else {}
        plan = result.assessment.plans.get(name)
        rows = []
        if plan is not None:
            rows = [
                {k: (_iso(v) if k == "ts" else _clean(v)) for k, v in r.items()}
                for r in plan.select("ts", "yhat", "yhat_lower", "yhat_upper", "capacity", "gpus_needed").to_dicts()
            ]
        tp = result.throughputs.get(name)
        out.append({
            "deployment": name,
            "metric": result.metric,
            "horizon_hours": int(result.params.horizon / timedelta(hours=1)),
            "mape": metrics.get("mape"),
            "smape": metrics.get("smape"),
            "coverage": metrics.get("coverage"),
            "mase": metrics.get("mase"),
            "baseline_mape": metrics.get("baseline_mape"),
            "baseline_mase": metrics.get("baseline_mase"),
            "prophet_worse": metrics.get("prophet_worse"),
            "gpus_current": tp.gpus if tp else None,
            "per_gpu_throughput": tp.per_gpu if tp else None,
            "gpus_needed_peak": o.gpus_needed_peak if o else None,
            "capacity_exhausted_at": _iso(o.capacity_exhausted_at) if o else None,
            "headroom_breached_at": _iso(o.headroom_breached_at) if o else None,
            "reason": result.fits.errors.get(name) or (o.reason if o else None) or result.backtest_errors.get(name),
            "forecast": rows,
        })
    return out


def _fmt(value, pattern="{:.3g}") -> str:
    return "-" if _clean(value) is None else pattern.format(value)


def to_text(result: Result) -> str:
    """A plain table: one line per deployment, then the fleet by GPU type."""
    unit = D.METRICS[result.metric]
    lines = [f"{'deployment':26} {'GPUs':>5} {'per GPU (' + unit + ')':>24} {'peak need':>9} {'capacity runs out':>17} {'MASE':>5} {'naive':>5}"]
    for name in result.names:
        o = result.assessment.outlooks.get(name)
        tp = result.throughputs.get(name)
        bt = result.backtests.get(name)
        runs_out = o.capacity_exhausted_at.strftime("%Y-%m-%d %H:%M") if o and o.capacity_exhausted_at else "-"
        lines.append(
            f"{name:26} {_fmt(tp.gpus if tp else None, '{}'):>5} {_fmt(tp.per_gpu if tp else None):>24} "
            f"{_fmt(o.gpus_needed_peak if o else None, '{:.0f}'):>9} {runs_out:>17} "
            f"{_fmt(bt.mase if bt else None, '{:.2f}'):>5} {_fmt(bt.baseline_mase if bt else None, '{:.2f}'):>5}"
        )
        reason = result.fits.errors.get(name) or (tp.reason if tp else None) or result.backtest_errors.get(name)
        if reason:
            lines.append(f"{'':26} unknown: {reason}")
        if bt and bt.prophet_worse:
            lines.append(f"{'':26} {bt.message}")
    fleet = result.assessment.fleet
    if fleet.height:
        lines.append("")
        lines.append(f"{'GPU type':12} {'week':10} {'needed':>7} {'current':>7} {'short':>5}")
        for r in fleet.iter_rows(named=True):
            lines.append(f"{r['gpu_type']:12} {r['week']:%Y-%m-%d} {r['gpus_needed']:>7.0f} {r['gpus_current']:>7} {r['short']:>5.0f}")
    return "\n".join(lines)


def run(args, store: Store) -> int:
    """Run the command; prints text or JSON, returns the exit code."""
    result = compute(store, args, ProgressBar)  # progress goes to stderr: JSON on stdout stays clean
    if args.json:
        json.dump(to_json(result), sys.stdout, indent=1, allow_nan=False, default=str)
        sys.stdout.write("\n")
    else:
        print(to_text(result))
    return 0

