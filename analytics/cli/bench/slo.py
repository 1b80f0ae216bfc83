"""Timings of the SLO engine for `python -m analytics bench`.

Cases: the SLO list page's data (every SLO in slos.yaml: one rollup query per scope plus the
exact goodput count), cold (first run in this process) and warm (best of 3), and with the
other goodput sources; evaluating them; the what-if recompute on a fleet-wide latency SLO
(every deployment, 34 days of 5-minute slots), which must not depend on the number of
requests: it is numpy over cached arrays; and the goodput what-if from the joint histogram.
Targets: what-if recompute under 200 ms; the list page's queries warm under 1 s (measured
figures: docs/bench.md).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from analytics.cli.bench.cases import Case, under
from analytics.slo.evaluation import evaluate_all
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.pipeline import load_data
from analytics.slo.spec import evaluation_time, parse_slo, revise
from analytics.slo.whatif import HISTORY, compare, suggest_target
from analytics.store.client import Store
from analytics.store.queries import data_end

Result = Case


def _time(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Median seconds over `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def bench(store: Store) -> list[Result]:
    """SLO list load (cold, warm), evaluation, and what-if recompute timings."""
    at = evaluation_time(data_end(store) or datetime.now(UTC))
    slos = load_slos(PROJECT_SLO_FILE)
    out: list[Result] = []
    cold, data = _time(lambda: load_data(store, slos, at))
    scopes = len({id(d) for d in data.values()})
    out.append(Case("slo list: queries (cold)", cold, f"{len(slos)} SLOs, {scopes} scopes + exact goodput count"))
    warm = min(_time(lambda: load_data(store, slos, at))[0] for _ in range(3))
    out.append(Case("slo list: queries (warm)", warm, "best of 3", under(1, strict=True)))
    for source, note in (("joint", "joint histogram rollup, as the What-if page"), ("rollup", "no raw scan")):
        seconds = min(_time(lambda s=source: load_data(store, slos, at, goodput_source=s))[0] for _ in range(2))
        out.append(Case(f"slo list: queries, goodput {source} (warm)", seconds, note))
    seconds, _ = _time(lambda: evaluate_all(slos, data, at), repeat=3)
    out.append(Case("slo list: evaluate all (numpy)", seconds, "status, tiers at `at`, replay over the window"))

    fleet = parse_slo({"name": "bench-fleet-e2e", "target": 99.5, "window": "30d", "min_events": 100,
                       "sli": {"latency": {"field": "e2e_ms", "threshold_ms": 500}}})
    load_s, whatif = _time(lambda: load_data(store, [fleet], at, start=at - HISTORY))
    scope = whatif[fleet.name]
    out.append(Case("what-if: load history (one fleet-wide SLO)", load_s,
                f"{len(scope.deployments)} deployments, {scope.grid.n} slots, "
                f"{int(scope.requests.sum()):,} requests"))
    for label, proposed in (
        ("target 99.5 -> 99.9", revise(fleet, target=99.9)),
        ("threshold 500 -> 230 ms (between edges)", revise(fleet, threshold_ms=230.0)),
        ("window 30d -> 7d", revise(fleet, window="7d")),
    ):
        seconds, _ = _time(lambda p=proposed: compare(fleet, p, scope, at), repeat=7)
        out.append(Case(f"what-if recompute: {label}", seconds, "median of 7", under(0.2, strict=True)))
    seconds, _ = _time(lambda: suggest_target(fleet, scope, at, 0.9), repeat=5)
    out.append(Case("what-if: suggest a target", seconds, "hourly windows over the loaded history"))

    goodput = next((s for s in slos if s.sli.kind == "goodput"), None)
    if goodput is not None:
        load_s, loaded = _time(lambda: load_data(store, [goodput], at, goodput_source="joint", start=at - HISTORY))
        joint = loaded[goodput.name].joint
        out.append(Case("what-if: load history (goodput SLO, joint histogram)", load_s,
                    f"{goodput.name}: {0 if joint is None else len(joint.n):,} (slot, ttft, tpot) cells"))
        proposed = revise(goodput, tpot_ms=goodput.sli.tpot_ms * 0.8)
        seconds, _ = _time(lambda: compare(goodput, proposed, loaded[goodput.name], at), repeat=7)
        out.append(Case("what-if recompute: goodput TPOT threshold x 0.8", seconds, "median of 7",
                        under(0.2, strict=True)))
    return out
