"""Timings of `python -m analytics report --week` (the weekly review and its export) for
`python -m analytics bench`. Target: under 10 s for the last complete week of the
demo store, cached Prophet fits read, never fitted (missing ones use the seasonal-naive forecast)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from analytics.capacity import cache as capacity_cache
from analytics.cli.bench.cases import Case, under
from analytics.review import pipeline as review_pipeline
from analytics.review import report as review_report
from analytics.review import weekly as review_weekly
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.store.queries import data_range

WARM_RUNS = 2


def export(store, week: str, out: Path) -> dict:
    """What the report command does in-process: the review, then the HTML and CSVs written."""
    t0 = time.perf_counter()
    report = review_pipeline.report(store, load_slos(PROJECT_SLO_FILE), week, capacity_cache.DEFAULT_CACHE_DIR)
    t1 = time.perf_counter()
    paths = review_report.write(report, out)
    t2 = time.perf_counter()
    return {"review": t1 - t0, "write": t2 - t1, "total": t2 - t0, "bytes": sum(p.stat().st_size for p in paths),
            "incidents": report.tables["incidents"].height}


def bench(store) -> list[Case]:
    """Cold and warm timings of the report of the store's last complete week."""
    span = data_range(store)
    if span is None:
        return [Case("report --week", float("nan"), "no request data in the store")]
    week = review_weekly.last_complete_week(span[1])
    with tempfile.TemporaryDirectory() as tmp:
        cold = export(store, week, Path(tmp))
        warm = [export(store, week, Path(tmp)) for _ in range(WARM_RUNS)]
    median = {k: statistics.median(w[k] for w in warm) for k in ("review", "write", "total")}
    return [
        Case(f"report --week {week}, cold", cold["total"],
             f"{cold['incidents']} incidents, {cold['bytes'] / 1e6:.1f} MB written", under(10, strict=True)),
        Case(f"report --week {week}, warm (median of {WARM_RUNS})", median["total"], "", under(10, strict=True)),
        Case("report: review (queries + tables)", median["review"], "SLOs, incidents, movers, GPU, capacity"),
        Case("report: HTML + CSVs written", median["write"], "plotly.js inline once"),
    ]
