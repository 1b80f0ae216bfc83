"""What every OpenTelemetry source shares: adding its view once, and a journaled backfill in batches.

A source is a materialized view from an exporter table into one of our tables, keeping rows from a
cut-off time (the moment it was added) on; `otel_sources` remembers its mapping and cut-off, so
adding it again is a no-op and adding it with another mapping is refused. `backfill` maps the rows
before the cut-off in fixed time batches; each batch is one all-or-nothing load in the ingest
journal (analytics.store.journal) labelled with the time ranges it mapped. A later run reads the
ranges done and maps only the rest of each batch, so a rerun with another --batch-hours, or after
a run that stopped part way, maps each row once; a killed run is rolled back on the next open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from analytics.errors import InputError
from analytics.ingest.load import loading
from analytics.store import otel as store_otel
from analytics.store.client import Store

Progress = Callable[[float, str], None]
NS = 1_000_000_000
DEFAULT_BATCH_HOURS = 24


@dataclass(frozen=True)
class Added:
    """A source's view and its cut-off: rows from then on go through the view."""

    view: str
    created: bool  # False: it existed with the same mapping
    cutoff_ns: int


@dataclass(frozen=True)
class Backfilled:
    """What a backfill did."""

    rows: int  # rows written by this run
    batches: int  # batches run by this run
    skipped: int  # batches an earlier run had covered entirely
    seconds: float


def add_view(store: Store, view: str, table: str, definition: str, now_ns: int,
             create: Callable[[int], None]) -> Added:
    """Create a source's view through `create(cutoff_ns)` unless it exists with the same `definition`."""
    record = store_otel.source_record(store, view)
    if record is not None and store_otel.view_exists(store, view):
        if record[0] != definition:
            raise InputError(f"{view} already maps {table} with another mapping (table, names or attribute map); "
                             f"to change it, DROP VIEW {view} and delete the rows it wrote")
        return Added(view, False, record[1])
    create(now_ns)
    store_otel.record_source(store, view, table, definition, now_ns)
    return Added(view, True, now_ns)


def cutoff_of(store: Store, view: str, table: str) -> int:
    """The cut-off of an added source; refuses a source not added yet."""
    record = store_otel.source_record(store, view)
    if record is None or not store_otel.view_exists(store, view):
        raise InputError(f"{table}: add the source before backfilling it")
    return record[1]


def uncovered(lo: int, hi: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [lo, hi) outside every range of `covered` (half-open ranges, any order)."""
    gaps, start = [], lo
    for done_lo, done_hi in sorted(covered):
        if done_hi <= start or done_lo >= hi:
            continue
        if done_lo > start:
            gaps.append((start, done_lo))
        start = max(start, done_hi)
    if start < hi:
        gaps.append((start, hi))
    return gaps


def _range_of(label: str, prefix: str) -> tuple[int, int]:
    lo, _, hi = label[len(prefix):].partition("-")
    return int(lo), int(hi)


def backfill(store: Store, view: str, cutoff: int, span: tuple[int, int] | None, raw: str, columns: tuple[str, ...],
             insert: Callable[[str, int, int], None], batch_hours: int, progress: Progress | None,
             unit: str) -> Backfilled:
    """Run `insert(stage, lo_ns, hi_ns)` for each part of [first, cut-off) no earlier run mapped,
    a batch at a time, each batch one journaled load into `raw` (its staging table holds
    `columns`); `span` is (first, last) row time."""
    started = time.monotonic()
    if batch_hours < 1:
        raise InputError(f"--batch-hours {batch_hours}: must be at least 1")
    step = batch_hours * 3600 * NS
    bounds = [] if span is None else list(range(span[0] - span[0] % step, span[1] + 1, step))
    # A done load's labels name the ranges it mapped; whatever the batch width of the run that
    # wrote them, the ranges they cover are not mapped again.
    prefix = f"otel-backfill:{view}:{cutoff}:"
    covered = [_range_of(label, prefix) for label in store_otel.done_loads(store, prefix)]
    rows = ran = skipped = 0
    for i, lo in enumerate(bounds):
        # The last batch runs to the cut-off: a run covers all of [first, cut-off), so a later run
        # with other batch bounds finds nothing left after the last row.
        gaps = uncovered(lo, cutoff if i == len(bounds) - 1 else lo + step, covered)
        if not gaps:
            skipped += 1
            continue
        with loading(store, [f"{prefix}{gap_lo}-{gap_hi}" for gap_lo, gap_hi in gaps]) as load:
            stage = load.stage_table(raw, columns)
            for gap_lo, gap_hi in gaps:
                insert(stage, gap_lo, gap_hi)
            rows += store_otel.table_rows(store, stage)
        covered += gaps
        ran += 1
        if progress:
            progress((i + 1) / len(bounds), f"{rows:,} {unit}")
    if progress:
        progress(1.0, f"{rows:,} {unit}")
    return Backfilled(rows, ran, skipped, time.monotonic() - started)
