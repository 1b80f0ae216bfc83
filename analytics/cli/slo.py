"""`python -m analytics slo`: SLO status, error budgets and the alert tiers firing at a time."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta

from analytics.cli.common import plain, registry_table
from analytics.errors import InputError
from analytics.slo import alerts as slo_alerts
from analytics.slo.budget import minutes_text
from analytics.slo.evaluation import Evaluation, evaluate_all, status_frame
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.pipeline import load_data
from analytics.slo.sli import GOODPUT_SOURCES
from analytics.slo.spec import evaluation_time, format_duration, target_digits
from analytics.store.client import Store
from analytics.store.queries import data_end


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the slo command."""
    parser.add_argument("--config", default=str(PROJECT_SLO_FILE),
                        help="SLO file, ours or OpenSLO v1 YAML (default: slos.yaml in the project)")
    parser.add_argument("--at", help="evaluate at this ISO-8601 time "
                        "(default: the end of the data, or now if earlier)")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per SLO")
    parser.add_argument("--goodput", choices=GOODPUT_SOURCES, default="targeted",
                        help="goodput from an exact count at the SLO's thresholds (default: the joint rollup "
                        "when both are bucket edges, else the raw requests), the joint histogram "
                        "(exact at bucket edges) or bounds from the 1-D histograms")


TABLE = ("slo", "state", "target", "window", "window_covered", "attainment", "budget_remaining",
         "budget_remaining_minutes", "burn_rate_1h", "firing")  # column registry names


def _table(frame) -> str:
    """One line per SLO; the target with all its nines, the budget as time 'left of total'."""
    own = {"target": lambda r: f"{r['target'] * 100:.{target_digits(r['target'])}f}%",
           "budget_remaining_minutes": lambda r: minutes_text(r["budget_remaining_minutes"], r["budget_minutes"])}
    return registry_table(frame.iter_rows(named=True), TABLE, own)


def to_json(e: Evaluation) -> dict:
    """JSON-ready summary of one evaluation (the `slo --json` contract)."""
    s = e.status
    return {
        "name": e.slo.name,
        "target": e.slo.target,
        "window": e.slo.window.label,
        "sli": e.slo.sli.describe(),
        "composite": e.slo.composite.describe() if e.slo.composite else None,  # analytics.slo.composite
        "budgeting": e.slo.budgeting.describe(),
        "state": e.state,
        "attainment": plain(s.attainment),
        "attainment_bounds": [plain(s.attainment_lower), plain(s.attainment_upper)],
        "exact": s.exact,
        "source": e.counts.source,
        "good": s.good,
        "valid": s.valid,
        "budget": s.budget,
        "budget_remaining": plain(s.remaining),
        "burn_rate_1h": plain(s.burn_rate_1h),
        "hours_to_exhaustion": None if s.time_to_exhaustion is None else s.time_to_exhaustion / timedelta(hours=1),
        "budget_minutes": plain(s.budget_minutes),
        "budget_remaining_minutes": plain(s.remaining_minutes),
        "budget_time_basis": s.time_basis or None,
        "window_start": plain(s.window_start),
        "at": plain(s.at),
        "window_covered": s.coverage,
        "data_start": plain(s.data_start),
        "complete_history": s.complete_history,
        "alerts": [a.as_dict() for a in e.firing],
        "held_back": [a.as_dict() | {"min_events": e.slo.min_events} for a in e.held_back],
        "episodes": slo_alerts.count_episodes(e.episodes),
    }


def run(args, store: Store) -> int:
    """Evaluate the SLOs in --config at --at and print a table or JSON."""
    from analytics.times import parse_time

    slos = load_slos(args.config)
    if not slos:
        raise InputError(f"{args.config}: no SLOs defined")
    if args.at:
        at = parse_time(args.at, "--at")
    else:
        at = data_end(store)
        if at is None:
            print("error: no request telemetry in the store (run `python -m analytics demo`)",
                  file=sys.stderr)
            return 1
    at = evaluation_time(at)
    evaluations = evaluate_all(slos, load_data(store, slos, at, goodput_source=args.goodput), at)
    if args.json:
        print(json.dumps([to_json(e) for e in evaluations], indent=2))
        return 0
    print(f"SLOs at {at.isoformat()} ({args.config})")
    print(_table(status_frame(evaluations)))
    for e in evaluations:
        s = e.status
        if s.valid and not s.complete_history:
            print(f"note: {e.slo.name}: data covers only {s.coverage:.2%} of its {e.slo.window.label} window "
                  f"(from {s.data_start:%Y-%m-%d %H:%M} UTC): its numbers are for that part alone", file=sys.stderr)
        elif not s.valid:
            print(f"note: {e.slo.name}: no data: no valid events in its window (not measured, "
                  "e.g. a trace that records no outcome)", file=sys.stderr)
        for a in e.held_back:
            print(f"note: {e.slo.name}: {a.tier.severity} {a.tier.label} burns above {a.threshold:.3g} but is held "
                  f"back: {a.events_long:.0f} events in {format_duration(a.tier.long_window)} < min_events "
                  f"{e.slo.min_events}", file=sys.stderr)
    if any(e.slo.budgeting.method == "occurrences" and e.status.valid for e in evaluations):
        print("note: budget left (time) of occurrence SLOs is in minutes at the window's mean request rate",
              file=sys.stderr)
    approx = [e.slo.name for e in evaluations if not e.status.exact]
    if approx:
        print(f"note: thresholds between histogram edges, attainment is an estimate within bounds for "
              f"{', '.join(approx)} (see --json attainment_bounds)", file=sys.stderr)
    return 0
