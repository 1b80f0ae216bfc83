"""The SLO engine's one pipeline: load the per-slot arrays a set of SLOs needs, then evaluate.

    slos = files.load_slos(files.PROJECT_SLO_FILE)
    data = load_data(store, slos, at)              # one rollup query per distinct scope
    evaluations = evaluation.evaluate_all(slos, data, at)
    evaluation.status_frame(evaluations)            # worst first

The command line, the SLO and What-if pages and the bench call these steps; the queries are
analytics.store.slo, everything after them is numpy over the loaded arrays.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import polars as pl

from analytics.slo import corrections as slo_corrections
from analytics.slo import exported as slo_exported
from analytics.slo.evaluation import history_start
from analytics.slo.sli import GOODPUT_SOURCES, Grid, ScopeData, day_grid, on_grid, resolve, scope_from_frames
from analytics.slo.spec import Slo, evaluation_time
from analytics.store import corrections as store_corrections
from analytics.store import otel_metrics as store_otel_metrics
from analytics.store import slo as store_slo
from analytics.store.client import Store


def load_data(store: Store, slos: tuple[Slo, ...] | list[Slo], at: datetime, goodput_source: str = "targeted",
              start: datetime | None = None) -> dict[str, ScopeData]:
    """Per SLO name, its scope's per-slot arrays; SLOs sharing a scope share one query; composite
    SLOs have none (analytics.slo.evaluation.evaluate_all evaluates them from their objectives).

    goodput_source: "targeted" (exact at the SLOs' thresholds), "joint" (exact at any edge
    pair, for what-if) or "rollup" (bounds, no raw scan); see analytics.slo.sli.
    """
    if goodput_source not in GOODPUT_SOURCES:
        raise ValueError(f"goodput_source must be one of {GOODPUT_SOURCES}, got {goodput_source!r}")
    at = evaluation_time(at)
    grid = day_grid(start or history_start(slos, at), at)
    catalog = store_slo.catalog(store, grid.start, grid.end)
    if store_otel_metrics.histogram_rollup_exists(store):  # deployments known only from exported histograms
        catalog = pl.concat([catalog, store_otel_metrics.histogram_catalog(store, grid.start, grid.end)], how="vertical_relaxed")
    needs: dict[tuple, dict] = {}
    keys = {}
    for slo in (s for s in slos if s.composite is None):  # a composite reads its objectives' arrays
        key = resolve(slo.selector, catalog)
        keys[slo.name] = key
        need = needs.setdefault(key, {"fields": set(), "joint": False, "targeted": set()})
        need["fields"].update(slo.sli.fields)
        if slo.sli.kind == "goodput":
            need["joint"] |= goodput_source == "joint"
            if goodput_source == "targeted":
                need["targeted"].add((slo.sli.ttft_ms, slo.sli.tpot_ms))
    loaded = {key: load_scope(store, grid, *key, tuple(sorted(need["fields"])), need["joint"],
                              tuple(sorted(need["targeted"])))
              for key, need in needs.items()}
    return corrected({name: loaded[key] for name, key in keys.items()}, slos,
                     stored_corrections(store, grid.start, grid.end))


def stored_corrections(store: Store, begin: datetime, end: datetime) -> tuple[slo_corrections.Correction, ...]:
    """The corrections added on the SLOs page whose window overlaps [begin, end)."""
    return slo_corrections.from_frame(store_corrections.read(store, begin, end))


def add_correction(store: Store, slos, start: datetime, duration: str, reason: str, who: str, known,
                   now: datetime) -> slo_corrections.Correction:
    """Check a correction from the SLOs page (analytics.slo.corrections.checked: InputError, nothing
    written) and store it with bound parameters."""
    c = slo_corrections.checked(slos, start, duration, reason, who, known)
    store_corrections.write(store, list(c.slos), c.start, int(c.duration.total_seconds()), c.reason, c.added_by, now)
    return c


def withdraw_correction(store: Store, correction: slo_corrections.Correction, reason: str, who: str,
                        now: datetime) -> None:
    """Withdraw a correction added on the SLOs page (analytics.slo.corrections.checked_withdrawal:
    InputError, nothing written): its slots count again in every budget, alert and review."""
    reason, who = slo_corrections.checked_withdrawal(correction, reason, who)
    store_corrections.withdraw(store, correction.start, correction.added_at, reason, who, now)


def corrected(data: dict[str, ScopeData], slos, page: tuple[slo_corrections.Correction, ...]) -> dict[str, ScopeData]:
    """Each SLO's arrays with the slots its budget corrections cover marked excluded (the file's
    and the page's: analytics.slo.corrections); analytics.slo.sli.sli_counts then drops them."""
    out = dict(data)
    for slo in (s for s in slos if s.name in data):  # a composite has no arrays: its objectives' are corrected
        scope = data[slo.name]
        mask = slo_corrections.excluded_slots(slo_corrections.for_slo(slo, page), scope.grid.start, scope.grid.n)
        if mask.any():
            out[slo.name] = replace(scope, excluded=mask)
    return out


def load_scope(store: Store, grid: Grid, deployments: tuple[str, ...], regions: tuple[str, ...] = (),
               fields: tuple[str, ...] = (), joint: bool = False,
               targeted: tuple[tuple[float, float], ...] = ()) -> ScopeData:
    """One scope's per-slot arrays on a grid: rollup counts and the histograms of ``fields``, and
    for goodput the joint histogram and/or exact counts at (ttft_ms, tpot_ms) pairs."""
    window = (store, grid.start, grid.end, deployments, regions)
    slots = store_slo.scope_slots(*window, fields)
    joint_frame = store_slo.joint_slots(*window) if joint and deployments else None
    goodput = {pair: store_slo.goodput_slots(*window, *pair) for pair in targeted}
    data = scope_from_frames(grid, deployments, regions, [slots], joint_frame, goodput)
    if slots.height or not fields or not deployments or not store_otel_metrics.histogram_rollup_exists(store):
        return data
    # No request rows in the scope: latency SLIs from the exporter's histograms, if any.
    lookback = slo_exported.LOOKBACK
    rows = store_otel_metrics.histogram_slots(store, grid.start - lookback, grid.end, deployments, regions, fields)
    events = slo_exported.slot_deltas(rows)
    exported = {}
    for f in fields:
        part = events.filter(pl.col("field") == f)
        index = on_grid(grid, part["slot"]) if part.height else np.zeros(0, dtype=np.int64)
        counts = slo_exported.on_bounds(part, index, grid.n)
        if counts is not None:
            exported[f] = counts
    return replace(data, exported=exported)
