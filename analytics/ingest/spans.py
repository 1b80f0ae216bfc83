"""An OpenTelemetry span table as a source of requests: a materialized view, and a backfill.

`add_source` DESCs the span table, refuses one it cannot read, and creates a materialized view
from it into `requests` that keeps spans from a cut-off time (now) on: every span the exporter
inserts from then on reaches `requests`, and through the rollup views the pages, with no command
run. `backfill` maps the spans before the cut-off in fixed time batches; each batch is one
all-or-nothing load in the ingest journal (analytics.store.journal) labelled with its range, so a
second run skips the batches already done and a killed run is rolled back on the next open:
nothing is counted twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from analytics.errors import InputError
from analytics.ingest import otel as O
from analytics.ingest.load import loading
from analytics.store import attributes as A
from analytics.store import conventions as N
from analytics.store import otel as S
from analytics.store.client import Store

Progress = Callable[[float, str], None]
NS = 1_000_000_000
DEFAULT_BATCH_HOURS = 24


@dataclass(frozen=True)
class Added:
    """A source's view and its cut-off: spans from then on go through the view."""

    view: str
    created: bool  # False: it existed with the same mapping
    cutoff_ns: int


@dataclass(frozen=True)
class Backfilled:
    """What a backfill did."""

    rows: int  # request rows written by this run
    batches: int  # batches run by this run
    skipped: int  # batches an earlier run had done
    seconds: float


def _select(source: O.SpanSource, columns: dict[str, str]) -> tuple[str, dict]:
    """The request SELECT, reading Map or JSON attribute columns as the DESC TABLE `columns` say."""
    return S.request_select(source.table, source.span, source.services, source.attributes,
                            O.TIMEOUT_VALUES, O.REJECTED_VALUES, O.ERROR_STATUS_CODES, A.kinds(columns))


def _definition(source: O.SpanSource) -> str:
    return json.dumps({"table": source.table, "span": source.span, "services": list(source.services),
                       "attributes": {k: list(v) for k, v in source.attributes.items()}}, sort_keys=True)


def add_source(store: Store, source: O.SpanSource, now_ns: int) -> Added:
    """Create the view mapping `source`'s request spans into requests, from `now_ns` on (idempotent)."""
    columns = S.describe(store, source.table)
    if columns is None:
        raise InputError(f"--table {source.table}: no such table in {store.target} "
                         "(the exporter creates otel_traces unless create_schema is false)")
    O.check_span_table(source.table, columns)
    definition = _definition(source)
    record = S.source_record(store, source.view)
    if record is not None and S.view_exists(store, source.view):
        if record[0] != definition:
            raise InputError(f"{source.view} already maps {source.table} with another span, service or attribute "
                             f"map; to change it, DROP VIEW {source.view} and delete the requests it wrote")
        return Added(source.view, False, record[1])
    select, params = _select(source, columns)
    S.create_view(store, source.view, select, params, now_ns)
    S.record_source(store, source.view, source.table, definition, now_ns)
    return Added(source.view, True, now_ns)


def backfill(store: Store, source: O.SpanSource, batch_hours: int = DEFAULT_BATCH_HOURS,
             progress: Progress | None = None) -> Backfilled:
    """Map the request spans from before the source's cut-off into requests, batch by batch."""
    started = time.monotonic()
    record = S.source_record(store, source.view)
    if record is None or not S.view_exists(store, source.view):
        raise InputError(f"{source.table}: add the source before backfilling it")
    if batch_hours < 1:
        raise InputError(f"--batch-hours {batch_hours}: must be at least 1")
    cutoff = record[1]
    select, params = _select(source, S.describe(store, source.table) or {})
    span = S.span_range(store, select, params, cutoff)
    step = batch_hours * 3600 * NS
    # Batches are aligned to multiples of the step (the last one ends at the cut-off), so a rerun
    # names the same batches and skips the ones done.
    bounds = [] if span is None else list(range(span[0] - span[0] % step, span[1] + 1, step))
    prefix = f"otel-backfill:{source.view}:{cutoff}:"
    done = S.done_loads(store, prefix)
    rows = ran = skipped = 0
    for i, lo in enumerate(bounds):
        hi = min(lo + step, cutoff)
        label = f"{prefix}{lo}-{hi}"
        if label in done:
            skipped += 1
            continue
        with loading(store, [label]) as load:
            stage = load.stage_table(N.REQUESTS, tuple(N.REQUEST_COLUMNS))
            S.insert_requests(store, stage, select, params, lo, hi)
            rows += S.table_rows(store, stage)
        ran += 1
        if progress:
            progress((i + 1) / len(bounds), f"{rows:,} requests")
    if progress:
        progress(1.0, f"{rows:,} requests")
    return Backfilled(rows, ran, skipped, time.monotonic() - started)
