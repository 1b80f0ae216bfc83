"""`python -m analytics slo`: SLO status, error budgets and the alert tiers firing at a time."""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime

from analytics import names as N
from analytics.config import PROJECT_ROOT
from analytics.errors import InputError
from analytics.sli import GOODPUT_SOURCES
from analytics.slo import evaluate_all, status_frame, to_json
from analytics.slo_spec import evaluation_time, load_slos
from analytics.store import Store

DEFAULT_CONFIG = PROJECT_ROOT / "slos.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the slo command."""
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="SLO file, ours or OpenSLO v1 YAML (default: slos.yaml in the project)")
    parser.add_argument("--at", help="evaluate at this ISO-8601 time "
                        "(default: the end of the data, or now if earlier)")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per SLO")
    parser.add_argument("--goodput", choices=GOODPUT_SOURCES, default="targeted",
                        help="goodput from an exact raw count at the SLO's thresholds (default), a raw "
                        "joint histogram (exact at bucket edges) or rollup bounds (no raw scan)")


def data_end(store: Store) -> datetime | None:
    """End of the request rollup: the last 5-minute slot with requests plus one slot."""
    frame = store.query(f"SELECT toUnixTimestamp(max(slot)) AS last, count() AS n FROM {N.REQUESTS_5M}")
    if not frame.height or not frame["n"][0]:
        return None
    return datetime.fromtimestamp(int(frame["last"][0]) + N.SLOT_SECONDS, UTC)


def _pct(x, digits: int = 3) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x * 100:.{digits}f}%"


def _table(frame) -> str:
    headers = ("SLO", "state", "target", "window", "attainment", "budget left", "burn 1h", "firing")
    rows = [(r["slo"], r["state"], _pct(r["target"], 2), r["window"], _pct(r["attainment"]),
             _pct(r["budget_remaining"], 1), "-" if r["burn_rate_1h"] is None else f"{r['burn_rate_1h']:.2f}",
             r["firing"] or "-") for r in frame.iter_rows(named=True)]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
             for row in (headers, *rows)]
    return "\n".join(lines)


def run(args, store: Store) -> int:
    """Evaluate the SLOs in --config at --at and print a table or JSON."""
    from analytics.times import parse_time

    slos = load_slos(args.config)
    if not slos:
        raise InputError(f"{args.config}: no SLOs defined")
    if args.at:
        at = parse_time(args.at)
    else:
        end = data_end(store)
        if end is None:
            print("error: no request telemetry in the store (run `python -m analytics demo`)",
                  file=sys.stderr)
            return 1
        at = min(end, datetime.now(UTC))
    at = evaluation_time(at)
    evaluations = evaluate_all(store, slos, at, goodput_source=args.goodput)
    if args.json:
        print(json.dumps([to_json(e) for e in evaluations], indent=2))
        return 0
    print(f"SLOs at {at.isoformat()} ({args.config})")
    print(_table(status_frame(evaluations)))
    incomplete = [e.slo.name for e in evaluations if not e.status.complete_history]
    if incomplete:
        print(f"note: data starts after the window start for {', '.join(incomplete)}", file=sys.stderr)
    approx = [e.slo.name for e in evaluations if not e.status.exact]
    if approx:
        print(f"note: thresholds between histogram edges, attainment is an estimate within bounds for "
              f"{', '.join(approx)} (see --json attainment_bounds)", file=sys.stderr)
    return 0
