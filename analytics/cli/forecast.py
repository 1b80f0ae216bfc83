"""`python -m analytics forecast`: demand forecasts, backtests and capacity outlook per deployment."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import date, timedelta

from analytics.capacity import cache as capacity_cache
from analytics.capacity import demand as capacity_demand
from analytics.capacity import forecast as capacity_forecast
from analytics.capacity import pipeline as capacity_pipeline
from analytics.cli.common import ProgressBar, plain, registry_table
from analytics.errors import InputError, SpecError
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.spec import parse_duration
from analytics.store import queries as store_queries
from analytics.store.client import Store
from analytics.times import parse_time

# The longest --days: three years of hourly history. Prophet's yearly_seasonality="auto" turns on from
# 730 days of history (prophet/forecaster.py, parse_seasonality_args), so three years covers it with a
# margin; past it only the fit time grows.
MAX_HISTORY_DAYS = 3 * 365 + 1


def parse_horizon(text: str) -> timedelta:
    """Parse '14d', '2w' or '36h' into a timedelta between 1 hour and 12 weeks."""
    try:
        value = parse_duration(text or "", "--horizon")
    except SpecError as exc:
        raise InputError(f"--horizon: expected a duration like 14d, 2w or 36h, got {text!r}") from exc
    if not timedelta(hours=1) <= value <= capacity_forecast.MAX_HORIZON:
        raise InputError(f"--horizon must be between 1h and 12w, got {text!r}")
    return value


def parse_event(text: str) -> capacity_forecast.Event:
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
        return capacity_forecast.Event(parts[0], start, days)
    except SpecError as exc:
        raise InputError(f"--event {text!r}: {exc}") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the forecast command."""
    parser.add_argument("--deployment", action="append", metavar="NAME", help="forecast only this deployment (repeatable)")
    parser.add_argument("--horizon", default="14d", help="forecast horizon, 1h..12w (default 14d)")
    parser.add_argument("--backtest", action="store_true", help="also run the rolling-origin backtest (MAPE, sMAPE, coverage, MASE)")
    parser.add_argument("--json", action="store_true", help="print JSON (per deployment, with the forecast rows)")
    parser.add_argument("--metric", choices=sorted(capacity_demand.METRICS), default="rps", help="demand metric (default rps)")
    parser.add_argument("--days", type=int, default=60,
                        help=f"days of history to fit on, 8..{MAX_HISTORY_DAYS} (default 60)")
    parser.add_argument("--end", help="end of history, ISO time (default: the end of the data, floored to the hour)")
    parser.add_argument("--interval", type=float, default=80.0, help="interval width in percent (default 80)")
    parser.add_argument("--growth", type=float, default=1.0, help="demand multiplier reached at the end of the horizon")
    parser.add_argument("--headroom", type=float, default=20.0, help="capacity headroom in percent (default 20)")
    parser.add_argument("--event", action="append", default=[], metavar="NAME:YYYY-MM-DD[:DAYS]", help="known event (repeatable)")
    parser.add_argument("--slos", default=str(PROJECT_SLO_FILE), metavar="FILE",
                        help="SLO file whose latency and goodput SLOs define SLO-compliant throughput (default: "
                             "slos.yaml in the project; deployments it does not cover get defaults by kind)")
    parser.add_argument("--method", choices=[capacity_pipeline.AUTO, *sorted(capacity_forecast.METHODS)],
                        default=capacity_pipeline.DEFAULT_METHOD,
                        help="forecast method; auto (the default) picks each deployment's model by a rolling-origin "
                             "backtest of every method (a model must beat the better seasonal naive by 5 percent in MASE)")
    parser.add_argument("--workers", type=int, default=2, help="parallel fit processes (default 2)")
    parser.add_argument("--no-cache", action="store_true", help="refit even when a cached fit exists")


def compute(store: Store, args, progress=None) -> capacity_pipeline.Result:
    """Run the capacity pipeline (analytics.capacity.pipeline) for the command's options.

    ``progress``: None, or a function of a label returning a progress(fraction, message) callable.
    """
    if args.days < 8:
        raise InputError(f"--days must be at least 8, got {args.days}")
    if args.days > MAX_HISTORY_DAYS:
        raise InputError(f"--days must be at most {MAX_HISTORY_DAYS} (three years of history), got {args.days}")
    if args.headroom < 0:
        raise InputError(f"--headroom must be >= 0 percent, got {args.headroom}")
    if args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    try:
        params = capacity_forecast.ForecastParams(
            horizon=parse_horizon(args.horizon),
            interval_width=args.interval / 100.0,
            events=tuple(parse_event(e) for e in args.event),
            growth=args.growth,
        )
    except SpecError as exc:
        raise InputError(str(exc)) from exc
    span = store_queries.data_range(store)
    if span is None:
        raise InputError("no request telemetry in the store (run `python -m analytics demo`)")
    end = parse_time(args.end, "--end") if args.end else span[1]
    start, end = capacity_pipeline.window(span[0], end, timedelta(days=args.days))
    known = store_queries.deployments_table(store)["deployment"].to_list()
    names = args.deployment or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"unknown deployment {unknown[0]!r} (known: {', '.join(known) or 'none'})")
    slos = load_slos(args.slos) if args.slos else ()
    request = capacity_pipeline.Request(start, end, tuple(names), args.metric, args.method, params, args.headroom / 100.0)
    return capacity_pipeline.run(store, request, slos, cache_dir=None if args.no_cache else capacity_cache.DEFAULT_CACHE_DIR,
                 workers=args.workers, with_backtests=args.backtest, progress=progress)


def stage_reasons(result: capacity_pipeline.Result, name: str) -> dict[str, str | None]:
    """Why each stage has no answer for a deployment (None where it has one): a failed backtest
    must not hide behind a capacity reason, nor the other way round."""
    tp = result.throughputs.get(name)
    return {
        "forecast": result.fits.errors.get(name),
        "backtest": result.backtest_errors.get(name),
        "capacity": tp.reason if tp else None,
    }


def scores_json(result: capacity_pipeline.Result, name: str) -> dict | None:
    """{model: {mase, coverage, smape}} of a deployment's selection backtest (None without one)."""
    chosen = result.selections.get(name)
    if chosen is None:
        return None
    return {model: {k: plain(v) for k, v in asdict(score).items()} for model, score in chosen.scores.items()}


def to_json(result: capacity_pipeline.Result) -> list[dict]:
    """Per deployment: the issue's fields, the model driving the plan with every model's backtest
    scores (method auto), plus the forecast rows (times as ISO strings)."""
    out = []
    for name in result.request.names:
        o = result.assessment.outlooks.get(name)
        bt = result.backtests.get(name)
        metrics = {k: plain(v) for k, v in asdict(bt).items()} if bt else {}
        plan = result.assessment.plans.get(name)
        rows = []
        if plan is not None:
            rows = [
                {k: plain(v) for k, v in r.items()}
                for r in plan.select("ts", "yhat", "yhat_lower", "yhat_upper", "capacity", "gpus_needed").to_dicts()
            ]
        tp = result.throughputs.get(name)
        out.append({
            "deployment": name,
            "metric": result.request.metric,
            "horizon_hours": int(result.request.params.horizon / timedelta(hours=1)),
            "model": result.model(name),
            "model_reason": result.selections[name].reason if name in result.selections else None,
            "scores": scores_json(result, name),
            "mape": metrics.get("mape"),
            "smape": metrics.get("smape"),
            "coverage": metrics.get("coverage"),
            "mase": metrics.get("mase"),
            "baseline_mape": metrics.get("baseline_mape"),
            "baseline_mase": metrics.get("baseline_mase"),
            "prophet_worse": metrics.get("prophet_worse"),
            "gpus_current": tp.gpus if tp else None,
            "per_gpu_throughput": tp.per_gpu if tp else None,
            # how that throughput was measured: the latency-vs-load curve that binds (prefill or decode)
            # with its 5th-95th percentile band, or the highest load seen (extrapolated: no curve to trust)
            "capacity_basis": tp.basis if tp and tp.per_gpu is not None else None,
            "binding": tp.binding if tp else None,
            "extrapolated": tp.extrapolated if tp and tp.per_gpu is not None else None,
            "per_gpu_band": list(tp.band) if tp and tp.band else None,
            "gpus_needed_peak": o.gpus_needed_peak if o else None,
            "capacity_exhausted_at": plain(o.capacity_exhausted_at) if o else None,
            "headroom_breached_at": plain(o.headroom_breached_at) if o else None,
            **{f"{stage}_reason": why for stage, why in stage_reasons(result, name).items()},
            "forecast": rows,
        })
    return out


def to_text(result: capacity_pipeline.Result) -> str:
    """A plain table: one line per deployment (reasons and warnings under it), then the fleet by GPU
    type; labels and formats from the column registry."""
    per_gpu = "per_gpu" if result.request.metric == "rps" else f"per_gpu_{result.request.metric}"
    names = ("deployment", "forecast_model", "gpus_current", per_gpu, "gpus_needed_peak", "capacity_exhausted_at", "mase",
             "baseline_mase")
    rows, notes = [], []
    for name in result.request.names:
        o = result.assessment.outlooks.get(name)
        tp = result.throughputs.get(name)
        bt = result.backtests.get(name)
        chosen = result.selections.get(name)
        if chosen is not None and chosen.scores:  # the selection's scores: the winner's and its naive baseline's
            mase, baseline_mase = chosen.scores[chosen.winner].mase, chosen.scores[chosen.baseline].mase
        else:
            mase, baseline_mase = (bt.mase, bt.baseline_mase) if bt else (None, None)
        rows.append({"deployment": name, "forecast_model": capacity_forecast.MODEL_LABELS[result.model(name)], "gpus_current": tp.gpus if tp else None, per_gpu: tp.per_gpu if tp else None,
                     "gpus_needed_peak": o.gpus_needed_peak if o else None,
                     "capacity_exhausted_at": o.capacity_exhausted_at if o else None,
                     "mase": mase, "baseline_mase": baseline_mase})
        notes += [f"{name}: no {stage}: {why}" for stage, why in stage_reasons(result, name).items() if why]
        if bt and bt.prophet_worse:
            notes.append(f"{name}: {bt.message}")
    lines = [registry_table(rows, names), *notes]
    fleet = result.assessment.fleet
    if fleet.height:
        lines += ["", registry_table(fleet.iter_rows(named=True), ("gpu_type", "week", "gpus_needed", "gpus_current",
                                                                    "short"))]
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

