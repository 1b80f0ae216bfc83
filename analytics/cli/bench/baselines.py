"""Honest baselines per page, for `python -m analytics bench`.

For each page the bench times, in the same run, the pipeline the page calls (rollups) and the
same numbers computed straight from the raw tables (analytics.store.bench_raw: one query per panel
over `requests` and `gpu_samples`, as a per-panel-SQL dashboard would), and prints the ratio;
the goal is rollups at least 10x faster. Each side is run once to warm the OS page cache (unless
--repeat is 1), then `repeat` times; the median is reported. Page windows are the pages' defaults: the last 7 days
(Overview, GPU), the SLOs' own windows, the Capacity history, the last complete ISO week.
What is configuration rather than data (SLO scopes, objectives, names) is resolved before timing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from analytics.capacity import pipeline as capacity
from analytics.cli.bench import core
from analytics.cli.bench import gpu as gpu_bench
from analytics.cli.bench.cases import Case, Target
from analytics.gpu.hours import fields_of
from analytics.review import pipeline as review
from analytics.review import weekly as review_weekly
from analytics.slo.evaluation import evaluate_all, history_start
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.objectives import objectives_by_deployment
from analytics.slo.pipeline import load_data
from analytics.slo.sli import resolve
from analytics.slo.spec import evaluation_time
from analytics.store import bench_raw as raw
from analytics.store import conventions, queries
from analytics.store import slo as slo_queries
from analytics.times import default_filters
from analytics.traffic import summary as overview

GOAL = Target(10, at_least=True)  # rollups at least 10x faster than the raw equivalent


def _median(fn: Callable[[], object], repeat: int) -> float:
    if repeat > 1:
        fn()  # warm-up: OS page cache (a single repetition, as in a smoke run, is the cold run)
    times = []
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _compare(page: str, rollup: Callable[[], object], rollup_note: str, raw_side: Callable[[], object],
             raw_note: str, repeat: int) -> list[Case]:
    fast = _median(rollup, repeat)
    slow = _median(raw_side, repeat)
    return [Case(f"baseline {page}: rollup pipeline", fast, rollup_note),
            Case(f"baseline {page}: raw tables", slow, raw_note),
            Case(f"baseline {page}: raw / rollup", slow / fast if fast else float("nan"),
                 f"median of {max(repeat, 1)} each, same run", GOAL, unit="x")]


def _slo_panels(store, slos, at):
    """One raw query per SLO over its scope, from the SLO engine's history start to `at`."""
    start = history_start(slos, at)
    catalog = slo_queries.catalog(store, start, at)
    # a composite reads its objectives' slots: it has no raw query of its own
    scoped = [(slo, resolve(slo.selector, catalog)) for slo in slos if slo.composite is None]
    scoped = [(slo, scope) for slo, scope in scoped if scope[0]]

    def run():
        for slo, (deployments, regions) in scoped:
            sli = slo.sli
            raw.sli_slots(store, start, at, deployments, regions, sli.kind, sli.field, sli.threshold_ms,
                          sli.ttft_ms, sli.tpot_ms)
    return run, len(scoped)


def bench(store, repeat: int = 3) -> list[Case]:
    """Rollup vs raw timings of Overview, SLOs, GPU efficiency, Capacity and Weekly review."""
    span = queries.data_range(store)
    if span is None:
        return [Case("baselines", float("nan"), "no request data in the store")]
    data_start, end, _ = span
    filters = default_filters(data_start, end)  # a first visit's view, as the pages and the warm-up
    start = filters.start
    slos = load_slos(PROJECT_SLO_FILE)
    cases: list[Case] = []

    fields = overview.HIST_FIELDS
    cases += _compare(
        "Overview", lambda: core.overview_page(store, filters), "traffic.pipeline load + chart series (requests_5m)",
        lambda: (raw.totals(store, start, end, fields), raw.totals(store, start - (end - start), start, fields),
                 raw.series(store, start, end, filters.step_seconds, fields)),
        "KPIs now and before, per-deployment table, 4 hourly charts", repeat)

    at = evaluation_time(end)
    panels, n = _slo_panels(store, slos, at)
    cases += _compare("SLOs", lambda: evaluate_all(slos, load_data(store, slos, at), at),
                      f"{len(slos)} SLOs: load_data + evaluate_all", panels,
                      f"{n} SLO panels, good/valid per 5-minute slot", repeat)

    objectives = objectives_by_deployment(queries.deployments_table(store), slos)
    gpu_fields = fields_of(objectives)
    cases += _compare(
        "GPU efficiency", lambda: gpu_bench.page(store, filters, figures=False),
        "pipeline.view + tables and heatmap data (numbers, as the raw side; no plotly figures)",
        lambda: (raw.gpu_hours(store, start, end), raw.series(store, start, end, 3600, gpu_fields)),
        "per GPU-hour means, per deployment-hour counts and p99s", repeat)

    cap_start, cap_end = capacity.window(data_start, end)
    names = tuple(queries.deployments_table(store)["deployment"])
    cases += _compare(
        "Capacity", lambda: (capacity.hourly_demand(store, cap_start, cap_end),
                             capacity.hourly_histograms(store, cap_start, cap_end, names)),
        f"hourly demand + histograms, {(cap_end - cap_start).days} d (fits are cached: not timed)",
        lambda: (raw.series(store, cap_start, cap_end, 3600, conventions.LATENCY_FIELDS),
                 raw.activity(store, cap_start, cap_end)),
        "per deployment-hour counts, p99s and SM activity", repeat)

    week = review_weekly.last_complete_week(end)
    week_start, week_end = review.iso_week(week)
    week_panels, _ = _slo_panels(store, slos, evaluation_time(week_end))
    cases += _compare(
        "Weekly review", lambda: review.report(store, slos, week, None),
        f"review.report of {week} (SLOs, incidents, movers, GPU, capacity; no Prophet cache)",
        lambda: (week_panels(), raw.totals(store, week_start, week_end, fields),
                 raw.totals(store, week_start - review_weekly.WEEK, week_start, fields),
                 raw.gpu_hours(store, week_start - review_weekly.WEEK, week_end),
                 raw.series(store, week_start - review_weekly.WEEK, week_end, 3600, gpu_fields)),
        "SLO panels, movers (2 weeks), GPU-hours and deployment-hours (2 weeks)", repeat)
    return cases

